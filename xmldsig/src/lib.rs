//! Sealpost's XML security layer, in pure Rust: safe parsing of untrusted XML, Canonical XML
//! 1.0 and Exclusive XML Canonicalization 1.0, XML-DSig signing and verification, and
//! WS-Security (OASIS WSS 1.1, X.509 Certificate Token Profile) header processing.
//!
//! Verification answers with the nodes that were signed, never with an Id to look up again:
//! the caller processes exactly what the signature covers.

pub mod c14n;
pub mod parse;
pub mod saml;

pub use parse::{Limits, XmlError, parse};
pub mod document;
pub mod dsig;
pub mod ocsp;
pub mod published_crl;
pub mod signed_text;
pub mod trust;
pub mod wss;
pub mod wss_sign;
