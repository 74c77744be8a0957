//! The store conformance suite: what the core, administration and the audit log rely on of a
//! store, checked the same way against every backend (redb, PostgreSQL).

use std::sync::Arc;

use sealpost_evidence::model::Sha256;

use super::postgres::PgStore;
use super::store::{Backend, RedbStore};
use crate::core::audit::{GENESIS, verify_chain, verify_chain_from};
use crate::core::records::{
    AuditRecord, AuditSeal, Channel, DocumentMeta, EvidenceRecord, IdempotencyRecord, Mailbox,
    MessageRecord, MessageState, ReadRecord, SenderRegistration,
};
use crate::core::{Commit, Committed, MessageUpdate, RecordKind, RecordWrite, SeenRequest};

fn audit(n: usize) -> AuditRecord {
    AuditRecord {
        time: 1_800_000_000,
        correlation_id: format!("urn:uuid:{n}"),
        channel: Channel::Soap,
        operation: "SubmitRegisteredMail".into(),
        identity: "agency-a".into(),
        outcome: "accepted".into(),
        code: None,
        kind: None,
        detail: String::new(),
        message_id: None,
        request: Arc::new(format!("<signed request {n}/>").into_bytes()),
        request_sha256: None,
    }
}

fn sender(id: &str, certificate: &str) -> SenderRegistration {
    SenderRegistration {
        id: id.into(),
        name: format!("Agency {id}"),
        certificates: vec![certificate.into()],
        message_types: vec!["tax-assessment".into()],
        recipient_kinds: vec![crate::core::ids::RecipientKind::Citizen],
        active: true,
        identity_providers: Vec::new(),
        pagm: Vec::new(),
        minimum_levels: Vec::new(),
    }
}

fn evidence(id: &str, message_id: &str, event: &str) -> EvidenceRecord {
    EvidenceRecord {
        id: id.into(),
        message_id: message_id.into(),
        event: event.into(),
        sender_id: "agency-a".into(),
        created_at: 1_800_000_000,
        xml: format!("<ev:Evidence Id=\"{id}\"/>"),
        archived: None,
    }
}

/// An accepted letter: message, two documents, two evidences, the key, the audit entry.
pub(super) fn letter(n: usize, key: &str, submitted_at: u64) -> Commit {
    let message_id = format!("urn:uuid:m-{n:04}");
    let documents = [
        format!("%PDF letter {n}").into_bytes(),
        vec![0u8, 1, 2, 255],
    ];
    Commit {
        audit: AuditRecord {
            message_id: Some(message_id.clone()),
            ..audit(n)
        },
        message: Some(MessageRecord {
            id: message_id.clone(),
            sender_id: "agency-a".into(),
            recipient: "nrn:85073003328".into(),
            message_type: "tax-assessment".into(),
            subject: format!("Letter {n}"),
            sender_reference: format!("REF-{n}"),
            documents: documents
                .iter()
                .enumerate()
                .map(|(i, d)| DocumentMeta {
                    id: format!("d{i}"),
                    name: format!("d{i}.pdf"),
                    media_type: "application/pdf".into(),
                    size: d.len() as u64,
                    sha256: Sha256::of(d),
                    time_stamp_token: format!("token of d{i}").into_bytes(),
                })
                .collect(),
            submitted_at,
            state: MessageState::Delivered,
            idempotency_key: key.into(),
            sender_subject: "CN=Agency A".into(),
            sender_authentication: "WS-Security X.509 signature (SOAP 1.1)".into(),
            acceptance_id: format!("urn:uuid:e-{n:04}-1"),
            sender_agent: None,
        }),
        documents: documents
            .iter()
            .map(|d| (Sha256::of(d), Arc::new(d.clone())))
            .collect(),
        evidences: vec![
            evidence(
                &format!("urn:uuid:e-{n:04}-1"),
                &message_id,
                "SubmissionAcceptance",
            ),
            evidence(
                &format!("urn:uuid:e-{n:04}-2"),
                &message_id,
                "ContentConsignment",
            ),
        ],
        idempotency: Some((
            "agency-a".into(),
            key.into(),
            IdempotencyRecord {
                content_hash: format!("content {n}"),
                message_id: message_id.clone(),
                evidence_id: format!("urn:uuid:e-{n:04}-1"),
            },
        )),
        message_update: None,
        senders: Vec::new(),
        mailboxes: Vec::new(),
        records: Vec::new(),
        read: None,
        notices: Vec::new(),
        notices_sent: Vec::new(),
        seen: Vec::new(),
        vector: None,
    }
}

/// Runs every check on an empty store.
fn conforms(store: Arc<dyn Backend>) {
    registry_and_directory(store.as_ref());
    a_commit_is_all_there_and_a_taken_key_writes_nothing(store.as_ref());
    an_opened_message_is_updated_with_its_handover_once(&store);
    concurrent_commits_each_all_or_nothing_and_the_chain_holds(&store);
    audit_seals_and_entries(store.as_ref());
    the_audit_log_is_visited_in_pages_of_bounded_size(store.as_ref());
    entities_by_kind_and_key(store.as_ref());
    a_conditional_record_write_is_refused_when_the_record_changed(store.as_ref());
    an_action_commits_its_records_and_mailboxes_with_its_entry(store.as_ref());
    a_notice_is_in_the_outbox_from_its_letter_s_commit_until_sent(store.as_ref());
    purged_traces_leave_an_anchor_the_chain_continues_from(store.as_ref());
    an_archived_evidence_is_served_in_its_current_form_its_sealed_form_kept(store.as_ref());
    evidences_past_their_retention_are_purged(store.as_ref());
    a_signed_request_is_committed_once_until_its_mark_expires(&store);
}

fn mark(content: &str, seen_at: u64, until: u64) -> SeenRequest {
    SeenRequest {
        signed_sha256: Sha256::of(content.as_bytes()),
        seen_at,
        until,
    }
}

fn a_signed_request_is_committed_once_until_its_mark_expires(store: &Arc<dyn Backend>) {
    let marks_before = store.seen_requests().expect("count");
    let first = mark(
        "<SignedInfo>once</SignedInfo>",
        2_000_000_000,
        2_000_001_200,
    );
    assert!(!store.seen(&first).expect("read"));
    let letter_once = Commit {
        seen: vec![first],
        ..letter(600, "once-1", 2_000_000_000)
    };
    let message = letter_once.message.clone().expect("message");
    assert_eq!(store.commit(letter_once).expect("commit"), Committed::Done);
    assert_eq!(
        store.message(&message.id).expect("read"),
        Some(message.clone())
    );
    // The same content again, even as another letter under another key: nothing written.
    let again = SeenRequest {
        seen_at: first.seen_at + 60,
        ..first
    };
    assert!(store.seen(&again).expect("read"));
    let (head, _) = store.audit_head().expect("head");
    let second = letter(601, "once-2", 2_000_000_060);
    let second_id = second.message.clone().expect("message").id;
    assert_eq!(
        store
            .commit(Commit {
                seen: vec![again],
                ..second
            })
            .expect("commit"),
        Committed::Replayed
    );
    assert_eq!(store.message(&second_id).expect("read"), None);
    assert_eq!(store.idempotency("agency-a", "once-2").expect("read"), None);
    assert!(store.evidences_of(&second_id).expect("read").is_empty());
    assert_eq!(store.audit_head().expect("head").0, head);
    // Its refusal is recorded without the mark.
    store
        .commit(Commit {
            ..Commit::of(audit(602))
        })
        .expect("commit");
    // Racing: the same content from 8 threads at once is committed once.
    let raced = mark(
        "<SignedInfo>raced</SignedInfo>",
        2_000_000_100,
        2_000_001_300,
    );
    let results: Vec<Committed> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(store);
                s.spawn(move || {
                    store
                        .commit(Commit {
                            seen: vec![raced],
                            ..letter(610 + t, &format!("raced-{t}"), 2_000_000_100)
                        })
                        .expect("commit")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(results.iter().filter(|c| **c == Committed::Done).count(), 1);
    assert_eq!(
        results
            .iter()
            .filter(|c| **c == Committed::Replayed)
            .count(),
        7
    );
    // After its freshness window, a mark means nothing and is taken over.
    let expired = SeenRequest {
        seen_at: first.until + 1,
        until: first.until + 1200,
        ..first
    };
    assert!(!store.seen(&expired).expect("read"));
    assert_eq!(
        store
            .commit(Commit {
                seen: vec![expired],
                ..Commit::of(audit(620))
            })
            .expect("commit"),
        Committed::Done
    );
    assert!(store.seen(&expired).expect("read"));
    assert_eq!(store.seen_requests().expect("count"), marks_before + 2);
    // Expired marks are forgotten a few at a time by later commits: the table stays bounded.
    for i in 0..20u64 {
        let short = mark(
            &format!("<SignedInfo>short {i}</SignedInfo>"),
            2_100_000_000,
            2_100_000_100 + i,
        );
        store
            .commit(Commit {
                seen: vec![short],
                ..Commit::of(audit(630))
            })
            .expect("commit");
    }
    // The first short one's commit forgot the two marks expired by then.
    assert_eq!(store.seen_requests().expect("count"), marks_before + 20);
    for i in 0..4u64 {
        let later = mark(
            &format!("<SignedInfo>later {i}</SignedInfo>"),
            2_200_000_000,
            2_200_001_200,
        );
        store
            .commit(Commit {
                seen: vec![later],
                ..Commit::of(audit(640))
            })
            .expect("commit");
    }
    // Every mark expired by 2_200_000_000 is gone: 8 forgotten per commit.
    assert_eq!(store.seen_requests().expect("count"), marks_before + 4);
}

/// The write of an evidence's archived form, on the condition that its record holds
/// `expected`, with its audit entry.
fn archive(store: &dyn Backend, id: &str, xml: &str, expected: Option<Vec<u8>>) -> Committed {
    let value = serde_json::to_vec(&crate::core::records::ArchivedEvidence {
        xml: xml.into(),
        archived_at: 1_900_000_000,
    })
    .expect("json");
    store
        .commit(Commit {
            records: vec![RecordWrite {
                kind: RecordKind::EvidenceArchive,
                key: id.into(),
                value: Some(value),
                expected,
            }],
            ..Commit::of(audit(1300))
        })
        .expect("commit")
}

fn an_archived_evidence_is_served_in_its_current_form_its_sealed_form_kept(store: &dyn Backend) {
    let (first, second) = (
        evidence(
            "urn:uuid:z-arch-1",
            "urn:uuid:m-arch",
            "SubmissionAcceptance",
        ),
        evidence("urn:uuid:z-arch-2", "urn:uuid:m-arch", "ContentConsignment"),
    );
    store
        .commit(Commit {
            evidences: vec![first.clone(), second.clone()],
            ..Commit::of(audit(1299))
        })
        .expect("commit");
    assert_eq!(
        archive(store, &first.id, "<archived once/>", None),
        Committed::Done
    );
    let read = store.evidence(&first.id).expect("read").expect("there");
    assert_eq!(read.xml, first.xml, "the sealed form is kept as it was");
    assert_eq!(read.current(), "<archived once/>");
    let of_message = store.evidences_of("urn:uuid:m-arch").expect("read");
    assert_eq!(
        of_message.iter().map(|e| e.current()).collect::<Vec<_>>(),
        vec!["<archived once/>", second.xml.as_str()]
    );
    assert_eq!(of_message[1].archived, None);
    // Archived again only over the form read: a stale one changes nothing.
    let stored = store
        .entity(RecordKind::EvidenceArchive.name(), &first.id)
        .expect("read")
        .expect("there");
    assert_eq!(
        archive(store, &first.id, "<archived twice/>", Some(stored.clone())),
        Committed::Done
    );
    assert_eq!(
        archive(
            store,
            &first.id,
            "<archived from a stale form/>",
            Some(stored)
        ),
        Committed::Changed
    );
    let read = store.evidence(&first.id).expect("read").expect("there");
    assert_eq!(
        (read.xml.as_str(), read.current()),
        (first.xml.as_str(), "<archived twice/>")
    );
    // Every evidence is visited in pages, in id order, each with its current form.
    let mut seen = Vec::new();
    let mut after = String::new();
    loop {
        let page = store.evidences_page(&after, 2).expect("page");
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        seen.extend(page);
    }
    let ids: Vec<&str> = seen.iter().map(|e| e.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ids, sorted, "in id order, each once");
    let visited = seen.iter().find(|e| e.id == first.id).expect("visited");
    assert_eq!(visited.current(), "<archived twice/>");
    assert!(ids.contains(&second.id.as_str()));
}

fn evidences_past_their_retention_are_purged(store: &dyn Backend) {
    use sealpost_evidence::model::{evidence_id_floor, new_evidence_id};
    use std::time::{Duration, UNIX_EPOCH};
    let then = UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    let old = evidence(
        &new_evidence_id(then),
        "urn:uuid:m-old",
        "SubmissionAcceptance",
    );
    let recent = evidence(
        &new_evidence_id(then + Duration::from_secs(3600)),
        "urn:uuid:m-old",
        "ContentConsignment",
    );
    store
        .commit(Commit {
            evidences: vec![old.clone(), recent.clone()],
            ..Commit::of(audit(950))
        })
        .expect("commit");
    assert_eq!(
        archive(store, &old.id, "<archived/>", None),
        Committed::Done
    );
    let purged = store
        .purge_evidences_before(&evidence_id_floor(then + Duration::from_secs(60)))
        .expect("purge");
    assert_eq!(purged, 1);
    assert_eq!(store.evidence(&old.id).expect("read"), None);
    assert_eq!(
        store
            .entity(RecordKind::EvidenceArchive.name(), &old.id)
            .expect("read"),
        None,
        "its archived form goes with it"
    );
    assert_eq!(
        store.evidences_of("urn:uuid:m-old").expect("read"),
        vec![recent.clone()]
    );
    assert!(
        !store
            .sender_mailbox("agency-a")
            .expect("read")
            .contains(&old.id)
    );
    // The conformance suite's other evidences (ids not UUIDv7-old) are untouched.
    assert!(store.evidence("urn:uuid:e-0001-1").expect("read").is_some());

    // A letter's signed request is kept with its evidences, after its trace is purged, and
    // goes with them.
    let submitted = Commit {
        message: Some(MessageRecord {
            id: new_evidence_id(then),
            ..letter(990, "kept-request", 1_500_000_000)
                .message
                .expect("message")
        }),
        audit: AuditRecord {
            request: Arc::new(b"<signed letter request/>".to_vec()),
            request_sha256: None,
            ..audit(990)
        },
        ..letter(990, "kept-request", 1_500_000_000)
    };
    let id = submitted.message.clone().expect("message").id;
    assert_eq!(store.commit(submitted).expect("commit"), Committed::Done);
    let (head, hash) = store.audit_head().expect("head");
    store
        .purge_audit_through(head, &hash)
        .expect("purge traces");
    assert_eq!(
        store.signed_request(&id).expect("read").as_deref(),
        Some(&b"<signed letter request/>"[..])
    );
    store
        .purge_evidences_before(&evidence_id_floor(then + Duration::from_secs(60)))
        .expect("purge");
    assert_eq!(store.signed_request(&id).expect("read"), None);
    assert_eq!(store.signed_request("urn:uuid:m-none").expect("read"), None);

    // A request's identification vector is archived with its audit entry, readable by the
    // request's correlation id, and goes with the evidences of its time.
    let vector = |at: std::time::SystemTime| crate::core::records::VectorRecord {
        correlation_id: new_evidence_id(at),
        time: 1_500_000_000,
        operation: "SubmitRegisteredMail".into(),
        identity: "agency-a (CN=Agency A) for agent 85073003328".into(),
        outcome: "accepted".into(),
        code: None,
        message_id: None,
        agent: sealpost_evidence::model::Agent {
            id: "85073003328".into(),
            identity_provider: "https://idp.example".into(),
            assertion_id: "_a1".into(),
            assertion_sha256: Sha256::of(b"assertion"),
            authentication_level: Some("3".into()),
            profiles: vec!["tax-officer".into()],
        },
        organisation: Some("agency-a".into()),
        authentication_context: None,
        token: "SAML 2.0 sender-vouches".into(),
        assertion: "<saml:Assertion/>".into(),
    };
    let (old_vector, new_vector) = (vector(then), vector(then + Duration::from_secs(3600)));
    for (n, v) in [(991, &old_vector), (992, &new_vector)] {
        store
            .commit(Commit {
                vector: Some(v.clone()),
                ..Commit::of(audit(n))
            })
            .expect("commit");
    }
    let read = |v: &crate::core::records::VectorRecord| {
        store
            .entity(RecordKind::Vector.name(), &v.correlation_id)
            .expect("read")
            .map(|bytes| {
                serde_json::from_slice::<crate::core::records::VectorRecord>(&bytes)
                    .expect("decode")
            })
    };
    assert_eq!(read(&old_vector).as_ref(), Some(&old_vector));
    store
        .purge_evidences_before(&evidence_id_floor(then + Duration::from_secs(60)))
        .expect("purge");
    assert_eq!(read(&old_vector), None);
    assert_eq!(read(&new_vector).as_ref(), Some(&new_vector));
}

fn purged_traces_leave_an_anchor_the_chain_continues_from(store: &dyn Backend) {
    let (head, _) = store.audit_head().expect("head");
    assert!(head > 5);
    let entries = store.audit_entries(1, u64::MAX).expect("entries");
    let (seq, hash) = (entries[2].0.seq, entries[2].0.hash.clone());
    // Everything was written "at" 1_800_000_000 (audit()): nothing before that.
    assert_eq!(store.audit_last_before(1_800_000_000).expect("scan"), None);
    assert_eq!(
        store
            .audit_last_before(1_800_000_001)
            .expect("scan")
            .map(|(s, _)| s),
        Some(head)
    );
    // The wrong hash purges nothing.
    assert!(store.purge_audit_through(seq, &"0".repeat(64)).is_err());
    assert_eq!(
        store.audit_entries(1, u64::MAX).expect("entries").len(),
        entries.len()
    );
    store.purge_audit_through(seq, &hash).expect("purge");
    assert_eq!(
        store.audit_anchor().expect("anchor"),
        Some((seq, hash.clone()))
    );
    let rest = store.audit_entries(0, u64::MAX).expect("entries");
    assert_eq!(rest.first().map(|(e, _)| e.seq), Some(seq + 1));
    verify_chain_from((seq, hash), rest).expect("the chain from the anchor");
    // Everything purged: the next entry still links to the last one.
    let (head, head_hash) = store.audit_head().expect("head");
    store
        .purge_audit_through(head, &head_hash)
        .expect("purge all");
    assert_eq!(store.audit_head().expect("head"), (head, head_hash.clone()));
    store
        .commit(Commit {
            ..Commit::of(audit(999))
        })
        .expect("commit");
    let after = store.audit_entries(0, u64::MAX).expect("entries");
    assert_eq!(after.len(), 1);
    verify_chain_from((head, head_hash), after).expect("linked to the anchor");
}

/// A record written (`Some`) or deleted, in a commit with its audit entry.
fn write(store: &dyn Backend, kind: RecordKind, key: &str, value: Option<&[u8]>) {
    store
        .commit(Commit {
            records: vec![RecordWrite {
                kind,
                key: key.into(),
                value: value.map(<[u8]>::to_vec),
                expected: None,
            }],
            ..Commit::of(audit(1200))
        })
        .expect("commit");
}

/// Mailboxes written in a commit with its audit entry.
fn write_mailboxes(store: &dyn Backend, mailboxes: &[Mailbox]) {
    store
        .commit(Commit {
            mailboxes: mailboxes.to_vec(),
            ..Commit::of(audit(1))
        })
        .expect("commit");
}

fn entities_by_kind_and_key(store: &dyn Backend) {
    write(store, RecordKind::Person, "marie", Some(b"v1"));
    write(store, RecordKind::Person, "jan", Some(b"jan"));
    write(store, RecordKind::Mandate, "m1", Some(b"m1"));
    write(store, RecordKind::Person, "marie", Some(b"v2"));
    assert_eq!(
        store.entity("person", "marie").expect("read"),
        Some(b"v2".to_vec())
    );
    assert_eq!(store.entity("mandate", "marie").expect("read"), None);
    assert_eq!(
        store.entities("person").expect("list"),
        vec![b"jan".to_vec(), b"v2".to_vec()]
    );
    assert_eq!(
        store.entities("mandate").expect("list"),
        vec![b"m1".to_vec()]
    );
    assert!(store.entities("nothing").expect("list").is_empty());
    write(store, RecordKind::Person, "jan", None);
    write(store, RecordKind::Person, "nobody", None);
    assert_eq!(store.entity("person", "jan").expect("read"), None);
    assert_eq!(
        store.entities("person").expect("list"),
        vec![b"v2".to_vec()]
    );
}

/// The outbox: a notice written with its letter, pending (oldest first) until a commit says
/// it was sent.
fn a_notice_is_in_the_outbox_from_its_letter_s_commit_until_sent(store: &dyn Backend) {
    let before = store.pending_notices(1000).expect("read").len();
    let notice = |n: u32| crate::core::records::Notice {
        id: format!("urn:uuid:00000000-0000-7000-8000-{n:012}"),
        mailbox: "nrn:85073003328".into(),
        message_id: format!("urn:uuid:m-notice-{n}"),
        sender_id: "agency-a".into(),
        created_at: 1_800_000_000,
    };
    store
        .commit(Commit {
            notices: vec![notice(2), notice(1)],
            ..Commit::of(audit(1100))
        })
        .expect("commit");
    let pending = store.pending_notices(1000).expect("read");
    assert_eq!(pending.len(), before + 2);
    assert_eq!(store.pending_notices(1).expect("read").len(), 1);
    let first = pending.iter().position(|n| *n == notice(1)).expect("one");
    let second = pending.iter().position(|n| *n == notice(2)).expect("two");
    assert!(first < second, "oldest first");
    store
        .commit(Commit {
            notices_sent: vec![notice(1).id],
            ..Commit::of(audit(1101))
        })
        .expect("commit");
    let pending = store.pending_notices(1000).expect("read");
    assert!(!pending.contains(&notice(1)) && pending.contains(&notice(2)));
    store
        .commit(Commit {
            notices_sent: vec![notice(2).id],
            ..Commit::of(audit(1102))
        })
        .expect("commit");
    assert_eq!(store.pending_notices(1000).expect("read").len(), before);
}

/// Retention deletes a person, revokes their mandates and deactivates their mailbox in the
/// commit of its audit entry: all of it, or (a replay) none of it.
fn an_action_commits_its_records_and_mailboxes_with_its_entry(store: &dyn Backend) {
    write(store, RecordKind::Person, "anne", Some(b"anne"));
    write(store, RecordKind::PersonCertificate, "ab12", Some(b"anne"));
    let mailbox = Mailbox {
        id: "nrn:93051822361".into(),
        display_name: "Anne".into(),
        active: true,
        created_at: 1_800_000_000,
        refused_at: None,
    };
    write_mailboxes(store, std::slice::from_ref(&mailbox));
    let deleted = |n: usize, seen: Vec<SeenRequest>| Commit {
        records: vec![
            RecordWrite {
                kind: RecordKind::Person,
                key: "anne".into(),
                value: None,
                expected: None,
            },
            RecordWrite {
                kind: RecordKind::PersonCertificate,
                key: "ab12".into(),
                value: None,
                expected: None,
            },
            RecordWrite {
                kind: RecordKind::Mandate,
                key: "m-anne".into(),
                value: Some(b"revoked".to_vec()),
                expected: None,
            },
        ],
        mailboxes: vec![Mailbox {
            active: false,
            ..mailbox.clone()
        }],
        seen,
        ..Commit::of(audit(n))
    };
    let seen = mark("<retention run/>", 3_000_000_000, 3_000_000_600);
    store
        .commit(Commit {
            seen: vec![seen],
            ..Commit::of(audit(700))
        })
        .expect("commit");
    let (head, _) = store.audit_head().expect("head");
    assert_eq!(
        store.commit(deleted(701, vec![seen])).expect("commit"),
        Committed::Replayed
    );
    assert_eq!(
        store.entity("person", "anne").expect("read"),
        Some(b"anne".to_vec())
    );
    assert!(
        store
            .mailbox(&mailbox.id)
            .expect("read")
            .expect("mailbox")
            .active
    );
    assert_eq!(store.audit_head().expect("head").0, head);

    assert_eq!(
        store.commit(deleted(702, Vec::new())).expect("commit"),
        Committed::Done
    );
    assert_eq!(store.entity("person", "anne").expect("read"), None);
    assert_eq!(
        store.entity("person_certificate", "ab12").expect("read"),
        None
    );
    assert_eq!(
        store.entity("mandate", "m-anne").expect("read"),
        Some(b"revoked".to_vec())
    );
    assert!(
        !store
            .mailbox(&mailbox.id)
            .expect("read")
            .expect("mailbox")
            .active
    );
    assert_eq!(store.audit_head().expect("head").0, head + 1);
}

fn write_senders(
    store: &dyn Backend,
    senders: &[SenderRegistration],
) -> Result<Committed, crate::core::StoreError> {
    store.commit(Commit {
        senders: senders.to_vec(),
        ..Commit::of(audit(1))
    })
}

fn registry_and_directory(store: &dyn Backend) {
    assert_eq!(store.audit_head().expect("head"), (0, GENESIS.to_owned()));
    write_senders(store, &[sender("agency-a", "aa"), sender("agency-b", "bb")]).expect("put");
    assert_eq!(
        store.sender_by_certificate("aa").expect("read"),
        Some(sender("agency-a", "aa"))
    );
    // A certificate belongs to one sender; the refused change leaves the registry (and the
    // audit log) as it was.
    assert!(write_senders(store, &[sender("agency-b", "aa")]).is_err());
    assert_eq!(
        store.sender_by_certificate("bb").expect("read"),
        Some(sender("agency-b", "bb"))
    );
    assert_eq!(store.audit_head().expect("head").0, 1);
    // Replacing a sender's certificate forgets the old one.
    write_senders(store, &[sender("agency-b", "cc")]).expect("put");
    assert_eq!(store.sender_by_certificate("bb").expect("read"), None);
    assert_eq!(store.senders().expect("list").len(), 2);

    let mailbox = |id: &str, active| Mailbox {
        id: id.into(),
        display_name: format!("Mailbox {id}"),
        active,
        created_at: 1_800_000_000,
        refused_at: None,
    };
    write_mailboxes(
        store,
        &[
            mailbox("nrn:85073003328", true),
            mailbox("cbe:0203201340", false),
        ],
    );
    write_mailboxes(store, &[mailbox("cbe:0203201340", true)]);
    assert_eq!(store.mailboxes().expect("list").len(), 2);
    assert!(
        store
            .mailbox("cbe:0203201340")
            .expect("read")
            .expect("there")
            .active
    );
    assert_eq!(store.mailbox("nrn:00012556777").expect("read"), None);
}

fn a_commit_is_all_there_and_a_taken_key_writes_nothing(store: &dyn Backend) {
    let commit = letter(1, "key-1", 1_800_000_100);
    let message = commit.message.clone().expect("message");
    assert!(matches!(
        store.commit(commit.clone()).expect("commit"),
        Committed::Done
    ));
    assert_eq!(
        store.message(&message.id).expect("read"),
        Some(message.clone())
    );
    for (i, (_, content)) in commit.documents.iter().enumerate() {
        assert_eq!(
            store.document(&message.id, i as u32).expect("read"),
            Some(content.as_ref().clone())
        );
    }
    assert_eq!(store.document(&message.id, 2).expect("read"), None);
    let evidences = store.evidences_of(&message.id).expect("read");
    assert_eq!(evidences, commit.evidences, "in the order committed");
    assert_eq!(
        store.evidence(&evidences[1].id).expect("read"),
        Some(evidences[1].clone())
    );
    assert_eq!(
        store.sender_mailbox("agency-a").expect("read"),
        vec![evidences[0].id.clone(), evidences[1].id.clone()]
    );
    assert_eq!(
        store.idempotency("agency-a", "key-1").expect("read"),
        commit.idempotency.as_ref().map(|(_, _, r)| r.clone())
    );
    assert_eq!(store.idempotency("agency-b", "key-1").expect("read"), None);

    // A later letter comes first in the mailbox.
    let later = letter(2, "key-2", 1_800_000_200);
    store.commit(later.clone()).expect("commit");
    let listed: Vec<String> = store
        .mailbox_messages("nrn:85073003328")
        .expect("read")
        .into_iter()
        .map(|m| m.id)
        .collect();
    let later_id = later.message.expect("message").id;
    assert_eq!(listed, vec![later_id.clone(), message.id.clone()]);
    // Paged: newest first, with the mailbox's size.
    let ids = |(page, total): (Vec<MessageRecord>, usize)| {
        (page.into_iter().map(|m| m.id).collect::<Vec<_>>(), total)
    };
    let page = |offset, limit| {
        ids(store
            .mailbox_page("nrn:85073003328", offset, limit)
            .expect("page"))
    };
    assert_eq!(page(0, 1), (vec![later_id.clone()], 2));
    assert_eq!(page(1, 5), (vec![message.id.clone()], 2));
    assert_eq!(page(2, 5), (vec![], 2));
    assert_eq!(
        ids(store.mailbox_page("cbe:0203201340", 0, 5).expect("page")),
        (vec![], 0)
    );

    // The same key again: told whose it is; nothing of the second commit is written.
    let (head, _) = store.audit_head().expect("head");
    let again = letter(3, "key-1", 1_800_000_300);
    match store.commit(again.clone()).expect("commit") {
        Committed::KeyTaken(known) => assert_eq!(known.message_id, message.id),
        other => panic!("a taken key was accepted: {other:?}"),
    }
    let again_id = again.message.expect("message").id;
    assert_eq!(store.message(&again_id).expect("read"), None);
    assert!(store.evidences_of(&again_id).expect("read").is_empty());
    assert_eq!(store.document(&again_id, 0).expect("read"), None);
    assert_eq!(store.audit_head().expect("head").0, head);
    assert_eq!(
        store
            .mailbox_page("nrn:85073003328", 0, 10)
            .expect("page")
            .1,
        2
    );
}

/// Two first openings at once seal one handover: the update of a message is conditional on
/// its state, checked in the commit's transaction.
fn an_opened_message_is_updated_with_its_handover_once(store: &Arc<dyn Backend>) {
    let opened = letter(950, "opened-once", 1_800_000_950);
    let message_id = opened.message.clone().expect("message").id;
    assert_eq!(store.commit(opened).expect("commit"), Committed::Done);
    let mut message = store.message(&message_id).expect("read").expect("letter");
    message.state = MessageState::Opened;
    let (head, _) = store.audit_head().expect("head");
    let results: Vec<Committed> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (store, message) = (Arc::clone(store), message.clone());
                s.spawn(move || {
                    store
                        .commit(Commit {
                            message_update: Some(MessageUpdate {
                                record: message,
                                from: MessageState::Delivered,
                            }),
                            evidences: vec![evidence(
                                &format!("urn:uuid:e-0950-h{t}"),
                                "urn:uuid:m-0950",
                                "ContentHandover",
                            )],
                            ..Commit::of(audit(960 + t))
                        })
                        .expect("commit")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(results.iter().filter(|c| **c == Committed::Done).count(), 1);
    assert_eq!(
        results.iter().filter(|c| **c == Committed::Changed).count(),
        7
    );
    assert_eq!(
        store.message(&message_id).expect("read"),
        Some(message.clone())
    );
    let handovers = store
        .evidences_of(&message_id)
        .expect("read")
        .into_iter()
        .filter(|e| e.event == "ContentHandover")
        .count();
    assert_eq!(handovers, 1);
    assert_eq!(store.audit_head().expect("head").0, head + 1);
    // A letter's access journal: each read in the commit of its audit entry, in order.
    for (n, what) in ["the letter", "document 0"].into_iter().enumerate() {
        store
            .commit(Commit {
                read: Some(ReadRecord {
                    message_id: message_id.clone(),
                    at: 1_800_000_960 + n as u64,
                    who: "Jan Peeters (jan)".into(),
                    what: what.into(),
                }),
                ..Commit::of(audit(980 + n))
            })
            .expect("commit");
    }
    let journal: Vec<String> = store
        .reads_of(&message_id)
        .expect("read")
        .into_iter()
        .map(|r| r.what)
        .collect();
    assert_eq!(journal, ["the letter", "document 0"]);
    // Purged as traces: the reads before a time go, the later ones stay.
    assert_eq!(store.purge_reads_before(1_800_000_961).expect("purge"), 1);
    assert_eq!(store.reads_of(&message_id).expect("read").len(), 1);
    assert!(store.reads_of("urn:uuid:m-none").expect("read").is_empty());
    let head = head + 2;
    // Updating a message that does not exist fails, and writes nothing.
    let mut ghost = message;
    ghost.id = "urn:uuid:m-ghost".into();
    let ghost_evidence = evidence("urn:uuid:e-ghost", "urn:uuid:m-ghost", "ContentHandover");
    assert!(
        store
            .commit(Commit {
                message_update: Some(MessageUpdate {
                    record: ghost,
                    from: MessageState::Delivered,
                }),
                evidences: vec![ghost_evidence.clone()],
                ..Commit::of(audit(901))
            })
            .is_err()
    );
    assert_eq!(store.evidence(&ghost_evidence.id).expect("read"), None);
    assert_eq!(store.audit_head().expect("head").0, head + 1);
}

/// A record changed on the condition that it still holds what was read (a failed login
/// counted, a TOTP step used): a commit that finds it changed writes nothing.
fn a_conditional_record_write_is_refused_when_the_record_changed(store: &dyn Backend) {
    write(store, RecordKind::Person, "lea", Some(b"0 failures"));
    let counted = |from: &[u8], to: &[u8], n: usize| Commit {
        records: vec![RecordWrite {
            kind: RecordKind::Person,
            key: "lea".into(),
            value: Some(to.to_vec()),
            expected: Some(from.to_vec()),
        }],
        ..Commit::of(audit(n))
    };
    let (head, _) = store.audit_head().expect("head");
    assert_eq!(
        store
            .commit(counted(b"0 failures", b"1 failure", 970))
            .expect("commit"),
        Committed::Done
    );
    // A second guess that read "0 failures" too is not written over the first.
    assert_eq!(
        store
            .commit(counted(b"0 failures", b"1 failure", 971))
            .expect("commit"),
        Committed::Changed
    );
    assert_eq!(
        store.entity("person", "lea").expect("read"),
        Some(b"1 failure".to_vec())
    );
    assert_eq!(store.audit_head().expect("head").0, head + 1);
    // Nor is a record that is not there.
    assert_eq!(
        store
            .commit(counted(b"anything", b"1 failure", 972))
            .expect("commit"),
        Committed::Changed
    );
}

fn concurrent_commits_each_all_or_nothing_and_the_chain_holds(store: &Arc<dyn Backend>) {
    let (before, _) = store.audit_head().expect("head");
    // 8 threads × 10 commits, letters and refusals mixed.
    let results: Vec<Committed> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(store);
                s.spawn(move || {
                    (0..10)
                        .map(|i| {
                            let n = 100 + t * 10 + i;
                            let commit = if i % 2 == 0 {
                                letter(n, &format!("k{n}"), 1_800_001_000 + n as u64)
                            } else {
                                // A refusal: only its audit entry.
                                Commit {
                                    ..Commit::of(audit(n))
                                }
                            };
                            store.commit(commit).expect("commit")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    let done = results
        .iter()
        .filter(|c| matches!(c, Committed::Done))
        .count();
    assert_eq!(done, 80);
    let (after, _) = store.audit_head().expect("head");
    assert_eq!(after - before, 80);
    verify_chain(store.audit_entries(1, after).expect("entries")).expect("chain");

    // Racing for one key: one wins, the others are told whose it is and write nothing.
    let results: Vec<Committed> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let store = Arc::clone(store);
                s.spawn(move || {
                    store
                        .commit(letter(500 + t, "raced", 1_800_002_000))
                        .expect("commit")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    let winners = results
        .iter()
        .filter(|c| matches!(c, Committed::Done))
        .count();
    assert_eq!(winners, 1);
    let winner = store
        .idempotency("agency-a", "raced")
        .expect("read")
        .expect("raced key");
    for r in &results {
        if let Committed::KeyTaken(known) = r {
            assert_eq!(known, &winner);
        }
    }
    assert_eq!(store.audit_head().expect("head").0, after + 1);
}

fn audit_seals_and_entries(store: &dyn Backend) {
    let (head, hash) = store.audit_head().expect("head");
    let entries = store.audit_entries(1, u64::MAX).expect("entries");
    assert_eq!(entries.len() as u64, head);
    assert_eq!(
        entries.last().map(|(e, _)| e.hash.clone()),
        Some(hash.clone())
    );
    // The signed request comes back byte for byte.
    assert_eq!(entries[0].1, b"<signed request 1/>".to_vec());
    assert_eq!(store.audit_entries(2, 3).expect("entries").len(), 2);
    let seal = AuditSeal {
        seq: head,
        hash,
        token: "MAo=".into(),
        sealed_at: 1_800_003_000,
        counter_token: None,
    };
    store.put_audit_seal(&seal).expect("seal");
    assert_eq!(store.audit_seals().expect("seals"), vec![seal.clone()]);
    // A counter-stamped seal of the next head comes back with its counter-stamp.
    let countered = AuditSeal {
        seq: head + 1,
        counter_token: Some("MAs=".into()),
        ..seal.clone()
    };
    store.put_audit_seal(&countered).expect("seal");
    assert_eq!(store.audit_seals().expect("seals"), vec![seal, countered]);
}

/// What an export relies on to stream the log: pages in sequence order, bounded in entries
/// and in request bytes, that together are the whole log. More entries than one page of the
/// stores' own scans (`audit_last_before`), which the purge case then crosses.
fn the_audit_log_is_visited_in_pages_of_bounded_size(store: &dyn Backend) {
    let (before, _) = store.audit_head().expect("head");
    for n in 0..300 {
        store
            .commit(Commit::of(AuditRecord {
                request: Arc::new(vec![b'r'; (n % 7) * 100]),
                ..audit(2000 + n)
            }))
            .expect("commit");
    }
    let (head, _) = store.audit_head().expect("head");
    assert_eq!(head, before + 300);
    let all = store.audit_entries(1, u64::MAX).expect("entries");
    let mut visited = Vec::new();
    let mut from = 1;
    loop {
        let page = store
            .audit_entries_page(from, 64, usize::MAX)
            .expect("page");
        let Some((last, _)) = page.last() else { break };
        assert!(page.len() <= 64);
        assert_eq!(page[0].0.seq, from);
        from = last.seq + 1;
        visited.extend(page);
    }
    assert_eq!(visited, all);
    // Entries before+1.. hold requests of 0, 100, ..., 600 bytes: 0 + 100 + 200 fit in 300.
    let first = before + 1;
    let sizes: Vec<usize> = store
        .audit_entries_page(first, 3, 300)
        .expect("page")
        .iter()
        .map(|(_, r)| r.len())
        .collect();
    assert_eq!(sizes, [0, 100, 200]);
    assert_eq!(
        store
            .audit_entries_page(first, 10, 299)
            .expect("page")
            .len(),
        2
    );
    // A request larger than the bound still comes, alone.
    let page = store.audit_entries_page(first + 6, 10, 1).expect("page");
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].1, vec![b'r'; 600]);
    assert!(
        store
            .audit_entries_page(first, 0, usize::MAX)
            .expect("page")
            .is_empty()
    );
    assert!(
        store
            .audit_entries_page(head + 1, 10, usize::MAX)
            .expect("page")
            .is_empty()
    );
}

#[test]
fn redb_passes_the_store_conformance_suite() {
    let dir = std::env::temp_dir().join(format!("sealpost-conformance-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = RedbStore::open(&dir.join("sealpost.redb"), 1 << 20).expect("open");
    conforms(Arc::new(store));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs on the PostgreSQL server of `TEST_POSTGRES_URL` (default: the local one, user
/// postgres), in a database of its own that it drops afterwards. No server: the test fails.
#[test]
fn postgres_passes_the_store_conformance_suite() {
    on_a_postgres_database("conformance", |_, database| {
        let url = format!("{} dbname={database}", postgres_server());
        let store = PgStore::open(&url).expect("open");
        conforms(Arc::new(store));
        // Opening again finds the schema in place.
        PgStore::open(&url).expect("reopen");
    });
}

/// Two nodes on one database: a periodic job's lease is held by one of them at a time, renewed
/// by its holder, and taken by the other once the holder lets it run out (it died); the
/// holder that comes back late finds it taken.
#[test]
fn on_postgresql_a_job_runs_on_one_node_at_a_time_and_moves_when_its_node_dies() {
    on_a_postgres_database("leases", |_, database| {
        let url = format!("{} dbname={database}", postgres_server());
        let (a, b) = (
            PgStore::open(&url).expect("node a"),
            PgStore::open(&url).expect("node b"),
        );
        let t = 1_800_000_000;
        assert_eq!(a.hold_lease("audit-seal", "node-a", t, t + 30), Ok(true));
        assert_eq!(
            b.hold_lease("audit-seal", "node-b", t + 1, t + 31),
            Ok(false)
        );
        // Another job is free.
        assert_eq!(b.hold_lease("retention", "node-b", t + 1, t + 31), Ok(true));
        // Renewed by its holder before it runs out.
        assert_eq!(
            a.hold_lease("audit-seal", "node-a", t + 20, t + 50),
            Ok(true)
        );
        assert_eq!(
            b.hold_lease("audit-seal", "node-b", t + 40, t + 70),
            Ok(false)
        );
        // Node a dies: once its lease has run out, node b takes the job.
        assert_eq!(
            b.hold_lease("audit-seal", "node-b", t + 51, t + 81),
            Ok(true)
        );
        assert_eq!(
            a.hold_lease("audit-seal", "node-a", t + 52, t + 82),
            Ok(false)
        );
        // Many nodes asking at once: exactly one gets a free job.
        let nodes: Vec<PgStore> = (0..8).map(|_| PgStore::open(&url).expect("node")).collect();
        let held = std::thread::scope(|s| {
            let asks: Vec<_> = nodes
                .iter()
                .enumerate()
                .map(|(i, node)| {
                    s.spawn(move || node.hold_lease("archive", &format!("node-{i}"), t, t + 30))
                })
                .collect();
            asks.into_iter()
                .map(|ask| ask.join().expect("ask").expect("answer"))
                .filter(|&held| held)
                .count()
        });
        assert_eq!(held, 1);
        // Each node its own number, for its time-stamps' serials.
        let mut numbers: Vec<u32> = nodes
            .iter()
            .chain([&a, &b])
            .map(|node| node.node_number().expect("a number"))
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), nodes.len() + 2);
        assert!(numbers.iter().all(|&n| n < sealpost_tsa::serial::NODES));
    });
}

/// The PostgreSQL server of `TEST_POSTGRES_URL` (default: the local one, user postgres).
fn postgres_server() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "host=127.0.0.1 user=postgres".into())
}

/// Runs `test` with the server's connection string and a database of its own, named after
/// `name`, dropped afterwards whatever happens. No server: the test fails.
fn on_a_postgres_database(name: &str, test: impl FnOnce(&str, &str) + std::panic::UnwindSafe) {
    let server = postgres_server();
    let database = format!("sealpost_{name}_{}", std::process::id());
    on_the_server(&server, &format!("DROP DATABASE IF EXISTS {database}"))
        .unwrap_or_else(|e| panic!("PostgreSQL at {server:?} (set TEST_POSTGRES_URL): {e}"));
    on_the_server(&server, &format!("CREATE DATABASE {database}")).expect("create database");
    let result = std::panic::catch_unwind(|| test(&server, &database));
    let _ = on_the_server(
        &server,
        &format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"),
    );
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `sql`, one statement (a batch of several would run as one transaction), in the
/// `postgres` database of `server`, on a connection of its own.
fn on_the_server(server: &str, sql: &str) -> Result<(), tokio_postgres::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (client, connection) =
            tokio_postgres::connect(&format!("{server} dbname=postgres"), tokio_postgres::NoTls)
                .await?;
        let connection = tokio::spawn(connection);
        client.batch_execute(sql).await?;
        drop(client);
        connection.await.expect("the connection's task").map(|_| ())
    })
}

/// Where a [`CuttingRelay`] cuts the connection that sends a COMMIT.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// The COMMIT reaches the server, its answer never comes back.
    AfterCommit,
    /// The COMMIT never reaches the server.
    BeforeCommit,
    /// The connection is cut instead of relaying the client's next message but this many
    /// (each statement of a transaction is one message the client waits on).
    BeforeMessage(usize),
}

/// A TCP relay to PostgreSQL that, once armed, cuts the first connection that sends a COMMIT.
struct CuttingRelay {
    port: u16,
    armed: Arc<std::sync::Mutex<Option<Cut>>>,
}

impl CuttingRelay {
    fn start(upstream: std::net::SocketAddr) -> CuttingRelay {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let armed: Arc<std::sync::Mutex<Option<Cut>>> = Arc::default();
        let arms = Arc::clone(&armed);
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(upstream) else {
                    continue;
                };
                let (mut from_server, mut to_client) = (
                    server.try_clone().expect("clone"),
                    client.try_clone().expect("clone"),
                );
                // Once set, nothing more from the server reaches the client.
                let mute = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let muted = Arc::clone(&mute);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from_server.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if muted.load(std::sync::atomic::Ordering::SeqCst)
                            || to_client.write_all(&buf[..n]).is_err()
                        {
                            break;
                        }
                    }
                });
                let arms = Arc::clone(&arms);
                std::thread::spawn(move || {
                    let (mut client, mut server) = (client, server);
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match client.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let chunk = &buf[..n];
                        let commit = chunk.windows(6).any(|w| w == b"COMMIT");
                        let cut = {
                            let mut armed = arms.lock().expect("armed");
                            match *armed {
                                Some(Cut::BeforeMessage(0)) => armed.take(),
                                Some(Cut::BeforeMessage(k)) => {
                                    *armed = Some(Cut::BeforeMessage(k - 1));
                                    None
                                }
                                Some(_) if commit => armed.take(),
                                _ => None,
                            }
                        };
                        if cut.is_some() {
                            mute.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                        let relayed = matches!(cut, None | Some(Cut::AfterCommit));
                        if relayed && server.write_all(chunk).is_err() {
                            break;
                        }
                        if cut.is_some() {
                            // Let the server act on what it got, then cut both ways.
                            if cut == Some(Cut::AfterCommit) {
                                std::thread::sleep(std::time::Duration::from_millis(300));
                            }
                            let _ = client.shutdown(std::net::Shutdown::Both);
                            let _ = server.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                    }
                });
            }
        });
        CuttingRelay { port, armed }
    }

    fn arm(&self, cut: Cut) {
        *self.armed.lock().expect("armed") = Some(cut);
    }

    /// Whether the armed cut is still to come; disarms it.
    fn disarm(&self) -> bool {
        self.armed.lock().expect("armed").take().is_some()
    }
}

/// The `host=… port=…` of a key-value connection string (default 127.0.0.1:5432).
fn server_address(server: &str) -> std::net::SocketAddr {
    let value = |key: &str| {
        server
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
    };
    let host = value("host").unwrap_or_else(|| "127.0.0.1".into());
    let port = value("port").unwrap_or_else(|| "5432".into());
    format!("{host}:{port}")
        .parse()
        .unwrap_or_else(|e| panic!("{host}:{port}: {e} (TEST_POSTGRES_URL with an IP host)"))
}

/// A letter whose COMMIT was sent but whose answer was lost is answered as what happened:
/// done when the server committed it (never "unavailable", which would make its sender send
/// it again under a new key), unavailable when it did not, with nothing of it stored.
#[test]
fn postgres_finds_out_whether_a_commit_whose_answer_was_lost_took() {
    on_a_postgres_database("lost_commit", |server, database| {
        let relay = CuttingRelay::start(server_address(server));
        let mut through_relay: Vec<String> = server
            .split_whitespace()
            .filter(|kv| !kv.starts_with("host=") && !kv.starts_with("port="))
            .map(str::to_owned)
            .collect();
        through_relay.extend(["host=127.0.0.1".to_owned(), format!("port={}", relay.port)]);
        let through_relay = through_relay.join(" ");
        let url = format!("{through_relay} dbname={database}");
        let opened = PgStore::open(&url).expect("open");
        let store: &dyn Backend = &opened;
        let head = store.audit_head().expect("head").0;

        relay.arm(Cut::AfterCommit);
        let taken = letter(1, "lost-answer", 1_800_000_100);
        let id = taken.message.clone().expect("message").id;
        assert!(matches!(
            store.commit(taken).expect("answered as done"),
            Committed::Done
        ));
        assert!(store.message(&id).expect("read").is_some());
        assert_eq!(store.audit_head().expect("head").0, head + 1);

        relay.arm(Cut::BeforeCommit);
        let lost = letter(2, "lost-commit", 1_800_000_200);
        let id = lost.message.clone().expect("message").id;
        let err = store.commit(lost).expect_err("not committed");
        assert!(
            matches!(err, crate::core::StoreError::Unavailable(_)),
            "{err}"
        );
        assert_eq!(store.message(&id).expect("read"), None);
        assert_eq!(store.audit_head().expect("head").0, head + 1);

        // Cut at each message of a commit in turn: every answer is the truth. Unavailable,
        // and nothing of the letter is there; done, and all of it is.
        let mut head = head + 1;
        let mut cut_at = 0;
        loop {
            relay.arm(Cut::BeforeMessage(cut_at));
            let letter = letter(10 + cut_at, &format!("cut-{cut_at}"), 1_800_001_000);
            let id = letter.message.clone().expect("message").id;
            let answer = store.commit(letter);
            let cut = !relay.disarm();
            match answer {
                Ok(Committed::Done) => {
                    assert!(
                        store.message(&id).expect("read").is_some(),
                        "cut at {cut_at}"
                    );
                    head += 1;
                }
                Err(crate::core::StoreError::Unavailable(_)) => {
                    assert!(cut, "unavailable without a cut at {cut_at}");
                    assert_eq!(store.message(&id).expect("read"), None, "cut at {cut_at}");
                }
                other => panic!("cut at {cut_at}: {other:?}"),
            }
            assert_eq!(store.audit_head().expect("head").0, head, "cut at {cut_at}");
            if !cut {
                break;
            }
            cut_at += 1;
        }
        assert!(cut_at > 5, "a commit of only {cut_at} messages");
        verify_chain(store.audit_entries(1, u64::MAX).expect("entries"))
            .expect("the audit chain holds");
    });
}

/// The store is called from wherever the service and the tools call it (a plain thread, a
/// worker of the service's runtime, one of its `spawn_blocking` threads, a current-thread
/// runtime) and dropped inside a runtime, as the service drops it when it stops: it answers
/// each, and never panics.
#[test]
fn postgres_answers_from_any_thread_and_is_dropped_inside_a_runtime() {
    on_a_postgres_database("threads", |server, database| {
        let url = format!("{server} dbname={database}");
        let store: Arc<dyn Backend> = Arc::new(PgStore::open(&url).expect("open"));
        let head = store.audit_head().expect("from a plain thread");
        let service = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        service.block_on(async {
            let on_worker = Arc::clone(&store);
            let answer = tokio::spawn(async move { on_worker.audit_head() })
                .await
                .expect("a worker's task");
            assert_eq!(answer.expect("from a worker"), head);
            let on_blocking = Arc::clone(&store);
            let answer = tokio::task::spawn_blocking(move || on_blocking.audit_head())
                .await
                .expect("a blocking task");
            assert_eq!(answer.expect("from spawn_blocking"), head);
            assert_eq!(store.audit_head().expect("inside block_on"), head);
        });
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                assert_eq!(
                    store.audit_head().expect("from a current-thread runtime"),
                    head
                );
            });
        // Its last reference dropped by a task, and another store dropped in block_on.
        let other = PgStore::open(&url).expect("open");
        service.block_on(async move {
            tokio::spawn(async move { drop(store) })
                .await
                .expect("dropped by a task without a panic");
            drop(other);
        });
    });
}

/// A server that takes the connection and never answers: the store is unavailable, not
/// waited for forever.
#[test]
fn postgres_that_never_answers_is_unavailable() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port();
    let err = PgStore::open(&format!(
        "host=127.0.0.1 port={port} user=postgres dbname=postgres"
    ))
    .expect_err("no store");
    assert!(
        matches!(err, crate::core::StoreError::Unavailable(_)),
        "{err}"
    );
    drop(silent);
}
