//! What points programs at the outputs: environment variables for every
//! shell, and Python's `cabundle.pth`.

pub mod env;
pub mod java;
pub mod python;
pub mod tools;
