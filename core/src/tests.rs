//! The core's use cases over an in-memory store that can be made to fail.

use super::*;
use crate::records::{
    Channel, EvidenceRecord, IdempotencyRecord, Mailbox, MessageRecord, MessageState, Notice,
    ReadRecord, SenderRegistration,
};
use sealpost_model::{Evidence, Issuer, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One commit made to fail: before it persisted (nothing written, as a full disk), or
/// after (everything written, the acknowledgement lost, as a connection that drops while
/// the database commits).
#[derive(Clone, Copy, Debug)]
struct Fault {
    /// How many commits succeed first.
    after_commits: usize,
    persisted: bool,
}

/// An in-memory store that can be made to fail, as a full disk or a lost database would:
/// every operation (`failing`), or one chosen commit (`fault`).
#[derive(Default)]
struct MemoryStore {
    failing: AtomicBool,
    fault: Mutex<Option<Fault>>,
    /// The cheap read misses every mark (a replay racing the first delivery): only the
    /// commit can tell.
    blind_reads: AtomicBool,
    /// The next commit that opens a message finds another opening committed just before it
    /// (two first openings at once).
    race_next_opening: AtomicBool,
    senders: Mutex<HashMap<String, SenderRegistration>>,
    mailboxes: Mutex<HashMap<String, Mailbox>>,
    commits: Mutex<Vec<Commit>>,
}

impl MemoryStore {
    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("disk full".into()))
        } else {
            Ok(())
        }
    }

    fn holds_mark(commits: &[Commit], request: &SeenRequest) -> bool {
        commits
            .iter()
            .flat_map(|c| c.seen.iter())
            .any(|m| m.signed_sha256 == request.signed_sha256 && m.until >= request.seen_at)
    }
}

impl Registry for MemoryStore {
    fn sender_by_certificate(&self, fp: &str) -> Result<Option<SenderRegistration>, StoreError> {
        Ok(self.senders.lock().expect("lock").get(fp).cloned())
    }
}

impl Directory for MemoryStore {
    fn mailbox(&self, id: &str) -> Result<Option<Mailbox>, StoreError> {
        self.check()?;
        Ok(self.mailboxes.lock().expect("lock").get(id).cloned())
    }
}

impl Messages for MemoryStore {
    fn idempotency(
        &self,
        sender: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.check()?;
        Ok(self.commits.lock().expect("lock").iter().find_map(|c| {
            c.idempotency
                .as_ref()
                .filter(|(s, k, _)| s == sender && k == key)
                .map(|(_, _, r)| r.clone())
        }))
    }
    fn message(&self, id: &str) -> Result<Option<MessageRecord>, StoreError> {
        Ok(self
            .commits
            .lock()
            .expect("lock")
            .iter()
            .rev()
            .find_map(|c| {
                c.message_update
                    .as_ref()
                    .map(|u| &u.record)
                    .or(c.message.as_ref())
                    .filter(|m| m.id == id)
                    .cloned()
            }))
    }
    fn reads_of(&self, message_id: &str) -> Result<Vec<ReadRecord>, StoreError> {
        Ok(self
            .commits
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|c| c.read.clone())
            .filter(|r| r.message_id == message_id)
            .collect())
    }
    fn document(&self, message_id: &str, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        let commits = self.commits.lock().expect("lock");
        Ok(commits
            .iter()
            .find(|c| c.message.as_ref().is_some_and(|m| m.id == message_id))
            .and_then(|c| c.documents.get(index as usize))
            .map(|(_, content)| content.to_vec()))
    }
    fn evidence(&self, id: &str) -> Result<Option<EvidenceRecord>, StoreError> {
        Ok(self
            .commits
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|c| c.evidences.iter())
            .find(|e| e.id == id)
            .cloned())
    }
    fn evidences_of(&self, message_id: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        Ok(self
            .commits
            .lock()
            .expect("lock")
            .iter()
            .flat_map(|c| c.evidences.iter())
            .filter(|e| e.message_id == message_id)
            .cloned()
            .collect())
    }
}

impl Ledger for MemoryStore {
    fn seen(&self, request: &SeenRequest) -> Result<bool, StoreError> {
        self.check()?;
        Ok(!self.blind_reads.load(Ordering::SeqCst)
            && Self::holds_mark(&self.commits.lock().expect("lock"), request))
    }
    fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        self.check()?;
        let mut commits = self.commits.lock().expect("lock");
        if commit
            .seen
            .iter()
            .any(|seen| Self::holds_mark(&commits, seen))
        {
            return Ok(Committed::Replayed);
        }
        if commit.message_update.is_some() && self.race_next_opening.swap(false, Ordering::SeqCst) {
            let mut other = commit.clone();
            let record = &mut other.evidences[0];
            record.id = format!("{}-other", record.id);
            record.xml = record.xml.replace("Jan Peeters", "The other opener");
            other.audit.identity = "The other opener".into();
            other.seen = Vec::new();
            commits.push(other);
        }
        if let Some(update) = &commit.message_update {
            let stored = commits.iter().rev().find_map(|c| {
                c.message_update
                    .as_ref()
                    .map(|u| &u.record)
                    .or(c.message.as_ref())
                    .filter(|m| m.id == update.record.id)
            });
            if stored.is_some_and(|m| m.state != update.from) {
                return Ok(Committed::Changed);
            }
        }
        let mut fault = self.fault.lock().expect("lock");
        match fault.as_mut() {
            Some(f) if f.after_commits > 0 => f.after_commits -= 1,
            Some(f) => {
                let persisted = f.persisted;
                *fault = None;
                if persisted {
                    commits.push(commit);
                    return Err(StoreError::Unavailable(
                        "the acknowledgement of the commit was lost".into(),
                    ));
                }
                return Err(StoreError::Unavailable("the commit failed".into()));
            }
            None => {}
        }
        commits.push(commit);
        Ok(Committed::Done)
    }
}

/// Tokens and seals that are recognisable stand-ins: the core only carries them. Each
/// token is new (the digest, then a count of tokens issued).
#[derive(Default)]
struct FakeNotary {
    issued: AtomicUsize,
}

impl Timestamper for FakeNotary {
    fn timestamp(&self, sha256: &Sha256) -> Result<Vec<u8>, Unavailable> {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) as u64;
        let mut token = sha256.0.to_vec();
        token.extend_from_slice(&n.to_be_bytes());
        Ok(token)
    }
}

impl Sealer for FakeNotary {
    fn seal(&self, evidence: &Evidence) -> Result<String, Unavailable> {
        Ok(evidence.to_xml())
    }
    fn issuer(&self) -> Issuer {
        Issuer {
            name: "Sealpost (test)".into(),
            policy_id: "urn:oid:0.4.0.2023.1.1".into(),
        }
    }
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000)
    }
}

fn setup() -> (Arc<MemoryStore>, Service, VerifiedSigner) {
    let store = Arc::new(MemoryStore::default());
    let signer = VerifiedSigner {
        certificate_sha256: Sha256([1; 32]),
        subject: "CN=Agency A".into(),
        authentication: "test".into(),
    };
    store.senders.lock().expect("lock").insert(
        audit::hex(&[1; 32]),
        SenderRegistration {
            id: "agency-a".into(),
            name: "Agency A".into(),
            certificates: vec![audit::hex(&[1; 32])],
            message_types: vec!["tax-assessment".into()],
            recipient_kinds: vec![ids::RecipientKind::Citizen],
            active: true,
            identity_providers: Vec::new(),
            pagm: Vec::new(),
            minimum_levels: Vec::new(),
        },
    );
    store.mailboxes.lock().expect("lock").insert(
        "nrn:85073003328".into(),
        Mailbox {
            id: "nrn:85073003328".into(),
            display_name: "Jan".into(),
            active: true,
            created_at: 0,
            refused_at: None,
        },
    );
    let notary = Arc::new(FakeNotary::default());
    let service = Service::new(
        Ports::of_store(
            Arc::clone(&store) as Arc<dyn Store>,
            Arc::clone(&notary) as Arc<dyn Timestamper>,
            notary,
            Arc::new(FixedClock),
        ),
        SubmissionLimits::default(),
    );
    (store, service, signer)
}

fn ctx() -> RequestContext {
    RequestContext {
        correlation_id: "c-1".into(),
        channel: Channel::Soap,
        operation: "SubmitRegisteredMail",
        request: Arc::new(b"<signed request/>".to_vec()),
        seen: None,
        vector: None,
    }
}

/// A signed request's context, with its mark.
fn signed_ctx(signed: &[u8]) -> RequestContext {
    let now = FixedClock.now();
    RequestContext {
        seen: Some(SeenRequest::of_signed_bytes(
            signed,
            now,
            now + std::time::Duration::from_secs(1200),
        )),
        ..ctx()
    }
}

/// The `ev:TimeStampToken`s of an evidence, in order.
fn tokens(xml: &str) -> Vec<String> {
    xml.split("<ev:TimeStampToken>")
        .skip(1)
        .filter_map(|rest| rest.split('<').next())
        .map(str::to_owned)
        .collect()
}

fn letters(store: &MemoryStore) -> usize {
    store
        .commits
        .lock()
        .expect("lock")
        .iter()
        .filter(|c| c.message.is_some())
        .count()
}

fn submission(key: &str, content: &[u8]) -> Submission {
    let sha = Sha256::of(content);
    Submission {
        idempotency_key: key.into(),
        recipient: "nrn:85073003328".into(),
        message_type: "tax-assessment".into(),
        subject: "Avis".into(),
        sender_reference: "REF-1".into(),
        documents: vec![SubmittedDocument {
            id: "d1".into(),
            name: "avis.pdf".into(),
            media_type: "application/pdf".into(),
            declared_sha256: sha.hex(),
            sha256: sha,
            content: Arc::new(content.to_vec()),
        }],
    }
}

#[test]
fn an_acceptance_commits_everything_in_one_transaction() {
    let (store, service, signer) = setup();
    let accepted = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect("accepted");
    let commits = store.commits.lock().expect("lock");
    let [commit] = commits.as_slice() else {
        panic!("one commit, not {}", commits.len())
    };
    assert!(commit.message.is_some());
    assert_eq!(
        commit.documents,
        vec![(Sha256::of(b"letter"), Arc::new(b"letter".to_vec()))]
    );
    assert_eq!(commit.evidences.len(), 2);
    assert_eq!(commit.evidences[0].xml, accepted.evidence);
    let audit = &commit.audit;
    assert_eq!(audit.outcome, "accepted");
    assert_eq!(audit.request.as_slice(), b"<signed request/>");
    assert_eq!(audit.identity, "agency-a (CN=Agency A)");
}

#[test]
fn the_same_signed_request_twice_is_refused_as_replayed_and_makes_one_letter() {
    let (store, service, signer) = setup();
    let ctx = signed_ctx(b"<SignedInfo>letter</SignedInfo>");
    service
        .submit(&ctx, &signer, submission("k1", b"letter"))
        .expect("accepted");
    let refusal = service
        .submit(&ctx, &signer, submission("k1", b"letter"))
        .expect_err("replayed");
    assert_eq!(refusal.kind, ErrorKind::Expired);
    assert!(
        refusal.evidence.is_none(),
        "no rejection is sealed for a replay"
    );
    assert_eq!(letters(&store), 1);
    let commits = store.commits.lock().expect("lock");
    let [first, second] = commits.as_slice() else {
        panic!("two commits, not {}", commits.len())
    };
    assert_eq!(first.seen, ctx.marks(), "the mark goes with the letter");
    assert!(
        second.seen.is_empty(),
        "the refusal is audited without the mark"
    );
    let audit = &second.audit;
    assert_eq!(audit.code.as_deref(), Some("SEALPOST-AUTH-003"));
    assert!(audit.detail.contains("replayed"), "{}", audit.detail);
}

#[test]
fn a_replay_only_the_commit_sees_is_refused_all_the_same() {
    let (store, service, signer) = setup();
    let ctx = signed_ctx(b"<SignedInfo>raced</SignedInfo>");
    service
        .submit(&ctx, &signer, submission("k1", b"letter"))
        .expect("accepted");
    store.blind_reads.store(true, Ordering::SeqCst);
    // Even under another idempotency key (which would be a second letter).
    let refusal = service
        .submit(&ctx, &signer, submission("k2", b"letter"))
        .expect_err("replayed");
    assert_eq!(refusal.kind, ErrorKind::Expired);
    assert!(refusal.evidence.is_none());
    assert_eq!(letters(&store), 1);
    // A replayed read (GetEvidence) is refused the same way.
    let get = signed_ctx(b"<SignedInfo>get</SignedInfo>");
    let _ = service.get_evidence(&get, &signer, "urn:uuid:x");
    let again = service
        .get_evidence(&get, &signer, "urn:uuid:x")
        .expect_err("replayed");
    assert_eq!(again.kind, ErrorKind::Expired);
}

#[test]
fn an_unavailable_answer_marks_nothing_and_a_retry_is_accepted() {
    let (store, service, signer) = setup();
    let ctx = signed_ctx(b"<SignedInfo>retried</SignedInfo>");
    store.failing.store(true, Ordering::SeqCst);
    let refusal = service
        .submit(&ctx, &signer, submission("k1", b"letter"))
        .expect_err("unavailable");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    store.failing.store(false, Ordering::SeqCst);
    service
        .submit(&ctx, &signer, submission("k1", b"letter"))
        .expect("the retry of the same signed request");
    assert_eq!(letters(&store), 1);
}

#[test]
fn a_refused_request_is_marked_too_and_not_sealed_again_when_replayed() {
    let (store, service, signer) = setup();
    let ctx = signed_ctx(b"<SignedInfo>bad digest</SignedInfo>");
    let mut bad = submission("k1", b"letter");
    bad.documents[0].declared_sha256 = "00".repeat(32);
    let first = service
        .submit(&ctx, &signer, bad.clone())
        .expect_err("refused");
    assert_eq!(first.kind, ErrorKind::InvalidRequest);
    assert!(first.evidence.is_some());
    let again = service.submit(&ctx, &signer, bad).expect_err("replayed");
    assert_eq!(again.kind, ErrorKind::Expired);
    assert!(again.evidence.is_none());
    let sealed: usize = store
        .commits
        .lock()
        .expect("lock")
        .iter()
        .map(|c| c.evidences.len())
        .sum();
    assert_eq!(sealed, 1, "one SubmissionRejection");
}

#[test]
fn the_handover_carries_the_documents_submission_time_stamps() {
    let (store, service, signer) = setup();
    let accepted = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect("accepted");
    let stored = store
        .message(&accepted.message_id)
        .expect("read")
        .expect("message");
    assert!(!stored.documents[0].time_stamp_token.is_empty());
    let read = service
        .read_letter(
            &ctx(),
            &accepted.message_id,
            &Reader {
                person: "Jan Peeters",
                mandate: None,
                authentication: None,
            },
            LetterPart::Page,
        )
        .expect("read");
    let handover = &read.evidences.last().expect("handover").xml;
    let at_submission = tokens(&accepted.evidence);
    assert_eq!(at_submission.len(), 1);
    assert_eq!(tokens(handover), at_submission);
}

#[test]
fn time_stamps_go_to_registered_senders_within_their_rate_and_each_is_audited() {
    use time_stamping::{RateLimit, TimeStampReply};
    let (store, service, signer) = setup();
    let limit = RateLimit::new(60, 1);
    let issue = |_: &[u8]| TimeStampReply {
        response: b"TimeStampResp".to_vec(),
        outcome: Ok("granted token serial 1".into()),
    };
    let ctx = RequestContext {
        channel: Channel::Tsa,
        operation: "TimeStamp",
        ..ctx()
    };
    let token = service
        .time_stamp(&ctx, &signer, &limit, Ok(b"query"), issue)
        .expect("granted");
    assert_eq!(token, b"TimeStampResp");
    let over = service
        .time_stamp(&ctx, &signer, &limit, Ok(b"query"), issue)
        .expect_err("over the rate");
    assert_eq!(over.kind, ErrorKind::RateLimited);
    let mut stranger = signer.clone();
    stranger.certificate_sha256 = Sha256([2; 32]);
    let unknown = service
        .time_stamp(&ctx, &stranger, &limit, Ok(b"query"), issue)
        .expect_err("not a registered sender");
    assert_eq!(unknown.kind, ErrorKind::UntrustedSigner);
    {
        let commits = store.commits.lock().expect("lock");
        let audits: Vec<(&str, Option<&str>, &str)> = commits
            .iter()
            .map(|c| &c.audit)
            .map(|a| (a.outcome.as_str(), a.code.as_deref(), a.detail.as_str()))
            .collect();
        assert_eq!(audits.len(), 3);
        assert_eq!(audits[0], ("accepted", None, "granted token serial 1"));
        assert_eq!(audits[1].1, Some("SEALPOST-REQ-006"));
        assert_eq!(audits[2].1, Some("SEALPOST-AUTH-002"));
    }
    // No audit entry, no token.
    store.failing.store(true, Ordering::SeqCst);
    let refusal = service
        .time_stamp(&ctx, &signer, &RateLimit::new(60, 5), Ok(b"query"), issue)
        .expect_err("unavailable");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
}

#[test]
fn the_first_opening_is_sealed_naming_the_person_and_later_reads_are_only_traced() {
    let (store, service, signer) = setup();
    let accepted = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect("accepted");
    let read = service
        .read_letter(
            &ctx(),
            &accepted.message_id,
            &Reader {
                person: "Marie Dubois",
                mandate: Some("urn:uuid:mandate-1"),
                authentication: None,
            },
            LetterPart::Page,
        )
        .expect("read");
    let handover = &read.evidences.last().expect("handover").xml;
    assert!(handover.contains("Event/ContentHandover"), "{handover}");
    assert!(handover.contains("Marie Dubois") && handover.contains("urn:uuid:mandate-1"));
    assert_eq!(read.evidences.len(), 3, "acceptance, consignment, handover");
    {
        let commits = store.commits.lock().expect("lock");
        let last = commits.last().expect("commit");
        assert_eq!(
            last.message_update
                .as_ref()
                .map(|u| (u.from, u.record.state)),
            Some((MessageState::Delivered, MessageState::Opened))
        );
        assert_eq!(last.evidences.len(), 1);
        assert_eq!(
            last.audit.identity,
            "Marie Dubois (mandate urn:uuid:mandate-1)"
        );
    }
    // A download by someone else later: traced, handed out, nothing sealed.
    let again = service
        .read_letter(
            &ctx(),
            &accepted.message_id,
            &Reader {
                person: "Jan Peeters",
                mandate: None,
                authentication: None,
            },
            LetterPart::Document(0),
        )
        .expect("read");
    assert_eq!(again.document.as_deref(), Some(&b"letter"[..]));
    assert_eq!(again.evidences.len(), 3);
    // The letter's journal: both reads, who and what.
    let journal: Vec<(&str, &str)> = again
        .reads
        .iter()
        .map(|r| (r.who.as_str(), r.what.as_str()))
        .collect();
    assert_eq!(
        journal,
        [
            ("Marie Dubois (mandate urn:uuid:mandate-1)", "the letter"),
            ("Jan Peeters", "document 0")
        ]
    );
    {
        let commits = store.commits.lock().expect("lock");
        assert_eq!(commits.len(), 3);
        let last = commits.last().expect("commit");
        assert_eq!(last.audit.identity, "Jan Peeters");
        assert!(
            last.audit.detail.contains("document 0"),
            "{}",
            last.audit.detail
        );
        assert_eq!(
            last.audit.message_id.as_deref(),
            Some(accepted.message_id.as_str())
        );
        assert!(last.evidences.is_empty() && last.message_update.is_none());
    }
    let unknown = service
        .read_letter(
            &ctx(),
            "urn:uuid:none",
            &Reader {
                person: "Jan Peeters",
                mandate: None,
                authentication: None,
            },
            LetterPart::Page,
        )
        .expect_err("no such message");
    assert_eq!(unknown.kind, ErrorKind::MessageUnknown);
    let no_such_document = service
        .read_letter(
            &ctx(),
            &accepted.message_id,
            &Reader {
                person: "Jan Peeters",
                mandate: None,
                authentication: None,
            },
            LetterPart::Document(1),
        )
        .expect_err("no such document");
    assert_eq!(no_such_document.kind, ErrorKind::MessageUnknown);
}

#[test]
fn reading_a_document_first_seals_the_handover_and_nothing_is_handed_out_untraced() {
    let (store, service, signer) = setup();
    let accepted = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect("accepted");
    // The log cannot be written: the document is not handed out, and nothing is sealed.
    store.failing.store(true, Ordering::SeqCst);
    let refusal = service
        .read_letter(
            &ctx(),
            &accepted.message_id,
            &Reader {
                person: "Jan Peeters",
                mandate: None,
                authentication: None,
            },
            LetterPart::Document(0),
        )
        .expect_err("unavailable");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(store.commits.lock().expect("lock").len(), 1);
    // The first read is a download: it seals the handover as the page would.
    let read = service
        .read_letter(
            &ctx(),
            &accepted.message_id,
            &Reader {
                person: "Jan Peeters",
                mandate: None,
                authentication: None,
            },
            LetterPart::Document(0),
        )
        .expect("read");
    assert_eq!(read.document.as_deref(), Some(&b"letter"[..]));
    assert_eq!(
        read.evidences.last().map(|e| e.event.as_str()),
        Some("ContentHandover")
    );
}

#[test]
fn an_opening_that_loses_the_race_is_traced_as_a_later_one_and_seals_nothing() {
    let (store, service, signer) = setup();
    let accepted = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect("accepted");
    // Another opening commits between this one's read of the message and its commit.
    store.race_next_opening.store(true, Ordering::SeqCst);
    let read = service
        .read_letter(
            &ctx(),
            &accepted.message_id,
            &Reader {
                person: "Jan Peeters",
                mandate: None,
                authentication: None,
            },
            LetterPart::Page,
        )
        .expect("read");
    let handovers: Vec<_> = read
        .evidences
        .iter()
        .filter(|e| e.event == "ContentHandover")
        .collect();
    assert_eq!(handovers.len(), 1, "the winner's handover only");
    assert!(handovers[0].xml.contains("The other opener"));
    let commits = store.commits.lock().expect("lock");
    let last = commits.last().expect("commit");
    assert_eq!(last.audit.identity, "Jan Peeters");
    assert!(last.evidences.is_empty() && last.message_update.is_none());
}

#[test]
fn when_the_audit_log_cannot_be_written_nothing_is_accepted() {
    let (store, service, signer) = setup();
    store.failing.store(true, Ordering::SeqCst);
    let refusal = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect_err("refused");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    assert!(refusal.evidence.is_none());
    // A refusal that would have been InvalidRequest is unavailable too: it cannot be
    // recorded.
    let mut bad = submission("k2", b"letter");
    bad.documents[0].declared_sha256 = "00".repeat(32);
    let refusal = service.submit(&ctx(), &signer, bad).expect_err("refused");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    assert!(store.commits.lock().expect("lock").is_empty());
    // Reads are refused as well.
    let refusal = service
        .get_evidence(&ctx(), &signer, "urn:uuid:x")
        .expect_err("refused");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
}

fn fail_next_commit(store: &MemoryStore, persisted: bool) {
    *store.fault.lock().expect("lock") = Some(Fault {
        after_commits: 0,
        persisted,
    });
}

#[test]
fn a_commit_that_fails_before_it_persists_gives_no_proof_and_a_retry_makes_one_letter() {
    let (store, service, signer) = setup();
    let ctx = signed_ctx(b"<SignedInfo>failed commit</SignedInfo>");
    fail_next_commit(&store, false);
    let refusal = service
        .submit(&ctx, &signer, submission("k1", b"letter"))
        .expect_err("unavailable");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    assert!(refusal.evidence.is_none() && refusal.message_id.is_none());
    assert_eq!(letters(&store), 0);
    // The refusal is audited, without the request's mark: the same request is retried.
    let commits = store.commits.lock().expect("lock").clone();
    let [audited] = commits.as_slice() else {
        panic!("one commit: the refusal's audit entry")
    };
    assert!(audited.seen.is_empty() && audited.evidences.is_empty());
    let accepted = service
        .submit(&ctx, &signer, submission("k1", b"letter"))
        .expect("the retry");
    assert!(!accepted.replayed);
    assert_eq!(letters(&store), 1);
}

#[test]
fn a_commit_whose_acknowledgement_is_lost_never_becomes_a_second_letter() {
    let (store, service, signer) = setup();
    let first = signed_ctx(b"<SignedInfo>lost ack</SignedInfo>");
    fail_next_commit(&store, true);
    let refusal = service
        .submit(&first, &signer, submission("k1", b"letter"))
        .expect_err("unavailable");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    assert!(refusal.evidence.is_none());
    // The letter was written all the same (the store cannot tell its caller).
    assert_eq!(letters(&store), 1);
    // The same signed request again is a replay; signed anew with the same key, it gets
    // the original proof back: one letter, whatever the sender retries.
    let again = service
        .submit(&first, &signer, submission("k1", b"letter"))
        .expect_err("replayed");
    assert_eq!(again.kind, ErrorKind::Expired);
    let resent = service
        .submit(
            &signed_ctx(b"<SignedInfo>lost ack, signed anew</SignedInfo>"),
            &signer,
            submission("k1", b"letter"),
        )
        .expect("the original proof");
    assert!(resent.replayed);
    assert_eq!(letters(&store), 1);
    let stored = store.commits.lock().expect("lock").clone();
    let message = stored
        .iter()
        .find_map(|c| c.message.clone())
        .expect("letter");
    assert_eq!(resent.message_id, message.id);
}

#[test]
fn a_refused_submission_gets_no_time_stamp_of_the_providers() {
    let (store, service, signer) = setup();
    let mut unknown = submission("k1", b"letter");
    unknown.recipient = "nrn:85073003329".into();
    let refusal = service
        .submit(&ctx(), &signer, unknown)
        .expect_err("refused");
    let rejection = refusal.evidence.expect("a rejection");
    assert!(rejection.contains("<ev:Sha256>"), "{rejection}");
    assert!(!rejection.contains("TimeStampToken"), "{rejection}");
    assert_eq!(letters(&store), 0);
}

#[test]
fn a_field_that_could_mislead_a_reader_is_refused_before_anything_is_sealed() {
    for (field, text) in [
        ("Document/Name", "a.pdf\nSealpost says"),
        ("Document/Name", "invoice\u{202e}fdp.exe"),
        ("Subject", "pay \u{7}now"),
        ("Document/Name", &"n".repeat(257)),
    ] {
        let (store, service, signer) = setup();
        let mut letter = submission("k1", b"letter");
        match field {
            "Subject" => letter.subject = text.into(),
            _ => letter.documents[0].name = text.into(),
        }
        let refusal = service
            .submit(&ctx(), &signer, letter)
            .expect_err("refused");
        assert_eq!(refusal.kind, ErrorKind::InvalidRequest, "{text:?}");
        assert!(
            !refusal
                .evidence
                .unwrap_or_default()
                .contains("TimeStampToken"),
            "{text:?}"
        );
        assert_eq!(letters(&store), 0);
        let commits = store.commits.lock().expect("lock");
        let detail = &commits[0].audit.detail;
        assert!(detail.contains(field), "{detail}");
    }
}

#[test]
fn a_refused_request_leaves_only_its_audit_entry_and_its_rejection() {
    let (store, service, signer) = setup();
    let mut bad = submission("k1", b"letter");
    bad.documents[0].declared_sha256 = "00".repeat(32);
    let refusal = service.submit(&ctx(), &signer, bad).expect_err("refused");
    assert_eq!(refusal.kind, ErrorKind::InvalidRequest);
    let commits = store.commits.lock().expect("lock");
    let [commit] = commits.as_slice() else {
        panic!("one commit")
    };
    assert!(commit.message.is_none() && commit.documents.is_empty());
    assert!(commit.idempotency.is_none());
    assert_eq!(commit.evidences.len(), 1);
    assert_eq!(commit.evidences[0].event, "SubmissionRejection");
    assert_eq!(
        refusal.evidence.as_deref(),
        Some(commit.evidences[0].xml.as_str())
    );
    let audit = &commit.audit;
    assert_eq!(audit.code.as_deref(), Some("SEALPOST-REQ-001"));
    assert!(
        audit.detail.contains("declared SHA-256"),
        "{}",
        audit.detail
    );
}

#[test]
fn an_unregistered_certificate_is_refused_without_evidence() {
    let (store, service, mut signer) = setup();
    signer.certificate_sha256 = Sha256([2; 32]);
    let refusal = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect_err("refused");
    assert_eq!(refusal.kind, ErrorKind::UntrustedSigner);
    assert!(refusal.evidence.is_none());
    assert_eq!(store.commits.lock().expect("lock").len(), 1);
}

#[test]
fn an_action_and_what_it_changed_are_written_in_one_commit_or_not_at_all() {
    let (store, service, _) = setup();
    let ctx = RequestContext {
        channel: Channel::Admin,
        operation: "Retention",
        ..ctx()
    };
    let changes = Changes {
        records: vec![
            RecordWrite {
                kind: RecordKind::Person,
                key: "marie".into(),
                value: None,
                expected: None,
            },
            RecordWrite {
                kind: RecordKind::Mandate,
                key: "m-1".into(),
                value: Some(b"revoked".to_vec()),
                expected: None,
            },
        ],
        notices_sent: Vec::new(),
        senders: Vec::new(),
        mailboxes: vec![Mailbox {
            id: "nrn:85073003328".into(),
            display_name: "Jan".into(),
            active: false,
            created_at: 0,
            refused_at: None,
        }],
    };
    service
        .recorder()
        .record_change(&ctx, "retention", true, "account deleted", changes.clone())
        .expect("recorded");
    {
        let commits = store.commits.lock().expect("lock");
        assert_eq!(commits.len(), 1, "one commit for the entry and its changes");
        assert_eq!(commits[0].audit.detail, "account deleted");
        assert_eq!(commits[0].records, changes.records);
        assert_eq!(commits[0].mailboxes, changes.mailboxes);
    }
    // A store that cannot write: the action is not done, and nothing of it is written.
    store.failing.store(true, Ordering::SeqCst);
    let refusal = service
        .recorder()
        .record_change(&ctx, "retention", true, "account deleted", changes)
        .expect_err("unavailable");
    assert_eq!(refusal.kind, ErrorKind::ServiceUnavailable);
    store.failing.store(false, Ordering::SeqCst);
    assert_eq!(store.commits.lock().expect("lock").len(), 1);
}

#[test]
fn a_recipient_who_refuses_electronic_delivery_gets_no_letter_and_the_sender_a_sealed_refusal() {
    let (store, service, signer) = setup();
    store
        .mailboxes
        .lock()
        .expect("lock")
        .get_mut("nrn:85073003328")
        .expect("mailbox")
        .refused_at = Some(1_700_000_000);
    let refusal = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect_err("refused");
    assert_eq!(refusal.kind, ErrorKind::RecipientRefused);
    let evidence = refusal.evidence.expect("a sealed rejection");
    assert!(evidence.contains("Event/SubmissionRejection"), "{evidence}");
    assert!(evidence.contains("SEALPOST-REQ-007"), "{evidence}");
    assert_eq!(letters(&store), 0);
    // Accepted again: the next letter is delivered.
    store
        .mailboxes
        .lock()
        .expect("lock")
        .get_mut("nrn:85073003328")
        .expect("mailbox")
        .refused_at = None;
    service
        .submit(&ctx(), &signer, submission("k2", b"letter"))
        .expect("accepted");
    assert_eq!(letters(&store), 1);
}

impl Outbox for MemoryStore {
    fn pending_notices(&self, limit: usize) -> Result<Vec<Notice>, StoreError> {
        let commits = self.commits.lock().expect("lock");
        let sent: Vec<&String> = commits.iter().flat_map(|c| &c.notices_sent).collect();
        Ok(commits
            .iter()
            .flat_map(|c| c.notices.iter())
            .filter(|n| !sent.contains(&&n.id))
            .take(limit)
            .cloned()
            .collect())
    }
}

/// Tells nobody the first time, then `told` people.
struct FlakyNotifier {
    calls: AtomicUsize,
}

impl Notifier for FlakyNotifier {
    fn tell(&self, _: &Notice) -> Result<usize, Unavailable> {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => Err(Unavailable("the mail gateway is down".into())),
            _ => Ok(2),
        }
    }
}

#[test]
fn a_delivered_letter_leaves_a_notice_that_is_sent_once_even_when_the_channel_fails_first() {
    let (store, service, signer) = setup();
    let accepted = service
        .submit(&ctx(), &signer, submission("k1", b"letter"))
        .expect("accepted");
    // The notice is in the letter's own commit.
    {
        let commits = store.commits.lock().expect("lock");
        let letter = commits
            .iter()
            .find(|c| c.message.is_some())
            .expect("letter");
        assert_eq!(letter.notices.len(), 1);
        assert_eq!(letter.notices[0].message_id, accepted.message_id);
        assert_eq!(letter.notices[0].mailbox, "nrn:85073003328");
    }
    let notifier = FlakyNotifier {
        calls: AtomicUsize::new(0),
    };
    // The channel is down: the notice stays.
    let first = service
        .send_notices(store.as_ref(), &notifier, 10)
        .expect("pass");
    assert_eq!(
        first,
        Sent {
            sent: 0,
            deferred: 1
        }
    );
    assert_eq!(store.pending_notices(10).expect("read").len(), 1);
    // It comes back: sent, removed with its audit entry, and not sent again.
    let second = service
        .send_notices(store.as_ref(), &notifier, 10)
        .expect("pass");
    assert_eq!(
        second,
        Sent {
            sent: 1,
            deferred: 0
        }
    );
    assert!(store.pending_notices(10).expect("read").is_empty());
    let commits = store.commits.lock().expect("lock");
    let last = commits.last().expect("commit");
    assert_eq!(last.audit.operation, "NotifyRecipient");
    assert!(
        last.audit.detail.contains("told: 2 people"),
        "{}",
        last.audit.detail
    );
    drop(commits);
    let third = service
        .send_notices(store.as_ref(), &notifier, 10)
        .expect("pass");
    assert_eq!(third, Sent::default());
}

/// Agency A as an INTEROPS sender: its agents act through its application, vouched for by its
/// identity provider; the PAGM profile `tax-officer` may send tax assessments to citizens,
/// which need level 3.
fn interops_setup() -> (Arc<MemoryStore>, Service, VerifiedSigner) {
    let (store, service, signer) = setup();
    {
        let mut senders = store.senders.lock().expect("lock");
        let sender = senders.get_mut(&audit::hex(&[1; 32])).expect("agency a");
        sender.identity_providers = vec!["https://idp.agency-a.example".into()];
        sender.pagm = vec![records::PagmGrant {
            profile: "tax-officer".into(),
            message_types: vec!["tax-assessment".into()],
            recipient_kinds: vec![ids::RecipientKind::Citizen],
        }];
        sender.minimum_levels = vec![records::MinimumLevel {
            message_type: "tax-assessment".into(),
            level: 3,
        }];
    }
    (store, service, signer)
}

fn vector(assertion_id: &str, profiles: &[&str], level: &str) -> Arc<IdentificationVector> {
    Arc::new(IdentificationVector {
        agent: sealpost_model::Agent {
            id: "85073003328".into(),
            identity_provider: "https://idp.agency-a.example".into(),
            assertion_id: assertion_id.into(),
            assertion_sha256: Sha256::of(assertion_id.as_bytes()),
            authentication_level: Some(level.into()),
            profiles: profiles.iter().map(|p| (*p).to_owned()).collect(),
        },
        organisation: Some("agency-a".into()),
        authentication_context: None,
        token: "SAML 2.0 sender-vouches".into(),
        presentable_until: FixedClock.now() + std::time::Duration::from_secs(600),
        assertion: Arc::new(format!("<saml:Assertion ID=\"{assertion_id}\"/>").into_bytes()),
    })
}

fn with_vector(signed: &[u8], v: Arc<IdentificationVector>) -> RequestContext {
    RequestContext {
        vector: Some(v),
        ..signed_ctx(signed)
    }
}

#[test]
fn the_agent_behind_a_letter_is_in_its_proof_its_trace_and_the_vector_archive() {
    let (store, service, signer) = interops_setup();
    let ctx = with_vector(
        b"<SignedInfo>1</SignedInfo>",
        vector("_a1", &["tax-officer"], "3"),
    );
    let accepted = service
        .submit(&ctx, &signer, submission("k1", b"letter"))
        .expect("accepted");
    assert!(
        accepted.evidence.contains("<ev:Agent><ev:Id>85073003328</ev:Id><ev:IdentityProvider>https://idp.agency-a.example</ev:IdentityProvider><ev:Assertion>_a1</ev:Assertion>"),
        "{}",
        accepted.evidence
    );
    assert!(
        accepted
            .evidence
            .contains("<ev:Profile>tax-officer</ev:Profile>")
    );
    let commits = store.commits.lock().expect("lock");
    let [commit] = commits.as_slice() else {
        panic!("one commit")
    };
    assert!(
        commit.audit.identity.starts_with(
            "agency-a (CN=Agency A) for agent 85073003328 (PAGM tax-officer; level 3;"
        ),
        "{}",
        commit.audit.identity
    );
    let archived = commit.vector.as_ref().expect("the vector is archived");
    assert_eq!(archived.correlation_id, "c-1");
    assert_eq!(
        archived.message_id,
        commit.message.as_ref().map(|m| m.id.clone())
    );
    assert_eq!(archived.assertion, "<saml:Assertion ID=\"_a1\"/>");
    assert_eq!(
        commit.seen.len(),
        2,
        "the request's mark and the assertion's"
    );
    assert_eq!(
        commit
            .message
            .as_ref()
            .and_then(|m| m.sender_agent.as_ref())
            .map(|a| a.id.as_str()),
        Some("85073003328"),
        "later evidences repeat the agent"
    );
}

#[test]
fn an_agent_without_the_pagm_profile_or_the_level_a_letter_needs_is_refused_with_a_sealed_rejection()
 {
    let (store, service, signer) = interops_setup();
    for (n, v) in [
        vector("_a1", &["reader"], "3"),
        vector("_a2", &[], "3"),
        vector("_a3", &["tax-officer"], "2"),
        vector("_a4", &["tax-officer"], "high"),
    ]
    .into_iter()
    .enumerate()
    {
        let ctx = with_vector(format!("<SignedInfo>{n}</SignedInfo>").as_bytes(), v);
        let refusal = service
            .submit(&ctx, &signer, submission(&format!("k{n}"), b"letter"))
            .expect_err("refused");
        assert_eq!(refusal.kind, ErrorKind::NotAuthorized);
        let evidence = refusal.evidence.expect("a sealed rejection");
        assert!(
            evidence.contains("<ev:Agent>"),
            "the rejection names the agent"
        );
    }
    assert_eq!(letters(&store), 0);
    let commits = store.commits.lock().expect("lock");
    assert!(
        commits.iter().all(|c| c.vector.is_some()),
        "refused requests' vectors are archived too"
    );
}

#[test]
fn a_sender_whose_agents_act_through_it_needs_their_vector_and_only_from_its_provider() {
    let (store, service, signer) = interops_setup();
    // Without a vector.
    let refusal = service
        .submit(
            &signed_ctx(b"<SignedInfo>1</SignedInfo>"),
            &signer,
            submission("k1", b"l"),
        )
        .expect_err("refused");
    assert_eq!(refusal.kind, ErrorKind::UntrustedSigner);
    // From another organisation's provider, or naming another organisation.
    let mut elsewhere = (*vector("_b1", &["tax-officer"], "3")).clone();
    elsewhere.agent.identity_provider = "https://idp.agency-b.example".into();
    let mut other_org = (*vector("_b2", &["tax-officer"], "3")).clone();
    other_org.organisation = Some("agency-b".into());
    for (n, v) in [elsewhere, other_org].into_iter().enumerate() {
        let ctx = with_vector(
            format!("<SignedInfo>x{n}</SignedInfo>").as_bytes(),
            Arc::new(v),
        );
        let refusal = service
            .submit(&ctx, &signer, submission("k2", b"l"))
            .expect_err("refused");
        assert_eq!(refusal.kind, ErrorKind::UntrustedSigner);
        let refusal = service
            .get_evidence(
                &ctx,
                &signer,
                "urn:uuid:00000000-0000-7000-8000-000000000000",
            )
            .expect_err("refused");
        assert_eq!(
            refusal.kind,
            ErrorKind::Expired,
            "the request was seen once already"
        );
    }
    assert_eq!(letters(&store), 0);
}

#[test]
fn an_assertion_vouches_for_one_request_only() {
    let (store, service, signer) = interops_setup();
    let assertion = vector("_once", &["tax-officer"], "3");
    service
        .submit(
            &with_vector(b"<SignedInfo>first</SignedInfo>", Arc::clone(&assertion)),
            &signer,
            submission("k1", b"letter"),
        )
        .expect("accepted");
    // A new message, newly signed, carrying the same assertion.
    let refusal = service
        .submit(
            &with_vector(b"<SignedInfo>second</SignedInfo>", assertion),
            &signer,
            submission("k2", b"another letter"),
        )
        .expect_err("replayed");
    assert_eq!(refusal.kind, ErrorKind::Expired);
    assert_eq!(letters(&store), 1);
}
