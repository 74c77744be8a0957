//! Mailboxes for citizens (`nrn:`) and companies (`cbe:`), mandates, strong login, and the web
//! UI mounted by the service at `/mailbox/`. The crate knows the service only through the
//! [`port::MailboxData`] trait, which the service implements on its store and core.

pub mod credentials;
pub mod people;
pub mod port;
pub mod sessions;
pub mod web;

/// Percent-encodes everything but RFC 3986's unreserved characters (for URL paths, query
/// values and otpauth URIs).
pub(crate) fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
