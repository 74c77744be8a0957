//! Mailboxes for citizens (`nrn:`) and companies (`cbe:`), mandates, strong login, and the web
//! UI mounted by the service at `/mailbox/`. The crate knows the service only through the
//! [`port::MailboxData`] trait, which the service implements on its store and core.

pub mod credentials;
pub mod people;
pub mod port;
pub mod sessions;
pub mod web;
