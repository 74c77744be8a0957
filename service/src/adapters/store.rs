//! The embedded store: redb, one file under the data directory. A commit is durable (fsync)
//! when `commit` returns. The audit entry is chained inside the same transaction, so an entry
//! exists exactly when what it records was written.
//!
//! Group commit: commits that arrive while another is being written wait, then go together in
//! the next redb write transaction, one fsync for all. Each keeps its own all-or-nothing
//! meaning: an idempotency key already taken, or the mark of a signed request already
//! received, skips that commit's writes only. A transaction that fails fails every commit in
//! it (nothing of any is acknowledged).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use redb::backends::FileBackend;
use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, StorageBackend,
    TableDefinition,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::blobs::{BlobRef, Segments};
use super::io_faults::{self, IoFaults};
use crate::core::audit::{self, GENESIS};
use crate::core::records::{
    ArchivedEvidence, AuditEntry, AuditSeal, EvidenceRecord, IdempotencyRecord, Mailbox,
    MessageRecord, Notice, ReadRecord, SenderRegistration,
};
use crate::core::{
    Commit, Committed, Directory, Ledger, Messages, Outbox, RecordKind, Registry, SeenRequest,
    Store, StoreError,
};
use sealpost_evidence::model::Sha256;

const SENDERS: TableDefinition<&str, &[u8]> = TableDefinition::new("senders");
const SENDER_CERTIFICATES: TableDefinition<&str, &str> =
    TableDefinition::new("sender_certificates");
const MAILBOXES: TableDefinition<&str, &[u8]> = TableDefinition::new("mailboxes");
const MESSAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("messages");
/// (message id, index) → the document's [`BlobRef`] in the documents segments.
const DOCUMENTS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("documents");
/// (recipient, message id) → Unix time of delivery.
const MAILBOX_ENTRIES: TableDefinition<(&str, &str), u64> = TableDefinition::new("mailbox_entries");
const EVIDENCES: TableDefinition<&str, &[u8]> = TableDefinition::new("evidences");
/// (message id, order) → evidence id.
const MESSAGE_EVIDENCES: TableDefinition<(&str, u32), &str> =
    TableDefinition::new("message_evidences");
/// The sender organisation's own mailbox of evidences: (sender id, evidence id) → message id.
const SENDER_EVIDENCES: TableDefinition<(&str, &str), &str> =
    TableDefinition::new("sender_evidences");
const IDEMPOTENCY: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("idempotency");
/// Notice id (time-ordered) → a [`Notice`] not sent yet: the outbox.
const OUTBOX: TableDefinition<&str, &[u8]> = TableDefinition::new("outbox");
/// (message id, order) → a [`ReadRecord`]: the letter's access journal.
const READS: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("letter_reads");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
/// Audit sequence number → the signed request's [`BlobRef`] in the requests segments.
const AUDIT_REQUESTS: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_requests");
/// Message id → the sender's signed request that submitted it (a [`BlobRef`] in the requests
/// segments): kept with the message's evidences, after its audit entry's trace is purged.
const MESSAGE_REQUESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("message_requests");
/// "format" → the store's format number.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// 3: each document's submission time-stamp token in its message record, and the marks of
/// signed requests received; 2: documents and requests in segment files (1 kept them inside
/// redb).
const FORMAT: u64 = 3;
/// SHA-256 of a signed request's content → until when (Unix seconds) it could be presented:
/// until then, the same content again is a replay.
const SEEN: TableDefinition<&[u8], u64> = TableDefinition::new("seen_requests");
/// (until, SHA-256) → (): the marks in expiry order, to forget the expired ones.
const SEEN_BY_UNTIL: TableDefinition<(u64, &[u8]), ()> =
    TableDefinition::new("seen_requests_by_until");
/// How many expired marks a commit forgets (more than it adds: the table stays bounded by
/// the requests of one freshness window).
const FORGET_PER_COMMIT: usize = 8;
const AUDIT_SEALS: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_seals");
/// Sequence number → hash of the last entry purged from the audit log (the latest is the anchor).
const ANCHOR: TableDefinition<u64, &str> = TableDefinition::new("audit_anchor");
/// Recipient → how many messages its mailbox holds.
const MAILBOX_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("mailbox_counts");
/// (kind, key) → bytes: records of other crates (see `Backend::put_entity`).
const ENTITIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("entities");

fn fail(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(fail)
}

fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(fail)
}

/// `record` with its archived form (`RecordKind::EvidenceArchive`), when `entities` holds one.
fn with_archive(
    entities: &impl ReadableTable<(&'static str, &'static str), &'static [u8]>,
    mut record: EvidenceRecord,
) -> Result<EvidenceRecord, StoreError> {
    if let Some(v) = entities
        .get((RecordKind::EvidenceArchive.name(), record.id.as_str()))
        .map_err(fail)?
    {
        record.archived = Some(from_json::<ArchivedEvidence>(v.value())?.xml);
    }
    Ok(record)
}

/// What administration, the periodic audit seal and the mailbox need of a store, beyond the
/// core's port: the registry, the directory, stored documents and the audit log. Both
/// backends (redb, PostgreSQL) implement it and pass the same conformance tests.
pub trait Backend: Store + Outbox {
    /// Whether the store takes a write now: a durable write of `at` (seconds) to a probe
    /// record, which nothing reads. For readiness: a store that cannot write refuses every
    /// letter.
    fn probe_write(&self, at: u64) -> Result<(), StoreError>;
    /// Whether `holder` holds the lease of the periodic job `job` at `now` (Unix seconds):
    /// taken when no one holds it or its holder let it run out, renewed when `holder` holds
    /// it; either way held until `until`. False: another holder's lease runs until later.
    /// So that a job of the cluster (the audit seal, retention, archiving, notices) runs on
    /// one node at a time, and on another once the node that held it dies.
    fn hold_lease(&self, job: &str, holder: &str, now: u64, until: u64)
    -> Result<bool, StoreError>;
    /// A number for this process among the nodes sharing the store, different from every
    /// other node's running now (below `sealpost_tsa::serial::NODES`): the embedded TSA puts
    /// it in its serials, so that two nodes never issue the same one.
    fn node_number(&self) -> Result<u32, StoreError>;
    fn senders(&self) -> Result<Vec<SenderRegistration>, StoreError>;
    fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError>;
    /// Messages delivered into a mailbox, newest first.
    fn mailbox_messages(&self, recipient: &str) -> Result<Vec<MessageRecord>, StoreError>;
    /// One page of a mailbox, newest first (by message id: ids are time-ordered UUIDv7), and
    /// how many messages it holds; reads only that page.
    fn mailbox_page(
        &self,
        recipient: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<MessageRecord>, usize), StoreError>;
    /// The sender's signed request that submitted a message, as received: kept as long as
    /// the message's evidences, even once its audit entry's trace is purged.
    fn signed_request(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Evidence ids in a sender organisation's own mailbox.
    fn sender_mailbox(&self, sender_id: &str) -> Result<Vec<String>, StoreError>;
    /// At most `limit` evidences whose id sorts after `after` ("": from the first), in id
    /// order (ids are time-ordered), each with its archived form: the archive job visits
    /// them all with bounded memory.
    fn evidences_page(&self, after: &str, limit: usize) -> Result<Vec<EvidenceRecord>, StoreError>;
    /// Audit entries with `from <= seq <= to`, each with its stored request (beside the entry:
    /// `entry.record.request` stays empty).
    fn audit_entries(&self, from: u64, to: u64) -> Result<Vec<(AuditEntry, Vec<u8>)>, StoreError>;
    /// One page of the audit log, to visit it with bounded memory: the entries from `from` on,
    /// in sequence order, each with its stored request, at most `max_entries` of them and no
    /// more than fit in `max_request_bytes` of requests, but always the first one (however
    /// large its request) when there is one and `max_entries` is not 0. Reads only those.
    fn audit_entries_page(
        &self,
        from: u64,
        max_entries: usize,
        max_request_bytes: usize,
    ) -> Result<Vec<(AuditEntry, Vec<u8>)>, StoreError>;
    /// The head of the audit log: its last sequence number and hash (0 and the genesis hash
    /// when empty).
    fn audit_head(&self) -> Result<(u64, String), StoreError>;
    fn put_audit_seal(&self, seal: &AuditSeal) -> Result<(), StoreError>;
    /// The last entry written before `time` (Unix seconds): sequence number and hash.
    fn audit_last_before(&self, time: u64) -> Result<Option<(u64, String)>, StoreError>;
    /// Removes the entries up to `seq` and their stored requests, keeping `(seq, hash)` as the
    /// anchor the rest of the chain is verified from.
    fn purge_audit_through(&self, seq: u64, hash: &str) -> Result<(), StoreError>;
    /// The anchor of a purged log: the last purged entry's sequence number and hash.
    fn audit_anchor(&self) -> Result<Option<(u64, String)>, StoreError>;
    /// Deletes the evidences whose identifier sorts before `floor` (identifiers are UUIDv7:
    /// the older ones, see `evidence_id_floor`), with their indexes, the signed requests of
    /// those messages and the identification vectors of requests made before then; how many
    /// evidences.
    fn purge_evidences_before(&self, floor: &str) -> Result<usize, StoreError>;
    /// Deletes the reads of letters' access journals made before `time` (Unix seconds): they
    /// are traces, purged with the audit log's; how many.
    fn purge_reads_before(&self, time: u64) -> Result<usize, StoreError>;
    fn audit_seals(&self) -> Result<Vec<AuditSeal>, StoreError>;
    /// How many marks of signed requests are kept (expired ones are forgotten by later
    /// commits).
    fn seen_requests(&self) -> Result<u64, StoreError>;
    /// A record of another crate (the mailbox's people and mandates, the legal holds) by kind
    /// and key; its bytes are the owner's business. They are written only in a commit, with
    /// the audit entry of the action that changes them (`Commit::records`).
    fn entity(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Every record of a kind, by key.
    fn entities(&self, kind: &str) -> Result<Vec<Vec<u8>>, StoreError>;
}

/// The redb store.
///
/// After an I/O error (a full disk, a failing device) redb refuses every transaction until
/// the database is opened again: the store then reopens it itself, at the next use (or at
/// once, for a commit whose outcome must be found out), and answers from what the file holds.
pub struct RedbStore {
    path: PathBuf,
    /// The store file opened at start (device, inode): the only one it opens again.
    file: (u64, u64),
    cache_bytes: usize,
    /// When opening it again last failed: the next try waits REOPEN_BACKOFF.
    last_failed_reopen: Mutex<Option<std::time::Instant>>,
    /// Errors injected before writes and syncs (the fault tests'), or none.
    faults: Option<Arc<IoFaults>>,
    /// The open database, or why it could not be opened again after an I/O error.
    db: RwLock<Result<Opened, String>>,
    /// How many times the database was opened again after an I/O error.
    reopened: AtomicU64,
    documents: Segments,
    requests: Segments,
    /// Commits waiting for the next write transaction, each with where its outcome goes.
    pending: Mutex<Vec<(Commit, Arc<Outcome>)>>,
    /// Held by the thread writing a group.
    writer: Mutex<()>,
}

/// Where a waiting commit finds its outcome.
type Outcome = Mutex<Option<Result<Committed, StoreError>>>;

/// How long after a failed attempt to open the database again the next one is made.
const REOPEN_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// How many documents and signed requests of each table are read back at start.
const CHECKED_AT_START: usize = 16;

/// What [`RedbStore::check`] found.
#[derive(Debug, Default)]
pub struct StoreCheck {
    /// References to segments looked at.
    pub references: u64,
    /// Of those, read back against their SHA-256.
    pub read_back: u64,
    /// Each one that does not hold, said.
    pub mismatches: Vec<String>,
}

/// The database as opened, and whether its file has failed an I/O since.
struct Opened {
    db: Database,
    io_failed: Arc<AtomicBool>,
}

/// The open database, for one operation; no reopening happens while it is held.
struct DbGuard<'a>(RwLockReadGuard<'a, Result<Opened, String>>);

impl std::ops::Deref for DbGuard<'_> {
    type Target = Database;
    fn deref(&self) -> &Database {
        match &*self.0 {
            Ok(opened) => &opened.db,
            // `RedbStore::db` makes a guard only over an open database.
            Err(_) => unreachable!("a guard over a database that is not open"),
        }
    }
}

/// The store file, as redb sees it: every I/O goes to the file, and an error marks the
/// database as failed (redb refuses all after one: it must be opened again).
#[derive(Debug)]
struct Disk {
    file: FileBackend,
    io_failed: Arc<AtomicBool>,
    faults: Option<Arc<IoFaults>>,
}

impl Disk {
    fn watch<T>(&self, result: std::io::Result<T>) -> std::io::Result<T> {
        if result.is_err() {
            self.io_failed.store(true, Ordering::SeqCst);
        }
        result
    }
}

impl StorageBackend for Disk {
    fn len(&self) -> std::io::Result<u64> {
        self.watch(self.file.len())
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.watch(self.file.read(offset, out))
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let result = io_faults::before(self.faults.as_deref(), "store length")
            .and_then(|()| self.file.set_len(len));
        self.watch(result)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        let result = io_faults::before(self.faults.as_deref(), "store sync")
            .and_then(|()| self.file.sync_data());
        self.watch(result)
    }
    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let result = io_faults::before(self.faults.as_deref(), "store write")
            .and_then(|()| self.file.write(offset, data));
        self.watch(result)
    }
    fn close(&self) -> std::io::Result<()> {
        self.file.close()
    }
}

/// Which file a path names: (device, inode).
fn identity(file: &std::fs::File) -> Result<(u64, u64), StoreError> {
    use std::os::unix::fs::MetadataExt;
    let m = file.metadata().map_err(fail)?;
    Ok((m.dev(), m.ino()))
}

/// Opens the database file at `path` over a [`Disk`]: creates it when `same_as` is none (the
/// first opening); otherwise it must be that very file (opened again after an I/O error:
/// never a file put in its place, never a new empty one), and what the page cache holds of it
/// is dropped first, so that redb reads what the disk holds (after a failed sync, Linux may
/// keep serving pages it could not write).
fn open_database(
    path: &Path,
    cache_bytes: usize,
    faults: Option<Arc<IoFaults>>,
    same_as: Option<(u64, u64)>,
) -> Result<(Opened, (u64, u64)), StoreError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(same_as.is_none())
        .truncate(false)
        .open(path)
        .map_err(|e| fail(format!("opening {}: {e}", path.display())))?;
    let this = identity(&file)?;
    if let Some(expected) = same_as {
        if this != expected {
            return Err(StoreError::Corrupt(format!(
                "{} is no longer the store file opened at start (another file is in its place)",
                path.display()
            )));
        }
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).map_err(|e| {
            fail(format!(
                "dropping the cached pages of {}: {e}",
                path.display()
            ))
        })?;
    }
    let io_failed = Arc::new(AtomicBool::new(false));
    let disk = Disk {
        file: FileBackend::new(file).map_err(fail)?,
        io_failed: Arc::clone(&io_failed),
        faults,
    };
    let db = Database::builder()
        .set_cache_size(cache_bytes)
        .create_with_backend(disk)
        .map_err(fail)?;
    Ok((Opened { db, io_failed }, this))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens (or creates) the store file, and its segments in `blobs/` beside it; creates
    /// every table so that reads never meet a missing one. `cache_bytes`: the most memory
    /// redb keeps pages in (it holds on to all of it once the store is larger).
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        Self::open_with_faults(path, cache_bytes, None)
    }

    /// [`RedbStore::open`], with `faults` injected before each write, length change and sync
    /// of the database and of its segments: for the fault tests.
    pub fn open_with_faults(
        path: &Path,
        cache_bytes: usize,
        faults: Option<Arc<IoFaults>>,
    ) -> Result<Self, StoreError> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(fail)?;
        let (opened, file) = open_database(path, cache_bytes, faults.clone(), None)?;
        let db = &opened.db;
        let txn = db.begin_write().map_err(fail)?;
        {
            let mut meta = txn.open_table(META).map_err(fail)?;
            let format = meta.get("format").map_err(fail)?.map(|v| v.value());
            match format {
                Some(FORMAT) => {}
                Some(other) => {
                    return Err(StoreError::Corrupt(format!(
                        "{} is in store format {other}; this Sealpost reads format {FORMAT}",
                        path.display()
                    )));
                }
                None => {
                    let used = txn
                        .open_table(AUDIT)
                        .and_then(|t| t.len().map_err(Into::into))
                        .map_err(fail)?;
                    if used > 0 {
                        return Err(StoreError::Corrupt(format!(
                            "{} was written by an earlier Sealpost (store format 1, documents inside the database); this Sealpost reads format {FORMAT}",
                            path.display()
                        )));
                    }
                    meta.insert("format", FORMAT).map_err(fail)?;
                }
            }
        }
        {
            txn.open_table(SENDERS).map_err(fail)?;
            txn.open_table(SENDER_CERTIFICATES).map_err(fail)?;
            txn.open_table(MAILBOXES).map_err(fail)?;
            txn.open_table(MESSAGES).map_err(fail)?;
            txn.open_table(READS).map_err(fail)?;
            txn.open_table(OUTBOX).map_err(fail)?;
            txn.open_table(DOCUMENTS).map_err(fail)?;
            txn.open_table(MAILBOX_ENTRIES).map_err(fail)?;
            txn.open_table(EVIDENCES).map_err(fail)?;
            txn.open_table(MESSAGE_EVIDENCES).map_err(fail)?;
            txn.open_table(SENDER_EVIDENCES).map_err(fail)?;
            txn.open_table(IDEMPOTENCY).map_err(fail)?;
            txn.open_table(AUDIT).map_err(fail)?;
            txn.open_table(AUDIT_REQUESTS).map_err(fail)?;
            txn.open_table(MESSAGE_REQUESTS).map_err(fail)?;
            txn.open_table(AUDIT_SEALS).map_err(fail)?;
            txn.open_table(ENTITIES).map_err(fail)?;
            txn.open_table(MAILBOX_COUNTS).map_err(fail)?;
            txn.open_table(ANCHOR).map_err(fail)?;
            txn.open_table(SEEN).map_err(fail)?;
            txn.open_table(SEEN_BY_UNTIL).map_err(fail)?;
        }
        txn.commit().map_err(fail)?;
        let blobs = dir.join("blobs");
        let store = RedbStore {
            path: path.to_owned(),
            file,
            cache_bytes,
            last_failed_reopen: Mutex::new(None),
            documents: Segments::open_with_faults(&blobs, "documents", faults.clone())?,
            requests: Segments::open_with_faults(&blobs, "requests", faults.clone())?,
            faults,
            db: RwLock::new(Ok(opened)),
            reopened: AtomicU64::new(0),
            pending: Mutex::default(),
            writer: Mutex::default(),
        };
        let check = store.check(CHECKED_AT_START)?;
        if check.mismatches.is_empty() {
            tracing::info!(
                references = check.references,
                read_back = check.read_back,
                "store checked: every document and request it names lies within its segment, the newest read back against their SHA-256"
            );
        } else {
            tracing::error!(
                mismatches = check.mismatches.len(),
                first = ?check.mismatches.iter().take(5).collect::<Vec<_>>(),
                "the store names bytes its segments do not hold as stored: those documents or requests cannot be served (an operator must look; every other letter is served)"
            );
        }
        Ok(store)
    }

    /// Checks what the store names in its segments: every document and signed request it
    /// names must lie within its segment file, and the `newest` of each table are read back
    /// against their SHA-256. Each mismatch, said.
    pub fn check(&self, newest: usize) -> Result<StoreCheck, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let mut check = StoreCheck::default();
        let mut document_lengths = std::collections::HashMap::new();
        let mut request_lengths = std::collections::HashMap::new();
        let mut look = |segments: &Segments,
                        lengths: &mut std::collections::HashMap<u32, u64>,
                        what: String,
                        blob: &[u8],
                        read_back: bool| {
            check.references += 1;
            let named = match BlobRef::decode(blob) {
                Ok(r) => r,
                Err(e) => return check.mismatches.push(format!("{what}: {e}")),
            };
            if let Err(why) = segments.holds(&named, lengths) {
                return check.mismatches.push(format!("{what}: {why}"));
            }
            if read_back {
                check.read_back += 1;
                if let Err(e) = segments.read(&named) {
                    check.mismatches.push(format!("{what}: {e}"));
                }
            }
        };
        let documents = txn.open_table(DOCUMENTS).map_err(fail)?;
        let total = documents.len().map_err(fail)?;
        for (i, row) in documents.iter().map_err(fail)?.enumerate() {
            let (key, blob) = row.map_err(fail)?;
            let (message, index) = key.value();
            look(
                &self.documents,
                &mut document_lengths,
                format!("document {index} of {message}"),
                blob.value(),
                (i as u64) + (newest as u64) >= total,
            );
        }
        let traces = txn.open_table(AUDIT_REQUESTS).map_err(fail)?;
        let total = traces.len().map_err(fail)?;
        for (i, row) in traces.iter().map_err(fail)?.enumerate() {
            let (seq, blob) = row.map_err(fail)?;
            look(
                &self.requests,
                &mut request_lengths,
                format!("the signed request of audit entry {}", seq.value()),
                blob.value(),
                (i as u64) + (newest as u64) >= total,
            );
        }
        let requests = txn.open_table(MESSAGE_REQUESTS).map_err(fail)?;
        for row in requests.iter().map_err(fail)? {
            let (message, blob) = row.map_err(fail)?;
            look(
                &self.requests,
                &mut request_lengths,
                format!("the signed request of {}", message.value()),
                blob.value(),
                false,
            );
        }
        Ok(check)
    }

    /// The open database; opened again first if its file failed an I/O since (redb refuses
    /// everything after one), or if opening it again failed before.
    fn db(&self) -> Result<DbGuard<'_>, StoreError> {
        let usable = |held: &Result<Opened, String>| {
            held.as_ref()
                .is_ok_and(|o| !o.io_failed.load(Ordering::SeqCst))
        };
        {
            let held = read_lock(&self.db);
            if usable(&held) {
                return Ok(DbGuard(held));
            }
        }
        self.reopen();
        let held = read_lock(&self.db);
        match &*held {
            Ok(_) if usable(&held) => Ok(DbGuard(held)),
            Ok(_) => Err(StoreError::Unavailable(
                "the store file failed an I/O again as it was opened".into(),
            )),
            Err(why) => Err(StoreError::Unavailable(format!(
                "the store could not be opened again after an I/O error: {why}"
            ))),
        }
    }

    /// Opens the database again if it failed (once, however many threads find it so): the old
    /// one is closed first (redb locks its file), then redb's recovery reads the file as the
    /// last durable commit left it.
    fn reopen(&self) {
        // After a failed try, the requests meanwhile are refused at once rather than each
        // trying again (and holding every reader back while it does).
        if lock(&self.last_failed_reopen).is_some_and(|at| at.elapsed() < REOPEN_BACKOFF) {
            return;
        }
        let mut held = write_lock(&self.db);
        if held
            .as_ref()
            .is_ok_and(|o| !o.io_failed.load(Ordering::SeqCst))
        {
            return; // another thread reopened it meanwhile
        }
        *held = Err("closing it".into());
        *held = open_database(
            &self.path,
            self.cache_bytes,
            self.faults.clone(),
            Some(self.file),
        )
        .map(|(opened, _)| opened)
        .map_err(|e| e.to_string());
        *lock(&self.last_failed_reopen) = held.is_err().then(std::time::Instant::now);
        match &*held {
            Ok(_) => {
                let n = self.reopened.fetch_add(1, Ordering::SeqCst) + 1;
                tracing::warn!(
                    path = %self.path.display(),
                    reopened = n,
                    "the store file failed an I/O: opened again"
                );
            }
            Err(why) => tracing::error!(
                path = %self.path.display(),
                why,
                "the store file failed an I/O and could not be opened again; trying at the next request"
            ),
        }
    }

    /// How many times the database was opened again after an I/O error.
    pub fn reopened(&self) -> u64 {
        self.reopened.load(Ordering::SeqCst)
    }

    /// The head of the audit log in a transaction: its last entry's sequence number and hash;
    /// when it holds none, the anchor of the entries purged, or the genesis.
    fn head_in(
        entries: &impl ReadableTable<u64, &'static [u8]>,
        anchors: &impl ReadableTable<u64, &'static str>,
    ) -> Result<(u64, String), StoreError> {
        match entries.last().map_err(fail)? {
            Some((seq, entry)) => Ok((seq.value(), from_json::<AuditEntry>(entry.value())?.hash)),
            None => match anchors.last().map_err(fail)? {
                Some((seq, hash)) => Ok((seq.value(), hash.value().to_owned())),
                None => Ok((0, GENESIS.to_owned())),
            },
        }
    }

    /// One commit's writes in `txn`, its documents and request already in their segments
    /// (`documents`, `request`); nothing is written if its request's mark is there unexpired
    /// or its idempotency key is taken.
    fn apply(
        txn: &redb::WriteTransaction,
        commit: Commit,
        documents: &[BlobRef],
        request: Option<BlobRef>,
    ) -> Result<Committed, StoreError> {
        {
            {
                let marks = txn.open_table(SEEN).map_err(fail)?;
                for seen in &commit.seen {
                    if Self::holds_mark(&marks, seen)? {
                        // Nothing of this commit is written.
                        return Ok(Committed::Replayed);
                    }
                }
            }
            // Every premise before any write: a group's transaction holds other commits too.
            if !Self::premises_hold(txn, &commit)? {
                return Ok(Committed::Changed);
            }
            if let Some((sender, key, record)) = &commit.idempotency {
                let mut table = txn.open_table(IDEMPOTENCY).map_err(fail)?;
                let known = table
                    .get((sender.as_str(), key.as_str()))
                    .map_err(fail)?
                    .map(|v| from_json::<IdempotencyRecord>(v.value()))
                    .transpose()?;
                if let Some(known) = known {
                    // Nothing of this commit is written.
                    return Ok(Committed::KeyTaken(known));
                }
                table
                    .insert((sender.as_str(), key.as_str()), to_json(record)?.as_slice())
                    .map_err(fail)?;
            }
            for seen in &commit.seen {
                Self::mark(txn, seen)?;
            }
            if let Some(message) = &commit.message {
                txn.open_table(MESSAGES)
                    .map_err(fail)?
                    .insert(message.id.as_str(), to_json(message)?.as_slice())
                    .map_err(fail)?;
                let known = txn
                    .open_table(MAILBOX_ENTRIES)
                    .map_err(fail)?
                    .insert(
                        (message.recipient.as_str(), message.id.as_str()),
                        message.submitted_at,
                    )
                    .map_err(fail)?
                    .is_some();
                if !known {
                    let mut counts = txn.open_table(MAILBOX_COUNTS).map_err(fail)?;
                    let n = counts
                        .get(message.recipient.as_str())
                        .map_err(fail)?
                        .map_or(0, |v| v.value());
                    counts
                        .insert(message.recipient.as_str(), n + 1)
                        .map_err(fail)?;
                }
                let mut table = txn.open_table(DOCUMENTS).map_err(fail)?;
                for (i, blob) in documents.iter().enumerate() {
                    let i = u32::try_from(i).map_err(fail)?;
                    table
                        .insert((message.id.as_str(), i), blob.encode().as_slice())
                        .map_err(fail)?;
                }
            }
            if let Some(update) = &commit.message_update {
                let message = &update.record;
                let mut messages = txn.open_table(MESSAGES).map_err(fail)?;
                if messages.get(message.id.as_str()).map_err(fail)?.is_none() {
                    return Err(StoreError::Conflict(format!(
                        "no message {} to update",
                        message.id
                    )));
                }
                messages
                    .insert(message.id.as_str(), to_json(message)?.as_slice())
                    .map_err(fail)?;
            }
            let mut evidences = txn.open_table(EVIDENCES).map_err(fail)?;
            let mut index = txn.open_table(MESSAGE_EVIDENCES).map_err(fail)?;
            let mut sender_box = txn.open_table(SENDER_EVIDENCES).map_err(fail)?;
            for e in &commit.evidences {
                evidences
                    .insert(e.id.as_str(), to_json(e)?.as_slice())
                    .map_err(fail)?;
                let next = match index
                    .range((e.message_id.as_str(), 0)..=(e.message_id.as_str(), u32::MAX))
                    .map_err(fail)?
                    .next_back()
                {
                    Some(row) => row.map_err(fail)?.0.value().1 + 1,
                    None => 0,
                };
                index
                    .insert((e.message_id.as_str(), next), e.id.as_str())
                    .map_err(fail)?;
                sender_box
                    .insert((e.sender_id.as_str(), e.id.as_str()), e.message_id.as_str())
                    .map_err(fail)?;
            }
            for sender in &commit.senders {
                Self::write_sender(txn, sender)?;
            }
            if !commit.notices.is_empty() || !commit.notices_sent.is_empty() {
                let mut outbox = txn.open_table(OUTBOX).map_err(fail)?;
                for notice in &commit.notices {
                    outbox
                        .insert(notice.id.as_str(), to_json(notice)?.as_slice())
                        .map_err(fail)?;
                }
                for id in &commit.notices_sent {
                    outbox.remove(id.as_str()).map_err(fail)?;
                }
            }
            if let Some(read) = &commit.read {
                let mut reads = txn.open_table(READS).map_err(fail)?;
                let id = read.message_id.as_str();
                let next = match reads
                    .range((id, 0)..=(id, u32::MAX))
                    .map_err(fail)?
                    .next_back()
                {
                    Some(row) => row.map_err(fail)?.0.value().1 + 1,
                    None => 0,
                };
                reads
                    .insert((id, next), to_json(read)?.as_slice())
                    .map_err(fail)?;
            }
            for mailbox in &commit.mailboxes {
                txn.open_table(MAILBOXES)
                    .map_err(fail)?
                    .insert(mailbox.id.as_str(), to_json(mailbox)?.as_slice())
                    .map_err(fail)?;
            }
            if !commit.records.is_empty() || commit.vector.is_some() {
                let mut entities = txn.open_table(ENTITIES).map_err(fail)?;
                for write in &commit.records {
                    let key = (write.kind.name(), write.key.as_str());
                    match &write.value {
                        Some(value) => entities.insert(key, value.as_slice()).map_err(fail)?,
                        None => entities.remove(key).map_err(fail)?,
                    };
                }
                if let Some(vector) = &commit.vector {
                    entities
                        .insert(
                            (RecordKind::Vector.name(), vector.correlation_id.as_str()),
                            to_json(vector)?.as_slice(),
                        )
                        .map_err(fail)?;
                }
            }
            {
                let record = commit.audit;
                let mut entries = txn.open_table(AUDIT).map_err(fail)?;
                let (last, prev) = Self::head_in(&entries, &txn.open_table(ANCHOR).map_err(fail)?)?;
                let seq = last + 1;
                let entry = audit::chain(seq, &prev, record);
                entries
                    .insert(seq, to_json(&entry)?.as_slice())
                    .map_err(fail)?;
                let request = request.ok_or_else(|| {
                    StoreError::Corrupt("an audit entry without its request".into())
                })?;
                txn.open_table(AUDIT_REQUESTS)
                    .map_err(fail)?
                    .insert(seq, request.encode().as_slice())
                    .map_err(fail)?;
                if let Some(message) = &commit.message {
                    txn.open_table(MESSAGE_REQUESTS)
                        .map_err(fail)?
                        .insert(message.id.as_str(), request.encode().as_slice())
                        .map_err(fail)?;
                }
            }
        }
        Ok(Committed::Done)
    }

    /// Writes `sender` and the index of its certificates in `txn`.
    fn write_sender(
        txn: &redb::WriteTransaction,
        sender: &SenderRegistration,
    ) -> Result<(), StoreError> {
        let mut senders = txn.open_table(SENDERS).map_err(fail)?;
        let mut certs = txn.open_table(SENDER_CERTIFICATES).map_err(fail)?;
        for fp in &sender.certificates {
            if let Some(owner) = certs.get(fp.as_str()).map_err(fail)?
                && owner.value() != sender.id
            {
                return Err(StoreError::Conflict(format!(
                    "certificate {fp} is registered to {}",
                    owner.value()
                )));
            }
        }
        if let Some(old) = senders.get(sender.id.as_str()).map_err(fail)? {
            let old: SenderRegistration = from_json(old.value())?;
            for fp in &old.certificates {
                certs.remove(fp.as_str()).map_err(fail)?;
            }
        }
        for fp in &sender.certificates {
            certs
                .insert(fp.as_str(), sender.id.as_str())
                .map_err(fail)?;
        }
        senders
            .insert(sender.id.as_str(), to_json(sender)?.as_slice())
            .map_err(fail)?;
        Ok(())
    }

    /// Whether what `commit` expects is stored: the state of the message it updates, the
    /// bytes of each record it replaces on that condition.
    fn premises_hold(txn: &redb::WriteTransaction, commit: &Commit) -> Result<bool, StoreError> {
        if let Some(update) = &commit.message_update {
            let messages = txn.open_table(MESSAGES).map_err(fail)?;
            let stored = messages
                .get(update.record.id.as_str())
                .map_err(fail)?
                .map(|v| from_json::<MessageRecord>(v.value()))
                .transpose()?;
            if stored.is_some_and(|m| m.state != update.from) {
                return Ok(false);
            }
        }
        let entities = txn.open_table(ENTITIES).map_err(fail)?;
        for write in &commit.records {
            if let Some(expected) = &write.expected {
                let holds = entities
                    .get((write.kind.name(), write.key.as_str()))
                    .map_err(fail)?
                    .is_some_and(|v| v.value() == expected.as_slice());
                if !holds {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Whether `marks` holds `request`'s content, unexpired when it was received.
    fn holds_mark(
        marks: &impl ReadableTable<&'static [u8], u64>,
        request: &SeenRequest,
    ) -> Result<bool, StoreError> {
        Ok(marks
            .get(request.signed_sha256.0.as_slice())
            .map_err(fail)?
            .is_some_and(|until| until.value() >= request.seen_at))
    }

    /// Writes `request`'s mark (replacing an expired one of the same content) and forgets a
    /// few marks expired by the time it was received.
    fn mark(txn: &redb::WriteTransaction, request: &SeenRequest) -> Result<(), StoreError> {
        let mut marks = txn.open_table(SEEN).map_err(fail)?;
        let mut by_until = txn.open_table(SEEN_BY_UNTIL).map_err(fail)?;
        let key = request.signed_sha256.0.as_slice();
        let replaced = marks
            .insert(key, request.until)
            .map_err(fail)?
            .map(|old| old.value());
        if let Some(old) = replaced {
            by_until.remove((old, key)).map_err(fail)?;
        }
        by_until.insert((request.until, key), ()).map_err(fail)?;
        let empty: &[u8] = &[];
        let expired = by_until
            .range(..(request.seen_at, empty))
            .map_err(fail)?
            .take(FORGET_PER_COMMIT)
            .map(|row| {
                let (key, _) = row.map_err(fail)?;
                let (until, sha256) = key.value();
                Ok((until, sha256.to_vec()))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        for (until, sha256) in expired {
            by_until.remove((until, sha256.as_slice())).map_err(fail)?;
            marks.remove(sha256.as_slice()).map_err(fail)?;
        }
        Ok(())
    }

    /// Writes a group of commits in one durable transaction, in order, after their documents
    /// and requests are durable in the segments. (A commit whose idempotency key turns out to
    /// be taken leaves its blobs unnamed there.)
    fn write_group(&self, commits: Vec<Commit>) -> Result<Vec<Committed>, StoreError> {
        // The digests were computed where each request was handled, not on this one writer.
        let documents: Vec<(&[u8], [u8; 32])> = commits
            .iter()
            .filter(|c| c.message.is_some())
            .flat_map(|c| c.documents.iter().map(|(sha, d)| (d.as_slice(), sha.0)))
            .collect();
        let requests: Vec<(&[u8], [u8; 32])> = commits
            .iter()
            .map(|c| &c.audit)
            .map(|a| {
                let sha = a.request_sha256.unwrap_or_else(|| Sha256::of(&a.request));
                (a.request.as_slice(), sha.0)
            })
            .collect();
        let mut document_refs = self.documents.append(&documents)?.into_iter();
        let mut request_refs = self.requests.append(&requests)?.into_iter();
        let db = self.db()?;
        let txn = db.begin_write().map_err(fail)?;
        let results = commits
            .into_iter()
            .map(|commit| {
                let count = if commit.message.is_some() {
                    commit.documents.len()
                } else {
                    0
                };
                let documents: Vec<BlobRef> = document_refs.by_ref().take(count).collect();
                let request = request_refs.next();
                Self::apply(&txn, commit, &documents, request)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let head = Self::head_in(
            &txn.open_table(AUDIT).map_err(fail)?,
            &txn.open_table(ANCHOR).map_err(fail)?,
        )?;
        match txn.commit() {
            Ok(()) => Ok(results),
            Err(e) => {
                drop(db);
                self.settle(&head, results, fail(e))
            }
        }
    }

    /// What a group whose transaction failed to commit (`failed`) answers. The failure may
    /// have come after the commit reached the file (its last sync failing, say): never guess.
    /// The database is opened again and read: the group took if the audit log's head is the
    /// one it wrote (`head`, which only its transaction could make), and did not otherwise.
    /// A group that took is answered as done only once a durable write after it succeeds
    /// (which syncs the whole file); otherwise its outcome is said to be unknown.
    fn settle(
        &self,
        head: &(u64, String),
        results: Vec<Committed>,
        failed: StoreError,
    ) -> Result<Vec<Committed>, StoreError> {
        let unknown = |why: StoreError| {
            StoreError::Unavailable(format!(
                "the outcome of a commit is unknown ({failed}; then: {why}): a retry with the same idempotency key is answered as the first"
            ))
        };
        match self.audit_head() {
            Ok(now) if now == *head => {
                let at = head.0;
                match self.probe_write(at) {
                    Ok(()) => {
                        tracing::warn!(
                            seq = at,
                            "a commit reported failed had reached the store file: made durable and answered as done"
                        );
                        Ok(results)
                    }
                    Err(e) => Err(unknown(e)),
                }
            }
            // Another head: the group's entries are not there, nor anything of it.
            Ok(_) => Err(failed),
            Err(e) => Err(unknown(e)),
        }
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let table = txn.open_table(table).map_err(fail)?;
        table
            .get(key)
            .map_err(fail)?
            .map(|v| from_json(v.value()))
            .transpose()
    }

    fn all<T: DeserializeOwned>(
        &self,
        table: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<T>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let table = txn.open_table(table).map_err(fail)?;
        table
            .iter()
            .map_err(fail)?
            .map(|row| from_json(row.map_err(fail)?.1.value()))
            .collect()
    }
}

impl Backend for RedbStore {
    /// Always held: redb locks its file, so one process alone opens the store; that process
    /// is the whole cluster.
    fn hold_lease(
        &self,
        _job: &str,
        _holder: &str,
        _now: u64,
        _until: u64,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }

    /// 0: one process alone opens the store.
    fn node_number(&self) -> Result<u32, StoreError> {
        Ok(0)
    }

    fn probe_write(&self, at: u64) -> Result<(), StoreError> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(fail)?;
        txn.open_table(META)
            .map_err(fail)?
            .insert("probe", at)
            .map_err(fail)?;
        txn.commit().map_err(fail)
    }

    fn senders(&self) -> Result<Vec<SenderRegistration>, StoreError> {
        self.all(SENDERS)
    }

    fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        self.all(MAILBOXES)
    }

    /// Messages delivered into a mailbox, newest first.
    fn mailbox_messages(&self, recipient: &str) -> Result<Vec<MessageRecord>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let entries = txn.open_table(MAILBOX_ENTRIES).map_err(fail)?;
        let messages = txn.open_table(MESSAGES).map_err(fail)?;
        let mut out = Vec::new();
        for row in entries.range((recipient, "")..).map_err(fail)? {
            let (key, _) = row.map_err(fail)?;
            let (r, id) = key.value();
            if r != recipient {
                break;
            }
            if let Some(m) = messages.get(id).map_err(fail)? {
                out.push(from_json::<MessageRecord>(m.value())?);
            }
        }
        out.sort_by_key(|m| std::cmp::Reverse(m.submitted_at));
        Ok(out)
    }

    fn mailbox_page(
        &self,
        recipient: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<MessageRecord>, usize), StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let total = txn
            .open_table(MAILBOX_COUNTS)
            .map_err(fail)?
            .get(recipient)
            .map_err(fail)?
            .map_or(0, |v| v.value());
        let entries = txn.open_table(MAILBOX_ENTRIES).map_err(fail)?;
        let messages = txn.open_table(MESSAGES).map_err(fail)?;
        let mut out = Vec::new();
        // Every key of the mailbox sorts after (recipient, "") and before (recipient, "\u{10ffff}").
        for row in entries
            .range((recipient, "")..(recipient, "\u{10ffff}"))
            .map_err(fail)?
            .rev()
            .skip(offset)
            .take(limit)
        {
            let (key, _) = row.map_err(fail)?;
            if let Some(m) = messages.get(key.value().1).map_err(fail)? {
                out.push(from_json::<MessageRecord>(m.value())?);
            }
        }
        Ok((out, usize::try_from(total).unwrap_or(usize::MAX)))
    }
    /// Evidence ids in a sender organisation's own mailbox.
    fn evidences_page(&self, after: &str, limit: usize) -> Result<Vec<EvidenceRecord>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let evidences = txn.open_table(EVIDENCES).map_err(fail)?;
        let entities = txn.open_table(ENTITIES).map_err(fail)?;
        let mut out = Vec::new();
        let range = (std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded);
        for row in evidences.range::<&str>(range).map_err(fail)?.take(limit) {
            let (_, e) = row.map_err(fail)?;
            out.push(with_archive(&entities, from_json(e.value())?)?);
        }
        Ok(out)
    }

    fn sender_mailbox(&self, sender_id: &str) -> Result<Vec<String>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let table = txn.open_table(SENDER_EVIDENCES).map_err(fail)?;
        let mut out = Vec::new();
        for row in table.range((sender_id, "")..).map_err(fail)? {
            let (key, _) = row.map_err(fail)?;
            let (s, evidence) = key.value();
            if s != sender_id {
                break;
            }
            out.push(evidence.to_owned());
        }
        Ok(out)
    }

    /// Audit entries with `from <= seq <= to`, each with its stored request.
    fn purge_reads_before(&self, time: u64) -> Result<usize, StoreError> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(fail)?;
        let old = {
            let mut reads = txn.open_table(READS).map_err(fail)?;
            let mut old = Vec::new();
            for row in reads.iter().map_err(fail)? {
                let (key, value) = row.map_err(fail)?;
                if from_json::<ReadRecord>(value.value())?.at < time {
                    let (message, n) = key.value();
                    old.push((message.to_owned(), n));
                }
            }
            for (message, n) in &old {
                reads.remove((message.as_str(), *n)).map_err(fail)?;
            }
            old.len()
        };
        txn.commit().map_err(fail)?;
        Ok(old)
    }

    fn signed_request(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let requests = txn.open_table(MESSAGE_REQUESTS).map_err(fail)?;
        let Some(blob) = requests.get(message_id).map_err(fail)? else {
            return Ok(None);
        };
        self.requests
            .read(&BlobRef::decode(blob.value())?)
            .map(Some)
    }

    fn audit_entries(&self, from: u64, to: u64) -> Result<Vec<(AuditEntry, Vec<u8>)>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let entries = txn.open_table(AUDIT).map_err(fail)?;
        let requests = txn.open_table(AUDIT_REQUESTS).map_err(fail)?;
        let mut out = Vec::new();
        for row in entries.range(from..=to).map_err(fail)? {
            let (seq, entry) = row.map_err(fail)?;
            let entry: AuditEntry = from_json(entry.value())?;
            let request = match requests.get(seq.value()).map_err(fail)? {
                Some(blob) => self.requests.read(&BlobRef::decode(blob.value())?)?,
                None => Vec::new(),
            };
            out.push((entry, request));
        }
        Ok(out)
    }

    fn audit_entries_page(
        &self,
        from: u64,
        max_entries: usize,
        max_request_bytes: usize,
    ) -> Result<Vec<(AuditEntry, Vec<u8>)>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let entries = txn.open_table(AUDIT).map_err(fail)?;
        let requests = txn.open_table(AUDIT_REQUESTS).map_err(fail)?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for row in entries.range(from..).map_err(fail)? {
            if out.len() >= max_entries {
                break;
            }
            let (seq, entry) = row.map_err(fail)?;
            let blob = requests
                .get(seq.value())
                .map_err(fail)?
                .map(|blob| BlobRef::decode(blob.value()))
                .transpose()?;
            let len = blob
                .as_ref()
                .map_or(0, |b| usize::try_from(b.len).unwrap_or(usize::MAX));
            if !out.is_empty() && bytes.saturating_add(len) > max_request_bytes {
                break;
            }
            bytes = bytes.saturating_add(len);
            let request = match blob {
                Some(blob) => self.requests.read(&blob)?,
                None => Vec::new(),
            };
            out.push((from_json(entry.value())?, request));
        }
        Ok(out)
    }

    /// The head of the audit log: its last sequence number and hash.
    fn audit_head(&self) -> Result<(u64, String), StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        Self::head_in(
            &txn.open_table(AUDIT).map_err(fail)?,
            &txn.open_table(ANCHOR).map_err(fail)?,
        )
    }

    fn audit_last_before(&self, time: u64) -> Result<Option<(u64, String)>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let entries = txn.open_table(AUDIT).map_err(fail)?;
        let mut last = None;
        for row in entries.iter().map_err(fail)? {
            let (seq, entry) = row.map_err(fail)?;
            let entry: AuditEntry = from_json(entry.value())?;
            if entry.record.time >= time {
                break;
            }
            last = Some((seq.value(), entry.hash));
        }
        Ok(last)
    }

    fn purge_audit_through(&self, seq: u64, hash: &str) -> Result<(), StoreError> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(fail)?;
        {
            let mut entries = txn.open_table(AUDIT).map_err(fail)?;
            let stored = entries
                .get(seq)
                .map_err(fail)?
                .map(|e| from_json::<AuditEntry>(e.value()))
                .transpose()?;
            if stored.is_none_or(|e| e.hash != hash) {
                return Err(StoreError::Conflict(format!(
                    "audit entry {seq} is not {hash}"
                )));
            }
            entries.retain(|s, _| s > seq).map_err(fail)?;
            txn.open_table(AUDIT_REQUESTS)
                .map_err(fail)?
                .retain(|s, _| s > seq)
                .map_err(fail)?;
        }
        txn.open_table(ANCHOR)
            .map_err(fail)?
            .insert(seq, hash)
            .map_err(fail)?;
        txn.commit().map_err(fail)?;
        // Request segments wholly before the first one named, by the entries kept or by the
        // messages kept (whose signed requests outlive their traces), hold nothing named.
        let first_kept = {
            let txn = db.begin_read().map_err(fail)?;
            let requests = txn.open_table(AUDIT_REQUESTS).map_err(fail)?;
            let mut first = match requests.first().map_err(fail)? {
                Some((_, blob)) => Some(BlobRef::decode(blob.value())?.segment),
                None => None,
            };
            for row in txn
                .open_table(MESSAGE_REQUESTS)
                .map_err(fail)?
                .iter()
                .map_err(fail)?
            {
                let segment = BlobRef::decode(row.map_err(fail)?.1.value())?.segment;
                first = Some(first.map_or(segment, |f: u32| f.min(segment)));
            }
            first
        };
        if let Some(segment) = first_kept {
            self.requests.remove_before(segment)?;
        }
        Ok(())
    }

    fn purge_evidences_before(&self, floor: &str) -> Result<usize, StoreError> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(fail)?;
        let mut purged = Vec::new();
        {
            let mut evidences = txn.open_table(EVIDENCES).map_err(fail)?;
            for row in evidences.range(..floor).map_err(fail)? {
                let (_, record) = row.map_err(fail)?;
                purged.push(from_json::<EvidenceRecord>(record.value())?);
            }
            let mut index = txn.open_table(MESSAGE_EVIDENCES).map_err(fail)?;
            let mut sender_box = txn.open_table(SENDER_EVIDENCES).map_err(fail)?;
            for e in &purged {
                evidences.remove(e.id.as_str()).map_err(fail)?;
                sender_box
                    .remove((e.sender_id.as_str(), e.id.as_str()))
                    .map_err(fail)?;
                let mut at = Vec::new();
                for row in index
                    .range((e.message_id.as_str(), 0)..=(e.message_id.as_str(), u32::MAX))
                    .map_err(fail)?
                {
                    let (key, id) = row.map_err(fail)?;
                    if id.value() == e.id {
                        at.push(key.value().1);
                    }
                }
                for n in at {
                    index.remove((e.message_id.as_str(), n)).map_err(fail)?;
                }
            }
            // The signed requests of the messages those evidences were about (message ids
            // are time-ordered as evidence ids are): kept as long as the evidences, no longer.
            let mut requests = txn.open_table(MESSAGE_REQUESTS).map_err(fail)?;
            let old: Vec<String> = requests
                .range(..floor)
                .map_err(fail)?
                .map(|row| row.map(|(id, _)| id.value().to_owned()).map_err(fail))
                .collect::<Result<_, _>>()?;
            for id in old {
                requests.remove(id.as_str()).map_err(fail)?;
            }
            // The identification vectors of requests made before then (keyed by the
            // request's correlation id, time-ordered too): kept as long as the evidences.
            // And the archived forms of the evidences deleted (keyed by the evidence's id).
            let mut entities = txn.open_table(ENTITIES).map_err(fail)?;
            for kind in [
                RecordKind::Vector.name(),
                RecordKind::EvidenceArchive.name(),
            ] {
                let old: Vec<String> = entities
                    .range((kind, "")..(kind, floor))
                    .map_err(fail)?
                    .map(|row| row.map(|(key, _)| key.value().1.to_owned()).map_err(fail))
                    .collect::<Result<_, _>>()?;
                for key in old {
                    entities.remove((kind, key.as_str())).map_err(fail)?;
                }
            }
        }
        txn.commit().map_err(fail)?;
        Ok(purged.len())
    }

    fn audit_anchor(&self) -> Result<Option<(u64, String)>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let anchors = txn.open_table(ANCHOR).map_err(fail)?;
        Ok(anchors
            .last()
            .map_err(fail)?
            .map(|(seq, hash)| (seq.value(), hash.value().to_owned())))
    }

    fn put_audit_seal(&self, seal: &AuditSeal) -> Result<(), StoreError> {
        let db = self.db()?;
        let txn = db.begin_write().map_err(fail)?;
        {
            let mut table = txn.open_table(AUDIT_SEALS).map_err(fail)?;
            table
                .insert(seal.seq, to_json(seal)?.as_slice())
                .map_err(fail)?;
        }
        txn.commit().map_err(fail)
    }

    fn audit_seals(&self) -> Result<Vec<AuditSeal>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let table = txn.open_table(AUDIT_SEALS).map_err(fail)?;
        table
            .iter()
            .map_err(fail)?
            .map(|row| from_json(row.map_err(fail)?.1.value()))
            .collect()
    }

    fn seen_requests(&self) -> Result<u64, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        txn.open_table(SEEN).map_err(fail)?.len().map_err(fail)
    }

    fn entity(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let table = txn.open_table(ENTITIES).map_err(fail)?;
        Ok(table
            .get((kind, key))
            .map_err(fail)?
            .map(|v| v.value().to_vec()))
    }

    fn entities(&self, kind: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let table = txn.open_table(ENTITIES).map_err(fail)?;
        let mut out = Vec::new();
        for row in table.range((kind, "")..).map_err(fail)? {
            let (key, value) = row.map_err(fail)?;
            if key.value().0 != kind {
                break;
            }
            out.push(value.value().to_vec());
        }
        Ok(out)
    }
}

impl Registry for RedbStore {
    fn sender_by_certificate(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<SenderRegistration>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let certs = txn.open_table(SENDER_CERTIFICATES).map_err(fail)?;
        let Some(id) = certs.get(sha256_hex).map_err(fail)? else {
            return Ok(None);
        };
        let senders = txn.open_table(SENDERS).map_err(fail)?;
        senders
            .get(id.value())
            .map_err(fail)?
            .map(|v| from_json(v.value()))
            .transpose()
    }
}

impl Directory for RedbStore {
    fn mailbox(&self, id: &str) -> Result<Option<Mailbox>, StoreError> {
        self.get_json(MAILBOXES, id)
    }
}

impl Messages for RedbStore {
    fn reads_of(&self, message_id: &str) -> Result<Vec<ReadRecord>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let reads = txn.open_table(READS).map_err(fail)?;
        reads
            .range((message_id, 0)..=(message_id, u32::MAX))
            .map_err(fail)?
            .map(|row| from_json(row.map_err(fail)?.1.value()))
            .collect()
    }

    fn document(&self, message_id: &str, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let table = txn.open_table(DOCUMENTS).map_err(fail)?;
        let Some(blob) = table.get((message_id, index)).map_err(fail)? else {
            return Ok(None);
        };
        let blob = BlobRef::decode(blob.value())?;
        self.documents.read(&blob).map(Some)
    }

    fn idempotency(
        &self,
        sender_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let table = txn.open_table(IDEMPOTENCY).map_err(fail)?;
        table
            .get((sender_id, key))
            .map_err(fail)?
            .map(|v| from_json(v.value()))
            .transpose()
    }

    fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        self.get_json(MESSAGES, id)
    }

    fn evidence(&self, id: &str) -> Result<Option<EvidenceRecord>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let evidences = txn.open_table(EVIDENCES).map_err(fail)?;
        let entities = txn.open_table(ENTITIES).map_err(fail)?;
        evidences
            .get(id)
            .map_err(fail)?
            .map(|e| with_archive(&entities, from_json(e.value())?))
            .transpose()
    }

    fn evidences_of(&self, message_id: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let index = txn.open_table(MESSAGE_EVIDENCES).map_err(fail)?;
        let evidences = txn.open_table(EVIDENCES).map_err(fail)?;
        let entities = txn.open_table(ENTITIES).map_err(fail)?;
        let mut out = Vec::new();
        for row in index
            .range((message_id, 0)..=(message_id, u32::MAX))
            .map_err(fail)?
        {
            let (_, id) = row.map_err(fail)?;
            if let Some(e) = evidences.get(id.value()).map_err(fail)? {
                out.push(with_archive(&entities, from_json(e.value())?)?);
            }
        }
        Ok(out)
    }
}

impl Outbox for RedbStore {
    fn pending_notices(&self, limit: usize) -> Result<Vec<Notice>, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        let outbox = txn.open_table(OUTBOX).map_err(fail)?;
        outbox
            .iter()
            .map_err(fail)?
            .take(limit)
            .map(|row| from_json(row.map_err(fail)?.1.value()))
            .collect()
    }
}

impl Ledger for RedbStore {
    fn seen(&self, request: &SeenRequest) -> Result<bool, StoreError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(fail)?;
        Self::holds_mark(&txn.open_table(SEEN).map_err(fail)?, request)
    }

    fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        let outcome = Arc::new(Outcome::default());
        lock(&self.pending).push((commit, Arc::clone(&outcome)));
        let _writer = lock(&self.writer);
        // A group written while this thread waited may have held this commit.
        if let Some(done) = lock(&outcome).take() {
            return done;
        }
        let group = std::mem::take(&mut *lock(&self.pending));
        let (commits, outcomes): (Vec<Commit>, Vec<Arc<Outcome>>) = group.into_iter().unzip();
        match self.write_group(commits) {
            Ok(results) => {
                for (slot, result) in outcomes.iter().zip(results) {
                    *lock(slot) = Some(Ok(result));
                }
            }
            Err(e) => {
                for slot in &outcomes {
                    *lock(slot) = Some(Err(e.clone()));
                }
            }
        }
        lock(&outcome).take().unwrap_or_else(|| {
            Err(StoreError::Unavailable(
                "the commit was lost from its group".into(),
            ))
        })
    }
}

/// A store whose commits are timed for the metrics.
pub struct TimedStore {
    pub inner: Arc<dyn Backend>,
    pub metrics: Arc<super::metrics::Metrics>,
}

impl std::fmt::Debug for TimedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimedStore").finish_non_exhaustive()
    }
}

impl Ledger for TimedStore {
    fn seen(&self, request: &SeenRequest) -> Result<bool, StoreError> {
        self.inner.seen(request)
    }
    fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        let start = std::time::Instant::now();
        let result = self.inner.commit(commit);
        self.metrics.store_seconds.observe(start.elapsed());
        result
    }
}
