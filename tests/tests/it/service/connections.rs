//! What a connection may hold and for how long (issue 19's load an attacker chooses): a crowd
//! of slow, idle or surplus connections is closed by the service's limits, and bodies of no
//! declared length take their share of the in-flight budget as they come, while the senders
//! of ordinary letters keep being served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sealpost_interop::{CITIZEN, KeepAlive, SoapService, submission_body, text};

/// Long beyond every limit the tests set: a connection still open this long was not cut.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the service sends on `stream` until it closes it (an error counts as closed), and
/// whether it closed it before PATIENCE.
fn until_closed(stream: &mut impl Read) -> (Vec<u8>, bool) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock && started.elapsed() < PATIENCE => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return (got, false);
            }
            Err(_) => return (got, true),
        }
    }
}

fn ordinary_letter_passes(service: &SoapService, key: &str) {
    let answer = service.send(
        "sender-a",
        &submission_body(key, CITIZEN, b"%PDF-1.7 an ordinary letter"),
    );
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
}

#[test]
fn slow_and_idle_connections_are_closed_while_ordinary_letters_pass() {
    let settings = [
        ("SEALPOST_LIMITS_HANDSHAKE_TIMEOUT_S", "2"),
        // Longer than the idle limit: what closes a connection waiting for headers here is
        // that it has no request in flight.
        ("SEALPOST_LIMITS_HEADER_TIMEOUT_S", "60"),
        ("SEALPOST_LIMITS_IDLE_TIMEOUT_S", "2"),
        ("SEALPOST_LIMITS_BODY_GRACE_S", "2"),
        ("SEALPOST_LIMITS_BODY_MIN_BYTES_PER_S", "4096"),
    ];
    let service = SoapService::start_with("slow-clients", CITIZEN, &["sender-a"], &settings);
    let addr = service.server.addr;
    let tls = KeepAlive::new(addr, &service.pki.join("root-ca.pem"));

    // The attacker's crowd, each kind several times: TCP without a TLS handshake; TLS with
    // half a request's headers; a body that stops coming; a kept-alive connection left idle.
    let mut no_handshake: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    let mut half_headers: Vec<_> = (0..4)
        .map(|_| {
            let mut c = tls.connect();
            c.get_mut()
                .write_all(b"POST /soap HTTP/1.1\r\nHost: sealpost\r\nContent-Type: text/xml\r\n")
                .expect("half the headers");
            c.get_mut().flush().expect("flush");
            c
        })
        .collect();
    let mut stalled_bodies: Vec<_> = (0..4)
        .map(|_| {
            let mut c = tls.connect();
            let stream = c.get_mut();
            stream
                .write_all(b"POST /soap HTTP/1.1\r\nHost: sealpost\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: 200000\r\n\r\n<e:Envelope")
                .expect("a start");
            stream.flush().expect("flush");
            c
        })
        .collect();
    // A mailbox form whose body stops coming: the same answer as on the SOAP route.
    let mut stalled_form = tls.connect();
    stalled_form
        .get_mut()
        .write_all(b"POST /mailbox/login HTTP/1.1\r\nHost: sealpost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\nlogin=")
        .expect("a start");
    stalled_form.get_mut().flush().expect("flush");
    let mut idle = tls.connect();
    let metrics = tls.exchange(
        &mut idle,
        b"GET /metrics HTTP/1.1\r\nHost: sealpost\r\n\r\n",
        b"",
    );
    assert_eq!(metrics.status, 200);

    // Meanwhile, ordinary senders are served.
    ordinary_letter_passes(&service, "while-the-crowd-waits");

    for (i, stream) in no_handshake.iter_mut().enumerate() {
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let (_, closed) = until_closed(stream);
        assert!(
            closed,
            "connection {i} without a TLS handshake was kept open"
        );
    }
    for (i, c) in half_headers.iter_mut().enumerate() {
        c.get_ref()
            .sock
            .set_read_timeout(Some(PATIENCE))
            .expect("timeout");
        let (got, closed) = until_closed(c);
        assert!(
            closed,
            "connection {i} with half its headers was kept open: {}",
            text(&got)
        );
    }
    for (i, c) in stalled_bodies.iter_mut().enumerate() {
        c.get_ref()
            .sock
            .set_read_timeout(Some(PATIENCE))
            .expect("timeout");
        let (got, closed) = until_closed(c);
        let answer = text(&got);
        assert!(closed, "connection {i} whose body stopped was kept open");
        assert!(
            answer.starts_with("HTTP/1.1 408") && answer.contains("SEALPOST-REQ-008"),
            "a stalled body is answered 408 SEALPOST-REQ-008: {answer}"
        );
    }
    stalled_form
        .get_ref()
        .sock
        .set_read_timeout(Some(PATIENCE))
        .expect("timeout");
    let (got, _) = until_closed(&mut stalled_form);
    assert!(
        text(&got).starts_with("HTTP/1.1 408") && text(&got).contains("SEALPOST-REQ-008"),
        "a stalled form is answered 408 SEALPOST-REQ-008: {}",
        text(&got)
    );
    idle.get_ref()
        .sock
        .set_read_timeout(Some(PATIENCE))
        .expect("timeout");
    let (_, closed) = until_closed(&mut idle);
    assert!(closed, "an idle kept-alive connection was kept open");

    // Nothing of the crowd was recorded as a request; the letters were.
    ordinary_letter_passes(&service, "after-the-crowd");
    let refused: Vec<_> = sealpost_interop::audit_log(&service.pki, &service.data, &settings)
        .into_iter()
        .filter(|l| l["outcome"] != "accepted")
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

/// With `settings`, `held` connections open (TCP, no handshake) and one more: that one is
/// closed at once (within PATIENCE, while the handshake and idle timeouts are longer); once
/// the held ones go, letters are taken again.
fn one_more_connection_is_closed(name: &str, settings: &[(&str, &str)], held: usize) {
    let mut settings = settings.to_vec();
    // Longer than PATIENCE: only the limit closes a connection within it.
    settings.extend([
        ("SEALPOST_LIMITS_HANDSHAKE_TIMEOUT_S", "60"),
        ("SEALPOST_LIMITS_IDLE_TIMEOUT_S", "60"),
    ]);
    let service = SoapService::start_with(name, CITIZEN, &["sender-a"], &settings);
    let addr = service.server.addr;
    let open: Vec<TcpStream> = (0..held)
        .map(|_| TcpStream::connect(addr).expect("connect"))
        .collect();
    // The held ones are accepted before the one more (the service accepts in order).
    std::thread::sleep(Duration::from_millis(300));
    let mut surplus = TcpStream::connect(addr).expect("connect");
    surplus.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let (_, closed) = until_closed(&mut surplus);
    assert!(closed, "connection {} was kept", held + 1);
    drop(open);
    served_again(&service);
}

/// Letters are taken again within PATIENCE.
fn served_again(service: &SoapService) {
    let started = Instant::now();
    loop {
        let answer = service.send(
            "sender-a",
            &submission_body(
                &format!("again-{}", started.elapsed().as_millis()),
                CITIZEN,
                b"%PDF-1.7",
            ),
        );
        if answer.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "never served again: {}",
            answer.status
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn connections_beyond_the_limit_are_closed_at_once_and_the_service_serves_again_once_they_go() {
    one_more_connection_is_closed(
        "max-connections",
        &[
            ("SEALPOST_LIMITS_MAX_CONNECTIONS", "3"),
            ("SEALPOST_LIMITS_MAX_CONNECTIONS_PER_PEER", "0"),
        ],
        3,
    );
}

/// What the large requests being read hold of the in-flight budget, from `/metrics`.
fn used_budget(service: &SoapService) -> u64 {
    sealpost_interop::metric(
        service.server.addr,
        &service.pki.join("root-ca.pem"),
        "sealpost_in_flight_budget_used_bytes",
    )
    .expect("the budget gauge") as u64
}

/// Writes `bytes` as one chunk of a chunked body.
fn chunk(stream: &mut impl Write, bytes: &[u8]) {
    write!(stream, "{:x}\r\n", bytes.len()).expect("chunk size");
    stream.write_all(bytes).expect("chunk");
    stream.write_all(b"\r\n").expect("chunk end");
    stream.flush().expect("flush");
}

const CHUNKED_HEAD: &[u8] = b"POST /soap HTTP/1.1\r\nHost: sealpost\r\nContent-Type: text/xml; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n";

#[test]
fn a_body_of_no_declared_length_takes_its_share_of_the_budget_as_it_comes() {
    let settings = [
        ("SEALPOST_LIMITS_MAX_REQUEST_BYTES", "3145728"),
        ("SEALPOST_LIMITS_MAX_DOCUMENT_BYTES", "2097152"),
        ("SEALPOST_LIMITS_IN_FLIGHT_BYTES", "3145728"),
    ];
    let service = SoapService::start_with("chunked-budget", CITIZEN, &["sender-a"], &settings);
    let tls = KeepAlive::new(service.server.addr, &service.pki.join("root-ca.pem"));
    let filler = vec![b' '; 64 * 1024];

    // The first holds 2 of the budget's 3 MiB, half sent.
    let mut first = tls.connect();
    first.get_mut().write_all(CHUNKED_HEAD).expect("head");
    // 46 chunks of 64 KiB: 2.875 MiB received, 1.875 past the first MiB, 2 MiB taken.
    for _ in 0..46 {
        chunk(first.get_mut(), &filler);
    }
    // Once the service has read them, it holds 2 MiB of the budget (the metrics say).
    let started = Instant::now();
    while used_budget(&service) < 2 << 20 {
        assert!(
            started.elapsed() < PATIENCE,
            "the first body never took its share"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The second needs more than the 1 MiB left: cut with the overload's answer.
    let mut second = tls.connect();
    second.get_mut().write_all(CHUNKED_HEAD).expect("head");
    // Sent whole, as a client that reads only once it has sent does (write errors ignored:
    // the service may close first).
    for _ in 0..40 {
        let stream = second.get_mut();
        let _ = write!(stream, "{:x}\r\n", filler.len())
            .and_then(|()| stream.write_all(&filler))
            .and_then(|()| stream.write_all(b"\r\n"));
    }
    let _ = second.get_mut().write_all(b"0\r\n\r\n");
    let _ = second.get_mut().flush();
    second
        .get_ref()
        .sock
        .set_read_timeout(Some(PATIENCE))
        .expect("timeout");
    let turned_away = tls.exchange(&mut second, b"", b"");
    assert_eq!(turned_away.status, 503, "{}", text(&turned_away.body));
    assert!(text(&turned_away.body).contains("SEALPOST-SRV-001"));
    assert_eq!(turned_away.header("retry-after"), Some("5"));

    // An ordinary letter passes meanwhile.
    ordinary_letter_passes(&service, "beside-chunked");

    // The first ends and is answered (its content is no envelope: a fault, not an overload).
    first.get_mut().write_all(b"0\r\n\r\n").expect("end");
    first.get_mut().flush().expect("flush");
    first
        .get_ref()
        .sock
        .set_read_timeout(Some(PATIENCE))
        .expect("timeout");
    let mut status = String::new();
    std::io::BufRead::read_line(&mut first, &mut status).expect("status");
    assert!(
        status.starts_with("HTTP/1.1 4") || status.starts_with("HTTP/1.1 5"),
        "{status}"
    );
    assert!(
        !status.contains("503"),
        "the first one was read whole: {status}"
    );
    drop(first);

    // Its share given back, the same large body is read again.
    let mut again = tls.connect();
    again.get_mut().write_all(CHUNKED_HEAD).expect("head");
    for _ in 0..40 {
        chunk(again.get_mut(), &filler);
    }
    again.get_mut().write_all(b"0\r\n\r\n").expect("end");
    again.get_mut().flush().expect("flush");
    again
        .get_ref()
        .sock
        .set_read_timeout(Some(PATIENCE))
        .expect("timeout");
    let mut status = String::new();
    std::io::BufRead::read_line(&mut again, &mut status).expect("status");
    assert!(
        !status.contains("503"),
        "read whole once the budget is free: {status}"
    );
}

#[test]
fn a_slow_client_cannot_sit_on_the_in_flight_budget() {
    let settings = [
        ("SEALPOST_LIMITS_MAX_REQUEST_BYTES", "3145728"),
        ("SEALPOST_LIMITS_MAX_DOCUMENT_BYTES", "2097152"),
        ("SEALPOST_LIMITS_IN_FLIGHT_BYTES", "3145728"),
        ("SEALPOST_LIMITS_BODY_GRACE_S", "4"),
        // A byte a second keeps a body that holds nothing of the budget; one that holds a
        // share must come at the large pace (1 MiB/s by default).
        ("SEALPOST_LIMITS_BODY_MIN_BYTES_PER_S", "1"),
    ];
    let service = SoapService::start_with("budget-squat", CITIZEN, &["sender-a"], &settings);
    let tls = KeepAlive::new(service.server.addr, &service.pki.join("root-ca.pem"));
    let large = sealpost_interop::signed_soap(
        sealpost_interop::NS_SOAP11,
        &submission_body("large", CITIZEN, &vec![b'%'; 1536 * 1024]),
        &sealpost_interop::dev_signer(&service.pki, "sender-a"),
        sealpost_interop::system_now(),
    );
    assert!(large.len() > 2 << 20 && large.len() < 3 << 20);
    let declared = |n: usize| {
        format!(
            "POST /soap HTTP/1.1\r\nHost: sealpost\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {n}\r\n\r\n"
        )
    };
    // A crowd that declares the largest body and sends a few bytes of it (credit for ten
    // seconds at the minimum rate).
    let mut crowd: Vec<_> = (0..6)
        .map(|_| {
            let mut c = tls.connect();
            c.get_mut()
                .write_all(declared(3_000_000).as_bytes())
                .expect("head");
            c.get_mut().write_all(b"<e:Envelope").expect("bytes");
            c.get_mut().flush().expect("flush");
            c
        })
        .collect();
    // One that sends its first 1.5 MiB at once, taking the whole budget, then stalls.
    let mut squatter = tls.connect();
    squatter
        .get_mut()
        .write_all(declared(3_000_000).as_bytes())
        .expect("head");
    squatter
        .get_mut()
        .write_all(&vec![b' '; 1536 * 1024])
        .expect("1.5 MiB");
    squatter.get_mut().flush().expect("flush");
    let started = Instant::now();
    while used_budget(&service) < 2_900_000 {
        assert!(
            started.elapsed() < PATIENCE,
            "the squatter never took its share"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // While it holds the budget, a large letter is turned away.
    let turned_away = service.post(&large);
    assert_eq!(turned_away.status, 503, "{}", text(&turned_away.body));

    // Past its grace, too slow for what it holds: cut, and its share given back.
    squatter
        .get_ref()
        .sock
        .set_read_timeout(Some(PATIENCE))
        .expect("timeout");
    let (got, closed) = until_closed(&mut squatter);
    assert!(closed, "the squatter was kept");
    assert!(
        text(&got).starts_with("HTTP/1.1 408") && text(&got).contains("SEALPOST-REQ-008"),
        "{}",
        text(&got)
    );
    // The crowd, still open, holds none of it: the large letter is read and registered.
    for (i, c) in crowd.iter_mut().enumerate() {
        assert!(
            c.get_mut()
                .write_all(b" ")
                .and_then(|()| c.get_mut().flush())
                .is_ok(),
            "crowd connection {i} is still open"
        );
    }
    let again = sealpost_interop::signed_soap(
        sealpost_interop::NS_SOAP11,
        &submission_body("large-again", CITIZEN, &vec![b'%'; 1536 * 1024]),
        &sealpost_interop::dev_signer(&service.pki, "sender-a"),
        sealpost_interop::system_now(),
    );
    let answer = service.post(&again);
    assert_eq!(answer.status, 200, "{}", text(&answer.body));
}

#[test]
fn one_address_may_not_hold_more_than_its_share_of_connections() {
    one_more_connection_is_closed(
        "per-peer",
        &[
            ("SEALPOST_LIMITS_MAX_CONNECTIONS", "100"),
            ("SEALPOST_LIMITS_MAX_CONNECTIONS_PER_PEER", "2"),
        ],
        2,
    );
}

#[test]
fn a_crowd_of_small_requests_holds_no_more_than_the_small_requests_budget() {
    // 256 KiB for the first MiB of the requests being read: four steps of 64 KiB.
    let settings = [
        ("SEALPOST_LIMITS_MAX_REQUEST_BYTES", "262144"),
        ("SEALPOST_LIMITS_MAX_DOCUMENT_BYTES", "131072"),
        ("SEALPOST_LIMITS_IN_FLIGHT_BYTES", "262144"),
        ("SEALPOST_LIMITS_BODY_MIN_BYTES_PER_S", "1"),
    ];
    let service = SoapService::start_with("small-budget", CITIZEN, &["sender-a"], &settings);
    let tls = KeepAlive::new(service.server.addr, &service.pki.join("root-ca.pem"));
    // Four bodies begun and left waiting hold all of it.
    let crowd: Vec<_> = (0..4)
        .map(|_| {
            let mut c = tls.connect();
            c.get_mut()
                .write_all(b"POST /soap HTTP/1.1\r\nHost: sealpost\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n<e:Envelope")
                .expect("a start");
            c.get_mut().flush().expect("flush");
            c
        })
        .collect();
    let started = Instant::now();
    loop {
        let answer = service.send(
            "sender-a",
            &submission_body("while-held", CITIZEN, b"%PDF-1.7 small"),
        );
        if answer.status == 503 {
            assert!(text(&answer.body).contains("SEALPOST-SRV-001"));
            assert_eq!(answer.header("retry-after"), Some("5"));
            break;
        }
        // Until the service has read the crowd's first bytes, letters still pass.
        assert_eq!(answer.status, 200, "{}", text(&answer.body));
        assert!(
            started.elapsed() < PATIENCE,
            "the crowd never held the budget"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Once the crowd is gone, its share is given back.
    drop(crowd);
    served_again(&service);
}
