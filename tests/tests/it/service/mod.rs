//! The service end to end: the real `sealpost` binary, administered with `sealpost admin`,
//! answering WS-Security signed SOAP requests over HTTPS. Every row of the error table is
//! reached; proofs verify with `sealpost-verify`; the audit log verifies afterwards.
//!
//! This file is the running service and the helpers its tests share: `soap` (the SOAP
//! channel and its error table), `clients` (third-party SOAP clients), `grpc` (the gRPC
//! channel) and `operations` (the configuration file, PostgreSQL, administration, metrics,
//! the audit log and the published provider identity).

mod administration;
mod clients;
mod connections;
mod crl_dp;
mod grpc;
mod long_term;
mod ocsp;
mod oidc;
mod operations;
mod remote_tsa;
mod revocation;
mod saml;
mod soap;

use std::path::{Path, PathBuf};
use std::process::Command;

use sealpost_interop::{
    CITIZEN, COMPANY, HttpResponse, NS_SOAP11, Server, Setting, dev_pki, dev_signer,
    expect_fault_code as code, post_soap, run, sealpost_command, sha256_hex, signed_soap,
    system_now, text, xml_text as field,
};
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};

pub(crate) const INACTIVE: &str = "nrn:00012556777";
/// Valid check digits, but no mailbox.
pub(crate) const NOBODY: &str = "cbe:0417497106";
pub(crate) const MAX_DOCUMENT_BYTES: usize = 200_000;

pub(crate) struct Fixture {
    pub(crate) pki: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) server: Server,
}

/// `sealpost` with the fixture's settings.
pub(crate) fn sealpost(pki: &Path, data: &Path) -> Command {
    let mut cmd = sealpost_command(pki, data);
    cmd.env(
        "SEALPOST_LIMITS_MAX_DOCUMENT_BYTES",
        MAX_DOCUMENT_BYTES.to_string(),
    )
    .env("SEALPOST_AUDIT_SEAL_INTERVAL_S", "1");
    cmd
}

pub(crate) fn admin(pki: &Path, data: &Path, args: &[&str]) -> String {
    sealpost_interop::admin(sealpost(pki, data), args)
}

/// A fresh service with its own PKI, store, registry and directory; stopped when dropped.
pub(crate) fn fixture() -> Fixture {
    fixture_on(dev_pki("service"), &[])
}

/// The service of [`fixture`] on this development PKI, with these settings as well.
pub(crate) fn fixture_on(pki: PathBuf, settings: &[Setting<'_>]) -> Fixture {
    {
        let data = pki.with_file_name("var");
        let a = pki.join("sender-a.pem");
        let b = pki.join("sender-b.pem");
        let (a, b) = (a.to_str().expect("path"), b.to_str().expect("path"));
        admin(
            &pki,
            &data,
            &[
                "sender",
                "set",
                "--id",
                "agency-a",
                "--name",
                "Agency A",
                "--cert",
                a,
                "--types",
                "tax-assessment",
            ],
        );
        admin(
            &pki,
            &data,
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
                "tax-assessment,payment-notice",
                "--recipients",
                "citizen",
            ],
        );
        let directory = data.join("mailboxes.csv");
        std::fs::write(
            &directory,
            format!("{CITIZEN},Jan Peeters\n{COMPANY},Example NV\n{INACTIVE},Old,inactive\n"),
        )
        .expect("csv");
        admin(
            &pki,
            &data,
            &["mailbox", "import", directory.to_str().expect("path")],
        );
        let mut cmd = sealpost(&pki, &data);
        cmd.envs(settings.iter().copied()).arg("serve");
        Fixture {
            server: Server::start(cmd),
            pki,
            data,
        }
    }
}

pub(crate) struct Letter<'a> {
    pub(crate) key: String,
    pub(crate) recipient: &'a str,
    pub(crate) message_type: &'a str,
    pub(crate) document: Vec<u8>,
    pub(crate) declared: Option<String>,
}

impl<'a> Letter<'a> {
    pub(crate) fn new(key: &str, recipient: &'a str) -> Self {
        Letter {
            key: key.into(),
            recipient,
            message_type: "tax-assessment",
            document: format!("%PDF-1.7 letter {key}").into_bytes(),
            declared: None,
        }
    }

    pub(crate) fn body(&self) -> String {
        format!(
            "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>{}</sp:IdempotencyKey><sp:Recipient>{}</sp:Recipient><sp:MessageType>{}</sp:MessageType><sp:Subject>Avis d'imposition 2026</sp:Subject><sp:SenderReference>REF-{}</sp:SenderReference><sp:Document><sp:Id>d1</sp:Id><sp:Name>avis.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document></sp:SubmitRegisteredMail>",
            self.key,
            self.recipient,
            self.message_type,
            self.key,
            self.declared
                .clone()
                .unwrap_or_else(|| sha256_hex(&self.document)),
            base64_encode(&self.document)
        )
    }
}

pub(crate) fn post(f: &Fixture, envelope: &str) -> HttpResponse {
    post_soap(f.server.addr, &f.pki.join("root-ca.pem"), envelope)
}

pub(crate) fn as_sender(f: &Fixture, who: &str, body: &str) -> HttpResponse {
    post(
        f,
        &signed_soap(NS_SOAP11, body, &dev_signer(&f.pki, who), system_now()),
    )
}

pub(crate) fn fields(xml: &str, name: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).expect("xml");
    doc.descendants()
        .filter(|n| n.tag_name().name() == name)
        .filter_map(|n| n.text().map(str::to_owned))
        .collect()
}

pub(crate) fn evidence_of(xml_b64: &str) -> String {
    String::from_utf8(base64_decode(xml_b64).expect("base64")).expect("utf-8")
}

/// `sealpost-verify`'s exit code and output on an evidence.
pub(crate) fn court_verifies(
    f: &Fixture,
    evidence: &str,
    document: Option<&[u8]>,
) -> (i32, String) {
    sealpost_interop::court_verifies(&f.pki, &f.data.with_file_name("court"), evidence, document)
}

/// A refusal after authentication carries a sealed SubmissionRejection a court can verify.
pub(crate) fn rejected(f: &Fixture, r: &HttpResponse, expected_code: &str, subcode: &str) {
    let body = text(&r.body);
    assert_eq!(code(r), expected_code, "{body}");
    assert!(body.contains(subcode), "{body}");
    let evidence = evidence_of(&field(&body, "Evidence").expect("rejection evidence"));
    assert!(evidence.contains("Event/SubmissionRejection"), "{evidence}");
    assert!(evidence.contains(expected_code), "{evidence}");
    let (exit, report) = court_verifies(f, &evidence, None);
    assert_eq!(exit, 0, "{report}");
}

/// xmlsec1 verifies the seal of an evidence file, trusting only the development root.
pub(crate) fn xmlsec1_accepts(f: &Fixture, evidence: &Path) {
    let out = run(Command::new("xmlsec1")
        .args(["--verify", "--enabled-key-data", "x509", "--trusted-pem"])
        .arg(f.pki.join("root-ca.pem"))
        .arg("--untrusted-pem")
        .arg(f.pki.join("issuing-ca.pem"))
        .args([
            "--id-attr:Id",
            "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
        ])
        .arg(evidence));
    assert!(out.status.success(), "xmlsec1: {}", text(&out.stderr));
}
