//! What points programs at the outputs: environment variables for every
//! shell, Python's `cabundle.pth`, JVMs' cacerts, and the NSS databases of
//! Chromium, Firefox and Electron apps.

pub mod env;
pub mod java;
pub mod nss;
pub mod python;
pub mod tools;
