//! Revocation: CRLs issued by `openssl ca` over the development PKI, read by the running
//! service and read again as the CA publishes new ones. A sender whose certificate is revoked
//! is refused as an untrusted or revoked signer; `openssl verify -crl_check` agrees.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sealpost_interop::{CITIZEN, Server, require_tool, run, text};

use super::{Fixture, Letter, as_sender, code, fixture, sealpost};

/// A minimal `openssl ca` of one of the development CAs: its database, and the CRLs it
/// issues.
struct OpensslCa {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl OpensslCa {
    fn new(pki: &Path, name: &str) -> OpensslCa {
        let dir = pki.with_file_name(format!("ca-{name}"));
        std::fs::create_dir_all(&dir).expect("ca dir");
        std::fs::write(dir.join("index.txt"), "").expect("index");
        std::fs::write(dir.join("crlnumber"), "01\n").expect("crlnumber");
        std::fs::write(
            dir.join("openssl.cnf"),
            format!(
                "[ca]\ndefault_ca = dev\n[dev]\ndatabase = {0}/index.txt\ncrlnumber = {0}/crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n",
                dir.display()
            ),
        )
        .expect("config");
        OpensslCa {
            cert: pki.join(format!("{name}.pem")),
            key: pki.join(format!("{name}.key")),
            dir,
        }
    }

    fn openssl(&self, args: &[&str]) {
        let out = run(Command::new("openssl")
            .arg("ca")
            .args([
                "-config",
                &self.dir.join("openssl.cnf").display().to_string(),
            ])
            .args(["-cert", &self.cert.display().to_string()])
            .args(["-keyfile", &self.key.display().to_string()])
            .args(args));
        assert!(
            out.status.success(),
            "openssl ca {args:?}: {}",
            text(&out.stderr)
        );
    }

    fn revoke(&self, cert: &Path) {
        self.openssl(&["-revoke", &cert.display().to_string()]);
    }

    /// Issues the CRL to `out` (written afresh, then moved in place: the service never reads
    /// half a file).
    fn crl(&self, out: &Path) {
        let tmp = out.with_extension("tmp");
        self.openssl(&["-gencrl", "-out", &tmp.display().to_string()]);
        std::fs::rename(&tmp, out).expect("rename");
    }
}

/// The service on the fixture's PKI and store, checking these CRLs, read again every second.
fn serving_with_crls(pki: &Path, data: PathBuf, crls: &[&Path]) -> Fixture {
    let list: Vec<String> = crls.iter().map(|c| c.display().to_string()).collect();
    let mut serve = sealpost(pki, &data);
    serve
        .env("SEALPOST_REVOCATION_CRLS", list.join(","))
        .env("SEALPOST_REVOCATION_REFRESH_S", "1")
        .arg("serve");
    Fixture {
        server: Server::start(serve),
        pki: pki.to_owned(),
        data,
    }
}

#[test]
fn a_sender_whose_certificate_is_revoked_is_refused_as_soon_as_the_ca_publishes_it() {
    require_tool("openssl", &["version"]);
    let f = fixture();
    let Fixture { pki, data, server } = f;
    drop(server);
    let issuing = OpensslCa::new(&pki, "issuing-ca");
    let root = OpensslCa::new(&pki, "root-ca");
    let (issuing_crl, root_crl) = (pki.join("issuing-ca.crl.pem"), pki.join("root-ca.crl.pem"));
    issuing.crl(&issuing_crl);
    root.crl(&root_crl);
    let f = serving_with_crls(&pki, data, &[&issuing_crl, &root_crl]);
    let r = as_sender(&f, "sender-a", &Letter::new("crl-1", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));

    // What the holder of a stolen key wanted: keep sending after the revocation.
    issuing.revoke(&pki.join("sender-a.pem"));
    issuing.crl(&issuing_crl);
    let verify = run(Command::new("openssl").args([
        "verify",
        "-crl_check",
        "-CAfile",
        &pki.join("ca-chain.pem").display().to_string(),
        "-CRLfile",
        &issuing_crl.display().to_string(),
        &pki.join("sender-a.pem").display().to_string(),
    ]));
    assert!(
        text(&verify.stdout).contains("revoked") || text(&verify.stderr).contains("revoked"),
        "openssl sees it revoked: {}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
    // Read again within the refresh interval.
    std::thread::sleep(Duration::from_millis(2500));
    let r = as_sender(&f, "sender-a", &Letter::new("crl-2", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    // Others still send.
    let r = as_sender(&f, "sender-b", &Letter::new("crl-3", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
}

#[test]
fn without_current_revocation_lists_no_sender_is_trusted() {
    require_tool("openssl", &["version"]);
    let f = fixture();
    let Fixture { pki, data, server } = f;
    drop(server);
    // Only the issuing CA's CRL: the issuing CA's own status (the root's CRL) is unknown.
    let issuing = OpensslCa::new(&pki, "issuing-ca");
    let issuing_crl = pki.join("issuing-ca.crl.pem");
    issuing.crl(&issuing_crl);
    // Evidences sealed B-LT would need that status too: the service does not start, and
    // says which certificate's status is missing and how to give it.
    let out = run(sealpost(&pki, &data)
        .env(
            "SEALPOST_REVOCATION_CRLS",
            issuing_crl.display().to_string(),
        )
        .arg("serve"));
    let err = text(&out.stderr);
    assert!(!out.status.success(), "started without the root's CRL");
    assert!(
        err.contains("evidence.long_term") && err.contains("revocation.crls"),
        "{err}"
    );
    // Sealing B-T, it starts, and trusts no sender.
    let mut serve = sealpost(&pki, &data);
    serve
        .env(
            "SEALPOST_REVOCATION_CRLS",
            issuing_crl.display().to_string(),
        )
        .env("SEALPOST_EVIDENCE_LONG_TERM", "false")
        .arg("serve");
    let f = Fixture {
        server: Server::start(serve),
        pki: pki.clone(),
        data,
    };
    let r = as_sender(&f, "sender-a", &Letter::new("crl-4", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    // And a CRL file that is not one stops the start.
    std::fs::write(
        &issuing_crl,
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .expect("write");
    drop(f);
    let out = run(sealpost(&pki, &pki.with_file_name("var"))
        .env(
            "SEALPOST_REVOCATION_CRLS",
            issuing_crl.display().to_string(),
        )
        .arg("serve"));
    assert!(!out.status.success(), "started with a broken CRL");
}

#[test]
fn a_developer_revokes_a_development_certificate_with_sealpost_pki_crl_and_watches_it_refused() {
    let Fixture { pki, data, server } = fixture();
    drop(server);
    let crl = |revoked: &[&str]| {
        let mut cmd = Command::new(sealpost_interop::binary("sealpost"));
        cmd.args(["pki", "crl", "--dir", &pki.display().to_string()]);
        for r in revoked {
            cmd.args([
                "--revoke",
                &pki.join(format!("{r}.pem")).display().to_string(),
            ]);
        }
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    crl(&[]);
    let (issuing_crl, root_crl) = (pki.join("issuing-ca.crl.pem"), pki.join("root-ca.crl.pem"));
    let f = serving_with_crls(&pki, data, &[&issuing_crl, &root_crl]);
    let r = as_sender(&f, "sender-b", &Letter::new("dev-crl-1", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    crl(&["sender-b"]);
    // openssl reads the list the same way.
    let verify = run(Command::new("openssl").args([
        "verify",
        "-crl_check",
        "-CAfile",
        &pki.join("ca-chain.pem").display().to_string(),
        "-CRLfile",
        &issuing_crl.display().to_string(),
        &pki.join("sender-b.pem").display().to_string(),
    ]));
    let said = format!("{}{}", text(&verify.stdout), text(&verify.stderr));
    assert!(said.contains("revoked"), "{said}");
    std::thread::sleep(Duration::from_millis(2500));
    let r = as_sender(&f, "sender-b", &Letter::new("dev-crl-2", CITIZEN).body());
    assert_eq!(code(&r), "SEALPOST-AUTH-002", "{}", text(&r.body));
    let r = as_sender(&f, "sender-a", &Letter::new("dev-crl-3", CITIZEN).body());
    assert_eq!(r.status, 200, "{}", text(&r.body));
}
