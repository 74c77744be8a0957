//! The evidence model ([`sealpost_model`], re-exported) and its strict XML reader: the
//! elements in their order, nothing else but the trailing ds:Signature; every value the whole
//! text of its element ([`signed_text`]).

use std::borrow::Cow;
use std::time::SystemTime;

use roxmltree::Node;
pub use sealpost_model::*;
use sealpost_xmldsig::signed_text::signed_text;
use sealpost_xmldsig::wss::parse_date_time;

/// Reads an evidence from its root element, strictly.
pub fn read(root: Node<'_, '_>) -> Result<Evidence, String> {
    if root.tag_name().namespace() != Some(NS) || root.tag_name().name() != "Evidence" {
        return Err("the document is not a Sealpost evidence (ev:Evidence)".into());
    }
    let version = match root.attribute("Version") {
        Some(v @ ("2" | "3")) => v,
        _ => return Err("unsupported evidence version".into()),
    };
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
            agent: if c.peek_is("Agent") {
                Some(c.group("Agent", |a| {
                    Ok(Agent {
                        id: a.text("Id")?,
                        identity_provider: a.text("IdentityProvider")?,
                        assertion_id: a.text("Assertion")?,
                        assertion_sha256: Sha256::from_hex(&a.text("AssertionSha256")?)
                            .ok_or("AssertionSha256 is not 64 hex digits")?,
                        authentication_level: a.optional("AuthenticationLevel")?,
                        profiles: {
                            let mut profiles = Vec::new();
                            while a.peek_is("Profile") {
                                profiles.push(a.text("Profile")?);
                            }
                            profiles
                        },
                    })
                })?)
            } else {
                None
            },
        })
    })?;
    let recipient = children.group("Recipient", |c| {
        Ok(Recipient {
            id: c.text("Id")?,
            delegate: c.optional("Delegate")?,
            mandate: c.optional("Mandate")?,
            authentication: c.optional("Authentication")?,
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
                    sha256: Sha256::from_hex(&d.text("Sha256")?)
                        .ok_or("Sha256 is not 64 hex digits")?,
                    time_stamp_token: d
                        .optional("TimeStampToken")?
                        .map(|t| sealpost_xmldsig::dsig::base64_decode(&t))
                        .transpose()
                        .map_err(|_| "TimeStampToken is not base64")?,
                })
            })?);
        }
        Ok(docs)
    })?;
    let reason = children.optional("Reason")?;
    let follows_from = children.optional("FollowsFrom")?;
    children.finish_allowing_signature()?;
    let evidence = Evidence {
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
    };
    // Version 2 says nothing of an agent or of the recipient's login; version 3 is written
    // exactly when it does.
    if evidence.format_version() != version {
        return Err(format!(
            "an evidence of format version {version} cannot hold what this one holds"
        ));
    }
    Ok(evidence)
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
/// service's business when it accepts a letter), or [`UNIDENTIFIED_RECIPIENT`].
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
