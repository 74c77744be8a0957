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
        #[arg(long, env = "SEALPOST_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Administration: the sender registry, the mailbox directory, the audit log. Works on
    /// the store directly: run it while the service is stopped.
    Admin {
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
        #[arg(long)]
        dir: PathBuf,
        /// Password of the PKCS#12 bundles.
        #[arg(long, default_value = DEV_PKCS12_PASSWORD)]
        pkcs12_password: String,
        /// Where the issuing CA's revocation services are: its leaves name BASE/ as their
        /// OCSP responder (serve it with `openssl ocsp -index DIR/index.txt -CA
        /// DIR/issuing-ca.pem -rsigner DIR/ocsp.pem -rkey DIR/ocsp.key -port PORT`) and
        /// BASE/issuing-ca.crl as their CRL distribution point.
        #[arg(long, default_value = sealpost_pki::DEV_REVOCATION_URL)]
        revocation_url: String,
    },
    /// Write the provider's published identity: a trusted list naming the evidence seal and
    /// time-stamping certificates this configuration uses (what a court passes to
    /// `sealpost-verify --provider`). Prints each certificate's SHA-256 fingerprint.
    TrustedList {
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
    /// (`issuing-ca.crl.pem`, `root-ca.crl.pem`), revoking the given certificates of the
    /// issuing CA: with `revocation.crls` naming them, the service refuses those certificates
    /// within `revocation.refresh_s`. Development only: a production CA publishes its own.
    Crl {
        #[arg(long)]
        dir: PathBuf,
        /// A certificate (PEM) of the issuing CA to revoke (repeatable; the earlier
        /// revocations are not remembered: list every certificate revoked).
        #[arg(long = "revoke")]
        revoked: Vec<PathBuf>,
        /// How long the lists are valid (their nextUpdate).
        #[arg(long, default_value_t = 30)]
        days: u64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve { config } => serve(load_config(config)?),
        Command::Admin { config, command } => admin::run(&load_config(config)?, command),
        Command::CheckConfig { config } => {
            println!("{:#?}", load_config(config)?);
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
            let pki = DevPki::generate_publishing(
                sealpost::core::SystemClock.now(),
                sealpost_pki::Published::under(&revocation_url),
            )
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
            let serials = revoked
                .iter()
                .map(|path| {
                    let der = sealpost::app::pem_certificates(path)?
                        .into_iter()
                        .next()
                        .context("no certificate")?;
                    let cert = <x509_cert::Certificate as der::Decode>::from_der(&der)
                        .with_context(|| format!("{}: not a certificate", path.display()))?;
                    Ok(cert.tbs_certificate.serial_number.as_bytes().to_vec())
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            for (name, file, serials) in [
                (sealpost_pki::DEV_ISSUING_CA, "issuing-ca", serials),
                (sealpost_pki::DEV_ROOT_CA, "root-ca", Vec::new()),
            ] {
                let cert = sealpost::app::pem_certificates(&dir.join(format!("{file}.pem")))?
                    .into_iter()
                    .next()
                    .context("no CA certificate")?;
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
                println!("{} written ({} revoked)", out.display(), serials.len());
            }
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
        LogFormat::Text => logs.init(),
    }
    let app = App::build(&config)?;
    let tls = tls::server_config(
        &config.tls_cert,
        &config.tls_key,
        app.client_ca_subjects.clone(),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        tracing::info!(address = %listener.local_addr()?, "sealpost listening (https)");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        };
        tokio::spawn(seal_audit_periodically(
            Arc::clone(&app.store),
            Arc::clone(&app.tsa),
            config.audit_seal_interval,
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
        ));
        if let Some(revocation) = &app.revocation {
            tokio::spawn(sealpost::app::refresh_crls_periodically(Arc::clone(
                revocation,
            )));
        }
        tokio::spawn(sealpost::retention::run_periodically(
            Arc::clone(&app.store),
            Arc::clone(&app.service),
            config.retention.clone(),
        ));
        http::serve_tls(listener, tls, app.router(), shutdown).await;
        Ok(())
    })
}
