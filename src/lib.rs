//! Keyward: an identity service over gRPC. See ARCHITECTURE.md for the map.

pub mod app;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod i18n;
pub mod master_key;
pub mod metrics;
pub mod pb;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod web;

pub use app::{App, RunningApp};
pub use config::Config;
pub use error::{Error, Result};
