//! Sealpost, the electronic registered-delivery service.
//!
//! This crate holds the server (`sealpost serve`), its configuration, and the administration
//! commands (`sealpost pki`). DESIGN.md describes where the core and the adapters go.

pub mod adapters;
pub mod config;
