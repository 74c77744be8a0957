//! Sealpost's RFC 3161 time-stamp authority.
//!
//! - [`issue()`]: a pure function from a `TimeStampReq` (DER), the time, a serial number and a
//!   signer to a `TimeStampResp` (DER), following RFC 3161 and RFC 5816 (ESSCertIDv2).
//! - [`verify`]: offline verification of a token with its own genTime as the validation time;
//!   shared with the court's verifier.
//! - [`authority::TimeStampAuthority`]: the stateful service around `issue()`: a clock that is
//!   trusted only while sane ([`clock`]), serial numbers that never repeat ([`serial`]).
//! - [`server`] and [`client`]: RFC 3161 over HTTP.

pub mod asn1;
pub mod authority;
pub mod client;
pub mod clock;
pub mod issue;
pub mod request;
pub mod serial;
pub mod server;
pub mod signer;
pub mod verify;

pub use issue::{FailureInfo, IssuePolicy, Issued, Outcome, issue};
pub use request::{HashAlgorithm, RequestSpec};
pub use signer::{EcdsaP256Signer, SignerIdentity, TimeStampSigner};
pub use verify::{
    Expected, TrustStore, Verdict, VerifiedToken, VerifyError, verify_response, verify_token,
};
