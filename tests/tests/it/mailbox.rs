//! The mailbox web UI end to end, over HTTPS against the real binary: strong login (password
//! then TOTP, first-login password change), session ids that change at each step, cookie
//! flags, CSRF on every form, lockout, mailboxes nobody else reads, mandates scoped by type,
//! and the sealed ContentHandover that reaches the sender through GetEvidence.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use sealpost_interop::{
    CITIZEN, COMPANY, FIRST_PASSWORD, HttpResponse, NEW_PASSWORD, NS_SOAP11, OcspResponder, Server,
    Setting, TOTP_SECRET, court_verify_command, dev_pki, dev_pki_with, dev_signer, free_port,
    https_raw_as, post_soap, run, sealpost_command, sha256_hex, signed_soap, system_now, text,
    xml_text as field,
};
use sealpost_mailbox::credentials::{TOTP_STEP, TotpSecret};
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};

struct Fixture {
    pki: PathBuf,
    server: Server,
}

fn admin(pki: &std::path::Path, data: &std::path::Path, args: &[&str]) -> String {
    sealpost_interop::admin(sealpost_command(pki, data), args)
}

/// sender-a may send tax assessments and payment notices; Jan reads his own mailbox; Marie
/// holds a mandate for the company's tax assessments only; Bea manages the company's
/// mandates.
fn fixture() -> Fixture {
    fixture_on(dev_pki("mailbox"), &[])
}

/// The service of [`fixture`] on this development PKI, with these settings as well.
fn fixture_on(pki: PathBuf, settings: &[Setting<'_>]) -> Fixture {
    let data = pki.with_file_name("var");
    let cert = pki.join("sender-a.pem");
    admin(
        &pki,
        &data,
        &[
            "sender",
            "set",
            "--id",
            "agency-a",
            "--name",
            "SPF Finances",
            "--cert",
            cert.to_str().expect("path"),
            "--types",
            "tax-assessment,payment-notice",
        ],
    );
    admin(&pki, &data, &["mailbox", "add", CITIZEN, "--name", "Jan"]);
    admin(
        &pki,
        &data,
        &["mailbox", "add", COMPANY, "--name", "Example NV"],
    );
    let piet_cert = pki.join("sender-b.pem");
    for (login, name, extra) in [
        ("jan", "Jan Peeters", vec!["--nrn", CITIZEN]),
        (
            "piet",
            "Piet Claes",
            vec!["--cert", piet_cert.to_str().expect("path")],
        ),
        ("marie", "Marie Dubois", vec![]),
        ("bea", "Bea Janssens", vec!["--manages", COMPANY]),
    ] {
        let mut args = vec![
            "person",
            "add",
            "--login",
            login,
            "--name",
            name,
            "--password",
            FIRST_PASSWORD,
            "--totp-secret",
            TOTP_SECRET,
        ];
        args.extend(extra);
        admin(&pki, &data, &args);
    }
    admin(
        &pki,
        &data,
        &[
            "mandate",
            "grant",
            "--company",
            COMPANY,
            "--person",
            "marie",
            "--types",
            "tax-assessment",
        ],
    );
    let mut serve = sealpost_command(&pki, &data);
    serve.envs(settings.iter().copied()).arg("serve");
    Fixture {
        server: Server::start(serve),
        pki,
    }
}

/// A letter from sender-a over SOAP; its message id.
fn send(f: &Fixture, key: &str, recipient: &str, message_type: &str, subject: &str) -> String {
    let document = format!("%PDF-1.7 {subject}").into_bytes();
    let body = format!(
        "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>{key}</sp:IdempotencyKey><sp:Recipient>{recipient}</sp:Recipient><sp:MessageType>{message_type}</sp:MessageType><sp:Subject>{subject}</sp:Subject><sp:SenderReference>REF-{key}</sp:SenderReference><sp:Document><sp:Id>d1</sp:Id><sp:Name>avis.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document></sp:SubmitRegisteredMail>",
        sha256_hex(&document),
        base64_encode(&document)
    );
    let r = soap(f, &body);
    assert_eq!(r.status, 200, "{}", text(&r.body));
    field(&text(&r.body), "MessageId").expect("message id")
}

fn soap(f: &Fixture, body: &str) -> HttpResponse {
    let signed = signed_soap(
        NS_SOAP11,
        body,
        &dev_signer(&f.pki, "sender-a"),
        system_now(),
    );
    post_soap(f.server.addr, &f.pki.join("root-ca.pem"), &signed)
}

/// A browser without JavaScript: it keeps the session cookie and reads forms' CSRF tokens.
struct Browser<'a> {
    f: &'a Fixture,
    cookie: Option<String>,
    /// A client certificate chain and key the browser presents (PEM files).
    identity: Option<(PathBuf, PathBuf)>,
    /// The `lang` cookie it sends beside the session's, when set.
    lang: Option<&'static str>,
}

impl<'a> Browser<'a> {
    fn new(f: &'a Fixture) -> Self {
        Browser {
            f,
            cookie: None,
            identity: None,
            lang: None,
        }
    }

    fn request(&mut self, method: &str, path: &str, form: Option<&str>) -> HttpResponse {
        let mut head = format!("{method} {path} HTTP/1.1");
        let cookies: Vec<String> = self
            .lang
            .map(|l| format!("lang={l}"))
            .into_iter()
            .chain(self.cookie.clone())
            .collect();
        if !cookies.is_empty() {
            head.push_str(&format!("\r\nCookie: {}", cookies.join("; ")));
        }
        let body = form.unwrap_or("");
        if form.is_some() {
            head.push_str(&format!(
                "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}",
                body.len()
            ));
        }
        let r = https_raw_as(
            self.f.server.addr,
            &self.f.pki.join("root-ca.pem"),
            self.identity
                .as_ref()
                .map(|(c, k)| (c.as_path(), k.as_path())),
            &head,
            body.as_bytes(),
        );
        for (name, value) in &r.headers {
            if name == "set-cookie" && value.starts_with("__Host-sealpost_session=") {
                let pair = value.split(';').next().unwrap_or("").to_owned();
                self.cookie = if pair.ends_with('=') {
                    None
                } else {
                    Some(pair)
                };
            }
        }
        r
    }

    fn get(&mut self, path: &str) -> HttpResponse {
        self.request("GET", path, None)
    }

    fn post(&mut self, path: &str, form: &str) -> HttpResponse {
        self.request("POST", path, Some(form))
    }

    /// The CSRF token of the page's forms.
    fn csrf(page: &HttpResponse) -> String {
        let html = text(&page.body);
        let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field");
        html[at + 19..at + 19 + 64].to_owned()
    }

    /// Logs in with password and TOTP; the page reached.
    fn log_in(&mut self, login: &str, password: &str) -> HttpResponse {
        let form = self.get("/mailbox/login");
        let r = self.post(
            "/mailbox/login",
            &format!(
                "csrf={}&login={login}&password={}",
                Self::csrf(&form),
                enc(password)
            ),
        );
        assert_eq!(r.status, 303, "{}", text(&r.body));
        let totp_page = self.get("/mailbox/totp");
        let r = self.post(
            "/mailbox/totp",
            &format!("csrf={}&code={}", Self::csrf(&totp_page), code_now()),
        );
        assert_eq!(r.status, 303, "{}", text(&r.body));
        let to = r.header("location").expect("location").to_owned();
        self.get(&to)
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A fresh TOTP code (each code counts once: wait for the next step when needed).
fn code_now() -> String {
    static LAST: std::sync::Mutex<u64> = std::sync::Mutex::new(0);
    let secret = TotpSecret::from_base32(TOTP_SECRET).expect("secret");
    let mut last = LAST.lock().expect("lock");
    loop {
        let step = system_now()
            .duration_since(UNIX_EPOCH)
            .expect("time")
            .as_secs()
            / TOTP_STEP;
        if step > *last {
            *last = step;
            return secret.code_at_step(step);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The first login of a person: password, TOTP, then the forced password change.
fn first_login(b: &mut Browser<'_>, login: &str) {
    let page = b.log_in(login, FIRST_PASSWORD);
    assert!(
        text(&page.body).contains("name=\"new\""),
        "{}",
        text(&page.body)
    );
    let r = b.post(
        "/mailbox/password",
        &format!(
            "csrf={}&new={}&again={}",
            Browser::csrf(&page),
            enc(NEW_PASSWORD),
            enc(NEW_PASSWORD)
        ),
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/mailbox/inbox"));
}

#[test]
fn login_needs_password_and_totp_each_step_changes_the_session_and_forms_need_their_token() {
    let f = fixture();
    let mut b = Browser::new(&f);
    let form = b.get("/mailbox/login");
    let planted = b.cookie.clone().expect("a session cookie for the form");
    let set_cookie = form.header("set-cookie").expect("set-cookie");
    for flag in [
        "__Host-sealpost_session=",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
    ] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    assert!(
        form.header("content-security-policy")
            .is_some_and(|c| c.contains("default-src 'none'"))
    );
    // No token, or another session's: refused, and nothing happens.
    let r = b.post(
        "/mailbox/login",
        &format!(
            "csrf={}&login=jan&password={}",
            "0".repeat(64),
            enc(FIRST_PASSWORD)
        ),
    );
    assert_eq!(r.status, 403);
    let r = b.post(
        "/mailbox/login",
        &format!("login=jan&password={}", enc(FIRST_PASSWORD)),
    );
    assert!(
        r.status == 422 || r.status == 400 || r.status == 403,
        "{}",
        r.status
    );
    // The right password: a new session id; the one planted before login is worth nothing.
    let r = b.post(
        "/mailbox/login",
        &format!(
            "csrf={}&login=jan&password={}",
            Browser::csrf(&form),
            enc(FIRST_PASSWORD)
        ),
    );
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/mailbox/totp"))
    );
    let after_password = b.cookie.clone().expect("cookie");
    assert_ne!(after_password, planted);
    let mut attacker = Browser::new(&f);
    attacker.cookie = Some(planted);
    assert_eq!(
        attacker.get("/mailbox/totp").header("location"),
        Some("/mailbox/login")
    );
    // Without the second factor, no inbox.
    assert_eq!(
        b.get("/mailbox/inbox").header("location"),
        Some("/mailbox/login")
    );
    let totp_page = b.get("/mailbox/totp");
    let r = b.post(
        "/mailbox/totp",
        &format!("csrf={}&code=000000", Browser::csrf(&totp_page)),
    );
    assert_eq!(r.status, 401);
    let r = b.post(
        "/mailbox/totp",
        &format!("csrf={}&code={}", Browser::csrf(&totp_page), code_now()),
    );
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/mailbox/password"))
    );
    assert_ne!(b.cookie.clone().expect("cookie"), after_password);
    // The first login changes the password before anything else.
    assert_eq!(
        b.get("/mailbox/inbox").header("location"),
        Some("/mailbox/password")
    );
    let page = b.get("/mailbox/password");
    let r = b.post(
        "/mailbox/password",
        &format!("csrf={}&new=short&again=short", Browser::csrf(&page)),
    );
    assert_eq!(r.status, 400);
    let r = b.post(
        "/mailbox/password",
        &format!(
            "csrf={}&new={}&again={}",
            Browser::csrf(&page),
            enc(NEW_PASSWORD),
            enc(NEW_PASSWORD)
        ),
    );
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/mailbox/inbox"))
    );
    let inbox = b.get("/mailbox/inbox");
    assert_eq!(inbox.status, 200);
    assert!(text(&inbox.body).contains(CITIZEN));
    // Logging out needs the token too, and ends the session.
    let r = b.post(
        "/mailbox/logout",
        &format!("csrf={}", Browser::csrf(&inbox)),
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        b.get("/mailbox/inbox").header("location"),
        Some("/mailbox/login")
    );
    // The new password works, the first one no longer.
    let mut again = Browser::new(&f);
    let form = again.get("/mailbox/login");
    let r = again.post(
        "/mailbox/login",
        &format!(
            "csrf={}&login=jan&password={}",
            Browser::csrf(&form),
            enc(FIRST_PASSWORD)
        ),
    );
    assert_eq!(r.status, 401);
}

/// The login form's answer to `login` with `password`: status and page (the CSRF token, the
/// only thing that differs between two forms, left out).
fn login_answer(f: &Fixture, login: &str, password: &str) -> (u16, String) {
    let mut b = Browser::new(f);
    let form = b.get("/mailbox/login");
    let csrf = Browser::csrf(&form);
    let r = b.post(
        "/mailbox/login",
        &format!("csrf={csrf}&login={login}&password={}", enc(password)),
    );
    (r.status, text(&r.body).replace(&csrf, ""))
}

#[test]
fn repeated_failures_lock_the_account_and_the_answer_never_says_who_exists() {
    let f = fixture();
    // What an attacker wanted: tell a login that exists from one that does not, or a locked
    // account from a wrong guess. Every refusal is the same status and the same page.
    let unknown = login_answer(&f, "nobody-here", "wrong");
    assert_eq!(unknown.0, 401);
    assert!(unknown.1.contains("role=\"alert\""));
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(login_answer(&f, "jan", "wrong"));
    }
    // Even the right password is refused while locked, with the same answer.
    answers.push(login_answer(&f, "jan", FIRST_PASSWORD));
    for answer in &answers {
        assert_eq!(answer, &unknown);
    }
    // And each refusal costs the same work: one password hash, whether the login exists, is
    // locked, or the password is wrong (counted, not timed: these machines are noisy).
    let hashes = || {
        let r = sealpost_interop::https_raw(
            f.server.addr,
            &f.pki.join("root-ca.pem"),
            "GET /metrics HTTP/1.1",
            b"",
        );
        text(&r.body)
            .lines()
            .find_map(|l| l.strip_prefix("sealpost_mailbox_password_hashes_total "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .expect("the counter")
    };
    for (login, password) in [
        ("nobody-here", "wrong"),
        ("jan", "wrong"),
        ("jan", FIRST_PASSWORD),
        ("bea", "wrong"),
    ] {
        let before = hashes();
        login_answer(&f, login, password);
        assert_eq!(hashes() - before, 1, "{login}");
    }
    // And the lock holds: the right password after the failures does not get in (no
    // redirect to the TOTP step).
    assert_ne!(answers[4].0, 303);
    // Parallel guesses are each counted: eight at once lock Piet's account too.
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| login_answer(&f, "piet", "wrong"));
        }
    });
    assert_eq!(login_answer(&f, "piet", FIRST_PASSWORD), unknown);
}

#[test]
fn opening_a_letter_seals_who_opened_it_and_only_readers_may_open_it() {
    let f = fixture();
    let to_jan = send(&f, "k1", CITIZEN, "tax-assessment", "Avis 2026");
    let to_company_tax = send(&f, "k2", COMPANY, "tax-assessment", "Avis société");
    let to_company_payment = send(&f, "k3", COMPANY, "payment-notice", "Rappel de paiement");

    let mut jan = Browser::new(&f);
    first_login(&mut jan, "jan");
    let inbox = jan.get("/mailbox/inbox");
    let html = text(&inbox.body);
    assert!(
        html.contains("Avis 2026") && html.contains("SPF Finances"),
        "{html}"
    );
    assert!(!html.contains("Avis société"));
    let page = jan.get(&format!("/mailbox/letter/{}", enc(&to_jan)));
    assert_eq!(page.status, 200);
    let html = text(&page.body);
    let document = "%PDF-1.7 Avis 2026".as_bytes();
    assert!(html.contains(&sha256_hex(document)), "{html}");
    let download = jan.get(&format!("/mailbox/letter/{}/document/0", enc(&to_jan)));
    assert_eq!(download.body, document);
    assert!(
        download
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment"))
    );
    // The handover is the third evidence, downloadable and served to the sender.
    let evidence = jan.get(&format!("/mailbox/letter/{}/evidence/2", enc(&to_jan)));
    let handover = text(&evidence.body);
    assert!(handover.contains("Event/ContentHandover"), "{handover}");
    assert!(handover.contains("Jan Peeters (jan)"), "{handover}");
    let r = soap(
        &f,
        &format!(
            "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{to_jan}</sp:MessageId></sp:GetEvidence>"
        ),
    );
    let served: Vec<String> = roxmltree::Document::parse(&text(&r.body))
        .expect("xml")
        .descendants()
        .filter(|n| n.tag_name().name() == "Evidence")
        .filter_map(|n| n.text().map(|t| text(&base64_decode(t).expect("base64"))))
        .collect();
    assert_eq!(served.len(), 3);
    assert_eq!(served[2], handover);
    // Every evidence of the letter, the handover too, names it by the id submit returned.
    for e in &served {
        assert!(
            e.contains(&format!("<ev:MessageId>{to_jan}</ev:MessageId>")),
            "{e}"
        );
    }
    let court = f.pki.with_file_name("handover.xml");
    std::fs::write(&court, &handover).expect("write");
    let out = run(&mut court_verify_command(&f.pki, &court));
    assert!(out.status.success(), "{}", text(&out.stdout));
    // Opened again: no new evidence.
    jan.get(&format!("/mailbox/letter/{}", enc(&to_jan)));
    assert!(
        !text(
            &jan.get(&format!("/mailbox/letter/{}/evidence/3", enc(&to_jan)))
                .body
        )
        .contains("ContentHandover"),
        "a second handover"
    );
    let inbox = jan.get("/mailbox/inbox?state=read");
    assert!(text(&inbox.body).contains("Avis 2026"));

    // Another person's letter answers as a letter that does not exist.
    let foreign = jan.get(&format!("/mailbox/letter/{}", enc(&to_company_tax)));
    let missing = jan.get("/mailbox/letter/urn%3Auuid%3A00000000-0000-7000-8000-000000000000");
    assert_eq!((foreign.status, missing.status), (404, 404));
    assert_eq!(text(&foreign.body), text(&missing.body));
    assert_eq!(
        jan.get(&format!(
            "/mailbox/letter/{}/document/0",
            enc(&to_company_tax)
        ))
        .status,
        404
    );

    // Marie's mandate covers the company's tax assessments only; her opening names the mandate.
    let mut marie = Browser::new(&f);
    first_login(&mut marie, "marie");
    let inbox = marie.get(&format!("/mailbox/inbox?mailbox={}", enc(COMPANY)));
    let html = text(&inbox.body);
    assert!(
        html.contains("Avis société") && !html.contains("Rappel de paiement"),
        "{html}"
    );
    assert_eq!(
        marie
            .get(&format!("/mailbox/letter/{}", enc(&to_company_payment)))
            .status,
        404
    );
    assert_eq!(
        marie
            .get(&format!("/mailbox/letter/{}", enc(&to_company_tax)))
            .status,
        200
    );
    let handover = text(
        &marie
            .get(&format!(
                "/mailbox/letter/{}/evidence/2",
                enc(&to_company_tax)
            ))
            .body,
    );
    assert!(
        handover.contains("Marie Dubois (marie)") && handover.contains("mandate-"),
        "{handover}"
    );
    // The mandate as it stood when she opened it, whole: the proof stands without the
    // (mutable) mandate record.
    assert!(
        handover.contains(&format!(
            ": marie for {COMPANY}, message types tax-assessment, valid from "
        )) && handover.contains("granted by sealpost admin"),
        "{handover}"
    );
    // And she cannot read Jan's mailbox.
    assert_eq!(
        marie
            .get(&format!("/mailbox/inbox?mailbox={}", enc(CITIZEN)))
            .status,
        404
    );
}

#[test]
fn a_document_downloaded_before_the_letter_is_opened_is_a_sealed_opening_and_every_read_is_traced()
{
    let f = fixture();
    let to_jan = send(&f, "k1", CITIZEN, "tax-assessment", "Avis 2026");
    let mut jan = Browser::new(&f);
    first_login(&mut jan, "jan");
    // What a recipient wanted: read the letter while the sender's proof says it was never
    // opened, by going straight to the document's address.
    let download = jan.get(&format!("/mailbox/letter/{}/document/0", enc(&to_jan)));
    assert_eq!(download.body, b"%PDF-1.7 Avis 2026");
    let r = soap(
        &f,
        &format!(
            "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{to_jan}</sp:MessageId></sp:GetEvidence>"
        ),
    );
    let served: Vec<String> = roxmltree::Document::parse(&text(&r.body))
        .expect("xml")
        .descendants()
        .filter(|n| n.tag_name().name() == "Evidence")
        .filter_map(|n| n.text().map(|t| text(&base64_decode(t).expect("base64"))))
        .collect();
    assert_eq!(served.len(), 3, "acceptance, consignment, handover");
    assert!(served[2].contains("Event/ContentHandover") && served[2].contains("Jan Peeters (jan)"));
    // Then the page and an evidence: each read traced, no second handover. The page shows
    // the letter's access journal, this read included.
    let page = jan.get(&format!("/mailbox/letter/{}?lang=en", enc(&to_jan)));
    assert_eq!(page.status, 200);
    let html = text(&page.body);
    let journal = &html[html.find("Who read this letter").expect("journal")..];
    assert_eq!(journal.matches("Jan Peeters (jan)").count(), 2, "{journal}");
    assert!(
        journal.find("document 0") < journal.find("the letter"),
        "{journal}"
    );
    assert_eq!(
        jan.get(&format!("/mailbox/letter/{}/evidence/0", enc(&to_jan)))
            .status,
        200
    );
    let pki = f.pki.clone();
    drop(f);
    let export = pki.with_file_name("reads.jsonl");
    admin(
        &pki,
        &pki.with_file_name("var"),
        &["audit", "export", "--out", export.to_str().expect("path")],
    );
    let lines = std::fs::read_to_string(&export).expect("export");
    let reads: Vec<&str> = lines
        .lines()
        .filter(|l| l.contains(&to_jan) && l.contains("\"channel\":\"mailbox\""))
        .collect();
    assert_eq!(reads.len(), 3, "{lines}");
    assert!(
        reads[0].contains("ReadDocument") && reads[0].contains("first opening: handover sealed")
    );
    assert!(reads[1].contains("OpenLetter") && !reads[1].contains("first opening"));
    assert!(reads[2].contains("ReadEvidence"));
}

#[test]
fn a_citizen_who_refuses_electronic_delivery_gets_paper_and_the_sender_a_sealed_refusal() {
    let f = fixture();
    let letter = |key: &str| {
        let document = b"%PDF-1.7 Avis".to_vec();
        format!(
            "<sp:SubmitRegisteredMail xmlns:sp=\"urn:sealpost:v1\"><sp:IdempotencyKey>{key}</sp:IdempotencyKey><sp:Recipient>{CITIZEN}</sp:Recipient><sp:MessageType>tax-assessment</sp:MessageType><sp:Subject>Avis</sp:Subject><sp:SenderReference>REF-{key}</sp:SenderReference><sp:Document><sp:Id>d1</sp:Id><sp:Name>avis.pdf</sp:Name><sp:MediaType>application/pdf</sp:MediaType><sp:Sha256>{}</sp:Sha256><sp:Content>{}</sp:Content></sp:Document></sp:SubmitRegisteredMail>",
            sha256_hex(&document),
            base64_encode(&document)
        )
    };
    let mut jan = Browser::new(&f);
    first_login(&mut jan, "jan");
    let page = jan.get("/mailbox/delivery?lang=en");
    assert!(text(&page.body).contains("You receive your registered letters"));
    let r = jan.post(
        "/mailbox/delivery",
        &format!("csrf={}&choice=refuse", Browser::csrf(&page)),
    );
    assert_eq!(r.status, 303);
    let page = jan.get("/mailbox/delivery?lang=en");
    assert!(text(&page.body).contains("You have refused electronic delivery since"));

    // The sender is refused with its own row, and a sealed rejection a court can check.
    let refused = soap(&f, &letter("paper-1"));
    let body = text(&refused.body);
    assert_eq!(refused.status, 500, "{body}");
    assert!(
        body.contains("RecipientRefused") && body.contains("SEALPOST-REQ-007"),
        "{body}"
    );
    let rejection =
        text(&base64_decode(&field(&body, "Evidence").expect("rejection")).expect("b64"));
    assert!(
        rejection.contains("Event/SubmissionRejection"),
        "{rejection}"
    );
    assert!(rejection.contains("SEALPOST-REQ-007"), "{rejection}");
    let saved = f.pki.with_file_name("refusal.xml");
    std::fs::write(&saved, &rejection).expect("write");
    let out = run(&mut court_verify_command(&f.pki, &saved));
    assert!(out.status.success(), "{}", text(&out.stdout));

    // Accepted again: the next letter is delivered.
    let page = jan.get("/mailbox/delivery?lang=en");
    let r = jan.post(
        "/mailbox/delivery",
        &format!("csrf={}&choice=accept", Browser::csrf(&page)),
    );
    assert_eq!(r.status, 303);
    assert_eq!(soap(&f, &letter("paper-2")).status, 200);
    // A forged choice without the session's token changes nothing.
    let forged = jan.post("/mailbox/delivery", "csrf=forged&choice=refuse");
    assert_ne!(forged.status, 303);
    assert_eq!(soap(&f, &letter("paper-3")).status, 200);
}

#[test]
fn a_locked_out_person_gets_a_provisional_password_apart_from_their_login_and_it_expires() {
    let f = fixture();
    for _ in 0..4 {
        login_answer(&f, "jan", "wrong");
    }
    let refused = login_answer(&f, "nobody-here", "wrong");
    assert_eq!(login_answer(&f, "jan", FIRST_PASSWORD), refused, "locked");
    let pki = f.pki.clone();
    drop(f);
    let data = pki.with_file_name("var");
    // The access manager issues a provisional password: printed without the login, so the
    // two never travel together.
    let issued = admin(
        &pki,
        &data,
        &[
            "person",
            "reset",
            "--login",
            "jan",
            "--password",
            "provisional-1234",
        ],
    );
    assert!(
        issued.contains("provisional-1234") && !issued.contains("jan"),
        "{issued}"
    );
    // One whose validity is already over opens nothing.
    admin(
        &pki,
        &data,
        &[
            "person",
            "reset",
            "--login",
            "piet",
            "--password",
            "provisional-0000",
            "--valid-days",
            "0",
        ],
    );
    let mut serve = sealpost_command(&pki, &data);
    serve.arg("serve");
    let f = Fixture {
        server: Server::start(serve),
        pki,
    };
    let mut jan = Browser::new(&f);
    let page = jan.log_in("jan", "provisional-1234");
    assert!(
        text(&page.body).contains("name=\"new\""),
        "the provisional password must be changed: {}",
        text(&page.body)
    );
    assert_eq!(login_answer(&f, "piet", "provisional-0000"), refused);
}

#[test]
fn a_delivered_letter_is_announced_to_who_reads_the_mailbox_at_their_address() {
    let f = fixture();
    let pki = f.pki.clone();
    drop(f);
    let data = pki.with_file_name("var");
    admin(
        &pki,
        &data,
        &[
            "person",
            "add",
            "--login",
            "jana",
            "--name",
            "Jana Peeters",
            "--nrn",
            CITIZEN,
            "--password",
            FIRST_PASSWORD,
            "--contact",
            "jana@example.be",
        ],
    );
    let told = pki.with_file_name("told.txt");
    let notifier = pki.with_file_name("notify.sh");
    std::fs::write(
        &notifier,
        format!("#!/bin/sh\necho \"$1|$2|$3|$4|$5\" >> {}\n", told.display()),
    )
    .expect("notifier");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&notifier, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let mut serve = sealpost_command(&pki, &data);
    serve
        .env("SEALPOST_MAILBOX_NOTIFIER", &notifier)
        .env("SEALPOST_MAILBOX_NOTIFY_INTERVAL_S", "1")
        .arg("serve");
    let f = Fixture {
        server: Server::start(serve),
        pki,
    };
    send(&f, "k1", CITIZEN, "tax-assessment", "Avis 2026");
    let mut lines = String::new();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        lines = std::fs::read_to_string(&told).unwrap_or_default();
        if !lines.is_empty() {
            break;
        }
    }
    // Jana, who left an address, is told who sent it (and nothing of its content); Jan, who
    // left none, finds it in the mailbox; nobody of the company is told.
    assert_eq!(
        lines.trim(),
        "new-letter|jana|Jana Peeters|jana@example.be|SPF Finances",
        "{lines}"
    );
    // Told once.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        std::fs::read_to_string(&told)
            .expect("told")
            .lines()
            .count(),
        1
    );
}

#[test]
fn an_access_manager_grants_and_revokes_mandates() {
    let f = fixture();
    send(&f, "k1", COMPANY, "payment-notice", "Rappel de paiement");
    let mut bea = Browser::new(&f);
    first_login(&mut bea, "bea");
    let page = bea.get("/mailbox/mandates");
    assert!(text(&page.body).contains(COMPANY));
    let r = bea.post(
        "/mailbox/mandates",
        &format!(
            "csrf={}&company={}&person=jan&types=&until=2099-12-31",
            Browser::csrf(&page),
            enc(COMPANY)
        ),
    );
    assert_eq!(r.status, 303, "{}", text(&r.body));
    let mut jan = Browser::new(&f);
    first_login(&mut jan, "jan");
    let inbox = jan.get(&format!("/mailbox/inbox?mailbox={}", enc(COMPANY)));
    assert!(text(&inbox.body).contains("Rappel de paiement"));
    // Revoked: the mailbox closes at once.
    let page = bea.get("/mailbox/mandates");
    let html = text(&page.body);
    // Jan's mandate, not Marie's.
    let jans = html.find("<li>jan — ").expect("Jan's mandate");
    let at = jans + html[jans..].find("/revoke").expect("a revoke form");
    let start = html[..at].rfind("/mailbox/mandates/").expect("action");
    let action = html[start..at + 7].to_owned();
    let r = bea.post(&action, &format!("csrf={}", Browser::csrf(&page)));
    assert_eq!(r.status, 303);
    assert_eq!(
        jan.get(&format!("/mailbox/inbox?mailbox={}", enc(COMPANY)))
            .status,
        404
    );
    // Only an access manager grants, and only for their companies.
    let page = jan.get("/mailbox/mandates");
    let r = jan.post(
        "/mailbox/mandates",
        &format!(
            "csrf={}&company={}&person=jan&types=&until=2099-12-31",
            Browser::csrf(&page),
            enc(COMPANY)
        ),
    );
    assert_eq!(r.status, 404);
}

#[test]
fn the_inbox_shows_twenty_letters_a_page_newest_first_and_filters() {
    let f = fixture();
    for n in 1..=23 {
        let kind = if n % 2 == 0 {
            "payment-notice"
        } else {
            "tax-assessment"
        };
        send(
            &f,
            &format!("k{n}"),
            CITIZEN,
            kind,
            &format!("Lettre {n:02}"),
        );
    }
    let mut jan = Browser::new(&f);
    first_login(&mut jan, "jan");
    let subjects = |r: &HttpResponse| -> Vec<String> {
        let html = text(&r.body);
        html.match_indices("Lettre ")
            .map(|(i, _)| html[i..i + 9].to_owned())
            .collect()
    };
    let first = jan.get("/mailbox/inbox");
    let shown = subjects(&first);
    assert_eq!(shown.len(), 20);
    assert_eq!(
        (shown[0].as_str(), shown[19].as_str()),
        ("Lettre 23", "Lettre 04")
    );
    assert!(text(&first.body).contains("rel=\"next\""));
    let second = jan.get(&format!("/mailbox/inbox?mailbox={}&page=2", enc(CITIZEN)));
    assert_eq!(
        subjects(&second),
        vec!["Lettre 03", "Lettre 02", "Lettre 01"]
    );
    // Opened letters are read; the filter shows each state.
    jan.get(&format!(
        "/mailbox/letter/{}",
        enc(&send(&f, "k-read", CITIZEN, "tax-assessment", "Lettre 99"))
    ));
    let read = jan.get("/mailbox/inbox?state=read");
    assert_eq!(subjects(&read), vec!["Lettre 99"]);
    let unread = jan.get("/mailbox/inbox?state=unread");
    assert_eq!(subjects(&unread).len(), 20);
    assert!(!subjects(&unread).contains(&"Lettre 99".to_owned()));
}

#[test]
fn a_registered_client_certificate_logs_in_without_password_and_no_other_does() {
    let f = fixture();
    // No certificate presented.
    let mut b = Browser::new(&f);
    let form = b.get("/mailbox/login");
    assert!(text(&form.body).contains("/mailbox/login/certificate"));
    let r = b.post(
        "/mailbox/login/certificate",
        &format!("csrf={}", Browser::csrf(&form)),
    );
    assert_eq!(r.status, 401);
    // A trusted certificate that belongs to nobody (sender-a's).
    let mut stranger = Browser::new(&f);
    stranger.identity = Some((f.pki.join("sender-a-chain.pem"), f.pki.join("sender-a.key")));
    let form = stranger.get("/mailbox/login");
    let r = stranger.post(
        "/mailbox/login/certificate",
        &format!("csrf={}", Browser::csrf(&form)),
    );
    assert_eq!(r.status, 401);
    // Piet's registered certificate: logged in, no password, no code.
    let mut piet = Browser::new(&f);
    piet.identity = Some((f.pki.join("sender-b-chain.pem"), f.pki.join("sender-b.key")));
    let form = piet.get("/mailbox/login");
    let before = piet.cookie.clone();
    // Without the form's token, nothing.
    let r = piet.post(
        "/mailbox/login/certificate",
        &format!("csrf={}", "0".repeat(64)),
    );
    assert_eq!(r.status, 403);
    let r = piet.post(
        "/mailbox/login/certificate",
        &format!("csrf={}", Browser::csrf(&form)),
    );
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/mailbox/inbox"))
    );
    assert_ne!(piet.cookie, before, "a new session id");
    assert_eq!(piet.get("/mailbox/inbox").status, 200);
}

/// Logs in with a client certificate chain and key (PEM files) on a fresh browser; the status.
fn certificate_login(f: &Fixture, chain: &str, key: &str) -> u16 {
    let mut b = Browser::new(f);
    b.identity = Some((f.pki.join(chain), f.pki.join(key)));
    let form = b.get("/mailbox/login");
    b.post(
        "/mailbox/login/certificate",
        &format!("csrf={}", Browser::csrf(&form)),
    )
    .status
}

#[test]
fn a_login_certificate_revoked_at_the_ocsp_responder_no_longer_logs_in() {
    let port = free_port();
    let pki = dev_pki_with(
        "mailbox-ocsp",
        &["--revocation-url", &format!("http://127.0.0.1:{port}")],
    );
    let mut responder = OcspResponder::start(&pki, port);
    // The issuing CA names no responder: CRLs speak for it (and, being files, for the
    // certificates it issues too).
    sealpost_interop::issue_dev_crls(&pki, &[]);
    let crls = format!(
        "{},{}",
        pki.join("issuing-ca.crl.pem").display(),
        pki.join("root-ca.crl.pem").display()
    );
    let f = fixture_on(
        pki,
        &[
            ("SEALPOST_REVOCATION_OCSP", "true"),
            ("SEALPOST_REVOCATION_OCSP_MAX_AGE_S", "1"),
            ("SEALPOST_REVOCATION_CRLS", &crls),
        ],
    );
    // Piet's registered certificate, good at the responder: logged in.
    assert_eq!(
        certificate_login(&f, "sender-b-chain.pem", "sender-b.key"),
        303
    );
    // Stolen and revoked: the thief cannot log in with it.
    responder.revoke("sender-b");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        certificate_login(&f, "sender-b-chain.pem", "sender-b.key"),
        401
    );
}

#[test]
fn unused_accounts_are_noticed_then_deleted_unless_their_owner_logs_in() {
    let pki = dev_pki("retention");
    let data = pki.with_file_name("var");
    let notices = pki.with_file_name("notices.txt");
    let notifier = pki.with_file_name("notifier.sh");
    std::fs::write(
        &notifier,
        format!("#!/bin/sh\necho \"$1|$2|$3|$4\" >> {}\n", notices.display()),
    )
    .expect("notifier");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&notifier, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    // Unused for five seconds: noticed; then deleted at the next run without a login.
    let sealpost = || {
        let mut cmd = sealpost_command(&pki, &data);
        cmd.env("SEALPOST_RETENTION_INACTIVE_S", "5")
            .env("SEALPOST_RETENTION_NOTICE_S", "0")
            .env("SEALPOST_RETENTION_TRACES_S", "2")
            .env("SEALPOST_RETENTION_NOTIFIER", &notifier);
        cmd
    };
    let admin = |args: &[&str]| sealpost_interop::admin(sealpost(), args);
    admin(&["mailbox", "add", CITIZEN, "--name", "Jan"]);
    admin(&["mailbox", "add", "nrn:00012556777", "--name", "Piet"]);
    for (login, name, nrn) in [
        ("jan", "Jan Peeters", CITIZEN),
        ("piet", "Piet Claes", "nrn:00012556777"),
    ] {
        let contact = format!("{login}@example.be");
        admin(&[
            "person",
            "add",
            "--login",
            login,
            "--name",
            name,
            "--nrn",
            nrn,
            "--password",
            FIRST_PASSWORD,
            "--totp-secret",
            TOTP_SECRET,
            "--contact",
            &contact,
        ]);
    }
    // Anna left no address: no notice can reach her, so her deletion clock never starts.
    admin(&[
        "person",
        "add",
        "--login",
        "anna",
        "--name",
        "Anna Maes",
        "--password",
        FIRST_PASSWORD,
    ]);
    std::thread::sleep(Duration::from_secs(6));
    let report = admin(&["retention"]);
    assert!(report.contains(r#""notified":["jan","piet"]"#), "{report}");
    assert!(report.contains(r#""undelivered":["anna"]"#), "{report}");
    assert!(report.contains(r#""deleted":[]"#), "{report}");
    let told = std::fs::read_to_string(&notices).expect("notices");
    assert_eq!(told.lines().count(), 2, "{told}");
    assert!(told.starts_with("jan|Jan Peeters|20"), "{told}");
    assert!(
        told.lines()
            .next()
            .is_some_and(|l| l.ends_with("|jan@example.be")),
        "{told}"
    );

    // Piet objects by logging in; his mailbox says the deletion was cancelled.
    let mut serve = sealpost();
    serve.arg("serve");
    let f = Fixture {
        server: Server::start(serve),
        pki: pki.clone(),
    };
    let mut piet = Browser::new(&f);
    first_login(&mut piet, "piet");
    let inbox = piet.get("/mailbox/inbox");
    assert!(
        text(&inbox.body).contains("class=\"notice\""),
        "{}",
        text(&inbox.body)
    );
    drop(f);

    // The traces of the first run are over two seconds old by now (times are in whole
    // seconds): purged.
    std::thread::sleep(Duration::from_secs(3));
    let report = admin(&["retention"]);
    assert!(report.contains(r#""deleted":["jan"]"#), "{report}");
    assert!(report.contains(r#""undelivered":["anna"]"#), "{report}");
    let purged: serde_json::Value = serde_json::from_str(report.trim()).expect("json");
    assert!(
        purged["purged_through"].as_u64().is_some_and(|n| n >= 3),
        "{report}"
    );
    let people = admin(&["person", "list"]);
    assert!(
        !people.contains("\"jan\"") && people.contains("\"piet\"") && people.contains("\"anna\""),
        "{people}"
    );
    // Jan's mailbox is closed: letters for him are refused, so senders fall back to paper.
    let mailboxes = admin(&["mailbox", "list"]);
    let jan_box = mailboxes
        .lines()
        .find(|l| l.contains(CITIZEN))
        .expect("Jan's mailbox");
    assert!(jan_box.contains("\"active\":false"), "{jan_box}");
    // Each notice, deletion and run is in the audit log, and the chain holds.
    let export = pki.with_file_name("audit.jsonl");
    admin(&["audit", "export", "--out", export.to_str().expect("path")]);
    let lines = std::fs::read_to_string(&export).expect("export");
    assert!(
        !lines.contains("deletion notice, due"),
        "the first run's traces are purged"
    );
    for kept in [
        "account deleted",
        "traces before",
        "run: 0 notified, 1 not reachable, 1 deleted",
        "deletion notice not delivered (the person has no contact address)",
    ] {
        assert!(lines.contains(kept), "{kept}: {lines}");
    }
    let verified = admin(&["audit", "verify"]);
    assert!(
        verified.contains("were purged") && verified.contains("audit log valid"),
        "{verified}"
    );
}

#[test]
fn every_other_address_is_a_404_page_the_mailbox_opens_at_its_address_and_grpc_still_says_unimplemented()
 {
    let f = fixture();
    let mut b = Browser::new(&f);
    // The documented address, with and without its slash, and the site's root.
    for (path, to) in [
        ("/mailbox/", "/mailbox/login"),
        ("/mailbox", "/mailbox/login"),
        ("/", "/mailbox/"),
    ] {
        let r = b.get(path);
        assert!(matches!(r.status, 303 | 307 | 308), "{path}: {}", r.status);
        assert_eq!(r.header("location"), Some(to), "{path}");
    }
    // Any other address: a 404 page in HTML, in the language asked for, not a gRPC answer.
    for path in [
        "/no-such-page",
        "/mailbox/no-such-page",
        "/sealpost.v1.Nothing/Here",
    ] {
        let r = b.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{path}: {:?}",
            r.header("content-type")
        );
        assert_eq!(r.header("grpc-status"), None, "{path}");
        let html = text(&r.body);
        assert!(html.contains("<html lang=\"fr\">"), "{html}");
        assert!(
            html.contains("<h1>Cette page n&#39;existe pas</h1>"),
            "{html}"
        );
    }
    let r = b.get("/no-such-page?lang=nl");
    assert!(text(&r.body).contains("<h1>Deze pagina bestaat niet</h1>"));
    // A gRPC call to a method that does not exist: the gRPC status Unimplemented (12).
    let r = https_raw_as(
        f.server.addr,
        &f.pki.join("root-ca.pem"),
        None,
        "POST /sealpost.v1.Nothing/Here HTTP/1.1\r\nContent-Type: application/grpc\r\nTE: trailers\r\nContent-Length: 5",
        &[0, 0, 0, 0, 0],
    );
    assert_eq!(r.status, 200, "{}", text(&r.body));
    assert_eq!(r.header("grpc-status"), Some("12"), "{:?}", r.headers);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("application/grpc")),
        "{:?}",
        r.headers
    );
}

#[test]
fn the_language_chosen_is_remembered_and_logging_out_says_so() {
    let f = fixture();
    let mut b = Browser::new(&f);
    let form = b.get("/mailbox/login?lang=nl");
    let remembered = form
        .headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("lang="))
        .map(|(_, v)| v.clone())
        .expect("a lang cookie");
    for part in ["lang=nl", "Path=/", "Secure", "Max-Age="] {
        assert!(remembered.contains(part), "{remembered}");
    }
    assert!(text(&form.body).contains("<label for=\"login\">Gebruikersnaam</label>"));
    // The cookie is all it takes: the session's forms do not depend on it.
    b.lang = Some("nl");
    let inbox = b.log_in("jan", FIRST_PASSWORD);
    assert_eq!(inbox.status, 200);
    let html = text(&inbox.body);
    assert!(html.contains("<html lang=\"nl\">"), "{html}");
    // A first login changes the password (in Dutch).
    assert!(html.contains("<h1>Wachtwoord wijzigen</h1>"), "{html}");
    let r = b.post(
        "/mailbox/password",
        &format!(
            "csrf={}&new={}&again={}",
            Browser::csrf(&inbox),
            enc(NEW_PASSWORD),
            enc(NEW_PASSWORD)
        ),
    );
    assert_eq!(r.status, 303, "{}", text(&r.body));
    let inbox = b.get("/mailbox/inbox");
    let html = text(&inbox.body);
    // The person's name, the operator, the notices, the time zone.
    for part in [
        "<strong>Jan Peeters</strong>",
        "Sealpost development operator",
        "help@sealpost.example",
        "href=\"/mailbox/help#privacy\"",
        "Europe/Brussels",
        "<a href=\"/mailbox/delivery\">Elektronische bezorging</a>",
    ] {
        assert!(html.contains(part), "{part}: {html}");
    }
    assert!(!html.contains("/mailbox/mandates\""), "{html}");
    let r = b.post(
        "/mailbox/logout",
        &format!("csrf={}", Browser::csrf(&inbox)),
    );
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some("/mailbox/logged-out"))
    );
    assert!(b.cookie.is_none(), "the session cookie is removed");
    let page = b.get("/mailbox/logged-out");
    let html = text(&page.body);
    assert_eq!(page.status, 200);
    assert!(html.contains("<h1>U bent afgemeld</h1>"), "{html}");
    assert!(html.contains("<a href=\"/mailbox/login\">Opnieuw aanmelden</a>"));
    assert_eq!(
        b.get("/mailbox/inbox").header("location"),
        Some("/mailbox/login")
    );
}

#[test]
fn a_letter_whose_type_needs_a_stronger_login_is_not_opened_by_a_weaker_one_and_the_refusal_is_traced()
 {
    let pki = dev_pki("mailbox-levels");
    let config = pki.with_file_name("levels.toml");
    // Payment notices need level 3; a password and TOTP code count as 2 (the default).
    std::fs::write(
        &config,
        "[mailbox.opening_levels]\n\"payment-notice\" = 3\n",
    )
    .expect("config");
    let f = fixture_on(pki, &[("SEALPOST_CONFIG", config.to_str().expect("path"))]);
    let notice = send(&f, "k1", CITIZEN, "payment-notice", "Rappel");
    let assessment = send(&f, "k2", CITIZEN, "tax-assessment", "Avis 2026");
    let mut jan = Browser::new(&f);
    jan.lang = Some("en");
    first_login(&mut jan, "jan");
    for path in [
        format!("/mailbox/letter/{}", enc(&notice)),
        format!("/mailbox/letter/{}/document/0", enc(&notice)),
        format!("/mailbox/letter/{}/evidence/2", enc(&notice)),
    ] {
        let r = jan.get(&path);
        assert_eq!(r.status, 403, "{path}: {}", text(&r.body));
        assert!(
            text(&r.body).contains("stronger login"),
            "{}",
            text(&r.body)
        );
    }
    // Nothing of it was opened: no handover, only its two evidences for the sender.
    let r = soap(
        &f,
        &format!(
            "<sp:GetEvidence xmlns:sp=\"urn:sealpost:v1\"><sp:MessageId>{notice}</sp:MessageId></sp:GetEvidence>"
        ),
    );
    assert_eq!(
        text(&r.body).matches("<sp:Evidence>").count(),
        2,
        "{}",
        text(&r.body)
    );
    // A letter of another type opens, its handover naming the login.
    let page = jan.get(&format!("/mailbox/letter/{}", enc(&assessment)));
    assert_eq!(page.status, 200);
    let handover = text(
        &jan.get(&format!("/mailbox/letter/{}/evidence/2", enc(&assessment)))
            .body,
    );
    assert!(
        handover
            .contains("<ev:Authentication>password and TOTP code (level 2)</ev:Authentication>"),
        "{handover}"
    );
    let audit = sealpost_interop::audit_log(
        &f.pki,
        &f.pki.with_file_name("var"),
        &[("SEALPOST_CONFIG", config.to_str().expect("path"))],
    );
    assert!(
        audit.iter().any(|e| e["operation"] == "open letter"
            && e["outcome"] == "refused"
            && e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("needs a login of level 3"))),
        "the refusal is traced"
    );
}
