//! `sealpost-tsa`: a standalone RFC 3161 time-stamp authority.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use der::asn1::ObjectIdentifier;
use sealpost_tsa::authority::TimeStampAuthority;
use sealpost_tsa::clock::{ClockGuard, ClockSource, KernelClock, UncheckedSystemClock};
use sealpost_tsa::serial::DurableSerials;
use sealpost_tsa::{EcdsaP256Signer, IssuePolicy, server};

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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ClockChoice {
    /// The system clock, trusted only while the kernel reports it synchronised (adjtimex).
    Kernel,
    /// The system clock without the synchronisation check (development only).
    Unchecked,
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
    /// Which clock to trust.
    #[arg(long, value_enum, default_value = "kernel")]
    clock: ClockChoice,
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
    if args.accuracy_ms < 1000 {
        bail!("--accuracy-ms must be at least 1000: genTime is given in whole seconds");
    }
    let accuracy = Duration::from_millis(args.accuracy_ms);
    let signer = EcdsaP256Signer::from_pem_files(&args.cert, &args.key, args.chain.as_deref())
        .context("loading the TSA credentials")?;
    let serials = DurableSerials::open(&args.state_dir.join("serial"), SystemTime::now())
        .context("opening the serial-number state")?;
    let clock: Box<dyn ClockSource> = match args.clock {
        ClockChoice::Kernel => Box::new(KernelClock),
        ClockChoice::Unchecked => {
            tracing::warn!(
                "clock synchronisation is NOT checked (--clock unchecked): development only"
            );
            Box::new(UncheckedSystemClock)
        }
    };
    let guard = ClockGuard::new(clock, accuracy, serials.previous_start());
    let policy = IssuePolicy {
        default_policy: args.policy,
        accepted_policies: args.accept_policies,
        accuracy,
        include_tsa_name: true,
    };
    let authority = Arc::new(TimeStampAuthority::new(
        Arc::new(signer),
        policy,
        Box::new(serials),
        guard,
    ));
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if args.workers > 0 {
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
