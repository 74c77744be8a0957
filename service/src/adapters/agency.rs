//! A sender organisation's own pages (`/agency/`, seed 001 §8: the proofs "in a secure
//! mailbox of the sender"): its agents sign in through its identity provider (SAML 2.0 Web
//! Browser SSO or OpenID Connect: `/agency/login/{sender}` sends them to the protocol of the
//! first provider the sender is registered with), then list and download the evidences
//! Sealpost sealed for the organisation. Every sign-in, listing and download is traced under
//! the agent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::constant_time;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sealpost_xmldsig::wss_sign::format_date_time;
use serde::Deserialize;

use super::browser_login::{
    LoginDesk, cookie, esc, html, lock, random_hex, set_cookie, sha256, unavailable,
};

/// An agent's session on the organisation's pages.
const AGENCY_COOKIE: &str = "__Host-sealpost_agency";
/// How long an agent's session lasts without use.
const AGENCY_IDLE: Duration = Duration::from_secs(900);

/// An agent signed in to their organisation's pages.
#[derive(Clone, Debug)]
struct AgencySession {
    sender: String,
    /// How the audit log names the agent.
    identity: String,
    last_seen: SystemTime,
}

/// The agent a provider vouched for, as the protocol read them.
#[derive(Debug)]
pub(super) struct VouchedAgent<'a> {
    /// The provider (SAML entity id, OIDC issuer).
    pub provider: &'a str,
    /// The agent's identifier (NameID, `sub`).
    pub subject: &'a str,
    /// The organisation the provider says they act for.
    pub organisation: Option<String>,
    pub profiles: Vec<String>,
    pub level: u8,
}

/// The organisations' pages, their agents' sessions, and where each protocol starts a login.
pub struct AgencyPages {
    pub desk: LoginDesk,
    sessions: Mutex<HashMap<String, AgencySession>>,
    /// The providers whose sign-in starts at `/agency/login/saml/{sender}` (SAML entity ids
    /// with a single sign-on service) and `/agency/login/oidc/{sender}` (OIDC issuers).
    pub saml_providers: Vec<String>,
    pub oidc_providers: Vec<String>,
}

impl std::fmt::Debug for AgencyPages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgencyPages").finish_non_exhaustive()
    }
}

impl AgencyPages {
    pub fn new(desk: LoginDesk, saml_providers: Vec<String>, oidc_providers: Vec<String>) -> Self {
        AgencyPages {
            desk,
            sessions: Mutex::new(HashMap::new()),
            saml_providers,
            oidc_providers,
        }
    }
}

/// The routes: `/agency/login/{sender}`, `/agency/`, `/agency/evidence/{id}`, `/agency/logout`.
pub fn router(pages: Arc<AgencyPages>) -> Router {
    Router::new()
        .route("/agency/login/{sender}", get(sign_in_at))
        .route("/agency/", get(agency_home))
        .route("/agency/evidence/{id}", get(agency_evidence))
        .route("/agency/logout", post(agency_logout))
        .with_state(pages)
}

/// Sends the agent to the first of the sender's providers that offers sign-in, in its
/// protocol.
async fn sign_in_at(State(pages): State<Arc<AgencyPages>>, Path(sender): Path<String>) -> Response {
    let registration = pages.desk.active_sender(&sender).await;
    let registration = match registration {
        Ok(Some(r)) => r,
        Ok(None) => {
            return html(
                StatusCode::NOT_FOUND,
                "Not found",
                "<p>No such sender organisation.</p>",
                None,
                None,
            );
        }
        _ => return unavailable(),
    };
    let to = registration.identity_providers.iter().find_map(|p| {
        if pages.saml_providers.contains(p) {
            Some("saml")
        } else if pages.oidc_providers.contains(p) {
            Some("oidc")
        } else {
            None
        }
    });
    match to {
        Some(protocol) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            let location = format!("/agency/login/{protocol}/{}", esc_path(&sender));
            if let Ok(v) = HeaderValue::from_str(&location) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        None => html(
            StatusCode::NOT_FOUND,
            "Not found",
            "<p>This organisation has no identity provider for its agents.</p>",
            None,
            None,
        ),
    }
}

/// A path segment, percent-encoded (everything but unreserved characters).
fn esc_path(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl AgencyPages {
    /// Signs the agent a provider vouched for in to `sender`'s pages: the sender must still be
    /// active and registered with that provider (the login took a while), and the provider must
    /// say the agent acts for this organisation. Every outcome is traced.
    pub(super) async fn sign_in(&self, sender: &str, a: VouchedAgent<'_>) -> Response {
        const WHAT: &str = "AgencyLogin";
        let organisation = a.organisation.clone();
        let profiles = a.profiles.join(", ");
        let identity = format!(
            "agent {} of {sender} (PAGM {}; level {}; by {})",
            a.subject,
            if profiles.is_empty() {
                "none"
            } else {
                &profiles
            },
            a.level,
            a.provider
        );
        let provider = a.provider.to_owned();
        // The registry as it is now (the login took a while): still active, still with this
        // provider.
        let registered = self
            .desk
            .active_sender(sender)
            .await
            .map(|r| r.is_some_and(|r| r.identity_providers.contains(&provider)));
        match registered {
            Ok(true) => {}
            Ok(false) => {
                self.desk
                    .trace(
                        WHAT,
                        identity,
                        false,
                        format!("{sender} is no longer active with {provider}"),
                    )
                    .await;
                return html(
                    StatusCode::FORBIDDEN,
                    "Login refused",
                    "<p>This organisation does not accept this sign-in.</p>",
                    None,
                    None,
                );
            }
            Err(()) => return unavailable(),
        }
        if organisation.as_deref() != Some(sender) {
            self.desk
                .trace(
                    WHAT,
                    identity,
                    false,
                    match &organisation {
                        Some(o) => format!("the provider says the agent acts for {o:?}, not for {sender}"),
                        None => format!(
                            "the provider does not say (once) which organisation the agent acts for, so not {sender}"
                        ),
                    },
                )
                .await;
            return html(
                StatusCode::FORBIDDEN,
                "Login refused",
                "<p>Your identity provider does not say you act for this organisation.</p>",
                None,
                None,
            );
        }
        if !self
            .desk
            .trace(
                WHAT,
                identity.clone(),
                true,
                format!("signed in to the pages of {sender}"),
            )
            .await
        {
            return unavailable();
        }
        let token = format!("{}{}", random_hex(), random_hex());
        lock(&self.sessions).insert(
            token.clone(),
            AgencySession {
                sender: sender.to_owned(),
                identity,
                last_seen: self.desk.clock.now(),
            },
        );
        set_cookie(
            html(
                StatusCode::OK,
                "Signed in",
                "<p><a href=\"/agency/\">Your organisation's letters</a></p>",
                None,
                Some("/agency/"),
            ),
            &format!("{AGENCY_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"),
        )
    }
}

impl AgencyPages {
    /// The agent of the request's session, touched; `None` without one (or idle too long).
    fn agent(&self, headers: &HeaderMap) -> Option<(String, AgencySession)> {
        let token = cookie(headers, AGENCY_COOKIE)?;
        let now = self.desk.clock.now();
        let mut live = lock(&self.sessions);
        live.retain(|_, s| {
            now.duration_since(s.last_seen)
                .is_ok_and(|idle| idle < AGENCY_IDLE)
        });
        let session = live.get_mut(&token)?;
        session.last_seen = now;
        Some((token, session.clone()))
    }
}

fn to_agency_login() -> Response {
    html(
        StatusCode::UNAUTHORIZED,
        "Sign in",
        "<p>Sign in through your organisation: <code>/agency/login/&lt;your organisation&gt;</code>.</p>",
        None,
        None,
    )
}

/// The organisation's letters: every evidence Sealpost sealed for them, by message.
async fn agency_home(State(pages): State<Arc<AgencyPages>>, headers: HeaderMap) -> Response {
    let Some((token, agent)) = pages.agent(&headers) else {
        return to_agency_login();
    };
    let store = Arc::clone(&pages.desk.store);
    let sender = agent.sender.clone();
    let listed = tokio::task::spawn_blocking(move || {
        let ids = store.sender_mailbox(&sender)?;
        let mut evidences = Vec::new();
        for id in ids {
            if let Some(e) = store.evidence(&id)? {
                evidences.push(e);
            }
        }
        Ok::<_, crate::core::StoreError>(evidences)
    })
    .await;
    let Ok(Ok(mut evidences)) = listed else {
        return unavailable();
    };
    if !pages
        .desk
        .trace(
            "AgencyEvidenceList",
            agent.identity.clone(),
            true,
            format!(
                "the evidences of {} listed ({})",
                agent.sender,
                evidences.len()
            ),
        )
        .await
    {
        return unavailable();
    }
    evidences.sort_by(|a, b| (&b.message_id, &b.id).cmp(&(&a.message_id, &a.id)));
    let rows: String = evidences
        .iter()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/agency/evidence/{}\" download>{}</a></td></tr>",
                esc(&e.message_id),
                esc(&e.event),
                format_date_time(UNIX_EPOCH + Duration::from_secs(e.created_at)),
                esc(&e.id),
                esc(&e.id)
            )
        })
        .collect();
    let csrf = hex_digest(&token);
    html(
        StatusCode::OK,
        &format!("Letters of {}", agent.sender),
        &format!(
            "<p>Signed in as {}.</p><table id=\"evidences\"><caption>Every proof Sealpost sealed for your organisation</caption><thead><tr><th scope=\"col\">Message</th><th scope=\"col\">Event</th><th scope=\"col\">Sealed at (UTC)</th><th scope=\"col\">Evidence</th></tr></thead><tbody>{rows}</tbody></table><form method=\"post\" action=\"/agency/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><p><button type=\"submit\">Log out</button></p></form>",
            esc(&agent.identity)
        ),
        None,
        None,
    )
}

/// A form's token, tied to the session (its cookie's digest): a cross-site form cannot know it.
fn hex_digest(token: &str) -> String {
    sha256(&format!("csrf:{token}"))
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One evidence of the organisation's, as sealed.
async fn agency_evidence(
    State(pages): State<Arc<AgencyPages>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, agent)) = pages.agent(&headers) else {
        return to_agency_login();
    };
    let store = Arc::clone(&pages.desk.store);
    let wanted = id.clone();
    let found = tokio::task::spawn_blocking(move || store.evidence(&wanted)).await;
    let evidence = match found {
        Ok(Ok(Some(e))) if e.sender_id == agent.sender => e,
        Ok(Ok(_)) => {
            pages
                .desk
                .trace(
                    "AgencyEvidenceRead",
                    agent.identity.clone(),
                    false,
                    format!("evidence {id}: none of {}", agent.sender),
                )
                .await;
            return html(StatusCode::NOT_FOUND, "Not found", "", None, None);
        }
        _ => {
            return unavailable();
        }
    };
    if !pages
        .desk
        .trace(
            "AgencyEvidenceRead",
            agent.identity.clone(),
            true,
            format!("evidence {id} of message {}", evidence.message_id),
        )
        .await
    {
        return unavailable();
    }
    let mut r = evidence.into_current().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str("attachment; filename=\"evidence.xml\"") {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    csrf: String,
}

async fn agency_logout(
    State(pages): State<Arc<AgencyPages>>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some((token, _)) = pages.agent(&headers)
        && constant_time::verify_slices_are_equal(
            hex_digest(&token).as_bytes(),
            form.csrf.as_bytes(),
        )
        .is_ok()
    {
        lock(&pages.sessions).remove(&token);
    }
    set_cookie(
        html(
            StatusCode::OK,
            "Logged out",
            "<p>You are logged out.</p>",
            None,
            None,
        ),
        &format!("{AGENCY_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    )
}
