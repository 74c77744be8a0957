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
//!
//! The client is asynchronous (tokio-postgres), its connections pooled (deadpool-postgres, at
//! most [`POOL`]); the store's methods are synchronous, like the core's ports, and are called
//! from the service's `spawn_blocking` threads or from plain threads (administration, tests).
//! Each runs its work on the store's own runtime and waits for it there
//! ([`blocking::wait_here`]: announced with `block_in_place` should it be called on a worker
//! of the service's runtime). The store owns that runtime (one worker thread, which drives the
//! connections' I/O) rather than using the service's: it is opened before the service's
//! runtime is built, and where there is none; its connections live as long as it does,
//! whichever thread or runtime called it; and dropping it never waits (the runtime is shut
//! down in the background, after the pool's connections are closed), so that it may be
//! dropped anywhere, inside the service's runtime as it stops too.
//!
//! An unreachable server answers unavailable, not never: a connection is made within
//! [`CONNECT_TIMEOUT`], and a call waits at most [`POOL_WAIT`] for one of the pool's to be
//! free. A connection goes back to the pool only after a call that succeeded with it, and is
//! taken out of it again only if still open; one that failed on the way (its server gone, a
//! statement refused) is closed, never reused, and so is one whose COMMIT got no answer:
//! whether that commit took is asked on another connection ([`PgStore::settle`]). Each
//! statement is prepared once per connection and kept with it ([`Statements`]).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{
    GenericClient, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, TimeoutType,
    Transaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row};

use super::blocking;
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
/// Connections open at most; a call holds one while it runs.
const POOL: usize = 16;
/// How long a call waits for a connection of the pool to be free (all [`POOL`] busy) before
/// the store answers unavailable.
const POOL_WAIT: Duration = Duration::from_secs(10);
/// How long making a connection (the socket, start-up and authentication) may take before the
/// store answers unavailable: a server that does not answer is not waited for forever.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Worker threads of the store's runtime. They drive the connections' I/O and nothing else:
/// statements are encoded and rows decoded on the calling thread.
const IO_THREADS: usize = 1;
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
CREATE TABLE IF NOT EXISTS leases (job text PRIMARY KEY, holder text NOT NULL, until bigint NOT NULL);
CREATE SEQUENCE IF NOT EXISTS node_numbers;
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
    StoreError::Unavailable(format!("PostgreSQL: {}", words(&e)))
}

/// An error and its causes, a PostgreSQL server's error in its own words: severity, message,
/// code and hint.
fn words(e: &(dyn std::error::Error + 'static)) -> String {
    let mut why = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let said = match c.downcast_ref::<tokio_postgres::error::DbError>() {
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
    why
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(fail)
}

/// An evidence record (column 0) with its archived form (column 1, the `entities` value of
/// `RecordKind::EvidenceArchive`, or NULL).
fn evidence_with_archive(row: &Row) -> Result<EvidenceRecord, StoreError> {
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

/// A connection lent by the pool.
type Pooled = deadpool_postgres::Object;

/// The PostgreSQL store.
pub struct PgStore {
    /// Dropped first: its connections closed, their tasks stopped.
    pool: Pool,
    /// Where the store's work runs (see the module's doc).
    runtime: Handle,
    /// Then the runtime itself.
    _runtime: OwnRuntime,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// The store's runtime, shut down without waiting when the store is dropped: a runtime dropped
/// the ordinary way waits for its tasks, which is refused inside another runtime (the
/// service's, as it stops).
struct OwnRuntime(Option<Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Connects as the connection string says, without TLS, and drives each connection on the
/// store's runtime, whoever asked for it.
struct Connector(Handle);

type Connecting<'a> = Pin<
    Box<dyn Future<Output = Result<(Client, JoinHandle<()>), tokio_postgres::Error>> + Send + 'a>,
>;

impl deadpool_postgres::Connect for Connector {
    fn connect(&self, config: &Config) -> Connecting<'_> {
        let (config, runtime) = (config.clone(), self.0.clone());
        Box::pin(async move {
            let (client, connection) = config.connect(NoTls).await?;
            let driver = runtime.spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %words(&e), "a PostgreSQL connection was lost");
                }
            });
            Ok((client, driver))
        })
    }
}

/// `result` of a call made on `pooled`: the connection goes back to the pool when the call
/// succeeded; otherwise it is closed ([`discard`]): it may have lost its server mid-exchange,
/// which the client may not know yet.
fn release<T>(pooled: Pooled, result: Result<T, StoreError>) -> Result<T, StoreError> {
    if result.is_err() {
        discard(pooled);
    }
    result
}

/// Closes `pooled` for good: taken out of the pool, never lent again; its connection's task
/// is stopped.
fn discard(pooled: Pooled) {
    drop(deadpool_postgres::Object::take(pooled));
}

/// The store's statements, on a pooled connection or in a transaction on one: each prepared
/// once per connection (deadpool-postgres keeps them with it), from then on sent with its
/// parameters in one exchange rather than two.
trait Statements: GenericClient {
    async fn rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.query(&self.prepare_cached(sql).await?, params).await
    }

    async fn row(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, tokio_postgres::Error> {
        self.query_one(&self.prepare_cached(sql).await?, params)
            .await
    }

    async fn maybe_row(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, tokio_postgres::Error> {
        self.query_opt(&self.prepare_cached(sql).await?, params)
            .await
    }

    /// The number of rows the statement changed.
    async fn run(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        self.execute(&self.prepare_cached(sql).await?, params).await
    }
}

impl<C: GenericClient> Statements for C {}

impl PgStore {
    /// Connects to `url` (`host=… user=… dbname=…` or `postgresql://…`) and creates the
    /// schema if it is not there. Called from any thread, inside a runtime or not.
    pub fn open(url: &str) -> Result<PgStore, StoreError> {
        let config: Config = url.parse().map_err(fail)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(IO_THREADS)
            .thread_name("sealpost-postgres")
            .enable_io()
            .enable_time()
            .build()
            .map_err(fail)?;
        let handle = runtime.handle().clone();
        let manager = Manager::from_connect(
            config,
            Connector(handle.clone()),
            // Taken out of the pool if still open; nothing sent to ask.
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(fail)?;
        let store = PgStore {
            pool,
            runtime: handle,
            _runtime: OwnRuntime(Some(runtime)),
        };
        store.with_client(async |client| {
            client.batch_execute(SCHEMA).await.map_err(fail)?;
            client
                .run(
                    "INSERT INTO sealpost_meta (key, value) VALUES ('format', $1) ON CONFLICT DO NOTHING",
                    &[&FORMAT],
                )
                .await
                .map_err(fail)?;
            let row = client
                .row("SELECT value FROM sealpost_meta WHERE key = 'format'", &[])
                .await
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

    /// The outcome of `work`, run on the store's runtime and waited for here.
    fn wait<T: Send>(
        &self,
        work: impl AsyncFnOnce() -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        blocking::wait_here(|| self.runtime.block_on(work()))
            .unwrap_or_else(|e| Err(StoreError::Unavailable(format!("PostgreSQL: {e}"))))
    }

    /// Runs `work` on a pooled connection and waits for it (see [`release`]).
    fn with_client<T: Send>(
        &self,
        work: impl AsyncFnOnce(&mut Pooled) -> Result<T, StoreError> + Send,
    ) -> Result<T, StoreError> {
        self.wait(async || self.on_connection(work).await)
    }

    /// [`Self::with_client`], on the store's runtime already.
    async fn on_connection<T>(
        &self,
        work: impl AsyncFnOnce(&mut Pooled) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut pooled = self.connection().await?;
        let result = work(&mut pooled).await;
        release(pooled, result)
    }

    /// A connection of the pool: an idle one still open, else a new one.
    async fn connection(&self) -> Result<Pooled, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            PoolError::Backend(e) => fail(e),
            PoolError::Timeout(TimeoutType::Wait) => StoreError::Unavailable(format!(
                "PostgreSQL: all {POOL} connections busy for {} s",
                POOL_WAIT.as_secs()
            )),
            PoolError::Timeout(_) => StoreError::Unavailable(format!(
                "PostgreSQL: no connection made within {} s",
                CONNECT_TIMEOUT.as_secs()
            )),
            other => fail(other),
        })
    }

    fn get_json<T: DeserializeOwned + Send>(
        &self,
        query: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        self.with_client(async |c| {
            c.maybe_row(query, &[&key])
                .await
                .map_err(fail)?
                .map(|row| from_json(row.get::<_, &[u8]>(0)))
                .transpose()
        })
    }

    fn all_json<T: DeserializeOwned + Send>(&self, query: &str) -> Result<Vec<T>, StoreError> {
        self.with_client(async |c| {
            c.rows(query, &[])
                .await
                .map_err(fail)?
                .iter()
                .map(|row| from_json(row.get::<_, &[u8]>(0)))
                .collect()
        })
    }

    async fn anchor(c: &Pooled) -> Result<Option<(u64, String)>, StoreError> {
        c.maybe_row(
            "SELECT seq, hash FROM audit_anchor ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(fail)?
        .map(|row| Ok((to_u64(row.get::<_, i64>(0))?, row.get::<_, String>(1))))
        .transpose()
    }

    /// Writes `sender` and the index of its certificates in `txn`.
    async fn write_sender(
        txn: &Transaction<'_>,
        sender: &SenderRegistration,
    ) -> Result<(), StoreError> {
        txn.run(
            "DELETE FROM sender_certificates WHERE sender_id = $1",
            &[&sender.id],
        )
        .await
        .map_err(fail)?;
        for fp in &sender.certificates {
            let owner = txn
                .maybe_row(
                    "SELECT sender_id FROM sender_certificates WHERE sha256 = $1",
                    &[fp],
                )
                .await
                .map_err(fail)?;
            if let Some(owner) = owner {
                let owner: String = owner.get(0);
                return Err(StoreError::Conflict(format!(
                    "certificate {fp} is registered to {owner}"
                )));
            }
            txn.run(
                "INSERT INTO sender_certificates (sha256, sender_id) VALUES ($1, $2)",
                &[fp, &sender.id],
            )
            .await
            .map_err(fail)?;
        }
        txn.run(
            "INSERT INTO senders (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            &[&sender.id, &to_json(sender)?],
        )
        .await
        .map_err(fail)?;
        Ok(())
    }

    /// One commit's writes in `txn`; unless its request's mark is there unexpired or its
    /// idempotency key is taken (then the caller rolls back).
    async fn apply(txn: &Transaction<'_>, commit: &Commit) -> Result<Applied, StoreError> {
        for seen in &commit.seen {
            // Claimed first: a concurrent commit of the same content waits for this one to
            // end. An expired mark of the same content is taken over.
            let claimed = txn
                .run(
                    "INSERT INTO seen_requests (sha256, until) VALUES ($1, $2) ON CONFLICT (sha256) DO UPDATE SET until = EXCLUDED.until WHERE seen_requests.until < $3",
                    &[
                        &seen.signed_sha256.0.as_slice(),
                        &to_i64(seen.until)?,
                        &to_i64(seen.seen_at)?,
                    ],
                )
                .await
                .map_err(fail)?;
            if claimed == 0 {
                return Ok(Applied::Replayed);
            }
        }
        if let Some(seen) = commit.seen.first() {
            txn.run(
                "DELETE FROM seen_requests WHERE sha256 IN (SELECT sha256 FROM seen_requests WHERE until < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
                &[&to_i64(seen.seen_at)?, &FORGET_PER_COMMIT],
            )
            .await
            .map_err(fail)?;
        }
        // What the commit expects, read under a row lock: a concurrent commit of the same
        // change waits, then finds it changed.
        if let Some(update) = &commit.message_update
            && let Some(row) = txn
                .maybe_row(
                    "SELECT record FROM messages WHERE id = $1 FOR UPDATE",
                    &[&update.record.id],
                )
                .await
                .map_err(fail)?
            && from_json::<MessageRecord>(row.get::<_, &[u8]>(0))?.state != update.from
        {
            return Ok(Applied::Changed);
        }
        for write in &commit.records {
            if let Some(expected) = &write.expected {
                let holds = txn
                    .maybe_row(
                        "SELECT value FROM entities WHERE kind = $1 AND key = $2 FOR UPDATE",
                        &[&write.kind.name(), &write.key],
                    )
                    .await
                    .map_err(fail)?
                    .is_some_and(|row| row.get::<_, &[u8]>(0) == expected.as_slice());
                if !holds {
                    return Ok(Applied::Changed);
                }
            }
        }
        if let Some((sender, key, record)) = &commit.idempotency {
            let claimed = txn
                .run(
                    "INSERT INTO idempotency (sender_id, key, record) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[sender, key, &to_json(record)?],
                )
                .await
                .map_err(fail)?;
            if claimed == 0 {
                return Ok(Applied::KeyTaken);
            }
        }
        if let Some(message) = &commit.message {
            txn.run(
                "INSERT INTO messages (id, recipient, submitted_at, record) VALUES ($1, $2, $3, $4)",
                &[
                    &message.id,
                    &message.recipient,
                    &to_i64(message.submitted_at)?,
                    &to_json(message)?,
                ],
            )
            .await
            .map_err(fail)?;
            txn.run(
                "INSERT INTO message_requests (message_id, request) VALUES ($1, $2)",
                &[&message.id, &commit.audit.request.as_slice()],
            )
            .await
            .map_err(fail)?;
            for (i, (_, content)) in commit.documents.iter().enumerate() {
                let i = i32::try_from(i).map_err(fail)?;
                txn.run(
                    "INSERT INTO documents (message_id, idx, content) VALUES ($1, $2, $3)",
                    &[&message.id, &i, &content.as_slice()],
                )
                .await
                .map_err(fail)?;
            }
        }
        if let Some(update) = &commit.message_update {
            let message = &update.record;
            let updated = txn
                .run(
                    "UPDATE messages SET record = $2 WHERE id = $1",
                    &[&message.id, &to_json(message)?],
                )
                .await
                .map_err(fail)?;
            if updated != 1 {
                return Err(StoreError::Conflict(format!(
                    "no message {} to update",
                    message.id
                )));
            }
        }
        for e in &commit.evidences {
            txn.run(
                "INSERT INTO evidences (id, message_id, sender_id, record) VALUES ($1, $2, $3, $4)",
                &[&e.id, &e.message_id, &e.sender_id, &to_json(e)?],
            )
            .await
            .map_err(fail)?;
        }
        for sender in &commit.senders {
            Self::write_sender(txn, sender).await?;
        }
        for notice in &commit.notices {
            txn.run(
                "INSERT INTO outbox (id, record) VALUES ($1, $2)",
                &[&notice.id, &to_json(notice)?],
            )
            .await
            .map_err(fail)?;
        }
        for id in &commit.notices_sent {
            txn.run("DELETE FROM outbox WHERE id = $1", &[id])
                .await
                .map_err(fail)?;
        }
        if let Some(read) = &commit.read {
            txn.run(
                "INSERT INTO letter_reads (message_id, at, record) VALUES ($1, $2, $3)",
                &[&read.message_id, &to_i64(read.at)?, &to_json(read)?],
            )
            .await
            .map_err(fail)?;
        }
        for m in &commit.mailboxes {
            txn.run(
                "INSERT INTO mailboxes (id, record) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
                &[&m.id, &to_json(m)?],
            )
            .await
            .map_err(fail)?;
        }
        if let Some(vector) = &commit.vector {
            txn.run(
                "INSERT INTO entities (kind, key, value) VALUES ($1, $2, $3) ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value",
                &[&RecordKind::Vector.name(), &vector.correlation_id, &to_json(vector)?],
            )
            .await
            .map_err(fail)?;
        }
        for write in &commit.records {
            let kind = write.kind.name();
            match &write.value {
                Some(value) => txn.run(
                    "INSERT INTO entities (kind, key, value) VALUES ($1, $2, $3) ON CONFLICT (kind, key) DO UPDATE SET value = EXCLUDED.value",
                    &[&kind, &write.key, &value.as_slice()],
                ).await,
                None => txn.run(
                    "DELETE FROM entities WHERE kind = $1 AND key = $2",
                    &[&kind, &write.key],
                ).await,
            }
            .map_err(fail)?;
        }
        {
            let record = &commit.audit;
            txn.run("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                .await
                .map_err(fail)?;
            let head = txn
                .maybe_row(
                    "SELECT seq, entry FROM audit ORDER BY seq DESC LIMIT 1",
                    &[],
                )
                .await
                .map_err(fail)?;
            let (seq, prev) = match head {
                Some(row) => (
                    to_u64(row.get::<_, i64>(0))? + 1,
                    from_json::<AuditEntry>(row.get::<_, &[u8]>(1))?.hash,
                ),
                // Empty: the first entry, or the one after the purged ones.
                None => match txn
                    .maybe_row(
                        "SELECT seq, hash FROM audit_anchor ORDER BY seq DESC LIMIT 1",
                        &[],
                    )
                    .await
                    .map_err(fail)?
                {
                    Some(row) => (to_u64(row.get::<_, i64>(0))? + 1, row.get::<_, String>(1)),
                    None => (1, GENESIS.to_owned()),
                },
            };
            let entry = audit::chain(seq, &prev, record.clone());
            txn.run(
                "INSERT INTO audit (seq, entry, request) VALUES ($1, $2, $3)",
                &[&to_i64(seq)?, &to_json(&entry)?, &record.request.as_slice()],
            )
            .await
            .map_err(fail)?;
            Ok(Applied::Done {
                seq,
                hash: entry.hash,
            })
        }
    }

    /// Whether a commit whose COMMIT got no answer (the connection lost on the way) took:
    /// its audit entry, `seq` with `hash`, is there or not, asked on another connection (the
    /// lost one is closed) once the transaction is over (the audit lock it held is free).
    /// Tried a few times; when no connection answers, the outcome stays unknown and is said so.
    async fn settle(
        &self,
        seq: u64,
        hash: &str,
        lost: tokio_postgres::Error,
    ) -> Result<Committed, StoreError> {
        let lost = fail(lost);
        let mut last = None;
        for wait in [0, 200, 1000, 3000] {
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let asked = self
                .on_connection(async |c| {
                    let txn = c.transaction().await.map_err(fail)?;
                    txn.run("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                        .await
                        .map_err(fail)?;
                    let row = txn
                        .maybe_row("SELECT entry FROM audit WHERE seq = $1", &[&to_i64(seq)?])
                        .await
                        .map_err(fail)?;
                    txn.rollback().await.map_err(fail)?;
                    row.map(|r| from_json::<AuditEntry>(r.get::<_, &[u8]>(0)))
                        .transpose()
                })
                .await;
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
        self.with_client(async |c| {
            c.rows(
                "SELECT record FROM letter_reads WHERE message_id = $1 ORDER BY seq",
                &[&message_id],
            )
            .await
            .map_err(fail)?
            .iter()
            .map(|row| from_json(row.get::<_, &[u8]>(0)))
            .collect()
        })
    }

    fn document(&self, message_id: &str, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let index = i32::try_from(index).map_err(fail)?;
        self.with_client(async |c| {
            Ok(c.maybe_row(
                "SELECT content FROM documents WHERE message_id = $1 AND idx = $2",
                &[&message_id, &index],
            )
            .await
            .map_err(fail)?
            .map(|row| row.get::<_, Vec<u8>>(0)))
        })
    }

    fn idempotency(
        &self,
        sender_id: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.with_client(async |c| {
            c.maybe_row(
                "SELECT record FROM idempotency WHERE sender_id = $1 AND key = $2",
                &[&sender_id, &key],
            )
            .await
            .map_err(fail)?
            .map(|row| from_json(row.get::<_, &[u8]>(0)))
            .transpose()
        })
    }

    fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        self.get_json("SELECT record FROM messages WHERE id = $1", id)
    }

    fn evidence(&self, id: &str) -> Result<Option<EvidenceRecord>, StoreError> {
        self.with_client(async |c| {
            c.rows(
                "SELECT e.record, a.value FROM evidences e LEFT JOIN entities a ON a.kind = $2 AND a.key = e.id WHERE e.id = $1",
                &[&id, &RecordKind::EvidenceArchive.name()],
            )
            .await
            .map_err(fail)?
            .first()
            .map(evidence_with_archive)
            .transpose()
        })
    }

    fn evidences_of(&self, message_id: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        self.with_client(async |c| {
            c.rows(
                "SELECT e.record, a.value FROM evidences e LEFT JOIN entities a ON a.kind = $2 AND a.key = e.id WHERE e.message_id = $1 ORDER BY e.seq",
                &[&message_id, &RecordKind::EvidenceArchive.name()],
            )
            .await
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
        self.with_client(async |c| {
            c.rows("SELECT record FROM outbox ORDER BY id LIMIT $1", &[&limit])
                .await
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
        self.with_client(async |c| {
            Ok(c.maybe_row(
                "SELECT 1 FROM seen_requests WHERE sha256 = $1 AND until >= $2",
                &[&request.signed_sha256.0.as_slice(), &seen_at],
            )
            .await
            .map_err(fail)?
            .is_some())
        })
    }

    fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        self.wait(async || {
            let mut pooled = self.connection().await?;
            match Self::finish(&mut pooled, &commit).await {
                // Sent, unanswered: it may have taken. Never guess; never reuse the connection
                // (closed before the question is asked on another).
                Finished::Lost { seq, hash, error } => {
                    discard(pooled);
                    self.settle(seq, &hash, error).await
                }
                Finished::Answered(result) => {
                    let answer = match result {
                        Ok(applied) => Self::answer(&pooled, &commit, applied).await,
                        Err(e) => Err(e),
                    };
                    release(pooled, answer)
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
        error: tokio_postgres::Error,
    },
}

impl PgStore {
    /// Runs the commit in a transaction of its own on `c`: committed when applied, else rolled
    /// back.
    async fn finish(c: &mut Pooled, commit: &Commit) -> Finished {
        let txn = match c.transaction().await {
            Ok(txn) => txn,
            Err(e) => return Finished::Answered(Err(fail(e))),
        };
        match Self::apply(&txn, commit).await {
            Ok(Applied::Done { seq, hash }) => match txn.commit().await {
                Ok(()) => Finished::Answered(Ok(Applied::Done { seq, hash })),
                Err(error) if error.is_closed() || error.as_db_error().is_none() => {
                    Finished::Lost { seq, hash, error }
                }
                Err(e) => Finished::Answered(Err(fail(e))),
            },
            Ok(other) => Finished::Answered(txn.rollback().await.map_err(fail).map(|()| other)),
            Err(e) => Finished::Answered(Err(e)),
        }
    }

    /// What a commit that ended as `applied` answers.
    async fn answer(
        c: &Pooled,
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
                    .row(
                        "SELECT record FROM idempotency WHERE sender_id = $1 AND key = $2",
                        &[sender, key],
                    )
                    .await
                    .map_err(fail)?;
                Ok(Committed::KeyTaken(from_json(known.get::<_, &[u8]>(0))?))
            }
        }
    }
}

impl Backend for PgStore {
    /// The next number of a sequence, modulo the 2^24 numbers serials give a node: two nodes
    /// running at once share one only if 16,777,216 starts came between theirs.
    fn node_number(&self) -> Result<u32, StoreError> {
        self.with_client(async |c| {
            let n: i64 = c
                .row("SELECT nextval('node_numbers')", &[])
                .await
                .map_err(fail)?
                .get(0);
            u32::try_from(n.rem_euclid(i64::from(sealpost_tsa::serial::NODES))).map_err(fail)
        })
    }

    /// One statement: the row is written (and returned) only when the job has no lease, its
    /// lease ran out, or `holder` holds it; PostgreSQL's row lock on the conflict decides
    /// between nodes asking at once.
    fn hold_lease(
        &self,
        job: &str,
        holder: &str,
        now: u64,
        until: u64,
    ) -> Result<bool, StoreError> {
        let (now, until) = (to_i64(now)?, to_i64(until)?);
        self.with_client(async |c| {
            Ok(c.maybe_row(
                "INSERT INTO leases (job, holder, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (job) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until \
                 WHERE leases.holder = EXCLUDED.holder OR leases.until < $4 \
                 RETURNING holder",
                &[&job, &holder, &until, &now],
            )
            .await
            .map_err(fail)?
            .is_some())
        })
    }

    fn probe_write(&self, at: u64) -> Result<(), StoreError> {
        self.with_client(async |c| {
            c.run(
                "INSERT INTO sealpost_meta (key, value) VALUES ('probe', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&to_i64(at)?],
            )
            .await
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
        self.with_client(async |c| {
            c.rows(
                "SELECT record FROM messages WHERE recipient = $1 ORDER BY submitted_at DESC, id ASC",
                &[&recipient],
            )
            .await
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
        self.with_client(async |c| {
            let total: i64 = c
                .row("SELECT count(*) FROM messages WHERE recipient = $1", &[&recipient])
                .await
                .map_err(fail)?
                .get(0);
            let page = c
                .rows(
                    "SELECT record FROM messages WHERE recipient = $1 ORDER BY id DESC OFFSET $2 LIMIT $3",
                    &[&recipient, &offset, &limit],
                )
                .await
                .map_err(fail)?
                .iter()
                .map(|row| from_json(row.get::<_, &[u8]>(0)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((page, usize::try_from(total).unwrap_or(usize::MAX)))
        })
    }

    fn evidences_page(&self, after: &str, limit: usize) -> Result<Vec<EvidenceRecord>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_client(async |c| {
            c.rows(
                "SELECT e.record, a.value FROM evidences e LEFT JOIN entities a ON a.kind = $2 AND a.key = e.id WHERE e.id > $1 ORDER BY e.id LIMIT $3",
                &[&after, &RecordKind::EvidenceArchive.name(), &limit],
            )
            .await
            .map_err(fail)?
            .iter()
            .map(evidence_with_archive)
            .collect()
        })
    }

    fn sender_mailbox(&self, sender_id: &str) -> Result<Vec<String>, StoreError> {
        self.with_client(async |c| {
            Ok(c.rows(
                "SELECT id FROM evidences WHERE sender_id = $1 ORDER BY id",
                &[&sender_id],
            )
            .await
            .map_err(fail)?
            .iter()
            .map(|row| row.get::<_, String>(0))
            .collect())
        })
    }

    fn audit_entries(&self, from: u64, to: u64) -> Result<Vec<(AuditEntry, Vec<u8>)>, StoreError> {
        let (from, to) = (to_i64(from)?, to_i64(to.min(i64::MAX as u64))?);
        self.with_client(async |c| {
            c.rows(
                "SELECT entry, request FROM audit WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
                &[&from, &to],
            )
            .await
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
        self.with_client(async |c| {
            // The requests' sizes first, so that only the requests that fit are fetched.
            let mut last = None;
            let mut bytes = 0usize;
            for row in c
                .rows(
                    "SELECT seq, octet_length(request) FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2",
                    &[&from, &limit],
                )
                .await
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
            c.rows(
                "SELECT entry, request FROM audit WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
                &[&from, &last],
            )
            .await
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
        self.with_client(async |c| {
            match c
                .maybe_row(
                    "SELECT seq, entry FROM audit ORDER BY seq DESC LIMIT 1",
                    &[],
                )
                .await
                .map_err(fail)?
            {
                Some(row) => Ok((
                    to_u64(row.get::<_, i64>(0))?,
                    from_json::<AuditEntry>(row.get::<_, &[u8]>(1))?.hash,
                )),
                None => Ok(Self::anchor(c).await?.unwrap_or((0, GENESIS.to_owned()))),
            }
        })
    }

    fn audit_last_before(&self, time: u64) -> Result<Option<(u64, String)>, StoreError> {
        self.with_client(async |c| {
            // Page by page (the entries alone, not their requests): memory does not grow with
            // the log.
            let (mut last, mut after) = (None, -1i64);
            loop {
                let rows = c
                    .rows(
                        "SELECT seq, entry FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                        &[&after, &AUDIT_SCAN_PAGE],
                    )
                    .await
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
        self.with_client(async |c| {
            let txn = c.transaction().await.map_err(fail)?;
            txn.run("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                .await
                .map_err(fail)?;
            let stored = txn
                .maybe_row("SELECT entry FROM audit WHERE seq = $1", &[&seq])
                .await
                .map_err(fail)?
                .map(|row| from_json::<AuditEntry>(row.get::<_, &[u8]>(0)))
                .transpose()?;
            if stored.is_none_or(|e| e.hash != hash) {
                return Err(StoreError::Conflict(format!(
                    "audit entry {seq} is not {hash}"
                )));
            }
            txn.run("DELETE FROM audit WHERE seq <= $1", &[&seq])
                .await
                .map_err(fail)?;
            txn.run(
                "INSERT INTO audit_anchor (seq, hash) VALUES ($1, $2) ON CONFLICT (seq) DO NOTHING",
                &[&seq, &hash],
            )
            .await
            .map_err(fail)?;
            txn.commit().await.map_err(fail)
        })
    }

    fn audit_anchor(&self) -> Result<Option<(u64, String)>, StoreError> {
        self.with_client(async |c| Self::anchor(c).await)
    }

    fn purge_evidences_before(&self, floor: &str) -> Result<usize, StoreError> {
        self.with_client(async |c| {
            let txn = c.transaction().await.map_err(fail)?;
            let n = txn
                .run("DELETE FROM evidences WHERE id < $1", &[&floor])
                .await
                .map_err(fail)?;
            // The signed requests of those messages: kept as long as the evidences.
            txn.run(
                "DELETE FROM message_requests WHERE message_id < $1",
                &[&floor],
            )
            .await
            .map_err(fail)?;
            // The identification vectors of the requests made before then, and the archived
            // forms of the evidences deleted.
            for kind in [
                RecordKind::Vector.name(),
                RecordKind::EvidenceArchive.name(),
            ] {
                txn.run(
                    "DELETE FROM entities WHERE kind = $1 AND key < $2",
                    &[&kind, &floor],
                )
                .await
                .map_err(fail)?;
            }
            txn.commit().await.map_err(fail)?;
            usize::try_from(n).map_err(fail)
        })
    }

    fn purge_reads_before(&self, time: u64) -> Result<usize, StoreError> {
        let time = to_i64(time)?;
        self.with_client(async |c| {
            let n = c
                .run("DELETE FROM letter_reads WHERE at < $1", &[&time])
                .await
                .map_err(fail)?;
            usize::try_from(n).map_err(fail)
        })
    }

    fn signed_request(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_client(async |c| {
            Ok(c.maybe_row(
                "SELECT request FROM message_requests WHERE message_id = $1",
                &[&message_id],
            )
            .await
            .map_err(fail)?
            .map(|row| row.get::<_, Vec<u8>>(0)))
        })
    }

    fn put_audit_seal(&self, seal: &AuditSeal) -> Result<(), StoreError> {
        let seq = to_i64(seal.seq)?;
        let record = to_json(seal)?;
        self.with_client(async |c| {
            c.run(
                "INSERT INTO audit_seals (seq, record) VALUES ($1, $2) ON CONFLICT (seq) DO UPDATE SET record = EXCLUDED.record",
                &[&seq, &record],
            )
            .await
            .map_err(fail)?;
            Ok(())
        })
    }

    fn audit_seals(&self) -> Result<Vec<AuditSeal>, StoreError> {
        self.all_json("SELECT record FROM audit_seals ORDER BY seq")
    }

    fn seen_requests(&self) -> Result<u64, StoreError> {
        self.with_client(async |c| {
            to_u64(
                c.row("SELECT count(*) FROM seen_requests", &[])
                    .await
                    .map_err(fail)?
                    .get(0),
            )
        })
    }

    fn entity(&self, kind: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_client(async |c| {
            Ok(c.maybe_row(
                "SELECT value FROM entities WHERE kind = $1 AND key = $2",
                &[&kind, &key],
            )
            .await
            .map_err(fail)?
            .map(|row| row.get::<_, Vec<u8>>(0)))
        })
    }

    fn entities(&self, kind: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with_client(async |c| {
            Ok(c.rows(
                "SELECT value FROM entities WHERE kind = $1 ORDER BY key",
                &[&kind],
            )
            .await
            .map_err(fail)?
            .iter()
            .map(|row| row.get::<_, Vec<u8>>(0))
            .collect())
        })
    }
}
