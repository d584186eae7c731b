//! Generated protobuf and tonic code. Nothing else includes the generated files.

#![allow(clippy::all, missing_docs)] // generated code

tonic::include_proto!("keyward.v1");

/// Encoded descriptor set of every Keyward proto, served by gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("keyward_descriptor");
