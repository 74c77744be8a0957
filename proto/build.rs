//! Generates the gRPC messages and the server side of `sealpost.v1.RegisteredMail` from
//! sealpost.proto, with the vendored protoc (no system protoc needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .build_transport(false)
        .compile_with_config(config, &["sealpost.proto"], &["."])?;
    Ok(())
}
