//! The citizen's choice of electronic delivery (their right of opposition): refusing it makes
//! every sender's next letter a sealed rejection that says so, and the sender falls back to
//! paper; accepting it again reopens the mailbox. Each choice is in the audit log.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::MailboxUi;
use super::html::{Me, esc, not_found, page, redirect, unavailable};
use super::i18n::{lang, t};
use super::requests::{LangQuery, bad_form, blocking, logged_in, logged_in_form};

pub(super) async fn delivery(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cx = ui.cx(lang);
    let me = Some(Me {
        session: &session,
        person: &person,
    });
    let Some(nrn) = person.nrn.clone() else {
        return not_found(cx, me);
    };
    let data = Arc::clone(&ui.data);
    let refused_at = match blocking(move || data.delivery_refused(&nrn)).await {
        Ok(r) => r,
        Err(e) => return unavailable(cx, &e),
    };
    let (state, choice, button) = match refused_at {
        Some(at) => (
            t(lang, "delivery_refused_since").replace("{date}", &ui.site.day(at, lang)),
            "accept",
            t(lang, "delivery_accept"),
        ),
        None => (
            t(lang, "delivery_accepted").to_owned(),
            "refuse",
            t(lang, "delivery_refuse"),
        ),
    };
    let body = format!(
        "<p>{}</p><p>{}</p><form method=\"post\" action=\"/mailbox/delivery\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"choice\" value=\"{choice}\"><p><button type=\"submit\">{}</button></p></form>",
        esc(&state),
        t(lang, "delivery_help"),
        esc(&session.csrf),
        button
    );
    page(cx, t(lang, "delivery"), me, &body)
}

#[derive(Debug, Deserialize)]
pub(super) struct ChoiceForm {
    csrf: String,
    choice: String,
}

pub(super) async fn choose_delivery(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<ChoiceForm>,
) -> Response {
    let lang = lang(&headers, None);
    let (_, session, person) = match logged_in_form(&ui, &headers, &form.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let refuse = match form.choice.as_str() {
        "refuse" => true,
        "accept" => false,
        _ => return bad_form(ui.cx(lang)),
    };
    if person.nrn.is_none() {
        return not_found(
            ui.cx(lang),
            Some(Me {
                session: &session,
                person: &person,
            }),
        );
    }
    let data = Arc::clone(&ui.data);
    match blocking(move || data.choose_delivery(&person, refuse)).await {
        Ok(()) => redirect("/mailbox/delivery", None),
        Err(e) => unavailable(ui.cx(lang), &e),
    }
}
