//! Browser logins through identity providers (SAML 2.0 Web Browser SSO, "portal to portal"):
//! a citizen signs in to the mailbox with the national identity provider, an agent of a sender
//! organisation signs in to the organisation's pages (`/agency/`) with the organisation's.
//!
//! Sealpost sends an AuthnRequest (HTTP-Redirect or HTTP-POST binding) and takes the answer at
//! `POST /saml/acs` (HTTP-POST binding). A response is accepted once, for the request it
//! answers, from the provider that request went to, in the browser that started it (a
//! `SameSite=None` cookie holds the binding: a response posted into another browser is
//! refused), and only with an assertion signed by that provider with a bearer confirmation
//! for this request at this address (`sealpost_xmldsig::saml::verify_response`). Every login,
//! refused or not, and every read of the organisation's evidences is traced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::constant_time;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sealpost_mailbox::sessions::LoginMethod;
use sealpost_mailbox::web::MailboxUi;
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};
use sealpost_xmldsig::saml::{IdentityProvider, SamlPolicy, VerifiedAssertion, verify_response};
use sealpost_xmldsig::wss_sign::format_date_time;
use sealpost_xmldsig::{Limits, parse};
use serde::Deserialize;

use super::browser_login::{
    LoginDesk, Vouched, cookie, esc, html, lock, random_hex, set_cookie, sha256,
};
use super::store::Backend;
use crate::config::IdentityProviderEntry;
use crate::core::{Clock, Service};

/// How long a login may take at the identity provider.
const LOGIN_WINDOW: Duration = Duration::from_secs(600);
/// The most logins under way at once (each holds a few hundred bytes until answered or
/// expired): beyond, a new one is refused rather than memory grown without bound.
const MAX_PENDING: usize = 10_000;
/// The largest response accepted (base64, as posted).
const MAX_RESPONSE_BYTES: usize = 512 * 1024;
/// The browser's half of a login under way.
const BINDING_COOKIE: &str = "__Host-sealpost_sso";
/// An agent's session on the organisation's pages.
const AGENCY_COOKIE: &str = "__Host-sealpost_agency";
/// How long an agent's session lasts without use.
const AGENCY_IDLE: Duration = Duration::from_secs(900);

/// Who a login is for.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Purpose {
    /// A citizen, into the mailbox.
    Mailbox,
    /// An agent of this sender organisation, into its pages.
    Agency { sender: String },
}

/// A login under way: sent to `provider`, for `purpose`, in the browser holding the binding.
#[derive(Clone, Debug)]
struct Pending {
    purpose: Purpose,
    provider: String,
    binding_sha256: [u8; 32],
    started: SystemTime,
}

/// An agent signed in to their organisation's pages.
#[derive(Clone, Debug)]
struct AgencySession {
    sender: String,
    /// How the audit log names the agent.
    identity: String,
    last_seen: SystemTime,
}

/// The browser logins and the organisations' pages.
pub struct SsoLogins {
    pub service: Arc<Service>,
    pub store: Arc<dyn Backend>,
    pub mailbox: Arc<MailboxUi>,
    pub clock: Arc<dyn Clock>,
    /// The providers with a single sign-on service, and their keys.
    pub providers: Vec<(IdentityProviderEntry, IdentityProvider)>,
    pub policy: SamlPolicy,
    /// Our entity id (the requests' Issuer, the assertions' audience).
    pub entity_id: String,
    /// `saml.acs_url`.
    pub acs_url: String,
    pending: Mutex<HashMap<String, Pending>>,
    agency_sessions: Mutex<HashMap<String, AgencySession>>,
}

impl std::fmt::Debug for SsoLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoLogins")
            .field("acs_url", &self.acs_url)
            .finish_non_exhaustive()
    }
}

/// A query-string value, percent-encoded (everything but unreserved characters).
fn query_value(text: &str) -> String {
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

/// The routes: `/mailbox/login/saml`, `/agency/login/{sender}`, `/saml/acs`, `/agency/`.
pub fn router(logins: Arc<SsoLogins>) -> Router {
    Router::new()
        .route("/mailbox/login/saml", get(mailbox_login))
        .route("/agency/login/{sender}", get(agency_login))
        .route("/saml/acs", post(acs))
        .route("/agency/", get(agency_home))
        .route("/agency/evidence/{id}", get(agency_evidence))
        .route("/agency/logout", post(agency_logout))
        .with_state(logins)
}

impl SsoLogins {
    pub fn new(
        service: Arc<Service>,
        store: Arc<dyn Backend>,
        mailbox: Arc<MailboxUi>,
        clock: Arc<dyn Clock>,
        providers: Vec<(IdentityProviderEntry, IdentityProvider)>,
        policy: SamlPolicy,
        acs_url: String,
    ) -> Self {
        SsoLogins {
            entity_id: policy.audience.clone(),
            service,
            store,
            mailbox,
            clock,
            providers: providers
                .into_iter()
                .filter(|(entry, _)| entry.sso.is_some())
                .collect(),
            policy,
            acs_url,
            pending: Mutex::new(HashMap::new()),
            agency_sessions: Mutex::new(HashMap::new()),
        }
    }

    /// What the shared login steps need.
    fn desk(&self) -> LoginDesk {
        LoginDesk {
            service: Arc::clone(&self.service),
            store: Arc::clone(&self.store),
            mailbox: Arc::clone(&self.mailbox),
            clock: Arc::clone(&self.clock),
        }
    }

    /// Writes an audit entry for a step of a login or an agency page.
    async fn trace(
        self: &Arc<Self>,
        operation: &'static str,
        identity: String,
        ok: bool,
        detail: String,
    ) -> bool {
        self.desk().trace(operation, identity, ok, detail).await
    }

    /// Sends the browser to `provider` with a new AuthnRequest for `purpose`.
    fn start(&self, purpose: Purpose, provider: &IdentityProviderEntry) -> Response {
        let Some(sso) = &provider.sso else {
            return html(StatusCode::NOT_FOUND, "Not found", "", None, None);
        };
        let now = self.clock.now();
        let id = format!("_{}", random_hex());
        let binding = random_hex();
        {
            let mut pending = lock(&self.pending);
            pending.retain(|_, p| {
                now.duration_since(p.started)
                    .is_ok_and(|age| age < LOGIN_WINDOW)
            });
            if pending.len() >= MAX_PENDING {
                return html(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again in a moment",
                    "<p>Too many logins are under way.</p>",
                    None,
                    None,
                );
            }
            pending.insert(
                id.clone(),
                Pending {
                    purpose,
                    provider: provider.entity_id.clone(),
                    binding_sha256: sha256(&binding),
                    started: now,
                },
            );
        }
        let request = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" Destination=\"{}\" AssertionConsumerServiceURL=\"{}\" ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\"><saml:Issuer>{}</saml:Issuer><samlp:NameIDPolicy AllowCreate=\"true\"/></samlp:AuthnRequest>",
            format_date_time(now),
            esc(&sso.url),
            esc(&self.acs_url),
            esc(&self.entity_id)
        );
        let binding_cookie = format!(
            "{BINDING_COOKIE}={binding}; Path=/; Secure; HttpOnly; SameSite=None; Max-Age={}",
            LOGIN_WINDOW.as_secs()
        );
        let response = if sso.post {
            // HTTP-POST binding: a form the person sends on (no script runs on our pages).
            let origin = sso.url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
            html(
                StatusCode::OK,
                "Log in",
                &format!(
                    "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"SAMLRequest\" value=\"{}\"><input type=\"hidden\" name=\"RelayState\" value=\"{id}\"><p><button type=\"submit\">Continue to your identity provider</button></p></form>",
                    esc(&sso.url),
                    base64_encode(request.as_bytes())
                ),
                Some(&origin),
                None,
            )
        } else {
            // HTTP-Redirect binding: DEFLATE, base64, URL-encoded.
            let deflated = miniz_oxide::deflate::compress_to_vec(request.as_bytes(), 6);
            let location = format!(
                "{}{}SAMLRequest={}&RelayState={}",
                sso.url,
                if sso.url.contains('?') { '&' } else { '?' },
                query_value(&base64_encode(&deflated)),
                query_value(&id)
            );
            let mut r = StatusCode::SEE_OTHER.into_response();
            match HeaderValue::from_str(&location) {
                Ok(v) => {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                Err(_) => return html(StatusCode::INTERNAL_SERVER_ERROR, "Error", "", None, None),
            }
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        };
        set_cookie(response, &binding_cookie)
    }
}

async fn mailbox_login(State(logins): State<Arc<SsoLogins>>) -> Response {
    match logins.providers.iter().find(|(p, _)| p.citizens) {
        Some((provider, _)) => {
            let provider = provider.clone();
            logins.start(Purpose::Mailbox, &provider)
        }
        None => html(StatusCode::NOT_FOUND, "Not found", "", None, None),
    }
}

async fn agency_login(
    State(logins): State<Arc<SsoLogins>>,
    Path(sender): Path<String>,
) -> Response {
    let store = Arc::clone(&logins.store);
    let wanted = sender.clone();
    let registration = tokio::task::spawn_blocking(move || {
        store
            .senders()
            .map(|all| all.into_iter().find(|s| s.id == wanted && s.active))
    })
    .await;
    let Ok(Ok(Some(registration))) = registration else {
        return html(
            StatusCode::NOT_FOUND,
            "Not found",
            "<p>No such sender organisation.</p>",
            None,
            None,
        );
    };
    let provider = logins
        .providers
        .iter()
        .find(|(p, _)| registration.identity_providers.contains(&p.entity_id))
        .map(|(p, _)| p.clone());
    match provider {
        Some(provider) => logins.start(Purpose::Agency { sender }, &provider),
        None => html(
            StatusCode::NOT_FOUND,
            "Not found",
            "<p>This organisation has no identity provider for its agents.</p>",
            None,
            None,
        ),
    }
}

#[derive(Debug, Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState", default)]
    _relay_state: Option<String>,
}

/// A login refused: traced, and a page that says so without saying why (the log does).
async fn refuse(logins: &Arc<SsoLogins>, what: &'static str, detail: String) -> Response {
    logins.desk().refuse(what, detail).await
}

async fn acs(
    State(logins): State<Arc<SsoLogins>>,
    headers: HeaderMap,
    Form(form): Form<AcsForm>,
) -> Response {
    const WHAT: &str = "SamlLogin";
    if form.saml_response.len() > MAX_RESPONSE_BYTES {
        return refuse(&logins, WHAT, "the response is too large".into()).await;
    }
    let xml = match base64_decode(&form.saml_response).map(String::from_utf8) {
        Ok(Ok(xml)) => xml,
        _ => return refuse(&logins, WHAT, "the response is not base64 UTF-8".into()).await,
    };
    let limits = Limits {
        max_bytes: MAX_RESPONSE_BYTES,
        ..Limits::default()
    };
    let doc = match parse(&xml, &limits) {
        Ok(doc) => doc,
        Err(e) => return refuse(&logins, WHAT, format!("the response: {e}")).await,
    };
    // The request it answers, consumed now: a response is tried once.
    let Some(request_id) = doc.root_element().attribute("InResponseTo") else {
        return refuse(&logins, WHAT, "the response answers no request".into()).await;
    };
    let Some(pending) = lock(&logins.pending).remove(request_id) else {
        return refuse(
            &logins,
            WHAT,
            format!("the response answers {request_id:?}, which is not a login under way (unknown, answered already or expired)"),
        )
        .await;
    };
    let now = logins.clock.now();
    let in_this_browser = cookie(&headers, BINDING_COOKIE).is_some_and(|b| {
        constant_time::verify_slices_are_equal(&sha256(&b), &pending.binding_sha256).is_ok()
    });
    if !in_this_browser {
        return refuse(
            &logins,
            WHAT,
            "the response was posted by another browser than the one that started the login".into(),
        )
        .await;
    }
    if !now
        .duration_since(pending.started)
        .is_ok_and(|age| age < LOGIN_WINDOW)
    {
        return refuse(&logins, WHAT, "the login took too long".into()).await;
    }
    let Some((entry, provider)) = logins
        .providers
        .iter()
        .find(|(p, _)| p.entity_id == pending.provider)
    else {
        return refuse(&logins, WHAT, "the provider is no longer configured".into()).await;
    };
    let assertion = match verify_response(
        &doc,
        now,
        &logins.policy,
        provider,
        &logins.acs_url,
        request_id,
    ) {
        Ok(a) => a,
        Err(e) => return refuse(&logins, WHAT, format!("{}: {e}", entry.entity_id)).await,
    };
    let removal = format!("{BINDING_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=None; Max-Age=0");
    let response = match pending.purpose {
        Purpose::Mailbox => citizen_login(&logins, entry, &assertion).await,
        Purpose::Agency { sender } => agent_login(&logins, entry, &assertion, &sender).await,
    };
    set_cookie(response, &removal)
}

/// The authentication level an assertion states (0 when it does not).
fn level(entry: &IdentityProviderEntry, a: &VerifiedAssertion) -> u8 {
    a.values(&entry.level_attribute)
        .first()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0)
}

/// Logs the citizen the assertion names into the mailbox: the person whose national register
/// number it is.
async fn citizen_login(
    logins: &Arc<SsoLogins>,
    entry: &IdentityProviderEntry,
    a: &VerifiedAssertion,
) -> Response {
    let digits = match &entry.national_number_attribute {
        Some(name) => a.values(name).first().cloned().unwrap_or_default(),
        None => a.subject.clone(),
    };
    let method = LoginMethod {
        how: format!(
            "SAML 2.0 Web SSO by {}{}",
            entry.entity_id,
            a.authentication_context
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default()
        ),
        level: level(entry, a),
    };
    logins
        .desk()
        .citizen_login(Vouched {
            what: "SamlLogin",
            provider: &entry.entity_id,
            digits: &digits,
            method,
            via: "national identity provider (SAML 2.0 Web SSO)",
        })
        .await
}

/// Signs the agent the assertion names in to `sender`'s pages: the provider must be one the
/// sender is registered with (it is: the login was sent to it) and the assertion must say the
/// agent acts for this organisation.
async fn agent_login(
    logins: &Arc<SsoLogins>,
    entry: &IdentityProviderEntry,
    a: &VerifiedAssertion,
    sender: &str,
) -> Response {
    const WHAT: &str = "AgencyLogin";
    let organisation = a.values(&entry.organisation_attribute).first().cloned();
    let profiles = a.values(&entry.pagm_attribute).join(", ");
    let identity = format!(
        "agent {} of {sender} (PAGM {}; level {}; by {})",
        a.subject,
        if profiles.is_empty() {
            "none"
        } else {
            &profiles
        },
        level(entry, a),
        entry.entity_id
    );
    // The registry as it is now (the login took a while): still active, still with this
    // provider.
    let store = Arc::clone(&logins.store);
    let wanted = sender.to_owned();
    let registered = tokio::task::spawn_blocking(move || store.senders())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|all| {
            all.iter().any(|s| {
                s.id == wanted && s.active && s.identity_providers.contains(&entry.entity_id)
            })
        });
    match registered {
        Some(true) => {}
        Some(false) => {
            logins
                .trace(
                    WHAT,
                    identity,
                    false,
                    format!("{sender} is no longer active with {}", entry.entity_id),
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
        None => {
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "<p>The service is unavailable; nothing was done. Try again later.</p>",
                None,
                None,
            );
        }
    }
    if organisation.as_deref() != Some(sender) {
        logins
            .trace(
                WHAT,
                identity,
                false,
                format!("the assertion says the agent acts for {organisation:?}, not for {sender}"),
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
    if !logins
        .trace(
            WHAT,
            identity.clone(),
            true,
            format!("signed in to the pages of {sender}"),
        )
        .await
    {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "<p>The service is unavailable; nothing was done. Try again later.</p>",
            None,
            None,
        );
    }
    let token = format!("{}{}", random_hex(), random_hex());
    lock(&logins.agency_sessions).insert(
        token.clone(),
        AgencySession {
            sender: sender.to_owned(),
            identity,
            last_seen: logins.clock.now(),
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

impl SsoLogins {
    /// The agent of the request's session, touched; `None` without one (or idle too long).
    fn agent(&self, headers: &HeaderMap) -> Option<(String, AgencySession)> {
        let token = cookie(headers, AGENCY_COOKIE)?;
        let now = self.clock.now();
        let mut live = lock(&self.agency_sessions);
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
async fn agency_home(State(logins): State<Arc<SsoLogins>>, headers: HeaderMap) -> Response {
    let Some((token, agent)) = logins.agent(&headers) else {
        return to_agency_login();
    };
    let store = Arc::clone(&logins.store);
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
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "<p>The service is unavailable. Try again later.</p>",
            None,
            None,
        );
    };
    if !logins
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
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "<p>The service is unavailable. Try again later.</p>",
            None,
            None,
        );
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
    State(logins): State<Arc<SsoLogins>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let Some((_, agent)) = logins.agent(&headers) else {
        return to_agency_login();
    };
    let store = Arc::clone(&logins.store);
    let wanted = id.clone();
    let found = tokio::task::spawn_blocking(move || store.evidence(&wanted)).await;
    let evidence = match found {
        Ok(Ok(Some(e))) if e.sender_id == agent.sender => e,
        Ok(Ok(_)) => {
            logins
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
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "<p>The service is unavailable. Try again later.</p>",
                None,
                None,
            );
        }
    };
    if !logins
        .trace(
            "AgencyEvidenceRead",
            agent.identity.clone(),
            true,
            format!("evidence {id} of message {}", evidence.message_id),
        )
        .await
    {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "<p>The service is unavailable. Try again later.</p>",
            None,
            None,
        );
    }
    let mut r = evidence.xml.into_response();
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
    State(logins): State<Arc<SsoLogins>>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if let Some((token, _)) = logins.agent(&headers)
        && constant_time::verify_slices_are_equal(
            hex_digest(&token).as_bytes(),
            form.csrf.as_bytes(),
        )
        .is_ok()
    {
        lock(&logins.agency_sessions).remove(&token);
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
