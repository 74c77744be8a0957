//! Mandates: the ones a person holds, and for the companies a person manages, granting and
//! revoking them.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::html::{Me, esc, not_found, page_with_error, redirect, unavailable, url, with_status};
use super::i18n::{Lang, lang, t};
use super::requests::{CsrfForm, LangQuery, blocking, logged_in, logged_in_form};
use super::{MailboxUi, now};
use crate::people::{Mandate, Person};
use crate::port::{Action, DataError};
use crate::sessions::Session;

pub(super) async fn mandates(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Only for who manages a company's mandates: for anyone else the page does not exist
    // (and no menu offers it).
    if person.manages.is_empty() {
        return not_found(
            ui.cx(lang),
            Some(Me {
                session: &session,
                person: &person,
            }),
        );
    }
    mandates_page(&ui, lang, &session, &person, None).await
}

async fn mandates_page(
    ui: &Arc<MailboxUi>,
    lang: Lang,
    session: &Session,
    person: &Person,
    error: Option<&str>,
) -> Response {
    let data = Arc::clone(&ui.data);
    let cx = ui.cx(lang);
    let list = match blocking(move || data.mandates()).await {
        Ok(l) => l,
        Err(e) => return unavailable(cx, &e),
    };
    let now = now();
    let mut body = String::new();
    let mine: Vec<&Mandate> = list.iter().filter(|m| m.person == person.login).collect();
    body.push_str("<h2>");
    body.push_str(t(lang, "mandates"));
    body.push_str("</h2><ul>");
    for m in &mine {
        body.push_str(&format!(
            "<li>{} — {} {}{}</li>",
            esc(&m.company),
            t(lang, "valid_until"),
            ui.site.day(m.valid_until, lang),
            if m.in_force(now) {
                String::new()
            } else {
                format!(" ({})", t(lang, "revoked"))
            }
        ));
    }
    body.push_str("</ul>");
    for company in &person.manages {
        body.push_str(&format!(
            "<h2>{} {}</h2><ul>",
            t(lang, "company"),
            esc(company)
        ));
        for m in list.iter().filter(|m| &m.company == company) {
            let revoke = if m.revoked_at.is_none() {
                format!(
                    "<form method=\"post\" action=\"/mailbox/mandates/{}/revoke\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form>",
                    url(&m.id),
                    esc(&session.csrf),
                    t(lang, "revoke")
                )
            } else {
                format!("({})", t(lang, "revoked"))
            };
            body.push_str(&format!(
                "<li>{} — {} — {} {} {revoke}</li>",
                esc(&m.person),
                if m.message_types.is_empty() {
                    t(lang, "all").to_owned()
                } else {
                    esc(&m.message_types.join(", "))
                },
                t(lang, "valid_until"),
                ui.site.day(m.valid_until, lang)
            ));
        }
        body.push_str(&format!(
            "</ul><form method=\"post\" action=\"/mailbox/mandates\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"company\" value=\"{}\"><p><label for=\"person-{0}\">{}</label><input id=\"person-{0}\" name=\"person\" required></p><p><label for=\"types-{0}\">{}</label><input id=\"types-{0}\" name=\"types\"></p><p><label for=\"until-{0}\">{}</label><input id=\"until-{0}\" name=\"until\" type=\"date\" required></p><p><button type=\"submit\">{}</button></p></form>",
            esc(&session.csrf),
            esc(company),
            t(lang, "person"),
            t(lang, "types"),
            t(lang, "until"),
            t(lang, "grant")
        ).replace("{0}", &url(company)));
    }
    page_with_error(
        cx,
        t(lang, "mandates"),
        Some(Me { session, person }),
        error,
        &body,
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct GrantForm {
    csrf: String,
    company: String,
    person: String,
    types: String,
    until: String,
}

pub(super) async fn grant_mandate(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Form(form): Form<GrantForm>,
) -> Response {
    let lang = lang(&headers, None);
    let (_, session, person) = match logged_in_form(&ui, &headers, &form.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !person.manages.contains(&form.company) {
        return not_found(
            ui.cx(lang),
            Some(Me {
                session: &session,
                person: &person,
            }),
        );
    }
    let now = now();
    let until = ui.site.end_of_day(&form.until);
    let data = Arc::clone(&ui.data);
    let grantee = form.person.trim().to_owned();
    let company = form.company.clone();
    let manager = person.clone();
    let types: Vec<String> = form
        .types
        .split(',')
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    let result = blocking(move || {
        let Some(until) = until.filter(|u| *u > now) else {
            return Ok(false);
        };
        if data.person(&grantee)?.is_none() {
            return Ok(false);
        }
        let mut random = [0u8; 16];
        aws_lc_rs::rand::fill(&mut random)
            .map_err(|_| DataError::Unavailable("no randomness".into()))?;
        let id: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let mandate = Mandate {
            id: format!("mandate-{id}"),
            company: company.clone(),
            person: grantee.clone(),
            message_types: types,
            valid_from: now,
            valid_until: until,
            revoked_at: None,
            granted_by: manager.login.clone(),
        };
        data.put_mandate(
            &mandate,
            Action {
                who: &manager.name,
                what: "mandate granted",
                ok: true,
                detail: &format!("{} to {grantee} for {company}", mandate.id),
            },
        )?;
        Ok(true)
    })
    .await;
    match result {
        Ok(true) => redirect("/mailbox/mandates", None),
        Ok(false) => with_status(
            mandates_page(&ui, lang, &session, &person, Some(t(lang, "bad_mandate"))).await,
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => unavailable(ui.cx(lang), &e),
    }
}

pub(super) async fn revoke_mandate(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Path(mandate_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let lang = lang(&headers, None);
    let (_, session, person) = match logged_in_form(&ui, &headers, &form.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let data = Arc::clone(&ui.data);
    let manager = person.clone();
    let result = blocking(move || {
        let Some(mut mandate) = data
            .mandates()?
            .into_iter()
            .find(|m| m.id == mandate_id && manager.manages.contains(&m.company))
        else {
            return Ok(false);
        };
        if mandate.revoked_at.is_none() {
            mandate.revoked_at = Some(now());
            data.put_mandate(
                &mandate,
                Action {
                    who: &manager.name,
                    what: "mandate revoked",
                    ok: true,
                    detail: &mandate.id,
                },
            )?;
        }
        Ok(true)
    })
    .await;
    match result {
        Ok(true) => redirect("/mailbox/mandates", None),
        Ok(false) => not_found(
            ui.cx(lang),
            Some(Me {
                session: &session,
                person: &person,
            }),
        ),
        Err(e) => unavailable(ui.cx(lang), &e),
    }
}
