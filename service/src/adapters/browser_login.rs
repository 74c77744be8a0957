//! What the browser logins through identity providers share, SAML 2.0 Web SSO
//! (`saml_sso`) and OpenID Connect (`oidc_sso`): our own plain pages, the cookies that bind a
//! login under way to the browser that started it, the audit trail of every step, and the
//! citizen's login into the mailbox once a provider vouched for a national register number.

use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use aws_lc_rs::digest;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sealpost_evidence::model::new_evidence_id;
use sealpost_mailbox::port::{Action, Outcome};
use sealpost_mailbox::sessions::{self, LoginMethod, Stage};
use sealpost_mailbox::web::MailboxUi;

use super::mailbox::People;
use super::store::Backend;
use crate::core::ids::RecipientId;
use crate::core::records::Channel;
use crate::core::records::SenderRegistration;
use crate::core::{Changes, Clock, RequestContext, Service};

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// 128 random bits, hex.
pub(super) fn random_hex() -> String {
    hex(&random_bytes::<16>())
}

pub(super) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // aws-lc aborts if the system RNG fails; nothing sensible is left to do then.
    aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator");
    bytes
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn sha256(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, text.as_bytes()).as_ref());
    out
}

/// HTML text, escaped.
pub(super) fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The value of cookie `name` in the request's Cookie headers.
pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
}

/// A page of ours: plain, escaped, with the headers every page has (`form_action`: where its
/// form may post, besides ourselves; `refresh`: where it sends the browser on).
pub(super) fn html(
    status: StatusCode,
    title: &str,
    body: &str,
    form_action: Option<&str>,
    refresh: Option<&str>,
) -> Response {
    let refresh = refresh
        .map(|to| {
            format!(
                "<meta http-equiv=\"refresh\" content=\"0;url={}\">",
                esc(to)
            )
        })
        .unwrap_or_default();
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}<title>{} — Sealpost</title><link rel=\"stylesheet\" href=\"/mailbox/style.css\"></head><body><main id=\"main\"><h1>{}</h1>{body}</main></body></html>",
        esc(title),
        esc(title)
    );
    let mut r = (status, page).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let policy = format!(
        "default-src 'none'; style-src 'self'; form-action 'self'{}; frame-ancestors 'none'; base-uri 'none'",
        form_action.map(|a| format!(" {a}")).unwrap_or_default()
    );
    if let Ok(v) = HeaderValue::from_str(&policy) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
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
    r
}

/// A message for citizens in the mailbox's three languages, each paragraph marked with its
/// own language (a page met between the identity provider and the mailbox cannot know which
/// one the person reads: the `lang` cookie does not come with another site's post).
pub(super) fn in_three_languages(fr: &str, nl: &str, en: &str) -> String {
    format!("<p lang=\"fr\">{fr}</p><p lang=\"nl\">{nl}</p><p lang=\"en\">{en}</p>")
}

pub(super) fn set_cookie(mut r: Response, value: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub(super) fn unavailable() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "Indisponible · Niet beschikbaar · Unavailable",
        &in_three_languages(
            "Le service est momentanément indisponible ; rien n'a été fait. Réessayez plus tard.",
            "De dienst is tijdelijk niet beschikbaar; er is niets gebeurd. Probeer het later opnieuw.",
            "The service is unavailable; nothing was done. Try again later.",
        ),
        None,
        None,
    )
}

/// What a browser login needs of the service: its audit trail, the people, the mailbox's
/// sessions and the clock.
#[derive(Clone)]
pub struct LoginDesk {
    pub service: Arc<Service>,
    pub store: Arc<dyn Backend>,
    pub mailbox: Arc<MailboxUi>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LoginDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginDesk").finish_non_exhaustive()
    }
}

/// A citizen's login as a provider vouched for it.
#[derive(Debug)]
pub(super) struct Vouched<'a> {
    /// The audit log's name of the step (`SamlLogin`, `OidcLogin`).
    pub what: &'static str,
    /// The provider, as the log names it (entity id, issuer).
    pub provider: &'a str,
    /// The national register number as the provider gave it (11 digits, unchecked).
    pub digits: &'a str,
    /// How the mailbox session (and so the handover evidence) names the login, and its level.
    pub method: LoginMethod,
    /// The person's own log of logins: by what.
    pub via: &'static str,
}

impl LoginDesk {
    fn context(&self, operation: &'static str, request: String) -> RequestContext {
        RequestContext {
            correlation_id: new_evidence_id(self.clock.now()),
            channel: Channel::Mailbox,
            operation,
            request: Arc::new(request.into_bytes()),
            seen: None,
            vector: None,
        }
    }

    /// Writes an audit entry for a step of a login or an agency page (off the async threads);
    /// false when an accepted step could not be written.
    pub(super) async fn trace(
        &self,
        operation: &'static str,
        identity: String,
        ok: bool,
        detail: String,
    ) -> bool {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let ctx = me.context(operation, format!("{operation}: {identity}: {detail}"));
            let written = me.service.recorder().record_change(
                &ctx,
                &identity,
                ok,
                &detail,
                Changes::default(),
            );
            // A refusal is written as refused: recorded either way.
            written.is_ok() || !ok
        })
        .await
        .unwrap_or(false)
    }

    /// The active sender `id` as the registry says now; `Err` when the store cannot say.
    pub(super) async fn active_sender(&self, id: &str) -> Result<Option<SenderRegistration>, ()> {
        let store = Arc::clone(&self.store);
        let wanted = id.to_owned();
        tokio::task::spawn_blocking(move || {
            store
                .senders()
                .map(|all| all.into_iter().find(|s| s.id == wanted && s.active))
        })
        .await
        .map_err(|_| ())?
        .map_err(|_| ())
    }

    /// A login refused: traced, and a page that says so without saying why (the log does).
    pub(super) async fn refuse(&self, what: &'static str, detail: String) -> Response {
        tracing::info!(detail, "a browser login was refused");
        self.trace(what, "unauthenticated".into(), false, detail)
            .await;
        html(
            StatusCode::FORBIDDEN,
            "Connexion refusée · Aanmelding geweigerd · Login refused",
            &in_three_languages(
                "La réponse du fournisseur d'identité ne peut pas être acceptée. <a href=\"/mailbox/login?lang=fr\">Réessayer</a>.",
                "Het antwoord van de identiteitsprovider kan niet worden aanvaard. <a href=\"/mailbox/login?lang=nl\">Opnieuw proberen</a>.",
                "The identity provider's answer cannot be accepted. <a href=\"/mailbox/login?lang=en\">Try again</a>.",
            ),
            None,
            None,
        )
    }

    /// Logs the citizen a provider vouched for into the mailbox: the person whose national
    /// register number it is, unless locked; then a page of ours sends the browser on to the
    /// inbox.
    pub(super) async fn citizen_login(&self, v: Vouched<'_>) -> Response {
        let what = v.what;
        let nrn = match RecipientId::parse(&format!("nrn:{}", v.digits.trim())) {
            Ok(id) => id.to_string(),
            Err(e) => {
                return self
                    .refuse(
                        what,
                        format!(
                            "{}: {:?} is not a national register number: {e}",
                            v.provider, v.digits
                        ),
                    )
                    .await;
            }
        };
        let store = Arc::clone(&self.store);
        let data = Arc::clone(&self.mailbox.data);
        let now = self.clock.now();
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let wanted = nrn.clone();
        let via = v.via;
        let found = tokio::task::spawn_blocking(move || {
            let person = People(store.as_ref())
                .everyone()
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|p| p.nrn.as_deref() == Some(wanted.as_str()));
            let Some(person) = person else {
                return Ok(None);
            };
            if person.is_locked(secs) {
                data.record(Action {
                    who: &person.login,
                    what: "mailbox login",
                    ok: false,
                    detail: "account locked",
                })
                .map_err(|e| e.to_string())?;
                return Ok(Some(Err(())));
            }
            data.update_person(&person.login, "mailbox login", &mut |p| {
                p.record_success(secs);
                Outcome {
                    ok: true,
                    detail: via,
                }
            })
            .map_err(|e| e.to_string())
            .map(|updated| updated.map(|(p, _)| Ok(p.login)))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match found {
            Ok(Some(Ok(login))) => {
                let id = self.mailbox.sessions.start_with(
                    Stage::LoggedIn { login },
                    Some(v.method),
                    secs,
                );
                // Sent on from a page of ours: the session cookie (SameSite=Strict) goes with a
                // navigation this site starts, not with the redirect of another site's.
                set_cookie(
                    html(
                        StatusCode::OK,
                        "Connecté · Aangemeld · Logged in",
                        &in_three_languages(
                            "<a href=\"/mailbox/inbox?lang=fr\">Ouvrir votre boîte aux lettres</a>",
                            "<a href=\"/mailbox/inbox?lang=nl\">Uw brievenbus openen</a>",
                            "<a href=\"/mailbox/inbox?lang=en\">Open your mailbox</a>",
                        ),
                        None,
                        Some("/mailbox/inbox"),
                    ),
                    &sessions::cookie(&id),
                )
            }
            Ok(Some(Err(()))) => html(
                StatusCode::TOO_MANY_REQUESTS,
                "Connexion refusée · Aanmelding geweigerd · Login refused",
                &in_three_languages(
                    "Ce compte est bloqué pour le moment.",
                    "Deze account is voorlopig geblokkeerd.",
                    "This account is locked for now.",
                ),
                None,
                None,
            ),
            Ok(None) => {
                self.trace(
                    what,
                    format!("{nrn} (by {})", v.provider),
                    false,
                    format!("no mailbox account for {nrn}"),
                )
                .await;
                html(
                    StatusCode::FORBIDDEN,
                    "Connexion refusée · Aanmelding geweigerd · Login refused",
                    &in_three_languages(
                        "Aucun compte de boîte aux lettres ne correspond à ce numéro de registre national.",
                        "Geen brievenbusaccount hoort bij dit rijksregisternummer.",
                        "No mailbox account matches this national register number.",
                    ),
                    None,
                    None,
                )
            }
            Err(e) => {
                tracing::error!(error = %e, "a browser login could not be completed");
                unavailable()
            }
        }
    }
}
