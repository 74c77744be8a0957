//! HTML rendering: escaping, UTC dates (for the audit log's words), the page around every
//! body, the security headers, and the redirects and error pages.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, t};
use super::site::Site;
use crate::people::Person;
use crate::port::DataError;
use crate::sessions::Session;

pub(super) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) use crate::percent_encode as url;

pub(crate) fn date(unix: u64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm), UTC.
    let days = (unix / 86_400) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let secs = unix % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60
    )
}

/// What a page is rendered with: the language and the site around it.
#[derive(Clone, Copy)]
pub(super) struct Cx<'a> {
    pub(super) lang: Lang,
    pub(super) site: &'a Site,
}

/// The logged-in person a page is for: their session (the logout form's CSRF token) and who
/// they are (their name, and which pages they may use).
#[derive(Clone, Copy)]
pub(super) struct Me<'a> {
    pub(super) session: &'a Session,
    pub(super) person: &'a Person,
}

/// A whole page: the skip link, the header (the service and its operator, the languages, the
/// person's menu), the body under its one `h1`, the footer (the operator, its contact and
/// notices, the time zone).
pub(super) fn page(cx: Cx<'_>, title: &str, me: Option<Me<'_>>, body: &str) -> Response {
    page_with_error(cx, title, me, None, body)
}

/// A page with an error said once, in the body just under the title (and the window's title
/// starting with "Error", for a screen reader to hear first).
pub(super) fn page_with_error(
    cx: Cx<'_>,
    title: &str,
    me: Option<Me<'_>>,
    error: Option<&str>,
    body: &str,
) -> Response {
    let lang = cx.lang;
    let site = cx.site;
    let languages: String = Lang::ALL
        .into_iter()
        .map(|l| {
            if l == lang {
                format!(
                    "<li><span aria-current=\"true\" lang=\"{}\">{}</span></li>",
                    l.code(),
                    l.name()
                )
            } else {
                format!(
                    "<li><a href=\"?lang={0}\" hreflang=\"{0}\" lang=\"{0}\">{1}</a></li>",
                    l.code(),
                    l.name()
                )
            }
        })
        .collect();
    let menu = match me {
        Some(Me { session, person }) => {
            let mut items = format!(
                "<li><a href=\"/mailbox/inbox\">{}</a></li>",
                t(lang, "inbox")
            );
            if !person.manages.is_empty() {
                items.push_str(&format!(
                    "<li><a href=\"/mailbox/mandates\">{}</a></li>",
                    t(lang, "mandates")
                ));
            }
            if person.nrn.is_some() {
                items.push_str(&format!(
                    "<li><a href=\"/mailbox/delivery\">{}</a></li>",
                    t(lang, "delivery")
                ));
            }
            items.push_str(&format!(
                "<li><a href=\"/mailbox/help\">{}</a></li>",
                t(lang, "help")
            ));
            format!(
                "<nav aria-label=\"{}\" class=\"menu\"><ul>{items}</ul></nav><div class=\"who\"><p>{} <strong>{}</strong></p><form method=\"post\" action=\"/mailbox/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form></div>",
                t(lang, "menu"),
                t(lang, "logged_in_as"),
                esc(&person.name),
                esc(&session.csrf),
                t(lang, "logout")
            )
        }
        None => String::new(),
    };
    let error_html = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let window_title = match error {
        Some(_) => format!("{}: {}", t(lang, "error_title"), esc(title)),
        None => esc(title),
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{window_title} — {app}</title><link rel=\"stylesheet\" href=\"/mailbox/style.css\"></head><body><a class=\"skip\" href=\"#main\">{skip}</a><header><div class=\"brand\"><p class=\"app\"><a href=\"/mailbox/\">{app}</a></p><p class=\"operator\">{operated_by} {operator}</p></div><nav aria-label=\"{language}\" class=\"langs\"><ul>{languages}</ul></nav>{menu}</header><main id=\"main\" tabindex=\"-1\"><h1>{title}</h1>{error_html}{body}</main><footer><p><strong>{operator}</strong> · {contact_word}: {contact}</p><ul><li><a href=\"/mailbox/help\">{help}</a></li><li><a href=\"{privacy_url}\">{privacy}</a></li><li><a href=\"{legal_url}\">{legal}</a></li><li><a href=\"/provider/trusted-list.xml\">{trusted_list}</a></li></ul><p>{times}</p></footer></body></html>",
        code = lang.code(),
        app = t(lang, "title"),
        title = esc(title),
        skip = t(lang, "skip"),
        operated_by = t(lang, "operated_by"),
        operator = esc(&site.operator),
        language = t(lang, "language"),
        contact_word = t(lang, "contact"),
        contact = esc(&site.contact),
        help = t(lang, "help"),
        privacy_url = esc(&site.privacy_url),
        privacy = t(lang, "privacy"),
        legal_url = esc(&site.legal_url),
        legal = t(lang, "legal"),
        trusted_list = t(lang, "trusted_list"),
        times = esc(&t(lang, "times_in").replace("{zone}", site.zone_name())),
    );
    let mut response = (StatusCode::OK, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    response
}

pub(super) fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
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
}

pub(super) fn with_status(mut response: Response, status: StatusCode) -> Response {
    *response.status_mut() = status;
    response
}

pub(super) fn redirect(to: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(to) {
        h.insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.append(header::SET_COOKIE, c);
    }
    secure_headers(h);
    response
}

/// The page that does not exist (or that this person may not see: the same page).
pub(super) fn not_found(cx: Cx<'_>, me: Option<Me<'_>>) -> Response {
    let lang = cx.lang;
    with_status(
        page(
            cx,
            t(lang, "not_found"),
            me,
            &format!(
                "<p>{}</p><p><a href=\"/mailbox/\">{}</a></p>",
                t(lang, "not_found_intro"),
                t(lang, "open_mailbox")
            ),
        ),
        StatusCode::NOT_FOUND,
    )
}

pub(super) fn unavailable(cx: Cx<'_>, what: &DataError) -> Response {
    if let DataError::Refused {
        code: "SEALPOST-AUTHZ-001",
        ..
    } = what
    {
        // Refused for the login's authentication level: the person can do something about it.
        return with_status(
            page(
                cx,
                t(cx.lang, "stronger_login_title"),
                None,
                &format!("<p>{}</p>", t(cx.lang, "stronger_login")),
            ),
            StatusCode::FORBIDDEN,
        );
    }
    tracing::error!(error = %what, "mailbox: the service failed");
    with_status(
        page(cx, t(cx.lang, "error"), None, ""),
        StatusCode::SERVICE_UNAVAILABLE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_are_written_for_the_audit_log() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_800_000_000), "2027-01-15 08:00 UTC");
    }

    #[test]
    fn html_and_urls_are_escaped() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url("urn:uuid:1 2/3"), "urn%3Auuid%3A1%202%2F3");
    }
}
