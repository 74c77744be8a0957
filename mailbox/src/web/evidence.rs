//! Each evidence of a letter in plain words: what it proves ("Proof of opening"), what
//! happened and when, in the person's language and time zone.
//!
//! The words come from the evidence itself, as Sealpost wrote it (its canonical XML: the
//! first `ev:EventTime`, `ev:Delegate`, `ev:Reason`). This is what the page says, not a check:
//! the proof is checked by its seal, with `sealpost-verify`, which the page explains.

use super::html::Cx;
use super::i18n::{Lang, t};

/// The text of the first element `<ev:{name}>` of `xml`, unescaped.
fn field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<ev:{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find("</ev:")?;
    let raw = &xml[start..end];
    if raw.contains('<') {
        return None;
    }
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// An `xs:dateTime` in UTC (`2026-12-01T13:03:00Z`), as Unix seconds.
fn unix(text: &str) -> Option<u64> {
    let t: jiff::Timestamp = text.trim().parse().ok()?;
    u64::try_from(t.as_second()).ok()
}

/// What an evidence proves, in words: its name ("Proof of opening") and a sentence saying what
/// happened and when (plain text, to be escaped).
pub(super) fn explain(cx: Cx<'_>, event: &str, xml: &str) -> (&'static str, String) {
    let lang: Lang = cx.lang;
    let (name, says) = match event {
        "SubmissionAcceptance" => (
            t(lang, "ev_SubmissionAcceptance"),
            t(lang, "ev_SubmissionAcceptance_says"),
        ),
        "ContentConsignment" => (
            t(lang, "ev_ContentConsignment"),
            t(lang, "ev_ContentConsignment_says"),
        ),
        "ContentHandover" => (
            t(lang, "ev_ContentHandover"),
            t(lang, "ev_ContentHandover_says"),
        ),
        "SubmissionRejection" => (
            t(lang, "ev_SubmissionRejection"),
            t(lang, "ev_SubmissionRejection_says"),
        ),
        "ContentConsignmentFailure" => (
            t(lang, "ev_ContentConsignmentFailure"),
            t(lang, "ev_ContentConsignmentFailure_says"),
        ),
        _ => (t(lang, "ev_other"), t(lang, "ev_other_says")),
    };
    let date = field(xml, "EventTime")
        .as_deref()
        .and_then(unix)
        .map_or_else(
            || t(lang, "unknown_date").to_owned(),
            |at| cx.site.when(at, lang),
        );
    let who = field(xml, "Delegate").unwrap_or_else(|| t(lang, "someone").to_owned());
    let reason = field(xml, "Reason").unwrap_or_else(|| t(lang, "no_reason").to_owned());
    let sentence = says
        .replace("{date}", &date)
        .replace("{who}", &who)
        .replace("{reason}", &reason);
    (name, sentence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::site::brussels;

    const HANDOVER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ev:Evidence xmlns:ev=\"urn:x\" Version=\"2\"><ev:EvidenceId>e1</ev:EvidenceId><ev:EventCode>urn:x/Event/ContentHandover</ev:EventCode><ev:EventTime>2026-12-01T13:03:00Z</ev:EventTime><ev:Recipient><ev:Id>nrn:1</ev:Id><ev:Delegate>Jan Peeters (jan) &amp; co</ev:Delegate></ev:Recipient><ev:SubmissionTime>2026-11-30T08:00:00Z</ev:SubmissionTime></ev:Evidence>";

    #[test]
    fn an_opening_says_who_opened_the_letter_and_when_in_local_time() {
        let site = brussels();
        let en = Cx {
            lang: Lang::En,
            site: &site,
        };
        let (name, says) = explain(en, "ContentHandover", HANDOVER);
        assert_eq!(name, "Proof of opening");
        assert_eq!(
            says,
            "Jan Peeters (jan) & co opened this letter on 1 December 2026 at 14:03."
        );
        let nl = Cx {
            lang: Lang::Nl,
            site: &site,
        };
        let (name, says) = explain(nl, "SubmissionAcceptance", HANDOVER);
        assert_eq!(name, "Bewijs van verzending");
        assert_eq!(
            says,
            "de afzender heeft deze brief op 1 december 2026 om 14:03 aan Sealpost overhandigd."
        );
    }

    #[test]
    fn an_unreadable_time_is_said_so_never_made_up() {
        let site = brussels();
        let fr = Cx {
            lang: Lang::Fr,
            site: &site,
        };
        let (name, says) = explain(
            fr,
            "SubmissionRejection",
            "<ev:EventTime>soon</ev:EventTime>",
        );
        assert_eq!(name, "Refus du courrier");
        assert_eq!(
            says,
            "Sealpost a refusé ce courrier le (date illisible) : sans motif indiqué."
        );
        assert_eq!(field("<ev:Reason><x/></ev:Reason>", "Reason"), None);
    }
}
