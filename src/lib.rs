//! cabundle: build one trustworthy CA bundle from the OS trust store,
//! Mozilla's roots and the user's own CAs, and point TLS clients at it.

pub mod bundle;
pub mod cert;
pub mod cli;
pub mod commands;
pub mod config;
pub mod date;
pub mod decode;
pub mod doctor;
pub mod env;
pub mod error;
pub mod fetch;
pub mod hashdir;
pub mod install;
pub mod lifetime;
pub mod manifest;
pub mod python;
pub mod sources;
pub mod store;
pub mod sync;
pub mod system;
pub mod tls;
pub mod verify;

pub use error::{Error, Result};
