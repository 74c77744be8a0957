//! The mailbox UI's port on the service: people and mandates kept in the store as entities,
//! letters read from the store, openings sealed by the core (ContentHandover) and every
//! mailbox action in the audit log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use sealpost_evidence::model::new_evidence_id;
use sealpost_mailbox::people::{Mandate, Person};
use sealpost_mailbox::port::{DocumentInfo, EvidenceFile, Letter, MailboxData};

use super::store::Backend;
use crate::core::audit::hex;
use crate::core::records::{Channel, MessageRecord, MessageState};
use crate::core::{RequestContext, Service};
use aws_lc_rs::digest;
use sealpost_xmldsig::trust::{Purpose, TrustAnchors};

const PERSON: &str = "person";
const MANDATE: &str = "mandate";
/// Certificate SHA-256 (hex) → login.
pub const PERSON_CERTIFICATE: &str = "person_certificate";

/// The mailbox's people and mandates, kept in a store as JSON entities.
#[derive(Clone, Copy)]
pub struct People<'a>(pub &'a dyn Backend);

impl std::fmt::Debug for People<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("People").finish_non_exhaustive()
    }
}

impl People<'_> {
    pub fn person(&self, login: &str) -> Result<Option<Person>, String> {
        self.0
            .entity(PERSON, login)
            .map_err(|e| e.to_string())?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
            .transpose()
    }

    pub fn everyone(&self) -> Result<Vec<Person>, String> {
        self.0
            .entities(PERSON)
            .map_err(|e| e.to_string())?
            .iter()
            .map(|bytes| serde_json::from_slice(bytes).map_err(|e| e.to_string()))
            .collect()
    }

    pub fn put_person(&self, person: &Person) -> Result<(), String> {
        let bytes = serde_json::to_vec(person).map_err(|e| e.to_string())?;
        self.0
            .put_entity(PERSON, &person.login, &bytes)
            .map_err(|e| e.to_string())
    }

    /// Removes a person and the index of their certificates.
    pub fn delete_person(&self, person: &Person) -> Result<(), String> {
        for fingerprint in &person.certificates {
            self.0
                .delete_entity(PERSON_CERTIFICATE, fingerprint)
                .map_err(|e| e.to_string())?;
        }
        self.0
            .delete_entity(PERSON, &person.login)
            .map_err(|e| e.to_string())
    }

    pub fn mandates(&self) -> Result<Vec<Mandate>, String> {
        self.0
            .entities(MANDATE)
            .map_err(|e| e.to_string())?
            .iter()
            .map(|bytes| serde_json::from_slice(bytes).map_err(|e| e.to_string()))
            .collect()
    }

    pub fn put_mandate(&self, mandate: &Mandate) -> Result<(), String> {
        let bytes = serde_json::to_vec(mandate).map_err(|e| e.to_string())?;
        self.0
            .put_entity(MANDATE, &mandate.id, &bytes)
            .map_err(|e| e.to_string())
    }
}

/// [`MailboxData`] on the service's store and core.
pub struct MailboxAdapter {
    pub store: Arc<dyn Backend>,
    pub service: Arc<Service>,
    /// Where people's client certificates must chain to.
    pub people_trust: TrustAnchors,
}

impl std::fmt::Debug for MailboxAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxAdapter").finish_non_exhaustive()
    }
}

fn context(now: SystemTime, operation: &'static str, request: String) -> RequestContext {
    RequestContext {
        correlation_id: new_evidence_id(now),
        channel: Channel::Mailbox,
        operation,
        request: Arc::new(request.into_bytes()),
        seen: None,
    }
}

/// How the audit log and evidences name a person: name and login.
pub fn person_identity(person: &Person) -> String {
    format!("{} ({})", person.name, person.login)
}

impl MailboxAdapter {
    fn letter_of(&self, m: MessageRecord, senders: &HashMap<String, String>) -> Letter {
        Letter {
            sender: senders
                .get(&m.sender_id)
                .cloned()
                .unwrap_or_else(|| m.sender_id.clone()),
            opened: m.state == MessageState::Opened,
            documents: m
                .documents
                .iter()
                .map(|d| DocumentInfo {
                    name: d.name.clone(),
                    media_type: d.media_type.clone(),
                    size: d.size,
                    sha256: d.sha256.clone(),
                })
                .collect(),
            id: m.id,
            mailbox: m.recipient,
            message_type: m.message_type,
            subject: m.subject,
            received_at: m.submitted_at,
        }
    }

    fn sender_registry_names(&self) -> Result<HashMap<String, String>, String> {
        Ok(self
            .store
            .senders()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect())
    }
}

impl MailboxData for MailboxAdapter {
    fn person(&self, login: &str) -> Result<Option<Person>, String> {
        People(self.store.as_ref()).person(login)
    }

    fn person_by_certificate(&self, chain: &[Vec<u8>]) -> Result<Option<Person>, String> {
        let Some((leaf, rest)) = chain.split_first() else {
            return Ok(None);
        };
        if let Err(e) =
            self.people_trust
                .validate(leaf, rest, self.service.now(), Purpose::SenderApplication)
        {
            tracing::info!(error = %e, "mailbox: a client certificate is not trusted");
            return Ok(None);
        }
        let fingerprint = hex(digest::digest(&digest::SHA256, leaf).as_ref());
        let Some(login) = self
            .store
            .entity(PERSON_CERTIFICATE, &fingerprint)
            .map_err(|e| e.to_string())?
        else {
            return Ok(None);
        };
        let login = String::from_utf8(login).map_err(|e| e.to_string())?;
        // The person must still name the certificate (it may have been taken back).
        Ok(self
            .person(&login)?
            .filter(|p| p.certificates.contains(&fingerprint)))
    }

    fn put_person(&self, person: &Person) -> Result<(), String> {
        People(self.store.as_ref()).put_person(person)
    }

    fn mandates(&self) -> Result<Vec<Mandate>, String> {
        People(self.store.as_ref()).mandates()
    }

    fn put_mandate(&self, mandate: &Mandate) -> Result<(), String> {
        People(self.store.as_ref()).put_mandate(mandate)
    }

    fn letters(&self, mailbox: &str) -> Result<Vec<Letter>, String> {
        let senders = self.sender_registry_names()?;
        Ok(self
            .store
            .mailbox_messages(mailbox)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|m| self.letter_of(m, &senders))
            .collect())
    }

    fn letters_page(
        &self,
        mailbox: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Letter>, usize), String> {
        let senders = self.sender_registry_names()?;
        let (page, total) = self
            .store
            .mailbox_page(mailbox, offset, limit)
            .map_err(|e| e.to_string())?;
        Ok((
            page.into_iter()
                .map(|m| self.letter_of(m, &senders))
                .collect(),
            total,
        ))
    }

    fn sender_names(&self) -> Result<Vec<String>, String> {
        let mut names: Vec<String> = self.sender_registry_names()?.into_values().collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn letter(&self, id: &str) -> Result<Option<Letter>, String> {
        let Some(m) = self.store.message(id).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        Ok(Some(self.letter_of(m, &self.sender_registry_names()?)))
    }

    fn document(&self, letter: &str, index: usize) -> Result<Option<Vec<u8>>, String> {
        let Ok(index) = u32::try_from(index) else {
            return Ok(None);
        };
        self.store
            .document(letter, index)
            .map_err(|e| e.to_string())
    }

    fn evidences(&self, letter: &str) -> Result<Vec<EvidenceFile>, String> {
        Ok(self
            .store
            .evidences_of(letter)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|e| EvidenceFile {
                id: e.id,
                event: e.event,
                xml: e.xml,
            })
            .collect())
    }

    fn opened(
        &self,
        letter: &str,
        person: &Person,
        mandate: Option<&Mandate>,
    ) -> Result<(), String> {
        let who = person_identity(person);
        let ctx = context(
            self.service.now(),
            "OpenLetter",
            format!(
                "{who} opened {letter}{}",
                mandate
                    .map(|m| format!(" under mandate {}", m.id))
                    .unwrap_or_default()
            ),
        );
        self.service
            .hand_over(&ctx, letter, &who, mandate.map(|m| m.id.as_str()))
            .map(|_| ())
            .map_err(|r| format!("{} ({})", r.kind.row().code, r.correlation_id))
    }

    fn record(&self, who: &str, what: &'static str, ok: bool, detail: &str) -> Result<(), String> {
        let ctx = context(self.service.now(), what, format!("{what}: {who}"));
        self.service
            .record_action(&ctx, who, ok, detail)
            .map_err(|r| format!("{} ({})", r.kind.row().code, r.correlation_id))
    }
}
