//! Helpers shared by the integration tests, one module per idea; the
//! common ones are re-exported here, so `use common::*` brings them in.
#![allow(dead_code)]

pub mod certdata;
pub mod oracle;
pub mod pki;
pub mod run;
pub mod server;
pub mod state;
pub mod venv;

pub use oracle::*;
pub use pki::*;
pub use run::*;
pub use state::*;
