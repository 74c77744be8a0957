//! `sealpost admin`: the sender registry, the mailbox directory, people and mandates, the
//! audit log. The command is read here (with the files it names); it runs in the service
//! through its administrative socket while the service runs ([`socket`]), or on the store
//! directly while it is stopped; [`Admin::execute`] is the one place each command is carried
//! out.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use sealpost::app::{App, NamedFile, open_store};
use sealpost::config::Config;
use serde::{Deserialize, Serialize};

mod execute;
pub mod socket;

pub use execute::{Admin, Output};

/// A file named on the command line, read now: its contents travel with the command.
fn read_file(path: &str) -> Result<NamedFile, String> {
    NamedFile::read(std::path::Path::new(path)).map_err(|e| format!("{e:#}"))
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum AdminCommand {
    /// The sender registry: which certificates belong to which organisation, and what it
    /// may send.
    Sender {
        #[command(subcommand)]
        command: SenderCommand,
    },
    /// The directory of mailboxes.
    Mailbox {
        #[command(subcommand)]
        command: MailboxCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// People who log in to the mailbox UI.
    Person {
        #[command(subcommand)]
        command: PersonCommand,
    },
    /// Mandates: who reads a company's mailbox.
    Mandate {
        #[command(subcommand)]
        command: MandateCommand,
    },
    /// Delivered messages.
    Message {
        #[command(subcommand)]
        command: MessageCommand,
    },
    /// Identification vectors: which agent of a sender organisation made which request,
    /// under which PAGM profiles, and the SAML assertion that said so. Every reading is
    /// traced.
    Vector {
        #[command(subcommand)]
        command: VectorCommand,
    },
    /// Runs the retention job now (the service runs it every retention.interval_s): notices
    /// for unused accounts, deletion of those noticed long enough ago.
    Retention,
    /// Evidences: their long-term archiving (XAdES B-LTA).
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum EvidenceCommand {
    /// Runs an archive round now (the service runs one every evidence.archive_interval_s):
    /// every evidence due for an archive time-stamp at --due-at (default now) gets one now.
    /// Prints how many were examined, archived and not archived.
    Archive {
        /// xs:dateTime (or YYYY-MM-DD): archive what is due at this date, as if it were then.
        #[arg(long)]
        due_at: Option<String>,
    },
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum VectorCommand {
    /// The requests an agent made, oldest first, one JSON line each (the vector without its
    /// assertion): when, the request's correlation id, the operation, its outcome and message,
    /// the sender, the PAGM profiles and level, the identity provider and the assertion's ID.
    List {
        /// The agent's identifier (the assertions' NameID).
        #[arg(long)]
        agent: String,
        /// xs:dateTime: requests at or after this time.
        #[arg(long)]
        from: Option<String>,
        /// xs:dateTime: requests before this time.
        #[arg(long)]
        to: Option<String>,
    },
    /// The vector that came with a request (its correlation id, or the id of the message it
    /// submitted), as one JSON line with the assertion.
    Show { id: String },
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum PersonCommand {
    /// Adds a person (or replaces their credentials). Prints the one-time password (changed
    /// at the first login) and the TOTP secret to enrol in an authenticator app.
    Add {
        /// The name they log in with.
        #[arg(long)]
        login: String,
        /// Their full name, as evidences and the mailbox show it.
        #[arg(long)]
        name: String,
        /// Their national register number: they read that mailbox.
        #[arg(long)]
        nrn: Option<String>,
        /// Companies (cbe:…) whose mandates they manage (comma-separated).
        #[arg(long, value_delimiter = ',')]
        manages: Vec<String>,
        /// The first password (default: a random one, printed).
        #[arg(long)]
        password: Option<String>,
        /// The TOTP secret in base32 (default: a random one, printed).
        #[arg(long)]
        totp_secret: Option<String>,
        /// A PEM client certificate they may log in with instead (repeatable). It must chain
        /// to mailbox.trust_anchors and not be self-signed.
        #[arg(long = "cert", value_parser = read_file)]
        certs: Vec<NamedFile>,
        /// How many days the one-time password opens the account (it must be changed at the
        /// first login).
        #[arg(long, default_value_t = 30)]
        valid_days: u64,
        /// Where notices reach them outside the mailbox (e-mail or postal address, as
        /// retention.notifier understands it): without one, no deletion notice can be
        /// delivered and the account is never deleted for disuse.
        #[arg(long)]
        contact: Option<String>,
    },
    /// A lost password or a locked account (seed 000 §2.2.2): issues a provisional password,
    /// changed at the next login and valid for `--valid-days`, and unlocks the account. Prints
    /// only the provisional password, without the login: send it on another channel than the
    /// login (post, say), never together.
    Reset {
        /// The person's login.
        #[arg(long)]
        login: String,
        /// The provisional password (default: a random one, printed).
        #[arg(long)]
        password: Option<String>,
        /// How many days it opens the account: by post 14, say; 0 for a test.
        #[arg(long, default_value_t = 14)]
        valid_days: u64,
    },
    /// Lists people as JSON lines (without secrets).
    List,
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum MessageCommand {
    /// Writes the sender's signed request that submitted a message, byte for byte as it was
    /// received (kept as long as the message's evidences): what the sender itself signed,
    /// for a court. The reading is traced.
    Request {
        /// The message id (urn:uuid:…).
        #[arg(long)]
        id: String,
        /// Where to write it (whole or not at all).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum MandateCommand {
    /// Gives a person a mandate to read a company's mailbox.
    Grant {
        /// cbe:<10 digits>.
        #[arg(long)]
        company: String,
        /// The person's login.
        #[arg(long)]
        person: String,
        /// Message types it covers (comma-separated; none: all).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
        /// How many days it is valid.
        #[arg(long, default_value_t = 365)]
        days: u64,
    },
    /// Revokes a mandate now.
    Revoke {
        /// The mandate's id (mandate-…), as `mandate grant` printed it and `mandate list`
        /// lists it.
        #[arg(long)]
        id: String,
    },
    /// Lists mandates as JSON lines.
    List,
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum SenderCommand {
    /// Adds or replaces a sender organisation.
    Set {
        /// Registry identity, e.g. agency-a.
        #[arg(long)]
        id: String,
        /// The organisation's name, as evidences and recipients see it.
        #[arg(long)]
        name: String,
        /// A PEM certificate that authenticates as this sender (repeatable). It must chain
        /// to the configured sender trust anchors and not be self-signed.
        #[arg(long = "cert", required = true, value_parser = read_file)]
        certs: Vec<NamedFile>,
        /// Message types it may send (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        types: Vec<String>,
        /// Recipient kinds it may send to: citizen, company (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "citizen,company")]
        recipients: Vec<String>,
        /// Registered but refused.
        #[arg(long)]
        inactive: bool,
        /// An identity provider (entity id of `[[saml.identity_providers]]`) that vouches for
        /// its agents (repeatable): every request then carries an identification vector of
        /// one of them.
        #[arg(long = "identity-provider")]
        identity_providers: Vec<String>,
        /// What a PAGM profile lets its agents send (repeatable):
        /// `PROFILE=TYPE[,TYPE...][@citizen|@company|@citizen+company]`; recipients default to
        /// the sender's.
        #[arg(long = "pagm")]
        pagm: Vec<String>,
        /// The least authentication level a message type needs (repeatable): `TYPE=LEVEL`.
        #[arg(long = "minimum-level")]
        minimum_levels: Vec<String>,
    },
    /// Lists the registry as JSON lines.
    List,
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum MailboxCommand {
    /// Adds (or reactivates) a mailbox.
    Add {
        /// nrn:<11 digits> or cbe:<10 digits>.
        id: String,
        /// The holder's name, as the mailbox shows it.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Adds mailboxes from a CSV file: `id,display name[,active|inactive]` per line; all or
    /// nothing.
    Import {
        /// The CSV file (UTF-8).
        #[arg(value_parser = read_file)]
        file: NamedFile,
    },
    /// Marks a mailbox inactive: letters for it are refused with RecipientUnknown.
    Deactivate {
        /// nrn:<11 digits> or cbe:<10 digits>.
        id: String,
    },
    /// Marks a mailbox active again.
    Activate {
        /// nrn:<11 digits> or cbe:<10 digits>.
        id: String,
    },
    /// Lists the directory as JSON lines.
    List,
}

#[derive(Subcommand, Serialize, Deserialize)]
pub enum AuditCommand {
    /// Checks the whole hash chain, every stored request, and every sealed head.
    Verify {
        /// Trust anchors (PEM) for the head seals' time-stamps (default: the sender trust
        /// anchors of the configuration).
        #[arg(long, value_parser = read_file)]
        trust: Option<NamedFile>,
    },
    /// Writes a sealpost-audit-export-1 file (docs/audit-export.md), which `sealpost-verify
    /// --audit-export` checks offline: a header naming the anchor, the contiguous entries
    /// between two times (xs:dateTime, inclusive), each with its signed request in base64, the
    /// seals among them, a trailer. Seal the log first (`audit seal`) so that its head is
    /// attested.
    Export {
        /// From the first entry stating this time or a later one (default: the first entry
        /// kept).
        #[arg(long)]
        from: Option<String>,
        /// Up to the last entry before the first stating a later time (default: the head).
        #[arg(long)]
        to: Option<String>,
        /// Output file, written whole or not at all (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Seals the head of the log now with a time-stamp.
    Seal,
    /// Places a legal hold: the traces from an entry on are kept past their retention until
    /// the hold is released (an incident, a court's order). Prints the hold.
    Hold {
        /// The first entry held (default: the first entry stating `--since` or a later time).
        #[arg(long)]
        from_seq: Option<u64>,
        /// xs:dateTime: hold from the first entry stating this time or a later one.
        #[arg(long)]
        since: Option<String>,
        /// Why (kept with the hold and in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Releases a legal hold: its traces follow their retention again.
    Release {
        /// The hold's id (hold-…), as `audit hold` printed it and `audit holds` lists it.
        #[arg(long)]
        id: String,
    },
    /// Lists the legal holds, in force and released, as JSON lines.
    Holds,
}

impl AdminCommand {
    /// Where the command's output file goes (`--out`), written whole or not at all; `None`:
    /// standard output.
    fn output_file(&self) -> Option<&std::path::Path> {
        match self {
            AdminCommand::Audit {
                command: AuditCommand::Export { out, .. },
            } => out.as_deref(),
            AdminCommand::Message {
                command: MessageCommand::Request { out, .. },
            } => Some(out),
            _ => None,
        }
    }
}

/// Carries out an administrative command: in the running service when its administrative
/// socket answers, on the store otherwise.
pub fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let mut terminal = Terminal::new(command.output_file())?;
    let done = match config
        .admin_socket
        .as_deref()
        .map(socket::connect)
        .transpose()?
    {
        Some(Some(stream)) => socket::request(stream, &command, &mut terminal),
        _ => on_the_store(config, command, &mut terminal),
    };
    terminal.finish(done.is_ok())?;
    done
}

/// The command on the store itself (the service stopped, or on PostgreSQL): the operator is
/// this process's user.
fn on_the_store(
    config: &Config,
    command: AdminCommand,
    out: &mut dyn Output,
) -> anyhow::Result<()> {
    let operator = format!("sealpost admin (uid {}, on the store)", socket::own_uid()?);
    if matches!(
        command,
        AdminCommand::Retention | AdminCommand::Evidence { .. }
    ) {
        // The retention and archive jobs need the service's parts (its notifier, its seal,
        // its TSA and revocation sources).
        let app = App::build(config)?;
        return Admin {
            config,
            store: &app.store,
            app: Some(&app),
            operator: &operator,
        }
        .execute(command, out);
    }
    let store = open_store(config)?;
    Admin {
        config,
        store: &store,
        app: None,
        operator: &operator,
    }
    .execute(command, out)
}

/// The operator's terminal: lines to standard output, notes to standard error, the output
/// file written beside its place and renamed when whole.
struct Terminal {
    payload: Box<dyn Write>,
    /// (partial, final, file) when the payload goes to a file.
    file: Option<(PathBuf, PathBuf, std::fs::File)>,
}

impl Terminal {
    fn new(out: Option<&std::path::Path>) -> anyhow::Result<Terminal> {
        let Some(path) = out else {
            return Ok(Terminal {
                payload: Box::new(std::io::stdout()),
                file: None,
            });
        };
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("creating {}", partial.display()))?;
        Ok(Terminal {
            payload: Box::new(std::io::BufWriter::new(file.try_clone()?)),
            file: Some((partial, path.to_owned(), file)),
        })
    }

    /// Keeps the file when the command succeeded (synced, then renamed), removes it otherwise.
    fn finish(mut self, succeeded: bool) -> anyhow::Result<()> {
        let flushed = self.payload.flush();
        let Some((partial, path, file)) = self.file else {
            return Ok(flushed?);
        };
        let kept = flushed
            .map_err(anyhow::Error::from)
            .and_then(|()| {
                anyhow::ensure!(succeeded, "the command failed");
                Ok(file.sync_all()?)
            })
            .and_then(|()| Ok(std::fs::rename(&partial, &path)?));
        if kept.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        if succeeded {
            kept.with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

impl Output for Terminal {
    fn line(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(std::io::stdout(), "{text}")
    }

    fn note(&mut self, text: &str) -> std::io::Result<()> {
        writeln!(std::io::stderr(), "{text}")
    }

    fn payload(&mut self) -> &mut dyn Write {
        &mut self.payload
    }
}
