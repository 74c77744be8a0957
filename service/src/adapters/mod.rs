//! Adapters: the network, files and services the core talks to through its ports.

pub mod http;
pub mod tls;
