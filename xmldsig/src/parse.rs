//! Parsing untrusted XML: no DTD (so no entity expansion, internal or external), and limits on
//! size, nodes, depth, attributes and namespace declarations, all checked before anything else
//! looks at the document.

use roxmltree::{Document, Node, ParsingOptions};

/// Bounds on what a parsed document may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_nodes: u32,
    pub max_depth: usize,
    pub max_attributes: usize,
    pub max_namespace_declarations: usize,
}

impl Default for Limits {
    /// Room for a SOAP envelope with a 10 MiB base64 document (and more), nothing deep.
    fn default() -> Self {
        Limits {
            max_bytes: 32 * 1024 * 1024,
            max_nodes: 100_000,
            max_depth: 64,
            max_attributes: 32,
            max_namespace_declarations: 32,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    #[error("the document has {0} bytes, more than allowed")]
    TooLarge(usize),
    #[error("a document type declaration (DOCTYPE) is not allowed")]
    Doctype,
    #[error("the document is nested deeper than {0} elements")]
    TooDeep(usize),
    #[error("an element has more than {0} attributes")]
    TooManyAttributes(usize),
    #[error("an element declares more than {0} namespaces")]
    TooManyNamespaces(usize),
    #[error("the document is not well-formed XML: {0}")]
    Malformed(String),
    #[error("a processing instruction has an invalid or reserved target {0:?}")]
    ProcessingInstruction(String),
}

/// Parses `xml` under `limits`.
pub fn parse<'a>(xml: &'a str, limits: &Limits) -> Result<Document<'a>, XmlError> {
    if xml.len() > limits.max_bytes {
        return Err(XmlError::TooLarge(xml.len()));
    }
    prescan(xml, limits)?;
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(xml, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Doctype,
        other => XmlError::Malformed(other.to_string()),
    })?;
    // An empty DOCTYPE parses; it is refused all the same.
    if xml[..doc.root_element().range().start].contains("<!DOCTYPE") {
        return Err(XmlError::Doctype);
    }
    check_shape(doc.root(), limits)?;
    Ok(doc)
}

/// One linear pass over the text before the parser sees it: no start tag with more
/// attributes than the limits allow (attributes and namespace declarations together), no
/// nesting deeper than allowed. The parser's own checks come after, exactly; this pass keeps
/// the parser from spending time the limits do not grant (its duplicate-attribute check is
/// quadratic in an element's attributes: 100,000 of them cost it half a minute).
fn prescan(xml: &str, limits: &Limits) -> Result<(), XmlError> {
    let bytes = xml.as_bytes();
    let most = limits.max_attributes + limits.max_namespace_declarations;
    let skip_past = |from: usize, end: &[u8]| {
        memchr::memmem::find(&bytes[from..], end).map_or(bytes.len(), |at| from + at + end.len())
    };
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'<', &bytes[i..]) {
        i += at + 1;
        match bytes.get(i) {
            Some(b'!') if bytes[i..].starts_with(b"!--") => i = skip_past(i, b"-->"),
            Some(b'!') if bytes[i..].starts_with(b"![CDATA[") => i = skip_past(i, b"]]>"),
            // A DOCTYPE: the parser refuses it.
            Some(b'!') => return Ok(()),
            Some(b'?') => i = skip_past(i, b"?>"),
            Some(b'/') => {
                depth = depth.saturating_sub(1);
                i = skip_past(i, b">");
            }
            Some(_) => {
                // A start tag: its attributes are its `=` outside quoted values.
                let mut attributes = 0usize;
                let mut quote = None;
                let mut closed = None;
                while let Some(&b) = bytes.get(i) {
                    i += 1;
                    match (quote, b) {
                        (Some(q), _) if b == q => quote = None,
                        (Some(_), _) => {}
                        (None, b'"' | b'\'') => quote = Some(b),
                        (None, b'=') => {
                            attributes += 1;
                            if attributes > most {
                                return Err(XmlError::TooManyAttributes(limits.max_attributes));
                            }
                        }
                        (None, b'>') => {
                            closed = Some(bytes.get(i.wrapping_sub(2)) == Some(&b'/'));
                            break;
                        }
                        _ => {}
                    }
                }
                if closed == Some(false) {
                    depth += 1;
                    if depth > limits.max_depth + 1 {
                        return Err(XmlError::TooDeep(limits.max_depth));
                    }
                }
            }
            None => break,
        }
    }
    Ok(())
}

fn check_shape(root: Node<'_, '_>, limits: &Limits) -> Result<(), XmlError> {
    // Depth-first with an explicit stack: no recursion on untrusted depth.
    let mut stack = vec![(root, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if let Some(pi) = node.pi() {
            // A PITarget is a Name, and names starting with "xml" are reserved (XML 1.0 §2.6);
            // the parser lets some through (`<?xml#version ...?>`), this does not.
            let target = pi.target;
            let name_ok = !target.is_empty()
                && target.chars().all(|c| {
                    c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':') || !c.is_ascii()
                })
                && !target.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.');
            if !name_ok
                || target
                    .get(..3)
                    .is_some_and(|p| p.eq_ignore_ascii_case("xml"))
            {
                return Err(XmlError::ProcessingInstruction(
                    target.chars().take(40).collect(),
                ));
            }
        }
        if node.is_element() {
            if depth > limits.max_depth {
                return Err(XmlError::TooDeep(limits.max_depth));
            }
            if node.attributes().len() > limits.max_attributes {
                return Err(XmlError::TooManyAttributes(limits.max_attributes));
            }
            if declared_namespaces(node) > limits.max_namespace_declarations {
                return Err(XmlError::TooManyNamespaces(
                    limits.max_namespace_declarations,
                ));
            }
        }
        stack.extend(node.children().map(|c| (c, depth + 1)));
    }
    Ok(())
}

/// How many namespace declarations an element's start tag holds.
fn declared_namespaces(node: Node<'_, '_>) -> usize {
    start_tag_attribute_names(start_tag(node))
        .filter(|name| *name == "xmlns" || name.starts_with("xmlns:"))
        .count()
}

/// The attribute names (namespace declarations included) of a well-formed start tag.
fn start_tag_attribute_names(tag: &str) -> impl Iterator<Item = &str> {
    let bytes = tag.as_bytes();
    // Skip `<` and the element name.
    let mut i = 1 + tag[1..]
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(tag.len() - 1);
    std::iter::from_fn(move || {
        while i < bytes.len() && (bytes[i] as char).is_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] == b'/' || bytes[i] == b'>' {
            return None;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !(bytes[i] as char).is_whitespace() {
            i += 1;
        }
        let name = &tag[start..i];
        // Past `=` and the quoted value.
        while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\'' {
            i += 1;
        }
        let quote = bytes.get(i).copied();
        i += 1;
        while i < bytes.len() && Some(bytes[i]) != quote {
            i += 1;
        }
        i += 1;
        Some(name)
    })
}

/// The source text of an element's start tag (from `<` to the first `>` outside quotes).
pub(crate) fn start_tag<'a>(node: Node<'_, 'a>) -> &'a str {
    let text = node.document().input_text();
    let from = node.range().start;
    let bytes = text.as_bytes();
    let mut quote = None;
    let mut end = from;
    while end < bytes.len() {
        match (quote, bytes[end]) {
            (None, b'"' | b'\'') => quote = Some(bytes[end]),
            (Some(q), c) if c == q => quote = None,
            (None, b'>') => {
                end += 1;
                break;
            }
            _ => {}
        }
        end += 1;
    }
    &text[from..end]
}

/// The prefix an element was written with (`None` for an unprefixed name).
pub(crate) fn element_prefix<'a>(node: Node<'_, 'a>) -> Option<&'a str> {
    let tag = start_tag(node);
    let name_end = tag[1..]
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .map_or(tag.len(), |i| i + 1);
    tag[1..name_end].split_once(':').map(|(p, _)| p)
}

/// The prefix an attribute was written with.
pub(crate) fn attribute_prefix<'a>(
    node: Node<'_, 'a>,
    attr: &roxmltree::Attribute<'_, 'a>,
) -> Option<&'a str> {
    node.document().input_text()[attr.range_qname()]
        .split_once(':')
        .map(|(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctypes_and_entities_are_refused() {
        let limits = Limits::default();
        for xml in [
            "<!DOCTYPE x><x/>",
            "<!DOCTYPE x []><x/>",
            "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><x>&lol2;</x>",
            "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><x>&xxe;</x>",
        ] {
            assert_eq!(
                parse(xml, &limits).map(|_| ()),
                Err(XmlError::Doctype),
                "{xml}"
            );
        }
        assert!(matches!(
            parse("<x>&undefined;</x>", &limits),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn processing_instructions_with_reserved_or_invalid_targets_are_refused() {
        let limits = Limits::default();
        for xml in [
            "<?xml#version=\"1.0\"?><x/>",
            "<?XML-stylesheet href=\"a\"?><x/>",
            "<x><?xmlfoo?></x>",
        ] {
            assert!(
                matches!(
                    parse(xml, &limits),
                    Err(XmlError::ProcessingInstruction(_) | XmlError::Malformed(_))
                ),
                "{xml}"
            );
        }
        assert!(parse("<?xml version=\"1.0\"?><?pi-target data?><x/>", &limits).is_ok());
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_bytes: 10_000,
            max_depth: 8,
            max_attributes: 3,
            max_namespace_declarations: 2,
            ..Limits::default()
        };
        let deep = format!("{}{}", "<a>".repeat(20), "</a>".repeat(20));
        assert_eq!(parse(&deep, &limits).map(|_| ()), Err(XmlError::TooDeep(8)));
        assert_eq!(
            parse("<a x='1' y='2' z='3' w='4'/>", &limits).map(|_| ()),
            Err(XmlError::TooManyAttributes(3))
        );
        assert_eq!(
            parse("<a xmlns:a='u:a' xmlns:b='u:b' xmlns:c='u:c'/>", &limits).map(|_| ()),
            Err(XmlError::TooManyNamespaces(2))
        );
        // Values that mention xmlns are not declarations.
        assert!(parse("<a x='xmlns xmlns xmlns' xmlns='u:d'/>", &limits).is_ok());
        let big = format!("<a>{}</a>", "x".repeat(20_000));
        assert_eq!(
            parse(&big, &limits).map(|_| ()),
            Err(XmlError::TooLarge(big.len()))
        );
        // Very deep input does not exhaust the stack while being refused.
        let very_deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
        assert!(parse(&very_deep, &Limits::default()).is_err());
    }

    #[test]
    fn a_crowd_of_attributes_is_refused_before_the_parser_counts_them() {
        let limits = Limits::default();
        // 100,000 attributes on one element, unauthenticated: refused by the linear pass.
        let crowd: String = (0..100_000).map(|n| format!(" a{n}='v'")).collect();
        assert_eq!(
            parse(&format!("<x{crowd}/>"), &limits).map(|_| ()),
            Err(XmlError::TooManyAttributes(limits.max_attributes))
        );
        // The pass counts attributes, not what their values or comments hold.
        let values: String = (0..limits.max_attributes)
            .map(|n| format!(" a{n}=\"k=v > b c='d' e=f\""))
            .collect();
        let xml =
            format!("<x{values}><!-- <y {crowd}> --><![CDATA[<y {crowd}>]]><?pi <y {crowd}>?></x>");
        parse(&xml, &limits).expect("within the limits");
        // And depth as it goes.
        let deep = format!("{}{}", "<a>".repeat(1000), "</a>".repeat(1000));
        assert_eq!(
            parse(&deep, &limits).map(|_| ()),
            Err(XmlError::TooDeep(limits.max_depth))
        );
    }

    #[test]
    fn prefixes_are_read_from_the_source() {
        let xml = "<s:Envelope xmlns:s='u:s' xmlns:w='u:w'><s:Body w:Id=\"a>b\" x='1'><Plain/></s:Body></s:Envelope>";
        let doc = parse(xml, &Limits::default()).expect("parse");
        let body = doc.root_element().first_element_child().expect("body");
        assert_eq!(element_prefix(doc.root_element()), Some("s"));
        assert_eq!(element_prefix(body), Some("s"));
        assert_eq!(start_tag(body), "<s:Body w:Id=\"a>b\" x='1'>");
        let attrs: Vec<_> = body
            .attributes()
            .map(|a| attribute_prefix(body, &a))
            .collect();
        assert_eq!(attrs, [Some("w"), None]);
        assert_eq!(
            element_prefix(body.first_element_child().expect("plain")),
            None
        );
    }
}
