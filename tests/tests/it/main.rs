//! The end-to-end and interop tests, one binary: each module drives the real binaries with
//! the fixtures of `sealpost_interop` (the crate's `src/lib.rs`). The tests share a process
//! (under `cargo test`), so every scratch directory and database a fixture makes is its own
//! (see `sealpost_interop::scratch_dir`).

mod audit;
mod browser;
mod court;
mod evidence;
mod mailbox;
mod mtom;
mod pki;
mod replay;
mod service;
mod signed_text;
mod tsa;
mod xmldsig;
