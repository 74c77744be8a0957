//! MTOM/XOP on the SOAP channel (W3C XOP 1.0, SOAP MTOM): a request may carry its documents
//! as binary MIME parts of a `multipart/related` body, each referred to from the envelope by an
//! `xop:Include` element in place of the base64 text.
//!
//! Before anything reads the envelope, the XOP package is turned back into the envelope as it
//! was before optimisation (XOP's reconstituted infoset): each `xop:Include` is replaced by the
//! base64 of the part it refers to. The WS-Security signature is then verified over, and the
//! operation read from, that base64 form, as WSS4J and CXF do, so a signature never covers
//! anything but the bytes that are read. Everything here is a pure function of the request's
//! Content-Type and body, and anything unexpected is refused. The body is read into parts by
//! [`super::mime`] (with its rules and limits); on top of it:
//!
//! - the body is `multipart/related; type="application/xop+xml"; boundary=...` with optional
//!   `start` (the root's Content-ID, else the first part is the root) and `start-info`;
//! - the root part is `application/xop+xml` with `type` `text/xml` (SOAP 1.1) or
//!   `application/soap+xml` (SOAP 1.2), in UTF-8;
//! - every other part has a unique Content-ID and is referred to by exactly one
//!   `xop:Include href="cid:..."` (RFC 2392: the URL is percent-decoded and compared, byte for
//!   byte, with the Content-ID without its angle brackets);
//! - an `xop:Include` is the only child of its element, empty, with `href` as its only
//!   attribute; no other element or attribute is in the XOP namespace;
//! - the reconstituted envelope is no larger than a plain request may be.

use std::ops::Range;

use roxmltree::Node;
use sealpost_xmldsig::dsig::base64_encode;
use sealpost_xmldsig::wss::SoapVersion;
use sealpost_xmldsig::{Limits, XmlError, parse};

pub use super::mime::is_multipart_related;
use super::mime::{MediaType, MimeError, content_id, parse_multipart, shown};

/// The namespace of `xop:Include`.
pub const NS_XOP: &str = "http://www.w3.org/2004/08/xop/include";

/// Why an XOP package is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XopError {
    /// The package breaks MIME, XOP or this service's rules.
    #[error("MTOM/XOP: {0}")]
    Invalid(String),
    /// The envelope, with its attachments inline, is larger than a request may be.
    #[error("MTOM/XOP: {0}")]
    TooLarge(String),
}

impl From<MimeError> for XopError {
    fn from(e: MimeError) -> Self {
        XopError::Invalid(e.0)
    }
}

fn invalid<T>(what: impl Into<String>) -> Result<T, XopError> {
    Err(XopError::Invalid(what.into()))
}

/// The SOAP version a `multipart/related` Content-Type announces in `start-info`, for faults
/// before the root part is read: SOAP 1.2 for `application/soap+xml`, else SOAP 1.1.
pub fn announced_version(content_type: &str) -> SoapVersion {
    let start_info = MediaType::parse(content_type)
        .ok()
        .and_then(|m| m.parameter("start-info").map(MediaType::parse))
        .and_then(Result::ok);
    match start_info {
        Some(info) if info.essence == "application/soap+xml" => SoapVersion::Soap12,
        _ => SoapVersion::Soap11,
    }
}

/// The Content-ID a `cid:` URL names (RFC 2392): the URL without its scheme, percent-decoded.
fn cid(href: &str) -> Result<String, XopError> {
    let refused = || {
        invalid(format!(
            "xop:Include href {:?} is not a cid: URL",
            shown(href)
        ))
    };
    let Some(encoded) = href
        .get(..4)
        .filter(|scheme| scheme.eq_ignore_ascii_case("cid:"))
        .map(|_| &href[4..])
    else {
        return refused();
    };
    let bytes = encoded.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
            let (Some(high), Some(low)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                return refused();
            };
            decoded.extend(u8::try_from(high * 16 + low).ok());
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    match String::from_utf8(decoded) {
        Ok(id) if !id.is_empty() => Ok(id),
        _ => refused(),
    }
}

/// An XOP package read from a request: the root part (the optimised envelope) and the
/// attachments it refers to.
#[derive(Debug)]
pub struct Package<'a> {
    root: &'a [u8],
    version: SoapVersion,
    /// The other parts: Content-ID and octets.
    attachments: Vec<(String, &'a [u8])>,
}

/// The essence of a media type given as a parameter value (`type`, `start-info`), which may
/// itself carry parameters (`application/soap+xml; action=...`).
fn essence_of(value: &str) -> Result<String, XopError> {
    Ok(MediaType::parse(value)?.essence)
}

/// Reads the XOP package of a `multipart/related` request: the root part (by `start`, else the
/// first), its SOAP version, and the attachments.
pub fn read_package<'a>(content_type: &str, body: &'a [u8]) -> Result<Package<'a>, XopError> {
    let media = MediaType::parse(content_type)?;
    if media.essence != "multipart/related" {
        return invalid(format!("{} is not multipart/related", media.essence));
    }
    match media.parameter("type").map(essence_of).transpose()? {
        Some(kind) if kind == "application/xop+xml" => {}
        _ => return invalid("multipart/related must have type=\"application/xop+xml\""),
    }
    let Some(boundary) = media.parameter("boundary") else {
        return invalid("multipart/related without a boundary");
    };
    let start = media.parameter("start").map(content_id).transpose()?;
    let mut parts = parse_multipart(body, boundary)?;
    for (i, part) in parts.iter().enumerate() {
        if let Some(id) = &part.content_id
            && parts[..i].iter().any(|p| p.content_id.as_ref() == Some(id))
        {
            return invalid(format!("two parts have Content-ID <{}>", shown(id)));
        }
    }
    let root_index = match &start {
        None => 0,
        Some(id) => match parts.iter().position(|p| p.content_id.as_ref() == Some(id)) {
            Some(i) => i,
            None => return invalid(format!("no part is the root <{}> (start)", shown(id))),
        },
    };
    let root = parts.remove(root_index);
    let Some(root_type) = &root.content_type else {
        return invalid("the root part has no Content-Type");
    };
    if root_type.essence != "application/xop+xml" {
        return invalid(format!(
            "the root part is {}, not application/xop+xml",
            root_type.essence
        ));
    }
    if root_type
        .parameter("charset")
        .is_some_and(|charset| !charset.eq_ignore_ascii_case("utf-8"))
    {
        return invalid("the root part is not UTF-8");
    }
    let envelope_type = root_type.parameter("type").map(essence_of).transpose()?;
    let version = match envelope_type.as_deref() {
        Some("text/xml") => SoapVersion::Soap11,
        Some("application/soap+xml") => SoapVersion::Soap12,
        _ => {
            return invalid(
                "the root part's type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)",
            );
        }
    };
    if let Some(info) = media.parameter("start-info").map(essence_of).transpose()?
        && Some(&info) != envelope_type.as_ref()
    {
        return invalid("start-info does not match the root part's type");
    }
    let attachments = parts
        .into_iter()
        .map(|part| match part.content_id {
            Some(id) => Ok((id, part.body)),
            None => invalid("a part has no Content-ID, so nothing can refer to it"),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Package {
        root: root.body,
        version,
        attachments,
    })
}

/// The length of the base64 of `n` octets (with padding).
fn base64_len(n: usize) -> Option<usize> {
    n.div_ceil(3).checked_mul(4)
}

impl Package<'_> {
    /// The SOAP version the root part's type announces.
    pub fn version(&self) -> SoapVersion {
        self.version
    }

    /// The envelope as it was before optimisation: the root part with each `xop:Include`
    /// replaced by the canonical base64 of the part it refers to (XOP 1.0 §3.2), everything
    /// else byte for byte. The root is parsed under `limits`, and the result may be no larger
    /// than `limits.max_bytes`, the size a plain request may have.
    pub fn reconstitute(&self, limits: &Limits) -> Result<String, XopError> {
        let Ok(text) = std::str::from_utf8(self.root) else {
            return invalid("the root part is not UTF-8");
        };
        let doc = parse(text, limits).map_err(|e| match e {
            XmlError::TooLarge(_) => XopError::TooLarge(format!("the root part: {e}")),
            other => XopError::Invalid(format!("the root part: {other}")),
        })?;
        let mut referred = vec![false; self.attachments.len()];
        let mut inclusions: Vec<(Range<usize>, usize)> = Vec::new();
        for node in doc.descendants().filter(Node::is_element) {
            if node.attributes().any(|a| a.namespace() == Some(NS_XOP)) {
                return invalid("an attribute is in the XOP namespace");
            }
            if node.tag_name().namespace() != Some(NS_XOP) {
                continue;
            }
            if node.tag_name().name() != "Include" {
                return invalid(format!(
                    "xop:{} is not an XOP element",
                    shown(node.tag_name().name())
                ));
            }
            let only_child = node
                .parent()
                .filter(Node::is_element)
                .is_some_and(|parent| parent.children().count() == 1);
            if !only_child {
                return invalid("an xop:Include must be the only content of its element");
            }
            if node.has_children() {
                return invalid("an xop:Include must be empty");
            }
            let mut attributes = node.attributes();
            let href = match (attributes.next(), attributes.next()) {
                (Some(a), None) if a.namespace().is_none() && a.name() == "href" => a.value(),
                _ => return invalid("an xop:Include must have an href attribute and no other"),
            };
            let id = cid(href)?;
            let Some(index) = self.attachments.iter().position(|(cid, _)| *cid == id) else {
                return invalid(format!(
                    "xop:Include refers to <{}>, which no part has",
                    shown(&id)
                ));
            };
            if std::mem::replace(&mut referred[index], true) {
                return invalid(format!("part <{}> is referred to twice", shown(&id)));
            }
            inclusions.push((node.range(), index));
        }
        if let Some(index) = referred.iter().position(|r| !r) {
            return invalid(format!(
                "part <{}> is never referred to",
                shown(&self.attachments[index].0)
            ));
        }
        let size = inclusions
            .iter()
            .try_fold(text.len(), |size, (range, index)| {
                size.checked_sub(range.len())?
                    .checked_add(base64_len(self.attachments[*index].1.len())?)
            });
        let size = match size {
            Some(size) if size <= limits.max_bytes => size,
            _ => {
                return Err(XopError::TooLarge(format!(
                    "the envelope with its attachments inline is larger than {} bytes",
                    limits.max_bytes
                )));
            }
        };
        let mut envelope = String::with_capacity(size);
        let mut copied = 0;
        for (range, index) in &inclusions {
            envelope.push_str(&text[copied..range.start]);
            envelope.push_str(&base64_encode(self.attachments[*index].1));
            copied = range.end;
        }
        envelope.push_str(&text[copied..]);
        Ok(envelope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::mime::find;

    const BOUNDARY: &str = "MIMEBoundary_sealpost";
    const CONTENT_TYPE: &str = "multipart/related; type=\"application/xop+xml\"; boundary=MIMEBoundary_sealpost; start=\"<root@sealpost.test>\"; start-info=\"text/xml\"";
    const ROOT_TYPE: &str = "application/xop+xml; charset=UTF-8; type=\"text/xml\"";
    /// Octets that are not UTF-8 and hold CR, LF and dashes (but no delimiter).
    const PDF: &[u8] = b"%PDF-1.7\r\n--\xff\xfe\x00binary\r\n-- MIMEBoundary\n\x80";

    fn envelope(content: &str) -> String {
        format!(
            "<env:Envelope xmlns:env=\"http://schemas.xmlsoap.org/soap/envelope/\"><env:Body><sp:Document xmlns:sp=\"urn:sealpost:v1\"><sp:Id>d1</sp:Id><sp:Content>{content}</sp:Content></sp:Document></env:Body></env:Envelope>"
        )
    }

    fn include(href: &str) -> String {
        format!("<xop:Include xmlns:xop=\"{NS_XOP}\" href=\"{href}\"/>")
    }

    /// A multipart body: each part is its header lines and its octets.
    fn multipart(parts: &[(&[&str], &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (headers, octets) in parts {
            body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
            for header in *headers {
                body.extend_from_slice(format!("{header}\r\n").as_bytes());
            }
            body.extend_from_slice(b"\r\n");
            body.extend_from_slice(octets);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        body
    }

    /// A package: the root with `root_xml`, then `attachments` (Content-ID header values).
    fn package_body(root_xml: &str, attachments: &[(&str, &[u8])]) -> Vec<u8> {
        let root_type = format!("Content-Type: {ROOT_TYPE}");
        let root_headers = [root_type.as_str(), "Content-ID: <root@sealpost.test>"];
        let headers: Vec<[String; 3]> = attachments
            .iter()
            .map(|(id, _)| {
                [
                    "Content-Type: application/pdf".to_owned(),
                    "Content-Transfer-Encoding: binary".to_owned(),
                    format!("Content-ID: {id}"),
                ]
            })
            .collect();
        let header_refs: Vec<Vec<&str>> = headers
            .iter()
            .map(|h| h.iter().map(String::as_str).collect())
            .collect();
        let mut parts: Vec<(&[&str], &[u8])> = vec![(&root_headers, root_xml.as_bytes())];
        for (headers, (_, octets)) in header_refs.iter().zip(attachments) {
            parts.push((headers, octets));
        }
        multipart(&parts)
    }

    fn reconstituted(content_type: &str, body: &[u8]) -> Result<String, XopError> {
        read_package(content_type, body)?.reconstitute(&Limits::default())
    }

    fn refused(result: Result<impl std::fmt::Debug, XopError>, needle: &str) {
        match result {
            Err(XopError::Invalid(detail)) => {
                assert!(detail.contains(needle), "{detail:?} lacks {needle:?}")
            }
            other => panic!("expected a refusal ({needle}), got {other:?}"),
        }
    }

    #[test]
    fn the_soap_version_is_recognised_from_the_header() {
        assert!(is_multipart_related(CONTENT_TYPE));
        assert_eq!(announced_version(CONTENT_TYPE), SoapVersion::Soap11);
        assert_eq!(
            announced_version(
                "multipart/related; type=\"application/xop+xml\"; boundary=b; start-info=\"application/soap+xml\"; action=\"urn:a\""
            ),
            SoapVersion::Soap12
        );
        assert_eq!(
            announced_version("multipart/related; ;"),
            SoapVersion::Soap11
        );
    }

    #[test]
    fn the_envelope_is_reconstituted_with_the_base64_of_each_part() {
        let original = envelope(&base64_encode(PDF));
        let optimised = envelope(&include("cid:doc%401@sealpost.test"));
        let body = package_body(&optimised, &[("<doc@1@sealpost.test>", PDF)]);
        assert_eq!(reconstituted(CONTENT_TYPE, &body), Ok(original));

        // Two documents, the root not first, an explicit end tag, an empty attachment.
        let two = format!(
            "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:xop=\"{NS_XOP}\"><env:Body><a><xop:Include href=\"cid:two\"></xop:Include></a><b><xop:Include href='CID:one'/></b></env:Body></env:Envelope>"
        );
        let body = multipart(&[
            (&["Content-ID: <one>"], PDF),
            (
                &[
                    "Content-ID: <root>",
                    "Content-Type: application/xop+xml; type=\"application/soap+xml; action=\\\"urn:x\\\"\"",
                ],
                two.as_bytes(),
            ),
            (&["Content-ID: <two>"], b""),
        ]);
        let content_type = "multipart/related; type=\"application/xop+xml\"; boundary=\"MIMEBoundary_sealpost\"; start=\"<root>\"; start-info=\"application/soap+xml\"";
        let package = read_package(content_type, &body).expect("package");
        assert_eq!(package.version(), SoapVersion::Soap12);
        assert_eq!(
            package.reconstitute(&Limits::default()),
            Ok(format!(
                "<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:xop=\"{NS_XOP}\"><env:Body><a></a><b>{}</b></env:Body></env:Envelope>",
                base64_encode(PDF)
            ))
        );

        // Without start, the first part is the root; a package without attachments is the
        // envelope itself.
        let plain = envelope("AAAA");
        let body = multipart(&[(&[&format!("Content-Type: {ROOT_TYPE}")], plain.as_bytes())]);
        assert_eq!(
            reconstituted(
                "multipart/related; type=\"application/xop+xml\"; boundary=MIMEBoundary_sealpost",
                &body
            ),
            Ok(plain)
        );
    }

    #[test]
    fn packages_that_break_the_rules_are_refused() {
        let optimised = envelope(&include("cid:doc@sealpost.test"));
        let good = package_body(&optimised, &[("<doc@sealpost.test>", PDF)]);
        assert!(reconstituted(CONTENT_TYPE, &good).is_ok());

        let headers = [
            (
                "multipart/related; type=\"application/xop+xml\"",
                "without a boundary",
            ),
            ("multipart/related; boundary=MIMEBoundary_sealpost", "type="),
            (
                "multipart/related; type=\"text/xml\"; boundary=MIMEBoundary_sealpost",
                "type=",
            ),
            (
                "multipart/mixed; type=\"application/xop+xml\"; boundary=MIMEBoundary_sealpost",
                "not multipart/related",
            ),
            (
                "multipart/related; type=\"application/xop+xml\"; boundary=MIMEBoundary_sealpost; start=\"<nope>\"",
                "no part is the root",
            ),
            (
                "multipart/related; type=\"application/xop+xml\"; boundary=MIMEBoundary_sealpost; start=root.sealpost.test",
                "malformed Content-ID",
            ),
            (
                "multipart/related; type=\"application/xop+xml\"; boundary=MIMEBoundary_sealpost; start=\"<root@sealpost.test>\"; start-info=\"application/soap+xml\"",
                "start-info",
            ),
            (
                "multipart/related; type=\"application/xop+xml\"; boundary=other",
                "no multipart boundary",
            ),
        ];
        for (content_type, needle) in headers {
            refused(reconstituted(content_type, &good), needle);
        }

        let root_types = [
            ("text/xml; charset=UTF-8", "not application/xop+xml"),
            (
                "application/xop+xml; charset=ISO-8859-1; type=\"text/xml\"",
                "not UTF-8",
            ),
            ("application/xop+xml; charset=UTF-8", "type must be"),
            (
                "application/xop+xml; type=\"application/xml\"",
                "type must be",
            ),
        ];
        for (root_type, needle) in root_types {
            let content_type = format!("Content-Type: {root_type}");
            let body = multipart(&[
                (
                    &[&content_type, "Content-ID: <root@sealpost.test>"],
                    optimised.as_bytes(),
                ),
                (&["Content-ID: <doc@sealpost.test>"], PDF),
            ]);
            refused(reconstituted(CONTENT_TYPE, &body), needle);
        }
        let body = multipart(&[
            (&["Content-ID: <root@sealpost.test>"], optimised.as_bytes()),
            (&["Content-ID: <doc@sealpost.test>"], PDF),
        ]);
        refused(reconstituted(CONTENT_TYPE, &body), "no Content-Type");

        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                package_body(&optimised, &[("<other@sealpost.test>", PDF)]),
                "which no part has",
            ),
            (package_body(&optimised, &[]), "which no part has"),
            (
                package_body(
                    &optimised,
                    &[("<doc@sealpost.test>", PDF), ("<doc@sealpost.test>", PDF)],
                ),
                "two parts have Content-ID",
            ),
            (
                package_body(
                    &optimised,
                    &[("<doc@sealpost.test>", PDF), ("<extra@sealpost.test>", PDF)],
                ),
                "never referred to",
            ),
            (
                package_body(
                    &envelope(&format!(
                        "</sp:Content><sp:Content>{}",
                        include("cid:doc@sealpost.test")
                    ))
                    .replace(
                        "<sp:Content></sp:Content>",
                        &format!(
                            "<sp:Content>{}</sp:Content>",
                            include("cid:doc@sealpost.test")
                        ),
                    ),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "referred to twice",
            ),
            (
                package_body(
                    &envelope(&format!(" {}", include("cid:doc@sealpost.test"))),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "only content",
            ),
            (
                package_body(
                    &envelope(&format!("{}<x/>", include("cid:doc@sealpost.test"))),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "only content",
            ),
            (
                package_body(
                    &envelope(&format!("{}<!--c-->", include("cid:doc@sealpost.test"))),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "only content",
            ),
            (
                package_body(
                    &format!(
                        "<xop:Include xmlns:xop=\"{NS_XOP}\" href=\"cid:doc@sealpost.test\"/>"
                    ),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "only content",
            ),
            (
                package_body(
                    &envelope(&format!(
                        "<xop:Include xmlns:xop=\"{NS_XOP}\" href=\"cid:doc@sealpost.test\">AAAA</xop:Include>"
                    )),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "must be empty",
            ),
            (
                package_body(
                    &envelope(&format!(
                        "<xop:Include xmlns:xop=\"{NS_XOP}\" href=\"cid:doc@sealpost.test\" id=\"x\"/>"
                    )),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "no other",
            ),
            (
                package_body(
                    &envelope(&format!("<xop:Include xmlns:xop=\"{NS_XOP}\"/>")),
                    &[],
                ),
                "no other",
            ),
            (
                package_body(
                    &envelope(&format!(
                        "<xop:Include xmlns:xop=\"{NS_XOP}\" xop:href=\"cid:doc@sealpost.test\"/>"
                    )),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "attribute is in the XOP namespace",
            ),
            (
                package_body(
                    &envelope(&format!("<xop:Other xmlns:xop=\"{NS_XOP}\"/>")),
                    &[],
                ),
                "not an XOP element",
            ),
            (
                package_body(
                    &envelope(&include("http://example.test/doc")),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "not a cid: URL",
            ),
            (
                package_body(
                    &envelope(&include("cid:doc%4")),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "not a cid: URL",
            ),
            (
                package_body(
                    &envelope(&include("cid:doc%+4")),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "not a cid: URL",
            ),
            (
                package_body(
                    &envelope(&include("cid:%ff")),
                    &[("<doc@sealpost.test>", PDF)],
                ),
                "not a cid: URL",
            ),
            (
                package_body(&envelope(&include("cid:")), &[("<doc@sealpost.test>", PDF)]),
                "not a cid: URL",
            ),
            (package_body("<a>\u{0}</a>", &[]), "the root part"),
            (package_body("<!DOCTYPE a><a/>", &[]), "DOCTYPE"),
        ];
        for (body, needle) in cases {
            refused(reconstituted(CONTENT_TYPE, &body), needle);
        }
        let mut latin1 = package_body(&envelope("AAAA"), &[]);
        let at = find(&latin1, b"AAAA", 0).expect("content");
        latin1[at] = 0xe9;
        refused(reconstituted(CONTENT_TYPE, &latin1), "not UTF-8");
    }

    #[test]
    fn the_reconstituted_envelope_is_no_larger_than_a_plain_request() {
        let optimised = envelope(&include("cid:doc@sealpost.test"));
        let attachment = vec![7u8; 3000];
        let body = package_body(&optimised, &[("<doc@sealpost.test>", &attachment)]);
        let package = read_package(CONTENT_TYPE, &body).expect("package");
        let exact = package
            .reconstitute(&Limits::default())
            .expect("reconstituted")
            .len();
        let limits = |max_bytes| Limits {
            max_bytes,
            ..Limits::default()
        };
        assert_eq!(
            package.reconstitute(&limits(exact)).map(|e| e.len()),
            Ok(exact)
        );
        assert!(matches!(
            package.reconstitute(&limits(exact - 1)),
            Err(XopError::TooLarge(_))
        ));
        assert!(matches!(
            package.reconstitute(&limits(optimised.len() - 1)),
            Err(XopError::TooLarge(_))
        ));
    }

    #[test]
    fn every_truncation_or_corruption_of_a_package_is_refused_without_panicking() {
        let optimised = envelope(&include("cid:doc@sealpost.test"));
        let body = package_body(&optimised, &[("<doc@sealpost.test>", PDF)]);
        let original = reconstituted(CONTENT_TYPE, &body).expect("reconstituted");
        // The close delimiter's trailing CRLF is epilogue: cutting it changes nothing.
        for cut in 0..body.len() - 2 {
            assert!(
                reconstituted(CONTENT_TYPE, &body[..cut]).is_err(),
                "a package cut at {cut} was accepted"
            );
        }
        // Any byte changed: never a panic; a change inside the envelope's text or the
        // attachment's octets is refused or gives another envelope, never the original one
        // (a change in a header may be harmless, e.g. a space turned into a dash before a
        // parameter nobody reads).
        let root_at = find(&body, optimised.as_bytes(), 0).expect("root");
        let pdf_at = find(&body, PDF, root_at).expect("attachment");
        // Inside the xop:Include tag, a space may become another white space harmlessly.
        let tag = include("cid:doc@sealpost.test");
        let tag_at = find(&body, tag.as_bytes(), root_at).expect("include");
        let content = |at: usize| {
            ((root_at..root_at + optimised.len()).contains(&at)
                && !(tag_at..tag_at + tag.len()).contains(&at))
                || (pdf_at..pdf_at + PDF.len()).contains(&at)
        };
        let mut changes_inside = 0;
        for at in 0..body.len() {
            for replacement in [b'\r', b'\n', b'-', b'<', 0xff] {
                if body[at] == replacement {
                    continue;
                }
                let mut changed = body.clone();
                changed[at] = replacement;
                let result = reconstituted(CONTENT_TYPE, &changed);
                if content(at) {
                    changes_inside += 1;
                    assert_ne!(
                        result.as_ref(),
                        Ok(&original),
                        "byte {at} changed to {replacement}"
                    );
                }
            }
        }
        assert!(changes_inside > 1000, "{changes_inside}");
    }

    #[test]
    fn a_cid_url_is_percent_decoded() {
        assert_eq!(cid("cid:a%40b%2Fc"), Ok("a@b/c".into()));
        assert_eq!(cid("CID:%C3%A9"), Ok("é".into()));
        refused(cid("ci"), "not a cid: URL");
        refused(cid("mid:a"), "not a cid: URL");
    }
}
