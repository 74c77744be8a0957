//! `sealpost admin`: the sender registry, the mailbox directory, the audit log.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{Context, bail};
use clap::Subcommand;
use sealpost::adapters::mailbox::{People, certificate_write, mandate_write, person_write};
use sealpost::adapters::store::Backend;
use sealpost::app::{
    App, open_store, pem_certificates, seal_audit_head, sender_registration, trust_anchors,
    trusted_fingerprint,
};
use sealpost::audit_export::{Window, export};
use sealpost::config::{Config, SenderEntry};
use sealpost::core::audit::{GENESIS, unhex, verify_chain_from};
use sealpost::core::ids::{RecipientId, RecipientKind};
use sealpost::core::records::Channel;
use sealpost::core::records::Mailbox;
use sealpost::core::{Changes, Clock, Ledger, Recorder, RequestContext, SystemClock};
use sealpost::retention::{LegalHold, legal_hold_write, legal_holds};
use sealpost_mailbox::credentials::{PasswordHash, TotpSecret};
use sealpost_mailbox::people::{Mandate, Person};
use sealpost_tsa::asn1::oid;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::{Expected, TrustStore, verify_token};
use sealpost_xmldsig::dsig::base64_decode;
use sealpost_xmldsig::wss::parse_date_time;

#[derive(Subcommand)]
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
    /// Runs the retention job now (the service runs it every retention.interval_s): notices
    /// for unused accounts, deletion of those noticed long enough ago.
    Retention,
}

#[derive(Subcommand)]
pub enum PersonCommand {
    /// Adds a person (or replaces their credentials). Prints the one-time password (changed
    /// at the first login) and the TOTP secret to enrol in an authenticator app.
    Add {
        #[arg(long)]
        login: String,
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
        #[arg(long = "cert")]
        certs: Vec<PathBuf>,
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

#[derive(Subcommand)]
pub enum MessageCommand {
    /// Writes the sender's signed request that submitted a message, byte for byte as it was
    /// received (kept as long as the message's evidences): what the sender itself signed,
    /// for a court. The reading is traced.
    Request {
        /// The message id (urn:uuid:…).
        #[arg(long)]
        id: String,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
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
        #[arg(long)]
        id: String,
    },
    /// Lists mandates as JSON lines.
    List,
}

#[derive(Subcommand)]
pub enum SenderCommand {
    /// Adds or replaces a sender organisation.
    Set {
        /// Registry identity, e.g. agency-a.
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// A PEM certificate that authenticates as this sender (repeatable). It must chain
        /// to the configured sender trust anchors and not be self-signed.
        #[arg(long = "cert", required = true)]
        certs: Vec<PathBuf>,
        /// Message types it may send (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        types: Vec<String>,
        /// Recipient kinds it may send to: citizen, company (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "citizen,company")]
        recipients: Vec<String>,
        /// Registered but refused.
        #[arg(long)]
        inactive: bool,
    },
    /// Lists the registry as JSON lines.
    List,
}

#[derive(Subcommand)]
pub enum MailboxCommand {
    /// Adds (or reactivates) a mailbox.
    Add {
        /// nrn:<11 digits> or cbe:<10 digits>.
        id: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Adds mailboxes from a CSV file: `id,display name[,active|inactive]` per line; all or
    /// nothing.
    Import { file: PathBuf },
    /// Marks a mailbox inactive: letters for it are refused with RecipientUnknown.
    Deactivate { id: String },
    /// Marks a mailbox active again.
    Activate { id: String },
    /// Lists the directory as JSON lines.
    List,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Checks the whole hash chain, every stored request, and every sealed head.
    Verify {
        /// Trust anchors (PEM) for the head seals' time-stamps (default: the sender trust
        /// anchors of the configuration).
        #[arg(long)]
        trust: Option<PathBuf>,
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
        #[arg(long)]
        id: String,
    },
    /// Lists the legal holds, in force and released, as JSON lines.
    Holds,
}

pub fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    if let AdminCommand::Retention = command {
        let app = App::build(config)?;
        let report = sealpost::retention::run(
            &app.store,
            &app.service,
            &config.retention,
            SystemClock.now(),
        )?;
        println!(
            "{}",
            serde_json::json!({"notified": report.notified, "undelivered": report.undelivered, "deleted": report.deleted, "purged_through": report.purged_through, "purged_evidences": report.purged_evidences})
        );
        return Ok(());
    }
    let store_handle = open_store(config)?;
    match command {
        AdminCommand::Sender { command } => sender(config, &store_handle, command),
        AdminCommand::Mailbox { command } => mailbox(&store_handle, command),
        AdminCommand::Audit { command } => audit(config, &store_handle, command),
        AdminCommand::Person { command } => person(config, &store_handle, command),
        AdminCommand::Mandate { command } => mandate(&store_handle, command),
        AdminCommand::Message {
            command: MessageCommand::Request { id, out },
        } => {
            let Some(request) = store_handle.signed_request(&id)? else {
                bail!("no signed request is kept for message {id}");
            };
            std::fs::write(&out, &request).with_context(|| format!("writing {}", out.display()))?;
            record_changes(
                &store_handle,
                "MessageRequestRead",
                &format!("the signed request of {id} written to {}", out.display()),
                Changes::default(),
            )?;
            println!("{} bytes written to {}", request.len(), out.display());
            Ok(())
        }
        AdminCommand::Retention => Ok(()),
    }
}

fn sender(
    config: &Config,
    store: &std::sync::Arc<dyn Backend>,
    command: SenderCommand,
) -> anyhow::Result<()> {
    match command {
        SenderCommand::Set {
            id,
            name,
            certs,
            types,
            recipients,
            inactive,
        } => {
            let trust = trust_anchors(
                &config.sender_trust_anchors,
                config.sender_intermediates.as_deref(),
            )?;
            let recipient_kinds = recipients
                .iter()
                .map(|r| {
                    RecipientKind::parse(r.trim())
                        .with_context(|| format!("{r:?}: citizen or company"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let types: Vec<String> = types
                .iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect();
            let registration = sender_registration(
                &trust,
                &SenderEntry {
                    id,
                    name,
                    certificates: certs,
                    message_types: types,
                    recipient_kinds,
                    active: !inactive,
                },
                SystemClock.now(),
            )?;
            record_changes(
                store,
                "SenderSet",
                &format!(
                    "sender {} set: {}",
                    registration.id,
                    serde_json::to_string(&registration)?
                ),
                Changes {
                    senders: vec![registration.clone()],
                    ..Changes::default()
                },
            )?;
            println!("{}", serde_json::to_string(&registration)?);
        }
        SenderCommand::List => {
            for s in store.senders()? {
                println!("{}", serde_json::to_string(&s)?);
            }
        }
    }
    Ok(())
}

fn now_unix() -> u64 {
    SystemClock
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn mailbox(store: &std::sync::Arc<dyn Backend>, command: MailboxCommand) -> anyhow::Result<()> {
    let put = |operation, detail: &str, mut mailboxes: Vec<Mailbox>| {
        // A mailbox added again (an import of the whole directory) keeps its owner's refusal
        // of electronic delivery: only its owner withdraws it.
        for m in &mut mailboxes {
            if let Some(stored) = store.mailbox(&m.id)? {
                m.refused_at = stored.refused_at;
            }
        }
        record_changes(
            store,
            operation,
            detail,
            Changes {
                mailboxes,
                ..Changes::default()
            },
        )
    };
    let set_active = |id: &str, active: bool| -> anyhow::Result<()> {
        let id = RecipientId::parse(id)?;
        let Some(mut m) = store.mailbox(id.as_str())? else {
            bail!("no mailbox {id}");
        };
        m.active = active;
        let state = if active { "activated" } else { "deactivated" };
        put("MailboxSet", &format!("mailbox {id} {state}"), vec![m])
    };
    match command {
        MailboxCommand::Add { id, name } => {
            let id = RecipientId::parse(&id)?;
            put(
                "MailboxAdd",
                &format!("mailbox {id} added ({name})"),
                vec![Mailbox {
                    id: id.to_string(),
                    display_name: name,
                    active: true,
                    created_at: now_unix(),
                    refused_at: None,
                }],
            )?;
            println!("mailbox {id} active");
        }
        MailboxCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let mut mailboxes = Vec::new();
            let mut problems = Vec::new();
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let mut parts = line.splitn(3, ',').map(str::trim);
                let id = parts.next().unwrap_or("");
                let name = parts.next().unwrap_or("");
                let active = match parts.next() {
                    None | Some("active") => true,
                    Some("inactive") => false,
                    Some(other) => {
                        problems.push(format!("line {}: state {other:?}", n + 1));
                        continue;
                    }
                };
                match RecipientId::parse(id) {
                    Ok(id) => mailboxes.push(Mailbox {
                        id: id.to_string(),
                        display_name: name.to_owned(),
                        active,
                        created_at: now_unix(),
                        refused_at: None,
                    }),
                    Err(e) => problems.push(format!("line {}: {e}", n + 1)),
                }
            }
            if !problems.is_empty() {
                bail!("nothing imported:\n  {}", problems.join("\n  "));
            }
            let count = mailboxes.len();
            put(
                "MailboxImport",
                &format!("{count} mailboxes imported from {}", file.display()),
                mailboxes,
            )?;
            println!("{count} mailboxes imported");
        }
        MailboxCommand::Deactivate { id } => set_active(&id, false)?,
        MailboxCommand::Activate { id } => set_active(&id, true)?,
        MailboxCommand::List => {
            for m in store.mailboxes()? {
                println!("{}", serde_json::to_string(&m)?);
            }
        }
    }
    Ok(())
}

fn audit(
    config: &Config,
    store_handle: &std::sync::Arc<dyn Backend>,
    command: AuditCommand,
) -> anyhow::Result<()> {
    let store = store_handle.as_ref();
    match command {
        AuditCommand::Verify { trust } => {
            let anchor = store.audit_anchor()?;
            let entries = store.audit_entries(0, u64::MAX)?;
            let hashes: std::collections::HashMap<u64, String> = entries
                .iter()
                .map(|(e, _)| (e.seq, e.hash.clone()))
                .collect();
            let count = entries.len();
            let (_, head) =
                verify_chain_from(anchor.clone().unwrap_or((0, GENESIS.to_owned())), entries)
                    .context("the audit chain is broken")?;
            if let Some((seq, hash)) = &anchor {
                println!(
                    "entries up to {seq} were purged (retention); the chain starts after {hash}"
                );
            }
            let anchors = pem_certificates(trust.as_ref().unwrap_or(&config.sender_trust_anchors))?;
            let trust = TrustStore::new(anchors);
            let seals = store.audit_seals()?;
            let purged_through = anchor.as_ref().map_or(0, |(seq, _)| *seq);
            let seals: Vec<_> = seals
                .into_iter()
                .filter(|s| s.seq > purged_through)
                .collect();
            for seal in &seals {
                if hashes.get(&seal.seq) != Some(&seal.hash) {
                    bail!("the seal of entry {} names another hash", seal.seq);
                }
                let digest = unhex(&seal.hash).with_context(|| {
                    format!("the seal of entry {}: its hash is not hex", seal.seq)
                })?;
                let token = base64_decode(&seal.token)?;
                verify_token(&token, &Expected::digest(oid::SHA256, &digest), &trust)
                    .with_context(|| format!("the seal of entry {}", seal.seq))?;
            }
            println!(
                "audit log valid: {count} entries, head {head}, {} sealed heads verified",
                seals.len()
            );
        }
        AuditCommand::Export { from, to, out } => {
            let bound = |t: Option<String>| -> anyhow::Result<Option<u64>> {
                t.map(|text| {
                    Ok(parse_date_time(&text)
                        .map_err(|e| anyhow::anyhow!("{text:?}: {e}"))?
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()))
                })
                .transpose()
            };
            let window = Window {
                from: bound(from)?,
                to: bound(to)?,
            };
            let now = SystemClock.now();
            let end = match &out {
                Some(path) => {
                    // Written beside the file, renamed when whole: no half export is left.
                    let mut partial = path.as_os_str().to_owned();
                    partial.push(".partial");
                    let partial = PathBuf::from(partial);
                    let file = std::fs::File::create(&partial)
                        .with_context(|| format!("creating {}", partial.display()))?;
                    let written = export(
                        store,
                        window,
                        &config.issuer_name,
                        now,
                        std::io::BufWriter::new(&file),
                    )
                    .map_err(anyhow::Error::from)
                    .and_then(|end| Ok(file.sync_all().map(|()| end)?))
                    .and_then(|end| Ok(std::fs::rename(&partial, path).map(|()| end)?));
                    if written.is_err() {
                        let _ = std::fs::remove_file(&partial);
                    }
                    written.with_context(|| format!("exporting to {}", path.display()))?
                }
                None => export(
                    store,
                    window,
                    &config.issuer_name,
                    now,
                    std::io::stdout().lock(),
                )?,
            };
            let n = end.entries;
            let range = if n == 0 {
                "no entry".to_owned()
            } else {
                format!("entries {} to {}", end.head_seq + 1 - n, end.head_seq)
            };
            // Reading the traces is itself traced.
            record_changes(
                store_handle,
                "AuditExport",
                &format!(
                    "{n} audit entries ({range}) exported to {}",
                    out.as_deref()
                        .map_or("standard output".into(), |p| p.display().to_string())
                ),
                Changes::default(),
            )?;
            eprintln!("{n} entries exported ({range}), head {}", end.head_hash);
        }
        AuditCommand::Hold {
            from_seq,
            since,
            reason,
        } => {
            anyhow::ensure!(!reason.trim().is_empty(), "a legal hold needs a --reason");
            let from_seq = match (from_seq, since) {
                (Some(seq), None) => seq,
                (None, Some(text)) => {
                    let at = parse_date_time(&text)
                        .map_err(|e| anyhow::anyhow!("--since {text:?}: {e}"))?
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    store.audit_last_before(at)?.map_or(1, |(seq, _)| seq + 1)
                }
                _ => bail!("give --from-seq or --since"),
            };
            let hold = LegalHold {
                id: format!("hold-{}", random_hex(8)),
                from_seq: from_seq.max(1),
                reason: reason.trim().to_owned(),
                placed_at: now_unix(),
                released_at: None,
            };
            record(
                store_handle,
                "LegalHold",
                &format!(
                    "legal hold {} placed on the traces from entry {}: {}",
                    hold.id, hold.from_seq, hold.reason
                ),
                vec![legal_hold_write(&hold)?],
            )?;
            println!("{}", serde_json::to_string(&hold)?);
        }
        AuditCommand::Release { id } => {
            let Some(mut hold) = legal_holds(store)?.into_iter().find(|h| h.id == id) else {
                bail!("no legal hold {id}");
            };
            hold.released_at.get_or_insert(now_unix());
            record(
                store_handle,
                "LegalHoldRelease",
                &format!("legal hold {id} released"),
                vec![legal_hold_write(&hold)?],
            )?;
            println!("{}", serde_json::to_string(&hold)?);
        }
        AuditCommand::Holds => {
            for hold in legal_holds(store)? {
                println!("{}", serde_json::to_string(&hold)?);
            }
        }
        AuditCommand::Seal => {
            let tsa = TimeStampAuthority::from_settings(&config.tsa)?;
            match seal_audit_head(store, &tsa, SystemClock.now())? {
                Some(seal) => println!("audit head {} sealed", seal.seq),
                None => println!("nothing to seal"),
            }
        }
    }
    Ok(())
}

/// An administrative change and its audit entry, in one commit (the operator named as
/// `sealpost admin`; the request kept is the change's description).
fn record(
    store: &std::sync::Arc<dyn Backend>,
    operation: &'static str,
    detail: &str,
    records: Vec<sealpost::core::RecordWrite>,
) -> anyhow::Result<()> {
    record_changes(
        store,
        operation,
        detail,
        Changes {
            records,
            ..Changes::default()
        },
    )
}

/// [`record`] for any administrative change: the registry, the directory, people.
fn record_changes(
    store: &std::sync::Arc<dyn Backend>,
    operation: &'static str,
    detail: &str,
    changes: Changes,
) -> anyhow::Result<()> {
    let clock = std::sync::Arc::new(SystemClock);
    let recorder = Recorder::new(
        std::sync::Arc::clone(store) as std::sync::Arc<dyn Ledger>,
        clock.clone(),
    );
    let ctx = RequestContext {
        correlation_id: sealpost_evidence::model::new_evidence_id(clock.now()),
        channel: Channel::Admin,
        operation,
        request: std::sync::Arc::new(detail.as_bytes().to_vec()),
        seen: None,
    };
    recorder
        .record_change(&ctx, "sealpost admin", true, detail, changes)
        .map(|_| ())
        .map_err(|r| anyhow::anyhow!("the audit log: {}", r.kind.row().code))
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // aws-lc aborts if the system RNG fails; nothing sensible is left to do then.
    aws_lc_rs::rand::fill(&mut b).expect("system random number generator");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn person(
    config: &Config,
    store: &std::sync::Arc<dyn Backend>,
    command: PersonCommand,
) -> anyhow::Result<()> {
    let people = People(store.as_ref());
    match command {
        PersonCommand::Add {
            login,
            name,
            nrn,
            manages,
            password,
            totp_secret,
            certs,
            valid_days,
            contact,
        } => {
            let trust = trust_anchors(
                &config.mailbox_trust_anchors,
                config.mailbox_intermediates.as_deref(),
            )?;
            let mut certificates = Vec::new();
            for path in &certs {
                let fingerprint = trusted_fingerprint(&trust, path, SystemClock.now())?;
                if let Some(owner) = people.certificate_owner(&fingerprint)?
                    && owner != login.trim()
                {
                    bail!(
                        "{}: the certificate is already someone else's",
                        path.display()
                    );
                }
                certificates.push(fingerprint);
            }
            if login.trim().is_empty() || name.trim().is_empty() {
                bail!("a person needs a login and a name");
            }
            let nrn = nrn
                .map(|n| RecipientId::parse(&n).map(|id| id.to_string()))
                .transpose()?;
            if nrn.as_deref().is_some_and(|n| !n.starts_with("nrn:")) {
                bail!("--nrn takes a national register number (nrn:…)");
            }
            let manages = manages
                .iter()
                .map(|c| {
                    let id = RecipientId::parse(c.trim())?;
                    anyhow::ensure!(
                        id.as_str().starts_with("cbe:"),
                        "--manages takes enterprise numbers (cbe:…)"
                    );
                    Ok(id.to_string())
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = password.unwrap_or_else(|| random_hex(9));
            let totp = match totp_secret {
                Some(s) => TotpSecret::from_base32(&s).context("--totp-secret: base32")?,
                None => TotpSecret::generate(),
            };
            let person = Person {
                login: login.trim().to_owned(),
                name: name.trim().to_owned(),
                nrn,
                password: PasswordHash::new(&password)?.as_phc().to_owned(),
                totp_secret: totp.to_base32(),
                must_change_password: true,
                failed_logins: 0,
                locked_until: 0,
                last_totp_step: None,
                last_login: now_unix(),
                manages,
                certificates,
                deletion_notice_at: None,
                deletion_cancelled_at: None,
                contact: contact.filter(|c| !c.trim().is_empty()),
                provisional_until: Some(now_unix() + valid_days.saturating_mul(86_400)),
            };
            let mut records = vec![person_write(&person)?];
            records.extend(
                person
                    .certificates
                    .iter()
                    .map(|fingerprint| certificate_write(fingerprint, &person.login)),
            );
            record(
                store,
                "PersonAdd",
                &format!("person {} added", person.login),
                records,
            )?;
            println!(
                "{}",
                serde_json::json!({
                    "login": person.login,
                    "one_time_password": password,
                    "totp_secret": person.totp_secret,
                    "otpauth": totp.enrolment_uri("Sealpost", &person.login),
                })
            );
        }
        PersonCommand::Reset {
            login,
            password,
            valid_days,
        } => {
            let Some(mut person) = people.person(&login)? else {
                bail!("no person {login:?}");
            };
            let password = password.unwrap_or_else(|| random_hex(9));
            let valid_until = now_unix() + valid_days.saturating_mul(86_400);
            person.password = PasswordHash::new(&password)?.as_phc().to_owned();
            person.must_change_password = true;
            person.provisional_until = Some(valid_until);
            person.failed_logins = 0;
            person.locked_until = 0;
            record(
                store,
                "PersonReset",
                &format!(
                    "person {}: provisional password issued, valid until {valid_until}, account unlocked",
                    person.login
                ),
                vec![person_write(&person)?],
            )?;
            println!(
                "{}",
                serde_json::json!({"one_time_password": password, "valid_until": valid_until})
            );
        }
        PersonCommand::List => {
            // By login: entities come in key order.
            for p in people.everyone()? {
                println!(
                    "{}",
                    serde_json::json!({
                        "login": p.login, "name": p.name, "nrn": p.nrn, "manages": p.manages,
                        "locked_until": p.locked_until, "last_login": p.last_login,
                    })
                );
            }
        }
    }
    Ok(())
}

fn mandate(store: &std::sync::Arc<dyn Backend>, command: MandateCommand) -> anyhow::Result<()> {
    let people = People(store.as_ref());
    match command {
        MandateCommand::Grant {
            company,
            person,
            types,
            days,
        } => {
            let company = RecipientId::parse(company.trim())?.to_string();
            anyhow::ensure!(company.starts_with("cbe:"), "--company takes cbe:…");
            anyhow::ensure!(
                people.person(&person)?.is_some(),
                "no person {person:?} (sealpost admin person add)"
            );
            let now = now_unix();
            let mandate = Mandate {
                id: format!("mandate-{}", random_hex(16)),
                company,
                person,
                message_types: types
                    .iter()
                    .map(|t| t.trim().to_owned())
                    .filter(|t| !t.is_empty())
                    .collect(),
                valid_from: now,
                valid_until: now + days.saturating_mul(86_400),
                revoked_at: None,
                granted_by: "sealpost admin".into(),
            };
            record(
                store,
                "MandateGrant",
                &format!(
                    "mandate {} to {} for {}",
                    mandate.id, mandate.person, mandate.company
                ),
                vec![mandate_write(&mandate)?],
            )?;
            println!("{}", serde_json::to_string(&mandate)?);
        }
        MandateCommand::Revoke { id } => {
            let Some(mut m) = people.mandates()?.into_iter().find(|m| m.id == id) else {
                bail!("no mandate {id}");
            };
            m.revoked_at.get_or_insert(now_unix());
            record(
                store,
                "MandateRevoke",
                &format!("mandate {} revoked", m.id),
                vec![mandate_write(&m)?],
            )?;
            println!("{}", serde_json::to_string(&m)?);
        }
        MandateCommand::List => {
            for m in people.mandates()? {
                println!("{}", serde_json::to_string(&m)?);
            }
        }
    }
    Ok(())
}
