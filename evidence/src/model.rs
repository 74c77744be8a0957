//! The ERDS evidence of ETSI EN 319 522 as Sealpost issues it, and its XML form (namespace
//! [`NS`], schema `proto/evidence.xsd`). Reading is strict: the elements in their order,
//! nothing else but the trailing ds:Signature.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::borrow::Cow;

use roxmltree::Node;
use sealpost_xmldsig::signed_text::signed_text;
use sealpost_xmldsig::wss::parse_date_time;
use sealpost_xmldsig::wss_sign::format_date_time;

pub const NS: &str = "urn:sealpost:evidence:1";
pub const EVENT_BASE: &str = "http://uri.etsi.org/19522/Event/";

/// The events of ETSI EN 319 522-2 that Sealpost records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The proof of dispatch: Sealpost accepted the sender's submission.
    SubmissionAcceptance,
    /// Sealpost refused the submission (with a reason).
    SubmissionRejection,
    /// The content was deposited into the recipient's mailbox.
    ContentConsignment,
    /// The content could not be deposited (with a reason).
    ContentConsignmentFailure,
    /// A named person opened the content.
    ContentHandover,
}

impl Event {
    pub const ALL: [Event; 5] = [
        Event::SubmissionAcceptance,
        Event::SubmissionRejection,
        Event::ContentConsignment,
        Event::ContentConsignmentFailure,
        Event::ContentHandover,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Event::SubmissionAcceptance => "SubmissionAcceptance",
            Event::SubmissionRejection => "SubmissionRejection",
            Event::ContentConsignment => "ContentConsignment",
            Event::ContentConsignmentFailure => "ContentConsignmentFailure",
            Event::ContentHandover => "ContentHandover",
        }
    }

    pub fn uri(self) -> String {
        format!("{EVENT_BASE}{}", self.name())
    }

    pub fn from_uri(uri: &str) -> Option<Self> {
        let name = uri.strip_prefix(EVENT_BASE)?;
        Event::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// Who issued the evidence, under which policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    pub name: String,
    pub policy_id: String,
}

/// The sender, as authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sender {
    /// The subject of the certificate the sender authenticated with (RFC 4514).
    pub subject: String,
    /// The sender organisation in Sealpost's sender registry.
    pub registry_id: String,
    /// How the sender was authenticated (for example "WS-Security X.509 signature").
    pub authentication: String,
}

/// The recipient, and who acted for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// `nrn:` or `cbe:` identifier.
    pub id: String,
    /// The natural person who acted (a mandatary, or the citizen), for handovers.
    pub delegate: Option<String>,
    /// The mandate the delegate acted under, for company mailboxes.
    pub mandate: Option<String>,
}

/// One document of the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub sha256: [u8; 32],
    /// An RFC 3161 token over `sha256` (DER).
    pub time_stamp_token: Vec<u8>,
}

/// An evidence, before sealing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    pub id: String,
    pub event: Event,
    pub event_time: SystemTime,
    pub issuer: Issuer,
    pub sender: Sender,
    pub recipient: Recipient,
    pub submission_time: SystemTime,
    /// Sealpost's identifier of the letter: what submit returned and GetEvidence takes. Every
    /// evidence of one letter carries the same one.
    pub message_id: String,
    /// The sender's own reference for the letter.
    pub sender_reference: String,
    pub subject: Option<String>,
    pub documents: Vec<Document>,
    /// Why a submission or a consignment failed.
    pub reason: Option<String>,
    /// The evidence this one follows from.
    pub follows_from: Option<String>,
}

/// A string that sorts after every evidence identifier made before `time` and before every
/// one made after it (identifiers of the same millisecond sort after it): the first 48 bits
/// of a UUIDv7 are its Unix time in milliseconds, written as lower-case hex.
pub fn evidence_id_floor(time: SystemTime) -> String {
    let millis = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let hex = format!("{:012x}", millis & 0xffff_ffff_ffff);
    format!("urn:uuid:{}-{}", &hex[..8], &hex[8..])
}

/// A new evidence identifier: a UUIDv7 URN (time-ordered, 74 random bits).
pub fn new_evidence_id(now: SystemTime) -> String {
    let millis = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    // A broken system RNG leaves nothing sensible to do; aws-lc aborts in that case anyway.
    aws_lc_rs::rand::fill(&mut b[6..]).expect("system random number generator");
    b[6] = 0x70 | (b[6] & 0x0f);
    b[8] = 0x80 | (b[8] & 0x3f);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Escapes character data the way Canonical XML writes it, so that `to_xml` is canonical.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\r', "&#xD;")
}

/// Whether XML 1.0 allows `c` in a document (the `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    let bytes: Vec<u8> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    bytes.try_into().ok()
}

impl Evidence {
    /// The unsigned XML document.
    /// Refuses text that XML 1.0 cannot carry (control characters other than tab, line feed
    /// and carriage return; U+FFFE, U+FFFF), naming the field.
    pub fn check_characters(&self) -> Result<(), String> {
        let mut fields: Vec<(&str, &str)> = vec![
            ("EvidenceId", &self.id),
            ("Issuer/Name", &self.issuer.name),
            ("Issuer/PolicyId", &self.issuer.policy_id),
            ("Sender/Subject", &self.sender.subject),
            ("Sender/RegistryId", &self.sender.registry_id),
            ("Sender/Authentication", &self.sender.authentication),
            ("Recipient/Id", &self.recipient.id),
            ("MessageId", &self.message_id),
            ("SenderReference", &self.sender_reference),
        ];
        let optional = [
            ("Recipient/Delegate", &self.recipient.delegate),
            ("Recipient/Mandate", &self.recipient.mandate),
            ("Subject", &self.subject),
            ("Reason", &self.reason),
            ("FollowsFrom", &self.follows_from),
        ];
        fields.extend(
            optional
                .iter()
                .filter_map(|(name, v)| v.as_deref().map(|v| (*name, v))),
        );
        for d in &self.documents {
            fields.push(("Document/Id", &d.id));
            fields.push(("Document/Name", &d.name));
        }
        match fields
            .iter()
            .find(|(_, text)| !text.chars().all(is_xml_char))
        {
            Some((name, _)) => Err(format!("{name} holds a character XML cannot carry")),
            None => Ok(()),
        }
    }

    /// The evidence as an XML document: an XML declaration, then the evidence element in
    /// exclusive canonical form (what [`crate::seal::Sealer::seal`] digests as it is).
    pub fn to_xml(&self) -> String {
        let mut x = String::with_capacity(2048);
        let el = |x: &mut String, name: &str, text: &str| {
            let _ = write!(x, "<ev:{name}>{}</ev:{name}>", escape(text));
        };
        let _ = write!(
            x,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ev:Evidence xmlns:ev=\"{NS}\" Version=\"2\">"
        );
        el(&mut x, "EvidenceId", &self.id);
        el(&mut x, "EventCode", &self.event.uri());
        el(&mut x, "EventTime", &format_date_time(self.event_time));
        x.push_str("<ev:Issuer>");
        el(&mut x, "Name", &self.issuer.name);
        el(&mut x, "PolicyId", &self.issuer.policy_id);
        x.push_str("</ev:Issuer><ev:Sender>");
        el(&mut x, "Subject", &self.sender.subject);
        el(&mut x, "RegistryId", &self.sender.registry_id);
        el(&mut x, "Authentication", &self.sender.authentication);
        x.push_str("</ev:Sender><ev:Recipient>");
        el(&mut x, "Id", &self.recipient.id);
        if let Some(d) = &self.recipient.delegate {
            el(&mut x, "Delegate", d);
        }
        if let Some(m) = &self.recipient.mandate {
            el(&mut x, "Mandate", m);
        }
        x.push_str("</ev:Recipient>");
        el(
            &mut x,
            "SubmissionTime",
            &format_date_time(self.submission_time),
        );
        el(&mut x, "MessageId", &self.message_id);
        el(&mut x, "SenderReference", &self.sender_reference);
        if let Some(s) = &self.subject {
            el(&mut x, "Subject", s);
        }
        x.push_str("<ev:Documents>");
        for d in &self.documents {
            x.push_str("<ev:Document>");
            el(&mut x, "Id", &d.id);
            el(&mut x, "Name", &d.name);
            el(&mut x, "Size", &d.size.to_string());
            el(&mut x, "Sha256", &hex(&d.sha256));
            el(
                &mut x,
                "TimeStampToken",
                &sealpost_xmldsig::dsig::base64_encode(&d.time_stamp_token),
            );
            x.push_str("</ev:Document>");
        }
        x.push_str("</ev:Documents>");
        if let Some(r) = &self.reason {
            el(&mut x, "Reason", r);
        }
        if let Some(f) = &self.follows_from {
            el(&mut x, "FollowsFrom", f);
        }
        x.push_str("</ev:Evidence>\n");
        x
    }

    /// Reads an evidence from its root element, strictly.
    pub fn from_element(root: Node<'_, '_>) -> Result<Self, String> {
        if root.tag_name().namespace() != Some(NS) || root.tag_name().name() != "Evidence" {
            return Err("the document is not a Sealpost evidence (ev:Evidence)".into());
        }
        if root.attribute("Version") != Some("2") {
            return Err("unsupported evidence version".into());
        }
        let mut children = Children::new(root);
        let id = children.text("EvidenceId")?;
        if !is_uuid_urn(&id) {
            return Err("EvidenceId is not a UUID URN".into());
        }
        let event = Event::from_uri(&children.text("EventCode")?).ok_or("unknown EventCode")?;
        let event_time = children.time("EventTime")?;
        let issuer = children.group("Issuer", |c| {
            Ok(Issuer {
                name: c.text("Name")?,
                policy_id: c.text("PolicyId")?,
            })
        })?;
        let sender = children.group("Sender", |c| {
            Ok(Sender {
                subject: c.text("Subject")?,
                registry_id: c.text("RegistryId")?,
                authentication: c.text("Authentication")?,
            })
        })?;
        let recipient = children.group("Recipient", |c| {
            Ok(Recipient {
                id: c.text("Id")?,
                delegate: c.optional("Delegate")?,
                mandate: c.optional("Mandate")?,
            })
        })?;
        if !is_recipient_id(&recipient.id) {
            return Err("the recipient Id is neither nrn:<11 digits> nor cbe:<10 digits>".into());
        }
        let submission_time = children.time("SubmissionTime")?;
        let message_id = children.text("MessageId")?;
        if !is_uuid_urn(&message_id) {
            return Err("MessageId is not a UUID URN".into());
        }
        let sender_reference = children.text("SenderReference")?;
        let subject = children.optional("Subject")?;
        let documents = children.group("Documents", |c| {
            let mut docs = Vec::new();
            while c.peek_is("Document") {
                docs.push(c.group("Document", |d| {
                    Ok(Document {
                        id: d.text("Id")?,
                        name: d.text("Name")?,
                        size: d
                            .text("Size")?
                            .parse()
                            .map_err(|_| "Size is not a number")?,
                        sha256: unhex32(&d.text("Sha256")?).ok_or("Sha256 is not 64 hex digits")?,
                        time_stamp_token: sealpost_xmldsig::dsig::base64_decode(
                            &d.text("TimeStampToken")?,
                        )
                        .map_err(|_| "TimeStampToken is not base64")?,
                    })
                })?);
            }
            Ok(docs)
        })?;
        let reason = children.optional("Reason")?;
        let follows_from = children.optional("FollowsFrom")?;
        children.finish_allowing_signature()?;
        Ok(Evidence {
            id,
            event,
            event_time,
            issuer,
            sender,
            recipient,
            submission_time,
            message_id,
            sender_reference,
            subject,
            documents,
            reason,
            follows_from,
        })
    }
}

/// `urn:uuid:` and 8-4-4-4-12 lower-case hex digits (the schema's EvidenceIdType).
fn is_uuid_urn(text: &str) -> bool {
    let Some(uuid) = text.strip_prefix("urn:uuid:") else {
        return false;
    };
    let groups: Vec<&str> = uuid.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| {
            g.len() == n
                && g.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// `nrn:` and 11 digits, or `cbe:` and 10 (the schema's RecipientIdType; check digits are the
/// service's business when it accepts a letter).
/// The recipient of a SubmissionRejection whose recipient was neither a national register
/// number nor an enterprise number.
pub const UNIDENTIFIED_RECIPIENT: &str = "unidentified";

fn is_recipient_id(text: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    text.strip_prefix("nrn:").is_some_and(|d| digits(d, 11))
        || text.strip_prefix("cbe:").is_some_and(|d| digits(d, 10))
        || text == UNIDENTIFIED_RECIPIENT
}

/// Walks an element's children in order.
struct Children<'a, 'i> {
    nodes: Vec<Node<'a, 'i>>,
    at: usize,
}

impl<'a, 'i> Children<'a, 'i> {
    fn new(parent: Node<'a, 'i>) -> Self {
        Children {
            nodes: parent.children().filter(Node::is_element).collect(),
            at: 0,
        }
    }

    fn peek_is(&self, name: &str) -> bool {
        self.nodes
            .get(self.at)
            .is_some_and(|n| n.tag_name().namespace() == Some(NS) && n.tag_name().name() == name)
    }

    fn next(&mut self, name: &str) -> Result<Node<'a, 'i>, String> {
        if !self.peek_is(name) {
            return Err(format!("expected ev:{name}"));
        }
        self.at += 1;
        Ok(self.nodes[self.at - 1])
    }

    fn text(&mut self, name: &str) -> Result<String, String> {
        let node = self.next(name)?;
        signed_text(node)
            .map(Cow::into_owned)
            .map_err(|e| format!("ev:{e}"))
    }

    fn optional(&mut self, name: &str) -> Result<Option<String>, String> {
        if self.peek_is(name) {
            self.text(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A UTC date-time in whole seconds (`2026-11-22T20:05:56Z`), as the schema says.
    fn time(&mut self, name: &str) -> Result<SystemTime, String> {
        let text = self.text(name)?;
        if text.len() != 20 || !text.ends_with('Z') {
            return Err(format!("ev:{name} is not a UTC date-time in whole seconds"));
        }
        parse_date_time(&text).map_err(|_| format!("ev:{name} is not a date-time"))
    }

    fn group<T>(
        &mut self,
        name: &str,
        read: impl FnOnce(&mut Children<'a, 'i>) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut inner = Children::new(self.next(name)?);
        let value = read(&mut inner)?;
        if inner.at != inner.nodes.len() {
            return Err(format!("unexpected element in ev:{name}"));
        }
        Ok(value)
    }

    fn finish_allowing_signature(&self) -> Result<(), String> {
        match &self.nodes[self.at..] {
            [] => Ok(()),
            [sig]
                if sig.tag_name().namespace() == Some(sealpost_xmldsig::dsig::NS_DSIG)
                    && sig.tag_name().name() == "Signature" =>
            {
                Ok(())
            }
            _ => Err("unexpected element in ev:Evidence".into()),
        }
    }
}

/// Whole seconds since the epoch (the precision of xsd:dateTime as written here).
pub fn truncate_to_seconds(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_sort_by_time_around_their_floor() {
        let t = UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
        let floor = evidence_id_floor(t);
        let before = new_evidence_id(t - Duration::from_millis(1));
        let same = new_evidence_id(t);
        let after = new_evidence_id(t + Duration::from_secs(1));
        assert!(
            before < floor && floor < same && same < after,
            "{before} {floor} {same}"
        );
    }
}
