//! `sealpost`: the registered-delivery service and its administration.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sealpost::adapters::{http, tls};
use sealpost::app::{App, seal_audit_periodically};
use sealpost::config::{Config, LogFormat};
use sealpost::core::Clock;
use sealpost_pki::{DEV_PKCS12_PASSWORD, DevPki};

mod admin;

#[derive(Parser)]
#[command(
    name = "sealpost",
    version,
    about = "Sealpost electronic registered delivery"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the service: every endpoint on one HTTPS port.
    Serve {
        /// TOML configuration file (default: none, the embedded defaults; env SEALPOST_CONFIG).
        #[arg(long, env = "SEALPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Development PKI.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// Validate the configuration and print it.
    CheckConfig {
        /// TOML configuration file (default: none, the embedded defaults).
        #[arg(long, env = "SEALPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Administration: the sender registry, the mailbox directory, people, mandates, the
    /// audit log. While the service runs, the command runs in it (its administrative socket,
    /// `admin.socket`, for the service's user); otherwise on the store directly.
    Admin {
        /// TOML configuration file of the service (default: none, the embedded defaults).
        #[arg(long, env = "SEALPOST_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create a development PKI: root and issuing CA, TSA, seal, TLS server and two sender
    /// certificates, PKCS#12 bundles for the senders, the issuing CA's delegated OCSP
    /// responder (`ocsp.pem`, `ocsp.key`) and its `openssl ca` database (`index.txt`).
    /// Refuses a directory that has one.
    Init {
        /// The directory to write it into (created; refused if it holds a PKI).
        #[arg(long)]
        dir: PathBuf,
        /// Password of the PKCS#12 bundles.
        #[arg(long, default_value = DEV_PKCS12_PASSWORD)]
        pkcs12_password: String,
        /// Where the issuing CA's revocation services are: its leaves name BASE/ as their
        /// OCSP responder (serve it with `openssl ocsp -index DIR/index.txt -CA
        /// DIR/issuing-ca.pem -rsigner DIR/ocsp.pem -rkey DIR/ocsp.key -port PORT`) and
        /// BASE/issuing-ca.crl as their CRL distribution point; the issuing CA names
        /// BASE/root-ca.crl (the root's CRL) as its own.
        #[arg(long, default_value = sealpost_pki::DEV_REVOCATION_URL)]
        revocation_url: String,
    },
    /// Write the provider's published identity: a trusted list naming the evidence seal and
    /// time-stamping certificates this configuration uses (what a court passes to
    /// `sealpost-verify --provider`). Prints each certificate's SHA-256 fingerprint.
    TrustedList {
        /// TOML configuration file (default: none, the embedded defaults).
        #[arg(long, env = "SEALPOST_CONFIG")]
        config: Option<PathBuf>,
        /// Where to write the list.
        #[arg(long)]
        out: PathBuf,
        /// Earlier seal certificates (PEM, first certificate of each file) that evidences
        /// already issued were sealed with: listed too, so they keep verifying after a key
        /// change. Each must have the seal profile.
        #[arg(long = "previous-seal")]
        previous_seals: Vec<PathBuf>,
    },
    /// Issue the development CAs' certificate revocation lists into `--dir`
    /// (`issuing-ca.crl.pem`, `root-ca.crl.pem`, and the same in DER as `issuing-ca.crl`,
    /// `root-ca.crl`: what the certificates' distribution points name), revoking the given
    /// certificates, each in its issuer's list: with `revocation.crls` naming them, or
    /// `revocation.crl_distribution_points` and the directory served over HTTP, the service
    /// refuses those certificates. Development only: a production CA publishes its own.
    Crl {
        /// The development PKI's directory (its CAs' certificates and keys).
        #[arg(long)]
        dir: PathBuf,
        /// A certificate (PEM) of the issuing CA, or the issuing CA's own, to revoke
        /// (repeatable; the earlier revocations are not remembered: list every certificate
        /// revoked).
        #[arg(long = "revoke")]
        revoked: Vec<PathBuf>,
        /// How long the lists are valid (their nextUpdate).
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
}

/// An ordinary failure is one line (with its causes), exit status 1; no backtrace.
fn main() -> std::process::ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", plainly(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

/// An error and its causes in one line, each cause said once (an error that repeats its
/// source's words in its own is not followed by them again).
fn plainly(e: &anyhow::Error) -> String {
    let mut said = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if said.contains(&text) {
            continue;
        }
        if !said.is_empty() {
            said.push_str(": ");
        }
        said.push_str(&text);
    }
    said
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve { config } => serve(load_config(config)?),
        Command::Admin { config, command } => admin::run(&load_config(config)?, command),
        Command::CheckConfig { config } => {
            let config = load_config(config)?;
            println!(
                "# The configuration is valid. The settings in force (defaults, the file, the\n# environment), the database password hidden:\n{}",
                config.effective
            );
            Ok(())
        }
        Command::Pki {
            command:
                PkiCommand::Init {
                    dir,
                    pkcs12_password,
                    revocation_url,
                },
        } => {
            anyhow::ensure!(
                revocation_url.starts_with("http://"),
                "--revocation-url {revocation_url:?}: an http:// URL"
            );
            let pki =
                DevPki::generate_publishing(sealpost::core::SystemClock.now(), &revocation_url)
                    .context("generating the PKI")?;
            let written = pki.write_to(&dir, &pkcs12_password)?;
            println!(
                "development PKI written to {} ({} files); trust anchor: {}",
                dir.display(),
                written.len(),
                dir.join("root-ca.pem").display()
            );
            Ok(())
        }
        Command::Pki {
            command:
                PkiCommand::TrustedList {
                    config,
                    out,
                    previous_seals,
                },
        } => {
            let mut provider = sealpost::app::provider_identity(&load_config(config)?)?;
            for path in &previous_seals {
                let cert = sealpost::app::pem_certificates(path)?
                    .into_iter()
                    .next()
                    .context("no certificate")?;
                sealpost_evidence::provider::check_seal_profile(&cert)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                if !provider.is_seal(&cert) {
                    provider.seal_certificates.push(cert);
                }
            }
            std::fs::write(&out, provider.to_trusted_list())
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "trusted list of {} written to {}",
                provider.name,
                out.display()
            );
            for (service, certs) in [
                ("evidence seal", &provider.seal_certificates),
                ("time-stamping unit", &provider.tsa_certificates),
            ] {
                for cert in certs {
                    let named = sealpost_evidence::provider::CertificateName::of(cert);
                    println!("  {service}: {} SHA-256 {}", named.subject, named.sha256);
                }
            }
            Ok(())
        }
        Command::Pki {
            command: PkiCommand::Crl { dir, revoked, days },
        } => {
            #[allow(
                clippy::disallowed_methods,
                reason = "a CLI deciding when the lists it issues are valid from"
            )]
            let now = std::time::SystemTime::now();
            let next = now + std::time::Duration::from_secs(days.max(1) * 86_400);
            // Each revoked certificate goes into its issuer's list (a leaf into the issuing
            // CA's, the issuing CA into the root's).
            let revoked = revoked
                .iter()
                .map(|path| {
                    let der = sealpost::app::pem_certificates(path)?
                        .into_iter()
                        .next()
                        .context("no certificate")?;
                    <x509_cert::Certificate as der::Decode>::from_der(&der)
                        .with_context(|| format!("{}: not a certificate", path.display()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut listed = 0;
            for (name, file) in [
                (sealpost_pki::DEV_ISSUING_CA, "issuing-ca"),
                (sealpost_pki::DEV_ROOT_CA, "root-ca"),
            ] {
                let cert = sealpost::app::pem_certificates(&dir.join(format!("{file}.pem")))?
                    .into_iter()
                    .next()
                    .context("no CA certificate")?;
                let subject = <x509_cert::Certificate as der::Decode>::from_der(&cert)
                    .context("a CA certificate")?
                    .tbs_certificate
                    .subject;
                let serials: Vec<Vec<u8>> = revoked
                    .iter()
                    .filter(|c| c.tbs_certificate.issuer == subject)
                    .map(|c| c.tbs_certificate.serial_number.as_bytes().to_vec())
                    .collect();
                listed += serials.len();
                let key_path = dir.join(format!("{file}.key"));
                let key = std::fs::read_to_string(&key_path)
                    .with_context(|| format!("reading {}", key_path.display()))?;
                let crl = sealpost_pki::Authority::load_dev(name, &cert, &key)?.crl(
                    &serials,
                    now,
                    next,
                    now.duration_since(std::time::UNIX_EPOCH)
                        .map_or(1, |d| d.as_secs()),
                )?;
                let out = dir.join(format!("{file}.crl.pem"));
                std::fs::write(&out, sealpost_pki::pem_encode("X509 CRL", &crl))
                    .with_context(|| format!("writing {}", out.display()))?;
                // DER, as a distribution point serves it (RFC 5280 §4.2.1.13), under the
                // name the certificates give.
                let published = dir.join(format!("{file}.crl"));
                std::fs::write(&published, &crl)
                    .with_context(|| format!("writing {}", published.display()))?;
                println!(
                    "{} and {} written ({} revoked)",
                    out.display(),
                    published.display(),
                    serials.len()
                );
            }
            anyhow::ensure!(
                listed == revoked.len(),
                "a certificate to revoke is issued by neither development CA"
            );
            Ok(())
        }
    }
}

fn load_config(file: Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(Config::load(file.as_deref(), std::env::vars())?)
}

fn serve(config: Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SEALPOST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => logs.json().init(),
        // Colours on a terminal only: a log file gets plain text.
        LogFormat::Text => logs
            .with_ansi(
                std::io::IsTerminal::is_terminal(&std::io::stderr())
                    && std::env::var_os("NO_COLOR").is_none(),
            )
            .init(),
    }
    let app = Arc::new(App::build(&config)?);
    let tls = tls::server_config(
        &config.tls_cert,
        &config.tls_key,
        app.client_ca_subjects.clone(),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        // The administrative socket answers before the service says it listens.
        if config.admin_socket.is_none() {
            tracing::warn!("no admin.socket: administration only while the service is stopped");
        }
        if let Some(path) = &config.admin_socket {
            let listener = admin::socket::bind(path)?;
            tracing::info!(socket = %path.display(), "administration on the socket");
            let (config, app) = (Arc::new(config.clone()), Arc::clone(&app));
            tokio::spawn(async move {
                if let Err(e) = admin::socket::serve(listener, config, app).await {
                    tracing::error!(error = %format!("{e:#}"), "the administrative socket stopped");
                }
            });
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| {
                let hint = match e.kind() {
                    std::io::ErrorKind::AddrInUse => {
                        "another process listens there: stop it, or choose another `listen` (SEALPOST_LISTEN)"
                    }
                    std::io::ErrorKind::PermissionDenied => {
                        "a port below 1024 needs privileges: choose one above 1024 in `listen`"
                    }
                    std::io::ErrorKind::AddrNotAvailable => {
                        "no interface of this machine has that address: check `listen`"
                    }
                    _ => "check `listen`",
                };
                anyhow::anyhow!("listening on {}: {e} ({hint})", config.listen)
            })?;
        tracing::info!(address = %listener.local_addr()?, "sealpost listening (https)");
        // SIGTERM (a service manager, a container) or SIGINT (Ctrl-C): a graceful stop.
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("listening for SIGTERM")?;
        let shutdown = async move {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
                _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
            }
        };
        // The periodic jobs run on one node of a cluster at a time (`lease`).
        let node = sealpost::lease::node_name(&config.data_dir);
        tracing::info!(node, "this node's name in the periodic jobs' leases");
        let lease = |job, interval| {
            sealpost::lease::JobLease::new(Arc::clone(&app.store), job, &node, interval)
        };
        tokio::spawn(seal_audit_periodically(
            Arc::clone(&app.store),
            Arc::clone(&app.timestamper),
            app.counter_stamper.clone(),
            config.audit_seal_interval,
            lease("audit-seal", config.audit_seal_interval),
        ));
        tokio::spawn(sealpost::adapters::notify::send_notices_periodically(
            Arc::clone(&app.store),
            Arc::clone(&app.service),
            Arc::new(sealpost::adapters::notify::ProgramNotifier {
                program: config.mailbox_notifier.clone(),
                store: Arc::clone(&app.store),
                service: Arc::clone(&app.service),
            }),
            config.mailbox_notify_interval,
            lease("notices", config.mailbox_notify_interval),
        ));
        if let Some(crls) = &app.crl_distribution_points {
            tokio::spawn(Arc::clone(crls).refresh_periodically(config.revocation_refresh));
        }
        if let Some(revocation) = &app.revocation {
            tokio::spawn(sealpost::app::refresh_crls_periodically(Arc::clone(
                revocation,
            )));
        }
        if let Some(archiver) = &app.archiver {
            tokio::spawn(sealpost::archive::run_periodically(
                Arc::clone(archiver),
                config.evidence.archive_interval,
                lease("archive", config.evidence.archive_interval),
            ));
        }
        tokio::spawn(sealpost::retention::run_periodically(
            Arc::clone(&app.store),
            Arc::clone(&app.service),
            config.retention.clone(),
            lease("retention", config.retention.interval),
        ));
        http::serve_tls(
            listener,
            tls,
            app.router(),
            shutdown,
            config.shutdown_grace,
            config.connections.fitted_to_open_files(),
        )
        .await;
        Ok(())
    })
}
