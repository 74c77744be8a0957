//! The embedded store on a disk's bad day: an I/O error at each write, length change and
//! sync of a commit in turn (redb's and the segments'), and what a sender relies on after
//! each one.

use std::sync::Arc;

use super::conformance::letter;
use super::io_faults::IoFaults;
use super::store::{Backend, RedbStore};
use crate::core::audit::verify_chain;
use crate::core::{Committed, Ledger, Messages, StoreError};

/// What an acknowledged letter must still be: there, with its documents byte for byte, its
/// signed request and its idempotency key.
fn assert_kept(store: &RedbStore, n: usize) {
    let commit = letter(n, &format!("key-{n}"), 1_800_000_000);
    let message = commit.message.as_ref().expect("a letter");
    assert!(
        store.message(&message.id).expect("read").is_some(),
        "letter {n} acknowledged and lost"
    );
    for (i, (_, content)) in commit.documents.iter().enumerate() {
        let stored = store
            .document(&message.id, u32::try_from(i).expect("index"))
            .expect("document reads back");
        assert_eq!(stored.as_deref(), Some(content.as_slice()), "letter {n}");
    }
    assert_eq!(
        store.signed_request(&message.id).expect("request"),
        Some(commit.audit.request.to_vec()),
        "letter {n}"
    );
    assert!(
        store
            .idempotency("agency-a", &format!("key-{n}"))
            .expect("key")
            .is_some()
    );
}

/// Nothing of a letter answered unavailable is there.
fn assert_absent(store: &RedbStore, n: usize) {
    let commit = letter(n, &format!("key-{n}"), 1_800_000_000);
    let message = commit.message.as_ref().expect("a letter");
    assert!(
        store.message(&message.id).expect("read").is_none(),
        "letter {n} answered unavailable, yet stored"
    );
    assert!(
        store
            .idempotency("agency-a", &format!("key-{n}"))
            .expect("key")
            .is_none(),
        "letter {n} answered unavailable, yet its key is taken"
    );
}

fn assert_chain_whole(store: &RedbStore) {
    let (head, hash) = store.audit_head().expect("head");
    let entries = store.audit_entries(1, head).expect("entries");
    assert_eq!(entries.len() as u64, head);
    assert_eq!(
        verify_chain(entries).expect("the audit chain verifies"),
        (head, hash)
    );
}

/// A fresh store in a directory of its own (`name`), its I/O open to injected errors, holding
/// letter 0: the directory, the store file, the faults and the store.
fn with_one_letter(
    name: &str,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    Arc<IoFaults>,
    RedbStore,
) {
    let dir = std::env::temp_dir().join(format!("sealpost-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("sealpost.redb");
    let faults = Arc::new(IoFaults::default());
    let store =
        RedbStore::open_with_faults(&path, 1 << 20, Some(Arc::clone(&faults))).expect("open");
    assert_eq!(
        store.commit(letter(0, "key-0", 1_800_000_000)),
        Ok(Committed::Done)
    );
    (dir, path, faults, store)
}

#[test]
fn an_io_error_at_any_write_of_a_commit_loses_no_acknowledged_letter_and_needs_no_restart() {
    let (dir, path, faults, store) = with_one_letter("faults");
    let mut acknowledged = vec![0];
    let mut refused = Vec::new();
    // The error at the first write of a commit, then at the second, …, until a commit asks
    // for fewer writes than the error waits for.
    let mut point = 0;
    loop {
        point += 1;
        assert!(point < 200, "a commit of one letter writes less than that");
        let n = usize::try_from(point).expect("small");
        faults.fail_write(point);
        let answer = store.commit(letter(n, &format!("key-{n}"), 1_800_000_000));
        if !faults.spent() {
            faults.disarm();
            assert_eq!(answer, Ok(Committed::Done));
            acknowledged.push(n);
            break;
        }
        match answer {
            Ok(Committed::Done) => acknowledged.push(n),
            Err(StoreError::Unavailable(why)) => {
                assert_absent(&store, n);
                refused.push((n, why));
            }
            other => panic!("an error at write {point}: {other:?}"),
        }
        // The next letter is taken at once, without a restart.
        let next = 1000 + n;
        assert_eq!(
            store.commit(letter(next, &format!("key-{next}"), 1_800_000_000)),
            Ok(Committed::Done),
            "the letter after an error at write {point}"
        );
        acknowledged.push(next);
        // A refused letter sent again with its key is taken.
        if refused.last().is_some_and(|(r, _)| *r == n) {
            assert_eq!(
                store.commit(letter(n, &format!("key-{n}"), 1_800_000_000)),
                Ok(Committed::Done)
            );
            acknowledged.push(n);
        }
        for &kept in &acknowledged {
            assert_kept(&store, kept);
        }
        assert_chain_whole(&store);
    }
    let injected = faults.injected();
    for kind in ["segment write", "segment sync", "store write", "store sync"] {
        assert!(
            injected.iter().any(|k| k == kind),
            "an error was injected at a {kind}: {injected:?}"
        );
    }
    assert!(
        !refused.is_empty(),
        "an error at a write of a commit refuses it"
    );
    assert!(
        store.reopened() > 0,
        "redb's own errors were recovered from"
    );

    // After a restart, too.
    drop(store);
    let store = RedbStore::open(&path, 1 << 20).expect("reopen");
    for &kept in &acknowledged {
        assert_kept(&store, kept);
    }
    assert_chain_whole(&store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_store_that_names_bytes_its_segments_do_not_hold_is_reported_at_start() {
    let dir = std::env::temp_dir().join(format!("sealpost-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("sealpost.redb");
    {
        let store = RedbStore::open(&path, 1 << 20).expect("open");
        for n in 0..4 {
            let key = format!("key-{n}");
            assert_eq!(
                store.commit(letter(n, &key, 1_800_000_000)),
                Ok(Committed::Done)
            );
        }
        let check = store.check(64).expect("check");
        assert!(check.mismatches.is_empty(), "{:?}", check.mismatches);
        // 4 letters: 8 documents, 4 audit traces, 4 message requests.
        assert_eq!((check.references, check.read_back), (16, 12));
    }
    // A byte of the last document changed, and the requests' segment cut short: what the
    // store names is no longer what its segments hold.
    let documents = dir.join("blobs/documents-000001.seg");
    let mut bytes = std::fs::read(&documents).expect("segment");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&documents, bytes).expect("write");
    let requests = dir.join("blobs/requests-000001.seg");
    let length = std::fs::metadata(&requests).expect("segment").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&requests)
        .and_then(|f| f.set_len(length - 3))
        .expect("cut");

    let store = RedbStore::open(&path, 1 << 20).expect("the store still opens");
    let check = store.check(64).expect("check");
    let said = check.mismatches.join("\n");
    assert!(
        said.contains("document 1 of urn:uuid:m-0003") && said.contains("SHA-256"),
        "{said}"
    );
    assert!(
        said.contains("the signed request of audit entry 4")
            && said.contains("the signed request of urn:uuid:m-0003"),
        "{said}"
    );
    assert_eq!(check.mismatches.len(), 3, "{said}");
    // The other letters are served.
    assert_kept(&store, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_store_file_replaced_while_open_is_never_opened_in_its_place() {
    let (dir, path, faults, store) = with_one_letter("replaced");
    // The file moved away and an empty one put in its place; then an I/O error, after which
    // the store opens its file again.
    std::fs::rename(&path, dir.join("moved.redb")).expect("move");
    std::fs::write(&path, b"").expect("empty file");
    faults.fail_write(6);
    let failed = store.commit(letter(1, "key-1", 1_800_000_000));
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    // Not a fresh empty database: every request is refused, saying why.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let refused = store.commit(letter(2, "key-2", 1_800_000_000));
    assert!(
        matches!(&refused, Err(StoreError::Unavailable(why)) if why.contains("no longer the store file")),
        "{refused:?}"
    );
    assert_eq!(std::fs::metadata(&path).expect("the empty file").len(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
