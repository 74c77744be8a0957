//! The harness for end-to-end and interop tests: finds (and if needed builds) the project's
//! binaries, starts them on free loopback ports, runs third-party tools. A missing tool is a
//! test failure that says how to install it (`make deps`), never a silent skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

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

/// A fresh directory under the target directory, removed first if it exists.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = workspace_root()
        .join("target")
        .join("interop-scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

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

/// A development PKI made by `sealpost pki init`.
pub fn dev_pki(name: &str) -> PathBuf {
    let dir = scratch_dir(name).join("pki");
    let out = run(Command::new(binary("sealpost"))
        .args(["pki", "init", "--dir"])
        .arg(&dir));
    assert!(
        out.status.success(),
        "pki init failed: {}",
        text(&out.stderr)
    );
    dir
}

/// `sealpost` with the settings of a development PKI in `pki` and a store in `data`: the
/// TLS, TSA and seal credentials, the dev root as sender trust anchor, any free port.
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
    cmd
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
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
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
        Server { child, addr }
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
    let mut request = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n").into_bytes();
    request.extend_from_slice(body);
    // The server may answer (413) and close before reading everything: ignore write errors.
    let _ = stream.write_all(&request);
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
    exchange(
        &mut rustls::StreamOwned::new(connection, tcp),
        addr,
        head,
        body,
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
