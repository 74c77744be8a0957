//! The audit export and its offline check: a genuine export verifies; each way of changing one
//! (an entry edited, removed or moved, the file cut, a seal forged or moved to another hash) is
//! invalid at its line, for its reason; what cannot be decided is indeterminate.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use common::{Fixture, fixture, tsa_with};
use sealpost_core::audit::{ENCODING_TAG, GENESIS, chain, sha256_hex, unhex};
use sealpost_core::error::ErrorKind;
use sealpost_core::records::{AuditEntry, AuditRecord, AuditSeal, Channel};
use sealpost_evidence::audit_export::{
    Anchor, AuditExportVerifier, AuditReport, ExportError, ExportWriter, FORMAT,
};
use sealpost_evidence::seal::Timestamper;
use sealpost_evidence::verify::{Outcome, Policy, Verdict};
use sealpost_pki::{KeyAlgorithm, LeafSpec, Profile};
use sealpost_tsa::authority::TimeStampAuthority;
use serde_json::Value;

/// One fixture for the file: a development PKI takes a while to make.
fn f() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(fixture)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn record(n: u64, time: u64) -> AuditRecord {
    let refused = n.is_multiple_of(3);
    AuditRecord {
        time,
        correlation_id: format!("urn:uuid:0190-{n}"),
        channel: if n.is_multiple_of(2) {
            Channel::Soap
        } else {
            Channel::Admin
        },
        operation: "SubmitRegisteredMail".into(),
        identity: "agency-a (CN=Sender A)".into(),
        outcome: if refused { "refused" } else { "accepted" }.into(),
        code: refused.then(|| "SEALPOST-REQ-001".into()),
        kind: refused.then_some(ErrorKind::InvalidRequest),
        detail: if refused {
            "the declared SHA-256 \"différent\" is not the document's".into()
        } else {
            String::new()
        },
        message_id: (!refused).then(|| format!("urn:uuid:m-{n}")),
        request: Arc::new(format!("<signed request {n}/>").into_bytes()),
        request_sha256: None,
    }
}

/// A log of `n` entries, each with its request, stated one second apart up to the
/// fixture's time.
fn log(n: u64) -> Vec<(AuditEntry, Vec<u8>)> {
    let now = unix(f().now);
    let mut prev = GENESIS.to_owned();
    (1..=n)
        .map(|seq| {
            let e = chain(seq, &prev, record(seq, now - n + seq));
            prev = e.hash.clone();
            let request = e.record.request.as_ref().clone();
            (e, request)
        })
        .collect()
}

/// The seal of an entry: the provider's token over its hash.
fn seal_of(entry: &AuditEntry, tsa: &TimeStampAuthority) -> AuditSeal {
    seal_over(entry, &entry.hash, tsa)
}

/// A seal naming `entry` with a token over `over`.
fn seal_over(entry: &AuditEntry, over: &str, tsa: &TimeStampAuthority) -> AuditSeal {
    let token = tsa
        .timestamp(&unhex(over).expect("hex"))
        .expect("time-stamp");
    AuditSeal {
        seq: entry.seq,
        hash: entry.hash.clone(),
        token: <base64ct::Base64 as base64ct::Encoding>::encode_string(&token),
        sealed_at: unix(f().now),
        counter_token: None,
    }
}

/// The export of `log` after entry `anchor` (0: from the start), with `seals`.
fn export(log: &[(AuditEntry, Vec<u8>)], anchor: u64, seals: &[AuditSeal]) -> String {
    let anchor = match anchor {
        0 => Anchor {
            seq: 0,
            hash: GENESIS.into(),
        },
        n => Anchor {
            seq: n,
            hash: log[usize::try_from(n - 1).expect("index")].0.hash.clone(),
        },
    };
    let to = log.last().map_or(anchor.seq, |(e, _)| e.seq);
    let mut w =
        ExportWriter::start(Vec::new(), "Sealpost", f().now, anchor.clone(), to).expect("header");
    for (e, request) in log.iter().filter(|(e, _)| e.seq > anchor.seq) {
        w.entry(e, request).expect("entry");
    }
    for s in seals {
        w.seal(s).expect("seal");
    }
    let (bytes, _) = w.finish().expect("trailer");
    String::from_utf8(bytes).expect("UTF-8")
}

/// Five entries, sealed at 3 and at the head.
fn genuine() -> String {
    let log = log(5);
    let seals = [seal_of(&log[2].0, &f().tsa), seal_of(&log[4].0, &f().tsa)];
    export(&log, 0, &seals)
}

fn verify_with(text: &str, policy: Policy) -> AuditReport {
    AuditExportVerifier::new(policy)
        .verify(|| Ok(text.as_bytes()))
        .expect("read")
}

fn verify(text: &str) -> AuditReport {
    verify_with(text, f().policy())
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// `text` with line `n` (from 1) changed by `edit` on its JSON.
fn edit_line(text: &str, n: usize, edit: impl FnOnce(&mut Value)) -> String {
    let mut all = lines(text);
    let mut value: Value = serde_json::from_str(&all[n - 1]).expect("json");
    edit(&mut value);
    all[n - 1] = value.to_string();
    joined(&all)
}

/// INVALID, first failing at `line` in `step`, for a reason that says `why`.
#[track_caller]
fn assert_invalid(report: &AuditReport, line: u64, step: u8, why: &str) {
    assert_eq!(report.verdict, Verdict::Invalid, "{report:#?}");
    let failure = report.failure.as_ref().expect("a failure");
    assert_eq!((failure.line, failure.step), (line, step), "{report:#?}");
    assert!(failure.reason.contains(why), "{}", failure.reason);
    assert!(report.proves_en.is_none());
    assert!(
        matches!(&report.steps[usize::from(step - 1)].outcome, Outcome::Failed(d) if d.starts_with(&format!("line {line}:")))
    );
}

fn outcome(report: &AuditReport, step: u8) -> &Outcome {
    &report.steps[usize::from(step - 1)].outcome
}

#[test]
fn a_genuine_export_sealed_at_its_head_is_valid() {
    let text = genuine();
    assert_eq!(text.lines().count(), 1 + 5 + 2 + 1);
    let report = verify(&text);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    assert_eq!(report.steps.len(), 9);
    assert_eq!(
        (report.from_seq, report.to_seq, report.entries),
        (Some(1), Some(5), 5)
    );
    assert_eq!(
        report
            .seals
            .iter()
            .map(|s| (s.seq, s.line))
            .collect::<Vec<_>>(),
        [(3, 7), (5, 8)]
    );
    let proves = report.proves_en.expect("a statement");
    assert!(
        proves.starts_with("The 5 entries 1 to 5 of the audit log of Sealpost are those the log held when its entry 5 was time-stamped at ")
            && proves.contains("CN=Sealpost Development Time-Stamping Unit")
            && proves.ends_with("they continue from the start of the log."),
        "{proves}"
    );
    assert!(
        report
            .proves_fr
            .expect("fr")
            .starts_with("Les 5 entrées 1 à 5")
    );
}

#[test]
fn each_entry_hash_is_re_derived_by_hand_from_its_line_as_documented() {
    // docs/audit-export.md: the tag, then each field as an 8-byte big-endian length and its
    // UTF-8 bytes, numbers in decimal, null as the length 2^64 - 1 alone.
    for line in lines(&genuine())[1..6].iter() {
        let v: Value = serde_json::from_str(line).expect("json");
        let mut encoding = ENCODING_TAG.to_vec();
        for field in [
            "seq",
            "prev_hash",
            "time",
            "correlation_id",
            "channel",
            "operation",
            "identity",
            "outcome",
            "code",
            "kind",
            "detail",
            "message_id",
            "request_sha256",
        ] {
            let text = match &v[field] {
                Value::Null => None,
                Value::Number(n) => Some(n.to_string()),
                Value::String(s) => Some(s.clone()),
                other => panic!("{field}: {other}"),
            };
            match text {
                Some(t) => {
                    encoding.extend((t.len() as u64).to_be_bytes());
                    encoding.extend(t.as_bytes());
                }
                None => encoding.extend(u64::MAX.to_be_bytes()),
            }
        }
        assert_eq!(v["hash"], sha256_hex(&encoding).as_str());
        let request = <base64ct::Base64 as base64ct::Encoding>::decode_vec(
            v["request_base64"].as_str().expect("request"),
        )
        .expect("base64");
        assert_eq!(v["request_sha256"], sha256_hex(&request).as_str());
    }
}

#[test]
fn an_edited_detail_is_invalid_at_its_line() {
    // Entry 3 is line 4.
    let edited = edit_line(&genuine(), 4, |v| v["detail"] = "nothing went wrong".into());
    assert_invalid(
        &verify(&edited),
        4,
        2,
        "entry 3: its hash is not the SHA-256",
    );
    // Its hash recomputed too: the next entry no longer links to it.
    let rehashed = edit_line(&genuine(), 4, |v| {
        v["detail"] = "nothing went wrong".into();
        let mut e: AuditEntry = serde_json::from_value(v.clone()).expect("entry");
        e.hash = sealpost_core::audit::entry_hash(&e);
        v["hash"] = e.hash.into();
    });
    assert_invalid(
        &verify(&rehashed),
        5,
        3,
        "entry 4: its prev_hash is not the hash of entry 3",
    );
    // The request kept is another one.
    let request = edit_line(&genuine(), 4, |v| {
        v["request_base64"] = "PGFub3RoZXIvPg==".into();
    });
    assert_invalid(
        &verify(&request),
        4,
        2,
        "request_base64 is not its request_sha256",
    );
}

#[test]
fn a_removed_entry_is_invalid_where_it_is_missing() {
    let mut all = lines(&genuine());
    all.remove(3);
    assert_invalid(
        &verify(&joined(&all)),
        4,
        3,
        "entry 4 where entry 3 must come",
    );
    // The last entry removed: the seals and the trailer come too early.
    let mut all = lines(&genuine());
    all.remove(5);
    assert_invalid(
        &verify(&joined(&all)),
        6,
        3,
        "the entries stop at entry 4, before the header's to_seq 5",
    );
}

#[test]
fn a_reordered_pair_is_invalid() {
    let mut all = lines(&genuine());
    all.swap(2, 3);
    assert_invalid(
        &verify(&joined(&all)),
        3,
        3,
        "entry 3 where entry 2 must come",
    );
    // Two seals swapped.
    let mut all = lines(&genuine());
    all.swap(6, 7);
    assert_invalid(
        &verify(&joined(&all)),
        8,
        5,
        "the seal of entry 3 after that of entry 5",
    );
}

#[test]
fn a_truncated_file_is_invalid() {
    let text = genuine();
    // Without its trailer.
    let mut all = lines(&text);
    all.pop();
    assert_invalid(&verify(&joined(&all)), 9, 4, "without its trailer");
    // Cut after the entries.
    assert_invalid(
        &verify(&joined(&all[..6])),
        7,
        4,
        "the file ends after line 6 without its trailer",
    );
    // Cut inside a line.
    let cut = &text[..text.len() - 20];
    assert_invalid(&verify(cut), 9, 1, "not one JSON value");
    // Cut, and a trailer written for what is left: the head is no longer sealed.
    let log = log(5);
    let shorter = export(&log[..4], 0, &[seal_of(&log[2].0, &f().tsa)]);
    let report = verify(&shorter);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(
        matches!(outcome(&report, 9), Outcome::Indeterminate(d) if d.contains("entries 4 to 4 come after the last verified seal (entry 3)"))
    );
    // Empty.
    assert_invalid(&verify(""), 1, 1, "the file is empty");
}

#[test]
fn the_trailer_must_say_what_the_file_holds() {
    let n = genuine().lines().count();
    let counted = edit_line(&genuine(), n, |v| v["end"]["entries"] = 4.into());
    assert_invalid(
        &verify(&counted),
        9,
        4,
        "the trailer counts 4 entries; the file holds 5",
    );
    let head = edit_line(&genuine(), n, |v| v["end"]["head_hash"] = GENESIS.into());
    assert_invalid(&verify(&head), 9, 4, "the trailer names the head entry 5");
    let after = format!("{}{{}}\n", genuine());
    assert_invalid(&verify(&after), 10, 4, "a line after the trailer");
}

#[test]
fn a_line_of_another_form_is_invalid() {
    let extra = edit_line(&genuine(), 2, |v| v["note"] = "approved".into());
    assert_invalid(
        &verify(&extra),
        2,
        1,
        "the field \"note\" is not in the format",
    );
    let missing = edit_line(&genuine(), 2, |v| {
        v.as_object_mut().expect("object").remove("code");
    });
    assert_invalid(&verify(&missing), 2, 1, "no field \"code\"");
    // One key twice: readers disagree on which one counts.
    let mut all = lines(&genuine());
    all[1] = all[1].replacen("{\"seq\":1,", "{\"seq\":1,\"seq\":2,", 1);
    assert_invalid(&verify(&joined(&all)), 2, 1, "the key \"seq\" twice");
    let mut all = lines(&genuine());
    all.insert(0, all[0].clone());
    assert_invalid(&verify(&joined(&all)), 2, 1, "a second header");
    let not_header = joined(&lines(&genuine())[1..]);
    assert_invalid(
        &verify(&not_header),
        1,
        1,
        "the first line is not the header",
    );
    let kind = edit_line(&genuine(), 4, |v| v["kind"] = "Forgiven".into());
    assert_invalid(&verify(&kind), 4, 1, "not an audit entry");
}

#[test]
fn a_forged_seal_is_invalid() {
    let log = log(5);
    let mut head = seal_of(&log[4].0, &f().tsa);
    let mut token =
        <base64ct::Base64 as base64ct::Encoding>::decode_vec(&head.token).expect("base64");
    // The last byte is the signature's.
    *token.last_mut().expect("byte") ^= 1;
    head.token = <base64ct::Base64 as base64ct::Encoding>::encode_string(&token);
    let report = verify(&export(&log, 0, &[head]));
    assert_invalid(&report, 7, 6, "the seal of entry 5: step ");
}

#[test]
fn a_seal_by_another_time_stamping_unit_under_the_same_root_is_invalid() {
    let f = f();
    let other = f
        .pki
        .issuing
        .issue(&LeafSpec::new(
            "Another Time-Stamping Unit",
            Profile::TimeStamping { eku_critical: true },
            KeyAlgorithm::EcdsaP256,
            f.now,
            Duration::from_secs(365 * 86_400),
        ))
        .expect("certificate");
    let signer = sealpost_tsa::EcdsaP256Signer::new(
        &other.key_pkcs8_der(),
        other.cert_der(),
        &[f.pki.issuing.cert_der().to_vec()],
    )
    .expect("signer");
    let rogue = tsa_with(Arc::new(signer), f.now);
    let log = log(5);
    let report = verify(&export(&log, 0, &[seal_of(&log[4].0, &rogue)]));
    assert_invalid(
        &report,
        7,
        7,
        "time-stamped by CN=Another Time-Stamping Unit",
    );
}

#[test]
fn a_seal_over_another_hash_is_invalid() {
    let log = log(5);
    // The seal line names another entry's hash.
    let mut moved = seal_of(&log[4].0, &f().tsa);
    moved.hash = log[3].0.hash.clone();
    assert_invalid(
        &verify(&export(&log, 0, &[moved])),
        7,
        5,
        "the seal of entry 5 names the hash",
    );
    // It names the right hash; its token is over another one.
    let over_other = seal_over(&log[4].0, &log[3].0.hash, &f().tsa);
    assert_invalid(
        &verify(&export(&log, 0, &[over_other])),
        7,
        6,
        "the message imprint does not match",
    );
    // A seal of an entry the export does not hold.
    let text = edit_line(&genuine(), 8, |v| v["seal"]["seq"] = 6.into());
    assert_invalid(
        &verify(&text),
        8,
        5,
        "outside the entries exported (1 to 5)",
    );
}

#[test]
fn without_the_provider_identity_the_seals_are_checked_against_the_roots_only() {
    let report = verify_with(
        &genuine(),
        Policy {
            anchors: f().anchors(),
            provider: None,
        },
    );
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(
        matches!(outcome(&report, 7), Outcome::Indeterminate(d) if d.contains("checked against the trusted roots only"))
    );
    assert!(report.proves_en.is_none());
    // Another root: the tokens cannot be judged.
    let other = sealpost_pki::DevPki::generate(f().now).expect("pki");
    let report = verify_with(
        &genuine(),
        Policy {
            anchors: vec![other.root.cert_der().to_vec()],
            provider: Some(f().provider()),
        },
    );
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(matches!(outcome(&report, 6), Outcome::Indeterminate(_)));
    // The export says it is another provider's.
    let renamed = edit_line(&genuine(), 1, |v| v["provider"] = "Other Post".into());
    let report = verify(&renamed);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(
        matches!(outcome(&report, 7), Outcome::Indeterminate(d) if d.contains("\"Other Post\""))
    );
}

#[test]
fn entries_after_the_last_seal_make_it_indeterminate() {
    let log = log(5);
    let report = verify(&export(&log, 0, &[seal_of(&log[2].0, &f().tsa)]));
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(
        matches!(outcome(&report, 9), Outcome::Indeterminate(d) if d.contains("entries 4 to 5"))
    );
    let report = verify(&export(&log, 0, &[]));
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(
        matches!(outcome(&report, 9), Outcome::Indeterminate(d) if d.contains("no verified seal"))
    );
    let empty = export(&[], 0, &[]);
    let report = verify(&empty);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
}

#[test]
fn an_export_from_the_middle_of_the_log_continues_from_its_anchor() {
    let log = log(6);
    let text = export(&log, 2, &[seal_of(&log[5].0, &f().tsa)]);
    let report = verify(&text);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
    assert_eq!(report.from_seq, Some(3));
    assert!(
        report
            .proves_en
            .expect("statement")
            .ends_with(&format!("continue from entry 2 (hash {}).", log[1].0.hash))
    );
    let wrong = edit_line(&text, 1, |v| {
        v["anchor"]["hash"] = log[0].0.hash.clone().into()
    });
    assert_invalid(
        &verify(&wrong),
        2,
        3,
        "entry 3: its prev_hash is not the anchor's hash",
    );
    let genesis = edit_line(&text, 1, |v| {
        v["anchor"] = serde_json::json!({"seq": 0, "hash": log[0].0.hash});
    });
    assert_invalid(&verify(&genesis), 1, 3, "the genesis hash");
    // No anchor named: the first link is not checked, so not valid.
    let null = edit_line(&text, 1, |v| v["anchor"] = Value::Null);
    let report = verify(&null);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(matches!(outcome(&report, 3), Outcome::Indeterminate(_)));
}

#[test]
fn an_entry_stated_after_the_time_stamp_that_seals_it_is_invalid() {
    let mut log = log(3);
    let late = unix(f().now) + 3600;
    let e = chain(3, &log[1].0.hash, record(3, late));
    log[2] = (e, log[2].1.clone());
    let text = export(&log, 0, &[seal_of(&log[2].0, &f().tsa)]);
    assert_invalid(&verify(&text), 5, 8, "entry 3 (line 4) states the time");
}

#[test]
fn another_version_of_the_format_is_indeterminate() {
    let text = edit_line(&genuine(), 1, |v| {
        v["format"] = "sealpost-audit-export-3".into();
    });
    let report = verify(&text);
    assert_eq!(report.verdict, Verdict::Indeterminate, "{report:#?}");
    assert!(report.failure.is_none());
    let text = edit_line(&genuine(), 1, |v| v["format"] = "something-else".into());
    assert_invalid(&verify(&text), 1, 1, FORMAT);
}

#[test]
fn the_writer_writes_nothing_but_the_format() {
    let log = log(3);
    let start = || {
        ExportWriter::start(
            Vec::new(),
            "Sealpost",
            f().now,
            Anchor {
                seq: 0,
                hash: GENESIS.into(),
            },
            3,
        )
        .expect("header")
    };
    let mut w = start();
    w.entry(&log[0].0, &log[0].1).expect("entry");
    assert!(matches!(
        w.entry(&log[2].0, &log[2].1),
        Err(ExportError::NotContiguous {
            seq: 3,
            expected: 2
        })
    ));
    assert!(matches!(
        w.seal(&seal_of(&log[0].0, &f().tsa)),
        Err(ExportError::Short { .. })
    ));
    assert!(matches!(
        w.finish(),
        Err(ExportError::Short {
            written: 1,
            to_seq: 3
        })
    ));
    let mut w = start();
    for (e, r) in &log {
        w.entry(e, r).expect("entry");
    }
    w.seal(&seal_of(&log[1].0, &f().tsa)).expect("seal");
    assert!(matches!(
        w.seal(&seal_of(&log[0].0, &f().tsa)),
        Err(ExportError::Seal { seq: 1 })
    ));
    let (_, end) = w.finish().expect("trailer");
    assert_eq!((end.entries, end.head_seq), (3, 3));
}

/// `seal`, counter-stamped by the provider's unit with its clock `offset` seconds ahead.
fn counter_stamped(mut seal: AuditSeal, offset: u64) -> AuditSeal {
    let second = common::tsa_at(&f().pki, f().now + Duration::from_secs(offset));
    let token = second
        .timestamp(&unhex(&seal.hash).expect("hex"))
        .expect("time-stamp");
    seal.counter_token = Some(<base64ct::Base64 as base64ct::Encoding>::encode_string(
        &token,
    ));
    seal
}

/// A writer of the export of `log` from the start (of the counter-stamped format, or the
/// first), its entries written.
fn writing(log: &[(AuditEntry, Vec<u8>)], counter_stamped: bool) -> ExportWriter<Vec<u8>> {
    let start = if counter_stamped {
        ExportWriter::start_counter_stamped
    } else {
        ExportWriter::start
    };
    let anchor = Anchor {
        seq: 0,
        hash: GENESIS.into(),
    };
    let to = log.last().map_or(0, |(e, _)| e.seq);
    let mut w = start(Vec::new(), "Sealpost", f().now, anchor, to).expect("header");
    for (e, request) in log {
        w.entry(e, request).expect("entry");
    }
    w
}

/// The export of five entries sealed at the head with `seal`, in the counter-stamped format.
fn counter_stamped_export(seal: impl FnOnce(&AuditEntry) -> AuditSeal) -> String {
    let log = log(5);
    let head = seal(&log[4].0);
    let mut w = writing(&log, true);
    w.seal(&head).expect("seal");
    let (bytes, _) = w.finish().expect("trailer");
    String::from_utf8(bytes).expect("UTF-8")
}

#[test]
fn a_head_counter_stamped_by_a_second_tsa_whose_clock_agrees_is_valid() {
    let text = counter_stamped_export(|head| counter_stamped(seal_of(head, &f().tsa), 20));
    assert!(
        text.starts_with("{\"format\":\"sealpost-audit-export-2\""),
        "{text}"
    );
    let report = verify(&text);
    assert_eq!(report.verdict, Verdict::Valid, "{report:#?}");
}

#[test]
fn a_counter_stamp_ten_minutes_off_shows_a_wrong_clock() {
    let text = counter_stamped_export(|head| counter_stamped(seal_of(head, &f().tsa), 600));
    let report = verify(&text);
    assert_invalid(&report, 7, 8, "one of the clocks is wrong");
}

#[test]
fn a_counter_stamp_over_another_hash_is_invalid() {
    let text = counter_stamped_export(|head| {
        let mut seal = seal_of(head, &f().tsa);
        let over_genesis = seal_over(head, GENESIS, &f().tsa);
        seal.counter_token = Some(over_genesis.token);
        seal
    });
    let report = verify(&text);
    assert_invalid(&report, 7, 6, "counter_token_base64");
}

#[test]
fn a_counter_stamp_only_in_the_counter_stamped_format() {
    // The writer refuses to put one in an export of the first format...
    let log = log(5);
    let mut w = writing(&log, false);
    assert!(matches!(
        w.seal(&counter_stamped(seal_of(&log[4].0, &f().tsa), 0)),
        Err(ExportError::Seal { seq: 5 })
    ));
    // ...and a reader finds one added there an alteration.
    let text = edit_line(&genuine(), 8, |v| {
        v["seal"]["counter_token_base64"] = v["seal"]["token_base64"].clone();
    });
    assert_invalid(&verify(&text), 8, 1, "counter_token_base64");
}
