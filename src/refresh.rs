//! Fresh Mozilla roots for the cache, or back to the snapshot built in:
//! the engine of `fetch` (and of `sync --refresh`). The download and its
//! checks are [`crate::sources::fetch`]'s; this decides what the download
//! trusts and keeps the result.

use std::path::PathBuf;
use std::time::Duration;

use crate::cert::Cert;
use crate::decode;
use crate::error::Result;
use crate::merge::Status;
use crate::sources::Gathered;
use crate::sources::fetch::{self, Note};
use crate::sources::mozilla::{Provenance, Roots};
use crate::state::Paths;
use crate::sync;

/// What to fetch.
pub struct Request<'a> {
    /// An https URL or a file.
    pub from: String,
    pub timeout: Duration,
    /// Roots Mozilla removed that the user lets back in, by SHA-256.
    pub allow_removed: Vec<crate::cert::Sha256>,
    /// Told of the download's progress, as [`fetch::Options::progress`].
    pub progress: &'a dyn Fn(u64, Option<u64>),
}

/// A set fetched, checked and cached.
#[derive(Debug)]
pub struct Refreshed {
    pub provenance: Provenance,
    pub notes: Vec<Note>,
    /// Where it was cached.
    pub cache_dir: PathBuf,
}

/// Fetch, verify and cache, under the lock.
pub fn fetch(paths: &Paths, req: &Request<'_>) -> Result<Refreshed> {
    let _lock = paths.lock()?;
    fetch_locked(paths, req)
}

/// [`fetch`], for a caller that holds the lock already.
pub(crate) fn fetch_locked(paths: &Paths, req: &Request<'_>) -> Result<Refreshed> {
    let opts = fetch::Options {
        from: req.from.clone(),
        timeout: req.timeout,
        trust: trust(paths)?,
        current: Roots::current(&paths.cache_dir, &mut Gathered::default()).provenance,
        allow_removed: req.allow_removed.clone(),
        progress: req.progress,
    };
    let fetched = fetch::fetch(&opts)?;
    fetched.roots.store(&paths.cache_dir)?;
    Ok(Refreshed {
        provenance: fetched.roots.provenance,
        notes: fetched.notes,
        cache_dir: paths.cache_dir.clone(),
    })
}

/// What `fetch --embedded` did.
#[derive(Debug)]
pub struct Forgotten {
    /// Whether there was a fetched set to remove.
    pub removed: bool,
    pub cache_dir: PathBuf,
    /// The snapshot `sync` uses from now on.
    pub embedded: Provenance,
}

/// Forget the fetched set, under the lock: `sync` uses the snapshot built
/// in again.
pub fn forget(paths: &Paths) -> Result<Forgotten> {
    let _lock = paths.lock()?;
    Ok(Forgotten {
        removed: Roots::forget_cache(&paths.cache_dir)?,
        cache_dir: paths.cache_dir.clone(),
        embedded: Roots::embedded().provenance,
    })
}

/// What the download trusts: the CA certificates of the merged bundle as
/// last written, or, before the first sync, of the merge it would write.
fn trust(paths: &Paths) -> Result<Vec<Cert>> {
    // CA certificates only: a server certificate pinned with
    // `add --allow-leaf` must not vouch for a download server.
    if let Ok(decoded) = decode::decode_file(&paths.bundle)
        && !decoded.items.is_empty()
    {
        return Ok(decoded
            .items
            .into_iter()
            .map(|i| i.cert)
            .filter(|c| c.is_ca())
            .collect());
    }
    let opts = sync::Options {
        root: "/".into(),
        at: crate::date::now(),
        macos_export: None,
        macos_trust_settings: None,
        windows: Default::default(),
    };
    let (report, _) = sync::build(paths, &opts)?;
    Ok(report
        .entries
        .into_iter()
        .filter(|e| e.status == Status::Kept && e.cert.is_ca())
        .map(|e| e.cert)
        .collect())
}
