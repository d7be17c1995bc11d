//! Mozilla's server-auth roots: a snapshot compiled in, so that `sync` needs
//! no network, or a fresher set that `cabundle fetch` verified and cached.
//! Both are a PEM file plus a provenance file saying where it came from.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Gathered;
use crate::cert::{hex, parse_fingerprint};
use crate::decode;
use crate::error::{Error, Result};
use crate::store;

pub const LABEL: &str = "mozilla";
pub const PEM: &[u8] = include_bytes!("../../bundles/mozilla-roots.pem");
const PROVENANCE: &str = include_str!("../../bundles/mozilla-roots.toml");

/// Where a set of roots came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provenance {
    /// What was read: a URL, a file, or a package and the file in it.
    pub upstream: String,
    /// `certdata.txt` (with trust bits) or `cacert.pem`.
    pub format: String,
    pub version: String,
    /// The day the set was made (UTC).
    pub date: String,
    /// SHA-256 of the upstream file as it was read.
    pub upstream_sha256: String,
    /// SHA-256 of the PEM file this describes, checked before it is used.
    pub sha256: String,
    pub count: usize,
    pub license: String,
    /// The PEM file's name beside a cached provenance file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// certdata.txt's `CKA_NSS_SERVER_DISTRUST_AFTER`, by SHA-256: leaves
    /// issued after that time are distrusted; the root stays.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub distrust_after: BTreeMap<String, String>,
}

/// A set of roots and where it came from.
#[derive(Debug, Clone)]
pub struct Roots {
    pub provenance: Provenance,
    pub pem: Cow<'static, [u8]>,
}

impl Roots {
    pub fn embedded() -> Roots {
        Roots {
            // Checked by a unit test, so this cannot fail in a released binary.
            provenance: toml::from_str(PROVENANCE).expect("bundles/mozilla-roots.toml is valid"),
            pem: Cow::Borrowed(PEM),
        }
    }

    /// The cached set, if there is a good one; else the embedded snapshot.
    /// A damaged cache is reported and passed over.
    pub fn current(cache_dir: &Path, out: &mut Gathered) -> Roots {
        match Roots::cached(cache_dir) {
            Ok(Some(roots)) => roots,
            Ok(None) => Roots::embedded(),
            Err(e) => {
                out.problem(
                    &cache_file(cache_dir),
                    format!("{e}; using the embedded snapshot"),
                );
                Roots::embedded()
            }
        }
    }

    fn cached(cache_dir: &Path) -> Result<Option<Roots>, String> {
        let path = cache_file(cache_dir);
        if !path.exists() {
            return Ok(None);
        }
        let text = decode::read_bounded(&path)?;
        let provenance: Provenance = toml::from_str(&String::from_utf8_lossy(&text))
            .map_err(|e| format!("unreadable ({e})"))?;
        let file = provenance.file.as_deref().ok_or("names no PEM file")?;
        let pem =
            decode::read_bounded(&cache_dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
        if hex(&Sha256::digest(&pem)) != provenance.sha256 {
            return Err(format!("{file} does not match its recorded SHA-256"));
        }
        Ok(Some(Roots {
            provenance,
            pem: Cow::Owned(pem),
        }))
    }

    /// Add these roots to `out`; returns how many there were.
    pub fn load(&self, out: &mut Gathered) -> usize {
        let decoded = decode::decode_with(&self.pem, &out.memo);
        let shown = PathBuf::from(format!("<mozilla roots: {}>", self.provenance.upstream));
        for reason in decoded.errors {
            out.problem(&shown, reason);
        }
        for (fp, when) in &self.provenance.distrust_after {
            let (Some(sha), Some(at)) = (parse_fingerprint(fp), crate::date::parse_instant(when))
            else {
                out.problem(&shown, format!("bad distrust_after entry {fp} = {when}"));
                continue;
            };
            out.distrust_after.insert(sha, at);
        }
        let n = decoded.items.len();
        out.found_in(LABEL, decoded.items);
        n
    }

    /// Cache these roots: the PEM under a name made from its hash, then the
    /// provenance naming it. Each write is atomic and the provenance is
    /// written last, so a failure at any point leaves a whole old or new set.
    pub fn store(&self, cache_dir: &Path) -> Result<()> {
        let file = format!("mozilla-roots-{}.pem", &self.provenance.sha256[..16]);
        store::write_atomic(&cache_dir.join(&file), &self.pem)?;
        let provenance = Provenance {
            file: Some(file.clone()),
            ..self.provenance.clone()
        };
        let text = toml::to_string(&provenance).map_err(|e| Error::Config {
            path: cache_file(cache_dir),
            reason: e.to_string(),
        })?;
        store::write_atomic(&cache_file(cache_dir), text.as_bytes())?;
        // Older sets are no longer named by anything.
        if let Ok(entries) = std::fs::read_dir(cache_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("mozilla-roots-") && name.ends_with(".pem") && name != file {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }
}

/// The cached provenance file (which names the cached PEM).
pub fn cache_file(cache_dir: &Path) -> PathBuf {
    cache_dir.join("mozilla-roots.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_matches_its_provenance() {
        let roots = Roots::embedded();
        let p = &roots.provenance;
        assert_eq!(hex(&Sha256::digest(PEM)), p.sha256);
        let decoded = decode::decode(PEM);
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        assert_eq!(decoded.items.len(), p.count);
        assert!(decoded.items.iter().all(|i| i.cert.is_ca()));
        assert_eq!(p.license, "MPL-2.0");
    }

    #[test]
    fn a_cache_whose_pem_changed_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots::embedded();
        roots.store(dir.path()).unwrap();
        let mut out = Gathered::default();
        assert!(
            Roots::current(dir.path(), &mut out)
                .provenance
                .file
                .is_some()
        );
        assert!(out.problems.is_empty());
        let file = dir.path().join(format!(
            "mozilla-roots-{}.pem",
            &roots.provenance.sha256[..16]
        ));
        std::fs::write(&file, b"tampered").unwrap();
        let got = Roots::current(dir.path(), &mut out);
        assert!(
            got.provenance.file.is_none(),
            "fell back to the embedded set"
        );
        assert!(out.problems[0].reason.contains("does not match"));
    }
}
