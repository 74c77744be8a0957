//! Prometheus metrics, in the text exposition format, without a metrics crate: counters of
//! submissions by outcome and fixed-bucket latency histograms.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                count.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(
            out,
            "{name}_sum{braces} {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Every metric of the service.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (operation, outcome code or "accepted") → count.
    requests: Mutex<BTreeMap<(String, String), u64>>,
    pub submit_seconds: Histogram,
    pub tsa_seconds: Histogram,
    pub store_seconds: Histogram,
}

impl Metrics {
    pub fn count(&self, operation: &str, outcome: &str) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *requests
            .entry((operation.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// The Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP sealpost_requests_total Requests by operation and outcome (accepted, or the error code).\n# TYPE sealpost_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        for ((operation, outcome), n) in requests.iter() {
            let _ = writeln!(
                out,
                "sealpost_requests_total{{operation=\"{operation}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        drop(requests);
        let _ = writeln!(
            out,
            "# HELP sealpost_mailbox_password_hashes_total Password hashes computed to check a mailbox login.\n# TYPE sealpost_mailbox_password_hashes_total counter\nsealpost_mailbox_password_hashes_total {}",
            sealpost_mailbox::credentials::password_verifications()
        );
        self.submit_seconds.render(
            &mut out,
            "sealpost_submit_duration_seconds",
            "Time to answer a submission, from the request read to the answer.",
            "",
        );
        self.tsa_seconds.render(
            &mut out,
            "sealpost_tsa_duration_seconds",
            "Time to obtain one RFC 3161 token.",
            "",
        );
        self.store_seconds.render(
            &mut out,
            "sealpost_store_commit_duration_seconds",
            "Time of one durable store commit.",
            "",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_counters_labelled() {
        let m = Metrics::default();
        m.count("SubmitRegisteredMail", "accepted");
        m.count("SubmitRegisteredMail", "accepted");
        m.count("SubmitRegisteredMail", "SEALPOST-REQ-001");
        m.tsa_seconds.observe(Duration::from_micros(700));
        m.tsa_seconds.observe(Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains(
            "sealpost_requests_total{operation=\"SubmitRegisteredMail\",outcome=\"accepted\"} 2"
        ));
        assert!(text.contains("sealpost_tsa_duration_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("sealpost_tsa_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("sealpost_tsa_duration_seconds_count 2"));
    }
}
