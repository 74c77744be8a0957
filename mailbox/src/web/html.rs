//! HTML rendering: escaping, dates, the page around every body, the security headers, and
//! the redirects and error pages.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::i18n::{Lang, t};
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

pub(super) fn parse_date(text: &str) -> Option<u64> {
    let mut parts = text.trim().split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days).ok().map(|d| d * 86_400)
}

/// A whole page. `session` (when logged in) adds the logout form and its CSRF token.
pub(super) fn page(lang: Lang, title: &str, logged_in: Option<&Session>, body: &str) -> Response {
    let other = match lang {
        Lang::Fr => "en",
        Lang::En => "fr",
    };
    let nav = match logged_in {
        Some(s) => format!(
            "<nav aria-label=\"menu\"><a href=\"/mailbox/inbox\">{}</a> <a href=\"/mailbox/mandates\">{}</a> <a href=\"/mailbox/delivery\">{}</a> <form method=\"post\" action=\"/mailbox/logout\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">{}</button></form></nav>",
            t(lang, "inbox"),
            t(lang, "mandates"),
            t(lang, "delivery"),
            esc(&s.csrf),
            t(lang, "logout")
        ),
        None => String::new(),
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} — {app}</title><link rel=\"stylesheet\" href=\"/mailbox/style.css\"></head><body><header><p class=\"app\">{app}</p>{nav}<p><a href=\"?lang={other}\" hreflang=\"{other}\" lang=\"{other}\">{other_name}</a></p></header><main><h1>{title}</h1>{body}</main></body></html>",
        code = lang.code(),
        app = t(lang, "title"),
        title = esc(title),
        other_name = t(lang, "other_lang"),
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

pub(super) fn redirect(to: &str, cookie: Option<String>, lang_cookie: Option<Lang>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(to) {
        h.insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.append(header::SET_COOKIE, c);
    }
    if let Some(l) = lang_cookie
        && let Ok(v) = HeaderValue::from_str(&format!(
            "lang={}; Path=/mailbox; Secure; SameSite=Strict",
            l.code()
        ))
    {
        h.append(header::SET_COOKIE, v);
    }
    secure_headers(h);
    response
}

pub(super) fn not_found(lang: Lang, session: Option<&Session>) -> Response {
    with_status(
        page(
            lang,
            t(lang, "not_found"),
            session,
            &format!("<p><a href=\"/mailbox/inbox\">{}</a></p>", t(lang, "back")),
        ),
        StatusCode::NOT_FOUND,
    )
}

pub(super) fn unavailable(lang: Lang, what: &DataError) -> Response {
    tracing::error!(error = %what, "mailbox: the service failed");
    with_status(
        page(lang, t(lang, "error"), None, ""),
        StatusCode::SERVICE_UNAVAILABLE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_go_both_ways() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_800_000_000), "2027-01-15 08:00 UTC");
        assert_eq!(parse_date("2027-01-15"), Some(1_800_000_000 - 8 * 3600));
        assert_eq!(parse_date("2027-13-01"), None);
        assert_eq!(parse_date("soon"), None);
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
