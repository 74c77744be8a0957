//! The inbox: the mailboxes a person may read, filtered by sender and state, a page at a time.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use super::html::{Me, esc, not_found, page, unavailable, url};
use super::i18n::{lang, t};
use super::requests::{blocking, logged_in};
use super::{MailboxUi, PAGE, now};
use crate::people::{Access, accesses};
use crate::port::Letter;

#[derive(Debug, Deserialize, Default)]
pub(super) struct InboxQuery {
    lang: Option<String>,
    mailbox: Option<String>,
    page: Option<usize>,
    sender: Option<String>,
    state: Option<String>,
}

/// The letters `access` lets the person see, newest first.
fn visible(letters: Vec<Letter>, access: &Access) -> Vec<Letter> {
    letters
        .into_iter()
        .filter(|l| access.may_read(&l.message_type))
        .collect()
}

pub(super) async fn inbox(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Query(q): Query<InboxQuery>,
) -> Response {
    let lang = lang(&headers, q.lang.as_deref());
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let sender = q.sender.clone().filter(|s| !s.is_empty());
    let state = q.state.clone().filter(|s| s == "read" || s == "unread");
    let data = Arc::clone(&ui.data);
    let person2 = person.clone();
    let mailbox_asked = q.mailbox.clone();
    let asked_page = q.page.unwrap_or(1).max(1);
    let (filter_sender, filter_state) = (sender.clone(), state.clone());
    let loaded = blocking(move || {
        let mandates = data.mandates()?;
        let all = accesses(&person2, &mandates, now());
        let chosen = match &mailbox_asked {
            Some(m) => all.iter().find(|a| &a.mailbox == m).cloned(),
            None => all.first().cloned(),
        };
        let senders = data.sender_names()?;
        let Some(access) = &chosen else {
            return Ok((all, chosen, senders, Vec::new(), 0, 1));
        };
        let unrestricted = access.unrestricted();
        if unrestricted && filter_sender.is_none() && filter_state.is_none() {
            // Only the page shown is read: a full mailbox costs what an empty one does.
            let (page, total) =
                data.letters_page(&access.mailbox, (asked_page - 1) * PAGE, PAGE)?;
            let page_no = asked_page.min(total.div_ceil(PAGE).max(1));
            if page_no == asked_page {
                return Ok((all, chosen, senders, page, total, page_no));
            }
            // Past the end: the last page instead.
            let (page, total) = data.letters_page(&access.mailbox, (page_no - 1) * PAGE, PAGE)?;
            return Ok((all, chosen, senders, page, total, page_no));
        }
        let filtered: Vec<Letter> = visible(data.letters(&access.mailbox)?, access)
            .into_iter()
            .filter(|l| filter_sender.as_ref().is_none_or(|s| &l.sender == s))
            .filter(|l| match filter_state.as_deref() {
                Some("read") => l.opened,
                Some("unread") => !l.opened,
                _ => true,
            })
            .collect();
        let total = filtered.len();
        let page_no = asked_page.min(total.div_ceil(PAGE).max(1));
        let page = filtered
            .into_iter()
            .skip((page_no - 1) * PAGE)
            .take(PAGE)
            .collect();
        Ok((all, chosen, senders, page, total, page_no))
    })
    .await;
    let (all, chosen, senders, shown, total, page_no) = match loaded {
        Ok(v) => v,
        Err(e) => return unavailable(ui.cx(lang), &e),
    };
    let me = Some(Me {
        session: &session,
        person: &person,
    });
    if q.mailbox.is_some() && chosen.is_none() {
        return not_found(ui.cx(lang), me);
    }
    let sender = sender.as_deref();
    let state = state.as_deref();
    let pages = total.div_ceil(PAGE).max(1);
    let mailbox = chosen
        .as_ref()
        .map(|a| a.mailbox.clone())
        .unwrap_or_default();
    let link = |p: usize| {
        format!(
            "/mailbox/inbox?mailbox={}&amp;page={p}&amp;sender={}&amp;state={}",
            url(&mailbox),
            url(sender.unwrap_or("")),
            state.unwrap_or("")
        )
    };
    let mut body = String::new();
    if person
        .deletion_cancelled_at
        .is_some_and(|at| now().saturating_sub(at) < 30 * 86_400)
    {
        body.push_str(&format!(
            "<p class=\"notice\" role=\"status\">{}</p>",
            t(lang, "deletion_cancelled")
        ));
    }
    if all.len() > 1 {
        body.push_str(&format!(
            "<nav aria-label=\"{}\"><ul class=\"boxes\">",
            t(lang, "mailboxes")
        ));
        for a in &all {
            let current = if a.mailbox == mailbox {
                " aria-current=\"page\""
            } else {
                ""
            };
            body.push_str(&format!(
                "<li><a href=\"/mailbox/inbox?mailbox={}\"{current}>{}</a></li>",
                url(&a.mailbox),
                esc(&a.mailbox)
            ));
        }
        body.push_str("</ul></nav>");
    }
    body.push_str(&format!(
        "<p>{}: <strong>{}</strong></p><form method=\"get\" action=\"/mailbox/inbox\" class=\"filters\"><input type=\"hidden\" name=\"mailbox\" value=\"{}\"><p><label for=\"sender\">{}</label><select id=\"sender\" name=\"sender\"><option value=\"\">{}</option>",
        t(lang, "mailbox"),
        esc(&mailbox),
        esc(&mailbox),
        t(lang, "sender"),
        t(lang, "all")
    ));
    for s in &senders {
        let selected = if Some(s.as_str()) == sender {
            " selected"
        } else {
            ""
        };
        body.push_str(&format!(
            "<option value=\"{}\"{selected}>{}</option>",
            esc(s),
            esc(s)
        ));
    }
    body.push_str(&format!(
        "</select></p><p><label for=\"state\">{}</label><select id=\"state\" name=\"state\"><option value=\"\">{}</option><option value=\"unread\"{}>{}</option><option value=\"read\"{}>{}</option></select></p><p><button type=\"submit\">{}</button></p></form>",
        t(lang, "state"),
        t(lang, "all"),
        if state == Some("unread") { " selected" } else { "" },
        t(lang, "unread"),
        if state == Some("read") { " selected" } else { "" },
        t(lang, "read"),
        t(lang, "filter")
    ));
    if shown.is_empty() {
        body.push_str(&format!("<p>{}</p>", t(lang, "none")));
    } else {
        body.push_str(&format!(
            "<table><caption>{} — {} {page_no} / {pages}</caption><thead><tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
            t(lang, "letters"),
            t(lang, "page"),
            t(lang, "sender"),
            t(lang, "subject"),
            t(lang, "received"),
            t(lang, "state"),
        ));
        for l in shown {
            let (state_text, class) = if l.opened {
                (t(lang, "read"), "read")
            } else {
                (t(lang, "unread"), "unread")
            };
            body.push_str(&format!(
                "<tr class=\"{class}\"><td>{}</td><td><a href=\"/mailbox/letter/{}\">{}</a></td><td>{}</td><td>{state_text} · {}</td></tr>",
                esc(&l.sender),
                url(&l.id),
                esc(&l.subject),
                ui.site.when(l.received_at, lang),
                t(lang, "registered")
            ));
        }
        body.push_str("</tbody></table>");
        body.push_str(&format!(
            "<nav aria-label=\"{}\" class=\"pages\">",
            t(lang, "pages")
        ));
        if page_no > 1 {
            body.push_str(&format!(
                "<a href=\"{}\" rel=\"prev\">{}</a> ",
                link(page_no - 1),
                t(lang, "previous")
            ));
        }
        if page_no < pages {
            body.push_str(&format!(
                "<a href=\"{}\" rel=\"next\">{}</a>",
                link(page_no + 1),
                t(lang, "next")
            ));
        }
        body.push_str("</nav>");
    }
    page(ui.cx(lang), t(lang, "inbox"), me, &body)
}
