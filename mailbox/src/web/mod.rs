//! The mailbox web UI at `/mailbox/`: server-rendered HTML that works without JavaScript, in
//! French and English, with labelled fields and a layout that fits a phone.
//!
//! Login: password (Argon2id) then TOTP, each step under a new session id; repeated failures
//! lock the account for a growing delay; a first login changes the password. Every form
//! carries the session's CSRF token. A letter of a mailbox the person may not read answers
//! exactly as a letter that does not exist.

mod delivery;
mod html;
pub(crate) use html::date as utc_date;
mod i18n;
mod inbox;
mod letters;
mod login;
mod mandates;
mod password;
mod requests;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::credentials::PasswordHash;
use crate::port::MailboxData;
use crate::sessions::{Sessions, Stage};

use delivery::{choose_delivery, delivery};
use html::redirect;
use inbox::inbox;
use letters::{document, evidence, letter};
use login::{certificate_login, login, login_form, logout, totp, totp_form};
use mandates::{grant_mandate, mandates, revoke_mandate};
use password::{change_password, password_form};
use requests::session_of;

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
        .route("/delivery", get(delivery).post(choose_delivery))
        .route("/mandates/{id}/revoke", post(revoke_mandate))
        .with_state(ui)
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
            redirect("/mailbox/inbox", None, None)
        }
        _ => redirect("/mailbox/login", None, None),
    }
}
