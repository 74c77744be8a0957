//! What the mailbox needs from the service: people and mandates, the letters of a mailbox,
//! their documents and evidences, and a way to record that a person opened a letter (the
//! service seals the ContentHandover). Every call may block (store, sealing): the web layer
//! calls it off the async threads.

use crate::people::{Mandate, Person};

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

/// The service, as the mailbox uses it. Errors are for the log; users see a generic page.
pub trait MailboxData: Send + Sync {
    fn person(&self, login: &str) -> Result<Option<Person>, String>;
    /// The person a TLS client certificate chain (DER, theirs first) belongs to, if it chains
    /// now to the configured trust anchors for people and is registered to someone.
    fn person_by_certificate(&self, chain: &[Vec<u8>]) -> Result<Option<Person>, String>;
    fn put_person(&self, person: &Person) -> Result<(), String>;
    fn mandates(&self) -> Result<Vec<Mandate>, String>;
    fn put_mandate(&self, mandate: &Mandate) -> Result<(), String>;
    /// The letters delivered into `mailbox`, newest first.
    fn letters(&self, mailbox: &str) -> Result<Vec<Letter>, String>;
    /// One page of them, newest first, and how many there are; reads only that page.
    fn letters_page(
        &self,
        mailbox: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Letter>, usize), String>;
    /// The names of every sender organisation (for the inbox's filter).
    fn sender_names(&self) -> Result<Vec<String>, String>;
    fn letter(&self, id: &str) -> Result<Option<Letter>, String>;
    fn document(&self, letter: &str, index: usize) -> Result<Option<Vec<u8>>, String>;
    fn evidences(&self, letter: &str) -> Result<Vec<EvidenceFile>, String>;
    /// `person` opened `letter` (under `mandate`): the first time, the service seals a
    /// ContentHandover naming them.
    fn opened(
        &self,
        letter: &str,
        person: &Person,
        mandate: Option<&Mandate>,
    ) -> Result<(), String>;
    /// Writes an entry of the audit log for a mailbox action (log in, grant a mandate, …):
    /// `who` is the natural person (and mandate), `what` the action, `ok` its outcome.
    fn record(&self, who: &str, what: &'static str, ok: bool, detail: &str) -> Result<(), String>;
}
