//! The archive job (XAdES baseline B-LTA): every `evidence.archive_interval_s` (and
//! `sealpost admin evidence archive`), each stored evidence whose current form is due
//! (`long_term::archive_due` under `evidence.archive_renew_before_days` and
//! `evidence.archive_sunsets`: its last time-stamp's certificate expires soon, or its digest
//! algorithm is about to be no longer trusted) gets an archive time-stamp
//! (`long_term::add_archive_timestamp`, with the validation data of the previous time-stamp's
//! unit), and the new form is stored as the evidence's current form.
//!
//! The evidence as first sealed is never changed (`EvidenceRecord::xml`); the current form is
//! a record of its own (`RecordKind::EvidenceArchive`), written with the audit entry that
//! names the evidence, why it was due and the new time-stamp's time, on the condition that it
//! still holds the form the new one was made from. A failure (the TSA or a revocation source
//! down, an evidence that does not read) writes nothing but an audit entry saying so; the
//! evidence is tried again at the next round.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use der::Decode;
use sealpost_evidence::long_term::{
    ArchiveDue, ArchivePolicy, SharedValidationSource, add_archive_timestamp, archive_due,
};
use sealpost_evidence::model::new_evidence_id;
use sealpost_evidence::seal::{SealError, Timestamper as TokenSource};
use sealpost_tsa::verify::read_unverified;
use sealpost_xmldsig::wss_sign::format_date_time;

use crate::adapters::store::Backend;
use crate::core::records::{ArchivedEvidence, Channel, EvidenceRecord};
use crate::core::{Changes, RecordKind, RecordWrite, RequestContext, Service, Written};

/// How many evidences are read at once.
const PAGE: usize = 100;

/// Who the audit log names for the archive job.
const IDENTITY: &str = "sealpost archive";

/// What the job needs.
pub struct Archiver {
    pub store: Arc<dyn Backend>,
    /// For the audit entries.
    pub service: Arc<Service>,
    /// What time-stamps the evidences (the embedded TSA or the remote ones).
    pub tsa: Arc<dyn TokenSource + Send + Sync>,
    pub source: SharedValidationSource,
    pub policy: ArchivePolicy,
    /// The certificates of the units that may make the archive time-stamps (the embedded
    /// TSA's, or `tsa.remote_units`): a round renews nothing with units that expire as soon.
    pub units: Vec<Vec<u8>>,
}

/// When the longest-lived of these unit certificates expires.
fn last_expiry(units: &[Vec<u8>]) -> Option<SystemTime> {
    units
        .iter()
        .filter_map(|der| x509_cert::Certificate::from_der(der).ok())
        .map(|c| c.tbs_certificate.validity.not_after.to_system_time())
        .max()
}

impl std::fmt::Debug for Archiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archiver")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What a round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Evidences looked at.
    pub examined: usize,
    /// Evidences given an archive time-stamp.
    pub archived: Vec<String>,
    /// Evidences due that could not be archived this round (each with its reason, audited).
    pub failed: Vec<(String, String)>,
}

/// The TSA, remembering the token it gave.
struct Recording<'a> {
    tsa: &'a dyn TokenSource,
    token: Mutex<Option<Vec<u8>>>,
}

impl TokenSource for Recording<'_> {
    fn timestamp(&self, sha256: &[u8]) -> Result<Vec<u8>, SealError> {
        let token = self.tsa.timestamp(sha256)?;
        *self.token.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(token)
    }
}

/// A token's genTime (read, not verified: the TSA adapter verified it when it came).
fn gen_time(token: &[u8]) -> Result<SystemTime, String> {
    read_unverified(token)
        .map(|t| t.gen_time)
        .map_err(|e| e.to_string())
}

/// The end tag the unsigned properties are appended before.
const UNSIGNED_END: &str = "</xades:UnsignedSignatureProperties>";

/// Whether `new` is `old` with something inserted before its last
/// `</xades:UnsignedSignatureProperties>`: every byte of `old`, the sealed ones included, kept.
fn only_appends(old: &str, new: &str) -> bool {
    old.rfind(UNSIGNED_END).is_some_and(|at| {
        new.len() > old.len() && new.starts_with(&old[..at]) && new.ends_with(&old[at..])
    })
}

impl Archiver {
    /// One round: every evidence due at `due_at` (now, or a date ahead: `--due-at`) gets an
    /// archive time-stamp now. An error only when the store or the audit log cannot be
    /// used; an evidence that cannot be archived is in the report's `failed`.
    pub fn run(&self, due_at: SystemTime) -> anyhow::Result<ArchiveReport> {
        let mut report = ArchiveReport::default();
        let mut after = String::new();
        // Evidences due because their last unit expires soon, that no unit here could renew.
        let mut unrenewable = 0usize;
        let renews_until = last_expiry(&self.units);
        loop {
            let page = self.store.evidences_page(&after, PAGE)?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id.clone();
            for evidence in page {
                report.examined += 1;
                match self.archive_if_due(&evidence, due_at, renews_until) {
                    Ok(Some(())) => report.archived.push(evidence.id.clone()),
                    Ok(None) => {}
                    Err(Failure::Audit(e)) => return Err(e),
                    // Said once for the round, below (not once per evidence).
                    Err(Failure::NoUnit(why)) => {
                        unrenewable += 1;
                        report.failed.push((evidence.id.clone(), why));
                    }
                    Err(Failure::Evidence(why)) => {
                        tracing::error!(evidence = %evidence.id, error = %why, "an evidence could not be archived: tried again at the next round");
                        self.audit(
                            &format!(
                                "evidence {} of message {} not archived: {why}; its stored form is unchanged, tried again at the next round",
                                evidence.id, evidence.message_id
                            ),
                            Changes::default(),
                        )?;
                        report.failed.push((evidence.id.clone(), why));
                    }
                }
            }
        }
        if unrenewable > 0 {
            let why = format!(
                "{unrenewable} evidences due could not be archived: every time-stamping unit configured expires {} or sooner, within evidence.archive_renew_before_days of their last time-stamp's expiry or of {}; an archive time-stamp of theirs would renew nothing: configure a unit valid longer (tsa.cert, tsa.remote_units), keeping the previous one published (tsa.previous_units)",
                renews_until.map_or_else(|| "(unreadable)".into(), format_date_time),
                format_date_time(due_at)
            );
            tracing::error!("{why}");
            self.audit(&why, Changes::default())?;
        }
        self.audit(
            &format!(
                "archive round (due at {}): {} evidences examined, {} archived, {} failed",
                format_date_time(due_at),
                report.examined,
                report.archived.len(),
                report.failed.len()
            ),
            Changes::default(),
        )?;
        Ok(report)
    }

    /// Archives `evidence` if its current form is due at `due_at`: `Some` when it was.
    fn archive_if_due(
        &self,
        evidence: &EvidenceRecord,
        due_at: SystemTime,
        renews_until: Option<SystemTime>,
    ) -> Result<Option<()>, Failure> {
        // The current form as stored now, and the bytes the new one is written over.
        let stored = self
            .store
            .entity(RecordKind::EvidenceArchive.name(), &evidence.id)
            .map_err(|e| Failure::Audit(e.into()))?;
        let current = match &stored {
            Some(bytes) => {
                serde_json::from_slice::<ArchivedEvidence>(bytes)
                    .map_err(|e| {
                        Failure::Evidence(format!("its archived form does not read: {e}"))
                    })?
                    .xml
            }
            None => evidence.xml.clone(),
        };
        let Some(due) = archive_due(&current, due_at, &self.policy).map_err(|e| {
            Failure::Evidence(format!("it does not read as a sealed evidence: {e}"))
        })?
        else {
            return Ok(None);
        };
        // An expiring time-stamp is renewed only by a unit that lasts beyond the margin.
        let horizon = due_at + self.policy.renew_before;
        if let ArchiveDue::CertificateExpires(expires) = due
            && renews_until.is_none_or(|until| until <= expires || until <= horizon)
        {
            return Err(Failure::NoUnit(format!(
                "due ({due}), but no configured unit lasts longer"
            )));
        }
        let tsa = Recording {
            tsa: self.tsa.as_ref(),
            token: Mutex::new(None),
        };
        let archived = add_archive_timestamp(&current, &tsa, self.source.as_ref())
            .map_err(|e| Failure::Evidence(format!("due ({due}), but {e}")))?;
        if !only_appends(&current, &archived) {
            return Err(Failure::Evidence(
                "the archived form would not keep every byte of the current one".into(),
            ));
        }
        // The unit that answered must renew it: stamped by one as short-lived (a remote TSA
        // of another unit), the new form would be due again at once.
        if let ArchiveDue::CertificateExpires(expires) = due
            && let Ok(Some(ArchiveDue::CertificateExpires(after))) =
                archive_due(&archived, due_at, &self.policy)
            && after <= expires
        {
            return Err(Failure::Evidence(format!(
                "due ({due}), but the unit that stamped expires on {} too: not stored",
                format_date_time(after)
            )));
        }
        let token = tsa
            .token
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| Failure::Evidence("no archive time-stamp was made".into()))?;
        let stamped = gen_time(&token).map_err(Failure::Evidence)?;
        let record = ArchivedEvidence {
            xml: archived,
            archived_at: stamped
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let detail = format!(
            "evidence {} of message {} archived ({}): archive time-stamp of {}",
            evidence.id,
            evidence.message_id,
            Why(&due),
            format_date_time(stamped)
        );
        let written = self
            .audit(
                &detail,
                Changes {
                    records: vec![RecordWrite {
                        kind: RecordKind::EvidenceArchive,
                        key: evidence.id.clone(),
                        value: Some(
                            serde_json::to_vec(&record).map_err(|e| Failure::Audit(e.into()))?,
                        ),
                        expected: stored,
                    }],
                    ..Changes::default()
                },
            )
            .map_err(Failure::Audit)?;
        match written {
            Written::Done => {
                tracing::info!(evidence = %evidence.id, "evidence archived");
                Ok(Some(()))
            }
            // Archived meanwhile by another round: that form stands.
            Written::Changed => Ok(None),
        }
    }

    /// The audit entry of one step of the job, with what it changes, in one commit.
    fn audit(&self, detail: &str, changes: Changes) -> anyhow::Result<Written> {
        let ctx = RequestContext {
            correlation_id: new_evidence_id(self.service.now()),
            channel: Channel::Admin,
            operation: "EvidenceArchive",
            request: Arc::new(detail.as_bytes().to_vec()),
            seen: None,
            vector: None,
        };
        self.service
            .recorder()
            .record_change(&ctx, IDENTITY, true, detail, changes)
            .map_err(|r| anyhow::anyhow!("the audit log: {}", r.kind.row().code))
    }
}

/// Why an evidence was due, for the audit entry.
struct Why<'a>(&'a ArchiveDue);

impl std::fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "due: {}", self.0)
    }
}

/// Why an evidence was not archived.
enum Failure {
    /// The store or the audit log: the round stops.
    Audit(anyhow::Error),
    /// This evidence, this round (audited, tried again).
    Evidence(String),
    /// Due, but no unit configured could renew it (audited once for the round).
    NoUnit(String),
}

/// Runs a round every `interval`, until the process ends.
pub async fn run_periodically(
    archiver: Arc<Archiver>,
    interval: Duration,
    lease: crate::lease::JobLease,
) {
    let clock = Arc::clone(&archiver);
    crate::lease::every_round(
        lease,
        interval,
        false,
        move || clock.service.now(),
        move |now| archiver.run(now),
        |r| {
            tracing::info!(
                examined = r.examined,
                archived = r.archived.len(),
                failed = r.failed.len(),
                "archive round"
            )
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_archived_form_must_keep_every_byte_of_the_one_it_extends() {
        let old = "<ev:Evidence><ds:Signature><xades:UnsignedSignatureProperties><xades:SignatureTimeStamp/></xades:UnsignedSignatureProperties></ds:Signature></ev:Evidence>";
        let good = old.replace(
            UNSIGNED_END,
            &format!("<xades141:ArchiveTimeStamp/>{UNSIGNED_END}"),
        );
        assert!(only_appends(old, &good));
        assert!(!only_appends(old, old), "nothing added");
        assert!(!only_appends(
            old,
            &good.replace("<ev:Evidence>", "<ev:Evidence >")
        ));
        assert!(!only_appends(
            old,
            &good.replace("<xades:SignatureTimeStamp/>", "")
        ));
        assert!(!only_appends("<ev:Evidence/>", "<ev:Evidence/><x/>"));
    }
}
