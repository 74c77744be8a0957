//! `sealpost pki init` checked by tools nobody here wrote: OpenSSL verifies every chain and
//! opens the PKCS#12 bundles, Java's keytool and Python's `cryptography` load them.

use std::path::Path;
use std::process::Command;

use sealpost_interop::{binary, dev_pki, python, require_tool, run, text};

const LEAVES: [&str; 5] = ["tsa", "seal", "tls", "sender-a", "sender-b"];

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = run(Command::new("openssl").args(args).current_dir(dir));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[test]
fn every_leaf_chains_to_the_root_and_none_signs_itself() {
    require_tool("openssl", &["version"]);
    let pki = dev_pki("pki-chains");
    for leaf in LEAVES {
        let pem = format!("{leaf}.pem");
        let out = openssl(
            &[
                "verify",
                "-CAfile",
                "root-ca.pem",
                "-untrusted",
                "issuing-ca.pem",
                &pem,
            ],
            &pki,
        );
        assert_eq!(out.trim(), format!("{pem}: OK"));
        let names = openssl(
            &["x509", "-in", &pem, "-noout", "-issuer", "-subject"],
            &pki,
        );
        assert!(
            names.contains(
                "issuer=C = BE, O = Sealpost Development, CN = Sealpost Development Issuing CA"
            ),
            "{names}"
        );
        // Verifying against itself alone fails: not self-signed.
        let out = run(Command::new("openssl")
            .args(["verify", "-CAfile", &pem, &pem])
            .current_dir(&pki));
        assert!(!out.status.success(), "{leaf} verifies against itself");
    }
    let tsa = openssl(
        &[
            "x509",
            "-in",
            "tsa.pem",
            "-noout",
            "-ext",
            "extendedKeyUsage",
        ],
        &pki,
    );
    assert!(
        tsa.contains("Extended Key Usage: critical") && tsa.contains("Time Stamping"),
        "{tsa}"
    );
    let tls = openssl(
        &[
            "x509",
            "-in",
            "tls.pem",
            "-noout",
            "-ext",
            "subjectAltName,extendedKeyUsage",
        ],
        &pki,
    );
    assert!(
        tls.contains("DNS:localhost") && tls.contains("IP Address:127.0.0.1"),
        "{tls}"
    );
    assert!(tls.contains("TLS Web Server Authentication"), "{tls}");
    let sender = openssl(&["x509", "-in", "sender-b.pem", "-noout", "-text"], &pki);
    assert!(
        sender.contains("Public-Key: (2048 bit)")
            && sender.contains("TLS Web Client Authentication"),
        "{sender}"
    );
}

#[test]
fn pkcs12_bundles_open_in_openssl_keytool_and_python() {
    require_tool("openssl", &["version"]);
    let pki = dev_pki("pki-p12");
    for sender in ["sender-a", "sender-b"] {
        let p12 = format!("{sender}.p12");
        let info = run(Command::new("openssl")
            .args([
                "pkcs12",
                "-in",
                &p12,
                "-passin",
                "pass:sealpost-dev",
                "-info",
                "-noout",
            ])
            .current_dir(&pki));
        let info_text = text(&info.stderr);
        assert!(info.status.success(), "{info_text}");
        assert!(info_text.contains("MAC: sha256"), "{info_text}");
        assert!(
            info_text.contains("PBES2, PBKDF2, AES-256-CBC"),
            "{info_text}"
        );
        // The key in the bundle is the certificate's key.
        let key_pub = openssl(
            &[
                "pkcs12",
                "-in",
                &p12,
                "-passin",
                "pass:sealpost-dev",
                "-nocerts",
                "-nodes",
            ],
            &pki,
        );
        std::fs::write(pki.join("k.pem"), key_pub).expect("key");
        let from_key = openssl(&["pkey", "-in", "k.pem", "-pubout"], &pki);
        let from_cert = openssl(
            &["x509", "-in", &format!("{sender}.pem"), "-noout", "-pubkey"],
            &pki,
        );
        assert_eq!(from_key, from_cert, "{sender}: key and certificate differ");
        // A wrong password is refused (the MAC is checked).
        let wrong = run(Command::new("openssl")
            .args(["pkcs12", "-in", &p12, "-passin", "pass:wrong", "-noout"])
            .current_dir(&pki));
        assert!(!wrong.status.success());

        require_tool("keytool", &["-help"]);
        let out = run(Command::new("keytool")
            .args([
                "-list",
                "-storetype",
                "PKCS12",
                "-storepass",
                "sealpost-dev",
                "-keystore",
                &p12,
            ])
            .current_dir(&pki));
        let listing = text(&out.stdout);
        assert!(
            out.status.success(),
            "keytool: {listing}{}",
            text(&out.stderr)
        );
        assert!(
            listing.contains(&format!("{sender}, ")) && listing.contains("PrivateKeyEntry"),
            "{listing}"
        );
    }

    let script = "import sys\n\
from cryptography.hazmat.primitives.serialization import pkcs12\n\
key, cert, extra = pkcs12.load_key_and_certificates(open(sys.argv[1], 'rb').read(), b'sealpost-dev')\n\
assert key is not None and cert is not None and len(extra) == 2, (key, cert, extra)\n\
print(cert.subject.rfc4514_string())\n";
    let out = run(Command::new(python())
        .args(["-c", script])
        .arg(pki.join("sender-a.p12")));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("CN=Sender A (development)"));
}

#[test]
fn pki_init_never_overwrites_keys() {
    let pki = dev_pki("pki-twice");
    let before = std::fs::read(pki.join("root-ca.key")).expect("key");
    let out = run(Command::new(binary("sealpost"))
        .args(["pki", "init", "--dir"])
        .arg(&pki));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already holds a PKI"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(pki.join("root-ca.key")).expect("key"), before);
}
