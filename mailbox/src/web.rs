//! The mailbox web UI at `/mailbox/`: server-rendered HTML that works without JavaScript, in
//! French and English, with labelled fields and a layout that fits a phone.
//!
//! Login: password (Argon2id) then TOTP, each step under a new session id; repeated failures
//! lock the account for a growing delay; a first login changes the password. Every form
//! carries the session's CSRF token. A letter of a mailbox the person may not read answers
//! exactly as a letter that does not exist.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::credentials::{PasswordHash, TotpSecret};
use crate::people::{Access, Mandate, Person, accesses};
use crate::port::{Letter, MailboxData};
use crate::sessions::{self, Session, Sessions, Stage};

/// Letters per inbox page.
pub const PAGE: usize = 20;
/// The shortest password accepted when a person sets one.
pub const MIN_PASSWORD: usize = 12;

/// The certificates the browser presented in the TLS handshake (DER, its own first): the
/// service puts them on each request of the connection. The handshake proved the key; the
/// service's port decides whether the certificate is trusted and whose it is.
#[derive(Clone, Debug)]
pub struct ClientCertificates(pub Arc<Vec<Vec<u8>>>);

/// The mailbox UI's state.
pub struct MailboxUi {
    pub data: Arc<dyn MailboxData>,
    pub sessions: Sessions,
    /// A hash verified when the login is unknown, so that the answer takes as long.
    decoy: PasswordHash,
}

impl std::fmt::Debug for MailboxUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxUi").finish_non_exhaustive()
    }
}

impl MailboxUi {
    pub fn new(data: Arc<dyn MailboxData>, idle_timeout_s: u64) -> Result<MailboxUi, String> {
        Ok(MailboxUi {
            data,
            sessions: Sessions::new(idle_timeout_s),
            decoy: PasswordHash::new("decoy password, never used").map_err(|e| e.to_string())?,
        })
    }
}

/// The mailbox UI's clock, in seconds since the epoch: its one reading of the system clock.
/// Sessions, passwords, TOTP codes and mandates below it take the time as a parameter.
#[allow(
    clippy::disallowed_methods,
    reason = "the mailbox UI's clock until MailboxUi is given the service's Clock port"
)]
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The routes, to be nested at `/mailbox`.
pub fn router(ui: Arc<MailboxUi>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/style.css", get(style))
        .route("/login", get(login_form).post(login))
        .route("/login/certificate", post(certificate_login))
        .route("/totp", get(totp_form).post(totp))
        .route("/password", get(password_form).post(change_password))
        .route("/logout", post(logout))
        .route("/inbox", get(inbox))
        .route("/letter/{id}", get(letter))
        .route("/letter/{id}/document/{n}", get(document))
        .route("/letter/{id}/evidence/{n}", get(evidence))
        .route("/mandates", get(mandates).post(grant_mandate))
        .route("/mandates/{id}/revoke", post(revoke_mandate))
        .with_state(ui)
}

// ---------------------------------------------------------------------------------------
// Language

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lang {
    Fr,
    En,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

/// `?lang=` first, then the `lang` cookie, then Accept-Language; French by default.
fn lang(headers: &HeaderMap, asked: Option<&str>) -> Lang {
    let pick = |s: &str| match s.trim().get(..2) {
        Some("en") => Some(Lang::En),
        Some("fr") => Some(Lang::Fr),
        _ => None,
    };
    if let Some(l) = asked.and_then(pick) {
        return l;
    }
    let cookie = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|c| {
            c.split(';')
                .filter_map(|kv| kv.trim().split_once('='))
                .find(|(k, _)| *k == "lang")
                .and_then(|(_, v)| pick(v))
        });
    if let Some(l) = cookie {
        return l;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').find_map(pick))
        .unwrap_or(Lang::Fr)
}

fn t(lang: Lang, key: &str) -> &'static str {
    let (fr, en) = match key {
        "title" => ("Boîte aux lettres recommandées", "Registered mailbox"),
        "login" => ("Se connecter", "Log in"),
        "user" => ("Identifiant", "User name"),
        "password" => ("Mot de passe", "Password"),
        "totp" => (
            "Code de vérification (6 chiffres)",
            "Verification code (6 digits)",
        ),
        "totp_intro" => (
            "Saisissez le code affiché par votre application d'authentification.",
            "Enter the code your authenticator app shows.",
        ),
        "verify" => ("Vérifier", "Verify"),
        "bad_login" => (
            "Identifiant ou mot de passe incorrect.",
            "Wrong user name or password.",
        ),
        "bad_code" => ("Code incorrect.", "Wrong code."),
        "locked" => (
            "Trop d'essais : le compte est bloqué quelques instants. Réessayez plus tard.",
            "Too many attempts: the account is locked for a while. Try again later.",
        ),
        "new_password" => ("Nouveau mot de passe", "New password"),
        "again" => ("Confirmez le mot de passe", "Confirm the password"),
        "change" => ("Changer le mot de passe", "Change the password"),
        "change_intro" => (
            "Choisissez un nouveau mot de passe (12 caractères au moins).",
            "Choose a new password (at least 12 characters).",
        ),
        "bad_new" => (
            "Les deux mots de passe doivent être identiques et compter 12 caractères au moins.",
            "Both passwords must match and have at least 12 characters.",
        ),
        "inbox" => ("Boîte de réception", "Inbox"),
        "mailbox" => ("Boîte", "Mailbox"),
        "sender" => ("Expéditeur", "Sender"),
        "subject" => ("Objet", "Subject"),
        "received" => ("Reçu le", "Received"),
        "state" => ("État", "State"),
        "registered" => ("Recommandé", "Registered"),
        "read" => ("Lu", "Read"),
        "unread" => ("Non lu", "Unread"),
        "all" => ("Tous", "All"),
        "filter" => ("Filtrer", "Filter"),
        "none" => ("Aucune lettre.", "No letters."),
        "previous" => ("Page précédente", "Previous page"),
        "next" => ("Page suivante", "Next page"),
        "page" => ("Page", "Page"),
        "letters" => ("Lettres", "Letters"),
        "documents" => ("Documents", "Documents"),
        "evidences" => ("Preuves", "Evidences"),
        "download" => ("Télécharger", "Download"),
        "evidence_help" => (
            "Chaque preuve est un document scellé et horodaté ; vérifiez-le avec sealpost-verify.",
            "Each evidence is a sealed, time-stamped document; check it with sealpost-verify.",
        ),
        "back" => ("Retour à la boîte", "Back to the inbox"),
        "logout" => ("Se déconnecter", "Log out"),
        "mandates" => ("Mandats", "Mandates"),
        "company" => ("Entreprise", "Company"),
        "person" => ("Personne (identifiant)", "Person (user name)"),
        "types" => (
            "Types de message (séparés par des virgules ; vide : tous)",
            "Message types (comma-separated; empty: all)",
        ),
        "until" => ("Valable jusqu'au (AAAA-MM-JJ)", "Valid until (YYYY-MM-DD)"),
        "grant" => ("Accorder le mandat", "Grant the mandate"),
        "revoke" => ("Révoquer", "Revoke"),
        "revoked" => ("révoqué", "revoked"),
        "bad_mandate" => (
            "Mandat refusé : vérifiez l'entreprise, la personne et la date.",
            "Mandate refused: check the company, the person and the date.",
        ),
        "not_found" => ("Cette page n'existe pas.", "This page does not exist."),
        "error" => (
            "Le service est momentanément indisponible.",
            "The service is unavailable for a moment.",
        ),
        "bad_form" => (
            "Le formulaire a expiré ; recommencez.",
            "The form has expired; please try again.",
        ),
        "sha256" => ("Empreinte SHA-256", "SHA-256 fingerprint"),
        "size" => ("octets", "bytes"),
        "other_lang" => ("English", "Français"),
        "deletion_cancelled" => (
            "Votre compte, inutilisé depuis longtemps, devait être supprimé ; votre connexion a annulé la suppression.",
            "Your account, unused for a long time, was due to be deleted; logging in cancelled the deletion.",
        ),
        "or_certificate" => ("Ou avec un certificat", "Or with a certificate"),
        "certificate_intro" => (
            "Votre navigateur présente votre certificat (carte d'identité électronique ou certificat personnel).",
            "Your browser presents your certificate (electronic identity card or personal certificate).",
        ),
        "certificate_login" => (
            "Se connecter avec mon certificat",
            "Log in with my certificate",
        ),
        "bad_certificate" => (
            "Aucun certificat reconnu n'a été présenté.",
            "No recognised certificate was presented.",
        ),
        _ => ("", ""),
    };
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
    }
}

// ---------------------------------------------------------------------------------------
// HTML

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

use crate::percent_encode as url;

fn date(unix: u64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), UTC.
    let days = (unix / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let secs = unix % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

fn parse_date(text: &str) -> Option<u64> {
    let mut parts = text.trim().split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days).ok().map(|d| d * 86_400)
}

/// A whole page. `session` (when logged in) adds the logout form and its CSRF token.
fn page(lang: Lang, title: &str, logged_in: Option<&Session>, body: &str) -> Response {
    let other = match lang {
        Lang::Fr => "en",
        Lang::En => "fr",
    };
    let nav = match logged_in {
        Some(s) => format!(
            "<nav aria-label=\"menu\"><a href=\"/mailbox/inbox\">{}</a> <a href=\"/mailbox/mandates\">{}</a> <form method=\"post\" action=\"/mailbox/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form></nav>",
            t(lang, "inbox"),
            t(lang, "mandates"),
            esc(&s.csrf),
            t(lang, "logout")
        ),
        None => String::new(),
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} — {app}</title><link rel=\"stylesheet\" href=\"/mailbox/style.css\"></head><body><header><p class=\"app\">{app}</p>{nav}<p><a href=\"?lang={other}\" hreflang=\"{other}\" lang=\"{other}\">{other_name}</a></p></header><main><h1>{title}</h1>{body}</main></body></html>",
        code = lang.code(),
        app = t(lang, "title"),
        title = esc(title),
        other_name = t(lang, "other_lang"),
    );
    let mut response = (StatusCode::OK, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    response
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn with_status(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    response
}

fn redirect(to: &str, cookie: Option<String>, lang_cookie: Option<Lang>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(to) {
        h.insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.append(header::SET_COOKIE, c);
    }
    if let Some(l) = lang_cookie
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/mailbox; Secure; SameSite=Strict",
            l.code()
        ))
    {
        h.append(header::SET_COOKIE, v);
    }
    secure_headers(h);
    response
}

fn not_found(lang: Lang, session: Option<&Session>) -> Response {
    with_status(
        page(
            lang,
            t(lang, "not_found"),
            session,
            &format!("<p><a href=\"/mailbox/inbox\">{}</a></p>", t(lang, "back")),
        ),
        StatusCode::NOT_FOUND,
    )
}

fn unavailable(lang: Lang, what: &str) -> Response {
    tracing::error!(error = what, "mailbox: the service failed");
    with_status(
        page(lang, t(lang, "error"), None, ""),
        StatusCode::SERVICE_UNAVAILABLE,
    )
}

// ---------------------------------------------------------------------------------------
// Sessions in requests

fn session_of(ui: &MailboxUi, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(sessions::session_id)?
        .to_owned();
    let s = ui.sessions.get(&id, now())?;
    Some((id, s))
}

/// The logged-in person, or a redirect to the login page.
async fn logged_in(
    ui: &Arc<MailboxUi>,
    headers: &HeaderMap,
) -> Result<(String, Session, Person), Response> {
    let Some((id, session)) = session_of(ui, headers) else {
        return Err(redirect("/mailbox/login", None, None));
    };
    let login = match &session.stage {
        Stage::LoggedIn { login } => login.clone(),
        Stage::MustChangePassword { .. } => return Err(redirect("/mailbox/password", None, None)),
        _ => return Err(redirect("/mailbox/login", None, None)),
    };
    let data = Arc::clone(&ui.data);
    let person = blocking(move || data.person(&login)).await;
    match person {
        Ok(Some(p)) => Ok((id, session, p)),
        Ok(None) => {
            ui.sessions.end(&id);
            Err(redirect(
                "/mailbox/login",
                Some(sessions::cookie_removal()),
                None,
            ))
        }
        Err(e) => Err(unavailable(lang(headers, None), &e)),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| e.to_string())?
}

#[derive(Debug, Deserialize, Default)]
struct LangQuery {
    lang: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Pages

async fn style() -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
        .into_response();
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn home(State(ui): State<Arc<MailboxUi>>, headers: HeaderMap) -> Response {
    match session_of(&ui, &headers) {
        Some((_, s)) if matches!(s.stage, Stage::LoggedIn { .. }) => {
            redirect("/mailbox/inbox", None, None)
        }
        _ => redirect("/mailbox/login", None, None),
    }
}

fn login_page(lang: Lang, csrf: &str, error: Option<&str>) -> Response {
    let title = match error {
        Some(e) => format!("{e} — {}", t(lang, "login")),
        None => t(lang, "login").to_owned(),
    };
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        lang,
        &title,
        None,
        &format!(
            "{error}<form method=\"post\" action=\"/mailbox/login\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><p><label for=\"login\">{}</label><input id=\"login\" name=\"login\" autocomplete=\"username\" required></p><p><label for=\"password\">{}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p><p><button type=\"submit\">{}</button></p></form><h2>{}</h2><form method=\"post\" action=\"/mailbox/login/certificate\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><p>{}</p><p><button type=\"submit\">{}</button></p></form>",
            t(lang, "user"),
            t(lang, "password"),
            t(lang, "login"),
            t(lang, "or_certificate"),
            t(lang, "certificate_intro"),
            t(lang, "certificate_login"),
            csrf = esc(csrf)
        ),
    )
}

async fn login_form(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    // A fresh anonymous session holds the form's CSRF token; a new id every time.
    if let Some((id, _)) = session_of(&ui, &headers) {
        ui.sessions.end(&id);
    }
    let id = ui.sessions.start(Stage::Anonymous, now());
    let csrf = ui
        .sessions
        .get(&id, now())
        .map(|s| s.csrf)
        .unwrap_or_default();
    let mut r = login_page(lang, &csrf, None);
    if let Ok(v) = HeaderValue::from_str(&sessions::cookie(&id)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    if q.lang.is_some()
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/mailbox; Secure; SameSite=Strict",
            lang.code()
        ))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    csrf: String,
    login: String,
    password: String,
}

/// A refused form (bad or missing CSRF token): nothing happens.
fn bad_form(lang: Lang) -> Response {
    with_status(
        page(
            lang,
            t(lang, "bad_form"),
            None,
            "<p><a href=\"/mailbox/login\">OK</a></p>",
        ),
        StatusCode::FORBIDDEN,
    )
}

async fn login(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = lang(&headers, None);
    let Some((id, session)) = session_of(&ui, &headers) else {
        return bad_form(lang);
    };
    if session.stage != Stage::Anonymous || !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(lang);
    }
    let data = Arc::clone(&ui.data);
    let login = form.login.trim().to_owned();
    let ui2 = Arc::clone(&ui);
    let outcome = blocking(move || {
        let now = now();
        let Some(mut person) = data.person(&login)? else {
            // As long as for a known login, and no trace of which logins exist.
            let _ = ui2.decoy.verify(&form.password);
            data.record(&login, "mailbox login", false, "unknown login")?;
            return Ok(LoginOutcome::Refused);
        };
        if person.is_locked(now) {
            data.record(&login, "mailbox login", false, "account locked")?;
            return Ok(LoginOutcome::Locked);
        }
        let ok = PasswordHash::from_phc(&person.password)
            .and_then(|h| h.verify(&form.password))
            .map_err(|e| e.to_string())?;
        if ok {
            return Ok(LoginOutcome::PasswordChecked(person.login));
        }
        person.record_failure(now);
        data.put_person(&person)?;
        data.record(&login, "mailbox login", false, "wrong password")?;
        Ok(if person.is_locked(now) {
            LoginOutcome::Locked
        } else {
            LoginOutcome::Refused
        })
    })
    .await;
    match outcome {
        Ok(LoginOutcome::PasswordChecked(login)) => {
            match ui
                .sessions
                .advance(&id, Stage::PasswordChecked { login }, now())
            {
                Some(next) => redirect("/mailbox/totp", Some(sessions::cookie(&next)), None),
                None => bad_form(lang),
            }
        }
        Ok(LoginOutcome::Refused) => with_status(
            login_page(lang, &session.csrf, Some(t(lang, "bad_login"))),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(LoginOutcome::Locked) => with_status(
            login_page(lang, &session.csrf, Some(t(lang, "locked"))),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => unavailable(lang, &e),
    }
}

/// Logs in with the client certificate of the TLS connection: a strong login on its own
/// (the handshake proved the key), so neither password nor code is asked.
async fn certificate_login(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    certificates: Option<axum::Extension<ClientCertificates>>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = lang(&headers, None);
    let Some((id, session)) = session_of(&ui, &headers) else {
        return bad_form(lang);
    };
    if session.stage != Stage::Anonymous || !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(lang);
    }
    let data = Arc::clone(&ui.data);
    let chain = certificates.map(|axum::Extension(c)| c.0);
    let found = blocking(move || {
        let Some(chain) = chain else {
            data.record(
                "unauthenticated",
                "mailbox login",
                false,
                "no client certificate",
            )?;
            return Ok(None);
        };
        match data.person_by_certificate(&chain)? {
            Some(mut person) => {
                person.record_success(now());
                data.put_person(&person)?;
                data.record(&person.name, "mailbox login", true, "client certificate")?;
                Ok(Some(person.login))
            }
            None => {
                data.record(
                    "unauthenticated",
                    "mailbox login",
                    false,
                    "certificate not trusted or not registered",
                )?;
                Ok(None)
            }
        }
    })
    .await;
    match found {
        Ok(Some(login)) => match ui.sessions.advance(&id, Stage::LoggedIn { login }, now()) {
            Some(next) => redirect("/mailbox/inbox", Some(sessions::cookie(&next)), None),
            None => bad_form(lang),
        },
        Ok(None) => with_status(
            login_page(lang, &session.csrf, Some(t(lang, "bad_certificate"))),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => unavailable(lang, &e),
    }
}

enum LoginOutcome {
    PasswordChecked(String),
    Refused,
    Locked,
}

fn totp_page(lang: Lang, csrf: &str, error: Option<&str>) -> Response {
    let title = match error {
        Some(e) => format!("{e} — {}", t(lang, "verify")),
        None => t(lang, "verify").to_owned(),
    };
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        lang,
        &title,
        None,
        &format!(
            "{error}<p>{}</p><form method=\"post\" action=\"/mailbox/totp\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><p><label for=\"code\">{}</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" autocomplete=\"one-time-code\" required></p><p><button type=\"submit\">{}</button></p></form>",
            t(lang, "totp_intro"),
            esc(csrf),
            t(lang, "totp"),
            t(lang, "verify")
        ),
    )
}

async fn totp_form(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    match session_of(&ui, &headers) {
        Some((_, s)) if matches!(s.stage, Stage::PasswordChecked { .. }) => {
            totp_page(lang, &s.csrf, None)
        }
        _ => redirect("/mailbox/login", None, None),
    }
}

#[derive(Debug, Deserialize)]
struct CodeForm {
    csrf: String,
    code: String,
}

async fn totp(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let lang = lang(&headers, None);
    let Some((id, session)) = session_of(&ui, &headers) else {
        return redirect("/mailbox/login", None, None);
    };
    let Stage::PasswordChecked { login } = session.stage.clone() else {
        return redirect("/mailbox/login", None, None);
    };
    if !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(lang);
    }
    let data = Arc::clone(&ui.data);
    let outcome = blocking(move || {
        let now = now();
        let Some(mut person) = data.person(&login)? else {
            return Ok(None);
        };
        if person.is_locked(now) {
            data.record(&login, "mailbox login", false, "account locked")?;
            return Ok(Some(Err(true)));
        }
        let step = TotpSecret::from_base32(&person.totp_secret).and_then(|s| {
            s.accept(
                &form.code,
                UNIX_EPOCH + std::time::Duration::from_secs(now),
                person.last_totp_step,
            )
        });
        match step {
            Some(step) => {
                person.last_totp_step = Some(step);
                person.record_success(now);
                data.put_person(&person)?;
                data.record(&person.name, "mailbox login", true, "password and TOTP")?;
                Ok(Some(Ok(person.must_change_password)))
            }
            None => {
                person.record_failure(now);
                data.put_person(&person)?;
                data.record(&login, "mailbox login", false, "wrong TOTP code")?;
                Ok(Some(Err(person.is_locked(now))))
            }
        }
    })
    .await;
    let login = match &session.stage {
        Stage::PasswordChecked { login } => login.clone(),
        _ => String::new(),
    };
    match outcome {
        Ok(Some(Ok(must_change))) => {
            let stage = if must_change {
                Stage::MustChangePassword { login }
            } else {
                Stage::LoggedIn { login }
            };
            let to = if must_change {
                "/mailbox/password"
            } else {
                "/mailbox/inbox"
            };
            match ui.sessions.advance(&id, stage, now()) {
                Some(next) => redirect(to, Some(sessions::cookie(&next)), None),
                None => redirect("/mailbox/login", None, None),
            }
        }
        Ok(Some(Err(locked))) => {
            if locked {
                ui.sessions.end(&id);
                let id = ui.sessions.start(Stage::Anonymous, now());
                let csrf = ui
                    .sessions
                    .get(&id, now())
                    .map(|s| s.csrf)
                    .unwrap_or_default();
                let mut r = with_status(
                    login_page(lang, &csrf, Some(t(lang, "locked"))),
                    StatusCode::TOO_MANY_REQUESTS,
                );
                if let Ok(v) = HeaderValue::from_str(&sessions::cookie(&id)) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
                r
            } else {
                with_status(
                    totp_page(lang, &session.csrf, Some(t(lang, "bad_code"))),
                    StatusCode::UNAUTHORIZED,
                )
            }
        }
        Ok(None) => redirect("/mailbox/login", None, None),
        Err(e) => unavailable(lang, &e),
    }
}

fn password_page(lang: Lang, session: &Session, error: Option<&str>) -> Response {
    let title = match error {
        Some(e) => format!("{e} — {}", t(lang, "change")),
        None => t(lang, "change").to_owned(),
    };
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        lang,
        &title,
        None,
        &format!(
            "{error}<p>{}</p><form method=\"post\" action=\"/mailbox/password\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><p><label for=\"new\">{}</label><input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" minlength=\"{MIN_PASSWORD}\" required></p><p><label for=\"again\">{}</label><input id=\"again\" name=\"again\" type=\"password\" autocomplete=\"new-password\" minlength=\"{MIN_PASSWORD}\" required></p><p><button type=\"submit\">{}</button></p></form>",
            t(lang, "change_intro"),
            esc(&session.csrf),
            t(lang, "new_password"),
            t(lang, "again"),
            t(lang, "change")
        ),
    )
}

async fn password_form(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    match session_of(&ui, &headers) {
        Some((_, s))
            if matches!(
                s.stage,
                Stage::MustChangePassword { .. } | Stage::LoggedIn { .. }
            ) =>
        {
            password_page(lang, &s, None)
        }
        _ => redirect("/mailbox/login", None, None),
    }
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    csrf: String,
    new: String,
    again: String,
}

async fn change_password(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let lang = lang(&headers, None);
    let Some((id, session)) = session_of(&ui, &headers) else {
        return redirect("/mailbox/login", None, None);
    };
    let login = match &session.stage {
        Stage::MustChangePassword { login } | Stage::LoggedIn { login } => login.clone(),
        _ => return redirect("/mailbox/login", None, None),
    };
    if !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(lang);
    }
    if form.new != form.again || form.new.chars().count() < MIN_PASSWORD {
        return with_status(
            password_page(lang, &session, Some(t(lang, "bad_new"))),
            StatusCode::BAD_REQUEST,
        );
    }
    let data = Arc::clone(&ui.data);
    let who = login.clone();
    let result = blocking(move || {
        let Some(mut person) = data.person(&who)? else {
            return Err("the person is gone".into());
        };
        person.password = PasswordHash::new(&form.new)
            .map_err(|e| e.to_string())?
            .as_phc()
            .to_owned();
        person.must_change_password = false;
        data.put_person(&person)?;
        data.record(&person.name, "mailbox password change", true, "")
    })
    .await;
    match result {
        Ok(()) => match ui.sessions.advance(&id, Stage::LoggedIn { login }, now()) {
            Some(next) => redirect("/mailbox/inbox", Some(sessions::cookie(&next)), None),
            None => redirect("/mailbox/login", None, None),
        },
        Err(e) => unavailable(lang, &e),
    }
}

#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some((id, _)) = session_of(&ui, &headers)
        && ui.sessions.csrf_ok(&id, &form.csrf)
    {
        ui.sessions.end(&id);
        return redirect("/mailbox/login", Some(sessions::cookie_removal()), None);
    }
    bad_form(lang(&headers, None))
}

#[derive(Debug, Deserialize, Default)]
struct InboxQuery {
    lang: Option<String>,
    mailbox: Option<String>,
    page: Option<usize>,
    sender: Option<String>,
    state: Option<String>,
}

/// The letters `access` lets the person see, newest first.
fn visible(letters: Vec<Letter>, access: &Access) -> Vec<Letter> {
    letters
        .into_iter()
        .filter(|l| access.may_read(&l.message_type))
        .collect()
}

async fn inbox(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<InboxQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let sender = q.sender.clone().filter(|s| !s.is_empty());
    let state = q.state.clone().filter(|s| s == "read" || s == "unread");
    let data = Arc::clone(&ui.data);
    let person2 = person.clone();
    let mailbox_asked = q.mailbox.clone();
    let asked_page = q.page.unwrap_or(1).max(1);
    let (filter_sender, filter_state) = (sender.clone(), state.clone());
    let loaded = blocking(move || {
        let mandates = data.mandates()?;
        let all = accesses(&person2, &mandates, now());
        let chosen = match &mailbox_asked {
            Some(m) => all.iter().find(|a| &a.mailbox == m).cloned(),
            None => all.first().cloned(),
        };
        let senders = data.sender_names()?;
        let Some(access) = &chosen else {
            return Ok((all, chosen, senders, Vec::new(), 0, 1));
        };
        let unrestricted = access
            .mandate
            .as_ref()
            .is_none_or(|m| m.message_types.is_empty());
        if unrestricted && filter_sender.is_none() && filter_state.is_none() {
            // Only the page shown is read: a full mailbox costs what an empty one does.
            let (page, total) =
                data.letters_page(&access.mailbox, (asked_page - 1) * PAGE, PAGE)?;
            let page_no = asked_page.min(total.div_ceil(PAGE).max(1));
            if page_no == asked_page {
                return Ok((all, chosen, senders, page, total, page_no));
            }
            // Past the end: the last page instead.
            let (page, total) = data.letters_page(&access.mailbox, (page_no - 1) * PAGE, PAGE)?;
            return Ok((all, chosen, senders, page, total, page_no));
        }
        let filtered: Vec<Letter> = visible(data.letters(&access.mailbox)?, access)
            .into_iter()
            .filter(|l| filter_sender.as_ref().is_none_or(|s| &l.sender == s))
            .filter(|l| match filter_state.as_deref() {
                Some("read") => l.opened,
                Some("unread") => !l.opened,
                _ => true,
            })
            .collect();
        let total = filtered.len();
        let page_no = asked_page.min(total.div_ceil(PAGE).max(1));
        let page = filtered
            .into_iter()
            .skip((page_no - 1) * PAGE)
            .take(PAGE)
            .collect();
        Ok((all, chosen, senders, page, total, page_no))
    })
    .await;
    let (all, chosen, senders, shown, total, page_no) = match loaded {
        Ok(v) => v,
        Err(e) => return unavailable(lang, &e),
    };
    if q.mailbox.is_some() && chosen.is_none() {
        return not_found(lang, Some(&session));
    }
    let sender = sender.as_deref();
    let state = state.as_deref();
    let pages = total.div_ceil(PAGE).max(1);
    let mailbox = chosen
        .as_ref()
        .map(|a| a.mailbox.clone())
        .unwrap_or_default();
    let link = |p: usize| {
        format!(
            "/mailbox/inbox?mailbox={}&amp;page={p}&amp;sender={}&amp;state={}",
            url(&mailbox),
            url(sender.unwrap_or("")),
            state.unwrap_or("")
        )
    };
    let mut body = String::new();
    if person
        .deletion_cancelled_at
        .is_some_and(|at| now().saturating_sub(at) < 30 * 86_400)
    {
        body.push_str(&format!(
            "<p class=\"notice\" role=\"status\">{}</p>",
            t(lang, "deletion_cancelled")
        ));
    }
    if all.len() > 1 {
        body.push_str("<nav aria-label=\"mailboxes\"><ul class=\"boxes\">");
        for a in &all {
            let current = if a.mailbox == mailbox {
                " aria-current=\"page\""
            } else {
                ""
            };
            body.push_str(&format!(
                "<li><a href=\"/mailbox/inbox?mailbox={}\"{current}>{}</a></li>",
                url(&a.mailbox),
                esc(&a.mailbox)
            ));
        }
        body.push_str("</ul></nav>");
    }
    body.push_str(&format!(
        "<p>{}: <strong>{}</strong></p><form method=\"get\" action=\"/mailbox/inbox\" class=\"filters\"><input type=\"hidden\" name=\"mailbox\" value=\"{}\"><p><label for=\"sender\">{}</label><select id=\"sender\" name=\"sender\"><option value=\"\">{}</option>",
        t(lang, "mailbox"),
        esc(&mailbox),
        esc(&mailbox),
        t(lang, "sender"),
        t(lang, "all")
    ));
    for s in &senders {
        let selected = if Some(s.as_str()) == sender {
            " selected"
        } else {
            ""
        };
        body.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            esc(s),
            esc(s)
        ));
    }
    body.push_str(&format!(
        "</select></p><p><label for=\"state\">{}</label><select id=\"state\" name=\"state\"><option value=\"\">{}</option><option value=\"unread\"{}>{}</option><option value=\"read\"{}>{}</option></select></p><p><button type=\"submit\">{}</button></p></form>",
        t(lang, "state"),
        t(lang, "all"),
        if state == Some("unread") { " selected" } else { "" },
        t(lang, "unread"),
        if state == Some("read") { " selected" } else { "" },
        t(lang, "read"),
        t(lang, "filter")
    ));
    if shown.is_empty() {
        body.push_str(&format!("<p>{}</p>", t(lang, "none")));
    } else {
        body.push_str(&format!(
            "<table><caption>{} — {} {page_no} / {pages}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            t(lang, "letters"),
            t(lang, "page"),
            t(lang, "sender"),
            t(lang, "subject"),
            t(lang, "received"),
            t(lang, "state"),
        ));
        for l in shown {
            let (state_text, class) = if l.opened {
                (t(lang, "read"), "read")
            } else {
                (t(lang, "unread"), "unread")
            };
            body.push_str(&format!(
                "<tr class=\"{class}\"><td>{}</td><td><a href=\"/mailbox/letter/{}\">{}</a></td><td>{}</td><td>{state_text} · {}</td></tr>",
                esc(&l.sender),
                url(&l.id),
                esc(&l.subject),
                date(l.received_at),
                t(lang, "registered")
            ));
        }
        body.push_str("</tbody></table>");
        body.push_str("<nav aria-label=\"pages\" class=\"pages\">");
        if page_no > 1 {
            body.push_str(&format!(
                "<a href=\"{}\" rel=\"prev\">{}</a> ",
                link(page_no - 1),
                t(lang, "previous")
            ));
        }
        if page_no < pages {
            body.push_str(&format!(
                "<a href=\"{}\" rel=\"next\">{}</a>",
                link(page_no + 1),
                t(lang, "next")
            ));
        }
        body.push_str("</nav>");
    }
    page(lang, t(lang, "inbox"), Some(&session), &body)
}

/// The letter `id` if `person` may read it, with the access that allows it. Anything else
/// (no such letter, another mailbox, a type outside the mandate) is `None`: the same answer.
async fn readable(
    ui: &Arc<MailboxUi>,
    person: &Person,
    id: &str,
) -> Result<Option<(Letter, Access)>, String> {
    let data = Arc::clone(&ui.data);
    let person = person.clone();
    let id = id.to_owned();
    blocking(move || {
        let Some(letter) = data.letter(&id)? else {
            return Ok(None);
        };
        let mandates = data.mandates()?;
        Ok(accesses(&person, &mandates, now())
            .into_iter()
            .find(|a| a.mailbox == letter.mailbox && a.may_read(&letter.message_type))
            .map(|a| (letter, a)))
    })
    .await
}

async fn letter(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let (letter, access) = match readable(&ui, &person, &id).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(lang, Some(&session)),
        Err(e) => return unavailable(lang, &e),
    };
    // Opening the letter: the first time, the service seals who opened it.
    let data = Arc::clone(&ui.data);
    let (letter_id, who, mandate) = (letter.id.clone(), person.clone(), access.mandate.clone());
    let evidences = blocking(move || {
        data.opened(&letter_id, &who, mandate.as_ref())?;
        data.evidences(&letter_id)
    })
    .await;
    let evidences = match evidences {
        Ok(e) => e,
        Err(e) => return unavailable(lang, &e),
    };
    let mut body = format!(
        "<dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl><h2>{}</h2><ul class=\"files\">",
        t(lang, "sender"),
        esc(&letter.sender),
        t(lang, "received"),
        date(letter.received_at),
        t(lang, "mailbox"),
        esc(&letter.mailbox),
        t(lang, "documents")
    );
    for (i, d) in letter.documents.iter().enumerate() {
        body.push_str(&format!(
            "<li><a href=\"/mailbox/letter/{}/document/{i}\" download>{} {}</a> ({} {}) <br><span class=\"hash\">{}: <code>{}</code></span></li>",
            url(&letter.id),
            t(lang, "download"),
            esc(&d.name),
            d.size,
            t(lang, "size"),
            t(lang, "sha256"),
            esc(&d.sha256)
        ));
    }
    body.push_str(&format!(
        "</ul><h2>{}</h2><p>{}</p><ul class=\"files\">",
        t(lang, "evidences"),
        t(lang, "evidence_help")
    ));
    for (i, e) in evidences.iter().enumerate() {
        body.push_str(&format!(
            "<li><a href=\"/mailbox/letter/{}/evidence/{i}\" download>{} {}</a></li>",
            url(&letter.id),
            t(lang, "download"),
            esc(&e.event)
        ));
    }
    body.push_str(&format!(
        "</ul><p><a href=\"/mailbox/inbox?mailbox={}\">{}</a></p>",
        url(&letter.mailbox),
        t(lang, "back")
    ));
    page(lang, &letter.subject, Some(&session), &body)
}

fn download(bytes: Vec<u8>, name: &str, content_type: &'static str) -> Response {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    secure_headers(h);
    r
}

async fn document(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let lang = lang(&headers, None);
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let letter = match readable(&ui, &person, &id).await {
        Ok(Some((letter, _))) => letter,
        Ok(None) => return not_found(lang, Some(&session)),
        Err(e) => return unavailable(lang, &e),
    };
    let Some(info) = letter.documents.get(n).cloned() else {
        return not_found(lang, Some(&session));
    };
    let data = Arc::clone(&ui.data);
    match blocking(move || data.document(&letter.id, n)).await {
        Ok(Some(bytes)) => download(bytes, &info.name, "application/octet-stream"),
        Ok(None) => not_found(lang, Some(&session)),
        Err(e) => unavailable(lang, &e),
    }
}

async fn evidence(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let lang = lang(&headers, None);
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let letter = match readable(&ui, &person, &id).await {
        Ok(Some((letter, _))) => letter,
        Ok(None) => return not_found(lang, Some(&session)),
        Err(e) => return unavailable(lang, &e),
    };
    let data = Arc::clone(&ui.data);
    match blocking(move || data.evidences(&letter.id)).await {
        Ok(list) => match list.into_iter().nth(n) {
            Some(e) => download(
                e.xml.into_bytes(),
                &format!("{}-{n}.xml", e.event),
                "application/xml",
            ),
            None => not_found(lang, Some(&session)),
        },
        Err(e) => unavailable(lang, &e),
    }
}

async fn mandates(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    mandates_page(&ui, lang, &session, &person, None).await
}

async fn mandates_page(
    ui: &Arc<MailboxUi>,
    lang: Lang,
    session: &Session,
    person: &Person,
    error: Option<&str>,
) -> Response {
    let data = Arc::clone(&ui.data);
    let list = match blocking(move || data.mandates()).await {
        Ok(l) => l,
        Err(e) => return unavailable(lang, &e),
    };
    let now = now();
    let mut body = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let mine: Vec<&Mandate> = list.iter().filter(|m| m.person == person.login).collect();
    body.push_str("<h2>");
    body.push_str(t(lang, "mandates"));
    body.push_str("</h2><ul>");
    for m in &mine {
        body.push_str(&format!(
            "<li>{} — {} {}{}</li>",
            esc(&m.company),
            t(lang, "until"),
            date(m.valid_until),
            if m.in_force(now) {
                String::new()
            } else {
                format!(" ({})", t(lang, "revoked"))
            }
        ));
    }
    body.push_str("</ul>");
    for company in &person.manages {
        body.push_str(&format!(
            "<h2>{} {}</h2><ul>",
            t(lang, "company"),
            esc(company)
        ));
        for m in list.iter().filter(|m| &m.company == company) {
            let revoke = if m.revoked_at.is_none() {
                format!(
                    "<form method=\"post\" action=\"/mailbox/mandates/{}/revoke\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                    url(&m.id),
                    esc(&session.csrf),
                    t(lang, "revoke")
                )
            } else {
                format!("({})", t(lang, "revoked"))
            };
            body.push_str(&format!(
                "<li>{} — {} — {} {} {revoke}</li>",
                esc(&m.person),
                if m.message_types.is_empty() {
                    t(lang, "all").to_owned()
                } else {
                    esc(&m.message_types.join(", "))
                },
                t(lang, "until"),
                date(m.valid_until)
            ));
        }
        body.push_str(&format!(
            "</ul><form method=\"post\" action=\"/mailbox/mandates\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"company\" value=\"{}\"><p><label for=\"person-{0}\">{}</label><input id=\"person-{0}\" name=\"person\" required></p><p><label for=\"types-{0}\">{}</label><input id=\"types-{0}\" name=\"types\"></p><p><label for=\"until-{0}\">{}</label><input id=\"until-{0}\" name=\"until\" type=\"date\" required></p><p><button type=\"submit\">{}</button></p></form>",
            esc(&session.csrf),
            esc(company),
            t(lang, "person"),
            t(lang, "types"),
            t(lang, "until"),
            t(lang, "grant")
        ).replace("{0}", &url(company)));
    }
    page(lang, t(lang, "mandates"), Some(session), &body)
}

#[derive(Debug, Deserialize)]
struct GrantForm {
    csrf: String,
    company: String,
    person: String,
    types: String,
    until: String,
}

async fn grant_mandate(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<GrantForm>,
) -> Response {
    let lang = lang(&headers, None);
    let (id, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(lang);
    }
    if !person.manages.contains(&form.company) {
        return not_found(lang, Some(&session));
    }
    let now = now();
    let until = parse_date(&form.until).map(|d| d + 86_399);
    let data = Arc::clone(&ui.data);
    let grantee = form.person.trim().to_owned();
    let company = form.company.clone();
    let manager = person.clone();
    let types: Vec<String> = form
        .types
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let result = blocking(move || {
        let Some(until) = until.filter(|u| *u > now) else {
            return Ok(false);
        };
        if data.person(&grantee)?.is_none() {
            return Ok(false);
        }
        let mut random = [0u8; 16];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| "no randomness".to_owned())?;
        let id: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let mandate = Mandate {
            id: format!("mandate-{id}"),
            company: company.clone(),
            person: grantee.clone(),
            message_types: types,
            valid_from: now,
            valid_until: until,
            revoked_at: None,
            granted_by: manager.login.clone(),
        };
        data.put_mandate(&mandate)?;
        data.record(
            &manager.name,
            "mandate granted",
            true,
            &format!("{} to {grantee} for {company}", mandate.id),
        )?;
        Ok(true)
    })
    .await;
    match result {
        Ok(true) => redirect("/mailbox/mandates", None, None),
        Ok(false) => with_status(
            mandates_page(&ui, lang, &session, &person, Some(t(lang, "bad_mandate"))).await,
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => unavailable(lang, &e),
    }
}

async fn revoke_mandate(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Path(mandate_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = lang(&headers, None);
    let (id, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(lang);
    }
    let data = Arc::clone(&ui.data);
    let manager = person.clone();
    let result = blocking(move || {
        let Some(mut mandate) = data
            .mandates()?
            .into_iter()
            .find(|m| m.id == mandate_id && manager.manages.contains(&m.company))
        else {
            return Ok(false);
        };
        if mandate.revoked_at.is_none() {
            mandate.revoked_at = Some(now());
            data.put_mandate(&mandate)?;
            data.record(&manager.name, "mandate revoked", true, &mandate.id)?;
        }
        Ok(true)
    })
    .await;
    match result {
        Ok(true) => redirect("/mailbox/mandates", None, None),
        Ok(false) => not_found(lang, Some(&session)),
        Err(e) => unavailable(lang, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_go_both_ways() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(parse_date("2027-01-15"), Some(1_800_000_000 - 8 * 3600));
        assert_eq!(parse_date("2027-13-01"), None);
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn html_and_urls_are_escaped() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url("urn:uuid:1 2/3"), "urn%3Auuid%3A1%202%2F3");
    }
}
