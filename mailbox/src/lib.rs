//! Mailboxes for citizens (`nrn:`) and companies (`cbe:`), mandates, strong login, and the web
//! UI mounted by the service at `/mailbox/`.
//!
//! Not built yet: the mailbox issue fills this crate. It exists so that the workspace layout of
//! DESIGN.md is fixed from the start.
