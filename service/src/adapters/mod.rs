//! Adapters: the network, files and services the core talks to through its ports.

pub mod admission;
pub mod agency;
pub mod audit;
pub mod blobs;
pub mod blocking;
pub mod browser_login;
#[cfg(test)]
mod conformance;
pub mod crl_dp;
pub mod grpc;
pub mod health;
pub mod http;
pub mod idp_trust;
pub mod io_faults;
pub mod mailbox;
pub mod metrics;
pub mod mime;
pub mod notary;
pub mod notify;
pub mod ocsp;
pub mod oidc_sso;
pub mod postgres;
pub mod remote_tsa;
pub mod revocation_http;
pub mod saml_sso;
pub mod soap;
pub mod store;
#[cfg(test)]
mod store_faults;
pub mod time_stamping;
pub mod tls;
pub mod validation_data;
pub mod xop;
