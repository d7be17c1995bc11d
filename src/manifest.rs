//! The manifest written beside the bundle: what went in, from where, and
//! what was left out and why. `list` reads it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bundle::Record;
use crate::error::{Error, Result};
use crate::sources::mozilla::Provenance;
use crate::sources::os::OsInfo;
use crate::{decode, store};

/// `C` is the list of certificates: records when read back, and
/// [`crate::bundle::Records`] (made as they are written) when written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest<C = Vec<Record>> {
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
    /// Every OS store file this sync read, with its size and SHA-256, so
    /// `doctor` can tell when a source changed since (whatever its time).
    #[serde(default)]
    pub inputs: Vec<Input>,
    /// Every certificate seen, kept or not.
    pub certificates: C,
}

/// One file a sync read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Input {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

impl From<&crate::sources::FileRead> for Input {
    fn from(f: &crate::sources::FileRead) -> Input {
        Input {
            path: f.path.clone(),
            size: f.digest.size,
            sha256: crate::cert::hex(&f.digest.sha256),
        }
    }
}

/// The manifest is ours and grows with the store (about 500 bytes a
/// certificate); this bounds it well above any real store.
const MAX_MANIFEST_SIZE: u64 = 256 << 20;

impl<C: Serialize> Manifest<C> {
    /// Written straight to the file, not built in memory first; compact,
    /// since it grows with the store (`list --json` is the readable view).
    pub fn prepare(&self, path: &Path) -> Result<store::Prepared> {
        store::prepare_atomic(path, |f| {
            let mut w = std::io::BufWriter::new(f);
            serde_json::to_writer(&mut w, self)?;
            w.write_all(b"\n")?;
            w.flush()
        })
    }
}

impl Manifest {
    /// Read the manifest; `bundle` is only for the error when there is none.
    pub fn read(path: &Path, bundle: &Path) -> Result<Manifest> {
        if !path.exists() {
            return Err(Error::NoBundle(bundle.to_path_buf()));
        }
        let bytes =
            decode::read_bounded_max(path, MAX_MANIFEST_SIZE).map_err(|reason| Error::Config {
                path: path.to_path_buf(),
                reason,
            })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: format!("not a cabundle manifest ({e}); run `cabundle sync` to rewrite it"),
        })
    }
}
