//! Serial numbers that are never repeated, across restarts too.
//!
//! [`DurableSerials`] composes each serial from a run epoch (high 64 bits) and a counter (low
//! 64 bits). At start it reads the previous run's epoch from its state file, takes
//! `max(previous + 1, now in seconds)` as this run's epoch, and makes it durable (write to a
//! temporary file, fsync, rename, fsync the directory) before issuing anything. Two runs never
//! share an epoch, so they never share a serial, even if the clock went backwards between them.
//! An exclusive lock on a sibling `.lock` file stops two processes from using one state file.

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
}

/// Serial numbers backed by a state file.
#[derive(Debug)]
pub struct DurableSerials {
    epoch: u64,
    previous_epoch: Option<u64>,
    counter: AtomicU64,
    _lock: File,
}

impl DurableSerials {
    /// Opens (or creates) the state at `path` and starts a new epoch.
    pub fn open(path: &Path, now: SystemTime) -> Result<Self, SerialError> {
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
        // 2^64 tokens in one run would take millennia at any real rate.
        (u128::from(self.epoch) << 64) | u128::from(self.counter.fetch_add(1, Ordering::Relaxed))
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
