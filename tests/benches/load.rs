//! `make bench`: the service under a load an attacker chooses (issue 19). A `sealpost serve`
//! process on its defaults gets, at once, 32 requests of about 130 MiB each (valid signed
//! letters with a 97 MiB document, from 32 connections) and a crowd of slow connections (TCP
//! without a TLS handshake, headers that trickle, bodies that trickle), while ordinary senders
//! keep submitting 100 KiB letters. Reported: the server's peak resident memory against the
//! bound its limits imply, the large requests' answers, and the ordinary senders' rate and
//! p99 latency under the load as ratios of the same senders alone, measured in the same run.
//! Nothing is asserted on time; the bench fails (exits non-zero) only if the server dies or
//! an ordinary letter is refused.
//!
//! Settings (environment): BENCH_LOAD_LARGE (default 32), BENCH_LOAD_LARGE_MIB (document
//! MiB, default 97), BENCH_LOAD_CROWD (slow connections, default 300), BENCH_LOAD_SENDERS
//! (ordinary sender threads, default 4).

use std::io::Write;
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sealpost_interop::{
    BenchLetters, KeepAlive, KeepAliveConnection, Server, dev_pki, dev_signer, sealpost_command,
};
use sealpost_xmldsig::document::DocumentSigner;

const RECIPIENT: &str = "nrn:85073003328";
const MIB: usize = 1024 * 1024;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
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

/// Posts one envelope on a keep-alive connection; the HTTP status (0: the connection failed).
fn submit(client: &KeepAlive, conn: &mut KeepAliveConnection, envelope: &[u8]) -> u16 {
    let head = format!(
        "POST /soap HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"\"\r\nContent-Length: {}\r\n\r\n",
        client.addr,
        envelope.len()
    );
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.exchange(conn, head.as_bytes(), envelope).status
    }))
    .unwrap_or(0)
}

/// Ordinary senders: 100 KiB letters signed as they go, on `threads` connections, until
/// `stop`; each answer's latency, and how many were not 200.
fn ordinary(
    client: &KeepAlive,
    signer: &DocumentSigner,
    letters: &BenchLetters,
    threads: usize,
    stop: &AtomicBool,
) -> (Vec<Duration>, usize, Duration) {
    let latencies = Mutex::new(Vec::new());
    let refused = AtomicUsize::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut conn = client.connect();
                while !stop.load(Ordering::Relaxed) {
                    let envelope = letters.envelope(signer, 100 * 1024);
                    let sent = Instant::now();
                    let status = submit(client, &mut conn, &envelope);
                    if status == 200 {
                        latencies.lock().expect("latencies").push(sent.elapsed());
                    } else {
                        refused.fetch_add(1, Ordering::Relaxed);
                        conn = client.connect();
                    }
                }
            });
        }
    });
    let mut latencies = latencies.into_inner().expect("latencies");
    latencies.sort();
    (latencies, refused.into_inner(), start.elapsed())
}

fn p99_ms(sorted: &[Duration]) -> f64 {
    sorted
        .get(((sorted.len() as f64 * 0.99) as usize).min(sorted.len().saturating_sub(1)))
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// The slow crowd, kept up until `stop`: a third TCP connections that never start TLS, a
/// third TLS connections whose request headers come a byte a second, a third TLS
/// connections with a large declared body that comes a byte a second. A connection the
/// server closes is opened again. How many connections were opened in all.
fn crowd(client: &KeepAlive, size: usize, stop: &AtomicBool) -> usize {
    enum Slow {
        Tcp(TcpStream),
        Tls(Box<KeepAliveConnection>),
    }
    let opened = AtomicUsize::new(0);
    let open = |i: usize| -> Option<Slow> {
        opened.fetch_add(1, Ordering::Relaxed);
        match i % 3 {
            0 => TcpStream::connect(client.addr)
                .and_then(|t| t.set_nonblocking(true).map(|()| t))
                .ok()
                .map(Slow::Tcp),
            kind => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut c = client.connect();
                let start: &[u8] = if kind == 1 {
                    b"POST /soap HTTP/1.1\r\nHost: sealpost\r\n"
                } else {
                    b"POST /soap HTTP/1.1\r\nHost: sealpost\r\nContent-Type: text/xml\r\nContent-Length: 136314880\r\n\r\n<"
                };
                c.get_mut().write_all(start).ok()?;
                c.get_mut().flush().ok()?;
                c.get_ref().sock.set_nonblocking(true).ok()?;
                Some(Slow::Tls(Box::new(c)))
            }))
            .ok()
            .flatten(),
        }
    };
    let mut slow: Vec<Option<Slow>> = (0..size).map(open).collect();
    while !stop.load(Ordering::Relaxed) {
        for (i, c) in slow.iter_mut().enumerate() {
            let alive = match c {
                // Open while a read would wait; closed by the server when it reads the end.
                Some(Slow::Tcp(t)) => matches!(
                    std::io::Read::read(t, &mut [0u8; 1]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock
                ),
                Some(Slow::Tls(t)) => {
                    let byte: &[u8] = if i % 3 == 1 { b"X" } else { b" " };
                    t.get_mut()
                        .write_all(byte)
                        .and_then(|()| t.get_mut().flush())
                        .is_ok()
                }
                None => false,
            };
            if !alive {
                *c = open(i);
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    opened.into_inner()
}

fn main() {
    let large = setting("BENCH_LOAD_LARGE", 32);
    let large_mib = setting("BENCH_LOAD_LARGE_MIB", 97);
    let crowd_size = setting("BENCH_LOAD_CROWD", 300);
    let senders = setting("BENCH_LOAD_SENDERS", 4);
    let pki = dev_pki("bench-load");
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
    admin(&["mailbox", "add", RECIPIENT, "--name", "Jan Peeters"]);
    let mut serve = sealpost_command(&pki, &data);
    serve.arg("serve");
    let mut server = Server::start(serve);
    let pid = server.pid();
    let client = KeepAlive::new(server.addr, &pki.join("root-ca.pem"));
    let signer = dev_signer(&pki, "sender-a");
    let letters = BenchLetters::new(RECIPIENT);
    // The defaults: 140 MiB the largest request, twice that in flight.
    let in_flight_mib = 280.0;

    // Eight distinct large letters, each sent from four connections (the other three copies
    // are the same signed request again: verified in full, then refused as replays).
    let distinct: Vec<Vec<u8>> = (0..8)
        .map(|_| letters.envelope(&signer, large_mib * MIB))
        .collect();
    let envelope_mib = distinct[0].len() as f64 / MIB as f64;

    // The ordinary senders alone, for 8 s.
    let stop = AtomicBool::new(false);
    let (alone, alone_refused, alone_time) = std::thread::scope(|s| {
        let run = s.spawn(|| ordinary(&client, &signer, &letters, senders, &stop));
        std::thread::sleep(Duration::from_secs(8));
        stop.store(true, Ordering::Relaxed);
        run.join().expect("ordinary senders")
    });
    let alone_rate = alone.len() as f64 / alone_time.as_secs_f64();
    let rss_before = status_kib(pid, "VmRSS:");

    // Then the same senders beside the large requests and the crowd.
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let stop = AtomicBool::new(false);
    let sampling = AtomicBool::new(true);
    let peak_kib = AtomicU64::new(0);
    let answers = Mutex::new(Vec::new());
    let started = Instant::now();
    let (loaded, loaded_refused, loaded_time, opened) = std::thread::scope(|s| {
        s.spawn(|| {
            while sampling.load(Ordering::Relaxed) {
                peak_kib.fetch_max(status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let crowd_run = s.spawn(|| crowd(&client, crowd_size, &stop));
        let run = s.spawn(|| ordinary(&client, &signer, &letters, senders, &stop));
        std::thread::sleep(Duration::from_secs(2));
        std::thread::scope(|l| {
            for i in 0..large {
                let envelope = &distinct[i % distinct.len()];
                let (client, answers) = (&client, &answers);
                l.spawn(move || {
                    let mut conn = client.connect();
                    let status = submit(client, &mut conn, envelope);
                    answers.lock().expect("answers").push(status);
                });
            }
        });
        stop.store(true, Ordering::Relaxed);
        let (latencies, refused, time) = run.join().expect("ordinary senders");
        let opened = crowd_run.join().expect("crowd");
        sampling.store(false, Ordering::Relaxed);
        (latencies, refused, time, opened)
    });
    let load_time = started.elapsed();
    let loaded_rate = loaded.len() as f64 / loaded_time.as_secs_f64();
    let peak_mib = peak_kib.into_inner() as f64 / 1024.0;
    let bound_mib = 3.0 * in_flight_mib + 256.0;
    let answers = answers.into_inner().expect("answers");
    let count = |status: u16| answers.iter().filter(|&&a| a == status).count();
    let alive = server.is_running();

    println!(
        "overload bench: {large} requests of {envelope_mib:.0} MiB at once (8 distinct letters, each sent 4 times) beside {crowd_size} slow connections ({opened} opened in all), {senders} ordinary senders of 100 KiB letters, {} cores, {:.0} s",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        load_time.as_secs_f64()
    );
    println!(
        "  large requests: {} answered 200, {} refused as replays (401), {} turned away (503, Retry-After), {} other",
        count(200),
        count(401),
        count(503),
        answers.len() - count(200) - count(401) - count(503)
    );
    println!(
        "  server memory: {:.0} MiB before, peak {peak_mib:.0} MiB = {:.2}x limits.in_flight_bytes ({in_flight_mib:.0} MiB); bound 3x + 256 MiB = {bound_mib:.0} MiB: {}",
        rss_before as f64 / 1024.0,
        peak_mib / in_flight_mib,
        if peak_mib <= bound_mib {
            "within"
        } else {
            "EXCEEDED"
        }
    );
    println!(
        "  ordinary senders: alone {alone_rate:.0}/s, p99 {:.1} ms; under load {loaded_rate:.0}/s = {:.2}x alone, p99 {:.1} ms = {:.1}x alone; refused {} alone, {} under load",
        p99_ms(&alone),
        loaded_rate / alone_rate.max(f64::MIN_POSITIVE),
        p99_ms(&loaded),
        p99_ms(&loaded) / p99_ms(&alone).max(f64::MIN_POSITIVE),
        alone_refused,
        loaded_refused
    );
    println!("  server {}", if alive { "still running" } else { "DIED" });
    drop(server);
    if let Some(scratch) = pki.parent() {
        let _ = std::fs::remove_dir_all(scratch);
    }
    if !alive || alone_refused + loaded_refused > 0 {
        std::process::exit(1);
    }
}
