//! Changing the password: required after a first login, open to any logged-in person.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::html::{Cx, esc, page_with_error, redirect, unavailable, with_status};
use super::i18n::{lang, t};
use super::requests::{LangQuery, bad_form, blocking, session_of};
use super::{MIN_PASSWORD, MailboxUi, now};
use crate::credentials::PasswordHash;
use crate::port::{DataError, Outcome};
use crate::sessions::{self, Session, Stage};

fn password_page(cx: Cx<'_>, session: &Session, error: Option<&str>) -> Response {
    let lang = cx.lang;
    page_with_error(
        cx,
        t(lang, "change"),
        None,
        error,
        &format!(
            "<p>{}</p><form method=\"post\" action=\"/mailbox/password\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><p><label for=\"new\">{}</label><input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" minlength=\"{MIN_PASSWORD}\" required></p><p><label for=\"again\">{}</label><input id=\"again\" name=\"again\" type=\"password\" autocomplete=\"new-password\" minlength=\"{MIN_PASSWORD}\" required></p><p><button type=\"submit\">{}</button></p></form>",
            t(lang, "change_intro"),
            esc(&session.csrf),
            t(lang, "new_password"),
            t(lang, "again"),
            t(lang, "change")
        ),
    )
}

pub(super) async fn password_form(
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
            password_page(ui.cx(lang), &s, None)
        }
        _ => redirect("/mailbox/login", None),
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct PasswordForm {
    csrf: String,
    new: String,
    again: String,
}

pub(super) async fn change_password(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<PasswordForm>,
) -> Response {
    let lang = lang(&headers, None);
    let Some((id, session)) = session_of(&ui, &headers) else {
        return redirect("/mailbox/login", None);
    };
    let login = match &session.stage {
        Stage::MustChangePassword { login } | Stage::LoggedIn { login } => login.clone(),
        _ => return redirect("/mailbox/login", None),
    };
    if !ui.sessions.csrf_ok(&id, &form.csrf) {
        return bad_form(ui.cx(lang));
    }
    if form.new != form.again || form.new.chars().count() < MIN_PASSWORD {
        return with_status(
            password_page(ui.cx(lang), &session, Some(t(lang, "bad_new"))),
            StatusCode::BAD_REQUEST,
        );
    }
    let data = Arc::clone(&ui.data);
    let who = login.clone();
    let result = blocking(move || {
        let hash = PasswordHash::new(&form.new)
            .map_err(|e| DataError::Unavailable(format!("hashing a password: {e}")))?
            .as_phc()
            .to_owned();
        data.update_person(&who, "mailbox password change", &mut |person| {
            person.password = hash.clone();
            person.must_change_password = false;
            person.provisional_until = None;
            Outcome {
                ok: true,
                detail: "",
            }
        })?
        .map(|_| ())
        .ok_or_else(|| DataError::Unavailable("the person is gone".into()))
    })
    .await;
    match result {
        Ok(()) => match ui.sessions.advance(&id, Stage::LoggedIn { login }, now()) {
            Some(next) => redirect("/mailbox/inbox", Some(sessions::cookie(&next))),
            None => redirect("/mailbox/login", None),
        },
        Err(e) => unavailable(ui.cx(lang), &e),
    }
}
