//! `sealpost admin audit export`: the audit log as a `sealpost-audit-export-1` file
//! (docs/audit-export.md), which a third party verifies offline (`sealpost-verify
//! --audit-export`). The log is read page by page: memory does not grow with it.

use std::io::Write;
use std::time::SystemTime;

use sealpost_evidence::audit_export::{Anchor, End, ExportError, ExportWriter};

use crate::adapters::store::Backend;
use crate::core::StoreError;
use crate::core::audit::GENESIS;

/// How many entries a page holds at most.
const PAGE_ENTRIES: usize = 1000;
/// How many bytes of signed requests a page holds at most (a larger request comes alone).
const PAGE_REQUEST_BYTES: usize = 64 << 20;

/// Which entries to export, by the times they state (Unix seconds, inclusive).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<u64>,
    pub to: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditExportError {
    #[error("the store: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// The contiguous entries a window selects: from the first one stating a time at or after
/// `from` up to the last one before the first stating a time after `to` (times come from the
/// clock of the request that wrote each entry, so they may not be in sequence order by a
/// second or two; sequence numbers are). The anchor is the entry before the first one
/// exported (the last one purged, or the genesis, when that is the first kept); the last
/// sequence number exported (the anchor's when the window holds none).
pub fn range(store: &dyn Backend, window: Window) -> Result<(Anchor, u64), StoreError> {
    let start = store.audit_anchor()?.unwrap_or((0, GENESIS.to_owned()));
    let (seq, hash) = match window.from {
        None => start,
        Some(from) => store.audit_last_before(from)?.unwrap_or(start),
    };
    let (head, _) = store.audit_head()?;
    let to_seq = match window.to.and_then(|to| to.checked_add(1)) {
        None => head,
        Some(after) => store
            .audit_last_before(after)?
            .map_or(seq, |(last, _)| last.max(seq)),
    };
    Ok((Anchor { seq, hash }, to_seq))
}

/// Writes the export of the entries `window` selects, with the seals within them, into
/// `out`; what its trailer says.
pub fn export(
    store: &dyn Backend,
    window: Window,
    provider: &str,
    now: SystemTime,
    out: impl Write,
) -> Result<End, AuditExportError> {
    export_in_pages(
        store,
        window,
        provider,
        now,
        out,
        (PAGE_ENTRIES, PAGE_REQUEST_BYTES),
    )
}

/// [`export`], reading pages of at most `page.0` entries and `page.1` bytes of requests.
fn export_in_pages(
    store: &dyn Backend,
    window: Window,
    provider: &str,
    now: SystemTime,
    out: impl Write,
    (page_entries, page_bytes): (usize, usize),
) -> Result<End, AuditExportError> {
    let (anchor, to_seq) = range(store, window)?;
    let from_seq = anchor.seq + 1;
    let seals: Vec<_> = store
        .audit_seals()?
        .into_iter()
        .filter(|s| (from_seq..=to_seq).contains(&s.seq))
        .collect();
    // Seals counter-stamped by a second TSA make the export of the counter-stamped format.
    let mut writer = if seals.iter().any(|s| s.counter_token.is_some()) {
        ExportWriter::start_counter_stamped(out, provider, now, anchor, to_seq)?
    } else {
        ExportWriter::start(out, provider, now, anchor, to_seq)?
    };
    let mut next = from_seq;
    'pages: while next <= to_seq {
        let page = store.audit_entries_page(next, page_entries, page_bytes)?;
        if page.is_empty() {
            // `finish` says where the log stopped.
            break;
        }
        for (entry, request) in &page {
            if entry.seq > to_seq {
                break 'pages;
            }
            writer.entry(entry, request)?;
            next = entry.seq + 1;
        }
    }
    for seal in &seals {
        writer.seal(seal)?;
    }
    let (_, end) = writer.finish()?;
    Ok(end)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use sealpost_evidence::audit_export::AuditExportVerifier;
    use sealpost_evidence::verify::{Outcome, Policy, Verdict};

    use super::*;
    use crate::adapters::store::RedbStore;
    use crate::core::records::{AuditRecord, Channel};
    use crate::core::{Commit, Ledger};

    fn record(n: u64, time: u64) -> AuditRecord {
        AuditRecord {
            time,
            correlation_id: format!("c{n}"),
            channel: Channel::Admin,
            operation: "SenderSet".into(),
            identity: "sealpost admin".into(),
            outcome: "accepted".into(),
            code: None,
            kind: None,
            detail: format!("change {n}"),
            message_id: None,
            request: Arc::new(vec![b'x'; usize::try_from(n).expect("n") * 1000]),
            request_sha256: None,
        }
    }

    /// A store whose entries 1..=10 state the times 1000, 1010, ..., 1090.
    fn store(name: &str) -> (RedbStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("sealpost-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = RedbStore::open(&dir.join("sealpost.redb"), 1 << 20).expect("open");
        for n in 1..=10 {
            store
                .commit(Commit::of(record(n, 990 + 10 * n)))
                .expect("commit");
        }
        (store, dir)
    }

    fn lines(store: &dyn Backend, window: Window) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        // Pages of 3 entries, or fewer when their requests exceed 5000 bytes.
        export_in_pages(
            store,
            window,
            "Sealpost",
            SystemTime::UNIX_EPOCH,
            &mut out,
            (3, 5000),
        )
        .expect("export");
        String::from_utf8(out)
            .expect("UTF-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect()
    }

    fn seqs(lines: &[serde_json::Value]) -> Vec<u64> {
        lines[1..lines.len() - 1]
            .iter()
            .filter_map(|l| l["seq"].as_u64())
            .collect()
    }

    #[test]
    fn a_time_window_exports_the_contiguous_entries_it_selects_after_their_anchor() {
        let (store, dir) = store("export-window");
        let all = lines(&store, Window::default());
        assert_eq!(seqs(&all), (1..=10).collect::<Vec<_>>());
        assert_eq!(
            all[0]["anchor"],
            serde_json::json!({"seq": 0, "hash": GENESIS})
        );
        assert_eq!(all[11]["end"]["entries"], 10);
        let window = lines(
            &store,
            Window {
                from: Some(1025),
                to: Some(1060),
            },
        );
        assert_eq!(seqs(&window), [4, 5, 6, 7]);
        assert_eq!(window[0]["from_seq"], 4);
        assert_eq!(window[0]["anchor"]["seq"], 3);
        assert_eq!(window[0]["anchor"]["hash"], all[3]["hash"]);
        // A window that selects nothing: an empty export after its anchor.
        let none = lines(
            &store,
            Window {
                from: Some(1061),
                to: Some(1062),
            },
        );
        assert_eq!(none.len(), 2);
        assert_eq!(
            (none[0]["from_seq"].as_u64(), none[0]["to_seq"].as_u64()),
            (Some(8), Some(7))
        );
        assert_eq!(none[1]["end"]["head_seq"], 7);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_purged_log_is_exported_from_its_anchor_and_verifies_but_for_its_seals() {
        let (store, dir) = store("export-purged");
        let entries = store.audit_entries(4, 4).expect("entry");
        store
            .purge_audit_through(4, &entries[0].0.hash)
            .expect("purge");
        let mut out = Vec::new();
        let end = export(
            &store,
            Window::default(),
            "Sealpost",
            SystemTime::UNIX_EPOCH,
            &mut out,
        )
        .expect("export");
        assert_eq!((end.entries, end.head_seq), (6, 10));
        let report = AuditExportVerifier::new(Policy {
            anchors: Vec::new(),
            provider: None,
        })
        .verify(|| Ok(out.as_slice()))
        .expect("read");
        // Nothing sealed: not valid, but every entry, the chain and the trailer check.
        assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
        for step in &report.steps[..4] {
            assert!(matches!(step.outcome, Outcome::Passed(_)), "{report:#?}");
        }
        assert_eq!(report.anchor.map(|a| a.seq), Some(4));
        let _ = std::fs::remove_dir_all(dir);
    }
}
