//! The manifest written beside the bundle: what went in, from where, and
//! what was left out and why. `list` reads it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::Record;
use crate::error::{Error, Result};
use crate::sources::mozilla::Provenance;
use crate::sources::os::OsInfo;
use crate::{decode, store};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// The version of cabundle that wrote it.
    pub cabundle: String,
    /// The day expiry was judged against (UTC).
    pub as_of: String,
    pub bundle: PathBuf,
    pub os: OsInfo,
    pub mozilla: Provenance,
    /// Added CAs, by name.
    pub added: usize,
    /// Fingerprints blocked with `cabundle block`, seen or not.
    #[serde(default)]
    pub blocked: Vec<String>,
    /// Files that could not be used, "path: reason".
    pub problems: Vec<String>,
    /// Every certificate seen, kept or not.
    pub certificates: Vec<Record>,
}

impl Manifest {
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        store::write_atomic(path, &json)
    }

    /// Read the manifest; `bundle` is only for the error when there is none.
    pub fn read(path: &Path, bundle: &Path) -> Result<Manifest> {
        if !path.exists() {
            return Err(Error::NoBundle(bundle.to_path_buf()));
        }
        let bytes = decode::read_bounded(path).map_err(|reason| Error::Config {
            path: path.to_path_buf(),
            reason,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: format!("not a cabundle manifest ({e}); run `cabundle sync` to rewrite it"),
        })
    }
}
