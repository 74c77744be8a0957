//! The help page (what the mailbox is, logging in, the proofs and how to check them, whom to
//! contact, privacy, the legal notice) and the page that says one is logged out.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::MailboxUi;
use super::html::{Me, esc, page, redirect};
use super::i18n::{lang, t};
use super::requests::{LangQuery, logged_in, session_of};
use crate::sessions::Stage;

pub(super) async fn help(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    let site = &ui.site;
    let body = format!(
        "<p>{intro}</p><h2 id=\"login\">{login}</h2><p>{help_login}</p><p>{opening}</p><h2 id=\"check\">{check}</h2><p>{evidence_help}</p><p>{check_how}</p><pre><code>sealpost-verify {file}.xml --trust root-ca.pem --provider trusted-list.xml</code></pre><p>{check_ok}</p><p><a href=\"/provider/trusted-list.xml\" download=\"trusted-list.xml\">{trusted_list}</a></p><h2 id=\"contact\">{contact}</h2><p>{help_contact} <strong>{operator}</strong>, {contact_value}</p><h2 id=\"privacy\">{privacy}</h2><p>{privacy_text}</p><p>{privacy_more} <a href=\"{privacy_url}\">{privacy}</a></p><h2 id=\"legal\">{legal}</h2><p>{legal_notice}</p><p>{times}</p>",
        intro = t(lang, "help_intro"),
        login = t(lang, "login"),
        help_login = t(lang, "help_login"),
        opening = t(lang, "help_opening"),
        check = t(lang, "check_proof"),
        evidence_help = t(lang, "evidence_help"),
        check_how = t(lang, "check_how"),
        file = t(lang, "ev_file"),
        check_ok = t(lang, "check_ok"),
        trusted_list = t(lang, "trusted_list"),
        contact = t(lang, "contact"),
        help_contact = t(lang, "help_contact"),
        operator = esc(&site.operator),
        contact_value = esc(&site.contact),
        privacy = t(lang, "privacy"),
        privacy_text = t(lang, "privacy_text"),
        privacy_more = t(lang, "privacy_more"),
        privacy_url = esc(&site.privacy_url),
        legal = t(lang, "legal"),
        legal_notice = esc(&site.legal_notice),
        times = esc(&t(lang, "times_in").replace("{zone}", site.zone_name())),
    );
    let logged = matches!(
        session_of(&ui, &headers),
        Some((_, s)) if matches!(s.stage, Stage::LoggedIn { .. })
    );
    let me = if logged {
        logged_in(&ui, &headers).await.ok()
    } else {
        None
    };
    page(
        ui.cx(lang),
        t(lang, "help"),
        me.as_ref()
            .map(|(_, session, person)| Me { session, person }),
        &body,
    )
}

/// Where logging out ends: it says so, with a way back in.
pub(super) async fn logged_out(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    // Someone still logged in (another tab logged in again) is not told otherwise.
    if let Some((_, s)) = session_of(&ui, &headers)
        && matches!(s.stage, Stage::LoggedIn { .. })
    {
        return redirect("/mailbox/inbox", None);
    }
    page(
        ui.cx(lang),
        t(lang, "logged_out"),
        None,
        &format!(
            "<p role=\"status\">{}</p><p><a href=\"/mailbox/login\">{}</a></p>",
            t(lang, "logged_out_intro"),
            t(lang, "login_again")
        ),
    )
}
