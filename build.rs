//! Compiles every proto under proto/keyward/v1 into tonic service code and writes the descriptor
//! set that reflection serves. protoc comes from the protoc-bin-vendored crate, so a fresh machine
//! needs none.

use std::{env, fs, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut protos: Vec<PathBuf> =
        fs::read_dir("proto/keyward/v1")?.map(|entry| entry.map(|e| e.path())).collect::<Result<_, _>>()?;
    protos.retain(|path| path.extension().is_some_and(|ext| ext == "proto"));
    protos.sort();
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);

    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);

    tonic_prost_build::configure()
        // A request body that does not decode is INVALID_ARGUMENT, not tonic's INTERNAL.
        .codec_path("crate::grpc::KeywardCodec")
        .file_descriptor_set_path(out_dir.join("keyward_descriptor.bin"))
        .compile_with_config(config, &protos, &[PathBuf::from("proto"), protoc_bin_vendored::include_path()?])?;
    println!("cargo:rerun-if-changed=proto");
    Ok(())
}
