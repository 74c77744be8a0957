//! Sealpost's RFC 3161 time-stamp authority.
//!
//! - [`issue()`]: a pure function from a `TimeStampReq` (DER), the time, a serial number and a
//!   signer to a `TimeStampResp` (DER), following RFC 3161 and RFC 5816 (ESSCertIDv2).
//! - [`verify`]: offline verification of a token with its own genTime as the validation time;
//!   shared with the court's verifier.
//! - [`authority::TimeStampAuthority`]: the stateful service around `issue()`: a clock that is
//!   trusted only while sane ([`clock`]), serial numbers that never repeat ([`serial`]).
//! - [`server`] and [`client`]: RFC 3161 over HTTP, behind the features of the same names (on by
//!   default; the court's offline verifier builds without them, so without tokio, axum or hyper).

pub mod asn1;
pub mod authority;
#[cfg(feature = "client")]
pub mod client;
pub mod clock;
pub mod issue;
pub mod request;
pub mod serial;
#[cfg(feature = "server")]
pub mod server;
pub mod signer;
pub mod verify;

/// The media type of a time-stamp query over HTTP (RFC 3161 §3.4), for the server and the client.
pub const QUERY_CONTENT_TYPE: &str = "application/timestamp-query";
/// The media type of a time-stamp reply over HTTP (RFC 3161 §3.4).
pub const REPLY_CONTENT_TYPE: &str = "application/timestamp-reply";

pub use issue::{FailureInfo, IssuePolicy, Issued, Outcome, issue};
pub use request::{HashAlgorithm, RequestSpec};
pub use signer::{EcdsaP256Signer, SignerIdentity, TimeStampSigner};
pub use verify::{
    Expected, TrustStore, Verdict, VerifiedToken, VerifyError, verify_response, verify_token,
};
