//! sealpost-xmldsig against tools nobody here wrote: envelopes made afresh by Python zeep
//! (xmlsec), npm soap and Apache WSS4J verify with our WS-Security processing; documents we
//! sign verify with xmlsec1 and Apache Santuario.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sealpost_interop::{dev_pki, python, require_tool, run, scratch_dir, text, workspace_root};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{AlgorithmPolicy, DsigError, IdPolicy};
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss::{KnownCertificates, WssError, WssPolicy, parse_date_time, verify_envelope};
use sealpost_xmldsig::{Limits, parse};

const JAVA_CLASSPATH: &str = "/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar";

fn cert(pki: &Path, name: &str) -> Vec<u8> {
    CertificateDer::from_pem_file(pki.join(name)).expect("certificate").to_vec()
}

fn key(pki: &Path, name: &str) -> Vec<u8> {
    match PrivateKeyDer::from_pem_file(pki.join(name)).expect("key") {
        PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der().to_vec(),
        _ => panic!("not PKCS#8"),
    }
}

fn created(xml: &str) -> SystemTime {
    let start = xml.find("Created>").expect("Created") + "Created>".len();
    let end = start + xml[start..].find('<').expect("end");
    parse_date_time(&xml[start..end]).expect("date")
}

#[test]
fn envelopes_made_afresh_by_zeep_npm_soap_and_wss4j_verify() {
    require_tool("javac", &["-version"]);
    require_tool("node", &["--version"]);
    let python = python();
    require_tool(python.to_str().expect("path"), &["-c", "import zeep, xmlsec"]);
    assert!(
        workspace_root().join("tests/interop/wss/node_modules/soap").exists(),
        "npm soap is missing: run `make deps`"
    );
    let pki = dev_pki("wss-generators");
    let out = scratch_dir("wss-envelopes");
    let result = run(Command::new("bash")
        .arg(workspace_root().join("tests/interop/wss/generate-all.sh"))
        .arg(&pki)
        .arg(&out)
        .env("PYTHON", &python));
    assert!(result.status.success(), "generators failed:\n{}{}", text(&result.stdout), text(&result.stderr));

    let known = KnownCertificates::new([cert(&pki, "sender-a.pem"), cert(&pki, "sender-b.pem")]);
    let trust = TrustAnchors::new([cert(&pki, "root-ca.pem")]).with_intermediates([cert(&pki, "issuing-ca.pem")]);
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected 10 envelopes, got {files:?}");
    for file in files {
        let name = file.file_name().expect("name").to_string_lossy().into_owned();
        let xml = std::fs::read_to_string(&file).expect("read");
        let doc = parse(&xml, &Limits::default()).expect("well-formed");
        let now = created(&xml) + Duration::from_secs(1);
        let default = verify_envelope(&doc, now, &WssPolicy::default(), &known, &trust);
        let lax = WssPolicy {
            algorithms: AlgorithmPolicy { allow_sha1: true },
            ids: IdPolicy { allow_plain_id: true },
            ..WssPolicy::default()
        };
        let verified = if name.contains("sha1") {
            // zeep's defaults sign with SHA-1: refused unless configured.
            assert!(
                matches!(default, Err(WssError::Signature(DsigError::Algorithm(_)))),
                "{name}: {default:?}"
            );
            verify_envelope(&doc, now, &lax, &known, &trust)
        } else if name.contains("node-soap-rsa-defaults") {
            // npm soap's defaults name elements with a plain Id: a policy choice.
            assert!(default.is_err(), "{name}: accepted a plain Id by default");
            verify_envelope(&doc, now, &lax, &known, &trust)
        } else {
            default
        };
        let verified = verified.unwrap_or_else(|e| panic!("{name}: {e}"));
        let payload = verified.body.first_element_child().expect("payload");
        assert_eq!(payload.tag_name().name(), "SubmitRegisteredMail", "{name}");
        let expected_signer = if name.contains("-ec-") { "sender-a.pem" } else { "sender-b.pem" };
        assert_eq!(verified.signer, cert(&pki, expected_signer), "{name}: signer");
    }
}

fn sign_samples(pki: &Path, dir: &Path) -> Vec<std::path::PathBuf> {
    let document = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ev:Evidence xmlns:ev=\"urn:sealpost:test\" Version=\"1\">\n  <ev:Event>SubmissionAcceptance</ev:Event>\n  <ev:Recipient>nrn:85073003328</ev:Recipient>\n  <!-- comments are not signed -->\n  <ev:Note>caf\u{e9} &amp; \u{20ac}</ev:Note>\n</ev:Evidence>\n";
    let mut out = Vec::new();
    for (leaf, file) in [("seal", "signed-ec.xml"), ("sender-b", "signed-rsa.xml")] {
        let signer = DocumentSigner::new(
            &key(pki, &format!("{leaf}.key")),
            vec![cert(pki, &format!("{leaf}.pem")), cert(pki, "issuing-ca.pem")],
        )
        .expect("signer");
        let path = dir.join(file);
        std::fs::write(&path, signer.sign_enveloped(document).expect("sign")).expect("write");
        out.push(path);
    }
    out
}

#[test]
fn documents_we_sign_verify_with_xmlsec1() {
    require_tool("xmlsec1", &["--version"]);
    let pki = dev_pki("xmlsec1-verify");
    let dir = pki.parent().expect("scratch").to_owned();
    for signed in sign_samples(&pki, &dir) {
        let verify = |path: &Path| {
            run(Command::new("xmlsec1")
                .args(["--verify", "--enabled-key-data", "x509", "--trusted-pem"])
                .arg(pki.join("root-ca.pem"))
                .arg("--untrusted-pem")
                .arg(pki.join("issuing-ca.pem"))
                .arg(path))
        };
        let out = verify(&signed);
        assert!(out.status.success(), "{}: {}", signed.display(), text(&out.stderr));
        assert!(text(&out.stderr).contains("OK"), "{}", text(&out.stderr));
        // Tampered, xmlsec1 refuses it too.
        let tampered = dir.join("tampered.xml");
        let xml = std::fs::read_to_string(&signed).expect("read");
        std::fs::write(&tampered, xml.replace("85073003328", "85073003329")).expect("write");
        assert!(!verify(&tampered).status.success(), "xmlsec1 accepted a tampered document");
    }
}

#[test]
fn documents_we_sign_verify_with_apache_santuario() {
    require_tool("javac", &["-version"]);
    assert!(Path::new("/usr/share/java/xmlsec.jar").exists(), "Santuario is missing: run `make deps`");
    let pki = dev_pki("santuario-verify");
    let dir = pki.parent().expect("scratch").to_owned();
    let classes = dir.join("classes");
    let out = run(Command::new("javac")
        .args(["-cp", JAVA_CLASSPATH, "-d"])
        .arg(&classes)
        .arg(workspace_root().join("tests/interop/santuario/SantuarioVerify.java")));
    assert!(out.status.success(), "javac: {}", text(&out.stderr));
    let classpath = format!("{}:{JAVA_CLASSPATH}", classes.display());
    for signed in sign_samples(&pki, &dir) {
        let verify = |path: &Path| {
            run(Command::new("java")
                .args(["-cp", &classpath, "SantuarioVerify"])
                .arg(path)
                .arg(pki.join("root-ca.pem"))
                .arg(pki.join("issuing-ca.pem")))
        };
        let out = verify(&signed);
        assert!(
            out.status.success() && text(&out.stdout).starts_with("OK"),
            "{}: {}{}",
            signed.display(),
            text(&out.stdout),
            text(&out.stderr)
        );
        let tampered = dir.join("tampered.xml");
        let xml = std::fs::read_to_string(&signed).expect("read");
        std::fs::write(&tampered, xml.replace("SubmissionAcceptance", "SubmissionRejection")).expect("write");
        assert!(!verify(&tampered).status.success(), "Santuario accepted a tampered document");
    }
}
