//! The mailbox UI's port on the service: people and mandates kept in the store as entities,
//! letters read from the store, openings sealed by the core (ContentHandover) and every
//! mailbox action in the audit log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use sealpost_evidence::model::new_evidence_id;
use sealpost_mailbox::people::{Mandate, Person};
use sealpost_mailbox::port::{
    Action, DataError, DocumentInfo, EvidenceFile, JournalLine, Letter, LetterContent, LetterPart,
    MailboxData, Outcome,
};
use sealpost_mailbox::sessions::LoginMethod;

use super::store::Backend;
use crate::core::audit::hex;
use crate::core::records::{Channel, MessageRecord, MessageState};
use crate::core::{
    self, Changes, Reader, RecordKind, RecordWrite, Refusal, RequestContext, Service, StoreError,
    Written,
};

/// How many times a person's change is decided again when another request changed them
/// first.
const UPDATE_RACES: usize = 5;
use aws_lc_rs::digest;
use sealpost_xmldsig::trust::{Purpose, TrustAnchors};

/// The mailbox's people and mandates, kept in a store as JSON records
/// ([`RecordKind::Person`], [`RecordKind::PersonCertificate`] → login, [`RecordKind::Mandate`]);
/// read here, written only with the audit entry of the action that changes them
/// ([`crate::core::Recorder::record_change`]).
#[derive(Clone, Copy)]
pub struct People<'a>(pub &'a dyn Backend);

impl std::fmt::Debug for People<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("People").finish_non_exhaustive()
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("a stored {what} does not decode: {e}"))
}

impl People<'_> {
    pub fn person(&self, login: &str) -> Result<Option<Person>, StoreError> {
        Ok(self.stored_person(login)?.map(|(person, _)| person))
    }

    /// The person of `login` and their record's bytes as stored (to change it only if it
    /// still holds them).
    pub fn stored_person(&self, login: &str) -> Result<Option<(Person, Vec<u8>)>, StoreError> {
        self.0
            .entity(RecordKind::Person.name(), login)?
            .map(|bytes| {
                serde_json::from_slice(&bytes)
                    .map(|person| (person, bytes))
                    .map_err(|e| corrupt("person", e))
            })
            .transpose()
    }

    pub fn everyone(&self) -> Result<Vec<Person>, StoreError> {
        self.0
            .entities(RecordKind::Person.name())?
            .iter()
            .map(|bytes| serde_json::from_slice(bytes).map_err(|e| corrupt("person", e)))
            .collect()
    }

    pub fn mandates(&self) -> Result<Vec<Mandate>, StoreError> {
        self.0
            .entities(RecordKind::Mandate.name())?
            .iter()
            .map(|bytes| serde_json::from_slice(bytes).map_err(|e| corrupt("mandate", e)))
            .collect()
    }

    /// The login a certificate (SHA-256, hex) is registered to.
    pub fn certificate_owner(&self, fingerprint: &str) -> Result<Option<String>, StoreError> {
        self.0
            .entity(RecordKind::PersonCertificate.name(), fingerprint)?
            .map(|login| String::from_utf8(login).map_err(|e| corrupt("certificate owner", e)))
            .transpose()
    }
}

/// The write of `person`'s record.
pub fn person_write(person: &Person) -> Result<RecordWrite, StoreError> {
    Ok(RecordWrite {
        kind: RecordKind::Person,
        key: person.login.clone(),
        value: Some(serde_json::to_vec(person).map_err(|e| corrupt("person", e))?),
        expected: None,
    })
}

/// The write of `mandate`'s record.
pub fn mandate_write(mandate: &Mandate) -> Result<RecordWrite, StoreError> {
    Ok(RecordWrite {
        kind: RecordKind::Mandate,
        key: mandate.id.clone(),
        value: Some(serde_json::to_vec(mandate).map_err(|e| corrupt("mandate", e))?),
        expected: None,
    })
}

/// The writes that register `fingerprint` to `login`.
pub fn certificate_write(fingerprint: &str, login: &str) -> RecordWrite {
    RecordWrite {
        kind: RecordKind::PersonCertificate,
        key: fingerprint.to_owned(),
        value: Some(login.as_bytes().to_vec()),
        expected: None,
    }
}

/// The writes that delete `person` and the index of their certificates.
pub fn person_deletion(person: &Person) -> Vec<RecordWrite> {
    person
        .certificates
        .iter()
        .map(|fingerprint| RecordWrite {
            kind: RecordKind::PersonCertificate,
            key: fingerprint.clone(),
            value: None,
            expected: None,
        })
        .chain([RecordWrite {
            kind: RecordKind::Person,
            key: person.login.clone(),
            value: None,
            expected: None,
        }])
        .collect()
}

/// [`MailboxData`] on the service's store and core.
pub struct MailboxAdapter {
    pub store: Arc<dyn Backend>,
    pub service: Arc<Service>,
    /// Where people's client certificates must chain to.
    pub people_trust: TrustAnchors,
    /// The least authentication level a login needs to open a letter of a message type
    /// (`mailbox.opening_levels`).
    pub opening_levels: std::collections::BTreeMap<String, u8>,
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
        vector: None,
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
                    sha256: d.sha256.hex(),
                })
                .collect(),
            id: m.id,
            mailbox: m.recipient,
            message_type: m.message_type,
            subject: m.subject,
            received_at: m.submitted_at,
        }
    }

    fn sender_registry_names(&self) -> Result<HashMap<String, String>, DataError> {
        Ok(self
            .store
            .senders()
            .map_err(data_error)?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect())
    }

    /// `action`'s audit entry and `records`, in one commit.
    fn change(&self, action: Action<'_>, records: Vec<RecordWrite>) -> Result<Written, DataError> {
        let ctx = context(
            self.service.now(),
            action.what,
            format!("{}: {}", action.what, action.who),
        );
        self.service
            .recorder()
            .record_change(
                &ctx,
                action.who,
                action.ok,
                action.detail,
                Changes {
                    records,
                    ..Changes::default()
                },
            )
            .map_err(refused)
    }
}

/// A store's error, as the mailbox sees it.
fn data_error(e: StoreError) -> DataError {
    match e {
        StoreError::Corrupt(e) => DataError::Corrupt(e),
        StoreError::Unavailable(e) | StoreError::Conflict(e) => DataError::Unavailable(e),
    }
}

/// The core's refusal, as the mailbox sees it.
fn refused(r: Refusal) -> DataError {
    DataError::Refused {
        code: r.kind.row().code,
        correlation_id: r.correlation_id,
    }
}

impl MailboxData for MailboxAdapter {
    fn person(&self, login: &str) -> Result<Option<Person>, DataError> {
        People(self.store.as_ref())
            .person(login)
            .map_err(data_error)
    }

    fn person_by_certificate(&self, chain: &[Vec<u8>]) -> Result<Option<Person>, DataError> {
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
        let people = People(self.store.as_ref());
        let Some(login) = people.certificate_owner(&fingerprint).map_err(data_error)? else {
            return Ok(None);
        };
        // The person must still name the certificate (it may have been taken back).
        Ok(self
            .person(&login)?
            .filter(|p| p.certificates.contains(&fingerprint)))
    }

    fn update_person(
        &self,
        login: &str,
        what: &'static str,
        change: &mut dyn FnMut(&mut Person) -> Outcome,
    ) -> Result<Option<(Person, Outcome)>, DataError> {
        let people = People(self.store.as_ref());
        for _ in 0..UPDATE_RACES {
            let Some(stored) = people.stored_person(login).map_err(data_error)? else {
                return Ok(None);
            };
            let (mut person, bytes) = stored;
            let outcome = change(&mut person);
            let mut write = person_write(&person).map_err(data_error)?;
            write.expected = Some(bytes);
            let action = Action {
                who: &person_identity(&person),
                what,
                ok: outcome.ok,
                detail: outcome.detail,
            };
            if self.change(action, vec![write])? == Written::Done {
                return Ok(Some((person, outcome)));
            }
        }
        Err(DataError::Unavailable(format!(
            "{login} changed under every one of {UPDATE_RACES} attempts"
        )))
    }

    fn mandates(&self) -> Result<Vec<Mandate>, DataError> {
        People(self.store.as_ref()).mandates().map_err(data_error)
    }

    fn put_mandate(&self, mandate: &Mandate, action: Action<'_>) -> Result<(), DataError> {
        self.change(action, vec![mandate_write(mandate).map_err(data_error)?])
            .map(|_| ())
    }

    fn letters(&self, mailbox: &str) -> Result<Vec<Letter>, DataError> {
        let senders = self.sender_registry_names()?;
        Ok(self
            .store
            .mailbox_messages(mailbox)
            .map_err(data_error)?
            .into_iter()
            .map(|m| self.letter_of(m, &senders))
            .collect())
    }

    fn letters_page(
        &self,
        mailbox: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Letter>, usize), DataError> {
        let senders = self.sender_registry_names()?;
        let (page, total) = self
            .store
            .mailbox_page(mailbox, offset, limit)
            .map_err(data_error)?;
        Ok((
            page.into_iter()
                .map(|m| self.letter_of(m, &senders))
                .collect(),
            total,
        ))
    }

    fn sender_names(&self) -> Result<Vec<String>, DataError> {
        let mut names: Vec<String> = self.sender_registry_names()?.into_values().collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn letter(&self, id: &str) -> Result<Option<Letter>, DataError> {
        let Some(m) = self.store.message(id).map_err(data_error)? else {
            return Ok(None);
        };
        Ok(Some(self.letter_of(m, &self.sender_registry_names()?)))
    }

    fn read(
        &self,
        letter: &str,
        person: &Person,
        mandate: Option<&Mandate>,
        login: &LoginMethod,
        part: LetterPart,
    ) -> Result<LetterContent, DataError> {
        let who = person_identity(person);
        // A message type may need a stronger login than this one: refused, and traced (the
        // message is read for its type only when some type needs a level).
        let needed = if self.opening_levels.is_empty() {
            None
        } else {
            self.store
                .message(letter)
                .map_err(data_error)?
                .and_then(|m| self.opening_levels.get(&m.message_type).copied())
        };
        if let Some(needed) = needed.filter(|n| login.level < *n) {
            let detail = format!(
                "{letter} needs a login of level {needed}; {} counts as {}",
                login.how, login.level
            );
            let ctx = context(
                self.service.now(),
                "open letter",
                format!("open letter: {who}: {letter}"),
            );
            self.service
                .recorder()
                .record_change(&ctx, &who, false, &detail, Changes::default())
                .map_err(refused)?;
            return Err(DataError::Refused {
                code: core::ErrorKind::NotAuthorized.row().code,
                correlation_id: ctx.correlation_id,
            });
        }
        let (operation, core_part) = match part {
            LetterPart::Page => ("OpenLetter", core::LetterPart::Page),
            LetterPart::Document(n) => ("ReadDocument", core::LetterPart::Document(n)),
            LetterPart::Evidence(n) => ("ReadEvidence", core::LetterPart::Evidence(n)),
        };
        let ctx = context(
            self.service.now(),
            operation,
            format!(
                "{who} read {part:?} of {letter}{}",
                mandate
                    .map(|m| format!(" under mandate {}", m.id))
                    .unwrap_or_default()
            ),
        );
        // The handover states the mandate as it is at this moment, so the proof stands alone.
        let statement = mandate.map(Mandate::statement);
        let read = self
            .service
            .read_letter(
                &ctx,
                letter,
                &Reader {
                    person: &who,
                    mandate: statement.as_deref(),
                    authentication: Some(&format!("{} (level {})", login.how, login.level)),
                },
                core_part,
            )
            .map_err(refused)?;
        Ok(LetterContent {
            evidences: read
                .evidences
                .into_iter()
                .map(|e| EvidenceFile {
                    xml: e.current().to_owned(),
                    id: e.id,
                    event: e.event,
                })
                .collect(),
            document: read.document,
            journal: read
                .reads
                .into_iter()
                .map(|r| JournalLine {
                    at: r.at,
                    who: r.who,
                    what: r.what,
                })
                .collect(),
        })
    }

    fn delivery_refused(&self, nrn: &str) -> Result<Option<u64>, DataError> {
        Ok(self
            .store
            .mailbox(nrn)
            .map_err(data_error)?
            .and_then(|m| m.refused_at))
    }

    fn choose_delivery(&self, person: &Person, refuse: bool) -> Result<(), DataError> {
        let nrn = person
            .nrn
            .as_deref()
            .ok_or_else(|| DataError::Unavailable("a person without a mailbox".into()))?;
        let mut mailbox = self
            .store
            .mailbox(nrn)
            .map_err(data_error)?
            .ok_or_else(|| DataError::Unavailable(format!("no mailbox {nrn}")))?;
        let now = self
            .service
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        mailbox.refused_at = match (refuse, mailbox.refused_at) {
            (true, Some(since)) => Some(since),
            (true, None) => Some(now),
            (false, _) => None,
        };
        let what = if refuse {
            "electronic delivery refused"
        } else {
            "electronic delivery accepted"
        };
        let who = person_identity(person);
        let ctx = context(self.service.now(), what, format!("{what}: {who} for {nrn}"));
        self.service
            .recorder()
            .record_change(
                &ctx,
                &who,
                true,
                &format!("{what} for {nrn}"),
                Changes {
                    mailboxes: vec![mailbox],
                    ..Changes::default()
                },
            )
            .map(|_| ())
            .map_err(refused)
    }

    fn record(&self, action: Action<'_>) -> Result<(), DataError> {
        self.change(action, Vec::new()).map(|_| ())
    }
}
