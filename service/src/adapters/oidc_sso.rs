//! Browser logins through an OpenID Provider (OpenID Connect Core 1.0, authorization code
//! flow): a citizen signs in to the mailbox with the provider of `[[oidc.providers]]` that has
//! `citizens = true`.
//!
//! `GET /mailbox/login/oidc` sends the browser to the provider's authorization endpoint with a
//! random `state` and `nonce` and a PKCE (S256) challenge; the login under way is kept, at most
//! [`LOGIN_WINDOW`] and [`MAX_PENDING`] of them, bound to the browser by a cookie of its own
//! (`SameSite=Lax`: the way back is a top-level GET). `GET /oidc/callback?code=&state=` takes
//! the login under way out of the table (an answer is tried once), checks the cookie in
//! constant time, exchanges the code at the token endpoint (client_secret_basic, with the PKCE
//! verifier) and has `openidconnect` verify the ID token: signed by a key of the provider's
//! JWKS with an asymmetric algorithm (never `none`, never an HMAC), `iss`, `aud`, `exp`, `iat`
//! and `nonce`. The national register number of `national_number_claim` then logs the person
//! whose number it is in, as a SAML login does (`browser_login`). Every refusal is traced.
//!
//! The provider's metadata and keys are discovered at the first login (and again after
//! [`REDISCOVER_AFTER`]) with a bounded time; a provider that cannot be reached makes the
//! login answer "unavailable". Its HTTP goes through hyper and rustls, trusting the CAs of its
//! `ca` only, and plain HTTP only on the loopback.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::constant_time;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AsyncHttpClient, AuthType, AuthenticationContextClass, AuthorizationCode,
    Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdTokenClaims, IdTokenFields,
    IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use sealpost_mailbox::sessions::LoginMethod;
use serde::{Deserialize, Serialize};

use super::agency::{AgencyPages, VouchedAgent};
use super::browser_login::{
    LoginDesk, Vouched, cookie, html, lock, random_bytes, random_hex, set_cookie, sha256,
    unavailable,
};
use crate::config::OidcProviderEntry;

/// How long a login may take at the provider.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(600);
/// The most logins under way at once: beyond, a new one is refused rather than memory grown
/// without bound.
pub const MAX_PENDING: usize = 10_000;
/// The browser's half of a login under way.
const BINDING_COOKIE: &str = "__Host-sealpost_oidc";
/// One exchange with the provider (connection, request, answer).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Discovery (metadata, then keys).
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// The provider's metadata and keys are read again after this long.
pub const REDISCOVER_AFTER: Duration = Duration::from_secs(3600);
/// After a failed discovery, logins are answered "unavailable" this long before it is tried
/// again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);
/// The largest answer read from the provider (metadata, keys, tokens).
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// The longest `code` or `state` accepted in a callback.
const MAX_PARAMETER: usize = 4096;
/// How far in the future an ID token's `iat` may lie (clocks differ a little).
const IAT_SKEW_S: i64 = 60;
/// The ID token's signature algorithms accepted: asymmetric only (no `none`; no HMAC, whose
/// key would be the client secret, or worse, a public key taken as one).
const ALGORITHMS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The ID token's claims besides the standard ones (the national register number may be one).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}
impl AdditionalClaims for OtherClaims {}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why an exchange with a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}: not an https:// address (http:// only on the loopback)")]
    Address(String),
    #[error("{0}: no CA configured for https://")]
    NoCa(String),
    #[error("{0}: no answer within {1:?}")]
    Timeout(String, Duration),
    #[error("{0}: {1}")]
    Transport(String, String),
    #[error("{0}: the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge(String),
}

/// The HTTP client `openidconnect` talks to the provider with: one connection per exchange,
/// TLS by rustls with the provider's CAs only, no redirects followed, answers bounded.
#[derive(Clone)]
pub struct ProviderHttp {
    tls: Option<Arc<rustls::ClientConfig>>,
    timeout: Duration,
}

impl std::fmt::Debug for ProviderHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderHttp")
            .field("tls", &self.tls.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn is_loopback(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1")
}

impl ProviderHttp {
    /// With `ca` (PEM, one or more CAs), https:// is possible; without, only the loopback.
    pub fn new(ca: Option<&Path>, timeout: Duration) -> anyhow::Result<Self> {
        let tls = match ca {
            Some(path) => {
                let mut roots = rustls::RootCertStore::empty();
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                if certs.is_empty() {
                    anyhow::bail!("{}: no certificate", path.display());
                }
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                }
                let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::aws_lc_rs::default_provider(),
                ))
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Some(Arc::new(config))
            }
            None => None,
        };
        Ok(ProviderHttp { tls, timeout })
    }

    async fn exchange(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.uri().to_string();
        tokio::time::timeout(self.timeout, self.exchange_now(request))
            .await
            .map_err(|_| HttpError::Timeout(url, self.timeout))?
    }

    async fn exchange_now(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let uri = request.uri().clone();
        let url = uri.to_string();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(HttpError::Address(url)),
        };
        let (Some(host), Some(authority)) = (uri.host(), uri.authority()) else {
            return Err(HttpError::Address(url));
        };
        if !https && !is_loopback(host) {
            return Err(HttpError::Address(url));
        }
        let tls = match (&self.tls, https) {
            (Some(config), true) => Some(Arc::clone(config)),
            (None, true) => return Err(HttpError::NoCa(url)),
            (_, false) => None,
        };
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let bare_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let transport =
            |e: &dyn std::fmt::Display| HttpError::Transport(url.clone(), e.to_string());
        let (parts, body) = request.into_parts();
        let mut outgoing = hyper::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let path: hyper::Uri = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e| transport(&e))?;
        *outgoing.uri_mut() = path;
        let authority = HeaderValue::from_str(authority.as_str()).map_err(|e| transport(&e))?;
        outgoing.headers_mut().insert(header::HOST, authority);
        let tcp = tokio::net::TcpStream::connect((bare_host.as_str(), port))
            .await
            .map_err(|e| transport(&e))?;
        tcp.set_nodelay(true).map_err(|e| transport(&e))?;
        if let Some(config) = tls {
            let name = ServerName::try_from(bare_host).map_err(|e| transport(&e))?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| transport(&e))?;
            send(TokioIo::new(tls), outgoing, &url).await
        } else {
            send(TokioIo::new(tcp), outgoing, &url).await
        }
    }
}

async fn send<I>(
    io: I,
    request: hyper::Request<Full<Bytes>>,
    url: &str,
) -> Result<HttpResponse, HttpError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let transport = |e: &dyn std::fmt::Display| HttpError::Transport(url.to_owned(), e.to_string());
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| transport(&e))?;
    let driver = tokio::spawn(connection);
    let answer = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| transport(&e))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    HttpError::TooLarge(url.to_owned())
                } else {
                    transport(&e)
                }
            })?
            .to_bytes();
        Ok(HttpResponse::from_parts(parts, body.to_vec()))
    }
    .await;
    driver.abort();
    answer
}

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.exchange(request))
    }
}

/// A login under way: its provider, the nonce and PKCE verifier it was started with, and the
/// browser that started it.
#[derive(Debug)]
pub struct Pending {
    /// A citizen into the mailbox, or an agent into this sender's pages.
    pub agency_of: Option<String>,
    pub provider: usize,
    pub nonce: String,
    pub pkce_verifier: String,
    pub binding_sha256: [u8; 32],
    pub started: SystemTime,
}

/// Why a callback's login under way is not accepted (the reasons the log gives).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PendingRefusal {
    #[error("the state is not a login under way (unknown, answered already or expired)")]
    Unknown,
    #[error("the answer came to another browser than the one that started the login")]
    OtherBrowser,
    #[error("the login took too long")]
    Expired,
}

/// The logins under way, by state: each taken out once.
#[derive(Debug, Default)]
pub struct PendingTable {
    entries: HashMap<String, Pending>,
}

impl PendingTable {
    /// Keeps `pending` under `state`, after dropping the expired ones; false when full.
    pub fn insert(&mut self, state: String, pending: Pending, now: SystemTime) -> bool {
        self.entries.retain(|_, p| fresh(p, now));
        if self.entries.len() >= MAX_PENDING {
            return false;
        }
        self.entries.insert(state, pending);
        true
    }

    /// The login under way of `state`, taken out whatever follows: only for the browser
    /// holding its binding (`binding`, the cookie's value), within its window.
    pub fn take(
        &mut self,
        state: &str,
        binding: Option<&str>,
        now: SystemTime,
    ) -> Result<Pending, PendingRefusal> {
        let pending = self.entries.remove(state).ok_or(PendingRefusal::Unknown)?;
        let in_this_browser = binding.is_some_and(|b| {
            constant_time::verify_slices_are_equal(&sha256(b), &pending.binding_sha256).is_ok()
        });
        if !in_this_browser {
            return Err(PendingRefusal::OtherBrowser);
        }
        if !fresh(&pending, now) {
            return Err(PendingRefusal::Expired);
        }
        Ok(pending)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn fresh(p: &Pending, now: SystemTime) -> bool {
    now.duration_since(p.started)
        .is_ok_and(|age| age < LOGIN_WINDOW)
}

/// The level a login counts as: the claim's value as `acr_levels` maps it, else a number
/// (0 to 255) is the level itself, else 0.
pub fn level_of(entry: &OidcProviderEntry, value: Option<&serde_json::Value>) -> u8 {
    match value {
        Some(serde_json::Value::String(s)) => entry
            .acr_levels
            .get(s)
            .copied()
            .or_else(|| s.trim().parse().ok())
            .unwrap_or(0),
        Some(serde_json::Value::Number(n)) => {
            n.as_u64().and_then(|n| u8::try_from(n).ok()).unwrap_or(0)
        }
        _ => 0,
    }
}

/// A claim of a verified ID token by name, standard or not.
fn claim(
    claims: &IdTokenClaims<OtherClaims, CoreGenderClaim>,
    name: &str,
) -> Option<serde_json::Value> {
    match name {
        "sub" => Some(serde_json::Value::String(
            claims.subject().as_str().to_owned(),
        )),
        "acr" => claims
            .auth_context_ref()
            .map(|a| serde_json::Value::String(a.as_str().to_owned())),
        other => claims.additional_claims().claims.get(other).cloned(),
    }
}

/// A provider's metadata, keys and our client there, as discovered.
struct Discovered {
    client: OidcClient,
    at: SystemTime,
}

/// One provider of `[[oidc.providers]]`.
pub struct OidcProvider {
    pub entry: OidcProviderEntry,
    secret: String,
    http: ProviderHttp,
    discovered: tokio::sync::Mutex<DiscoveryCache>,
}

/// What discovery last gave: the client, or when and why it failed.
#[derive(Default)]
struct DiscoveryCache {
    discovered: Option<Arc<Discovered>>,
    failed: Option<(SystemTime, String)>,
}

impl std::fmt::Debug for OidcProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProvider")
            .field("issuer", &self.entry.issuer)
            .finish_non_exhaustive()
    }
}

impl OidcProvider {
    /// Reads the client secret and the CAs; refuses an unreadable or empty secret.
    pub fn new(entry: OidcProviderEntry) -> anyhow::Result<Self> {
        let secret = std::fs::read_to_string(&entry.client_secret_file)
            .map_err(|e| anyhow::anyhow!("{}: {e}", entry.client_secret_file.display()))?
            .trim()
            .to_owned();
        if secret.is_empty() {
            anyhow::bail!("{}: empty", entry.client_secret_file.display());
        }
        let http = ProviderHttp::new(entry.ca.as_deref(), EXCHANGE_TIMEOUT)?;
        Ok(OidcProvider {
            entry,
            secret,
            http,
            discovered: tokio::sync::Mutex::new(DiscoveryCache::default()),
        })
    }

    /// Our client at the provider, its metadata and keys discovered now or not long ago.
    async fn client(&self, now: SystemTime) -> Result<Arc<Discovered>, String> {
        let mut cache = self.discovered.lock().await;
        if let Some(d) = cache.discovered.as_ref()
            && now
                .duration_since(d.at)
                .is_ok_and(|age| age < REDISCOVER_AFTER)
        {
            return Ok(Arc::clone(d));
        }
        // A provider that just failed is not asked again at once: logins waiting on this lock
        // are answered now rather than one discovery timeout after another.
        if let Some((at, why)) = &cache.failed
            && now.duration_since(*at).is_ok_and(|age| age < RETRY_AFTER)
        {
            return Err(format!("{why} (not tried again before {RETRY_AFTER:?})"));
        }
        match self.discover().await {
            Ok(client) => {
                let d = Arc::new(Discovered { client, at: now });
                cache.discovered = Some(Arc::clone(&d));
                cache.failed = None;
                Ok(d)
            }
            Err(why) => {
                cache.discovered = None;
                cache.failed = Some((now, why.clone()));
                Err(why)
            }
        }
    }

    async fn discover(&self) -> Result<OidcClient, String> {
        let issuer = IssuerUrl::new(self.entry.issuer.clone()).map_err(|e| e.to_string())?;
        let metadata = tokio::time::timeout(
            DISCOVERY_TIMEOUT,
            CoreProviderMetadata::discover_async(issuer, &self.http),
        )
        .await
        .map_err(|_| format!("discovery took longer than {DISCOVERY_TIMEOUT:?}"))?
        .map_err(|e| format!("discovery: {}", error_chain(&e)))?;
        let redirect =
            RedirectUrl::new(self.entry.redirect_url.clone()).map_err(|e| e.to_string())?;
        Ok(OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(self.entry.client_id.clone()),
            Some(ClientSecret::new(self.secret.clone())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(AuthType::BasicAuth))
    }
}

/// An error and its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The OpenID Connect logins.
pub struct OidcLogins {
    desk: LoginDesk,
    providers: Vec<OidcProvider>,
    pending: Mutex<PendingTable>,
    /// The organisations' pages an agent's sign-in opens.
    agency: Arc<AgencyPages>,
}

impl std::fmt::Debug for OidcLogins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLogins")
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

/// The routes: `/mailbox/login/oidc`, `/oidc/callback`.
pub fn router(logins: Arc<OidcLogins>) -> Router {
    Router::new()
        .route("/mailbox/login/oidc", get(mailbox_login))
        .route("/agency/login/oidc/{sender}", get(agency_login))
        .route("/oidc/callback", get(callback))
        .with_state(logins)
}

const WHAT: &str = "OidcLogin";

impl OidcLogins {
    pub fn new(desk: LoginDesk, providers: Vec<OidcProvider>, agency: Arc<AgencyPages>) -> Self {
        OidcLogins {
            desk,
            providers,
            pending: Mutex::new(PendingTable::default()),
            agency,
        }
    }
}

async fn mailbox_login(State(logins): State<Arc<OidcLogins>>) -> Response {
    match logins.providers.iter().position(|p| p.entry.citizens) {
        Some(index) => start(&logins, index, None).await,
        None => html(StatusCode::NOT_FOUND, "Not found", "", None, None),
    }
}

/// An agent of `sender` signs in through the first OpenID Provider the sender is registered
/// with.
async fn agency_login(
    State(logins): State<Arc<OidcLogins>>,
    axum::extract::Path(sender): axum::extract::Path<String>,
) -> Response {
    let registration = logins.desk.active_sender(&sender).await;
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
    match logins
        .providers
        .iter()
        .position(|p| registration.identity_providers.contains(&p.entry.issuer))
    {
        Some(index) => start(&logins, index, Some(sender)).await,
        None => html(
            StatusCode::NOT_FOUND,
            "Not found",
            "<p>This organisation has no OpenID Provider for its agents.</p>",
            None,
            None,
        ),
    }
}

/// Sends the browser to provider `index` with a new authorization request: for a citizen, or
/// for an agent of `agency_of`.
async fn start(logins: &Arc<OidcLogins>, index: usize, agency_of: Option<String>) -> Response {
    let provider = &logins.providers[index];
    let now = logins.desk.clock.now();
    let discovered = match provider.client(now).await {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(
                issuer = provider.entry.issuer,
                error = e,
                "an OpenID Provider cannot be reached"
            );
            logins
                .desk
                .trace(
                    WHAT,
                    "unauthenticated".into(),
                    false,
                    format!("{}: provider unavailable: {e}", provider.entry.issuer),
                )
                .await;
            return html(
                StatusCode::SERVICE_UNAVAILABLE,
                "Unavailable",
                "<p>Your identity provider cannot be reached now. Try again later.</p>",
                None,
                None,
            );
        }
    };
    let state = random_hex();
    let nonce = random_hex();
    let binding = random_hex();
    // 256 bits, as 43 base64url characters (RFC 7636: 43 to 128).
    let verifier = PkceCodeVerifier::new(base64url(&random_bytes::<32>()));
    let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
    let (state_for_url, nonce_for_url) = (state.clone(), nonce.clone());
    let mut request = discovered.client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        move || CsrfToken::new(state_for_url),
        move || Nonce::new(nonce_for_url),
    );
    for scope in provider.entry.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    // The acr claim is asked for (acr_values) with the values we know, strongest first: a
    // provider may leave it out when it is not asked for. Whatever it answers is mapped.
    let mut known: Vec<(&String, &u8)> = provider.entry.acr_levels.iter().collect();
    known.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    for (acr, _) in known {
        request = request.add_auth_context_value(AuthenticationContextClass::new(acr.clone()));
    }
    let (url, _, _) = request.set_pkce_challenge(challenge).url();
    let inserted = lock(&logins.pending).insert(
        state,
        Pending {
            agency_of,
            provider: index,
            nonce,
            pkce_verifier: verifier.secret().clone(),
            binding_sha256: sha256(&binding),
            started: now,
        },
        now,
    );
    if !inserted {
        return html(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again in a moment",
            "<p>Too many logins are under way.</p>",
            None,
            None,
        );
    }
    let mut r = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(url.as_str()) {
        Ok(v) => {
            r.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => return html(StatusCode::INTERNAL_SERVER_ERROR, "Error", "", None, None),
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    set_cookie(
        r,
        &format!(
            "{BINDING_COOKIE}={binding}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
            LOGIN_WINDOW.as_secs()
        ),
    )
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// The provider's answer at the redirect URI.
#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// RFC 9207: the issuer of the answer, when the provider says.
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(logins): State<Arc<OidcLogins>>,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let desk = &logins.desk;
    let Ok(Query(q)) = query else {
        return desk
            .refuse(WHAT, "the callback's query cannot be read".into())
            .await;
    };
    let removal = format!("{BINDING_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0");
    let Some(state) = q.state.as_deref().filter(|s| s.len() <= MAX_PARAMETER) else {
        return desk.refuse(WHAT, "the callback has no state".into()).await;
    };
    // The login it answers, taken out now: an answer is tried once.
    let now = desk.clock.now();
    let binding = cookie(&headers, BINDING_COOKIE);
    let taken = lock(&logins.pending).take(state, binding.as_deref(), now);
    let pending = match taken {
        Ok(p) => p,
        Err(why) => return desk.refuse(WHAT, why.to_string()).await,
    };
    let Some(provider) = logins.providers.get(pending.provider) else {
        return desk
            .refuse(WHAT, "the provider is no longer configured".into())
            .await;
    };
    let issuer = &provider.entry.issuer;
    let response = if let Some(error) = &q.error {
        desk.refuse(
            WHAT,
            format!(
                "{issuer}: the provider answered error {:?} ({:?})",
                truncate(error),
                q.error_description
                    .as_deref()
                    .map(truncate)
                    .unwrap_or_default()
            ),
        )
        .await
    } else if q.iss.as_deref().is_some_and(|i| i != issuer) {
        desk.refuse(
            WHAT,
            format!(
                "{issuer}: the answer says it is from {:?}",
                q.iss.as_deref().map(truncate).unwrap_or_default()
            ),
        )
        .await
    } else {
        match q
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= MAX_PARAMETER)
        {
            None => {
                desk.refuse(WHAT, format!("{issuer}: the answer has no code"))
                    .await
            }
            Some(code) => redeem(&logins, provider, pending, code, now).await,
        }
    };
    set_cookie(response, &removal)
}

fn truncate(text: &str) -> String {
    text.chars().take(200).collect()
}

type IdToken = openidconnect::IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The ID token verified as an answer to the login with `nonce`, at `now`: the national
/// register number it gives and the login method it makes; why not, otherwise.
#[cfg(test)]
fn verified_login(
    entry: &OidcProviderEntry,
    client: &OidcClient,
    id_token: &IdToken,
    nonce: &str,
    now: SystemTime,
) -> Result<(String, LoginMethod), String> {
    let claims = verified_claims(client, id_token, nonce, now)?;
    citizen_of(entry, claims)
}

/// The claims of an ID token verified as an answer to the login with `nonce`, at `now`.
fn verified_claims<'t>(
    client: &OidcClient,
    id_token: &'t IdToken,
    nonce: &str,
    now: SystemTime,
) -> Result<&'t IdTokenClaims<OtherClaims, CoreGenderClaim>, String> {
    let now_s = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(ALGORITHMS)
        .set_issue_time_verifier_fn(move |iat| {
            let iat = iat.timestamp();
            let window = i64::try_from(LOGIN_WINDOW.as_secs()).unwrap_or(i64::MAX);
            if iat > now_s.saturating_add(IAT_SKEW_S) {
                Err(format!("issued in the future ({iat}, now {now_s})"))
            } else if iat < now_s.saturating_sub(window) {
                Err(format!("issued too long ago ({iat}, now {now_s})"))
            } else {
                Ok(())
            }
        });
    let claims = id_token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| format!("the ID token is refused: {}", error_chain(&e)))?;
    // openidconnect checks exp against the system's clock; the service's clock decides too.
    let exp = claims.expiration().timestamp();
    if exp <= now_s {
        return Err(format!(
            "the ID token is refused: expired at {exp} (now {now_s})"
        ));
    }
    Ok(claims)
}

/// The citizen an ID token's claims name: the national register number, and the login
/// method.
fn citizen_of(
    entry: &OidcProviderEntry,
    claims: &IdTokenClaims<OtherClaims, CoreGenderClaim>,
) -> Result<(String, LoginMethod), String> {
    let Some(serde_json::Value::String(digits)) = claim(claims, &entry.national_number_claim)
    else {
        return Err(format!(
            "the ID token has no claim {:?} (the national register number)",
            entry.national_number_claim
        ));
    };
    let acr = claims
        .auth_context_ref()
        .map(|a| format!(", acr {}", a.as_str()))
        .unwrap_or_default();
    Ok((
        digits,
        LoginMethod {
            how: format!("OpenID Connect by {}{acr}", entry.issuer),
            level: level_of(entry, claim(claims, &entry.level_claim).as_ref()),
        },
    ))
}

/// The code exchanged for tokens, the ID token verified, the citizen it names logged in.
async fn redeem(
    logins: &Arc<OidcLogins>,
    provider: &OidcProvider,
    pending: Pending,
    code: &str,
    now: SystemTime,
) -> Response {
    let desk = &logins.desk;
    let issuer = &provider.entry.issuer;
    let discovered = match provider.client(now).await {
        Ok(d) => d,
        Err(e) => {
            desk.trace(
                WHAT,
                "unauthenticated".into(),
                false,
                format!("{issuer}: provider unavailable: {e}"),
            )
            .await;
            return unavailable();
        }
    };
    let request = match discovered
        .client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
    {
        Ok(r) => r,
        Err(e) => {
            return desk
                .refuse(WHAT, format!("{issuer}: no token endpoint: {e}"))
                .await;
        }
    };
    let tokens = match request
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&provider.http)
        .await
    {
        Ok(t) => t,
        Err(e) => {
            return desk
                .refuse(
                    WHAT,
                    format!("{issuer}: the code was not exchanged: {}", error_chain(&e)),
                )
                .await;
        }
    };
    let Some(id_token) = tokens.id_token() else {
        return desk
            .refuse(WHAT, format!("{issuer}: the token answer has no ID token"))
            .await;
    };
    let claims = match verified_claims(&discovered.client, id_token, &pending.nonce, now) {
        Ok(claims) => claims,
        Err(e) => return desk.refuse(WHAT, format!("{issuer}: {e}")).await,
    };
    if let Some(sender) = &pending.agency_of {
        let entry = &provider.entry;
        let text = |name: &str| match claim(claims, name) {
            Some(serde_json::Value::String(one)) => Some(one),
            _ => None,
        };
        let profiles = match claim(claims, &entry.pagm_claim) {
            Some(serde_json::Value::String(one)) => vec![one],
            Some(serde_json::Value::Array(all)) => all
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let subject = claims.subject().as_str().to_owned();
        return logins
            .agency
            .sign_in(
                sender,
                VouchedAgent {
                    provider: issuer,
                    subject: &subject,
                    organisation: text(&entry.organisation_claim),
                    profiles,
                    level: level_of(entry, claim(claims, &entry.level_claim).as_ref()),
                },
            )
            .await;
    }
    let (digits, method) = match citizen_of(&provider.entry, claims) {
        Ok(login) => login,
        Err(e) => return desk.refuse(WHAT, format!("{issuer}: {e}")).await,
    };
    let level = method.level;
    tracing::info!(
        how = method.how,
        level,
        "an OpenID Connect ID token was verified"
    );
    desk.citizen_login(Vouched {
        what: WHAT,
        provider: issuer,
        digits: &digits,
        method,
        via: "national identity provider (OpenID Connect)",
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(binding: &str, started: SystemTime) -> Pending {
        Pending {
            agency_of: None,
            provider: 0,
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            binding_sha256: sha256(binding),
            started,
        }
    }

    #[test]
    fn a_login_under_way_is_taken_once_in_the_browser_that_started_it() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut table = PendingTable::default();
        assert!(table.insert("s1".into(), pending("b1", now), now));
        let later = now + Duration::from_secs(5);
        let taken = table
            .take("s1", Some("b1"), later)
            .expect("the same browser");
        assert_eq!(taken.nonce, "n");
        // Once only.
        assert_eq!(
            table.take("s1", Some("b1"), later).err(),
            Some(PendingRefusal::Unknown)
        );
        assert_eq!(
            table.take("other", Some("b1"), later).err(),
            Some(PendingRefusal::Unknown)
        );
    }

    #[test]
    fn another_browser_or_none_burns_the_login_and_is_refused() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut table = PendingTable::default();
        assert!(table.insert("s1".into(), pending("b1", now), now));
        assert!(table.insert("s2".into(), pending("b2", now), now));
        assert_eq!(
            table.take("s1", Some("b2"), now).err(),
            Some(PendingRefusal::OtherBrowser)
        );
        assert_eq!(
            table.take("s2", None, now).err(),
            Some(PendingRefusal::OtherBrowser)
        );
        // Refused answers still used the login up: the right browser cannot retry it.
        assert_eq!(
            table.take("s1", Some("b1"), now).err(),
            Some(PendingRefusal::Unknown)
        );
        assert!(table.is_empty());
    }

    #[test]
    fn a_login_expires_and_the_table_is_bounded() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let mut table = PendingTable::default();
        assert!(table.insert("old".into(), pending("b", now), now));
        let late = now + LOGIN_WINDOW;
        assert_eq!(
            table.take("old", Some("b"), late).err(),
            Some(PendingRefusal::Expired)
        );
        for i in 0..MAX_PENDING {
            assert!(table.insert(format!("s{i}"), pending("b", now), now));
        }
        assert!(!table.insert("one more".into(), pending("b", now), now));
        assert_eq!(table.len(), MAX_PENDING);
        // Expired ones make room.
        assert!(table.insert("fresh".into(), pending("b", late), late));
        assert_eq!(table.len(), 1);
    }

    fn entry() -> OidcProviderEntry {
        OidcProviderEntry {
            issuer: "http://127.0.0.1:1".into(),
            client_id: "sealpost".into(),
            client_secret_file: "/nonexistent".into(),
            redirect_url: "https://127.0.0.1:8443/oidc/callback".into(),
            scopes: vec!["openid".into()],
            citizens: true,
            national_number_claim: "sub".into(),
            level_claim: "acr".into(),
            acr_levels: [("urn:level:high".to_owned(), 4u8)].into_iter().collect(),
            ca: None,
            organisation_claim: "urn:sealpost:interops:organisation".into(),
            pagm_claim: "urn:sealpost:interops:pagm".into(),
        }
    }

    #[test]
    fn the_level_is_the_mapped_acr_or_a_number_or_zero() {
        let e = entry();
        let s = |t: &str| serde_json::Value::String(t.into());
        assert_eq!(level_of(&e, Some(&s("urn:level:high"))), 4);
        assert_eq!(level_of(&e, Some(&s("3"))), 3);
        assert_eq!(level_of(&e, Some(&serde_json::json!(2))), 2);
        assert_eq!(level_of(&e, Some(&serde_json::json!(256))), 0);
        assert_eq!(level_of(&e, Some(&serde_json::json!(-1))), 0);
        assert_eq!(level_of(&e, Some(&s("urn:level:unknown"))), 0);
        assert_eq!(level_of(&e, Some(&serde_json::json!(true))), 0);
        assert_eq!(level_of(&e, None), 0);
    }

    #[test]
    fn the_verifier_of_pkce_is_43_base64url_characters() {
        let v = base64url(&random_bytes::<32>());
        assert_eq!(v.len(), 43);
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
    }

    #[tokio::test]
    async fn a_provider_that_cannot_be_reached_is_an_error_not_a_panic() {
        let dir = std::env::temp_dir().join(format!("sealpost-oidc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let secret = dir.join("secret");
        std::fs::write(&secret, "s3cret\n").expect("write");
        // A port nobody listens on.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let provider = OidcProvider::new(OidcProviderEntry {
            issuer: format!("http://127.0.0.1:{port}"),
            client_secret_file: secret,
            ..entry()
        })
        .expect("provider");
        assert_eq!(provider.secret, "s3cret");
        let e = provider
            .client(UNIX_EPOCH + Duration::from_secs(1_000_000))
            .await
            .err()
            .expect("unreachable");
        assert!(e.contains("discovery"), "{e}");
        // Not asked again at once: the same answer, without a new attempt.
        let soon = UNIX_EPOCH + Duration::from_secs(1_000_000) + RETRY_AFTER / 2;
        let again = provider
            .client(soon)
            .await
            .err()
            .expect("still unreachable");
        assert!(again.contains("not tried again"), "{again}");
        let later = UNIX_EPOCH + Duration::from_secs(1_000_000) + RETRY_AFTER;
        let tried = provider
            .client(later)
            .await
            .err()
            .expect("still unreachable");
        assert!(!tried.contains("not tried again"), "{tried}");
    }

    #[tokio::test]
    async fn plain_http_goes_to_the_loopback_only() {
        let http = ProviderHttp::new(None, Duration::from_secs(1)).expect("client");
        let request = HttpRequest::new(Vec::new());
        let mut request = request;
        *request.uri_mut() = "http://192.0.2.1/.well-known/openid-configuration"
            .parse()
            .expect("uri");
        let e = http.exchange(request).await.expect_err("refused");
        assert!(matches!(e, HttpError::Address(_)), "{e}");
        let mut request = HttpRequest::new(Vec::new());
        *request.uri_mut() = "https://127.0.0.1:1/x".parse().expect("uri");
        let e = http.exchange(request).await.expect_err("refused");
        assert!(matches!(e, HttpError::NoCa(_)), "{e}");
    }

    /// A provider of our own making: its metadata and keys as discovery would give them, an
    /// ES256 key to sign ID tokens with.
    struct Forger {
        client: OidcClient,
        key: aws_lc_rs::signature::EcdsaKeyPair,
        public_jwk: serde_json::Value,
    }

    const ISS: &str = "https://op.example";

    fn jwk_of(key: &aws_lc_rs::signature::EcdsaKeyPair, kid: &str) -> serde_json::Value {
        use aws_lc_rs::signature::KeyPair;
        let point = key.public_key().as_ref();
        serde_json::json!({"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
            "x": base64url(&point[1..33]), "y": base64url(&point[33..65])})
    }

    fn new_key() -> aws_lc_rs::signature::EcdsaKeyPair {
        aws_lc_rs::signature::EcdsaKeyPair::generate(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        )
        .expect("key")
    }

    fn forger() -> Forger {
        let key = new_key();
        let public_jwk = jwk_of(&key, "k1");
        let metadata: CoreProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": ISS,
            "authorization_endpoint": format!("{ISS}/auth"),
            "token_endpoint": format!("{ISS}/token"),
            "jwks_uri": format!("{ISS}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            // What a hostile provider might offer: none of these but ES256 is taken.
            "id_token_signing_alg_values_supported": ["ES256", "HS256", "none"],
        }))
        .expect("metadata");
        let jwks = serde_json::from_value(serde_json::json!({"keys": [public_jwk.clone()]}))
            .expect("jwks");
        let client = OidcClient::from_provider_metadata(
            metadata.set_jwks(jwks),
            ClientId::new("sealpost".into()),
            Some(ClientSecret::new("client secret".into())),
        );
        Forger {
            client,
            key,
            public_jwk,
        }
    }

    fn b64(value: &serde_json::Value) -> String {
        base64url(value.to_string().as_bytes())
    }

    fn es256(
        key: &aws_lc_rs::signature::EcdsaKeyPair,
        header: &serde_json::Value,
        claims: &serde_json::Value,
    ) -> String {
        let input = format!("{}.{}", b64(header), b64(claims));
        let signature = key
            .sign(&aws_lc_rs::rand::SystemRandom::new(), input.as_bytes())
            .expect("sign");
        format!("{input}.{}", base64url(signature.as_ref()))
    }

    fn hs256(secret: &[u8], claims: &serde_json::Value) -> String {
        let input = format!(
            "{}.{}",
            b64(&serde_json::json!({"alg": "HS256", "kid": "k1"})),
            b64(claims)
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", base64url(tag.as_ref()))
    }

    // openidconnect checks exp with the system's clock, so the tokens are made for now.
    #[allow(clippy::disallowed_methods)]
    fn real_now() -> (SystemTime, i64) {
        let now = SystemTime::now();
        let secs = now
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        (now, i64::try_from(secs).expect("secs"))
    }

    fn good_claims(now: i64) -> serde_json::Value {
        serde_json::json!({"iss": ISS, "aud": "sealpost", "sub": "85073003328",
            "exp": now + 300, "iat": now, "nonce": "the nonce", "acr": "urn:level:high"})
    }

    fn check(
        f: &Forger,
        entry: &OidcProviderEntry,
        token: &str,
        now: SystemTime,
    ) -> Result<(String, LoginMethod), String> {
        let token: IdToken = token.parse().map_err(|e| format!("unparsed: {e}"))?;
        verified_login(entry, &f.client, &token, "the nonce", now)
    }

    #[test]
    fn a_good_id_token_gives_the_number_and_the_login_method() {
        let f = forger();
        let (now, secs) = real_now();
        let entry = OidcProviderEntry {
            issuer: ISS.into(),
            ..entry()
        };
        let header = serde_json::json!({"alg": "ES256", "kid": "k1"});
        let (digits, method) =
            check(&f, &entry, &es256(&f.key, &header, &good_claims(secs)), now).expect("accepted");
        assert_eq!(digits, "85073003328");
        assert_eq!(
            method.how,
            "OpenID Connect by https://op.example, acr urn:level:high"
        );
        assert_eq!(method.level, 4);
        // Another claim for the number: present, and absent.
        let by_nrn = OidcProviderEntry {
            national_number_claim: "nrn".into(),
            level_claim: "loa".into(),
            ..entry.clone()
        };
        let mut claims = good_claims(secs);
        claims["nrn"] = "85073003328".into();
        claims["loa"] = 2.into();
        let (digits, method) =
            check(&f, &by_nrn, &es256(&f.key, &header, &claims), now).expect("accepted");
        assert_eq!((digits.as_str(), method.level), ("85073003328", 2));
        let e = check(
            &f,
            &by_nrn,
            &es256(&f.key, &header, &good_claims(secs)),
            now,
        )
        .expect_err("no nrn");
        assert!(e.contains("no claim \"nrn\""), "{e}");
    }

    #[test]
    fn forged_expired_or_misdirected_id_tokens_are_refused() {
        let f = forger();
        let (now, secs) = real_now();
        let entry = OidcProviderEntry {
            issuer: ISS.into(),
            ..entry()
        };
        let header = serde_json::json!({"alg": "ES256", "kid": "k1"});
        let with = |key: &str, value: serde_json::Value| {
            let mut c = good_claims(secs);
            c[key] = value;
            c
        };
        let good = es256(&f.key, &header, &good_claims(secs));
        let (head, rest) = good.split_once('.').expect("jws");
        let signature = rest.rsplit_once('.').expect("jws").1;
        let cases: Vec<(&str, &str, String)> = vec![
            (
                "alg none",
                "No signature found",
                format!(
                    "{}.{}.",
                    b64(&serde_json::json!({"alg": "none"})),
                    b64(&good_claims(secs))
                ),
            ),
            (
                "HS256 with the client secret",
                "algorithm `HS256` is not one of",
                hs256(b"client secret", &good_claims(secs)),
            ),
            (
                "HS256 with the public key",
                "algorithm `HS256` is not one of",
                hs256(f.public_jwk.to_string().as_bytes(), &good_claims(secs)),
            ),
            (
                "another key under the same kid",
                "Signature was wrong",
                es256(&new_key(), &header, &good_claims(secs)),
            ),
            (
                "a payload changed under the signature",
                "Signature was wrong",
                format!(
                    "{head}.{}.{signature}",
                    b64(&with("sub", "00012556777".into()))
                ),
            ),
            (
                "another audience",
                "Invalid audiences",
                es256(&f.key, &header, &with("aud", "someone-else".into())),
            ),
            (
                "another issuer",
                "Invalid issuer",
                es256(
                    &f.key,
                    &header,
                    &with("iss", "https://rogue.example".into()),
                ),
            ),
            (
                "another nonce",
                "nonce mismatch",
                es256(&f.key, &header, &with("nonce", "replayed".into())),
            ),
            (
                "no nonce",
                "missing nonce claim",
                es256(&f.key, &header, &{
                    let mut c = good_claims(secs);
                    c.as_object_mut().expect("object").remove("nonce");
                    c
                }),
            ),
            (
                "expired",
                "ID token expired at",
                es256(&f.key, &header, &with("exp", (secs - 5).into())),
            ),
            (
                "issued in the future",
                "issued in the future",
                es256(&f.key, &header, &with("iat", (secs + 600).into())),
            ),
            (
                "issued too long ago",
                "issued too long ago",
                es256(&f.key, &header, &with("iat", (secs - 3600).into())),
            ),
        ];
        for (what, why, token) in cases {
            match check(&f, &entry, &token, now) {
                Ok(accepted) => panic!("{what}: accepted {accepted:?}"),
                Err(e) => assert!(e.contains(why), "{what}: refused as {e:?}, not for {why:?}"),
            }
        }
        // The service's clock decides as well: a token still valid for the system's clock is
        // refused when the service's clock says it expired.
        let later = now + Duration::from_secs(400);
        let e = check(&f, &entry, &good, later).expect_err("expired by our clock");
        assert!(e.contains("expired") || e.contains("too long ago"), "{e}");
    }

    /// RFC 8017 RSAPublicKey.
    #[derive(der::Sequence)]
    struct RsaPublicKey<'a> {
        n: der::asn1::UintRef<'a>,
        e: der::asn1::UintRef<'a>,
    }

    #[test]
    fn an_rs256_id_token_is_accepted_and_its_key_must_be_the_providers() {
        use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
        use der::Decode;
        let key = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key");
        let public = RsaPublicKey::from_der(key.public_key().as_ref()).expect("RSAPublicKey");
        let jwk = serde_json::json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "r1",
            "n": base64url(public.n.as_bytes()), "e": base64url(public.e.as_bytes())});
        let f = forger();
        let metadata: CoreProviderMetadata = serde_json::from_value(serde_json::json!({
            "issuer": ISS,
            "authorization_endpoint": format!("{ISS}/auth"),
            "jwks_uri": format!("{ISS}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }))
        .expect("metadata");
        let both = serde_json::json!({"keys": [jwk, f.public_jwk.clone()]});
        let client = OidcClient::from_provider_metadata(
            metadata.set_jwks(serde_json::from_value(both).expect("jwks")),
            ClientId::new("sealpost".into()),
            Some(ClientSecret::new("client secret".into())),
        );
        let rs256 = |key: &RsaKeyPair, kid: &str, claims: &serde_json::Value| {
            let input = format!(
                "{}.{}",
                b64(&serde_json::json!({"alg": "RS256", "kid": kid})),
                b64(claims)
            );
            let mut signature = vec![0u8; key.public_modulus_len()];
            key.sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                input.as_bytes(),
                &mut signature,
            )
            .expect("sign");
            format!("{input}.{}", base64url(&signature))
        };
        let (now, secs) = real_now();
        let entry = OidcProviderEntry {
            issuer: ISS.into(),
            ..entry()
        };
        let verify = |token: &str| {
            let token: IdToken = token.parse().expect("token");
            verified_login(&entry, &client, &token, "the nonce", now)
        };
        let (digits, _) = verify(&rs256(&key, "r1", &good_claims(secs))).expect("RS256 accepted");
        assert_eq!(digits, "85073003328");
        let other = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa key");
        let e = verify(&rs256(&other, "r1", &good_claims(secs))).expect_err("another key");
        assert!(e.contains("Signature"), "{e}");
        // An RS256 header with the EC key's id: no key of that kind under that id.
        let e = verify(&rs256(&key, "k1", &good_claims(secs))).expect_err("the EC key's id");
        assert!(e.contains("Signature verification failed"), "{e}");
    }
}
