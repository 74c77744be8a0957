//! The sender registry declared in the file (`[[senders.registry]]`): its entries and their
//! validation.

use std::path::PathBuf;

use crate::core::ids::RecipientKind;

use super::raw::RawSenderEntry;
use super::readable;

/// A sender organisation declared in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderEntry {
    pub id: String,
    pub name: String,
    pub certificates: Vec<PathBuf>,
    pub message_types: Vec<String>,
    pub recipient_kinds: Vec<RecipientKind>,
    pub active: bool,
}

/// The `[[senders.registry]]` entries, checked for what can be checked without the PKI (the
/// certificates are validated against the trust anchors when the service starts).
pub(super) fn validate_registry(
    entries: &[RawSenderEntry],
    problems: &mut Vec<String>,
) -> Vec<SenderEntry> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = format!("senders.registry[{i}] ({:?})", e.id);
        if e.id.trim().is_empty() || e.name.trim().is_empty() {
            problems.push(format!("{at}: id and name must not be empty"));
        }
        if !seen.insert(e.id.clone()) {
            problems.push(format!("{at}: the id is declared twice"));
        }
        if e.certificates.is_empty() {
            problems.push(format!("{at}: no certificate"));
        }
        for cert in &e.certificates {
            readable(cert, &format!("{at} certificate"), problems);
        }
        let message_types: Vec<String> = e
            .message_types
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        if message_types.is_empty() {
            problems.push(format!("{at}: no message type"));
        }
        let mut recipient_kinds = Vec::new();
        for r in &e.recipients {
            match RecipientKind::parse(r.trim()) {
                Some(kind) => recipient_kinds.push(kind),
                None => problems.push(format!("{at}: recipient kind {r:?}: citizen or company")),
            }
        }
        if recipient_kinds.is_empty() {
            problems.push(format!("{at}: no recipient kind"));
        }
        out.push(SenderEntry {
            id: e.id.clone(),
            name: e.name.clone(),
            certificates: e.certificates.clone(),
            message_types,
            recipient_kinds,
            active: e.active,
        });
    }
    out
}
