//! Sessions in requests: the session cookie, the logged-in person, CSRF-checked forms, and
//! running the port's blocking calls off the async threads.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::html::{Cx, page, redirect, unavailable, with_status};
use super::i18n::{lang, t};
use super::{MailboxUi, now};
use crate::people::Person;
use crate::port::DataError;
use crate::sessions::{self, Session, Stage};

/// Every cookie of the request, as one `Cookie` header's text: over HTTP/2 each cookie may
/// come in a header of its own (RFC 9113 §8.2.3), and all of them count.
pub(super) fn cookies(headers: &HeaderMap) -> String {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ")
}

pub(super) fn session_of(ui: &MailboxUi, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = sessions::session_id(&cookies(headers))?.to_owned();
    let s = ui.sessions.get(&id, now())?;
    Some((id, s))
}

/// The logged-in person posting a form that carries `csrf`, their session's token; anything
/// else is answered here (the login page, or a bad form). Every form of a logged-in person
/// goes through it.
pub(super) async fn logged_in_form(
    ui: &Arc<MailboxUi>,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<(String, Session, Person), Response> {
    let (id, session, person) = logged_in(ui, headers).await?;
    if !ui.sessions.csrf_ok(&id, csrf) {
        return Err(bad_form(ui.cx(lang(headers, None))));
    }
    Ok((id, session, person))
}

/// The logged-in person, or a redirect to the login page.
pub(super) async fn logged_in(
    ui: &Arc<MailboxUi>,
    headers: &HeaderMap,
) -> Result<(String, Session, Person), Response> {
    let Some((id, session)) = session_of(ui, headers) else {
        return Err(redirect("/mailbox/login", None));
    };
    let login = match &session.stage {
        Stage::LoggedIn { login } => login.clone(),
        Stage::MustChangePassword { .. } => return Err(redirect("/mailbox/password", None)),
        _ => return Err(redirect("/mailbox/login", None)),
    };
    let data = Arc::clone(&ui.data);
    let person = blocking(move || data.person(&login)).await;
    match person {
        Ok(Some(p)) => Ok((id, session, p)),
        Ok(None) => {
            ui.sessions.end(&id);
            Err(redirect("/mailbox/login", Some(sessions::cookie_removal())))
        }
        Err(e) => Err(unavailable(ui.cx(lang(headers, None)), &e)),
    }
}

pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DataError> + Send + 'static,
) -> Result<T, DataError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DataError::Unavailable(e.to_string()))?
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct LangQuery {
    pub(super) lang: Option<String>,
}

/// A refused form (bad or missing CSRF token): nothing happens.
pub(super) fn bad_form(cx: Cx<'_>) -> Response {
    let lang = cx.lang;
    with_status(
        page(
            cx,
            t(lang, "bad_form"),
            None,
            &format!(
                "<p><a href=\"/mailbox/\">{}</a></p>",
                t(lang, "open_mailbox")
            ),
        ),
        StatusCode::FORBIDDEN,
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::web::i18n::Lang;

    #[test]
    fn cookies_sent_in_headers_of_their_own_all_count_as_over_http2() {
        let id = "ab".repeat(32);
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("lang=fr"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("{}={id}", sessions::COOKIE)).expect("header"),
        );
        assert_eq!(sessions::session_id(&cookies(&headers)), Some(id.as_str()));
        assert_eq!(lang(&headers, None), Lang::Fr);
        // And in one header, as over HTTP/1.1.
        let mut one = HeaderMap::new();
        one.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{}={id}; lang=fr", sessions::COOKIE)).expect("header"),
        );
        assert_eq!(sessions::session_id(&cookies(&one)), Some(id.as_str()));
        assert_eq!(lang(&one, None), Lang::Fr);
    }
}
