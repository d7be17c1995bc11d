//! Mozilla's server-auth roots: a snapshot compiled in, so that `sync` needs
//! no network, or a fresher set that `cabundle fetch` verified and cached.
//! Both are a PEM file plus a provenance file saying where it came from.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use data_encoding::HEXLOWER;
use serde::{Deserialize, Serialize};

use super::Gathered;
use crate::cert::Sha256;
use crate::date::{Day, Timestamp};
use crate::decode::{self, DecodeError, ReadError};
use crate::error::{Error, Result};
use crate::state;

pub const LABEL: &str = "mozilla";
pub const PEM: &[u8] = include_bytes!("../../bundles/mozilla-roots.pem");
const PROVENANCE: &str = include_str!("../../bundles/mozilla-roots.toml");
/// Roots Mozilla once trusted for TLS servers and has since removed:
/// `fetch` refuses a set that brings one back unless the user names it
/// (scripts/build-removed-ledger.py builds it; it only grows).
const REMOVED: &str = include_str!("../../bundles/mozilla-removed.toml");

/// Where a set of roots came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provenance {
    /// What was read: a URL, a file, or a package and the file in it.
    pub upstream: String,
    /// `certdata.txt` (with trust bits) or `cacert.pem`.
    pub format: String,
    pub version: String,
    /// The day the set was made (UTC).
    pub date: Day,
    /// SHA-256 of the upstream file as it was read.
    pub upstream_sha256: Sha256,
    /// SHA-256 of the PEM file this describes, checked before it is used.
    pub sha256: Sha256,
    pub count: usize,
    pub license: String,
    /// The PEM file's name beside a cached provenance file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// certdata.txt's `CKA_NSS_SERVER_DISTRUST_AFTER`, by SHA-256: leaves
    /// issued after that time are distrusted; the root stays.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub distrust_after: BTreeMap<Sha256, Timestamp>,
    /// certdata.txt's explicit distrust (`CKT_NSS_NOT_TRUSTED`), which wins
    /// over every source: `sha256:HEX`, `sha1:HEX` or `issuer-serial:HEX`
    /// (see [`crate::cert::issuer_serial_key`]), to the label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub distrusted: BTreeMap<String, String>,
    /// Removed roots the user let back in by name (`fetch --allow-removed`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_removed: Vec<Sha256>,
}

/// Why the cached set is passed over (for the embedded snapshot).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{0}")]
    Read(ReadError),
    #[error("unreadable ({0})")]
    Provenance(toml::de::Error),
    #[error("names no PEM file")]
    NoFile,
    #[error("names {0:?}, which is not a file fetch writes")]
    NotOurs(String),
    #[error("{file}: {source}")]
    ReadPem { file: String, source: ReadError },
    #[error("{0} does not match its recorded SHA-256")]
    Changed(String),
    #[error(transparent)]
    Set(#[from] SetError),
}

/// Why a set of roots is not one to use.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("unreadable: {0}")]
    Unreadable(DecodeError),
    #[error("holds {found} roots, but its provenance says {recorded}")]
    Count { found: usize, recorded: usize },
    #[error("{0} is not a CA certificate")]
    NotACa(String),
    #[error("only {valid} of its roots are still valid, against {floor} at least")]
    TooFewValid { valid: usize, floor: usize },
    #[error("holds {} root(s) Mozilla removed: {}", .0.len(), .0.join(", "))]
    Removed(Vec<String>),
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

    fn cached(cache_dir: &Path) -> Result<Option<Roots>, CacheError> {
        let path = cache_file(cache_dir);
        if !path.exists() {
            return Ok(None);
        }
        let text = decode::read_bounded(&path).map_err(CacheError::Read)?;
        let provenance: Provenance =
            toml::from_str(&String::from_utf8_lossy(&text)).map_err(CacheError::Provenance)?;
        let file = provenance.file.as_deref().ok_or(CacheError::NoFile)?;
        // A name fetch gives, and nothing else: a provenance file that names
        // `../../x` or an absolute path is not ours. (Whether it is this
        // set's is for the SHA-256 below to say.)
        let named_as_ours = file
            .strip_prefix("mozilla-roots-")
            .and_then(|f| f.strip_suffix(".pem"))
            .is_some_and(|h| h.len() == 16 && HEXLOWER.decode(h.as_bytes()).is_ok());
        if !named_as_ours {
            return Err(CacheError::NotOurs(file.to_string()));
        }
        let pem =
            decode::read_bounded(&cache_dir.join(file)).map_err(|source| CacheError::ReadPem {
                file: file.to_string(),
                source,
            })?;
        if Sha256::of(&pem) != provenance.sha256 {
            return Err(CacheError::Changed(file.to_string()));
        }
        let roots = Roots {
            provenance,
            pem: Cow::Owned(pem),
        };
        roots.check(crate::date::now())?;
        Ok(Some(roots))
    }

    /// What a set must be to be used: readable, its count as recorded, only
    /// CA certificates, enough of them still valid, and no root Mozilla
    /// removed that the user did not let back in by name.
    pub fn check(&self, now: Timestamp) -> Result<(), SetError> {
        let mut decoded = decode::decode(&self.pem);
        if !decoded.errors.is_empty() {
            return Err(SetError::Unreadable(decoded.errors.swap_remove(0)));
        }
        let p = &self.provenance;
        if decoded.items.len() != p.count {
            return Err(SetError::Count {
                found: decoded.items.len(),
                recorded: p.count,
            });
        }
        if let Some(leaf) = decoded.items.iter().find(|i| !i.cert.is_ca()) {
            return Err(SetError::NotACa(leaf.cert.name().to_string()));
        }
        let floor = Roots::embedded().provenance.count / 2;
        let valid = decoded
            .items
            .iter()
            .filter(|i| !i.cert.is_expired_at(now))
            .count();
        if valid < floor {
            return Err(SetError::TooFewValid { valid, floor });
        }
        let removed = removed_roots();
        let back: Vec<String> = decoded
            .items
            .iter()
            .filter(|i| {
                removed.contains(&i.cert.sha256) && !p.allowed_removed.contains(&i.cert.sha256)
            })
            .map(|i| i.cert.name().to_string())
            .collect();
        if !back.is_empty() {
            return Err(SetError::Removed(back));
        }
        Ok(())
    }

    /// Add these roots to `out`; returns how many there were.
    pub fn load(&self, out: &mut Gathered) -> usize {
        let decoded = decode::decode_with(&self.pem, &out.memo);
        let shown = PathBuf::from(format!("<mozilla roots: {}>", self.provenance.upstream));
        for reason in decoded.errors {
            out.problem(&shown, reason);
        }
        out.distrust_after.extend(&self.provenance.distrust_after);
        for (name, label) in &self.provenance.distrusted {
            let why = format!(
                "Mozilla distrusts it (CKT_NSS_NOT_TRUSTED in {}: {})",
                self.provenance.format,
                crate::cert::printable(label)
            );
            match parse_distrust_name(name) {
                Some(by) => out.distrust(by, why),
                // A distrust that cannot be read must stop the sync, not be
                // skipped.
                None => out.unapplied(&shown, format!("bad distrusted entry {name:?}")),
            }
        }
        let n = decoded.items.len();
        out.found_in(LABEL, decoded.items);
        n
    }

    /// Cache these roots: the PEM under a name made from its hash, then the
    /// provenance naming it. Each write is atomic and the provenance is
    /// written last, so a failure at any point leaves a whole old or new set.
    pub fn store(&self, cache_dir: &Path) -> Result<()> {
        let file = pem_file_name(&self.provenance.sha256);
        state::write_atomic(&cache_dir.join(&file), &self.pem)?;
        let provenance = Provenance {
            file: Some(file.clone()),
            ..self.provenance.clone()
        };
        let text =
            toml::to_string(&provenance).map_err(|e| Error::encode(cache_file(cache_dir), e))?;
        state::write_atomic(&cache_file(cache_dir), text.as_bytes())?;
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

/// A `distrusted` key: `sha256:HEX`, `sha1:HEX` or `issuer-serial:HEX`.
pub fn parse_distrust_name(name: &str) -> Option<super::Fingerprint> {
    use super::Fingerprint;
    let (kind, hex_digits) = name.split_once(':')?;
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex_digits.as_bytes())
        .ok()?;
    match kind {
        "sha256" => Some(Fingerprint::Sha256(Sha256(bytes.try_into().ok()?))),
        "sha1" => Some(Fingerprint::Sha1(bytes.try_into().ok()?)),
        "issuer-serial" => Some(Fingerprint::IssuerSerial(Sha256(bytes.try_into().ok()?))),
        _ => None,
    }
}

/// The SHA-256s of the roots Mozilla removed, from the ledger compiled in.
/// Its keys are read straight off their lines (`HEX = { ... }`): the ledger
/// is ours, and this runs wherever a cached set is used (a unit test checks
/// it against a full TOML read).
pub fn removed_roots() -> std::collections::HashSet<Sha256> {
    REMOVED
        .lines()
        .filter_map(|l| l.split_once(" = {"))
        .filter_map(|(k, _)| k.trim().parse().ok())
        .collect()
}

/// A removed root's name, from the ledger (for messages).
pub fn removed_name(sha: &Sha256) -> Option<String> {
    let key = sha.to_string();
    let line = REMOVED.lines().find(|l| l.starts_with(&key))?;
    let at = line.find("name = \"")? + 8;
    let rest = &line[at..];
    Some(rest[..rest.find('"')?].to_string())
}

impl Roots {
    /// Remove the fetched set, so the embedded snapshot is used again.
    /// False when there was none.
    pub fn forget_cache(cache_dir: &Path) -> Result<bool> {
        let provenance = cache_file(cache_dir);
        let had = provenance.exists();
        // The provenance first: without it, the PEM is never used.
        match std::fs::remove_file(&provenance) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&provenance, e));
            }
            _ => {}
        }
        if let Ok(entries) = std::fs::read_dir(cache_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with("mozilla-roots-") && name.ends_with(".pem") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(had)
    }
}

/// The name `fetch` gives a cached PEM file: from its SHA-256, so a new
/// set never overwrites the one in use before its provenance names it.
/// (What `cached` accepts is this form.)
fn pem_file_name(sha256: &Sha256) -> String {
    format!("mozilla-roots-{}.pem", sha256.short())
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
        assert_eq!(Sha256::of(PEM), p.sha256);
        let decoded = decode::decode(PEM);
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        assert_eq!(decoded.items.len(), p.count);
        assert!(decoded.items.iter().all(|i| i.cert.is_ca()));
        assert_eq!(p.license, "MPL-2.0");
    }

    #[test]
    fn the_ledger_is_read_whole_and_shares_no_root_with_the_snapshot() {
        let table: toml::Table = toml::from_str(REMOVED).unwrap();
        let full: std::collections::HashSet<Sha256> = table["removed"]
            .as_table()
            .unwrap()
            .keys()
            .map(|k| k.parse().unwrap())
            .collect();
        let fast = removed_roots();
        assert_eq!(fast, full);
        assert_eq!(fast.len() as i64, table["count"].as_integer().unwrap());
        assert!(fast.len() > 100);
        // Built against this very snapshot.
        assert_eq!(
            table["snapshot_sha256"].as_str().unwrap(),
            Sha256::of(PEM).to_string()
        );
        for item in decode::decode(PEM).items {
            assert!(!fast.contains(&item.cert.sha256), "{}", item.cert.name());
        }
        let some = fast.iter().next().unwrap();
        assert!(removed_name(some).is_some_and(|n| !n.is_empty()));
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
        let file = dir.path().join(pem_file_name(&roots.provenance.sha256));
        std::fs::write(&file, b"tampered").unwrap();
        let got = Roots::current(dir.path(), &mut out);
        assert!(
            got.provenance.file.is_none(),
            "fell back to the embedded set"
        );
        assert!(out.problems[0].reason.contains("does not match"));
    }
}
