//! Sealed ERDS evidence (ETSI EN 319 522) and the court's offline verifier.
//!
//! - [`model`]: the evidence and its XML form;
//! - [`seal`]: XAdES baseline B-T sealing (the seal signature, time-stamped);
//! - [`verify`]: the numbered, offline verification procedure behind `sealpost-verify`.

pub mod model;
pub mod seal;
pub mod verify;
