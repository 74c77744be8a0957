//! Canonical XML 1.0 and Exclusive XML Canonicalization 1.0 (with and without comments, with
//! the InclusiveNamespaces PrefixList), of a whole document or of an element's subtree, with
//! one element left out on request (the enveloped-signature transform).

use roxmltree::{Node, NodeId, NodeType};

use crate::parse::{attribute_prefix, element_prefix, start_tag};

pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub const C14N_WITH_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// A canonicalization method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canonicalization {
    pub exclusive: bool,
    pub with_comments: bool,
    /// Exclusive only: prefixes treated as in inclusive canonicalization (`""` is `#default`).
    pub inclusive_prefixes: Vec<String>,
}

impl Canonicalization {
    /// Exclusive C14N without comments, no inclusive prefixes: what Sealpost signs with.
    pub fn exclusive() -> Self {
        Canonicalization {
            exclusive: true,
            with_comments: false,
            inclusive_prefixes: Vec::new(),
        }
    }

    /// Canonical XML 1.0 without comments: the default that turns a node-set into octets.
    pub fn inclusive() -> Self {
        Canonicalization {
            exclusive: false,
            with_comments: false,
            inclusive_prefixes: Vec::new(),
        }
    }

    /// The method an algorithm URI names, with the PrefixList of an InclusiveNamespaces child
    /// (space-separated, `#default` for the default namespace).
    pub fn from_uri(uri: &str, prefix_list: Option<&str>) -> Option<Self> {
        let (exclusive, with_comments) = match uri {
            C14N => (false, false),
            C14N_WITH_COMMENTS => (false, true),
            EXC_C14N => (true, false),
            EXC_C14N_WITH_COMMENTS => (true, true),
            _ => return None,
        };
        let inclusive_prefixes = if exclusive {
            prefix_list
                .unwrap_or("")
                .split_ascii_whitespace()
                .map(|p| {
                    if p == "#default" {
                        String::new()
                    } else {
                        p.to_owned()
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        Some(Canonicalization {
            exclusive,
            with_comments,
            inclusive_prefixes,
        })
    }

    pub fn uri(&self) -> &'static str {
        match (self.exclusive, self.with_comments) {
            (false, false) => C14N,
            (false, true) => C14N_WITH_COMMENTS,
            (true, false) => EXC_C14N,
            (true, true) => EXC_C14N_WITH_COMMENTS,
        }
    }
}

/// Canonicalizes `node` (the document root, or an element and its subtree), leaving out the
/// subtree of `exclude` if given.
pub fn canonicalize(
    node: Node<'_, '_>,
    method: &Canonicalization,
    exclude: Option<NodeId>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(node.range().len() + 256);
    canonicalize_into(node, method, exclude, &mut out);
    out
}

/// Where canonical octets go: a buffer, or straight into a digest.
pub trait Output {
    fn put(&mut self, bytes: &[u8]);
}

impl Output for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Canonicalizes into `out`, without holding the whole canonical form (for digests of large
/// documents).
pub fn canonicalize_into(
    node: Node<'_, '_>,
    method: &Canonicalization,
    exclude: Option<NodeId>,
    out: &mut dyn Output,
) {
    let mut c = Canonicalizer {
        method,
        exclude,
        out,
    };
    if node.node_type() == NodeType::Root {
        let mut seen_element = false;
        for child in node.children() {
            match child.node_type() {
                NodeType::Element => {
                    c.element(child, &[], true);
                    seen_element = true;
                }
                NodeType::Comment if !method.with_comments => {}
                NodeType::Comment | NodeType::PI => {
                    if seen_element {
                        c.out.put(b"\n");
                    }
                    c.leaf(child);
                    if !seen_element {
                        c.out.put(b"\n");
                    }
                }
                _ => {}
            }
        }
    } else if node.is_element() {
        c.element(node, &[], true);
    }
}

struct Canonicalizer<'m, 'o> {
    method: &'m Canonicalization,
    exclude: Option<NodeId>,
    out: &'o mut dyn Output,
}

impl Canonicalizer<'_, '_> {
    /// `rendered`: the namespace declarations output ancestors rendered, innermost last.
    fn element<'a>(&mut self, node: Node<'a, 'a>, rendered: &[(&'a str, &'a str)], apex: bool) {
        let tag = start_tag(node);
        let qname_end = tag[1..]
            .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .map_or(tag.len(), |i| i + 1);
        let qname = &tag[1..qname_end];
        let in_scope: Vec<(&str, &str)> = node
            .namespaces()
            .map(|ns| (ns.name().unwrap_or(""), ns.uri()))
            .filter(|(p, _)| *p != "xml")
            .collect();
        let in_scope_uri = |p: &str| {
            in_scope
                .iter()
                .find(|(q, _)| *q == p)
                .map_or("", |(_, u)| *u)
        };
        let rendered_uri = |p: &str| {
            rendered
                .iter()
                .rev()
                .find(|(q, _)| *q == p)
                .map(|(_, u)| *u)
        };

        // Which namespace declarations this element may need to render.
        let mut candidates: Vec<&str> = Vec::new();
        if self.method.exclusive {
            candidates.push(element_prefix(node).unwrap_or(""));
            for attr in node.attributes() {
                if let Some(p) = attribute_prefix(node, &attr)
                    && p != "xml"
                {
                    candidates.push(p);
                }
            }
            candidates.extend(self.method.inclusive_prefixes.iter().map(String::as_str));
        } else {
            candidates.push("");
            candidates.extend(in_scope.iter().map(|(p, _)| *p));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut declared: Vec<(&'a str, &'a str)> = Vec::new();
        for p in candidates {
            let uri = in_scope_uri(p);
            let needed = if p.is_empty() {
                // The default namespace: render a change, including `xmlns=""`.
                uri != rendered_uri("").unwrap_or("")
            } else {
                !uri.is_empty() && rendered_uri(p) != Some(uri)
            };
            if needed {
                // Borrow from the document rather than from the candidate list.
                let (prefix, uri) = in_scope
                    .iter()
                    .find(|(q, _)| *q == p)
                    .copied()
                    .unwrap_or(("", ""));
                declared.push((prefix, uri));
            }
        }

        // Attributes, sorted by namespace URI then local name.
        let text = node.document().input_text();
        let mut attrs: Vec<(&str, &str, &str, &str)> = node
            .attributes()
            .map(|a| {
                (
                    a.namespace().unwrap_or(""),
                    a.name(),
                    &text[a.range_qname()],
                    a.value(),
                )
            })
            .collect();
        if apex && !self.method.exclusive {
            // C14N 1.0 imports xml:* attributes of ancestors outside the subset into the apex.
            for ancestor in node.ancestors().skip(1).filter(Node::is_element) {
                for a in ancestor.attributes() {
                    if a.namespace() == Some(XML_NAMESPACE)
                        && !attrs
                            .iter()
                            .any(|(ns, local, _, _)| *ns == XML_NAMESPACE && *local == a.name())
                    {
                        attrs.push((XML_NAMESPACE, a.name(), &text[a.range_qname()], a.value()));
                    }
                }
            }
        }
        attrs.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

        self.out.put(b"<");
        self.out.put(qname.as_bytes());
        for (prefix, uri) in &declared {
            if prefix.is_empty() {
                self.out.put(b" xmlns=\"");
            } else {
                self.out.put(b" xmlns:");
                self.out.put(prefix.as_bytes());
                self.out.put(b"=\"");
            }
            escape_attribute(uri, self.out);
            self.out.put(b"\"");
        }
        for (_, _, name, value) in &attrs {
            self.out.put(b" ");
            self.out.put(name.as_bytes());
            self.out.put(b"=\"");
            escape_attribute(value, self.out);
            self.out.put(b"\"");
        }
        self.out.put(b">");

        let mut inner: Vec<(&'a str, &'a str)> = rendered.to_vec();
        inner.extend(declared);
        for child in node.children() {
            if Some(child.id()) == self.exclude {
                continue;
            }
            match child.node_type() {
                NodeType::Element => self.element(child, &inner, false),
                NodeType::Text => escape_text(child.text().unwrap_or(""), self.out),
                NodeType::Comment if !self.method.with_comments => {}
                NodeType::Comment | NodeType::PI => self.leaf(child),
                NodeType::Root => {}
            }
        }
        self.out.put(b"</");
        self.out.put(qname.as_bytes());
        self.out.put(b">");
    }

    fn leaf(&mut self, node: Node<'_, '_>) {
        if let Some(pi) = node.pi() {
            self.out.put(b"<?");
            self.out.put(pi.target.as_bytes());
            if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                self.out.put(b" ");
                self.out.put(value.as_bytes());
            }
            self.out.put(b"?>");
        } else {
            self.out.put(b"<!--");
            self.out.put(node.text().unwrap_or("").as_bytes());
            self.out.put(b"-->");
        }
    }
}

/// Writes `text` with C14N's text escapes, copying the runs between special bytes whole.
fn escape_text(text: &str, out: &mut dyn Output) {
    let bytes = text.as_bytes();
    if memchr::memchr(b'\r', bytes).is_some() {
        return escape_each(bytes, out, |b| match b {
            b'&' => Some(b"&amp;"),
            b'<' => Some(b"&lt;"),
            b'>' => Some(b"&gt;"),
            b'\r' => Some(b"&#xD;"),
            _ => None,
        });
    }
    let mut start = 0;
    for at in memchr::memchr3_iter(b'&', b'<', b'>', bytes) {
        out.put(&bytes[start..at]);
        out.put(match bytes[at] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            _ => b"&gt;",
        });
        start = at + 1;
    }
    out.put(&bytes[start..]);
}

fn escape_attribute(value: &str, out: &mut dyn Output) {
    escape_each(value.as_bytes(), out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// Escapes byte by byte, copying unescaped runs whole.
fn escape_each(bytes: &[u8], out: &mut dyn Output, escape: impl Fn(u8) -> Option<&'static [u8]>) {
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if let Some(replacement) = escape(*b) {
            out.put(&bytes[start..i]);
            out.put(replacement);
            start = i + 1;
        }
    }
    out.put(&bytes[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{Limits, parse};

    fn c14n(xml: &str, method: &Canonicalization, id: Option<&str>) -> String {
        let doc = parse(xml, &Limits::default()).expect("parse");
        let node = match id {
            Some(id) => doc
                .descendants()
                .find(|n| n.attribute("id") == Some(id))
                .expect("id"),
            None => doc.root(),
        };
        String::from_utf8(canonicalize(node, method, None)).expect("utf-8")
    }

    fn inclusive() -> Canonicalization {
        Canonicalization::from_uri(C14N, None).expect("c14n")
    }

    /// W3C C14N 1.0 §3.2 (whitespace in document content), §3.3 (start and end tags) and §3.4
    /// (character modifications), their inputs and outputs as the recommendation gives them.
    #[test]
    fn c14n_recommendation_examples() {
        let input = "<doc>\n   <e1   />\n   <e2   ></e2>\n   <e3   name = \"elem3\"   id=\"elem3\"   />\n   <e4   name=\"elem4\"   id=\"elem4\"   ></e4>\n   <e5 a:attr=\"out\" b:attr=\"sorted\" attr2=\"all\" attr=\"I'm\"\n      xmlns:b=\"http://www.ietf.org\"\n      xmlns:a=\"http://www.w3.org\"\n      xmlns=\"http://example.org\"/>\n   <e6 xmlns=\"\" xmlns:a=\"http://www.w3.org\">\n      <e7 xmlns=\"http://www.ietf.org\">\n         <e8 xmlns=\"\" xmlns:a=\"http://www.w3.org\">\n            <e9 xmlns=\"\" xmlns:a=\"http://www.ietf.org\"/>\n         </e8>\n      </e7>\n   </e6>\n</doc>";
        let expected = "<doc>\n   <e1></e1>\n   <e2></e2>\n   <e3 id=\"elem3\" name=\"elem3\"></e3>\n   <e4 id=\"elem4\" name=\"elem4\"></e4>\n   <e5 xmlns=\"http://example.org\" xmlns:a=\"http://www.w3.org\" xmlns:b=\"http://www.ietf.org\" attr=\"I'm\" attr2=\"all\" b:attr=\"sorted\" a:attr=\"out\"></e5>\n   <e6 xmlns:a=\"http://www.w3.org\">\n      <e7 xmlns=\"http://www.ietf.org\">\n         <e8 xmlns=\"\">\n            <e9 xmlns:a=\"http://www.ietf.org\"></e9>\n         </e8>\n      </e7>\n   </e6>\n</doc>";
        assert_eq!(c14n(input, &inclusive(), None), expected);

        let chars = "<doc>\n   <text>First line&#x0d;&#10;Second line</text>\n   <value>&#x32;</value>\n   <compute><![CDATA[value>\"0\" && value<\"10\" ?\"valid\":\"error\"]]></compute>\n   <compute expr='value>\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"'>valid</compute>\n   <norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/>\n</doc>";
        let expected = "<doc>\n   <text>First line&#xD;\nSecond line</text>\n   <value>2</value>\n   <compute>value&gt;\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"</compute>\n   <compute expr=\"value>&quot;0&quot; &amp;&amp; value&lt;&quot;10&quot; ?&quot;valid&quot;:&quot;error&quot;\">valid</compute>\n   <norm attr=\" '    &#xD;&#xA;&#x9;   ' \"></norm>\n</doc>";
        assert_eq!(c14n(chars, &inclusive(), None), expected);
    }

    #[test]
    fn comments_and_processing_instructions_outside_the_document_element() {
        let xml = "<?xml version=\"1.0\"?>\n<?pi-before data?>\n<!--before-->\n<doc><!--in-->x</doc>\n<!--after-->\n<?pi-after?>";
        assert_eq!(
            c14n(xml, &inclusive(), None),
            "<?pi-before data?>\n<doc>x</doc>\n<?pi-after?>"
        );
        let with = Canonicalization::from_uri(C14N_WITH_COMMENTS, None).expect("method");
        assert_eq!(
            c14n(xml, &with, None),
            "<?pi-before data?>\n<!--before-->\n<doc><!--in-->x</doc>\n<!--after-->\n<?pi-after?>"
        );
    }

    /// Exclusive C14N renders only visibly utilized namespaces, at the first element that uses
    /// them; inclusive C14N renders every namespace in scope at the apex.
    #[test]
    fn exclusive_renders_only_what_is_used() {
        let xml = "<s:Envelope xmlns:s=\"urn:s\" xmlns:w=\"urn:w\" xmlns:unused=\"urn:u\" xml:lang=\"fr\"><s:Body w:Id=\"b\" id=\"body\"><p:x xmlns:p=\"urn:p\"><y/></p:x></s:Body></s:Envelope>";
        let exclusive = Canonicalization::exclusive();
        assert_eq!(
            c14n(xml, &exclusive, Some("body")),
            "<s:Body xmlns:s=\"urn:s\" xmlns:w=\"urn:w\" id=\"body\" w:Id=\"b\"><p:x xmlns:p=\"urn:p\"><y></y></p:x></s:Body>"
        );
        assert_eq!(
            c14n(xml, &inclusive(), Some("body")),
            "<s:Body xmlns:s=\"urn:s\" xmlns:unused=\"urn:u\" xmlns:w=\"urn:w\" id=\"body\" xml:lang=\"fr\" w:Id=\"b\"><p:x xmlns:p=\"urn:p\"><y></y></p:x></s:Body>"
        );
        // The PrefixList makes a prefix render even where it is not used.
        let with_list =
            Canonicalization::from_uri(EXC_C14N, Some("unused #default")).expect("method");
        assert_eq!(
            c14n(xml, &with_list, Some("body")),
            "<s:Body xmlns:s=\"urn:s\" xmlns:unused=\"urn:u\" xmlns:w=\"urn:w\" id=\"body\" w:Id=\"b\"><p:x xmlns:p=\"urn:p\"><y></y></p:x></s:Body>"
        );
    }

    #[test]
    fn an_unprefixed_element_under_a_default_namespace_gets_xmlns_empty() {
        let xml = "<a xmlns=\"urn:a\" id=\"a\"><b xmlns=\"\"><c/></b></a>";
        assert_eq!(
            c14n(xml, &Canonicalization::exclusive(), Some("a")),
            "<a xmlns=\"urn:a\" id=\"a\"><b xmlns=\"\"><c></c></b></a>"
        );
    }
}
