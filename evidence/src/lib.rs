//! Sealed ERDS evidence (ETSI EN 319 522) and the court's offline verifier.
//!
//! - [`model`]: the evidence and its XML form;
//! - [`provider`]: who may seal: the provider's published identity, the seal certificate profile;
//! - [`seal`]: XAdES baseline B-T sealing (the seal signature, time-stamped), B-LT with a
//!   validation source;
//! - [`long_term`]: the validation data of B-LT, the archive time-stamps of B-LTA;
//! - [`verify`]: the numbered, offline verification procedure behind `sealpost-verify`;
//! - [`audit_export`]: the audit export a third party verifies offline (`sealpost-audit-export-1`),
//!   its writer and its numbered verification (`sealpost-verify --audit-export`).

pub mod audit_export;
pub mod long_term;
pub mod model;
pub mod provider;
mod revocation;
pub mod seal;
pub mod verify;
