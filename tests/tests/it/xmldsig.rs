//! sealpost-xmldsig against tools nobody here wrote: envelopes made afresh by Python zeep
//! (xmlsec), npm soap and Apache WSS4J verify with our WS-Security processing; documents we
//! sign verify with xmlsec1 and Apache Santuario.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime};

use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use sealpost_interop::{
    cert_der, dev_pki, python, require_tool, run, scratch_dir, system_now, text, workspace_root,
};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::{AlgorithmPolicy, DsigError, IdPolicy};
use sealpost_xmldsig::trust::TrustAnchors;
use sealpost_xmldsig::wss::{
    KnownCertificates, WssError, WssPolicy, parse_date_time, verify_envelope,
};
use sealpost_xmldsig::{Limits, parse};

const JAVA_CLASSPATH: &str = "/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar:/usr/share/java/slf4j-nop.jar";

fn cert(pki: &Path, name: &str) -> Vec<u8> {
    cert_der(&pki.join(name))
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
    require_tool(
        python.to_str().expect("path"),
        &["-c", "import zeep, xmlsec"],
    );
    assert!(
        workspace_root()
            .join("tests/interop/wss/node_modules/soap")
            .exists(),
        "npm soap is missing: run `make deps`"
    );
    let pki = dev_pki("wss-generators");
    let out = scratch_dir("wss-envelopes");
    let result = run(Command::new("bash")
        .arg(workspace_root().join("tests/interop/wss/generate-all.sh"))
        .arg(&pki)
        .arg(&out)
        .env("PYTHON", &python));
    assert!(
        result.status.success(),
        "generators failed:\n{}{}",
        text(&result.stdout),
        text(&result.stderr)
    );

    let known = KnownCertificates::new([cert(&pki, "sender-a.pem"), cert(&pki, "sender-b.pem")]);
    let trust = TrustAnchors::new([cert(&pki, "root-ca.pem")])
        .with_intermediates([cert(&pki, "issuing-ca.pem")]);
    let mut files: Vec<_> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "expected 10 envelopes, got {files:?}");
    for file in files {
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let xml = std::fs::read_to_string(&file).expect("read");
        let doc = parse(&xml, &Limits::default()).expect("well-formed");
        let now = created(&xml) + Duration::from_secs(1);
        let default = verify_envelope(&doc, now, &WssPolicy::default(), &known, &trust);
        let lax = WssPolicy {
            algorithms: AlgorithmPolicy { allow_sha1: true },
            ids: IdPolicy {
                allow_plain_id: true,
            },
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
        let expected_signer = if name.contains("-ec-") {
            "sender-a.pem"
        } else {
            "sender-b.pem"
        };
        assert_eq!(
            verified.signer,
            cert(&pki, expected_signer),
            "{name}: signer"
        );
    }
}

fn sign_samples(pki: &Path, dir: &Path) -> Vec<std::path::PathBuf> {
    let document = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ev:Evidence xmlns:ev=\"urn:sealpost:test\" Version=\"1\">\n  <ev:Event>SubmissionAcceptance</ev:Event>\n  <ev:Recipient>nrn:85073003328</ev:Recipient>\n  <!-- comments are not signed -->\n  <ev:Note>caf\u{e9} &amp; \u{20ac}</ev:Note>\n</ev:Evidence>\n";
    let mut out = Vec::new();
    for (leaf, file) in [("seal", "signed-ec.xml"), ("sender-b", "signed-rsa.xml")] {
        let signer = DocumentSigner::new(
            &key(pki, &format!("{leaf}.key")),
            vec![
                cert(pki, &format!("{leaf}.pem")),
                cert(pki, "issuing-ca.pem"),
            ],
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
        assert!(
            out.status.success(),
            "{}: {}",
            signed.display(),
            text(&out.stderr)
        );
        assert!(text(&out.stderr).contains("OK"), "{}", text(&out.stderr));
        // Tampered, xmlsec1 refuses it too.
        let tampered = dir.join("tampered.xml");
        let xml = std::fs::read_to_string(&signed).expect("read");
        std::fs::write(&tampered, xml.replace("85073003328", "85073003329")).expect("write");
        assert!(
            !verify(&tampered).status.success(),
            "xmlsec1 accepted a tampered document"
        );
    }
}

#[test]
fn documents_we_sign_verify_with_apache_santuario() {
    require_tool("javac", &["-version"]);
    assert!(
        Path::new("/usr/share/java/xmlsec.jar").exists(),
        "Santuario is missing: run `make deps`"
    );
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
        std::fs::write(
            &tampered,
            xml.replace("SubmissionAcceptance", "SubmissionRejection"),
        )
        .expect("write");
        assert!(
            !verify(&tampered).status.success(),
            "Santuario accepted a tampered document"
        );
    }
}

/// The octets xmlsec1 digests for each reference, and the canonical SignedInfo it verifies.
fn xmlsec1_buffers(file: &Path, signer_pem: &Path) -> (Vec<Vec<u8>>, Vec<u8>) {
    const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
    const WSU: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
    const WSSE: &str =
        "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
    let out = run(Command::new("xmlsec1")
        .args([
            "--verify",
            "--store-references",
            "--store-signatures",
            "--pubkey-cert-pem",
        ])
        .arg(signer_pem)
        .args([
            "--id-attr:Id",
            &format!("{SOAP11}:Body"),
            "--id-attr:Id",
            &format!("{SOAP12}:Body"),
        ])
        .args([
            "--id-attr:Id",
            &format!("{WSU}:Timestamp"),
            "--id-attr:Id",
            &format!("{WSSE}:BinarySecurityToken"),
        ])
        .arg(file));
    assert!(
        out.status.success(),
        "xmlsec1 {}: {}",
        file.display(),
        text(&out.stderr)
    );
    let buffers = |label: &str| -> Vec<Vec<u8>> {
        let start = format!("== {label} data - start buffer:\n");
        let end = format!("\n== {label} data - end buffer");
        let mut rest = out.stdout.as_slice();
        let mut found = Vec::new();
        while let Some(s) = rest
            .windows(start.len())
            .position(|w| w == start.as_bytes())
        {
            rest = &rest[s + start.len()..];
            let e = rest
                .windows(end.len())
                .position(|w| w == end.as_bytes())
                .expect("end of buffer");
            found.push(rest[..e].to_vec());
            rest = &rest[e..];
        }
        found
    };
    let signed_info = buffers("PreSigned")
        .pop()
        .expect("the canonical SignedInfo");
    (buffers("PreDigest"), signed_info)
}

/// Our canonical forms of every reference and of SignedInfo.
fn our_buffers(file: &Path) -> (Vec<Vec<u8>>, Vec<u8>) {
    use sealpost_xmldsig::dsig::{IdIndex, Signature};
    let xml = std::fs::read_to_string(file).expect("read");
    let doc = parse(&xml, &Limits::default()).expect("parse");
    let node = doc
        .descendants()
        .find(|n| {
            n.tag_name().name() == "Signature"
                && n.tag_name().namespace() == Some(sealpost_xmldsig::dsig::NS_DSIG)
        })
        .expect("signature");
    let signature =
        Signature::parse(node, AlgorithmPolicy { allow_sha1: true }).expect("signature");
    let ids = IdIndex::build(
        &doc,
        IdPolicy {
            allow_plain_id: true,
        },
    )
    .expect("ids");
    (
        signature.reference_octets(&doc, &ids).expect("references"),
        signature.canonical_signed_info(),
    )
}

#[test]
fn our_canonical_xml_is_byte_for_byte_libxmlsec1s() {
    require_tool("xmlsec1", &["--version"]);
    let samples = sealpost_interop::samples_dir();
    let shared_pki = samples.join("pki");
    let mut cases: Vec<(std::path::PathBuf, std::path::PathBuf)> = [
        ("wss4j-rsa-sha256-bst.xml", "sender-rsa.pem"),
        ("wss4j-ec-sha256-bst-soap12.xml", "sender-ec.pem"),
        ("wss4j-rsa-sha256-ski.xml", "sender-rsa.pem"),
        ("node-soap-rsa-defaults.xml", "sender-rsa.pem"),
        ("node-soap-rsa-sha256-wsuid.xml", "sender-rsa.pem"),
        ("node-soap-ec-sha256-soap12.xml", "sender-ec.pem"),
        ("proof-xmlsec1-ec.xml", "proof-ec.pem"),
        ("proof-xmlsec1-rsa.xml", "proof-rsa.pem"),
    ]
    .iter()
    .map(|(f, c)| (samples.join(f), shared_pki.join(c)))
    .collect();
    // And envelopes and documents we sign ourselves.
    let pki = dev_pki("c14n-xmlsec1");
    let dir = pki.parent().expect("scratch").to_owned();
    for (i, signed) in sign_samples(&pki, &dir).into_iter().enumerate() {
        cases.push((
            signed,
            pki.join(if i == 0 { "seal.pem" } else { "sender-b.pem" }),
        ));
    }
    let signer = DocumentSigner::new(&key(&pki, "sender-a.key"), vec![cert(&pki, "sender-a.pem")])
        .expect("signer");
    let envelope = sealpost_xmldsig::wss_sign::sign_envelope(
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:unused=\"urn:u\">\n <s:Body>\n  <p:Letter xmlns:p=\"urn:p\" p:lang=\"fr\" a=\"1\">\u{e9}t\u{e9} &lt;&amp;&gt; <!-- c --></p:Letter>\n </s:Body>\n</s:Envelope>",
        &signer,
        system_now(),
        Duration::from_secs(300),
    )
    .expect("sign envelope");
    std::fs::write(dir.join("envelope.xml"), envelope).expect("write");
    cases.push((dir.join("envelope.xml"), pki.join("sender-a.pem")));

    for (file, signer_pem) in cases {
        let (theirs, their_signed_info) = xmlsec1_buffers(&file, &signer_pem);
        let (ours, our_signed_info) = our_buffers(&file);
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{}: reference count",
            file.display()
        );
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                a == b,
                "{} reference {i}:\nours:   {}\nxmlsec1: {}",
                file.display(),
                text(a),
                text(b)
            );
        }
        assert!(
            our_signed_info == their_signed_info,
            "{} SignedInfo:\nours:   {}\nxmlsec1: {}",
            file.display(),
            text(&our_signed_info),
            text(&their_signed_info)
        );
    }
}
