//! Serial numbers that are never repeated, across restarts too.
//!
//! [`DurableSerials`] composes each serial from a run epoch (40 bits, seconds), the node's
//! number (24 bits) and a counter (64 bits). At start it reads the previous run's epoch from
//! its state file, takes `max(previous + 1, now in seconds)` as this run's epoch, and makes it
//! durable (write to a temporary file, fsync, rename, fsync the directory) before issuing
//! anything. Two runs of one node never share an epoch, so they never share a serial, even if
//! the clock went backwards between them; two nodes running at once have different numbers
//! (a cluster hands them out, see `Backend::node_number`), so they never share one either,
//! even when they start in the same second. An exclusive lock on a sibling `.lock` file stops
//! two processes from using one state file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Hands out serial numbers.
pub trait SerialSource: Send + Sync {
    fn next_serial(&self) -> u128;
}

#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is locked by another TSA process", path.display())]
    Locked { path: PathBuf },
    #[error("{}: the serial state is corrupt ({content:?}); refusing to guess", path.display())]
    Corrupt { path: PathBuf, content: String },
    #[error("node number {0} is beyond the 24 bits serials give it")]
    Node(u32),
}

/// The most nodes a cluster numbers (24 bits of each serial).
pub const NODES: u32 = 1 << 24;

/// Serial numbers backed by a state file.
#[derive(Debug)]
pub struct DurableSerials {
    epoch: u64,
    node: u32,
    previous_epoch: Option<u64>,
    counter: AtomicU64,
    _lock: File,
}

impl DurableSerials {
    /// Opens (or creates) the state at `path` and starts a new epoch, for node 0 (a TSA alone).
    pub fn open(path: &Path, now: SystemTime) -> Result<Self, SerialError> {
        Self::open_for_node(path, now, 0)
    }

    /// [`DurableSerials::open`] for the node numbered `node` (below [`NODES`]) of a cluster.
    pub fn open_for_node(path: &Path, now: SystemTime, node: u32) -> Result<Self, SerialError> {
        if node >= NODES {
            return Err(SerialError::Node(node));
        }
        let io = |p: &Path| {
            let p = p.to_owned();
            move |source| SerialError::Io { path: p, source }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = path.with_extension("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(SerialError::Locked { path: lock_path });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io(&lock_path)(e)),
        }
        let previous_epoch = match fs::read_to_string(path) {
            Ok(text) => Some(
                text.trim()
                    .parse::<u64>()
                    .map_err(|_| SerialError::Corrupt {
                        path: path.to_owned(),
                        content: text.chars().take(40).collect(),
                    })?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(path)(e)),
        };
        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let epoch = previous_epoch.map_or(now_secs, |p| now_secs.max(p.saturating_add(1)));
        let tmp = path.with_extension("tmp");
        let mut file = File::create(&tmp).map_err(io(&tmp))?;
        writeln!(file, "{epoch}").map_err(io(&tmp))?;
        file.sync_all().map_err(io(&tmp))?;
        fs::rename(&tmp, path).map_err(io(path))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
        Ok(DurableSerials {
            epoch,
            node,
            previous_epoch,
            counter: AtomicU64::new(0),
            _lock: lock,
        })
    }

    /// The start of the previous run: a time the clock had certainly reached before.
    pub fn previous_start(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.previous_epoch.unwrap_or(0))
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl SerialSource for DurableSerials {
    fn next_serial(&self) -> u128 {
        // 2^64 tokens in one run would take millennia at any real rate; 2^40 seconds of
        // epochs, 34,000 years.
        (u128::from(self.epoch) << 88)
            | (u128::from(self.node) << 64)
            | u128::from(self.counter.fetch_add(1, Ordering::Relaxed))
    }
}

/// An in-memory counter, for tests and benchmarks only: it restarts with the process.
#[derive(Debug, Default)]
pub struct CounterSerials(AtomicU64);

impl CounterSerials {
    pub fn starting_at(first: u64) -> Self {
        CounterSerials(AtomicU64::new(first))
    }
}

impl SerialSource for CounterSerials {
    fn next_serial(&self) -> u128 {
        u128::from(self.0.fetch_add(1, Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_state(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sealpost-serial-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir.join("tsa-serial")
    }

    #[test]
    fn serials_never_repeat_across_restarts_even_when_the_clock_goes_back() {
        let path = temp_state("restart");
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let first: Vec<u128> = {
            let s = DurableSerials::open(&path, t).expect("open");
            (0..3).map(|_| s.next_serial()).collect()
        };
        // Restart with the clock an hour behind.
        let s = DurableSerials::open(&path, t - Duration::from_secs(3600)).expect("reopen");
        assert_eq!(s.epoch(), 1_700_000_001);
        assert_eq!(s.previous_start(), t);
        let second: Vec<u128> = (0..3).map(|_| s.next_serial()).collect();
        assert!(
            second.iter().all(|x| !first.contains(x)),
            "{first:?} {second:?}"
        );
        assert!(second[0] > first[2]);
    }

    #[test]
    fn two_nodes_starting_in_the_same_second_never_share_a_serial() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = DurableSerials::open_for_node(&temp_state("node-a"), t, 1).expect("node 1");
        let b = DurableSerials::open_for_node(&temp_state("node-b"), t, 2).expect("node 2");
        assert_eq!(a.epoch(), b.epoch());
        let from_a: Vec<u128> = (0..1000).map(|_| a.next_serial()).collect();
        let from_b: Vec<u128> = (0..1000).map(|_| b.next_serial()).collect();
        assert!(from_a.iter().all(|x| !from_b.contains(x)));
        // A node number beyond its 24 bits would spill into the epoch: refused.
        assert!(matches!(
            DurableSerials::open_for_node(&temp_state("node-c"), t, NODES),
            Err(SerialError::Node(_))
        ));
    }

    #[test]
    fn a_second_process_on_the_same_state_is_refused() {
        let path = temp_state("lock");
        let _held = DurableSerials::open(&path, UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .expect("open");
        assert!(matches!(
            DurableSerials::open(&path, UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            Err(SerialError::Locked { .. })
        ));
    }

    #[test]
    fn a_corrupt_state_is_refused_not_reset() {
        let path = temp_state("corrupt");
        fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        fs::write(&path, "garbage").expect("write");
        assert!(matches!(
            DurableSerials::open(&path, UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            Err(SerialError::Corrupt { .. })
        ));
    }
}
