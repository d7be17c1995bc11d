//! cabundle: build one trustworthy CA bundle from the OS trust store,
//! Mozilla's roots and the user's own CAs, and point TLS clients at it.
//!
//! Data flows one way: [`sources`] → [`decode`] → [`merge`] (policy) →
//! [`outputs`] → [`clients`]. [`sync`] runs that pipeline; [`state`] is
//! cabundle's own files; [`doctor`] explains what a client will make of it.
//!
//! Each command of the binary calls one function here and renders what it
//! returns: `sync` → [`sync::run`], `add`/`remove`/`block`/`unblock` →
//! [`change`], `fetch` → [`refresh`], `list` → [`state::manifest`],
//! `install`/`uninstall --system` → [`outputs::os_store`], `env`/`exec` →
//! [`clients::env`], `python` → [`clients::python`], `doctor` → [`doctor`],
//! `proxy detect`/`proxy trust` → [`proxy`], `schedule` → [`schedule`].
//! None of it prints: progress comes back through a callback the command
//! gives, warnings and notes as data.

/// serde for a type whose text form is its `Display` and `FromStr`: one
/// form in JSON, TOML and messages alike.
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_text;

pub mod cert;
pub mod change;
pub mod clients;
pub mod date;
pub mod decode;
pub mod doctor;
pub mod error;
pub mod export;
pub mod lifetime;
pub mod merge;
pub mod outputs;
pub mod proxy;
pub mod refresh;
pub mod schedule;
pub mod sources;
pub mod state;
pub mod sync;
pub mod system;
#[cfg(test)]
mod test_support;

pub use error::{Error, Result};
