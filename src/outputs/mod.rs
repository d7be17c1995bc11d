//! Where the merged certificates go: the PEM bundle, OpenSSL's hashed
//! folder, and the OS store's own drop-in folder (`install --system`).

pub(crate) mod hashdir;
pub mod keystore;
pub mod kube;
pub mod os_store;
pub mod pem;
