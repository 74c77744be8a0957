//! Signed values are read whole, or refused. Canonical XML without comments leaves comments
//! out of the digest, so `<sp:Subject>pay 100 EUR<!----> - CANCELLED</sp:Subject>` carries a
//! valid signature over "pay 100 EUR - CANCELLED": a reader that took the first text node
//! would register "pay 100 EUR". Each test signs the hostile envelope as it is sent, so the
//! signature verifies and only the reading of the value is under test.

use sealpost_evidence::model::{Event, Evidence};
use sealpost_interop::{
    CITIZEN, HttpResponse, SoapService, audit_log, court_verify_command, letters, run, sha256_hex,
    text,
};
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};
use sealpost_xmldsig::signed_text::signed_text;

const DOCUMENT: &[u8] = b"%PDF-1.7 a registered letter";
/// What SubmitRegisteredMail holds, in order: the letter's fields, then its one document's.
const FIELDS: [&str; 10] = [
    "IdempotencyKey",
    "Recipient",
    "MessageType",
    "Subject",
    "SenderReference",
    "Id",
    "Name",
    "MediaType",
    "Sha256",
    "Content",
];
const INVALID_REQUEST: &str = "SEALPOST-REQ-001";
const MESSAGE_UNKNOWN: &str = "SEALPOST-REQ-003";

/// A letter's fields as raw XML content (what goes between the tags, markup and all).
struct Letter {
    raw: [String; 10],
}

impl Letter {
    fn new(key: &str) -> Letter {
        Letter {
            raw: [
                key.to_owned(),
                CITIZEN.to_owned(),
                "tax-assessment".to_owned(),
                "pay 100 EUR".to_owned(),
                format!("REF-{key}"),
                "d1".to_owned(),
                "avis.pdf".to_owned(),
                "application/pdf".to_owned(),
                sha256_hex(DOCUMENT),
                base64_encode(DOCUMENT),
            ],
        }
    }

    /// The letter with `field` holding `raw` instead.
    fn with(mut self, field: &str, raw: String) -> Letter {
        let at = FIELDS.iter().position(|f| *f == field).expect("a field");
        self.raw[at] = raw;
        self
    }

    fn value(&self, field: &str) -> &str {
        &self.raw[FIELDS.iter().position(|f| *f == field).expect("a field")]
    }

    fn body(&self) -> String {
        let element = |(name, raw): (&&str, &String)| format!("<sp:{name}>{raw}</sp:{name}>");
        let head: String = FIELDS[..5]
            .iter()
            .zip(&self.raw[..5])
            .map(element)
            .collect();
        let document: String = FIELDS[5..]
            .iter()
            .zip(&self.raw[5..])
            .map(element)
            .collect();
        format!(
            "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\">{head}<sp:Document>{document}</sp:Document></sp:SubmitRegisteredMail>"
        )
    }
}

/// `value`, then `markup`, then more text: a reader of the first text node alone would take
/// `value`, which is valid for every field (the extra text of Content is more base64).
fn hostile(field: &str, value: &str, markup: &str) -> String {
    let more = if field == "Content" {
        "QUJD"
    } else {
        " - CANCELLED"
    };
    format!("{value}{markup}{more}")
}

/// The text of the first element named `name` (read whole, as any signed value is).
fn first(xml: &str, name: &str) -> Option<String> {
    let doc = roxmltree::Document::parse(xml).ok()?;
    let node = doc.descendants().find(|n| n.tag_name().name() == name)?;
    signed_text(node).ok().map(|t| t.into_owned())
}

fn all(xml: &str, name: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).expect("xml");
    doc.descendants()
        .filter(|n| n.tag_name().name() == name)
        .map(|n| signed_text(n).expect("text").into_owned())
        .collect()
}

/// The stable code of a fault.
fn code(r: &HttpResponse) -> String {
    first(&text(&r.body), "Code").unwrap_or_else(|| panic!("no fault: {}", text(&r.body)))
}

fn refused_as_invalid(r: &HttpResponse, what: &str) {
    let body = text(&r.body);
    assert_eq!(code(r), INVALID_REQUEST, "{what}: {body}");
    assert!(body.contains("sealpost:InvalidRequest"), "{what}: {body}");
}

fn evidence(xml_b64: &str) -> (String, Evidence) {
    let xml = String::from_utf8(base64_decode(xml_b64).expect("base64")).expect("utf-8");
    let doc = roxmltree::Document::parse(&xml).expect("evidence xml");
    let model = sealpost_evidence::model::read(doc.root_element()).expect("evidence");
    (xml, model)
}

fn status(f: &SoapService, message_id: &str) -> HttpResponse {
    f.send(
        "sender-a",
        &format!(
            "<sp:GetMessageStatus xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetMessageStatus>"
        ),
    )
}

fn get_evidence(f: &SoapService, message_id: &str) -> HttpResponse {
    f.send(
        "sender-a",
        &format!(
            "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{message_id}</sp:MessageId></sp:GetEvidence>"
        ),
    )
}

/// Submits `letter`, which must be accepted; its message id and proof of dispatch.
fn accepted(f: &SoapService, letter: &Letter) -> (String, String, Evidence) {
    let r = f.send("sender-a", &letter.body());
    let body = text(&r.body);
    assert_eq!(r.status, 200, "{body}");
    let message_id = first(&body, "MessageId").expect("message id");
    let (xml, proof) = evidence(&first(&body, "Evidence").expect("proof"));
    (message_id, xml, proof)
}

#[test]
fn a_comment_inside_any_signed_submission_field_is_refused_and_registers_no_letter() {
    let f = SoapService::start("signed-text-comment", CITIZEN);
    for field in FIELDS {
        let key = format!("comment-{field}");
        let letter = Letter::new(&key);
        let value = letter.value(field).to_owned();
        let r = f.send(
            "sender-a",
            &letter.with(field, hostile(field, &value, "<!---->")).body(),
        );
        refused_as_invalid(&r, field);
        // The sealed rejection names no letter, and shows no value cut at the comment.
        let body = text(&r.body);
        let (_, rejection) = evidence(&first(&body, "Evidence").expect("rejection"));
        assert_eq!(rejection.event, Event::SubmissionRejection);
        let shown = match field {
            "Subject" => rejection.subject.clone().unwrap_or_default(),
            "SenderReference" => rejection.sender_reference.clone(),
            _ => String::new(),
        };
        assert_ne!(shown, value, "{field}");
        assert_eq!(
            code(&status(&f, &rejection.message_id)),
            MESSAGE_UNKNOWN,
            "{field}"
        );

        // The same key without the comment makes a letter, and only one.
        let letter = Letter::new(&key);
        let (message_id, _, _) = accepted(&f, &letter);
        let (again, _, _) = accepted(&f, &letter);
        assert_eq!(again, message_id, "{field}");
        let r = status(&f, &message_id);
        assert_eq!(
            first(&text(&r.body), "Status").as_deref(),
            Some("Delivered")
        );
    }

    // The audit log says which field was refused, and holds one letter per key.
    let SoapService { pki, data, server } = f;
    drop(server);
    let entries = audit_log(&pki, &data, &[]);
    let submissions: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["operation"] == "SubmitRegisteredMail")
        .collect();
    for field in FIELDS {
        let detail = format!("{field} holds a comment inside its value");
        assert!(
            submissions.iter().any(|e| e["code"] == INVALID_REQUEST
                && e["detail"].as_str().is_some_and(|d| d.ends_with(&detail))),
            "no refusal names {field}: {submissions:?}"
        );
    }
    let letters = letters(&entries);
    assert_eq!(letters.len(), FIELDS.len(), "{letters:?}");
}

#[test]
fn a_processing_instruction_or_element_inside_a_signed_value_is_refused() {
    let f = SoapService::start("signed-text-pi", CITIZEN);
    for (field, markup) in [
        ("IdempotencyKey", "<?sealpost x?>"),
        ("Subject", "<?note href=\"a.xsl\"?>"),
        ("Name", "<?pi?>"),
        ("Content", "<?pi ?>"),
        ("Sha256", "<?pi?>"),
        ("Subject", "<sp:b/>"),
        ("SenderReference", "<x:b xmlns:x=\"urn:x\">y</x:b>"),
    ] {
        let letter = Letter::new(&format!("pi-{field}"));
        let value = letter.value(field).to_owned();
        let r = f.send(
            "sender-a",
            &letter.with(field, hostile(field, &value, markup)).body(),
        );
        refused_as_invalid(&r, &format!("{field} with {markup}"));
    }
    let (message_id, _, _) = accepted(&f, &Letter::new("pi-clean"));
    for markup in ["<?pi?>", "<sp:b/>"] {
        let id = hostile("MessageId", &message_id, markup);
        refused_as_invalid(&status(&f, &id), markup);
        refused_as_invalid(&get_evidence(&f, &id), markup);
    }
}

#[test]
fn a_comment_inside_a_message_id_is_refused_by_get_evidence_and_get_message_status() {
    let f = SoapService::start("signed-text-message-id", CITIZEN);
    let (message_id, _, _) = accepted(&f, &Letter::new("message-id-1"));
    assert_eq!(
        all(&text(&get_evidence(&f, &message_id).body), "Evidence").len(),
        2
    );
    for id in [
        hostile("MessageId", &message_id, "<!---->"),
        format!("<!---->{message_id}"),
        format!("{message_id}<!---->"),
    ] {
        let r = get_evidence(&f, &id);
        refused_as_invalid(&r, &id);
        assert!(all(&text(&r.body), "Evidence").is_empty(), "{id}");
        let r = status(&f, &id);
        refused_as_invalid(&r, &id);
        assert_eq!(first(&text(&r.body), "Status"), None, "{id}");
    }
}

#[test]
fn cdata_and_character_references_are_read_in_full_into_the_letter_and_its_proof() {
    let f = SoapService::start("signed-text-cdata", CITIZEN);
    let subject = "Avis <2026> & \"co\" \u{2014} d\u{e9}finitif";
    let reference = "REF-A&B <1>";
    let name = "avis 2026.pdf";
    let letter = Letter::new("cdata-1")
        .with(
            "Subject",
            "<![CDATA[Avis <2026> & \"co\"]]> &#x2014; d&#233;finitif".into(),
        )
        .with(
            "SenderReference",
            "REF-&#65;<![CDATA[&B]]> &lt;1&gt;".into(),
        )
        .with("Name", "avis&#x20;<![CDATA[2026]]>.pdf".into());
    let (message_id, proof_xml, proof) = accepted(&f, &letter);
    assert_eq!(proof.message_id, message_id);
    let read_in_full = |e: &Evidence| {
        assert_eq!(e.subject.as_deref(), Some(subject));
        assert_eq!(e.sender_reference, reference);
        assert_eq!(
            e.documents
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>(),
            [name]
        );
    };
    read_in_full(&proof);

    // The letter: its status, and every evidence of it, say the same.
    let r = status(&f, &message_id);
    assert_eq!(
        first(&text(&r.body), "Status").as_deref(),
        Some("Delivered")
    );
    let evidences = all(&text(&get_evidence(&f, &message_id).body), "Evidence");
    assert_eq!(evidences.len(), 2);
    for e in &evidences {
        let (_, model) = evidence(e);
        assert_eq!(model.message_id, message_id);
        read_in_full(&model);
    }

    // The court's verifier reads the sealed proof with the whole name.
    let dir = f.data.with_file_name("court");
    std::fs::create_dir_all(&dir).expect("dir");
    let (proof_path, document_path) = (dir.join("proof.xml"), dir.join("avis.pdf"));
    std::fs::write(&proof_path, &proof_xml).expect("write");
    std::fs::write(&document_path, DOCUMENT).expect("write");
    let out = run(court_verify_command(&f.pki, &proof_path)
        .arg("--document")
        .arg(&document_path));
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains(&format!("handed document \"{name}\"")),
        "{report}"
    );
}
