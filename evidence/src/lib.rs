//! Sealed ERDS evidence (ETSI EN 319 522) and the court's offline verifier.
//!
//! - [`model`]: the evidence and its XML form;
//! - [`provider`]: who may seal: the provider's published identity, the seal certificate profile;
//! - [`seal`]: XAdES baseline B-T sealing (the seal signature, time-stamped);
//! - [`verify`]: the numbered, offline verification procedure behind `sealpost-verify`.

pub mod model;
pub mod provider;
pub mod seal;
pub mod verify;
