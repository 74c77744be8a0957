//! Sealpost, the electronic registered-delivery service.
//!
//! - `core`: the pure pipeline (checks, decisions, evidence contents) over ports;
//! - `adapters`: HTTPS, SOAP, the redb store, the embedded notary (TSA and seal), metrics;
//! - `config`: one TOML file with `SEALPOST_*` overrides;
//! - `app`: the service assembled from the configuration.

pub mod adapters;
pub mod app;
pub mod config;
pub mod core;
