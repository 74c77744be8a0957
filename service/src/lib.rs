//! Sealpost, the electronic registered-delivery service.
//!
//! - `core`: the crate `sealpost-core` (core/), re-exported: the pure pipeline (checks,
//!   decisions, evidence contents) over ports; it cannot name a web, database, XML or
//!   runtime crate;
//! - `adapters`: HTTPS, SOAP, gRPC, the stores (redb, PostgreSQL), the mailbox's port, the
//!   embedded notary (TSA and seal), metrics;
//! - `config`: one TOML file with `SEALPOST_*` overrides;
//! - `app`: the service assembled from the configuration;
//! - `retention`: the scheduled deletion of unused mailbox accounts (seed 003);
//! - `archive`: the archive job, which keeps evidences provable (XAdES B-LTA);
//! - `audit_export`: the audit log as a file a third party verifies offline;
//! - `lease`: the periodic jobs run on one node of a cluster at a time.

pub mod adapters;
pub mod app;
pub mod archive;
pub mod audit_export;
pub mod config;
pub mod lease;
pub use sealpost_core as core;
pub mod retention;
