//! Administration while the service runs on its embedded store: `sealpost admin` sends its
//! command over the administrative socket, the running service carries it out at once, and
//! the audit log names the operator. Whoever is not the service's user is turned away, and
//! anything but a command gets a refusal, never a change.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use sealpost_interop::{
    CITIZEN, expect_fault_code as code, export_entries, require_tool, run, text,
};

use super::{Letter, admin, as_sender, fixture, sealpost};

fn socket(data: &Path) -> PathBuf {
    data.join("admin").join("sealpost.sock")
}

/// The audit entries of the running service, through its socket.
fn audit_log(pki: &Path, data: &Path, name: &str) -> Vec<serde_json::Value> {
    let export = data.with_file_name(name);
    admin(
        pki,
        data,
        &["audit", "export", "--out", export.to_str().expect("path")],
    );
    export_entries(&export)
        .into_iter()
        .filter(|l| l.get("seq").is_some())
        .collect()
}

#[test]
fn the_running_service_is_administered_over_its_socket_and_each_change_names_the_operator() {
    let f = fixture();
    let b = f.pki.join("sender-b.pem");
    let b = b.to_str().expect("path");
    assert_eq!(
        as_sender(&f, "sender-b", &Letter::new("live-1", CITIZEN).body()).status,
        200
    );
    // The sender deactivated while the service runs: its next letter is refused at once.
    let set = admin(
        &f.pki,
        &f.data,
        &[
            "sender",
            "set",
            "--id",
            "agency-b",
            "--name",
            "Agency B",
            "--cert",
            b,
            "--types",
            "tax-assessment",
            "--inactive",
        ],
    );
    assert!(set.contains("\"active\":false"), "{set}");
    let r = as_sender(&f, "sender-b", &Letter::new("live-2", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    // The directory too: a deactivated mailbox receives nothing.
    admin(&f.pki, &f.data, &["mailbox", "deactivate", CITIZEN]);
    let r = as_sender(&f, "sender-a", &Letter::new("live-3", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-REQ-002", "{}", text(&r.body));
    // Reads and the audit log's seal, while it runs.
    let listed = admin(&f.pki, &f.data, &["mailbox", "list"]);
    assert!(
        listed.contains(&format!("\"id\":\"{CITIZEN}\"")) && listed.contains("\"active\":false"),
        "{listed}"
    );
    let sealed = admin(&f.pki, &f.data, &["audit", "seal"]);
    assert!(
        sealed.contains("sealed") || sealed.contains("nothing to seal"),
        "{sealed}"
    );

    // The audit log, exported while it runs: the changes name who made them and how.
    let log = audit_log(&f.pki, &f.data, "live-audit.jsonl");
    let by_socket: Vec<&serde_json::Value> = log
        .iter()
        .filter(|l| {
            l["identity"]
                .as_str()
                .is_some_and(|i| i.contains("over the administrative socket"))
        })
        .collect();
    let operations: Vec<&str> = by_socket
        .iter()
        .map(|l| l["operation"].as_str().expect("operation"))
        .collect();
    assert_eq!(operations, ["SenderSet", "MailboxSet"], "{log:?}");
    let identity = by_socket[0]["identity"].as_str().expect("identity");
    assert!(
        identity.starts_with("sealpost admin (uid ") && identity.contains(", pid "),
        "{identity}"
    );
    // The fixture's changes, made on the store before the service started, say so.
    assert!(
        log[0]["identity"]
            .as_str()
            .is_some_and(|i| i.contains("on the store")),
        "{:?}",
        log[0]
    );

    // Only the service's user reaches the socket.
    let dir = socket(&f.data).parent().expect("dir").to_owned();
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&socket(&f.data)), 0o600);
}

#[test]
fn another_user_cannot_administer_the_running_service() {
    require_tool("setpriv", &["--version"]);
    let f = fixture();
    // Run as root (CI): the attacker is `nobody`, who may run the binary but is not the
    // service's user. As anyone else, the same user would be the service's: nothing to show.
    let uid = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("uid");
    if uid != 0 {
        eprintln!("not root: another user cannot be played here");
        return;
    }
    let before = admin(&f.pki, &f.data, &["mailbox", "list"]);
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    let sealpost = sealpost(&f.pki, &f.data);
    cmd.arg(sealpost.get_program());
    for (k, v) in sealpost.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = run(cmd.args(["admin", "mailbox", "deactivate", CITIZEN]));
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("administrative socket") || stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert_eq!(admin(&f.pki, &f.data, &["mailbox", "list"]), before);
}

/// One frame of the socket's exchange: tag, length (big-endian), bytes.
fn frame(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend_from_slice(&u32::try_from(bytes.len()).expect("len").to_be_bytes());
    out.extend_from_slice(bytes);
    out
}

/// What the service answers to `bytes`: the tags and texts of its frames.
fn answer_to(path: &Path, bytes: &[u8]) -> Vec<(u8, String)> {
    let mut stream = UnixStream::connect(path).expect("connect");
    stream.write_all(bytes).expect("write");
    stream
        .shutdown(std::net::Shutdown::Write)
        .expect("shutdown");
    let mut all = Vec::new();
    stream.read_to_end(&mut all).expect("read");
    let mut frames = Vec::new();
    let mut rest = &all[..];
    while rest.len() >= 5 {
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        frames.push((rest[0], text(&rest[5..5 + len])));
        rest = &rest[5 + len..];
    }
    frames
}

#[test]
fn what_is_not_a_command_of_this_service_changes_nothing_and_is_told_so() {
    let f = fixture();
    let path = socket(&f.data);
    let before = admin(&f.pki, &f.data, &["mailbox", "list"]);
    let deactivate = serde_json::json!({
        "command": {"Mailbox": {"command": {"Deactivate": {"id": CITIZEN}}}}
    });
    let mut other_version = deactivate.clone();
    other_version["version"] = "0.0.0-other".into();
    let mut unknown = deactivate.clone();
    unknown["version"] = env!("CARGO_PKG_VERSION").into();
    unknown["command"] = serde_json::json!({"Mailbox": {"command": {"Erase": {}}}});
    for (what, bytes, says) in [
        (
            "not JSON",
            frame(b'C', b"mailbox deactivate"),
            "not a command",
        ),
        (
            "another version",
            frame(b'C', other_version.to_string().as_bytes()),
            "differ",
        ),
        (
            "an unknown command",
            frame(b'C', unknown.to_string().as_bytes()),
            "not a command",
        ),
        (
            "no command first",
            frame(b'P', deactivate.to_string().as_bytes()),
            "must be the command",
        ),
        (
            "a frame longer than allowed",
            [b'C', 0xff, 0xff, 0xff, 0xff].to_vec(),
            "reading the command",
        ),
    ] {
        let answer = answer_to(&path, &bytes);
        assert_eq!(answer.len(), 1, "{what}: {answer:?}");
        assert_eq!(answer[0].0, b'E', "{what}: {answer:?}");
        assert!(answer[0].1.contains(says), "{what}: {answer:?}");
    }
    assert_eq!(admin(&f.pki, &f.data, &["mailbox", "list"]), before);
    // The well-formed command is carried out.
    let mut good = deactivate;
    good["version"] = env!("CARGO_PKG_VERSION").into();
    let answer = answer_to(&path, &frame(b'C', good.to_string().as_bytes()));
    assert_eq!(answer.last().map(|a| a.0), Some(b'K'), "{answer:?}");
    assert_ne!(admin(&f.pki, &f.data, &["mailbox", "list"]), before);
}
