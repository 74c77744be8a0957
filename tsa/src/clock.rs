//! When the TSA's clock is trusted.
//!
//! A token's genTime is only worth the clock behind it. The TSA reads the time through a
//! [`ClockGuard`], which refuses (and the TSA answers `timeNotAvailable`) when:
//! - the clock source says it is not synchronised: [`KernelClock`] asks the Linux kernel with
//!   `adjtimex(2)` in read-only mode; the kernel reports `TIME_ERROR` / `STA_UNSYNC` until an
//!   NTP or PTP daemon (chrony, ntpd, systemd-timesyncd) has disciplined the clock, and its
//!   `maxerror` bound; the guard refuses while that bound exceeds the accuracy the tokens state;
//! - the clock has stepped backwards beyond the stated accuracy: the guard remembers the latest
//!   time it handed out (and, across restarts, the start of the previous run, see
//!   [`crate::serial::DurableSerials`]) and refuses any reading earlier than that by more than
//!   the accuracy, until the clock has caught up. Tokens therefore never go back in time by more
//!   than their stated accuracy.
//!
//! [`UncheckedSystemClock`] skips the synchronisation check: for development machines and
//! containers whose kernel clock is disciplined by the host but reports itself unsynchronised.
//! The backwards-step check still applies.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// A reading of a clock source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockReading {
    pub now: SystemTime,
    /// The source's bound on its own error, when it has one.
    pub max_error: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    #[error("the kernel reports the clock as not synchronised (adjtimex status {status:#x})")]
    Unsynchronised { status: i32 },
    #[error("the clock's maximum error {max_error:?} exceeds the stated accuracy {accuracy:?}")]
    TooInaccurate {
        max_error: Duration,
        accuracy: Duration,
    },
    #[error("the clock stepped backwards: it reads {behind:?} before a time already issued")]
    SteppedBackwards { behind: Duration },
    #[error("the clock cannot be read: {0}")]
    Unreadable(String),
}

/// Which clock a TSA trusts, as operators name it in configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockKind {
    /// [`KernelClock`]: trusted only while the kernel reports it synchronised.
    Kernel,
    /// [`UncheckedSystemClock`]: development only.
    Unchecked,
}

impl std::str::FromStr for ClockKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kernel" => Ok(ClockKind::Kernel),
            "unchecked" => Ok(ClockKind::Unchecked),
            other => Err(format!(
                "unknown clock {other:?}: expected \"kernel\" or \"unchecked\""
            )),
        }
    }
}

impl ClockKind {
    pub fn source(self) -> Box<dyn ClockSource> {
        match self {
            ClockKind::Kernel => Box::new(KernelClock),
            ClockKind::Unchecked => Box::new(UncheckedSystemClock),
        }
    }
}

/// Where the time comes from.
pub trait ClockSource: Send + Sync {
    fn read(&self) -> Result<ClockReading, ClockError>;
}

impl<C: ClockSource + ?Sized> ClockSource for Box<C> {
    fn read(&self) -> Result<ClockReading, ClockError> {
        (**self).read()
    }
}

/// The system clock, trusted only while the kernel says it is synchronised.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelClock;

impl ClockSource for KernelClock {
    fn read(&self) -> Result<ClockReading, ClockError> {
        let (state, status, max_error_us) = kernel_clock_state()?;
        if state == libc::TIME_ERROR || status & libc::STA_UNSYNC != 0 {
            return Err(ClockError::Unsynchronised { status });
        }
        Ok(ClockReading {
            now: system_time(),
            max_error: Some(Duration::from_micros(
                u64::try_from(max_error_us).unwrap_or(u64::MAX),
            )),
        })
    }
}

/// The system clock, read: the one place the TSA calls it. Every other time comes through a
/// [`ClockSource`] (behind a [`ClockGuard`]), or is passed in.
#[allow(
    clippy::disallowed_methods,
    reason = "this is the system clock behind KernelClock and UncheckedSystemClock"
)]
pub(crate) fn system_time() -> SystemTime {
    SystemTime::now()
}

/// `adjtimex(2)` with no modes set: reads the kernel's clock discipline state.
#[allow(unsafe_code)]
fn kernel_clock_state() -> Result<(i32, i32, i64), ClockError> {
    // SAFETY: `timex` is plain old data; zeroed means modes == 0, a read-only query. The kernel
    // writes only into the struct we own, which outlives the call.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: a valid, exclusively borrowed `timex` is passed, as adjtimex(2) requires.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return Err(ClockError::Unreadable(
            std::io::Error::last_os_error().to_string(),
        ));
    }
    Ok((state, tx.status, tx.maxerror))
}

/// The system clock with no synchronisation check (development only).
#[derive(Clone, Copy, Debug, Default)]
pub struct UncheckedSystemClock;

impl ClockSource for UncheckedSystemClock {
    fn read(&self) -> Result<ClockReading, ClockError> {
        Ok(ClockReading {
            now: system_time(),
            max_error: None,
        })
    }
}

/// Hands out times from a source, refusing while the source is unsynchronised or too
/// inaccurate, and whenever the time would go back by more than the accuracy.
#[derive(Debug)]
pub struct ClockGuard<C> {
    source: C,
    accuracy: Duration,
    latest: Mutex<SystemTime>,
}

impl<C: ClockSource> ClockGuard<C> {
    /// `floor`: a time known to have been reached already (the previous run's start, say).
    pub fn new(source: C, accuracy: Duration, floor: SystemTime) -> Self {
        ClockGuard {
            source,
            accuracy,
            latest: Mutex::new(floor),
        }
    }

    pub fn accuracy(&self) -> Duration {
        self.accuracy
    }

    /// The current time, if it can be trusted.
    pub fn now(&self) -> Result<SystemTime, ClockError> {
        let reading = self.source.read()?;
        if let Some(max_error) = reading.max_error
            && max_error > self.accuracy
        {
            return Err(ClockError::TooInaccurate {
                max_error,
                accuracy: self.accuracy,
            });
        }
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(behind) = latest.duration_since(reading.now) {
            if behind > self.accuracy {
                return Err(ClockError::SteppedBackwards { behind });
            }
        } else {
            *latest = reading.now;
        }
        Ok(reading.now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    /// A clock whose readings the test sets.
    #[derive(Clone, Default)]
    struct ScriptedClock(Arc<Mutex<Option<Result<ClockReading, String>>>>);

    impl ScriptedClock {
        fn set(&self, r: Result<ClockReading, String>) {
            *self.0.lock().expect("lock") = Some(r);
        }
    }

    impl ClockSource for ScriptedClock {
        fn read(&self) -> Result<ClockReading, ClockError> {
            match self.0.lock().expect("lock").clone() {
                Some(Ok(r)) => Ok(r),
                Some(Err(_)) => Err(ClockError::Unsynchronised {
                    status: libc::STA_UNSYNC,
                }),
                None => Err(ClockError::Unreadable("unset".into())),
            }
        }
    }

    fn at(secs: u64, max_error_ms: Option<u64>) -> Result<ClockReading, String> {
        Ok(ClockReading {
            now: UNIX_EPOCH + Duration::from_secs(secs),
            max_error: max_error_ms.map(Duration::from_millis),
        })
    }

    #[test]
    fn refuses_an_unsynchronised_or_inaccurate_source() {
        let clock = ScriptedClock::default();
        let guard = ClockGuard::new(clock.clone(), Duration::from_secs(1), UNIX_EPOCH);
        clock.set(Err("unsync".into()));
        assert!(matches!(
            guard.now(),
            Err(ClockError::Unsynchronised { .. })
        ));
        clock.set(at(1_000, Some(1_500)));
        assert!(matches!(guard.now(), Err(ClockError::TooInaccurate { .. })));
        clock.set(at(1_000, Some(20)));
        assert_eq!(
            guard.now().expect("synchronised"),
            UNIX_EPOCH + Duration::from_secs(1_000)
        );
    }

    #[test]
    fn refuses_backwards_steps_beyond_accuracy_until_the_clock_catches_up() {
        let clock = ScriptedClock::default();
        let guard = ClockGuard::new(clock.clone(), Duration::from_secs(1), UNIX_EPOCH);
        clock.set(at(1_000, None));
        guard.now().expect("first reading");
        // Within the accuracy: allowed.
        clock.set(at(999, None));
        guard.now().expect("one second back is within the accuracy");
        // Five seconds back: refused, and still refused while behind.
        clock.set(at(995, None));
        assert!(matches!(
            guard.now(),
            Err(ClockError::SteppedBackwards { behind }) if behind == Duration::from_secs(5)
        ));
        clock.set(at(998, None));
        assert!(guard.now().is_err());
        clock.set(at(1_001, None));
        guard.now().expect("caught up");
    }

    #[test]
    fn the_floor_carries_over_from_a_previous_run() {
        let clock = ScriptedClock::default();
        let guard = ClockGuard::new(
            clock.clone(),
            Duration::from_secs(1),
            UNIX_EPOCH + Duration::from_secs(5_000),
        );
        clock.set(at(4_000, None));
        assert!(matches!(
            guard.now(),
            Err(ClockError::SteppedBackwards { .. })
        ));
    }

    #[test]
    fn the_kernel_clock_reports_its_state() {
        // Whatever this machine's state, the kernel answers: synchronised with an error bound,
        // or unsynchronised. It never fails to answer.
        match KernelClock.read() {
            Ok(r) => assert!(r.max_error.is_some()),
            Err(e) => assert!(matches!(e, ClockError::Unsynchronised { .. }), "{e}"),
        }
    }
}
