//! The retention job of seed 003: a mailbox account without a login for
//! `retention.inactive_s` gets a notice (through the configured notifier at the person's
//! contact address, and in the mailbox once its owner logs in, which cancels the deletion).
//! A notice counts only once the notifier says it was delivered: otherwise it is tried again
//! at the next run and the deletion clock does not start. `retention.notice_s` after a
//! delivered notice, still
//! without a login, the account is deleted: the person, their certificates' index, their
//! mandates (revoked) and their mailbox in the directory (deactivated: letters for it are
//! refused with RecipientUnknown and a rejection evidence, so senders fall back to paper).
//! Letters already delivered and their evidences stay. Audit entries older than
//! `retention.traces_s` are purged with their stored requests, the last one purged kept as
//! the anchor the chain is verified from. Every notice, deletion, purge and run is in the
//! audit log. Evidences are kept for `retention.evidence_s` (ten years), then deleted.

use std::process::Command;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use sealpost_evidence::model::{evidence_id_floor, new_evidence_id};
use sealpost_mailbox::people::{Person, Retention};
use sealpost_xmldsig::wss_sign::format_date_time;

use crate::adapters::mailbox::{
    People, mandate_write, person_deletion, person_identity, person_write,
};
use crate::adapters::store::Backend;
use crate::config::RetentionSettings;
use crate::core::records::Channel;
use crate::core::{Changes, RecordKind, RecordWrite, RequestContext, Service};

/// A legal hold: the traces from entry `from_seq` on are kept past their retention (an
/// incident under investigation, a court's order) until it is released.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LegalHold {
    pub id: String,
    pub from_seq: u64,
    pub reason: String,
    /// Unix seconds.
    pub placed_at: u64,
    pub released_at: Option<u64>,
}

/// The legal holds, in force or released, by id.
pub fn legal_holds(store: &dyn Backend) -> anyhow::Result<Vec<LegalHold>> {
    store
        .entities(RecordKind::LegalHold.name())?
        .iter()
        .map(|bytes| Ok(serde_json::from_slice(bytes)?))
        .collect()
}

/// The write of `hold`'s record.
pub fn legal_hold_write(hold: &LegalHold) -> anyhow::Result<RecordWrite> {
    Ok(RecordWrite {
        kind: RecordKind::LegalHold,
        key: hold.id.clone(),
        value: Some(serde_json::to_vec(hold)?),
        expected: None,
    })
}

/// What a run did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Logins told their account will be deleted.
    pub notified: Vec<String>,
    /// Logins whose notice could not be delivered (no notifier, no contact address, the
    /// notifier failed): their deletion clock has not started.
    pub undelivered: Vec<String>,
    /// Logins deleted.
    pub deleted: Vec<String>,
    /// The audit log was purged up to this entry (its traces were older than their retention).
    pub purged_through: Option<u64>,
    /// Evidences deleted at the end of their legal retention.
    pub purged_evidences: usize,
}

fn audit(service: &Service, identity: &str, detail: &str) -> anyhow::Result<()> {
    audit_change(service, identity, detail, Changes::default())
}

/// The audit entry of one retention step and what it changes, in one commit.
fn audit_change(
    service: &Service,
    identity: &str,
    detail: &str,
    changes: Changes,
) -> anyhow::Result<()> {
    let ctx = RequestContext {
        correlation_id: new_evidence_id(service.now()),
        channel: Channel::Admin,
        operation: "Retention",
        request: Arc::new(detail.as_bytes().to_vec()),
        seen: None,
        vector: None,
    };
    service
        .recorder()
        .record_change(&ctx, identity, true, detail, changes)
        .map(|_| ())
        .map_err(|r| anyhow::anyhow!("the audit log: {}", r.kind.row().code))
}

/// One run at `now`.
pub fn run(
    store: &Arc<dyn Backend>,
    service: &Arc<Service>,
    settings: &RetentionSettings,
    now: SystemTime,
) -> anyhow::Result<RetentionReport> {
    let now_s = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let people = People(store.as_ref());
    let mut report = RetentionReport::default();
    // By login: entities come in key order.
    for mut person in people.everyone()? {
        match person.retention(
            now_s,
            settings.inactive.as_secs(),
            settings.notice.as_secs(),
        ) {
            Retention::Keep => {}
            Retention::Notify => {
                let due = now + settings.notice;
                // The deletion clock starts only with a notice delivered; one that could not
                // be is tried again at the next run.
                if let Err(why) = notify(settings, &person, due) {
                    audit(
                        service,
                        &person_identity(&person),
                        &format!(
                            "deletion notice not delivered ({why}): nothing is deleted, tried again at the next run"
                        ),
                    )?;
                    report.undelivered.push(person.login.clone());
                    continue;
                }
                person.deletion_notice_at = Some(now_s);
                audit_change(
                    service,
                    &person_identity(&person),
                    &format!(
                        "unused since {}: deletion notice, due {}",
                        format_date_time(
                            UNIX_EPOCH + std::time::Duration::from_secs(person.last_login)
                        ),
                        format_date_time(due)
                    ),
                    Changes {
                        records: vec![person_write(&person)?],
                        ..Changes::default()
                    },
                )?;
                report.notified.push(person.login.clone());
            }
            Retention::Delete => {
                audit_change(
                    service,
                    &person_identity(&person),
                    "no login after the deletion notice: account deleted, mailbox deactivated, mandates revoked",
                    deletion(store.as_ref(), &people, &person, now_s)?,
                )?;
                report.deleted.push(person.login.clone());
            }
        }
    }
    // Technical traces past their retention: the entries written before the cutoff, and
    // their stored requests. The last one purged stays as the anchor of the chain, and the
    // purge itself is the next entry. Evidences are not traces: they stay.
    let cutoff = now
        .checked_sub(settings.traces)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    // A legal hold in force keeps every entry from its first on.
    let held_from = legal_holds(store.as_ref())?
        .into_iter()
        .filter(|h| h.released_at.is_none())
        .map(|h| h.from_seq)
        .min();
    let purgeable = match (store.audit_last_before(cutoff)?, held_from) {
        (Some((seq, _)), Some(held)) if seq >= held => match held.checked_sub(1) {
            Some(last) if last > 0 => store
                .audit_entries(last, last)?
                .into_iter()
                .next()
                .map(|(e, _)| (e.seq, e.hash)),
            _ => None,
        },
        (last, _) => last,
    };
    if let Some((seq, hash)) = purgeable
        && store.audit_anchor()?.is_none_or(|(anchor, _)| anchor < seq)
    {
        store.purge_audit_through(seq, &hash)?;
        audit(
            service,
            "sealpost retention",
            &format!(
                "traces before {} purged: entries up to {seq} (hash {hash}){}",
                format_date_time(UNIX_EPOCH + std::time::Duration::from_secs(cutoff)),
                match held_from {
                    Some(held) => format!("; entries from {held} on are under a legal hold"),
                    None => String::new(),
                }
            ),
        )?;
        report.purged_through = Some(seq);
    }
    // The letters' access journals are traces too; a legal hold keeps them all.
    if held_from.is_none() {
        let reads = store.purge_reads_before(cutoff)?;
        if reads > 0 {
            audit(
                service,
                "sealpost retention",
                &format!(
                    "{reads} reads of letters' access journals before {} purged",
                    format_date_time(UNIX_EPOCH + std::time::Duration::from_secs(cutoff))
                ),
            )?;
        }
    }
    // Evidences at the end of their own (legal) retention.
    if let Some(limit) = now.checked_sub(settings.evidence) {
        report.purged_evidences = store.purge_evidences_before(&evidence_id_floor(limit))?;
        if report.purged_evidences > 0 {
            audit(
                service,
                "sealpost retention",
                &format!(
                    "{} evidences made before {} purged (end of their retention)",
                    report.purged_evidences,
                    format_date_time(limit)
                ),
            )?;
        }
    }
    audit(
        service,
        "sealpost retention",
        &format!(
            "run: {} notified, {} not reachable, {} deleted",
            report.notified.len(),
            report.undelivered.len(),
            report.deleted.len()
        ),
    )?;
    Ok(report)
}

/// Everything the deletion of `person`'s account changes: their mandates revoked, their
/// mailbox deactivated, the person and their certificates' index deleted.
fn deletion(
    store: &dyn Backend,
    people: &People<'_>,
    person: &Person,
    now_s: u64,
) -> anyhow::Result<Changes> {
    let mut records = Vec::new();
    for mut mandate in people.mandates()? {
        if mandate.person == person.login && mandate.revoked_at.is_none() {
            mandate.revoked_at = Some(now_s);
            records.push(mandate_write(&mandate)?);
        }
    }
    records.extend(person_deletion(person));
    let mut mailboxes = Vec::new();
    if let Some(nrn) = &person.nrn
        && let Some(mut mailbox) = store.mailbox(nrn)?.filter(|m| m.active)
    {
        mailbox.active = false;
        mailboxes.push(mailbox);
    }
    Ok(Changes {
        records,
        mailboxes,
        ..Changes::default()
    })
}

/// Tells `person` their account will be deleted at `due`, through the configured notifier
/// (`NOTIFIER LOGIN NAME DUE CONTACT`, exit status 0 when delivered), at their contact address.
/// The error says why it was not delivered.
fn notify(settings: &RetentionSettings, person: &Person, due: SystemTime) -> Result<(), String> {
    let due = format_date_time(due);
    let program = settings
        .notifier
        .as_ref()
        .ok_or("no retention.notifier is configured")?;
    let contact = person
        .contact
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .ok_or("the person has no contact address")?;
    match Command::new(program)
        .arg(&person.login)
        .arg(&person.name)
        .arg(&due)
        .arg(contact)
        .status()
    {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => {
            tracing::error!(login = %person.login, status = %s, "the retention notifier failed");
            Err(format!("the notifier failed: {s}"))
        }
        Err(e) => {
            tracing::error!(login = %person.login, error = %e, "the retention notifier cannot run");
            Err(format!("the notifier cannot run: {e}"))
        }
    }
}

/// Runs the job every `settings.interval` while this node holds its lease, until the process
/// ends.
pub async fn run_periodically(
    store: Arc<dyn Backend>,
    service: Arc<Service>,
    settings: RetentionSettings,
    lease: crate::lease::JobLease,
) {
    let clock = Arc::clone(&service);
    let interval = settings.interval;
    crate::lease::every_round(
        lease,
        interval,
        false,
        move || clock.now(),
        move |now| run(&store, &service, &settings, now),
        |r| {
            tracing::info!(
                notified = r.notified.len(),
                deleted = r.deleted.len(),
                "retention run"
            )
        },
    )
    .await;
}
