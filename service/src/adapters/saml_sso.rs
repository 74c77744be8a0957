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
use std::time::{Duration, SystemTime};

use aws_lc_rs::constant_time;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sealpost_mailbox::sessions::LoginMethod;
use sealpost_xmldsig::dsig::{base64_decode, base64_encode};
use sealpost_xmldsig::saml::{IdentityProvider, SamlPolicy, VerifiedAssertion, verify_response};
use sealpost_xmldsig::wss_sign::format_date_time;
use sealpost_xmldsig::{Limits, parse};
use serde::Deserialize;

use super::agency::{AgencyPages, VouchedAgent};
use super::browser_login::{
    LoginDesk, Vouched, cookie, esc, html, lock, random_hex, set_cookie, sha256,
};
use crate::config::IdentityProviderEntry;

/// How long a login may take at the identity provider.
const LOGIN_WINDOW: Duration = Duration::from_secs(600);
/// The most logins under way at once (each holds a few hundred bytes until answered or
/// expired): beyond, a new one is refused rather than memory grown without bound.
const MAX_PENDING: usize = 10_000;
/// The largest response accepted (base64, as posted).
const MAX_RESPONSE_BYTES: usize = 512 * 1024;
/// The browser's half of a login under way.
const BINDING_COOKIE: &str = "__Host-sealpost_sso";

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

/// The browser logins and the organisations' pages.
pub struct SsoLogins {
    /// The audit trail, the people, the mailbox's sessions and the clock.
    pub desk: LoginDesk,
    /// The providers with a single sign-on service, and their keys.
    pub providers: Vec<(IdentityProviderEntry, IdentityProvider)>,
    pub policy: SamlPolicy,
    /// Our entity id (the requests' Issuer, the assertions' audience).
    pub entity_id: String,
    /// `saml.acs_url`.
    pub acs_url: String,
    pending: Mutex<HashMap<String, Pending>>,
    /// The organisations' pages an agent's sign-in opens.
    pub agency: Arc<AgencyPages>,
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

/// The routes: `/mailbox/login/saml`, `/agency/login/saml/{sender}`, `/saml/acs`.
pub fn router(logins: Arc<SsoLogins>) -> Router {
    Router::new()
        .route("/mailbox/login/saml", get(mailbox_login))
        .route("/agency/login/saml/{sender}", get(agency_login))
        .route("/saml/acs", post(acs))
        .with_state(logins)
}

impl SsoLogins {
    pub fn new(
        desk: LoginDesk,
        providers: Vec<(IdentityProviderEntry, IdentityProvider)>,
        policy: SamlPolicy,
        acs_url: String,
        agency: Arc<AgencyPages>,
    ) -> Self {
        SsoLogins {
            entity_id: policy.audience.clone(),
            desk,
            providers: providers
                .into_iter()
                .filter(|(entry, _)| entry.sso.is_some())
                .collect(),
            policy,
            acs_url,
            pending: Mutex::new(HashMap::new()),
            agency,
        }
    }

    /// Sends the browser to `provider` with a new AuthnRequest for `purpose`.
    fn start(&self, purpose: Purpose, provider: &IdentityProviderEntry) -> Response {
        let Some(sso) = &provider.sso else {
            return html(StatusCode::NOT_FOUND, "Not found", "", None, None);
        };
        let now = self.desk.clock.now();
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
    let registration = logins.desk.active_sender(&sender).await;
    let Ok(Some(registration)) = registration else {
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
    logins.desk.refuse(what, detail).await
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
    let now = logins.desk.clock.now();
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
        Purpose::Agency { sender } => {
            logins
                .agency
                .sign_in(
                    &sender,
                    VouchedAgent {
                        provider: &entry.entity_id,
                        subject: &assertion.subject,
                        organisation: assertion
                            .single(&entry.organisation_attribute)
                            .map(str::to_owned),
                        profiles: assertion.values(&entry.pagm_attribute).to_vec(),
                        level: level(entry, &assertion),
                    },
                )
                .await
        }
    };
    set_cookie(response, &removal)
}

/// The authentication level an assertion states (0 when it does not, or states several).
fn level(entry: &IdentityProviderEntry, a: &VerifiedAssertion) -> u8 {
    a.single(&entry.level_attribute)
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
        // Absent or stated twice: no number, so no login.
        Some(name) => a.single(name).unwrap_or_default().to_owned(),
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
        .desk
        .citizen_login(Vouched {
            what: "SamlLogin",
            provider: &entry.entity_id,
            digits: &digits,
            method,
            via: "national identity provider (SAML 2.0 Web SSO)",
        })
        .await
}
