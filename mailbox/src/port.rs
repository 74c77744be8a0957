//! What the mailbox needs from the service: people and mandates, the letters of a mailbox,
//! their documents and evidences, and a way to record that a person opened a letter (the
//! service seals the ContentHandover). Every call may block (store, sealing): the web layer
//! calls it off the async threads.

use crate::people::{Mandate, Person};
use crate::sessions::LoginMethod;

/// A letter as a mailbox shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Letter {
    pub id: String,
    /// The mailbox it was delivered into (`nrn:…` or `cbe:…`).
    pub mailbox: String,
    /// The sender organisation, by name.
    pub sender: String,
    pub message_type: String,
    pub subject: String,
    /// Unix seconds.
    pub received_at: u64,
    /// Opened by someone already (its ContentHandover exists).
    pub opened: bool,
    pub documents: Vec<DocumentInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocumentInfo {
    pub name: String,
    pub media_type: String,
    pub size: u64,
    /// Hex.
    pub sha256: String,
}

/// A sealed evidence of a letter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceFile {
    pub id: String,
    /// The ETSI event name (SubmissionAcceptance, ContentConsignment, ContentHandover).
    pub event: String,
    pub xml: String,
}

/// Why the service could not do what the mailbox asked. Users see a generic page; the log
/// says which.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The store, the seal or the audit log cannot be reached now: nothing was done.
    #[error("the service is unavailable: {0}")]
    Unavailable(String),
    /// What is stored does not decode: an operator must look.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The service refused (its error row's code and the request's correlation id).
    #[error("refused: {code} ({correlation_id})")]
    Refused {
        code: &'static str,
        correlation_id: String,
    },
}

/// What a change of a person was, for its audit entry: its outcome and detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub detail: &'static str,
}

/// What of a letter a person reads: every route to a letter's content is one of these, and
/// each goes through [`MailboxData::read`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LetterPart {
    Page,
    Document(usize),
    Evidence(usize),
}

/// What a read hands out.
#[derive(Clone, Debug)]
pub struct LetterContent {
    /// Every evidence of the letter, oldest first (this opening's handover included).
    pub evidences: Vec<EvidenceFile>,
    /// The document's content, for [`LetterPart::Document`].
    pub document: Option<Vec<u8>>,
    /// The letter's access journal, oldest first, this read included.
    pub journal: Vec<JournalLine>,
}

/// One read of a letter, as its journal shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalLine {
    /// Unix seconds.
    pub at: u64,
    pub who: String,
    pub what: String,
}

/// An action in the mailbox as the audit log records it: `who` is the natural person (and
/// mandate), `what` the action, `ok` its outcome.
#[derive(Clone, Copy, Debug)]
pub struct Action<'a> {
    pub who: &'a str,
    pub what: &'static str,
    pub ok: bool,
    pub detail: &'a str,
}

/// The service, as the mailbox uses it. Every change comes with the action it is part of:
/// the service writes both in one commit, or neither.
pub trait MailboxData: Send + Sync {
    fn person(&self, login: &str) -> Result<Option<Person>, DataError>;
    /// The person a TLS client certificate chain (DER, theirs first) belongs to, if it chains
    /// now to the configured trust anchors for people and is registered to someone.
    fn person_by_certificate(&self, chain: &[Vec<u8>]) -> Result<Option<Person>, DataError>;
    /// Changes the person of `login` by `change`, atomically: read, changed and written back
    /// only if nobody changed them meanwhile (else read and changed again), with the audit
    /// entry of the action `what` and the outcome `change` returns. `None`: no such person.
    fn update_person(
        &self,
        login: &str,
        what: &'static str,
        change: &mut dyn FnMut(&mut Person) -> Outcome,
    ) -> Result<Option<(Person, Outcome)>, DataError>;
    fn mandates(&self) -> Result<Vec<Mandate>, DataError>;
    /// Writes `mandate` with the audit entry of `action`.
    fn put_mandate(&self, mandate: &Mandate, action: Action<'_>) -> Result<(), DataError>;
    /// The letters delivered into `mailbox`, newest first.
    fn letters(&self, mailbox: &str) -> Result<Vec<Letter>, DataError>;
    /// One page of them, newest first, and how many there are; reads only that page.
    fn letters_page(
        &self,
        mailbox: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Letter>, usize), DataError>;
    /// The names of every sender organisation (for the inbox's filter).
    fn sender_names(&self) -> Result<Vec<String>, DataError>;
    fn letter(&self, id: &str) -> Result<Option<Letter>, DataError>;
    /// `person` (under `mandate`) reads `part` of `letter`, which the mailbox has found they
    /// may read: the service traces it, and the first read of the letter seals the
    /// ContentHandover naming them, before anything is handed out.
    /// `login` is how the person logged in: a letter whose message type needs a higher
    /// authentication level is refused (and the refusal traced).
    fn read(
        &self,
        letter: &str,
        person: &Person,
        mandate: Option<&Mandate>,
        login: &LoginMethod,
        part: LetterPart,
    ) -> Result<LetterContent, DataError>;
    /// Since when the owner of mailbox `nrn` refuses electronic delivery (`None`: they accept
    /// it).
    fn delivery_refused(&self, nrn: &str) -> Result<Option<u64>, DataError>;
    /// `person` refuses (or accepts again) electronic delivery into their own mailbox, with
    /// its audit entry.
    fn choose_delivery(&self, person: &Person, refuse: bool) -> Result<(), DataError>;
    /// Writes the audit entry of a mailbox action that changes nothing (a login refused).
    fn record(&self, action: Action<'_>) -> Result<(), DataError>;
}
