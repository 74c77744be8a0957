//! MIME `multipart/related` bodies (RFC 2046 §5.1, RFC 2387) as the SOAP channel reads them
//! for MTOM/XOP: Content-Type values with their parameters, the body split into parts at its
//! boundary, and each part's headers. Everything here is a pure function of the header and the
//! body, and anything unexpected is refused:
//!
//! - a media type is `type/subtype` and parameters (RFC 7231 §3.1.1.1), none repeated;
//! - the boundary is 1 to 70 `bchars` not ending with a space; a delimiter line is the
//!   boundary, optional transport padding and CRLF, and the body ends with the close delimiter
//!   (the preamble and epilogue are ignored);
//! - a part's headers are ASCII `Name: value` fields with CRLF line ends (folded lines
//!   joined), at most one Content-ID, Content-Type and Content-Transfer-Encoding each;
//! - parts are sent as they are: Content-Transfer-Encoding `binary`, `8bit`, `7bit` or none
//!   (base64 or quoted-printable parts are refused);
//! - at most [`MAX_PARTS`] parts, headers of at most 8 KiB and 16 fields per part.

/// The most parts (root included) a package may have.
pub const MAX_PARTS: usize = 64;
/// The most bytes of one part's header block.
const MAX_HEADER_BLOCK_BYTES: usize = 8 * 1024;
/// The most header fields of one part.
const MAX_HEADERS_PER_PART: usize = 16;

/// Why a MIME header or body is refused: what breaks MIME or this service's limits.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct MimeError(pub String);

fn invalid<T>(what: impl Into<String>) -> Result<T, MimeError> {
    Err(MimeError(what.into()))
}

/// At most the first 64 characters of sender-supplied text, for a refusal's detail.
pub(super) fn shown(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Whether a Content-Type announces `multipart/related` (parameters are not read here: a
/// malformed header still routes the request to [`super::xop::read_package`], which refuses it).
pub fn is_multipart_related(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/related"))
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// An RFC 7230 token.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A media type (RFC 7231 §3.1.1.1): `type/subtype` and parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, in lower case.
    pub essence: String,
    /// The parameters in order: names in lower case, values unquoted and unescaped.
    pub parameters: Vec<(String, String)>,
}

impl MediaType {
    /// Parses a Content-Type value; a duplicated parameter or anything outside the grammar is
    /// refused.
    pub fn parse(text: &str) -> Result<MediaType, MimeError> {
        let text = text.trim_matches(is_ows);
        let end = text.find(';').unwrap_or(text.len());
        let essence = text[..end].trim_matches(is_ows);
        match essence.split_once('/') {
            Some((kind, sub)) if is_token(kind) && is_token(sub) => {}
            _ => return invalid(format!("malformed media type {:?}", shown(text))),
        }
        let mut parameters: Vec<(String, String)> = Vec::new();
        let mut rest = &text[end..];
        while let Some(after) = rest.strip_prefix(';') {
            let after = after.trim_start_matches(is_ows);
            let Some((name, value_text)) = after.split_once('=') else {
                return invalid(format!("malformed media type {:?}", shown(text)));
            };
            if !is_token(name) {
                return invalid(format!("malformed media type {:?}", shown(text)));
            }
            let (value, remainder) = match value_text.strip_prefix('"') {
                Some(quoted) => unquote(quoted)?,
                None => {
                    let end = value_text
                        .find(|c| c == ';' || is_ows(c))
                        .unwrap_or(value_text.len());
                    let value = &value_text[..end];
                    if !is_token(value) {
                        return invalid(format!("malformed media type {:?}", shown(text)));
                    }
                    (value.to_owned(), &value_text[end..])
                }
            };
            let name = name.to_ascii_lowercase();
            if parameters.iter().any(|(n, _)| *n == name) {
                return invalid(format!("the media type repeats parameter {name}"));
            }
            parameters.push((name, value));
            rest = remainder.trim_start_matches(is_ows);
        }
        if !rest.is_empty() {
            return invalid(format!("malformed media type {:?}", shown(text)));
        }
        Ok(MediaType {
            essence: essence.to_ascii_lowercase(),
            parameters,
        })
    }

    /// The value of a parameter (`name` in lower case).
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A quoted-string's value and what follows it, from just after the opening quote.
fn unquote(text: &str) -> Result<(String, &str), MimeError> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) if escaped != '\r' && escaped != '\n' => value.push(escaped),
                _ => break,
            },
            c if c.is_control() && c != '\t' => break,
            c => value.push(c),
        }
    }
    invalid("malformed quoted string in a media type")
}

/// One body part of a multipart body.
#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The Content-ID without its angle brackets, if the part has one.
    pub content_id: Option<String>,
    /// The Content-Type, if the part has one.
    pub content_type: Option<MediaType>,
    /// The part's octets, as sent.
    pub body: &'a [u8],
}

/// The first occurrence of `needle` in `haystack` at or after `from`. Linear in the haystack
/// for the needles used here (their first byte does not recur at a later offset where a
/// partial match could restart more than a few bytes back).
pub(super) fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = from;
    while i + needle.len() <= haystack.len() {
        i += haystack[i..].iter().position(|&b| b == first)?;
        if haystack.get(i..i + needle.len()) == Some(needle) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// RFC 2046 §5.1.1: 1 to 70 characters of `bchars`, not ending with a space.
fn check_boundary(boundary: &str) -> Result<(), MimeError> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b);
    if boundary.is_empty()
        || boundary.len() > 70
        || !boundary.bytes().all(allowed)
        || boundary.ends_with(' ')
    {
        return invalid(format!("invalid multipart boundary {:?}", shown(boundary)));
    }
    Ok(())
}

/// Splits a multipart body (RFC 2046 §5.1.1) into its parts. The preamble and the epilogue
/// are ignored, as the RFC requires; a delimiter must be followed by optional transport padding
/// and CRLF (so the boundary cannot be the prefix of a line inside a part), and the body must
/// end with the close delimiter.
pub fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MimeError> {
    check_boundary(boundary)?;
    let dash_boundary = format!("--{boundary}").into_bytes();
    let delimiter = [b"\r\n".as_slice(), &dash_boundary].concat();
    let mut at = if body.starts_with(&dash_boundary) {
        dash_boundary.len()
    } else {
        match find(body, &delimiter, 0) {
            Some(i) => i + delimiter.len(),
            None => return invalid("the body holds no multipart boundary delimiter"),
        }
    };
    let mut parts = Vec::new();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            if parts.is_empty() {
                return invalid("the multipart body has no parts");
            }
            return Ok(parts);
        }
        let padding = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if !rest[padding..].starts_with(b"\r\n") {
            return invalid("a multipart boundary delimiter line is malformed");
        }
        let start = at + padding + 2;
        let Some(end) = find(body, &delimiter, start) else {
            return invalid("the multipart body ends without its close delimiter");
        };
        if parts.len() == MAX_PARTS {
            return invalid(format!(
                "the multipart body has more than {MAX_PARTS} parts"
            ));
        }
        parts.push(parse_part(&body[start..end])?);
        at = end + delimiter.len();
    }
}

/// One body part: its header block (strict: CRLF line ends, ASCII, `Name: value` fields,
/// folded lines joined), then its octets.
fn parse_part(raw: &[u8]) -> Result<Part<'_>, MimeError> {
    let (head, body) = match raw.strip_prefix(b"\r\n") {
        Some(body) => (&raw[..0], body),
        None => {
            let window = &raw[..raw.len().min(MAX_HEADER_BLOCK_BYTES)];
            let Some(end) = find(window, b"\r\n\r\n", 0) else {
                return invalid(format!(
                    "a part's headers do not end with an empty line within {MAX_HEADER_BLOCK_BYTES} bytes"
                ));
            };
            (&raw[..end], &raw[end + 4..])
        }
    };
    let Some(head) = std::str::from_utf8(head).ok().filter(|h| h.is_ascii()) else {
        return invalid("a part's headers are not ASCII");
    };
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n").filter(|_| !head.is_empty()) {
        if line.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return invalid("a part's header holds a control character or a bare line break");
        }
        if line.starts_with(is_ows) {
            let Some((_, value)) = fields.last_mut() else {
                return invalid("a part's headers begin with a continuation line");
            };
            value.push(' ');
            value.push_str(line.trim_matches(is_ows));
            continue;
        }
        let Some((name, value)) = line.split_once(':').filter(|(n, _)| is_token(n)) else {
            return invalid(format!("malformed part header {:?}", shown(line)));
        };
        if fields.len() == MAX_HEADERS_PER_PART {
            return invalid(format!(
                "a part has more than {MAX_HEADERS_PER_PART} headers"
            ));
        }
        fields.push((
            name.to_ascii_lowercase(),
            value.trim_matches(is_ows).to_owned(),
        ));
    }
    let single = |name: &str| {
        let mut values = fields.iter().filter(|(n, _)| n == name);
        match (values.next(), values.next()) {
            (_, Some(_)) => invalid(format!("a part has more than one {name} header")),
            (value, None) => Ok(value.map(|(_, v)| v.as_str())),
        }
    };
    match single("content-transfer-encoding")?.map(str::to_ascii_lowercase) {
        None => {}
        Some(encoding) if matches!(encoding.as_str(), "binary" | "8bit" | "7bit") => {}
        Some(other) => {
            return invalid(format!(
                "Content-Transfer-Encoding {:?} is not accepted (parts are sent as binary)",
                shown(&other)
            ));
        }
    }
    Ok(Part {
        content_id: single("content-id")?.map(content_id).transpose()?,
        content_type: single("content-type")?.map(MediaType::parse).transpose()?,
        body,
    })
}

/// A Content-ID (or `start`) value without its angle brackets: `<id>`, the id non-empty
/// visible ASCII without angle brackets.
pub fn content_id(value: &str) -> Result<String, MimeError> {
    match value
        .trim_matches(is_ows)
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
    {
        Some(id)
            if !id.is_empty()
                && id
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>') =>
        {
            Ok(id.to_owned())
        }
        _ => invalid(format!("malformed Content-ID {:?}", shown(value))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(result: Result<impl std::fmt::Debug, MimeError>, needle: &str) {
        match result {
            Err(MimeError(detail)) => {
                assert!(detail.contains(needle), "{detail:?} lacks {needle:?}")
            }
            other => panic!("expected a refusal ({needle}), got {other:?}"),
        }
    }

    #[test]
    fn media_types_are_parsed_with_quoted_values_and_case() {
        let m = MediaType::parse(
            "Multipart/Related ; Type=\"application/xop+xml\";boundary=abc;\tstart=\"<a\\\"b>\"",
        )
        .expect("media type");
        assert_eq!(m.essence, "multipart/related");
        assert_eq!(m.parameter("type"), Some("application/xop+xml"));
        assert_eq!(m.parameter("boundary"), Some("abc"));
        assert_eq!(m.parameter("start"), Some("<a\"b>"));
        assert_eq!(m.parameter("start-info"), None);
        for bad in [
            "",
            "text",
            "text/",
            "text/xml;",
            "text/xml; charset",
            "text/xml; charset=",
            "text/xml; charset=\"utf-8",
            "text/xml; charset=utf-8 x",
            "text/xml; charset=a; CHARSET=b",
            "text/xml; charset=\"a\nb\"",
            "te xt/xml",
        ] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn multipart_related_is_recognised_from_the_header() {
        assert!(is_multipart_related(
            "multipart/related; type=\"application/xop+xml\"; boundary=b"
        ));
        assert!(is_multipart_related("MULTIPART/RELATED"));
        assert!(!is_multipart_related("text/xml; charset=utf-8"));
        assert!(!is_multipart_related("multipart/form-data; boundary=x"));
    }

    #[test]
    fn a_multipart_body_is_split_into_parts_with_preamble_padding_and_epilogue() {
        let body = b"preamble\r\n--b \t\r\nContent-ID: <one>\r\nX-Other: folded\r\n  value\r\n\r\nfirst\r\n--b\r\n\r\n\r\n--b--\r\nepilogue --b\r\n";
        let parts = parse_multipart(body, "b").expect("parts");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].content_id.as_deref(), Some("one"));
        assert_eq!(parts[0].body, b"first");
        assert_eq!(parts[1].content_id, None);
        assert_eq!(parts[1].body, b"");
        // The body at the very start, a binary part ending with CR.
        let parts = parse_multipart(b"--b\r\n\r\nx\r\r\n--b--", "b").expect("parts");
        assert_eq!(parts[0].body, b"x\r");
    }

    #[test]
    fn malformed_multipart_bodies_are_refused() {
        let cases: [(&[u8], &str); 11] = [
            (b"", "no multipart boundary"),
            (b"--b--\r\n", "no parts"),
            (b"--b\r\n\r\nbody", "close delimiter"),
            (b"--b\r\n\r\nbody\r\n--b", "malformed"),
            (b"--b\r\n\r\nbody\r\n--bb\r\n\r\nx\r\n--b--", "malformed"),
            (b"--bx\r\n\r\nbody\r\n--b--", "malformed"),
            (
                b"--b\r\nContent-ID <x>\r\n\r\nbody\r\n--b--",
                "malformed part header",
            ),
            (
                b"--b\r\nContent-ID: <x>\nX: y\r\n\r\nbody\r\n--b--",
                "control character",
            ),
            (b"--b\r\n X: y\r\n\r\nbody\r\n--b--", "continuation"),
            (b"--b\r\nX: \xc3\xa9\r\n\r\nbody\r\n--b--", "not ASCII"),
            (b"--b\r\nContent-ID: <x>\r\nbody\r\n--b--", "do not end"),
        ];
        for (body, needle) in cases {
            refused(parse_multipart(body, "b"), needle);
        }
        for boundary in ["", "a b ", "a\"b", &"x".repeat(71)] {
            refused(
                parse_multipart(b"--x\r\n\r\n\r\n--x--", boundary),
                "boundary",
            );
        }
    }

    #[test]
    fn part_headers_are_checked() {
        let part = |headers: &str| {
            let body = format!("--b\r\n{headers}\r\n\r\nbody\r\n--b--");
            parse_multipart(body.as_bytes(), "b").map(|mut p| p.remove(0).content_id)
        };
        assert_eq!(
            part("content-id:   <a@b>  \r\nContent-Transfer-Encoding: BINARY"),
            Ok(Some("a@b".into()))
        );
        assert!(part("Content-Transfer-Encoding: 8bit").is_ok());
        refused(part("Content-Transfer-Encoding: base64"), "not accepted");
        refused(
            part("Content-Transfer-Encoding: quoted-printable"),
            "not accepted",
        );
        refused(part("Content-ID: <a>\r\nContent-ID: <b>"), "more than one");
        refused(
            part("Content-Type: a/b\r\ncontent-type: a/b"),
            "more than one",
        );
        refused(part("Content-ID: a@b"), "malformed Content-ID");
        refused(part("Content-ID: <>"), "malformed Content-ID");
        refused(part("Content-ID: <a b>"), "malformed Content-ID");
        refused(part("Content-Type: nonsense"), "malformed media type");
        refused(part(&"X: y\r\n".repeat(17)), "more than 16 headers");
        refused(part(&format!("X: {}", "y".repeat(9000))), "do not end");
    }

    #[test]
    fn at_most_max_parts_parts_are_read() {
        let many = |n: usize| {
            let mut body = b"--b".to_vec();
            for _ in 0..n {
                body.extend_from_slice(b"\r\n\r\nx\r\n--b");
            }
            body.extend_from_slice(b"--");
            body
        };
        assert_eq!(
            parse_multipart(&many(MAX_PARTS), "b").map(|p| p.len()),
            Ok(MAX_PARTS)
        );
        refused(
            parse_multipart(&many(MAX_PARTS + 1), "b"),
            "more than 64 parts",
        );
    }
}
