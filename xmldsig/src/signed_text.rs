//! Reading a value out of signed XML: the one rule every reader follows.
//!
//! Canonical XML without comments leaves comments out of the digest, and a parser splits the
//! text around a comment or a processing instruction into several text nodes. A reader that
//! takes "the first text node" of `<Subject>pay 100 EUR<!----> - CANCELLED</Subject>` reads
//! `pay 100 EUR` while the signer signed `pay 100 EUR - CANCELLED`. So a signed value is the
//! whole character content of its element: CDATA sections and character references are read in
//! full (the parser has already resolved them into text), and a comment, a processing
//! instruction or a child element inside the value is refused, never skipped.

use std::borrow::Cow;

use roxmltree::{Node, NodeType};

/// Why a signed element's text cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignedTextError {
    #[error("{0} holds a comment inside its value")]
    Comment(String),
    #[error("{0} holds a processing instruction inside its value")]
    ProcessingInstruction(String),
    #[error("{0} must hold text only, not an element")]
    Element(String),
}

/// The whole text of `element`, which must hold character data only (text, CDATA, character
/// references). Borrowed from the document when the parser kept it as one text node.
pub fn signed_text<'a>(element: Node<'a, '_>) -> Result<Cow<'a, str>, SignedTextError> {
    let mut text: Cow<'a, str> = Cow::Borrowed("");
    for child in element.children() {
        match child.node_type() {
            NodeType::Text => {
                let part = child.text().unwrap_or("");
                if text.is_empty() {
                    text = Cow::Borrowed(part);
                } else {
                    text.to_mut().push_str(part);
                }
            }
            NodeType::Comment => return Err(SignedTextError::Comment(name_of(element))),
            NodeType::PI => {
                return Err(SignedTextError::ProcessingInstruction(name_of(element)));
            }
            NodeType::Element | NodeType::Root => {
                return Err(SignedTextError::Element(name_of(element)));
            }
        }
    }
    Ok(text)
}

fn name_of(element: Node<'_, '_>) -> String {
    element.tag_name().name().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, parse};

    fn read(xml: &str) -> Result<String, SignedTextError> {
        let doc = parse(xml, &Limits::default()).expect("well formed");
        signed_text(doc.root_element()).map(Cow::into_owned)
    }

    #[test]
    fn a_comment_inside_a_value_is_refused_not_skipped() {
        assert_eq!(
            read("<Subject>pay 100 EUR<!----> - CANCELLED</Subject>"),
            Err(SignedTextError::Comment("Subject".into()))
        );
        assert_eq!(
            read("<Subject><!--x-->pay</Subject>"),
            Err(SignedTextError::Comment("Subject".into()))
        );
    }

    #[test]
    fn a_processing_instruction_or_an_element_inside_a_value_is_refused() {
        assert_eq!(
            read("<Id>a<?pi x?>b</Id>"),
            Err(SignedTextError::ProcessingInstruction("Id".into()))
        );
        assert_eq!(
            read("<Id>a<b/>c</Id>"),
            Err(SignedTextError::Element("Id".into()))
        );
    }

    #[test]
    fn cdata_and_character_references_are_read_in_full() {
        assert_eq!(
            read("<S>pay <![CDATA[100 <EUR>]]> &#x2D; now</S>").as_deref(),
            Ok("pay 100 <EUR> - now")
        );
        assert_eq!(read("<S>&#65;&amp;&lt;B</S>").as_deref(), Ok("A&<B"));
        assert_eq!(read("<S/>").as_deref(), Ok(""));
    }
}
