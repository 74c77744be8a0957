//! One letter: its page (opening it), its documents and its evidences. All three go through
//! `readable`, so a letter the person may not read answers exactly as one that does not exist,
//! and then through `read` (the service's one operation for a letter's content: traced, the
//! first one sealing the handover), so no route hands out a letter without a trace.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::evidence::explain;
use super::html::{Me, esc, not_found, page, secure_headers, unavailable, url};
use super::i18n::{lang, t};
use super::requests::{LangQuery, blocking, logged_in};
use super::{MailboxUi, now};
use crate::people::{Access, Person, accesses};
use crate::port::{DataError, Letter, LetterContent, LetterPart};
use crate::sessions::{LoginMethod, Session};

/// The letter `id` if `person` may read it, with the access that allows it. Anything else
/// (no such letter, another mailbox, a type outside the mandate) is `None`: the same answer.
async fn readable(
    ui: &Arc<MailboxUi>,
    person: &Person,
    id: &str,
) -> Result<Option<(Letter, Access)>, DataError> {
    let data = Arc::clone(&ui.data);
    let person = person.clone();
    let id = id.to_owned();
    blocking(move || {
        let Some(letter) = data.letter(&id)? else {
            return Ok(None);
        };
        let mandates = data.mandates()?;
        Ok(accesses(&person, &mandates, now())
            .into_iter()
            .find(|a| a.mailbox == letter.mailbox && a.may_read(&letter.message_type))
            .map(|a| (letter, a)))
    })
    .await
}

pub(super) async fn letter(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Path(id): Path<String>,
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
    let (letter, access) = match readable(&ui, &person, &id).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(cx, me),
        Err(e) => return unavailable(cx, &e),
    };
    let (evidences, journal) =
        match read(&ui, &letter, (&person, &session), &access, LetterPart::Page).await {
            Ok(content) => (content.evidences, content.journal),
            Err(e) => return unavailable(cx, &e),
        };
    let mut body = format!(
        "<dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl><h2>{}</h2><ul class=\"files\">",
        t(lang, "sender"),
        esc(&letter.sender),
        t(lang, "received"),
        ui.site.when(letter.received_at, lang),
        t(lang, "mailbox"),
        esc(&letter.mailbox),
        t(lang, "documents")
    );
    for (i, d) in letter.documents.iter().enumerate() {
        body.push_str(&format!(
            "<li><a href=\"/mailbox/letter/{}/document/{i}\" download>{} {}</a> ({} {}) <br><span class=\"hash\">{}: <code>{}</code></span></li>",
            url(&letter.id),
            t(lang, "download"),
            esc(&d.name),
            d.size,
            t(lang, "size"),
            t(lang, "sha256"),
            esc(&d.sha256)
        ));
    }
    body.push_str(&format!(
        "</ul><h2>{}</h2><p>{}</p><ul class=\"evidences\">",
        t(lang, "evidences"),
        t(lang, "evidence_help")
    ));
    for (i, e) in evidences.iter().enumerate() {
        let (name, says) = explain(cx, &e.event, &e.xml);
        body.push_str(&format!(
            "<li><p><strong>{name}</strong>: {}</p><p><a href=\"/mailbox/letter/{}/evidence/{i}\" download>{} — {name} (XML)</a></p></li>",
            esc(&says),
            url(&letter.id),
            t(lang, "download"),
        ));
    }
    body.push_str(&format!(
        "</ul><h3>{}</h3><p>{}</p><pre><code>sealpost-verify {}.xml --trust root-ca.pem --provider trusted-list.xml</code></pre><p>{}</p><p><a href=\"/provider/trusted-list.xml\" download=\"trusted-list.xml\">{}</a> · <a href=\"/mailbox/help#check\">{}</a></p>",
        t(lang, "check_proof"),
        t(lang, "check_how"),
        esc(t(lang, "ev_file")),
        t(lang, "check_ok"),
        t(lang, "trusted_list"),
        t(lang, "help"),
    ));
    // The letter's access journal: every read, by whom, of what.
    body.push_str(&format!(
        "<h2>{}</h2><ul class=\"journal\">",
        t(lang, "journal")
    ));
    for line in &journal {
        body.push_str(&format!(
            "<li>{} — {} — {}</li>",
            ui.site.when(line.at, lang),
            esc(&line.who),
            esc(&line.what)
        ));
    }
    body.push_str(&format!(
        "</ul><p><a href=\"/mailbox/inbox?mailbox={}\">{}</a></p>",
        url(&letter.mailbox),
        t(lang, "back")
    ));
    page(cx, &letter.subject, me, &body)
}

/// Reads `part` of `letter` through the service: traced, the first read sealing the handover.
async fn read(
    ui: &Arc<MailboxUi>,
    letter: &Letter,
    (person, session): (&Person, &Session),
    access: &Access,
    part: LetterPart,
) -> Result<LetterContent, DataError> {
    let data = Arc::clone(&ui.data);
    // The mandate the letter is read under, for the handover to state.
    let mandate = access.mandate_for(&letter.message_type).cloned();
    let (id, who) = (letter.id.clone(), person.clone());
    // A session without its login method counts as the weakest login (level 0).
    let login = session.login_method.clone().unwrap_or(LoginMethod {
        how: "unknown".into(),
        level: 0,
    });
    blocking(move || data.read(&id, &who, mandate.as_ref(), &login, part)).await
}

fn download(bytes: Vec<u8>, name: &str, content_type: &'static str) -> Response {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    secure_headers(h);
    r
}

pub(super) async fn document(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let lang = lang(&headers, None);
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cx = ui.cx(lang);
    let me = Some(Me {
        session: &session,
        person: &person,
    });
    let (letter, access) = match readable(&ui, &person, &id).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(cx, me),
        Err(e) => return unavailable(cx, &e),
    };
    let Some(info) = letter.documents.get(n).cloned() else {
        return not_found(cx, me);
    };
    match read(
        &ui,
        &letter,
        (&person, &session),
        &access,
        LetterPart::Document(n),
    )
    .await
    {
        Ok(LetterContent {
            document: Some(bytes),
            ..
        }) => download(bytes, &info.name, "application/octet-stream"),
        Ok(_) => not_found(cx, me),
        Err(e) => unavailable(cx, &e),
    }
}

pub(super) async fn evidence(
    State(ui): State<Arc<MailboxUi>>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, usize)>,
) -> Response {
    let lang = lang(&headers, None);
    let (_, session, person) = match logged_in(&ui, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cx = ui.cx(lang);
    let me = Some(Me {
        session: &session,
        person: &person,
    });
    let (letter, access) = match readable(&ui, &person, &id).await {
        Ok(Some(v)) => v,
        Ok(None) => return not_found(cx, me),
        Err(e) => return unavailable(cx, &e),
    };
    match read(
        &ui,
        &letter,
        (&person, &session),
        &access,
        LetterPart::Evidence(n),
    )
    .await
    {
        Ok(content) => match content.evidences.into_iter().nth(n) {
            Some(e) => download(
                e.xml.into_bytes(),
                &format!("{}-{n}.xml", e.event),
                "application/xml",
            ),
            None => not_found(cx, me),
        },
        Err(e) => unavailable(cx, &e),
    }
}
