//! Logging in and out: password (with a decoy hash for unknown logins) then TOTP, each step
//! under a new session id; the TLS client certificate as a strong login on its own; the
//! lockout after repeated failures.

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::html::{Cx, esc, page_with_error, redirect, unavailable, with_status};
use super::i18n::{lang, t};
use super::requests::{CsrfForm, LangQuery, bad_form, blocking, session_of};
use super::{ClientCertificates, MailboxUi, now};
use crate::credentials::{PasswordHash, TotpSecret};
use crate::port::{Action, DataError, Outcome};
use crate::sessions::{self, LoginMethod, Stage};

/// Which identity providers the login page offers.
#[derive(Clone, Copy, Debug)]
struct Providers {
    saml: bool,
    oidc: bool,
}

impl Providers {
    fn of(ui: &MailboxUi) -> Self {
        Providers {
            saml: ui.saml_login,
            oidc: ui.oidc_login,
        }
    }
}

fn login_page(cx: Cx<'_>, providers: Providers, csrf: &str, error: Option<&str>) -> Response {
    let lang = cx.lang;
    let mut saml = String::new();
    if providers.saml {
        saml.push_str(&format!(
            "<p><a id=\"saml-login\" href=\"/mailbox/login/saml\">{}</a></p>",
            t(lang, "saml_login")
        ));
    }
    if providers.oidc {
        saml.push_str(&format!(
            "<p><a id=\"oidc-login\" href=\"/mailbox/login/oidc\">{}</a></p>",
            t(lang, "oidc_login")
        ));
    }
    page_with_error(
        cx,
        t(lang, "login"),
        None,
        error,
        &format!(
            "<form method=\"post\" action=\"/mailbox/login\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><p><label for=\"login\">{}</label><input id=\"login\" name=\"login\" autocomplete=\"username\" required></p><p><label for=\"password\">{}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p><p><button type=\"submit\">{}</button></p></form><h2>{}</h2><form method=\"post\" action=\"/mailbox/login/certificate\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><p>{}</p><p><button type=\"submit\">{}</button></p></form>{saml}",
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

pub(super) async fn login_form(
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
    let mut r = login_page(ui.cx(lang), Providers::of(&ui), &csrf, None);
    if let Ok(v) = HeaderValue::from_str(&sessions::cookie(&id)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    csrf: String,
    login: String,
    password: String,
}

pub(super) async fn login(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let lang = lang(&headers, None);
    let Some((id, session)) = session_of(&ui, &headers) else {
        return bad_form(ui.cx(lang));
    };
    if session.stage != Stage::Anonymous || !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(ui.cx(lang));
    }
    let data = Arc::clone(&ui.data);
    let login = form.login.trim().to_owned();
    let ui2 = Arc::clone(&ui);
    let outcome = blocking(move || {
        let now = now();
        // One password-hash computation for every outcome, and one answer for an unknown
        // login, a wrong password and a locked account: nothing tells which logins exist.
        let refused = |detail| {
            data.record(Action {
                who: &login,
                what: "mailbox login",
                ok: false,
                detail,
            })
            .map(|()| LoginOutcome::Refused)
        };
        let Some(person) = data.person(&login)? else {
            let _ = ui2.decoy.verify(&form.password);
            return refused("unknown login");
        };
        if person.is_locked(now) {
            let _ = ui2.decoy.verify(&form.password);
            return refused("account locked");
        }
        let ok = PasswordHash::from_phc(&person.password)
            .and_then(|h| h.verify(&form.password))
            .map_err(|e| DataError::Corrupt(format!("a stored password hash: {e}")))?;
        if ok && person.provisional_expired(now) {
            return refused("provisional password expired");
        }
        if ok {
            return Ok(LoginOutcome::PasswordChecked(person.login));
        }
        // Counted in the store itself: parallel guesses each count.
        data.update_person(&login, "mailbox login", &mut |p| {
            p.record_failure(now);
            Outcome {
                ok: false,
                detail: "wrong password",
            }
        })?;
        Ok(LoginOutcome::Refused)
    })
    .await;
    match outcome {
        Ok(LoginOutcome::PasswordChecked(login)) => {
            match ui
                .sessions
                .advance(&id, Stage::PasswordChecked { login }, now())
            {
                Some(next) => redirect("/mailbox/totp", Some(sessions::cookie(&next))),
                None => bad_form(ui.cx(lang)),
            }
        }
        Ok(LoginOutcome::Refused) => with_status(
            login_page(
                ui.cx(lang),
                Providers::of(&ui),
                &session.csrf,
                Some(t(lang, "bad_login")),
            ),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => unavailable(ui.cx(lang), &e),
    }
}

/// Logs in with the client certificate of the TLS connection: a strong login on its own
/// (the handshake proved the key), so neither password nor code is asked.
pub(super) async fn certificate_login(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    certificates: Option<axum::Extension<ClientCertificates>>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = lang(&headers, None);
    let Some((id, session)) = session_of(&ui, &headers) else {
        return bad_form(ui.cx(lang));
    };
    if session.stage != Stage::Anonymous || !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(ui.cx(lang));
    }
    let data = Arc::clone(&ui.data);
    let chain = certificates.map(|axum::Extension(c)| c.0);
    let found = blocking(move || {
        let Some(chain) = chain else {
            data.record(Action {
                who: "unauthenticated",
                what: "mailbox login",
                ok: false,
                detail: "no client certificate",
            })?;
            return Ok(None);
        };
        match data.person_by_certificate(&chain)? {
            Some(person) => {
                let now = now();
                Ok(data
                    .update_person(&person.login, "mailbox login", &mut |p| {
                        p.record_success(now);
                        Outcome {
                            ok: true,
                            detail: "client certificate",
                        }
                    })?
                    .map(|(p, _)| p.login))
            }
            None => {
                data.record(Action {
                    who: "unauthenticated",
                    what: "mailbox login",
                    ok: false,
                    detail: "certificate not trusted or not registered",
                })?;
                Ok(None)
            }
        }
    })
    .await;
    match found {
        Ok(Some(login)) => match ui.sessions.authenticate(
            &id,
            Stage::LoggedIn { login },
            LoginMethod {
                how: "TLS client certificate".into(),
                level: ui.levels.certificate,
            },
            now(),
        ) {
            Some(next) => redirect("/mailbox/inbox", Some(sessions::cookie(&next))),
            None => bad_form(ui.cx(lang)),
        },
        Ok(None) => with_status(
            login_page(
                ui.cx(lang),
                Providers::of(&ui),
                &session.csrf,
                Some(t(lang, "bad_certificate")),
            ),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => unavailable(ui.cx(lang), &e),
    }
}

enum LoginOutcome {
    PasswordChecked(String),
    Refused,
}

fn totp_page(cx: Cx<'_>, csrf: &str, error: Option<&str>) -> Response {
    let lang = cx.lang;
    page_with_error(
        cx,
        t(lang, "verify"),
        None,
        error,
        &format!(
            "<p>{}</p><form method=\"post\" action=\"/mailbox/totp\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><p><label for=\"code\">{}</label><input id=\"code\" name=\"code\" inputmode=\"numeric\" pattern=\"[0-9]{{6}}\" autocomplete=\"one-time-code\" required></p><p><button type=\"submit\">{}</button></p></form>",
            t(lang, "totp_intro"),
            esc(csrf),
            t(lang, "totp"),
            t(lang, "verify")
        ),
    )
}

pub(super) async fn totp_form(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    match session_of(&ui, &headers) {
        Some((_, s)) if matches!(s.stage, Stage::PasswordChecked { .. }) => {
            totp_page(ui.cx(lang), &s.csrf, None)
        }
        _ => redirect("/mailbox/login", None),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct CodeForm {
    csrf: String,
    code: String,
}

pub(super) async fn totp(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<CodeForm>,
) -> Response {
    let lang = lang(&headers, None);
    let Some((id, session)) = session_of(&ui, &headers) else {
        return redirect("/mailbox/login", None);
    };
    let Stage::PasswordChecked { login } = session.stage.clone() else {
        return redirect("/mailbox/login", None);
    };
    if !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(ui.cx(lang));
    }
    let data = Arc::clone(&ui.data);
    let outcome = blocking(move || {
        let now = now();
        let at = UNIX_EPOCH + std::time::Duration::from_secs(now);
        // The lock, the code and its step are checked and changed in one atomic update: a
        // code is accepted once, and parallel guesses each count.
        let Some((person, outcome)) = data.update_person(&login, "mailbox login", &mut |p| {
            if p.is_locked(now) {
                return Outcome {
                    ok: false,
                    detail: "account locked",
                };
            }
            let step = TotpSecret::from_base32(&p.totp_secret)
                .and_then(|s| s.accept(&form.code, at, p.last_totp_step));
            match step {
                Some(step) => {
                    p.last_totp_step = Some(step);
                    p.record_success(now);
                    Outcome {
                        ok: true,
                        detail: "password and TOTP",
                    }
                }
                None => {
                    p.record_failure(now);
                    Outcome {
                        ok: false,
                        detail: "wrong TOTP code",
                    }
                }
            }
        })?
        else {
            return Ok(None);
        };
        Ok(Some(if outcome.ok {
            Ok(person.must_change_password)
        } else {
            Err(person.is_locked(now))
        }))
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
            let method = LoginMethod {
                how: "password and TOTP code".into(),
                level: ui.levels.password_totp,
            };
            match ui.sessions.authenticate(&id, stage, method, now()) {
                Some(next) => redirect(to, Some(sessions::cookie(&next))),
                None => redirect("/mailbox/login", None),
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
                    login_page(
                        ui.cx(lang),
                        Providers::of(&ui),
                        &csrf,
                        Some(t(lang, "locked")),
                    ),
                    StatusCode::TOO_MANY_REQUESTS,
                );
                if let Ok(v) = HeaderValue::from_str(&sessions::cookie(&id)) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
                r
            } else {
                with_status(
                    totp_page(ui.cx(lang), &session.csrf, Some(t(lang, "bad_code"))),
                    StatusCode::UNAUTHORIZED,
                )
            }
        }
        Ok(None) => redirect("/mailbox/login", None),
        Err(e) => unavailable(ui.cx(lang), &e),
    }
}

pub(super) async fn logout(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some((id, _)) = session_of(&ui, &headers)
        && ui.sessions.csrf_ok(&id, &form.csrf)
    {
        ui.sessions.end(&id);
        return redirect("/mailbox/logged-out", Some(sessions::cookie_removal()));
    }
    bad_form(ui.cx(lang(&headers, None)))
}
