//! The harness for end-to-end and interop tests: finds (and if needed builds) the project's
//! binaries, starts them on free loopback ports, runs third-party tools. A missing tool is a
//! test failure that says how to install it (`make deps`), never a silent skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

pub use sealpost_pki::interop_samples_dir as samples_dir;

/// The path of one of the workspace's binaries, built with the profile of this test binary.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target profile directory");
    let path = profile_dir.join(name);
    BUILT.get_or_init(|| {
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root()).args([
            "build",
            "--bins",
            "-p",
            "sealpost",
            "-p",
            "sealpost-tsa",
            "-p",
            "sealpost-evidence",
        ]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "cargo build of the binaries failed");
    });
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Now, as the processes these tests drive read it: the service, the TSA and the third-party
/// verifiers (OpenSSL, xmlsec1, the browser) check times and certificates against the system
/// clock, so a request or an evidence made at another time would be refused. The one reading
/// of the system clock in the interop tests.
#[allow(
    clippy::disallowed_methods,
    reason = "interop fixtures must share the clock of the real processes they drive"
)]
pub fn system_now() -> SystemTime {
    SystemTime::now()
}

/// A number no other call in this process has had: the integration tests are one binary,
/// so tests that share a process (under `cargo test`) must not share a directory or database
/// because they ask with the same name.
fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh directory under the target directory, its own at each call (`NAME-PID_N`: two
/// tests asking for the same name get two directories), removed first if it exists.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = workspace_root()
        .join("target")
        .join("interop-scratch")
        .join(format!("{name}-{}", unique()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The citizen's mailbox of the test services (a valid national register number).
pub const CITIZEN: &str = "nrn:85073003328";
/// The company's mailbox of the test services (a valid enterprise number).
pub const COMPANY: &str = "cbe:0203201340";
/// The TOTP secret (base32) of the test services' mailbox users.
pub const TOTP_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// The password a mailbox user is created with, to change at the first login.
pub const FIRST_PASSWORD: &str = "first password 123";
/// The password a mailbox user chooses at the first login.
pub const NEW_PASSWORD: &str = "a new password of mine";

/// Fails with installation advice when a third-party tool is missing.
pub fn require_tool(program: &str, probe: &[&str]) {
    let ok = Command::new(program)
        .args(probe)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{program} is required for this test: run `make deps`");
}

/// The Python interpreter of the interop virtualenv (`make deps` creates `tests/.venv`).
pub fn python() -> PathBuf {
    let venv = workspace_root().join("tests/.venv/bin/python3");
    assert!(
        venv.exists(),
        "{} is missing: run `make deps` to create the interop virtualenv",
        venv.display()
    );
    venv
}

/// Runs a command, failing the test with its output when it cannot be started.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A development PKI made by `sealpost pki init`, with the provider identity a court is given
/// (`trusted-list.xml`, by `sealpost pki trusted-list` for a service on this PKI).
pub fn dev_pki(name: &str) -> PathBuf {
    dev_pki_with(name, &[])
}

/// [`dev_pki`], with more arguments to `sealpost pki init` (`--revocation-url URL`).
pub fn dev_pki_with(name: &str, init_args: &[&str]) -> PathBuf {
    let dir = scratch_dir(name).join("pki");
    let out = run(Command::new(binary("sealpost"))
        .args(["pki", "init", "--dir"])
        .arg(&dir)
        .args(init_args));
    assert!(
        out.status.success(),
        "pki init failed: {}",
        text(&out.stderr)
    );
    // The CAs' CRLs: every test service seals B-LT with them (see `sealpost_command`).
    let out = run(Command::new(binary("sealpost"))
        .args(["pki", "crl", "--dir"])
        .arg(&dir));
    assert!(
        out.status.success(),
        "pki crl failed: {}",
        text(&out.stderr)
    );
    let out = run(sealpost_command(&dir, &dir.join("unused-store"))
        .args(["pki", "trusted-list", "--out"])
        .arg(trusted_list(&dir)));
    assert!(
        out.status.success(),
        "pki trusted-list failed: {}",
        text(&out.stderr)
    );
    dir
}

/// The provider's published identity for a development PKI made by [`dev_pki`].
pub fn trusted_list(pki: &Path) -> PathBuf {
    pki.join("trusted-list.xml")
}

/// `sealpost-verify EVIDENCE --trust ROOT --provider TRUSTED-LIST` for a [`dev_pki`]: what a
/// court runs.
pub fn court_verify_command(pki: &Path, evidence: &Path) -> Command {
    let mut cmd = Command::new(binary("sealpost-verify"));
    cmd.arg(evidence)
        .arg("--trust")
        .arg(pki.join("root-ca.pem"))
        .arg("--provider")
        .arg(trusted_list(pki));
    cmd
}

/// `sealpost` with the settings of a development PKI in `pki` and a store in `data`: the
/// TLS, TSA and seal credentials, the dev root as sender trust anchor, any free port, and
/// the CAs' CRLs ([`dev_crls`], when [`dev_pki`] issued them) as `revocation.crls`.
pub fn sealpost_command(pki: &Path, data: &Path) -> Command {
    let p = |f: &str| pki.join(f);
    let mut cmd = Command::new(binary("sealpost"));
    cmd.env("SEALPOST_LISTEN", "127.0.0.1:0")
        .env("SEALPOST_DATA_DIR", data)
        .env("SEALPOST_TLS_CERT", p("tls-chain.pem"))
        .env("SEALPOST_TLS_KEY", p("tls.key"))
        .env("SEALPOST_TSA_CERT", p("tsa.pem"))
        .env("SEALPOST_TSA_KEY", p("tsa.key"))
        .env("SEALPOST_TSA_CHAIN", p("issuing-ca.pem"))
        .env("SEALPOST_TSA_CLOCK", "unchecked")
        .env("SEALPOST_SEAL_CERT", p("seal-chain.pem"))
        .env("SEALPOST_SEAL_KEY", p("seal.key"))
        .env("SEALPOST_SENDERS_TRUST_ANCHORS", p("root-ca.pem"))
        .env("SEALPOST_SENDERS_INTERMEDIATES", p("issuing-ca.pem"))
        .env("SEALPOST_MAILBOX_TRUST_ANCHORS", p("root-ca.pem"))
        .env("SEALPOST_MAILBOX_INTERMEDIATES", p("issuing-ca.pem"));
    // The validation data of the evidences (B-LT): the CAs' CRLs, when the PKI has them.
    if p("issuing-ca.crl.pem").is_file() && p("root-ca.crl.pem").is_file() {
        cmd.env("SEALPOST_REVOCATION_CRLS", dev_crls(pki));
    }
    cmd
}

/// `revocation.crls` for a development PKI made by [`dev_pki`]: its two CAs' CRLs.
pub fn dev_crls(pki: &Path) -> String {
    format!(
        "{},{}",
        pki.join("issuing-ca.crl.pem").display(),
        pki.join("root-ca.crl.pem").display()
    )
}

/// Runs `sealpost admin ARGS` with `cmd`'s settings (see [`sealpost_command`]); fails the
/// test with its error output unless it succeeds; its standard output.
pub fn admin(mut cmd: Command, args: &[&str]) -> String {
    let out = run(cmd.arg("admin").args(args));
    assert!(
        out.status.success(),
        "admin {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A running server process, stopped when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `cmd`, which must log `... listening ... address=<ip:port>` on stderr.
    pub fn start(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().expect("log").push(line.clone());
                if !sent
                    && let Some(addr) = line
                        .split("address=")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next())
                        .and_then(|a| a.parse::<SocketAddr>().ok())
                {
                    let _ = tx.send(addr);
                    sent = true;
                }
                eprintln!("[server] {line}");
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("{cmd:?} did not report its listening address");
            }
        };
        Server { child, addr, log }
    }

    /// Waits for the process to end (at most a minute; `why` it should): its exit code
    /// (`None`: killed by a signal) and everything it wrote on stderr.
    pub fn wait_for_exit(&mut self, why: &str) -> (Option<i32>, Vec<String>) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not stop within a minute of {why}"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        // The rest of what it wrote.
        std::thread::sleep(Duration::from_millis(100));
        (status.code(), self.log.lock().expect("log").clone())
    }

    /// What it wrote on stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }

    /// The process id (to read its memory use, say).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on now (for a third-party server told its port).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `openssl ocsp` answering for the issuing CA of a dev PKI, from its `index.txt`, signing
/// as the PKI's delegated responder (`ocsp.pem`); stopped when dropped.
#[derive(Debug)]
pub struct OcspResponder {
    child: Option<Child>,
    pki: PathBuf,
    pub port: u16,
}

impl OcspResponder {
    pub fn start(pki: &Path, port: u16) -> OcspResponder {
        require_tool("openssl", &["version"]);
        let mut responder = OcspResponder {
            child: None,
            pki: pki.to_owned(),
            port,
        };
        responder.run();
        responder
    }

    fn run(&mut self) {
        let p = |f: &str| self.pki.join(f);
        let mut child = Command::new("openssl")
            .arg("ocsp")
            .arg("-index")
            .arg(p("index.txt"))
            .arg("-CA")
            .arg(p("issuing-ca.pem"))
            .arg("-rsigner")
            .arg(p("ocsp.pem"))
            .arg("-rkey")
            .arg(p("ocsp.key"))
            .args(["-port", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl ocsp");
        // It says `ACCEPT [::]:PORT` once it listens (a connection made to find out would
        // hold it: it answers one client at a time).
        let stdout = child.stdout.take().expect("stdout");
        self.child = Some(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("ACCEPT") {
                    let _ = tx.send(());
                }
            }
        });
        assert!(
            rx.recv_timeout(Duration::from_secs(20)).is_ok(),
            "openssl ocsp does not listen on port {}",
            self.port
        );
    }

    /// Stops the responder: nothing answers on its port.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Revokes the PKI's certificate `NAME.pem` in `index.txt` with `openssl ca -revoke`, and
    /// starts the responder afresh on the same port (it would answer once more from the index
    /// it had read).
    pub fn revoke(&mut self, name: &str) {
        let p = |f: &str| self.pki.join(f);
        let config = self.pki.with_file_name("openssl-ca.cnf");
        std::fs::write(
            &config,
            format!(
                "[ca]\ndefault_ca = dev\n[dev]\ndatabase = {}\ndefault_md = sha256\n",
                p("index.txt").display()
            ),
        )
        .expect("openssl ca config");
        let out = run(Command::new("openssl")
            .arg("ca")
            .arg("-config")
            .arg(&config)
            .arg("-cert")
            .arg(p("issuing-ca.pem"))
            .arg("-keyfile")
            .arg(p("issuing-ca.key"))
            .arg("-revoke")
            .arg(p(&format!("{name}.pem"))));
        assert!(
            out.status.success(),
            "openssl ca -revoke: {}",
            text(&out.stderr)
        );
        self.stop();
        self.run();
    }
}

impl Drop for OcspResponder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Issues the development CAs' CRLs of `pki` with `sealpost pki crl` (PEM `NAME.crl.pem` for
/// `revocation.crls`, DER `NAME.crl` for the distribution points), revoking `NAME.pem` for each
/// of `revoked` (a leaf, or `issuing-ca`), each in its issuer's list.
pub fn issue_dev_crls(pki: &Path, revoked: &[&str]) {
    let mut cmd = Command::new(binary("sealpost"));
    cmd.args(["pki", "crl", "--dir"]).arg(pki);
    for name in revoked {
        cmd.arg("--revoke").arg(pki.join(format!("{name}.pem")));
    }
    let out = run(&mut cmd);
    assert!(out.status.success(), "pki crl: {}", text(&out.stderr));
}

/// A static HTTP server (Python's `http.server`) on a loopback port, publishing the files of
/// its own directory: the CRL distribution points of a development PKI made with
/// `--revocation-url http://127.0.0.1:PORT` (`/issuing-ca.crl`, `/root-ca.crl`); stopped when
/// dropped.
#[derive(Debug)]
pub struct CrlPublisher {
    child: Child,
    pub dir: PathBuf,
    pub port: u16,
}

impl CrlPublisher {
    pub fn start(dir: &Path, port: u16) -> CrlPublisher {
        std::fs::create_dir_all(dir).expect("published dir");
        let child = Command::new(python())
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .arg("--directory")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python -m http.server");
        let publisher = CrlPublisher {
            child,
            dir: dir.to_owned(),
            port,
        };
        // A threading server: a connection made to find out does not hold it.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "http.server does not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        publisher
    }

    /// Publishes the DER CRLs `sealpost pki crl` wrote into `pki` (each written afresh, then
    /// moved in place: never half a file served).
    pub fn publish(&self, pki: &Path) {
        for name in ["issuing-ca.crl", "root-ca.crl"] {
            let tmp = self.dir.join(format!("{name}.tmp"));
            std::fs::copy(pki.join(name), &tmp).expect("copy the CRL");
            std::fs::rename(&tmp, self.dir.join(name)).expect("publish the CRL");
        }
    }
}

impl Drop for CrlPublisher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `sealpost-tsa serve` with the TSA credentials of a dev PKI.
pub fn start_tsa(pki: &Path, extra: &[&str]) -> Server {
    let mut cmd = Command::new(binary("sealpost-tsa"));
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--clock",
        "unchecked",
        "--workers",
        "1",
    ])
    .arg("--cert")
    .arg(pki.join("tsa.pem"))
    .arg("--key")
    .arg(pki.join("tsa.key"))
    .arg("--chain")
    .arg(pki.join("issuing-ca.pem"))
    .arg("--state-dir")
    .arg(pki.with_file_name("tsa-state"))
    .args(extra);
    Server::start(cmd)
}

/// A raw HTTP/1.1 exchange (Connection: close): status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `head` (request line and headers, without the final blank line) and `body` as is.
pub fn http_raw(addr: SocketAddr, head: &str, body: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    exchange(&mut stream, addr, head, body)
}

/// Writes the request (head, Host, Connection: close, body) and reads the whole answer.
fn exchange(
    stream: &mut (impl Read + Write),
    addr: SocketAddr,
    head: &str,
    body: &[u8],
) -> HttpResponse {
    exchange_in_halves(stream, addr, head, body, || {})
}

/// [`exchange`], calling `between` once half the body is sent.
fn exchange_in_halves(
    stream: &mut (impl Read + Write),
    addr: SocketAddr,
    head: &str,
    body: &[u8],
    between: impl FnOnce(),
) -> HttpResponse {
    let mut request = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n").into_bytes();
    let half = body.len() / 2;
    request.extend_from_slice(&body[..half]);
    // The server may answer (413) and close before reading everything: ignore write errors.
    let _ = stream.write_all(&request).and_then(|()| stream.flush());
    between();
    let _ = stream.write_all(&body[half..]);
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> HttpResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {:?}", text(raw)));
    let head_text = text(&raw[..split]);
    let mut lines = head_text.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if head_text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(text(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = data.get(start + size + 2..).unwrap_or_default();
    }
    out
}

/// One HTTPS/1.1 exchange (Connection: close), the server authenticated by `root_pem`.
pub fn https_raw(addr: SocketAddr, root_pem: &Path, head: &str, body: &[u8]) -> HttpResponse {
    https_raw_as(addr, root_pem, None, head, body)
}

/// [`https_raw`], presenting a client certificate chain and key (PEM files) when given.
pub fn https_raw_as(
    addr: SocketAddr,
    root_pem: &Path,
    identity: Option<(&Path, &Path)>,
    head: &str,
    body: &[u8],
) -> HttpResponse {
    https_raw_in_halves(addr, root_pem, identity, head, body, || {})
}

/// [`https_raw_as`], calling `between` once half the body is sent (a request in flight).
pub fn https_raw_in_halves(
    addr: SocketAddr,
    root_pem: &Path,
    identity: Option<(&Path, &Path)>,
    head: &str,
    body: &[u8],
    between: impl FnOnce(),
) -> HttpResponse {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(root_pem).expect("root") {
        roots
            .add(cert.expect("root certificate"))
            .expect("add root");
    }
    let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_root_certificates(roots);
    let config = std::sync::Arc::new(match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(
                rustls_pki_types::CertificateDer::pem_file_iter(chain)
                    .expect("chain")
                    .collect::<Result<Vec<_>, _>>()
                    .expect("chain"),
                rustls_pki_types::PrivateKeyDer::from_pem_file(key).expect("key"),
            )
            .expect("client identity"),
        None => builder.with_no_client_auth(),
    });
    let name = rustls_pki_types::ServerName::IpAddress(addr.ip().into());
    let connection = rustls::ClientConnection::new(config, name).expect("TLS client");
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    exchange_in_halves(
        &mut rustls::StreamOwned::new(connection, tcp),
        addr,
        head,
        body,
        between,
    )
}

/// POSTs a time-stamp query.
pub fn post_query(addr: SocketAddr, body: &[u8]) -> HttpResponse {
    http_raw(
        addr,
        &format!(
            "POST /tsa HTTP/1.1\r\nContent-Type: application/timestamp-query\r\nContent-Length: {}",
            body.len()
        ),
        body,
    )
}

/// The WS-Security signer of the development PKI's `name` (`sender-a`, `sender-b`): its
/// PKCS#8 key and certificate.
pub fn dev_signer(pki: &Path, name: &str) -> sealpost_xmldsig::document::DocumentSigner {
    use rustls_pki_types::pem::PemObject;
    let rustls_pki_types::PrivateKeyDer::Pkcs8(key) =
        rustls_pki_types::PrivateKeyDer::from_pem_file(pki.join(format!("{name}.key")))
            .expect("key")
    else {
        panic!("{name}.key is not PKCS#8")
    };
    let cert = rustls_pki_types::CertificateDer::from_pem_file(pki.join(format!("{name}.pem")))
        .expect("certificate");
    sealpost_xmldsig::document::DocumentSigner::new(key.secret_pkcs8_der(), vec![cert.to_vec()])
        .expect("signer")
}

/// Lower-case hex SHA-256, as senders declare it.
pub fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A keep-alive HTTPS/1.1 client for load generators: one connection per thread, requests
/// written as given, answers read by Content-Length.
#[derive(Debug)]
pub struct KeepAlive {
    pub addr: SocketAddr,
    config: std::sync::Arc<rustls::ClientConfig>,
}

/// A connection of [`KeepAlive`].
pub type KeepAliveConnection = BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>;

impl KeepAlive {
    /// Trusting only the certificates of `root` (PEM).
    pub fn new(addr: SocketAddr, root: &Path) -> KeepAlive {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(root).expect("root") {
            roots.add(cert.expect("root")).expect("root");
        }
        let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocols")
        .with_root_certificates(roots)
        .with_no_client_auth();
        KeepAlive {
            addr,
            config: std::sync::Arc::new(config),
        }
    }

    pub fn connect(&self) -> KeepAliveConnection {
        let tcp = TcpStream::connect(self.addr).expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let name = rustls_pki_types::ServerName::IpAddress(self.addr.ip().into());
        let tls =
            rustls::ClientConnection::new(std::sync::Arc::clone(&self.config), name).expect("TLS");
        BufReader::new(rustls::StreamOwned::new(tls, tcp))
    }

    /// One request (`head` with its final blank line, then `body`); the answer.
    pub fn exchange(
        &self,
        conn: &mut KeepAliveConnection,
        head: &[u8],
        body: &[u8],
    ) -> HttpResponse {
        let stream = conn.get_mut();
        stream.write_all(head).expect("write");
        stream.write_all(body).expect("write");
        stream.flush().expect("flush");
        let mut line = String::new();
        conn.read_line(&mut line).expect("status line");
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status");
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            line.clear();
            conn.read_line(&mut line).expect("header");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
                if name == "content-length" {
                    length = value.parse().expect("length");
                }
                headers.push((name, value));
            }
        }
        let mut body = vec![0u8; length];
        conn.read_exact(&mut body).expect("body");
        HttpResponse {
            status,
            headers,
            body,
        }
    }
}

/// The SOAP 1.1 envelope namespace.
pub const NS_SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace.
pub const NS_SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";

/// `body` in a SOAP envelope of namespace `ns`, signed with WS-Security by `who` as created
/// at `created` (expiring five minutes later). The envelope is sent as written: the
/// signature covers the XML the test wrote, comments and all.
pub fn signed_soap(
    ns: &str,
    body: &str,
    who: &sealpost_xmldsig::document::DocumentSigner,
    created: SystemTime,
) -> String {
    let envelope = format!(
        "<env:Envelope xmlns:env=\"{ns}\"><env:Header/><env:Body>{body}</env:Body></env:Envelope>"
    );
    sealpost_xmldsig::wss_sign::sign_envelope(&envelope, who, created, Duration::from_secs(300))
        .expect("sign")
}

/// POSTs a SOAP envelope to `/soap` over HTTPS (the server authenticated by `root_pem`), with
/// the Content-Type of its SOAP version.
pub fn post_soap(addr: SocketAddr, root_pem: &Path, envelope: &str) -> HttpResponse {
    let content_type = if envelope.contains(NS_SOAP12) {
        "application/soap+xml; charset=utf-8"
    } else {
        "text/xml; charset=utf-8"
    };
    https_raw(
        addr,
        root_pem,
        &format!(
            "POST /soap HTTP/1.1\r\nContent-Type: {content_type}\r\nContent-Length: {}",
            envelope.len()
        ),
        envelope.as_bytes(),
    )
}

/// Registers the development sender `sender` (`sender-a`: its certificate `sender-a.pem` in
/// `pki`) as the organisation `agency-a` named `name`, for `tax-assessment`, with `cmd` (a
/// `sealpost` command for the store).
pub fn register_dev_sender(cmd: Command, pki: &Path, sender: &str, name: &str) {
    let id = sender.replace("sender-", "agency-");
    let cert = pki.join(format!("{sender}.pem"));
    admin(
        cmd,
        &[
            "sender",
            "set",
            "--id",
            &id,
            "--name",
            name,
            "--cert",
            cert.to_str().expect("path"),
            "--types",
            "tax-assessment",
        ],
    );
}

/// A running `sealpost serve` with a fresh development PKI and store, one sender (`agency-a`,
/// certificate `sender-a`, message type `tax-assessment`) and one mailbox; stopped when
/// dropped (or when `server` is, before administering the store).
#[derive(Debug)]
pub struct SoapService {
    pub pki: PathBuf,
    pub data: PathBuf,
    pub server: Server,
}

impl SoapService {
    pub fn start(name: &str, mailbox: &str) -> SoapService {
        Self::start_with(name, mailbox, &["sender-a"], &[])
    }

    /// [`SoapService::start`] with the development senders named registered (`sender-a` as
    /// `agency-a`, `sender-b` as `agency-b`, each for `tax-assessment`), and `settings` for
    /// every command it runs (the PostgreSQL store, the time-stamp endpoint…).
    pub fn start_with(
        name: &str,
        mailbox: &str,
        senders: &[&str],
        settings: &[Setting<'_>],
    ) -> SoapService {
        let pki = dev_pki(name);
        let data = pki.with_file_name("var");
        for sender in senders {
            let id = sender.replace("sender-", "agency-");
            let name = format!("Agency {}", id.trim_start_matches("agency-").to_uppercase());
            register_dev_sender(sealpost_with(&pki, &data, settings), &pki, sender, &name);
        }
        admin(
            sealpost_with(&pki, &data, settings),
            &["mailbox", "add", mailbox, "--name", "Jan Peeters"],
        );
        let mut serve = sealpost_with(&pki, &data, settings);
        serve.arg("serve");
        SoapService {
            server: Server::start(serve),
            pki,
            data,
        }
    }

    /// Stops the service and starts it again on the same store, with `settings`.
    pub fn restart(self, settings: &[Setting<'_>]) -> SoapService {
        let SoapService { pki, data, server } = self;
        drop(server);
        let mut serve = sealpost_with(&pki, &data, settings);
        serve.arg("serve");
        SoapService {
            server: Server::start(serve),
            pki,
            data,
        }
    }

    /// `body` signed now by the development sender `sender`, over SOAP 1.1; the answer.
    pub fn send(&self, sender: &str, body: &str) -> HttpResponse {
        let envelope = signed_soap(
            NS_SOAP11,
            body,
            &dev_signer(&self.pki, sender),
            system_now(),
        );
        self.post(&envelope)
    }

    /// Posts an envelope as it is.
    pub fn post(&self, envelope: &str) -> HttpResponse {
        post_soap(self.server.addr, &self.pki.join("root-ca.pem"), envelope)
    }
}

/// `sealpost-verify`'s exit code and report on `evidence` (with `document`, when given) as a
/// court runs it for the development PKI `pki`; the files are written under `dir`.
pub fn court_verifies(
    pki: &Path,
    dir: &Path,
    evidence: &str,
    document: Option<&[u8]>,
) -> (i32, String) {
    std::fs::create_dir_all(dir).expect("dir");
    let n = unique();
    let path = dir.join(format!("evidence-{n}.xml"));
    std::fs::write(&path, evidence).expect("write");
    let mut cmd = court_verify_command(pki, &path);
    if let Some(doc) = document {
        let doc_path = dir.join(format!("document-{n}"));
        std::fs::write(&doc_path, doc).expect("write");
        cmd.arg("--document").arg(doc_path);
    }
    let out = run(&mut cmd);
    (out.status.code().unwrap_or(-1), text(&out.stdout))
}

/// The TLS client identity of the development PKI's sender `sender`: its certificate chain
/// and key (PEM files).
pub fn dev_tls_identity(pki: &Path, sender: &str) -> (PathBuf, PathBuf) {
    (
        pki.join(format!("{sender}-chain.pem")),
        pki.join(format!("{sender}.key")),
    )
}

/// The DER of the first certificate of a PEM file.
pub fn cert_der(path: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_file(path)
        .expect("certificate")
        .to_vec()
}

/// A `SEALPOST_*` setting (name, value) for every command of a test service.
pub type Setting<'a> = (&'a str, &'a str);

/// [`sealpost_command`] with `settings` on top.
pub fn sealpost_with(pki: &Path, data: &Path, settings: &[Setting<'_>]) -> Command {
    let mut cmd = sealpost_command(pki, data);
    cmd.envs(settings.iter().copied());
    cmd
}

/// A `SubmitRegisteredMail` body: one document, `avis.pdf`, with its declared SHA-256.
pub fn submission_body(key: &str, recipient: &str, document: &[u8]) -> String {
    format!(
        "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>{key}</sp:IdempotencyKey><sp:Recipient>{recipient}</sp:Recipient><sp:MessageType>tax-assessment</sp:MessageType><sp:Subject>Avis d'imposition 2026</sp:Subject><sp:SenderReference>REF-{key}</sp:SenderReference><sp:Document><sp:Id>d1</sp:Id><sp:Name>avis.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document></sp:SubmitRegisteredMail>",
        sha256_hex(document),
        sealpost_xmldsig::dsig::base64_encode(document)
    )
}

/// The text of the first element of `xml` with this local name.
pub fn xml_text(xml: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    doc.descendants()
        .find(|n| n.tag_name().name() == name)
        .and_then(|n| n.text().map(str::to_owned))
}

/// The stable code of a SOAP fault (`sealpost:Fault/Code`, whatever the SOAP version).
pub fn fault_code(response: &HttpResponse) -> Option<String> {
    let body = text(&response.body);
    let doc = roxmltree::Document::parse(&body).ok()?;
    doc.descendants()
        .find(|n| {
            n.tag_name().namespace() == Some("urn:sealpost:v1") && n.tag_name().name() == "Code"
        })
        .and_then(|n| n.text().map(str::to_owned))
}

/// [`fault_code`], failing the test when the answer is no Sealpost fault.
pub fn expect_fault_code(response: &HttpResponse) -> String {
    fault_code(response).unwrap_or_else(|| panic!("no fault: {}", text(&response.body)))
}

/// The order n of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `envelope` with its ECDSA P-256 SignatureValue (XML-DSig's r || s) rewritten as
/// r || (n - s): another valid signature over the same SignedInfo, other bytes.
pub fn with_high_s(envelope: &str) -> String {
    let start = envelope
        .find("<ds:SignatureValue>")
        .expect("SignatureValue")
        + 19;
    let end = start + envelope[start..].find('<').expect("its end");
    let value = sealpost_xmldsig::dsig::base64_decode(&envelope[start..end]).expect("base64");
    assert_eq!(
        value.len(),
        64,
        "an ECDSA P-256 value is r || s, 32 bytes each"
    );
    let (r, s) = value.split_at(32);
    let mut flipped = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        flipped[i] = u8::try_from(d.rem_euclid(256)).expect("a byte");
    }
    let mut rewritten = r.to_vec();
    rewritten.extend_from_slice(&flipped);
    assert_ne!(rewritten, value);
    format!(
        "{}{}{}",
        &envelope[..start],
        sealpost_xmldsig::dsig::base64_encode(&rewritten),
        &envelope[end..]
    )
}

/// The entry lines of an audit export (`sealpost-audit-export-1`): what lies between its
/// header and its seals and trailer, which it checks are there.
pub fn export_entries(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        lines.first().map(|h| h["format"].clone()),
        Some("sealpost-audit-export-1".into()),
        "{text}"
    );
    assert!(
        lines.last().is_some_and(|t| t.get("end").is_some()),
        "{text}"
    );
    lines[1..lines.len() - 1]
        .iter()
        .filter(|l| l.get("seal").is_none())
        .cloned()
        .collect()
}

/// The audit log, one JSON value per entry, as `sealpost admin audit export` writes it (with
/// the embedded store, stop the service first).
pub fn audit_log(pki: &Path, data: &Path, settings: &[Setting<'_>]) -> Vec<serde_json::Value> {
    let out = data.with_file_name(format!(
        "audit-{}.jsonl",
        system_now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    admin(
        sealpost_with(pki, data, settings),
        &[
            "audit",
            "export",
            "--from",
            "2000-01-01T00:00:00Z",
            "--out",
            out.to_str().expect("path"),
        ],
    );
    export_entries(&out)
}

/// The distinct messages an audit log records as accepted submissions: the letters made.
pub fn letters(audit: &[serde_json::Value]) -> std::collections::BTreeSet<String> {
    audit
        .iter()
        .filter(|e| e["operation"] == "SubmitRegisteredMail" && e["outcome"] == "accepted")
        .filter_map(|e| e["message_id"].as_str().map(str::to_owned))
        .collect()
}

/// Runs the grpcio client (`tests/interop/grpc/grpcio_client.py`) against `addr`, presenting
/// `credentials` (certificate chain, key) when given; its exit code and JSON line.
pub fn grpc_client(
    addr: SocketAddr,
    root_pem: &Path,
    credentials: Option<(&Path, &Path)>,
    args: &[&str],
) -> (i32, serde_json::Value) {
    let mut cmd = Command::new(python());
    cmd.arg(workspace_root().join("tests/interop/grpc/grpcio_client.py"))
        .arg("--target")
        .arg(addr.to_string())
        .arg("--ca")
        .arg(root_pem);
    if let Some((cert, key)) = credentials {
        cmd.arg("--cert").arg(cert).arg("--key").arg(key);
    }
    let out = run(cmd.args(args));
    let line = text(&out.stdout);
    let json = serde_json::from_str(line.trim())
        .unwrap_or_else(|_| panic!("grpcio: no JSON ({line}); stderr: {}", text(&out.stderr)));
    (out.status.code().unwrap_or(-1), json)
}

/// A fresh PostgreSQL database, its own at each call, on the server of `TEST_POSTGRES_URL` (default: the local one,
/// user postgres); its connection string. Drop it with [`drop_postgres_database`].
pub fn postgres_database(name: &str) -> String {
    require_tool("psql", &["--version"]);
    let server = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "host=127.0.0.1 user=postgres".into());
    let database = format!("sealpost_{name}_{}", unique());
    let psql = |sql: &str| {
        let out = run(Command::new("psql")
            .arg(format!("{server} dbname=postgres"))
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql]));
        assert!(out.status.success(), "psql {sql}: {}", text(&out.stderr));
    };
    psql(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
    psql(&format!("CREATE DATABASE {database}"));
    format!("{server} dbname={database}")
}

pub fn drop_postgres_database(url: &str) {
    let (server, database) = url.rsplit_once(" dbname=").expect("url");
    let _ = run(Command::new("psql")
        .arg(format!("{server} dbname=postgres"))
        .args([
            "-c",
            &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
        ]));
}

/// Unique letters for the benches: each has its own idempotency key and document, to one
/// recipient, of message type `tax-assessment`, signed as a SOAP 1.1 envelope.
#[derive(Debug)]
pub struct BenchLetters {
    recipient: String,
    next: std::sync::atomic::AtomicUsize,
}

impl BenchLetters {
    pub fn new(recipient: &str) -> BenchLetters {
        BenchLetters {
            recipient: recipient.to_owned(),
            next: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A letter with a document of `document_bytes`, signed now by `signer`.
    pub fn envelope(
        &self,
        signer: &sealpost_xmldsig::document::DocumentSigner,
        document_bytes: usize,
    ) -> Vec<u8> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut document = format!("%PDF-1.7 bench letter {n}\n").into_bytes();
        document.resize(document_bytes, b'x');
        let sha256 = sha256_hex(&document);
        let body = format!(
            "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>bench-{n}</sp:IdempotencyKey><sp:Recipient>{}</sp:Recipient><sp:MessageType>tax-assessment</sp:MessageType><sp:Subject>Avis d'imposition</sp:Subject><sp:SenderReference>BENCH-{n}</sp:SenderReference><sp:Document><sp:Id>d1</sp:Id><sp:Name>avis.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{sha256}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document></sp:SubmitRegisteredMail>",
            self.recipient,
            sealpost_xmldsig::dsig::base64_encode(&document)
        );
        let envelope = format!(
            "<env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\"><env:Header/><env:Body>{body}</env:Body></env:Envelope>"
        );
        let limits = sealpost_xmldsig::Limits {
            max_bytes: envelope.len() + 4096,
            ..sealpost_xmldsig::Limits::default()
        };
        sealpost_xmldsig::wss_sign::sign_envelope_with_limits(
            &envelope,
            signer,
            system_now(),
            Duration::from_secs(300),
            &limits,
        )
        .expect("sign")
        .into_bytes()
    }

    pub fn presign(
        &self,
        signer: &sealpost_xmldsig::document::DocumentSigner,
        document_bytes: usize,
        count: usize,
    ) -> Vec<Vec<u8>> {
        (0..count)
            .map(|_| self.envelope(signer, document_bytes))
            .collect()
    }
}

/// The value of the metric `name` (a line `name value`, without labels) the service at `addr`
/// publishes on `/metrics`, its certificate trusted by `root_pem`.
pub fn metric(addr: SocketAddr, root_pem: &Path, name: &str) -> Option<f64> {
    let metrics = https_raw(addr, root_pem, "GET /metrics HTTP/1.1", b"");
    let prefix = format!("{name} ");
    text(&metrics.body)
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
}
