//! `cabundle doctor`: why "certificate verify failed", and the one command
//! that fixes it, or word that the fault is the server's. [`setup`] checks
//! this machine; [`url`] checks what a server presents ([`capture`]), as
//! OpenSSL judges it ([`verify`]), and [`classify`] names the failure.

pub mod capture;
pub mod classify;
pub mod setup;
pub mod trust;
pub mod url;
pub mod verify;

pub use classify::{Class, is_public_host};
pub use setup::{Finding, Level, local};
pub use trust::TrustSets;
pub use url::{UrlOptions, UrlReport, check_url, parse_url};
