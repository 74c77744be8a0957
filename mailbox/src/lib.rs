//! Mailboxes for citizens (`nrn:`) and companies (`cbe:`), mandates, strong login, and the web
//! UI mounted by the service at `/mailbox/`.

pub mod credentials;
pub mod people;
pub mod sessions;
