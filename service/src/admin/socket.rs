//! The administrative socket: `sealpost admin` while the service runs, on either store.
//!
//! A Unix socket in a directory only the service's user enters (0700), the socket itself
//! 0600, and each peer's user (the kernel's `SO_PEERCRED`) must be the service's or root: no
//! network, no password, no certificate to steal; whoever may run the service may
//! administer it, and the audit log names them by user id and process.
//!
//! The exchange: the client sends one frame, the command as JSON with its files' contents
//! (`{"version", "command"}`); the service answers with frames of lines, notes and payload,
//! then one that ends it (done, or failed with the reason). A frame is a tag byte, a length
//! (4 bytes, big-endian) and that many bytes.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use sealpost::app::App;
use sealpost::config::Config;
use serde::{Deserialize, Serialize};

use super::{Admin, AdminCommand, Output};

const COMMAND: u8 = b'C';
const LINE: u8 = b'O';
const NOTE: u8 = b'N';
const PAYLOAD: u8 = b'P';
const DONE: u8 = b'K';
const FAILED: u8 = b'E';
/// The largest frame either side reads: a command with its files (a directory import), a
/// payload chunk.
const MAX_FRAME: usize = 64 << 20;
/// Payload is sent in frames of about this size.
const PAYLOAD_CHUNK: usize = 256 << 10;
/// How long the service waits for a client's command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the service waits for a client to take a part of its answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// The command as it travels: this build's version (a client of another version is told so,
/// not misunderstood) and the command with its files.
#[derive(Deserialize)]
struct Request {
    version: String,
    command: AdminCommand,
}

/// [`Request`] as the client writes it.
#[derive(Serialize)]
struct RequestOut<'a> {
    version: &'a str,
    command: &'a AdminCommand,
}

fn write_frame(w: &mut impl Write, tag: u8, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| (n as usize) <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::other("a frame too large"))?;
    w.write_all(&[tag])?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(bytes)
}

/// The next frame; `None` at the end of the stream before one starts.
fn read_frame(r: &mut impl Read) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read(&mut head[..1])? {
        0 => return Ok(None),
        _ => r.read_exact(&mut head[1..])?,
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "a frame of {len} bytes (at most {MAX_FRAME})"
        )));
    }
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)?;
    Ok(Some((head[0], bytes)))
}

/// This process's user id (the owner of `/proc/self`).
pub fn own_uid() -> anyhow::Result<u32> {
    Ok(std::fs::metadata("/proc/self")
        .context("reading /proc/self")?
        .uid())
}

/// The running service's socket, when it answers there; `None` when no service listens (no
/// socket, or one left by a service that stopped).
pub fn connect(path: &Path) -> anyhow::Result<Option<UnixStream>> {
    match UnixStream::connect(path) {
        Ok(stream) => Ok(Some(stream)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| {
            format!(
                "the administrative socket {} (run as the service's user)",
                path.display()
            )
        }),
    }
}

/// Sends the command to the running service and hands its answer to `out`.
pub fn request(
    mut stream: UnixStream,
    command: &AdminCommand,
    out: &mut dyn Output,
) -> anyhow::Result<()> {
    let request = serde_json::to_vec(&RequestOut {
        version: env!("CARGO_PKG_VERSION"),
        command,
    })?;
    write_frame(&mut stream, COMMAND, &request).context("sending the command to the service")?;
    let mut stream = std::io::BufReader::new(stream);
    loop {
        let Some((tag, bytes)) = read_frame(&mut stream).context("reading the service's answer")?
        else {
            bail!("the service closed the administrative socket before it answered");
        };
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        match tag {
            LINE => out.line(&text())?,
            NOTE => out.note(&text())?,
            PAYLOAD => out.payload().write_all(&bytes)?,
            DONE => return Ok(()),
            FAILED => bail!("{}", text()),
            other => bail!("the service answered a frame of unknown kind {other}"),
        }
    }
}

/// Listens on `path`: its directory created for the service's user alone, a socket left by
/// a service that stopped replaced; refused when another service answers there.
pub fn bind(path: &Path) -> anyhow::Result<std::os::unix::net::UnixListener> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .context("admin.socket: a path in a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("admin.socket: making {} the service's alone", dir.display()))?;
    if connect(path)?.is_some() {
        bail!(
            "admin.socket {}: another service answers there",
            path.display()
        );
    }
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    let listener = std::os::unix::net::UnixListener::bind(path)
        .with_context(|| format!("admin.socket: listening on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Serves administrative commands until the process ends, each in a blocking task.
pub async fn serve(
    listener: std::os::unix::net::UnixListener,
    config: Arc<Config>,
    app: Arc<App>,
) -> anyhow::Result<()> {
    let listener = tokio::net::UnixListener::from_std(listener)?;
    let service_uid = own_uid()?;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "the administrative socket: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let peer = stream.peer_cred();
        let (config, app) = (Arc::clone(&config), Arc::clone(&app));
        tokio::task::spawn_blocking(move || {
            let result = stream
                .into_std()
                .and_then(|s| s.set_nonblocking(false).map(|()| s))
                .map_err(anyhow::Error::from)
                .and_then(|stream| {
                    let peer = peer?;
                    session(stream, &peer, service_uid, &config, &app)
                });
            if let Err(e) = result {
                tracing::warn!(error = %format!("{e:#}"), "an administrative session failed");
            }
        });
    }
}

/// One client: its user checked, its command read and carried out, the answer sent.
fn session(
    mut stream: UnixStream,
    peer: &tokio::net::unix::UCred,
    service_uid: u32,
    config: &Config,
    app: &App,
) -> anyhow::Result<()> {
    let uid = peer.uid();
    if uid != service_uid && uid != 0 {
        let refusal = format!("user {uid} may not administer this service");
        tracing::warn!(uid, "{refusal}");
        write_frame(&mut stream, FAILED, refusal.as_bytes())?;
        return Ok(());
    }
    stream.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    // A client that stops reading its answer does not hold the session for ever.
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    let command = match read_frame(&mut stream) {
        Ok(Some((COMMAND, bytes))) => serde_json::from_slice::<Request>(&bytes)
            .map_err(|e| format!("not a command of this service ({e})"))
            .and_then(|r| {
                if r.version == env!("CARGO_PKG_VERSION") {
                    Ok(r.command)
                } else {
                    Err(format!(
                        "sealpost admin {} and the service {} differ: use the service's",
                        r.version,
                        env!("CARGO_PKG_VERSION")
                    ))
                }
            }),
        Ok(Some(_)) => Err("the first frame must be the command".to_owned()),
        Ok(None) => return Ok(()),
        Err(e) => Err(format!("reading the command: {e}")),
    };
    let command = match command {
        Ok(command) => command,
        Err(refusal) => {
            write_frame(&mut stream, FAILED, refusal.as_bytes())?;
            return Ok(());
        }
    };
    let operator = format!(
        "sealpost admin (uid {uid}, pid {}, over the administrative socket)",
        peer.pid()
            .map_or_else(|| "unknown".into(), |p| p.to_string())
    );
    let mut answer = Frames {
        stream,
        pending: Vec::new(),
    };
    let done = Admin {
        config,
        store: &app.store,
        app: Some(app),
        operator: &operator,
    }
    .execute(command, &mut answer);
    answer.flush_payload()?;
    match done {
        Ok(()) => write_frame(&mut answer.stream, DONE, b"")?,
        Err(e) => write_frame(&mut answer.stream, FAILED, format!("{e:#}").as_bytes())?,
    }
    Ok(())
}

/// The answer going back over the socket, its payload in chunks.
struct Frames {
    stream: UnixStream,
    pending: Vec<u8>,
}

impl Frames {
    fn flush_payload(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            write_frame(&mut self.stream, PAYLOAD, &self.pending)?;
            self.pending.clear();
        }
        Ok(())
    }
}

impl Write for Frames {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= PAYLOAD_CHUNK {
            self.flush_payload()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.flush_payload()?;
        self.stream.flush()
    }
}

impl Output for Frames {
    fn line(&mut self, text: &str) -> std::io::Result<()> {
        self.flush_payload()?;
        write_frame(&mut self.stream, LINE, text.as_bytes())
    }

    fn note(&mut self, text: &str) -> std::io::Result<()> {
        self.flush_payload()?;
        write_frame(&mut self.stream, NOTE, text.as_bytes())
    }

    fn payload(&mut self) -> &mut dyn Write {
        self
    }
}
