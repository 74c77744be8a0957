//! Sealpost, the electronic registered-delivery service.
//!
//! - `core`: the pure pipeline (checks, decisions, evidence contents) over ports;
//! - `adapters`: HTTPS, SOAP, gRPC, the stores (redb, PostgreSQL), the mailbox's port, the
//!   embedded notary (TSA and seal), metrics;
//! - `config`: one TOML file with `SEALPOST_*` overrides;
//! - `app`: the service assembled from the configuration;
//! - `retention`: the scheduled deletion of unused mailbox accounts (seed 003).

pub mod adapters;
pub mod app;
pub mod config;
pub mod core;
pub mod retention;
