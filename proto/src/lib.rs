//! Sealpost's gRPC contract, generated from `sealpost.proto`: the messages of
//! `sealpost.v1.RegisteredMail` and its server trait ([`v1::registered_mail_server`]).

#[allow(
    missing_debug_implementations,
    unused_qualifications,
    clippy::all,
    clippy::pedantic
)]
pub mod v1 {
    tonic::include_proto!("sealpost.v1");
}

/// The contract itself, as shipped to client developers.
pub const PROTO: &str = include_str!("../sealpost.proto");
