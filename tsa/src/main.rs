//! `sealpost-tsa`: a standalone RFC 3161 time-stamp authority.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use der::asn1::ObjectIdentifier;
use sealpost_tsa::authority::{TimeStampAuthority, TsaSettings};
use sealpost_tsa::clock::ClockKind;
use sealpost_tsa::server;

#[derive(Parser)]
#[command(
    name = "sealpost-tsa",
    version,
    about = "A standalone RFC 3161 time-stamp authority"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve RFC 3161 over HTTP: POST application/timestamp-query to / or /tsa.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3180")]
    listen: SocketAddr,
    /// The TSA certificate (PEM); its only extended key usage must be timeStamping, critical.
    #[arg(long)]
    cert: PathBuf,
    /// The TSA's private key (PKCS#8 PEM, ECDSA P-256).
    #[arg(long)]
    key: PathBuf,
    /// CA certificates (PEM) returned with the TSA certificate when a request asks for it.
    #[arg(long)]
    chain: Option<PathBuf>,
    /// The policy OID of tokens whose request names none.
    #[arg(long, default_value = "0.4.0.2023.1.1")]
    policy: ObjectIdentifier,
    /// Further policy OIDs a request may ask for.
    #[arg(long = "accept-policy")]
    accept_policies: Vec<ObjectIdentifier>,
    /// The accuracy stated in tokens, in milliseconds (at least 1000: genTime has whole seconds).
    #[arg(long, default_value_t = 1000)]
    accuracy_ms: u64,
    /// Directory for the serial-number state.
    #[arg(long, default_value = "var/tsa")]
    state_dir: PathBuf,
    /// Which clock to trust: "kernel" (only while the kernel reports it synchronised) or
    /// "unchecked" (development only).
    #[arg(long, default_value = "kernel")]
    clock: ClockKind,
    /// Tokio worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Log as JSON lines.
    #[arg(long)]
    log_json: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_json);
    let authority = Arc::new(
        TimeStampAuthority::from_settings(&TsaSettings {
            cert: args.cert,
            key: args.key,
            chain: args.chain,
            serial_state: args.state_dir.join("serial"),
            node: 0,
            clock: args.clock,
            policy: args.policy,
            accepted_policies: args.accept_policies,
            accuracy: Duration::from_millis(args.accuracy_ms),
        })
        .context("setting up the TSA")?,
    );
    // One worker: a current-thread runtime, without the work-stealing machinery.
    let mut runtime = if args.workers == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if args.workers > 1 {
        runtime.worker_threads(args.workers);
    }
    let runtime = runtime.enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        tracing::info!(address = %listener.local_addr()?, "sealpost-tsa listening");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        server::serve(listener, server::router(authority), shutdown).await?;
        Ok(())
    })
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
