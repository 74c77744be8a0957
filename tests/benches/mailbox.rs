//! `make bench` for the mailbox UI: inbox page renders per second, and the time to open a
//! letter, for a mailbox holding 10,000 letters next to the same pages of a mailbox holding one
//! letter, in the same run, against a `sealpost serve` process over loopback HTTPS.
//!
//! Goal (issue #6): the full mailbox no more than twice as slow as the empty one.
//!
//! Settings (environment): BENCH_MAILBOX_LETTERS (default 10000).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use sealpost_interop::{
    HttpResponse, KeepAlive, KeepAliveConnection, Server, dev_pki, dev_signer, sealpost_command,
    sha256_hex, system_now, text,
};
use sealpost_mailbox::credentials::{TOTP_STEP, TotpSecret};
use sealpost_xmldsig::document::DocumentSigner;
use sealpost_xmldsig::dsig::base64_encode;
use sealpost_xmldsig::wss_sign::sign_envelope;

const FULL: &str = "nrn:85073003328";
const SMALL: &str = "nrn:00012556777";
const SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
const PASSWORD: &str = "first password 123";
const NEW_PASSWORD: &str = "bench password of mine";
const MEASURE: Duration = Duration::from_secs(3);

fn main() {
    let letters: usize = std::env::var("BENCH_MAILBOX_LETTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let pki = dev_pki("bench-mailbox");
    let data = pki.with_file_name("var");
    let admin = |args: &[&str]| {
        sealpost_interop::admin(sealpost_command(&pki, &data), args);
    };
    sealpost_interop::register_dev_sender(
        sealpost_command(&pki, &data),
        &pki,
        "sender-a",
        "SPF Finances",
    );
    for (mailbox, login) in [(FULL, "full"), (SMALL, "small")] {
        admin(&["mailbox", "add", mailbox, "--name", login]);
        admin(&[
            "person",
            "add",
            "--login",
            login,
            "--name",
            login,
            "--nrn",
            mailbox,
            "--password",
            PASSWORD,
            "--totp-secret",
            SECRET,
        ]);
    }
    let mut serve = sealpost_command(&pki, &data);
    serve.arg("serve");
    let server = Server::start(serve);
    let client = KeepAlive::new(server.addr, &pki.join("root-ca.pem"));
    let signer = dev_signer(&pki, "sender-a");

    let start = Instant::now();
    let sent = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let mut conn = client.connect();
                loop {
                    let n = sent.fetch_add(1, Ordering::Relaxed);
                    if n >= letters {
                        break;
                    }
                    submit(&client, &mut conn, &signer, n, FULL);
                }
            });
        }
    });
    println!(
        "mailbox bench: {letters} letters delivered in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    let mut conn = client.connect();
    let small_letter = submit(&client, &mut conn, &signer, letters, SMALL);
    let full_letter = submit(&client, &mut conn, &signer, letters + 1, FULL);

    let code = TotpSecret::from_base32(SECRET).expect("secret");
    let step = system_now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs()
        / TOTP_STEP;
    let full = log_in(&client, "full", &code.code_at_step(step));
    let small = log_in(&client, "small", &code.code_at_step(step));

    let inbox_full = rate(&client, &full, "/mailbox/inbox");
    let inbox_small = rate(&client, &small, "/mailbox/inbox");
    let letter_full = rate(&client, &full, &format!("/mailbox/letter/{full_letter}"));
    let letter_small = rate(&client, &small, &format!("/mailbox/letter/{small_letter}"));
    println!(
        "inbox page: {inbox_full:.0}/s with {} letters, {inbox_small:.0}/s with 1: the full mailbox is {:.2}x as slow (goal at most 2)",
        letters + 1,
        inbox_small / inbox_full
    );
    println!(
        "opening a letter: {:.2} ms with {} letters, {:.2} ms with 1: {:.2}x (goal at most 2)",
        1e3 / letter_full,
        letters + 1,
        1e3 / letter_small,
        letter_small / letter_full
    );
    drop(server);
    if let Some(scratch) = pki.parent() {
        let _ = std::fs::remove_dir_all(scratch);
    }
}

/// Sends letter `n` to `recipient`; its message id.
fn submit(
    client: &KeepAlive,
    conn: &mut KeepAliveConnection,
    signer: &DocumentSigner,
    n: usize,
    recipient: &str,
) -> String {
    let document = format!("%PDF-1.7 letter {n}").into_bytes();
    let envelope = format!(
        "<env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\"><env:Header/><env:Body><sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>bench-{n}</sp:IdempotencyKey><sp:Recipient>{recipient}</sp:Recipient><sp:MessageType>tax-assessment</sp:MessageType><sp:Subject>Avis {n}</sp:Subject><sp:SenderReference>REF-{n}</sp:SenderReference><sp:Document><sp:Id>d1</sp:Id><sp:Name>avis.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document></sp:SubmitRegisteredMail></env:Body></env:Envelope>",
        sha256_hex(&document),
        base64_encode(&document)
    );
    let signed =
        sign_envelope(&envelope, signer, system_now(), Duration::from_secs(300)).expect("sign");
    let head = format!(
        "POST /soap HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
        client.addr,
        signed.len()
    );
    let r = client.exchange(conn, head.as_bytes(), signed.as_bytes());
    assert_eq!(r.status, 200, "{}", text(&r.body));
    let body = text(&r.body);
    let start = body.find("<sp:MessageId>").expect("message id") + 14;
    let end = body[start..].find('<').expect("end") + start;
    body[start..end].replace(':', "%3A")
}

/// A browser's session: its cookie.
struct Session {
    cookie: String,
}

fn request(
    client: &KeepAlive,
    conn: &mut KeepAliveConnection,
    cookie: Option<&str>,
    method: &str,
    path: &str,
    form: &str,
) -> HttpResponse {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", client.addr);
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: {c}\r\n"));
    }
    if method == "POST" {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        ));
    }
    head.push_str("\r\n");
    client.exchange(conn, head.as_bytes(), form.as_bytes())
}

fn cookie_of(r: &HttpResponse) -> Option<String> {
    r.headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("__Host-sealpost_session="))
        .and_then(|(_, v)| v.split(';').next().map(str::to_owned))
}

fn csrf(r: &HttpResponse) -> String {
    let html = text(&r.body);
    let at = html.find("name=\"csrf\" value=\"").expect("csrf") + 19;
    html[at..at + 64].to_owned()
}

fn enc(s: &str) -> String {
    s.replace(' ', "+")
}

/// Password, TOTP code, first-login password change.
fn log_in(client: &KeepAlive, login: &str, code: &str) -> Session {
    let mut conn = client.connect();
    let form = request(client, &mut conn, None, "GET", "/mailbox/login", "");
    let mut cookie = cookie_of(&form).expect("cookie");
    let r = request(
        client,
        &mut conn,
        Some(&cookie),
        "POST",
        "/mailbox/login",
        &format!(
            "csrf={}&login={login}&password={}",
            csrf(&form),
            enc(PASSWORD)
        ),
    );
    cookie = cookie_of(&r).expect("cookie after the password");
    let page = request(client, &mut conn, Some(&cookie), "GET", "/mailbox/totp", "");
    let r = request(
        client,
        &mut conn,
        Some(&cookie),
        "POST",
        "/mailbox/totp",
        &format!("csrf={}&code={code}", csrf(&page)),
    );
    assert_eq!(r.status, 303, "{}", text(&r.body));
    cookie = cookie_of(&r).expect("cookie after the code");
    let page = request(
        client,
        &mut conn,
        Some(&cookie),
        "GET",
        "/mailbox/password",
        "",
    );
    let r = request(
        client,
        &mut conn,
        Some(&cookie),
        "POST",
        "/mailbox/password",
        &format!(
            "csrf={}&new={}&again={}",
            csrf(&page),
            enc(NEW_PASSWORD),
            enc(NEW_PASSWORD)
        ),
    );
    assert_eq!(r.status, 303, "{}", text(&r.body));
    Session {
        cookie: cookie_of(&r).expect("cookie after the password change"),
    }
}

/// Pages per second for `path`, one connection, sequential.
fn rate(client: &KeepAlive, session: &Session, path: &str) -> f64 {
    let mut conn = client.connect();
    let get = |conn: &mut KeepAliveConnection| {
        let r = request(client, conn, Some(&session.cookie), "GET", path, "");
        assert_eq!(r.status, 200, "{path}: {}", text(&r.body));
    };
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        get(&mut conn);
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < MEASURE {
        get(&mut conn);
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}
