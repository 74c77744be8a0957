//! The vocabulary every Sealpost crate shares, with no I/O and no XML parser: the ERDS
//! evidence of ETSI EN 319 522 as Sealpost issues it and its canonical XML writing (namespace
//! [`NS`], schema `proto/evidence.xsd`; reading it is `sealpost_evidence::model::read`), its
//! identifiers, and the UTC times it states ([`time`]).

pub mod digest;
pub mod time;

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use digest::Sha256;
pub use time::format_date_time;

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
    /// The natural person who acted for the sender organisation, when its identity provider
    /// vouched for them in the request (the identification vector).
    pub agent: Option<Agent>,
}

/// The agent behind a sender organisation's request, as the organisation's identity provider
/// vouched for them in a signed SAML assertion.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Agent {
    /// The agent's identifier (the assertion's NameID).
    pub id: String,
    /// The identity provider's entity id (the assertion's Issuer).
    pub identity_provider: String,
    /// The assertion's ID, and the SHA-256 of its Exclusive C14N form (signature included):
    /// what the provider keeps archived with the request.
    pub assertion_id: String,
    pub assertion_sha256: Sha256,
    /// The authentication level the provider stated, if any.
    pub authentication_level: Option<String>,
    /// The agent's PAGM profiles, as the provider stated them.
    pub profiles: Vec<String>,
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
    /// How the delegate logged in (the method, the identity provider and the authentication
    /// level), for handovers.
    pub authentication: Option<String>,
}

/// One document of the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub sha256: Sha256,
    /// An RFC 3161 token over `sha256` (DER). None in a SubmissionRejection: Sealpost
    /// time-stamps only the documents it accepts (a refused request must not be a way to get
    /// the provider's time-stamps over anything).
    pub time_stamp_token: Option<Vec<u8>>,
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
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether a reader could be misled by `c` in a value shown as text: a control character
/// (a line break starts what looks like a new statement) or a bidirectional formatting
/// character (which reorders what is displayed). A letter's fields may not hold one, and the
/// court's verifier writes one as `\u{...}`.
pub fn is_deceptive_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Standard base64 with padding, no line breaks (XML Schema base64Binary in canonical form).
pub fn base64_encode(bytes: &[u8]) -> String {
    <base64ct::Base64 as base64ct::Encoding>::encode_string(bytes)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
            ("Recipient/Authentication", &self.recipient.authentication),
            ("Subject", &self.subject),
            ("Reason", &self.reason),
            ("FollowsFrom", &self.follows_from),
        ];
        fields.extend(
            optional
                .iter()
                .filter_map(|(name, v)| v.as_deref().map(|v| (*name, v))),
        );
        if let Some(agent) = &self.sender.agent {
            fields.push(("Sender/Agent/Id", &agent.id));
            fields.push(("Sender/Agent/IdentityProvider", &agent.identity_provider));
            fields.push(("Sender/Agent/Assertion", &agent.assertion_id));
            if let Some(level) = &agent.authentication_level {
                fields.push(("Sender/Agent/AuthenticationLevel", level));
            }
            for profile in &agent.profiles {
                fields.push(("Sender/Agent/Profile", profile));
            }
        }
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

    /// The format version it is written in: 3 when it says something version 2 cannot (the
    /// agent behind the sender, how the recipient logged in), so that a verifier that reads
    /// only version 2 calls it another format (indeterminate) rather than an altered one.
    pub fn format_version(&self) -> &'static str {
        if self.sender.agent.is_some() || self.recipient.authentication.is_some() {
            "3"
        } else {
            "2"
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
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ev:Evidence xmlns:ev=\"{NS}\" Version=\"{}\">",
            self.format_version()
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
        if let Some(agent) = &self.sender.agent {
            x.push_str("<ev:Agent>");
            el(&mut x, "Id", &agent.id);
            el(&mut x, "IdentityProvider", &agent.identity_provider);
            el(&mut x, "Assertion", &agent.assertion_id);
            el(&mut x, "AssertionSha256", &agent.assertion_sha256.hex());
            if let Some(level) = &agent.authentication_level {
                el(&mut x, "AuthenticationLevel", level);
            }
            for profile in &agent.profiles {
                el(&mut x, "Profile", profile);
            }
            x.push_str("</ev:Agent>");
        }
        x.push_str("</ev:Sender><ev:Recipient>");
        el(&mut x, "Id", &self.recipient.id);
        if let Some(d) = &self.recipient.delegate {
            el(&mut x, "Delegate", d);
        }
        if let Some(m) = &self.recipient.mandate {
            el(&mut x, "Mandate", m);
        }
        if let Some(a) = &self.recipient.authentication {
            el(&mut x, "Authentication", a);
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
            el(&mut x, "Sha256", &d.sha256.hex());
            if let Some(token) = &d.time_stamp_token {
                el(&mut x, "TimeStampToken", &base64_encode(token));
            }
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
}

/// The recipient of a SubmissionRejection whose recipient was neither a national register
/// number nor an enterprise number.
pub const UNIDENTIFIED_RECIPIENT: &str = "unidentified";

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
