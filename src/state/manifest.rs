//! The manifest written beside the bundle: what went in, from where, and
//! what was left out and why. `list` reads it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cert::Sha256;
use crate::date::{Day, Timestamp};
use crate::error::{Error, Result};
use crate::merge::{Entry, Status};
use crate::sources::mozilla::Provenance;
use crate::sources::os::OsInfo;
use crate::{decode, state};

/// `C` is the list of certificates: records when read back, and
/// [`Records`] (made as they are written) when written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest<C = Vec<Record>> {
    /// The version of cabundle that wrote it.
    pub cabundle: String,
    /// The day expiry was judged against (UTC).
    pub as_of: Day,
    pub bundle: PathBuf,
    pub os: OsInfo,
    pub mozilla: Provenance,
    /// Added CAs, by name.
    pub added: usize,
    /// Fingerprints blocked with `cabundle block`, seen or not.
    #[serde(default)]
    pub blocked: Vec<Sha256>,
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
    pub sha256: Sha256,
}

impl From<&crate::sources::FileRead> for Input {
    fn from(f: &crate::sources::FileRead) -> Input {
        Input {
            path: f.path.clone(),
            size: f.digest.size,
            sha256: f.digest.sha256,
        }
    }
}

/// The manifest is ours and grows with the store (about 500 bytes a
/// certificate); this bounds it well above any real store.
const MAX_MANIFEST_SIZE: u64 = 256 << 20;

impl<C: Serialize> Manifest<C> {
    /// Written straight to the file, not built in memory first; compact,
    /// since it grows with the store (`list --json` is the readable view).
    pub fn prepare(&self, path: &Path) -> Result<state::Prepared> {
        state::prepare_atomic(path, |f| {
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
            decode::read_bounded_max(path, MAX_MANIFEST_SIZE).map_err(|source| Error::Read {
                path: path.to_path_buf(),
                source,
            })?;
        serde_json::from_slice(&bytes).map_err(|source| Error::BadManifest {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The entries as manifest records, made one at a time as they are
/// serialized.
pub struct Records<'a>(pub &'a [Entry]);

impl Serialize for Records<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(Record::from))
    }
}

/// One certificate as the manifest (and `list --json`) shows it. Times are
/// written as `YYYY-MM-DDTHH:MM:SSZ`, which sorts as they do (see
/// [`Timestamp`]), and read back as values.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub sha256: Sha256,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    pub sources: Vec<String>,
    pub status: Status,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Mozilla's server distrust-after date: leaves issued later are not
    /// trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distrust_after: Option<Timestamp>,
    /// With a distrust-after date: when the last TLS certificate issued by
    /// then expires, and the root leaves the bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept_until: Option<Timestamp>,
}

impl From<&Entry> for Record {
    fn from(e: &Entry) -> Record {
        Record {
            sha256: e.cert.sha256,
            subject: e.cert.subject.clone(),
            issuer: e.cert.issuer.clone(),
            serial: e.cert.serial.clone(),
            not_before: e.cert.not_before,
            not_after: e.cert.not_after,
            sources: e.sources.iter().map(|s| s.to_string()).collect(),
            status: e.status.clone(),
            reason: e.reason.clone(),
            distrust_after: e.distrust_after,
            kept_until: e.distrust_after.map(crate::lifetime::last_valid),
        }
    }
}

/// Which records `list` asks for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter {
    /// Also those left out (expired, distrusted, blocked).
    pub all: bool,
    /// Only those that expire by this time.
    pub expiring_by: Option<Timestamp>,
}

/// What `list` shows: the records asked for, and how many of them each
/// kind of source carried (one may come from several).
#[derive(Debug)]
pub struct Listing {
    pub manifest: Manifest,
    /// Positions in `manifest.certificates` of the records asked for.
    pub shown: Vec<usize>,
    pub from_os: usize,
    pub from_mozilla: usize,
    pub added: usize,
}

impl Listing {
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        self.shown.iter().map(|&i| &self.manifest.certificates[i])
    }
}

/// The engine of `list`: the manifest beside the bundle, filtered.
pub fn list(paths: &state::Paths, filter: Filter) -> Result<Listing> {
    let manifest = Manifest::read(&paths.manifest, &paths.bundle)?;
    let shown: Vec<usize> = (0..manifest.certificates.len())
        .filter(|&i| {
            let r = &manifest.certificates[i];
            (filter.all || r.status == Status::Kept)
                && filter.expiring_by.is_none_or(|by| r.not_after <= by)
        })
        .collect();
    let count = |from: &dyn Fn(&str) -> bool| {
        shown
            .iter()
            .filter(|&&i| manifest.certificates[i].sources.iter().any(|s| from(s)))
            .count()
    };
    let mozilla = |s: &str| s == crate::sources::mozilla::LABEL;
    let added = |s: &str| s.starts_with(crate::sources::user::LABEL_PREFIX);
    Ok(Listing {
        from_os: count(&|s| !mozilla(s) && !added(s)),
        from_mozilla: count(&mozilla),
        added: count(&added),
        shown,
        manifest,
    })
}

impl Record {
    /// Valid only from a day after `day` (the sync's): kept, but no
    /// client will accept it until then. (Days, as the manifest records
    /// the sync's: a certificate made today is not flagged.)
    pub fn not_yet_valid_on(&self, day: Day) -> bool {
        self.not_before >= day.midnight().plus_days(1)
    }
}
