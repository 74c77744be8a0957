//! I/O errors on demand, for the fault tests of the embedded store: the n-th write, length
//! change or sync from now fails, whether it is redb's or a segment's. What a disk does on
//! its bad day (a full filesystem, a failing sector, a lost NFS server) is one such error at
//! any point of a commit; the tests try each point in turn.
//!
//! The service never arms it: `RedbStore::open` passes none, and every write then goes
//! straight to the file.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A countdown to one injected error, and a count of the writes it saw.
#[derive(Debug, Default)]
pub struct IoFaults {
    /// 0: disarmed; n: the n-th write from now fails.
    countdown: AtomicU64,
    seen: AtomicU64,
    /// What each injected error failed, in order.
    injected: Mutex<Vec<String>>,
}

impl IoFaults {
    /// The `n`-th write, length change or sync from now (the first is 1) fails, once.
    pub fn fail_write(&self, n: u64) {
        self.countdown.store(n, Ordering::SeqCst);
    }

    /// No error is injected.
    pub fn disarm(&self) {
        self.countdown.store(0, Ordering::SeqCst);
    }

    /// Whether the error armed has been injected (or none was armed).
    pub fn spent(&self) -> bool {
        self.countdown.load(Ordering::SeqCst) == 0
    }

    /// What each injected error failed ("store sync", "segment write", …), in order.
    pub fn injected(&self) -> Vec<String> {
        self.injected
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How many writes, length changes and syncs were asked for so far.
    pub fn writes(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }

    /// Called before each write, length change or sync (`what`): the error, when it is this
    /// one's turn.
    pub fn before(&self, what: &str) -> io::Result<()> {
        self.seen.fetch_add(1, Ordering::SeqCst);
        let turn = self
            .countdown
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
        match turn {
            Ok(1) => {
                self.injected
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(what.to_owned());
                Err(io::Error::other(format!("an injected I/O error ({what})")))
            }
            _ => Ok(()),
        }
    }
}

/// `faults.before(what)`, when there are faults.
pub fn before(faults: Option<&IoFaults>, what: &str) -> io::Result<()> {
    faults.map_or(Ok(()), |f| f.before(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_armed_write_fails_once_and_the_others_pass() {
        let faults = IoFaults::default();
        assert!(faults.before("write").is_ok(), "disarmed");
        faults.fail_write(3);
        assert!(faults.before("write").is_ok());
        assert!(faults.before("sync").is_ok());
        assert!(!faults.spent());
        assert!(faults.before("write").is_err(), "the third");
        assert!(faults.spent());
        assert!(faults.before("write").is_ok(), "once only");
        assert_eq!(faults.writes(), 5);
        assert_eq!(faults.injected(), ["write"]);
    }
}
