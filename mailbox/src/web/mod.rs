//! The mailbox web UI at `/mailbox/`: server-rendered HTML that works without JavaScript, in
//! French, Dutch and English, accessible (WCAG 2.1 AA: labels, contrast, focus, landmarks),
//! with a layout that fits a phone, and the operator's identity, help and notices on every
//! page; times in the configured time zone.
//!
//! Login: password (Argon2id) then TOTP, each step under a new session id; repeated failures
//! lock the account for a growing delay; a first login changes the password. Every form
//! carries the session's CSRF token. A letter of a mailbox the person may not read answers
//! exactly as a letter that does not exist.

mod delivery;
mod evidence;
mod help;
mod html;
pub(crate) use html::date as utc_date;
mod i18n;
mod inbox;
mod letters;
mod login;
mod mandates;
mod password;
mod requests;
mod site;

pub use site::Site;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::credentials::PasswordHash;
use crate::port::MailboxData;
use crate::sessions::{Sessions, Stage};

use delivery::{choose_delivery, delivery};
use help::{help, logged_out};
use html::{Cx, Me, not_found, redirect};
use i18n::{Lang, lang, lang_cookie};
use inbox::inbox;
use letters::{document, evidence, letter};
use login::{certificate_login, login, login_form, logout, totp, totp_form};
use mandates::{grant_mandate, mandates, revoke_mandate};
use password::{change_password, password_form};
use requests::{logged_in, session_of};

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
    /// The operator, its notices and the time zone, on every page.
    pub site: Site,
    /// A hash verified when the login is unknown, so that the answer takes as long.
    decoy: PasswordHash,
    /// The authentication level each of the mailbox's own login methods counts as.
    pub levels: LoginLevels,
    /// The identity provider citizens may log in with (SAML 2.0 Web SSO at
    /// `/mailbox/login/saml`), if one is configured: the login page offers it.
    pub saml_login: bool,
    /// The OpenID Provider citizens may log in with (OpenID Connect at `/mailbox/login/oidc`),
    /// if one is configured: the login page offers it.
    pub oidc_login: bool,
}

/// The authentication level the mailbox's own logins count as (an identity provider states
/// its own): password and TOTP code, and a client certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLevels {
    pub password_totp: u8,
    pub certificate: u8,
}

impl Default for LoginLevels {
    fn default() -> Self {
        LoginLevels {
            password_totp: 2,
            certificate: 3,
        }
    }
}

impl std::fmt::Debug for MailboxUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxUi").finish_non_exhaustive()
    }
}

impl MailboxUi {
    fn cx(&self, lang: Lang) -> Cx<'_> {
        Cx {
            lang,
            site: &self.site,
        }
    }
}

impl MailboxUi {
    pub fn new(
        data: Arc<dyn MailboxData>,
        idle_timeout_s: u64,
        site: Site,
    ) -> Result<MailboxUi, String> {
        Ok(MailboxUi {
            data,
            sessions: Sessions::new(idle_timeout_s),
            site,
            decoy: PasswordHash::new("decoy password, never used").map_err(|e| e.to_string())?,
            levels: LoginLevels::default(),
            saml_login: false,
            oidc_login: false,
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
        .route("/logged-out", get(logged_out))
        .route("/help", get(help))
        .route("/inbox", get(inbox))
        .route("/letter/{id}", get(letter))
        .route("/letter/{id}/document/{n}", get(document))
        .route("/letter/{id}/evidence/{n}", get(evidence))
        .route("/mandates", get(mandates).post(grant_mandate))
        .route("/delivery", get(delivery).post(choose_delivery))
        .route("/mandates/{id}/revoke", post(revoke_mandate))
        .fallback(mailbox_not_found)
        .layer(middleware::from_fn(remember_lang))
        .with_state(ui)
}

/// A language asked for in the query (`?lang=nl`, the switcher's links) is remembered in the
/// `lang` cookie, before and after login alike. The cookie only names a language: it is not
/// part of the session, and forms (their CSRF tokens) do not depend on it.
pub async fn remember_lang(request: Request, next: Next) -> Response {
    let asked = request.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .and_then(|(_, v)| Lang::from_code(v))
    });
    let mut response = next.run(request).await;
    if let Some(l) = asked
        && let Ok(v) = HeaderValue::from_str(&lang_cookie(l))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

async fn mailbox_not_found(State(ui): State<Arc<MailboxUi>>, headers: HeaderMap) -> Response {
    let cx = ui.cx(lang(&headers, None));
    match logged_in(&ui, &headers).await {
        Ok((_, session, person)) => not_found(
            cx,
            Some(Me {
                session: &session,
                person: &person,
            }),
        ),
        Err(_) => not_found(cx, None),
    }
}

/// The page of an address that is not the service's (outside `/mailbox/` too), for a browser:
/// a 404 page in the language asked for, with a way into the mailbox.
pub fn not_found_page(ui: &MailboxUi, headers: &HeaderMap, query: Option<&str>) -> Response {
    let asked = query.and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "lang")
            .map(|(_, v)| v)
    });
    not_found(ui.cx(lang(headers, asked)), None)
}

/// `/mailbox/`, the documented address: the inbox once logged in, else the login page.
pub async fn entry(ui: Arc<MailboxUi>, headers: HeaderMap) -> Response {
    home(State(ui), headers).await
}

async fn style() -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../style.css"),
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
            redirect("/mailbox/inbox", None)
        }
        _ => redirect("/mailbox/login", None),
    }
}
