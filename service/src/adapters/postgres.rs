//! The scale-out store: PostgreSQL, behind the same `Store` and `Backend` traits as redb and
//! held to the same conformance tests. Several Sealpost processes may share one database.
//!
//! A commit is one PostgreSQL transaction (durable when it returns, with the server's default
//! `synchronous_commit = on`). The audit chain is appended under a transaction-scoped
//! advisory lock, so entries from concurrent commits, from any process, get consecutive
//! sequence numbers and each links to the one before. An idempotency key is claimed by
//! inserting it first: a concurrent commit with the same key waits for the first to end,
//! then finds the key taken and writes nothing. The mark of a signed request is claimed the
//! same way, before anything else: the same content committed twice, by any process, is
//! written once; the other commit is told it is a replay and writes nothing.
//!
//! Records are stored as the same JSON as in redb; documents and signed requests as `bytea`.
//! The connection is plain TCP or a Unix socket (no TLS): run the database on the same host or
//! a network you trust.

use std::sync::Mutex;

use postgres::{Client, NoTls, Transaction};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::store::Backend;
use crate::core::audit::{self, GENESIS};
use crate::core::records::{
    ArchivedEvidence, AuditEntry, AuditSeal, EvidenceRecord, IdempotencyRecord, Mailbox,
    MessageRecord, Notice, ReadRecord, SenderRegistration,
};
use crate::core::{
    Commit, Committed, Directory, Ledger, Messages, Outbox, RecordKind, Registry, SeenRequest,
    StoreError,
};

/// The key of the advisory lock that serialises appends to the audit chain.
const AUDIT_LOCK: i64 = 0x5ea1_9057;
/// Connections kept open for reuse.
const POOL: usize = 16;
/// How many audit entries a scan of the log reads at a time.
const AUDIT_SCAN_PAGE: i64 = 256;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS sealpost_meta (key text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS senders (id text PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS sender_certificates (sha256 text PRIMARY KEY, sender_id text NOT NULL);
CREATE TABLE IF NOT EXISTS mailboxes (id text PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id text PRIMARY KEY, recipient text NOT NULL, submitted_at bigint NOT NULL,
    record bytea NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_recipient ON messages (recipient, submitted_at);
CREATE INDEX IF NOT EXISTS messages_by_recipient_id ON messages (recipient, id);
CREATE TABLE IF NOT EXISTS documents (
    message_id text NOT NULL, idx integer NOT NULL, content bytea NOT NULL,
    PRIMARY KEY (message_id, idx));
CREATE TABLE IF NOT EXISTS evidences (
    id text PRIMARY KEY, message_id text NOT NULL, seq bigserial NOT NULL,
    sender_id text NOT NULL, record bytea NOT NULL);
CREATE INDEX IF NOT EXISTS evidences_by_message ON evidences (message_id, seq);
CREATE INDEX IF NOT EXISTS evidences_by_sender ON evidences (sender_id, id);
CREATE TABLE IF NOT EXISTS idempotency (
    sender_id text NOT NULL, key text NOT NULL, record bytea NOT NULL,
    PRIMARY KEY (sender_id, key));
CREATE TABLE IF NOT EXISTS audit (seq bigint PRIMARY KEY, entry bytea NOT NULL, request bytea NOT NULL);
CREATE TABLE IF NOT EXISTS audit_seals (seq bigint PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS audit_anchor (seq bigint PRIMARY KEY, hash text NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    kind text NOT NULL, key text NOT NULL, value bytea NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS seen_requests (sha256 bytea PRIMARY KEY, until bigint NOT NULL);
CREATE INDEX IF NOT EXISTS seen_requests_by_until ON seen_requests (until);
CREATE TABLE IF NOT EXISTS message_requests (message_id text PRIMARY KEY, request bytea NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (id text PRIMARY KEY, record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS letter_reads (
    message_id text NOT NULL, seq bigserial NOT NULL, at bigint NOT NULL, record bytea NOT NULL,
    PRIMARY KEY (message_id, seq));
CREATE INDEX IF NOT EXISTS letter_reads_by_time ON letter_reads (at);
";
/// The schema's version, kept in `sealpost_meta`. 2: each document's submission time-stamp
/// token in its message record, and the marks of signed requests received (`seen_requests`).
const FORMAT: i64 = 2;
/// How many expired marks a commit forgets (more than it adds: the table stays bounded by
/// the requests of one freshness window).
const FORGET_PER_COMMIT: i64 = 8;

/// The store unavailable, saying why: the server's own words for an error it reported (a
/// wrong user or password, a missing database), else the error and its causes.
fn fail(e: impl std::error::Error + 'static) -> StoreError {
    let mut why = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = match c.downcast_ref::<postgres::error::DbError>() {
            Some(db) => format!(
                "{} {} ({}){}",
                db.severity(),
                db.message(),
                db.code().code(),
                db.hint()
                    .map(|h| format!("; hint: {h}"))
                    .unwrap_or_default()
            ),
            None => c.to_string(),
        };
        if !why.contains(&said) {
            why.push_str(": ");
            why.push_str(&said);
        }
        cause = c.source();
    }
    StoreError::Unavailable(format!("PostgreSQL: {why}"))
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(fail)
}

/// An evidence record (column 0) with its archived form (column 1, the `entities` value of
/// `RecordKind::EvidenceArchive`, or NULL).
fn evidence_with_archive(row: &postgres::Row) -> Result<EvidenceRecord, StoreError> {
    let mut record: EvidenceRecord = from_json(row.get::<_, &[u8]>(0))?;
    if let Some(archived) = row.get::<_, Option<&[u8]>>(1) {
        record.archived = Some(from_json::<ArchivedEvidence>(archived)?.xml);
    }
    Ok(record)
}

fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(fail)
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(fail)
}

fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(fail)
}

/// The PostgreSQL store.
pub struct PgStore {
    url: String,
    idle: Mutex<Vec<Client>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// The synchronous client runs its own small runtime and cannot be dropped inside another
/// (the service's, when it stops): the pooled connections are closed on a thread of their
/// own.
impl Drop for PgStore {
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|p| p.into_inner()));
        if !idle.is_empty() {
            let _ = std::thread::spawn(move || drop(idle)).join();
        }
    }
}

impl PgStore {
    /// Connects to `url` (`host=… user=… dbname=…` or `postgresql://…`) and creates the
    /// schema if it is not there. Must not be called from inside an async runtime.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let store = PgStore {
            url: url.to_owned(),
            idle: Mutex::new(Vec::new()),
        };
        store.with_client(|client| {
            client.batch_execute(SCHEMA).map_err(fail)?;
            client
                .execute(
                    "INSERT INTO sealpost_meta (key, value) VALUES ('format', $1) ON CONFLICT DO NOTHING",
                    &[&FORMAT],
                )
                .map_err(fail)?;
            let row = client
                .query_one("SELECT value FROM sealpost_meta WHERE key = 'format'", &[])
                .map_err(fail)?;
            let format: i64 = row.get(0);
            if format != FORMAT {
                return Err(StoreError::Corrupt(format!(
                    "the database is in store format {format}; this Sealpost reads format {FORMAT}"
                )));
            }
            Ok(())
        })?;
        Ok(store)
    }

    /// Runs `work` on a pooled connection; a connection that failed is not reused.
    fn with_client<T>(
        &self,
        work: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_client_kept(|c| (work(c), true))
    }

    /// [`Self::with_client`], where `work` also says whether the connection may serve again
    /// (not after it lost its server mid-exchange, which the client may not know yet).
    fn with_client_kept<T>(
        &self,
        work: impl FnOnce(&mut Client) -> (Result<T, StoreError>, bool),
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut client = match pooled {
            Some(c) if !c.is_closed() => c,
            _ => Client::connect(&self.url, NoTls).map_err(fail)?,
        };
        let (result, reusable) = work(&mut client);
        if reusable && result.is_ok() && !client.is_closed() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < POOL {
                idle.push(client);
            }
        }
        result
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        query: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        self.with_client(|c| {
            c.query_opt(query, &[&key])
                .map_err(fail)?
                .map(|row| from_json(row.get::<_, &[u8]>(0)))
                .transpose()
        })
    }

    fn all_json<T: DeserializeOwned>(&self, query: &str) -> Result<Vec<T>, StoreError> {
        self.with_client(|c| {
            c.query(query, &[])
                .map_err(fail)?
                .iter()
                .map(|row| from_json(row.get::<_, &[u8]>(0)))
                .collect()
        })
    }

    fn anchor(c: &mut Client) -> Result<Option<(u64, String)>, StoreError> {
        c.query_opt(
            "SELECT seq, hash FROM audit_anchor ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .map_err(fail)?
        .map(|row| Ok((to_u64(row.get::<_, i64>(0))?, row.get::<_, String>(1))))
        .transpose()
    }

    /// Writes `sender` and the index of its certificates in `txn`.
    fn write_sender(
        txn: &mut Transaction<'_>,
        sender: &SenderRegistration,
    ) -> Result<(), StoreError> {
        txn.execute(
            "DELETE FROM sender_certificates WHERE sender_id = $1",
            &[&sender.id],
        )
        .map_err(fail)?;
        for fp in &sender.certificates {
            let owner = txn
                .query_opt(
                    "SELECT sender_id FROM sender_certificates WHERE sha256 = $1",
                    &[fp],
                )
                .map_err(fail)?;
            if let Some(owner) = owner {
                let owner: String = owner.get(0);
                return Err(StoreError::Conflict(format!(
                    "certificate {fp} is registered to {owner}"
                )));
            }
            txn.execute(
                "INSERT INTO sender_certificates (sha256, sender_id) VALUES ($1, $2)",
                &[fp, &sender.id],
            )
            .map_err(fail)?;
        }
        txn.execute(
            "INSERT INTO senders (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            &[&sender.id, &to_json(sender)?],
        )
        .map_err(fail)?;
        Ok(())
    }

    /// One commit's writes in `txn`; unless its request's mark is there unexpired or its
    /// idempotency key is taken (then the caller rolls back).
    fn apply(txn: &mut Transaction<'_>, commit: &Commit) -> Result<Applied, StoreError> {
        for seen in &commit.seen {
            // Claimed first: a concurrent commit of the same content waits for this one to
            // end. An expired mark of the same content is taken over.
            let claimed = txn
                .execute(
                    "INSERT INTO seen_requests (sha256, until) VALUES ($1, $2) ON CONFLICT (sha256) DO UPDATE SET until = EXCLUDED.until WHERE seen_requests.until < $3",
                    &[
                        &seen.signed_sha256.0.as_slice(),
                        &to_i64(seen.until)?,
                        &to_i64(seen.seen_at)?,
                    ],
                )
                .map_err(fail)?;
            if claimed == 0 {
                return Ok(Applied::Replayed);
            }
        }
        if let Some(seen) = commit.seen.first() {
            txn.execute(
                "DELETE FROM seen_requests WHERE sha256 IN (SELECT sha256 FROM seen_requests WHERE until < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&to_i64(seen.seen_at)?, &FORGET_PER_COMMIT],
            )
            .map_err(fail)?;
        }
        // What the commit expects, read under a row lock: a concurrent commit of the same
        // change waits, then finds it changed.
        if let Some(update) = &commit.message_update
            && let Some(row) = txn
                .query_opt(
                    "SELECT record FROM messages WHERE id = $1 FOR UPDATE",
                    &[&update.record.id],
                )
                .map_err(fail)?
            && from_json::<MessageRecord>(row.get::<_, &[u8]>(0))?.state != update.from
        {
            return Ok(Applied::Changed);
        }
        for write in &commit.records {
            if let Some(expected) = &write.expected {
                let holds = txn
                    .query_opt(
                        "SELECT value FROM entities WHERE kind = $1 AND key = $2 FOR UPDATE",
                        &[&write.kind.name(), &write.key],
                    )
                    .map_err(fail)?
                    .is_some_and(|row| row.get::<_, &[u8]>(0) == expected.as_slice());
                if !holds {
                    return Ok(Applied::Changed);
                }
            }
        }
        if let Some((sender, key, record)) = &commit.idempotency {
            let claimed = txn
                .execute(
                    "INSERT INTO idempotency (sender_id, key, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[sender, key, &to_json(record)?],
                )
                .map_err(fail)?;
            if claimed == 0 {
                return Ok(Applied::KeyTaken);
            }
        }
        if let Some(message) = &commit.message {
            txn.execute(
                "INSERT INTO messages (id, recipient, submitted_at, record) VALUES ($1, $2, $3, $4)",
                &[
                    &message.id,
                    &message.recipient,
                    &to_i64(message.submitted_at)?,
                    &to_json(message)?,
                ],
            )
            .map_err(fail)?;
            txn.execute(
                "INSERT INTO message_requests (message_id, request) VALUES ($1, $2)",
                &[&message.id, &commit.audit.request.as_slice()],
            )
            .map_err(fail)?;
            for (i, (_, content)) in commit.documents.iter().enumerate() {
                let i = i32::try_from(i).map_err(fail)?;
                txn.execute(
                    "INSERT INTO documents (message_id, idx, content) VALUES ($1, $2, $3)",
                    &[&message.id, &i, &content.as_slice()],
                )
                .map_err(fail)?;
            }
        }
        if let Some(update) = &commit.message_update {
            let message = &update.record;
            let updated = txn
                .execute(
                    "UPDATE messages SET record = $2 WHERE id = $1",
                    &[&message.id, &to_json(message)?],
                )
                .map_err(fail)?;
            if updated != 1 {
                return Err(StoreError::Conflict(format!(
                    "no message {} to update",
                    message.id
                )));
            }
        }
        for e in &commit.evidences {
            txn.execute(
                "INSERT INTO evidences (id, message_id, sender_id, record) VALUES ($1, $2, $3, $4)",
                &[&e.id, &e.message_id, &e.sender_id, &to_json(e)?],
            )
            .map_err(fail)?;
        }
        for sender in &commit.senders {
            Self::write_sender(txn, sender)?;
        }
        for notice in &commit.notices {
            txn.execute(
                "INSERT INTO outbox (id, record) VALUES ($1, $2)",
                &[&notice.id, &to_json(notice)?],
            )
            .map_err(fail)?;
        }
        for id in &commit.notices_sent {
            txn.execute("DELETE FROM outbox WHERE id = $1", &[id])
                .map_err(fail)?;
        }
        if let Some(read) = &commit.read {
            txn.execute(
                "INSERT INTO letter_reads (message_id, at, record) VALUES ($1, $2, $3)",
                &[&read.message_id, &to_i64(read.at)?, &to_json(read)?],
            )
            .map_err(fail)?;
        }
        for m in &commit.mailboxes {
            txn.execute(
                "INSERT INTO mailboxes (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                &[&m.id, &to_json(m)?],
            )
            .map_err(fail)?;
        }
        if let Some(vector) = &commit.vector {
            txn.execute(
                "INSERT INTO entities (kind, key, value) VALUES ($1, $2, $3) ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value",
                &[&RecordKind::Vector.name(), &vector.correlation_id, &to_json(vector)?],
            )
            .map_err(fail)?;
        }
        for write in &commit.records {
            let kind = write.kind.name();
            match &write.value {
                Some(value) => txn.execute(
                    "INSERT INTO entities (kind, key, value) VALUES ($1, $2, $3) ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value",
                    &[&kind, &write.key, &value.as_slice()],
                ),
                None => txn.execute(
                    "DELETE FROM entities WHERE kind = $1 AND key = $2",
                    &[&kind, &write.key],
                ),
            }
            .map_err(fail)?;
        }
        {
            let record = &commit.audit;
            txn.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                .map_err(fail)?;
            let head = txn
                .query_opt(
                    "SELECT seq, entry FROM audit ORDER BY seq DESC LIMIT 1",
                    &[],
                )
                .map_err(fail)?;
            let (seq, prev) = match head {
                Some(row) => (
                    to_u64(row.get::<_, i64>(0))? + 1,
                    from_json::<AuditEntry>(row.get::<_, &[u8]>(1))?.hash,
                ),
                // Empty: the first entry, or the one after the purged ones.
                None => match txn
                    .query_opt(
                        "SELECT seq, hash FROM audit_anchor ORDER BY seq DESC LIMIT 1",
                        &[],
                    )
                    .map_err(fail)?
                {
                    Some(row) => (to_u64(row.get::<_, i64>(0))? + 1, row.get::<_, String>(1)),
                    None => (1, GENESIS.to_owned()),
                },
            };
            let entry = audit::chain(seq, &prev, record.clone());
            txn.execute(
                "INSERT INTO audit (seq, entry, request) VALUES ($1, $2, $3)",
                &[&to_i64(seq)?, &to_json(&entry)?, &record.request.as_slice()],
            )
            .map_err(fail)?;
            Ok(Applied::Done {
                seq,
                hash: entry.hash,
            })
        }
    }

    /// Whether a commit whose COMMIT got no answer (the connection lost on the way) took:
    /// its audit entry, `seq` with `hash`, is there or not, asked on a fresh connection once
    /// the transaction is over (the audit lock it held is free). Tried a few times; when no
    /// connection answers, the outcome stays unknown and is said so.
    fn settle(&self, seq: u64, hash: &str, lost: postgres::Error) -> Result<Committed, StoreError> {
        let lost = fail(lost);
        let mut last = None;
        for wait in [0, 200, 1000, 3000] {
            std::thread::sleep(std::time::Duration::from_millis(wait));
            let asked = self.with_client(|c| {
                let mut txn = c.transaction().map_err(fail)?;
                txn.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                    .map_err(fail)?;
                let row = txn
                    .query_opt("SELECT entry FROM audit WHERE seq = $1", &[&to_i64(seq)?])
                    .map_err(fail)?;
                txn.rollback().map_err(fail)?;
                row.map(|r| from_json::<AuditEntry>(r.get::<_, &[u8]>(0)))
                    .transpose()
            });
            match asked {
                Ok(Some(entry)) if entry.hash == hash => {
                    tracing::warn!(seq, "a commit whose answer was lost took: answered as done");
                    return Ok(Committed::Done);
                }
                // Another entry at its place, or none: it did not take.
                Ok(_) => return Err(lost),
                Err(e) => last = Some(e),
            }
        }
        Err(StoreError::Unavailable(format!(
            "the outcome of a commit is unknown ({lost}; asking again: {}): a retry with the same idempotency key is answered as the first",
            last.map_or_else(String::new, |e| e.to_string())
        )))
    }
}

/// What [`PgStore::apply`] did.
enum Applied {
    /// Written, its audit entry at `seq` with `hash`: the COMMIT remains.
    Done {
        seq: u64,
        hash: String,
    },
    KeyTaken,
    Replayed,
    Changed,
}

impl Registry for PgStore {
    fn sender_by_certificate(
        &self,
        sha256_hex: &str,
    ) -> Result<Option<SenderRegistration>, StoreError> {
        self.get_json(
            "SELECT s.record FROM sender_certificates c JOIN senders s ON s.id = c.sender_id WHERE c.sha256 = $1",
            sha256_hex,
        )
    }
}

impl Directory for PgStore {
    fn mailbox(&self, id: &str) -> Result<Option<Mailbox>, StoreError> {
        self.get_json("SELECT record FROM mailboxes WHERE id = $1", id)
    }
}

impl Messages for PgStore {
    fn reads_of(&self, message_id: &str) -> Result<Vec<ReadRecord>, StoreError> {
        self.with_client(|c| {
            c.query(
                "SELECT record FROM letter_reads WHERE message_id = $1 ORDER BY seq",
                &[&message_id],
            )
            .map_err(fail)?
            .iter()
            .map(|row| from_json(row.get::<_, &[u8]>(0)))
            .collect()
        })
    }

    fn document(&self, message_id: &str, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let index = i32::try_from(index).map_err(fail)?;
        self.with_client(|c| {
            Ok(c.query_opt(
                "SELECT content FROM documents WHERE message_id = $1 AND idx = $2",
                &[&message_id, &index],
            )
            .map_err(fail)?
            .map(|row| row.get::<_, Vec<u8>>(0)))
        })
    }

    fn idempotency(
        &self,
        sender_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.with_client(|c| {
            c.query_opt(
                "SELECT record FROM idempotency WHERE sender_id = $1 AND key = $2",
                &[&sender_id, &key],
            )
            .map_err(fail)?
            .map(|row| from_json(row.get::<_, &[u8]>(0)))
            .transpose()
        })
    }

    fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        self.get_json("SELECT record FROM messages WHERE id = $1", id)
    }

    fn evidence(&self, id: &str) -> Result<Option<EvidenceRecord>, StoreError> {
        self.with_client(|c| {
            c.query(
                "SELECT e.record, a.value FROM evidences e LEFT JOIN entities a ON a.kind = $2 AND a.key = e.id WHERE e.id = $1",
                &[&id, &RecordKind::EvidenceArchive.name()],
            )
            .map_err(fail)?
            .first()
            .map(evidence_with_archive)
            .transpose()
        })
    }

    fn evidences_of(&self, message_id: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        self.with_client(|c| {
            c.query(
                "SELECT e.record, a.value FROM evidences e LEFT JOIN entities a ON a.kind = $2 AND a.key = e.id WHERE e.message_id = $1 ORDER BY e.seq",
                &[&message_id, &RecordKind::EvidenceArchive.name()],
            )
            .map_err(fail)?
            .iter()
            .map(evidence_with_archive)
            .collect()
        })
    }
}

impl Outbox for PgStore {
    fn pending_notices(&self, limit: usize) -> Result<Vec<Notice>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_client(|c| {
            c.query("SELECT record FROM outbox ORDER BY id LIMIT $1", &[&limit])
                .map_err(fail)?
                .iter()
                .map(|row| from_json(row.get::<_, &[u8]>(0)))
                .collect()
        })
    }
}

impl Ledger for PgStore {
    fn seen(&self, request: &SeenRequest) -> Result<bool, StoreError> {
        let seen_at = to_i64(request.seen_at)?;
        self.with_client(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM seen_requests WHERE sha256 = $1 AND until >= $2",
                &[&request.signed_sha256.0.as_slice(), &seen_at],
            )
            .map_err(fail)?
            .is_some())
        })
    }

    fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        self.with_client_kept(|c| {
            let txn = match c.transaction() {
                Ok(txn) => txn,
                Err(e) => return (Err(fail(e)), false),
            };
            match Self::finish(txn, &commit) {
                // Sent, unanswered: it may have taken. Never guess; never reuse the connection.
                Finished::Lost { seq, hash, error } => (self.settle(seq, &hash, error), false),
                Finished::Answered(result) => {
                    (result.and_then(|a| self.answer(c, &commit, a)), true)
                }
            }
        })
    }
}

/// How a commit's transaction ended.
enum Finished {
    /// Committed, rolled back, or refused: what [`PgStore::apply`] said.
    Answered(Result<Applied, StoreError>),
    /// Its COMMIT was sent and the connection lost before the answer.
    Lost {
        seq: u64,
        hash: String,
        error: postgres::Error,
    },
}

impl PgStore {
    /// Applies the commit and ends its transaction: committed when applied, else rolled back.
    fn finish(mut txn: Transaction<'_>, commit: &Commit) -> Finished {
        match Self::apply(&mut txn, commit) {
            Ok(Applied::Done { seq, hash }) => match txn.commit() {
                Ok(()) => Finished::Answered(Ok(Applied::Done { seq, hash })),
                Err(error) if error.is_closed() || error.as_db_error().is_none() => {
                    Finished::Lost { seq, hash, error }
                }
                Err(e) => Finished::Answered(Err(fail(e))),
            },
            Ok(other) => Finished::Answered(txn.rollback().map_err(fail).map(|()| other)),
            Err(e) => Finished::Answered(Err(e)),
        }
    }

    /// What a commit that ended as `applied` answers.
    fn answer(
        &self,
        c: &mut Client,
        commit: &Commit,
        applied: Applied,
    ) -> Result<Committed, StoreError> {
        match applied {
            Applied::Done { .. } => Ok(Committed::Done),
            Applied::Replayed => Ok(Committed::Replayed),
            Applied::Changed => Ok(Committed::Changed),
            Applied::KeyTaken => {
                let (sender, key, _) = commit
                    .idempotency
                    .as_ref()
                    .ok_or_else(|| StoreError::Corrupt("a key taken without a key".into()))?;
                let known = c
                    .query_one(
                        "SELECT record FROM idempotency WHERE sender_id = $1 AND key = $2",
                        &[sender, key],
                    )
                    .map_err(fail)?;
                Ok(Committed::KeyTaken(from_json(known.get::<_, &[u8]>(0))?))
            }
        }
    }
}

impl Backend for PgStore {
    fn probe_write(&self, at: u64) -> Result<(), StoreError> {
        self.with_client(|c| {
            c.execute(
                "INSERT INTO sealpost_meta (key, value) VALUES ('probe', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&to_i64(at)?],
            )
            .map(|_| ())
            .map_err(fail)
        })
    }

    fn senders(&self) -> Result<Vec<SenderRegistration>, StoreError> {
        self.all_json("SELECT record FROM senders ORDER BY id")
    }

    fn mailboxes(&self) -> Result<Vec<Mailbox>, StoreError> {
        self.all_json("SELECT record FROM mailboxes ORDER BY id")
    }

    fn mailbox_messages(&self, recipient: &str) -> Result<Vec<MessageRecord>, StoreError> {
        self.with_client(|c| {
            c.query(
                "SELECT record FROM messages WHERE recipient = $1 ORDER BY submitted_at DESC, id ASC",
                &[&recipient],
            )
            .map_err(fail)?
            .iter()
            .map(|row| from_json(row.get::<_, &[u8]>(0)))
            .collect()
        })
    }

    fn mailbox_page(
        &self,
        recipient: &str,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<MessageRecord>, usize), StoreError> {
        let (offset, limit) = (
            i64::try_from(offset).map_err(fail)?,
            i64::try_from(limit).map_err(fail)?,
        );
        self.with_client(|c| {
            let total: i64 = c
                .query_one("SELECT count(*) FROM messages WHERE recipient = $1", &[&recipient])
                .map_err(fail)?
                .get(0);
            let page = c
                .query(
                    "SELECT record FROM messages WHERE recipient = $1 ORDER BY id DESC OFFSET $2 LIMIT $3",
                    &[&recipient, &offset, &limit],
                )
                .map_err(fail)?
                .iter()
                .map(|row| from_json(row.get::<_, &[u8]>(0)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((page, usize::try_from(total).unwrap_or(usize::MAX)))
        })
    }

    fn evidences_page(&self, after: &str, limit: usize) -> Result<Vec<EvidenceRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_client(|c| {
            c.query(
                "SELECT e.record, a.value FROM evidences e LEFT JOIN entities a ON a.kind = $2 AND a.key = e.id WHERE e.id > $1 ORDER BY e.id LIMIT $3",
                &[&after, &RecordKind::EvidenceArchive.name(), &limit],
            )
            .map_err(fail)?
            .iter()
            .map(evidence_with_archive)
            .collect()
        })
    }

    fn sender_mailbox(&self, sender_id: &str) -> Result<Vec<String>, StoreError> {
        self.with_client(|c| {
            Ok(c.query(
                "SELECT id FROM evidences WHERE sender_id = $1 ORDER BY id",
                &[&sender_id],
            )
            .map_err(fail)?
            .iter()
            .map(|row| row.get::<_, String>(0))
            .collect())
        })
    }

    fn audit_entries(&self, from: u64, to: u64) -> Result<Vec<(AuditEntry, Vec<u8>)>, StoreError> {
        let (from, to) = (to_i64(from)?, to_i64(to.min(i64::MAX as u64))?);
        self.with_client(|c| {
            c.query(
                "SELECT entry, request FROM audit WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
                &[&from, &to],
            )
            .map_err(fail)?
            .iter()
            .map(|row| {
                let entry: AuditEntry = from_json(row.get::<_, &[u8]>(0))?;
                Ok((entry, row.get::<_, Vec<u8>>(1)))
            })
            .collect()
        })
    }

    fn audit_entries_page(
        &self,
        from: u64,
        max_entries: usize,
        max_request_bytes: usize,
    ) -> Result<Vec<(AuditEntry, Vec<u8>)>, StoreError> {
        let from = to_i64(from)?;
        let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
        self.with_client(|c| {
            // The requests' sizes first, so that only the requests that fit are fetched.
            let mut last = None;
            let mut bytes = 0usize;
            for row in c
                .query(
                    "SELECT seq, octet_length(request) FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2",
                    &[&from, &limit],
                )
                .map_err(fail)?
            {
                let len = usize::try_from(row.get::<_, i32>(1)).map_err(fail)?;
                if last.is_some() && bytes.saturating_add(len) > max_request_bytes {
                    break;
                }
                bytes = bytes.saturating_add(len);
                last = Some(row.get::<_, i64>(0));
            }
            let Some(last) = last else {
                return Ok(Vec::new());
            };
            c.query(
                "SELECT entry, request FROM audit WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
                &[&from, &last],
            )
            .map_err(fail)?
            .iter()
            .map(|row| {
                let entry: AuditEntry = from_json(row.get::<_, &[u8]>(0))?;
                Ok((entry, row.get::<_, Vec<u8>>(1)))
            })
            .collect()
        })
    }

    fn audit_head(&self) -> Result<(u64, String), StoreError> {
        self.with_client(|c| {
            match c
                .query_opt(
                    "SELECT seq, entry FROM audit ORDER BY seq DESC LIMIT 1",
                    &[],
                )
                .map_err(fail)?
            {
                Some(row) => Ok((
                    to_u64(row.get::<_, i64>(0))?,
                    from_json::<AuditEntry>(row.get::<_, &[u8]>(1))?.hash,
                )),
                None => Ok(Self::anchor(c)?.unwrap_or((0, GENESIS.to_owned()))),
            }
        })
    }

    fn audit_last_before(&self, time: u64) -> Result<Option<(u64, String)>, StoreError> {
        self.with_client(|c| {
            // Page by page (the entries alone, not their requests): memory does not grow with
            // the log.
            let (mut last, mut after) = (None, -1i64);
            loop {
                let rows = c
                    .query(
                        "SELECT seq, entry FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                        &[&after, &AUDIT_SCAN_PAGE],
                    )
                    .map_err(fail)?;
                if rows.is_empty() {
                    return Ok(last);
                }
                for row in &rows {
                    let entry: AuditEntry = from_json(row.get::<_, &[u8]>(1))?;
                    if entry.record.time >= time {
                        return Ok(last);
                    }
                    after = row.get::<_, i64>(0);
                    last = Some((to_u64(after)?, entry.hash));
                }
            }
        })
    }

    fn purge_audit_through(&self, seq: u64, hash: &str) -> Result<(), StoreError> {
        let seq = to_i64(seq)?;
        self.with_client(|c| {
            let mut txn = c.transaction().map_err(fail)?;
            txn.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                .map_err(fail)?;
            let stored = txn
                .query_opt("SELECT entry FROM audit WHERE seq = $1", &[&seq])
                .map_err(fail)?
                .map(|row| from_json::<AuditEntry>(row.get::<_, &[u8]>(0)))
                .transpose()?;
            if stored.is_none_or(|e| e.hash != hash) {
                return Err(StoreError::Conflict(format!(
                    "audit entry {seq} is not {hash}"
                )));
            }
            txn.execute("DELETE FROM audit WHERE seq <= $1", &[&seq])
                .map_err(fail)?;
            txn.execute(
                "INSERT INTO audit_anchor (seq, hash) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING",
                &[&seq, &hash],
            )
            .map_err(fail)?;
            txn.commit().map_err(fail)
        })
    }

    fn audit_anchor(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.with_client(Self::anchor)
    }

    fn purge_evidences_before(&self, floor: &str) -> Result<usize, StoreError> {
        self.with_client(|c| {
            let mut txn = c.transaction().map_err(fail)?;
            let n = txn
                .execute("DELETE FROM evidences WHERE id < $1", &[&floor])
                .map_err(fail)?;
            // The signed requests of those messages: kept as long as the evidences.
            txn.execute(
                "DELETE FROM message_requests WHERE message_id < $1",
                &[&floor],
            )
            .map_err(fail)?;
            // The identification vectors of the requests made before then, and the archived
            // forms of the evidences deleted.
            for kind in [
                RecordKind::Vector.name(),
                RecordKind::EvidenceArchive.name(),
            ] {
                txn.execute(
                    "DELETE FROM entities WHERE kind = $1 AND key < $2",
                    &[&kind, &floor],
                )
                .map_err(fail)?;
            }
            txn.commit().map_err(fail)?;
            usize::try_from(n).map_err(fail)
        })
    }

    fn purge_reads_before(&self, time: u64) -> Result<usize, StoreError> {
        let time = to_i64(time)?;
        self.with_client(|c| {
            let n = c
                .execute("DELETE FROM letter_reads WHERE at < $1", &[&time])
                .map_err(fail)?;
            usize::try_from(n).map_err(fail)
        })
    }

    fn signed_request(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_client(|c| {
            Ok(c.query_opt(
                "SELECT request FROM message_requests WHERE message_id = $1",
                &[&message_id],
            )
            .map_err(fail)?
            .map(|row| row.get::<_, Vec<u8>>(0)))
        })
    }

    fn put_audit_seal(&self, seal: &AuditSeal) -> Result<(), StoreError> {
        let seq = to_i64(seal.seq)?;
        let record = to_json(seal)?;
        self.with_client(|c| {
            c.execute(
                "INSERT INTO audit_seals (seq, record) VALUES ($1, $2) ON CONFLICT (seq) DO UPDATE SET record = EXCLUDED.record",
                &[&seq, &record],
            )
            .map_err(fail)?;
            Ok(())
        })
    }

    fn audit_seals(&self) -> Result<Vec<AuditSeal>, StoreError> {
        self.all_json("SELECT record FROM audit_seals ORDER BY seq")
    }

    fn seen_requests(&self) -> Result<u64, StoreError> {
        self.with_client(|c| {
            to_u64(
                c.query_one("SELECT count(*) FROM seen_requests", &[])
                    .map_err(fail)?
                    .get(0),
            )
        })
    }

    fn entity(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_client(|c| {
            Ok(c.query_opt(
                "SELECT value FROM entities WHERE kind = $1 AND key = $2",
                &[&kind, &key],
            )
            .map_err(fail)?
            .map(|row| row.get::<_, Vec<u8>>(0)))
        })
    }

    fn entities(&self, kind: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with_client(|c| {
            Ok(c.query(
                "SELECT value FROM entities WHERE kind = $1 ORDER BY key",
                &[&kind],
            )
            .map_err(fail)?
            .iter()
            .map(|row| row.get::<_, Vec<u8>>(0))
            .collect())
        })
    }
}
