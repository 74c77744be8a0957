//! Sealed ERDS evidence (ETSI EN 319 522) and the court's offline verifier.
//!
//! Not built yet: the evidence issue fills this crate (the event model, XAdES-B-T sealing with
//! the TSA of `sealpost-tsa`, and `sealpost-verify`). The crate exists so that the workspace
//! layout of DESIGN.md is fixed from the start.
