//! `make bench` for the service: a load generator (this process) submits WS-Security signed
//! SOAP letters to a `sealpost serve` process over loopback HTTPS, on several keep-alive
//! connections, and reports durable submissions per second (every 200 answer was committed
//! to the store before it was sent) with p50/p99 latency. Next to it, in the same run, the
//! per-submission floor: one ECDSA P-256 verification, the SHA-256 of the document and three
//! ECDSA P-256 signatures, measured alone on one thread.
//!
//! Goals (issue #5): 50% or more of the floor's rate, p99 under 50 ms at 70% of the maximum
//! rate, memory flat across 100,000 submissions; figures for 100 KiB, 1 MiB and 10 MiB
//! documents.
//!
//! The throughput runs send envelopes signed before the clock starts, so the generator
//! spends its time on TLS and HTTP only. The memory run signs while it sends.
//!
//! Settings (environment; not SEALPOST_*, which the server would refuse as unknown):
//! BENCH_MEMORY_SUBMISSIONS (default 100000; 0 skips the memory run), BENCH_CONNECTIONS
//! (default 8), BENCH_SIZES_KIB (default 100,1024,10240), BENCH_LARGEST_MIB (default 100: one
//! letter with a document that large, and the server's peak memory for it; 0 skips it).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair,
    UnparsedPublicKey,
};
use sealpost_interop::{
    BenchLetters, KeepAlive, KeepAliveConnection, Server, dev_pki, dev_signer, sealpost_command,
};
use sealpost_xmldsig::document::DocumentSigner;

const RECIPIENT: &str = "nrn:85073003328";
const KIB: usize = 1024;

fn main() {
    let connections: usize = setting("BENCH_CONNECTIONS", 8);
    let memory_submissions: usize = setting("BENCH_MEMORY_SUBMISSIONS", 100_000);
    let pki = dev_pki("bench-submission");
    let data = pki.with_file_name("var");
    let admin = |args: &[&str]| {
        sealpost_interop::admin(sealpost_command(&pki, &data), args);
    };
    sealpost_interop::register_dev_sender(
        sealpost_command(&pki, &data),
        &pki,
        "sender-a",
        "Agency A",
    );
    let directory = data.join("mailboxes.csv");
    std::fs::write(&directory, format!("{RECIPIENT},Jan Peeters\n")).expect("csv");
    admin(&["mailbox", "import", directory.to_str().expect("path")]);
    let mut serve = sealpost_command(&pki, &data);
    serve
        .arg("serve")
        .env(
            "SEALPOST_LIMITS_MAX_DOCUMENT_BYTES",
            (100 * KIB * KIB).to_string(),
        )
        .env(
            "SEALPOST_LIMITS_MAX_REQUEST_BYTES",
            (140 * KIB * KIB).to_string(),
        );
    let server = Server::start(serve);
    let client = Client::new(server.addr, &pki.join("root-ca.pem"));
    let signer = dev_signer(&pki, "sender-a");
    let letters = BenchLetters::new(RECIPIENT);

    println!(
        "service bench: {connections} connections over loopback HTTPS, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES_KIB")
        .unwrap_or_else(|_| "100,1024,10240".into())
        .split(',')
        .filter_map(|v| v.trim().parse::<usize>().ok())
        .collect();
    for size in sizes.into_iter().map(|kib| kib * KIB) {
        // About 1.6 GiB of envelopes, between 60 and 12000 of them: runs long enough for the
        // page cache's write-back to weigh as it does in steady state.
        let pool = (1600 * KIB * KIB / size).clamp(60, 12_000);
        let floor = floor_rate(size);
        let envelopes = letters.presign(&signer, size, pool);
        let before = server_times(&client);
        let max = closed_loop(&client, envelopes, connections);
        let at = 0.7 * max.rate;
        let envelopes = letters.presign(&signer, size, ((at * 5.0) as usize).clamp(20, pool));
        let paced = open_loop(&client, envelopes, connections, at);
        let after = server_times(&client);
        // Mean milliseconds over this size's submissions.
        let mean = |i: usize| (after[i].0 - before[i].0) / (after[i].1 - before[i].1) * 1e3;
        let (submit_ms, commit_ms) = (mean(0), mean(1));
        println!(
            "{:>8} document: floor {:.0}/s; maximum {:.0} durable submissions/s = {:.2}x floor (goal 0.50), p50 {:.1} ms, p99 {:.1} ms; at 70% ({:.0}/s): p50 {:.1} ms, p99 {:.1} ms (goal p99 < 50 ms); server mean per submission {:.2} ms, of which store commit {:.2} ms{}",
            human(size),
            floor,
            max.rate,
            max.rate / floor,
            max.p50_ms,
            max.p99_ms,
            at,
            paced.p50_ms,
            paced.p99_ms,
            submit_ms,
            commit_ms,
            failures(max.failed + paced.failed)
        );
    }
    let largest_mib = setting("BENCH_LARGEST_MIB", 100);
    if largest_mib > 0 {
        largest_letter(&server, &client, &signer, &letters, largest_mib);
    }
    if memory_submissions > 0 {
        memory_run(
            &server,
            &client,
            &signer,
            &letters,
            memory_submissions,
            connections,
        );
    }
    drop(server);
    if let Some(scratch) = pki.parent() {
        let _ = std::fs::remove_dir_all(scratch);
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn human(bytes: usize) -> String {
    if bytes >= KIB * KIB {
        format!("{} MiB", bytes / KIB / KIB)
    } else {
        format!("{} KiB", bytes / KIB)
    }
}

fn failures(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" [{n} requests FAILED]")
    }
}

/// The floor's rate, one thread: verify one signature, hash the document, make three
/// signatures.
fn floor_rate(document_bytes: usize) -> f64 {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("key");
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).expect("key");
    let message = [7u8; 64];
    let signature = key.sign(&rng, &message).expect("sign");
    let public =
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref().to_vec());
    let document = vec![0x5au8; document_bytes];
    let once = || {
        public.verify(&message, signature.as_ref()).expect("verify");
        let d = digest::digest(&digest::SHA256, &document);
        for _ in 0..3 {
            std::hint::black_box(key.sign(&rng, d.as_ref()).expect("sign"));
        }
    };
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        once();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        once();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

type Client = KeepAlive;

/// Posts one envelope on a keep-alive connection; the HTTP status.
fn submit(client: &Client, conn: &mut KeepAliveConnection, envelope: &[u8]) -> u16 {
    let head = format!(
        "POST /soap HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\nContent-Length: {}\r\n\r\n",
        client.addr,
        envelope.len()
    );
    client.exchange(conn, head.as_bytes(), envelope).status
}

/// The server's cumulative (sum, count) of submission time and of store-commit time, from
/// `/metrics`.
fn server_times(client: &Client) -> [(f64, f64); 2] {
    let mut conn = client.connect();
    let head = format!("GET /metrics HTTP/1.1\r\nHost: {}\r\n\r\n", client.addr);
    let body = client.exchange(&mut conn, head.as_bytes(), b"").body;
    let text = String::from_utf8_lossy(&body);
    let value = |name: String| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(name.as_str())?
                    .strip_prefix(' ')?
                    .parse()
                    .ok()
            })
            .unwrap_or(f64::NAN)
    };
    [
        "sealpost_submit_duration_seconds",
        "sealpost_store_commit_duration_seconds",
    ]
    .map(|m| (value(format!("{m}_sum")), value(format!("{m}_count"))))
}

struct Outcome {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: usize,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn outcome(latencies: Vec<Duration>, failed: usize, elapsed: Duration) -> Outcome {
    let mut latencies = latencies;
    latencies.sort();
    Outcome {
        rate: (latencies.len() - failed.min(latencies.len())) as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        failed,
    }
}

/// Every connection sends as fast as it is answered, until the envelopes run out.
fn closed_loop(client: &Client, envelopes: Vec<Vec<u8>>, connections: usize) -> Outcome {
    let queue = Mutex::new(envelopes.into_iter());
    let results = Mutex::new((Vec::new(), 0usize));
    let mut conns: Vec<_> = (0..connections).map(|_| client.connect()).collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for conn in &mut conns {
            let (queue, results) = (&queue, &results);
            s.spawn(move || {
                let mut mine = Vec::new();
                let mut failed = 0;
                loop {
                    let Some(envelope) = queue.lock().expect("queue").next() else {
                        break;
                    };
                    let sent = Instant::now();
                    if submit(client, conn, &envelope) != 200 {
                        failed += 1;
                    }
                    mine.push(sent.elapsed());
                }
                let mut r = results.lock().expect("results");
                r.0.extend(mine);
                r.1 += failed;
            });
        }
    });
    let elapsed = start.elapsed();
    let (latencies, failed) = results.into_inner().expect("results");
    outcome(latencies, failed, elapsed)
}

/// Submissions at a fixed `rate`, spread over the connections; latency counts from when each
/// request was due, so a stalled server cannot hide its delay.
fn open_loop(client: &Client, envelopes: Vec<Vec<u8>>, connections: usize, rate: f64) -> Outcome {
    let interval = Duration::from_secs_f64(1.0 / rate);
    let next = AtomicUsize::new(0);
    let total = envelopes.len();
    let results = Mutex::new((Vec::new(), 0usize));
    let mut conns: Vec<_> = (0..connections).map(|_| client.connect()).collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for conn in &mut conns {
            let (next, results, envelopes) = (&next, &results, &envelopes);
            s.spawn(move || {
                let mut mine = Vec::new();
                let mut failed = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let due = start + interval * i as u32;
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    if submit(client, conn, &envelopes[i]) != 200 {
                        failed += 1;
                    }
                    mine.push(due.elapsed());
                }
                let mut r = results.lock().expect("results");
                r.0.extend(mine);
                r.1 += failed;
            });
        }
    });
    let elapsed = start.elapsed();
    let (latencies, failed) = results.into_inner().expect("results");
    outcome(latencies, failed, elapsed)
}

/// The server's resident memory, KiB.
fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A memory figure of `/proc/PID/status`, KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One letter with a `mib` MiB document: the time it takes and how far the server's peak
/// memory (VmHWM) rises above its resident size before, in multiples of the document.
fn largest_letter(
    server: &Server,
    client: &Client,
    signer: &DocumentSigner,
    letters: &BenchLetters,
    mib: usize,
) {
    let envelope = letters.envelope(signer, mib * KIB * KIB);
    // Resets the peak (VmHWM) to the current resident size (Linux, as the process's owner).
    let _ = std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5");
    let before = status_kib(server.pid(), "VmRSS:");
    let mut conn = client.connect();
    let start = Instant::now();
    let status = submit(client, &mut conn, &envelope);
    let elapsed = start.elapsed();
    let after = status_kib(server.pid(), "VmHWM:");
    println!(
        "one {mib} MiB document ({:.0} MiB envelope): HTTP {status} in {:.2} s; server peak memory rose by {:.0} MiB = {:.1}x the document{}",
        envelope.len() as f64 / (KIB * KIB) as f64,
        elapsed.as_secs_f64(),
        after.saturating_sub(before) as f64 / 1024.0,
        after.saturating_sub(before) as f64 / 1024.0 / mib as f64,
        failures(usize::from(status != 200))
    );
}

/// `total` submissions of 100 KiB letters, signed while sent; the server's memory every tenth.
fn memory_run(
    server: &Server,
    client: &Client,
    signer: &DocumentSigner,
    letters: &BenchLetters,
    total: usize,
    connections: usize,
) {
    let sent = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let step = (total / 10).max(1);
    let samples = Mutex::new(vec![(0usize, rss_kib(server.pid()))]);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..connections {
            s.spawn(|| {
                let mut conn = client.connect();
                loop {
                    let envelope = letters.envelope(signer, 100 * KIB);
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    if submit(client, &mut conn, &envelope) != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    if (n + 1).is_multiple_of(step) {
                        samples
                            .lock()
                            .expect("samples")
                            .push((n + 1, rss_kib(server.pid())));
                    }
                }
            });
        }
    });
    let samples = samples.into_inner().expect("samples");
    let line: Vec<String> = samples
        .iter()
        .map(|(n, kib)| format!("{n}: {:.0} MiB", *kib as f64 / 1024.0))
        .collect();
    let after_first = samples.get(1).map_or(0, |s| s.1);
    let last = samples.last().map_or(0, |s| s.1);
    println!(
        "memory across {total} submissions of 100 KiB ({:.0} s, {:.0}/s): server RSS {}; last/first-tenth {:.2}x{}",
        start.elapsed().as_secs_f64(),
        total as f64 / start.elapsed().as_secs_f64(),
        line.join(", "),
        last as f64 / after_first.max(1) as f64,
        failures(failed.into_inner())
    );
}
