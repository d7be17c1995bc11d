//! Fresh Mozilla roots for the cache, or back to the snapshot built in:
//! the engine of `fetch` (and of `sync --refresh`). The download and its
//! checks are [`crate::sources::fetch`]'s; this decides what the download
//! trusts and keeps the result.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cert::Cert;
use crate::date::Timestamp;
use crate::decode;
use crate::error::{Error, Result};
use crate::merge::Status;
use crate::sources::Gathered;
use crate::sources::fetch::{self, Note};
use crate::sources::mozilla::{Provenance, Roots};
use crate::state::{self, Paths};
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

/// [`fetch`], for a caller that holds the lock already. The attempt is
/// recorded, failed or not ([`LastAttempt`]).
pub(crate) fn fetch_locked(paths: &Paths, req: &Request<'_>) -> Result<Refreshed> {
    let result = fetch_and_store(paths, req);
    let at = crate::date::now();
    let attempt = LastAttempt {
        at,
        from: req.from.clone(),
        error: result.as_ref().err().map(ToString::to_string),
        last_success: match &result {
            Ok(r) => Some(Success {
                at,
                version: r.provenance.version.clone(),
                sha256: r.provenance.sha256,
            }),
            Err(_) => LastAttempt::read(paths).and_then(|a| a.last_success),
        },
    };
    // The record only informs doctor and `schedule status`: a failure to
    // write it does not change what the fetch did, which was said.
    let _ = attempt.write(paths);
    result
}

/// The last attempt to fetch fresh Mozilla roots (`fetch`, `sync
/// --refresh`, as a schedule runs it), kept beside the manifest (not in
/// the cache, which a failed fetch leaves as it was): `doctor` warns when
/// it failed, `schedule status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAttempt {
    pub at: Timestamp,
    /// The URL or file it read.
    pub from: String,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The last attempt that succeeded: this one, or one before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<Success>,
}

/// A refresh that cached a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Success {
    pub at: Timestamp,
    /// The set it cached, as its provenance names and hashes it.
    pub version: String,
    pub sha256: crate::cert::Sha256,
}

/// Where [`LastAttempt`] is kept.
fn last_attempt_path(paths: &Paths) -> PathBuf {
    paths.manifest.with_file_name("last-refresh.json")
}

impl LastAttempt {
    /// The record, when there is one that reads (a torn or foreign file is
    /// as none).
    pub fn read(paths: &Paths) -> Option<LastAttempt> {
        let bytes = decode::read_bounded(&last_attempt_path(paths)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn write(&self, paths: &Paths) -> Result<()> {
        let path = last_attempt_path(paths);
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| Error::encode(&path, e))?;
        json.push(b'\n');
        if let Some(dir) = path.parent() {
            state::create_dir(dir)?;
        }
        state::write_atomic(&path, &json)
    }
}

/// How current a Mozilla set is known to be: its own date, or the last
/// refresh that fetched this very set, whichever is later. (A set fetched
/// today whose file says it was made months ago is Mozilla's current set:
/// Mozilla had not changed it since.)
pub fn known_current_as_of(set: &Provenance, last: Option<&LastAttempt>) -> Timestamp {
    let own = set.date.midnight();
    match last.and_then(|a| a.last_success.as_ref()) {
        Some(s) if s.sha256 == set.sha256 && s.at > own => s.at,
        _ => own,
    }
}

fn fetch_and_store(paths: &Paths, req: &Request<'_>) -> Result<Refreshed> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::Sha256;

    fn attempt(at: &str, success: Option<(&str, Sha256)>) -> LastAttempt {
        LastAttempt {
            at: at.parse().unwrap(),
            from: "https://example/certdata.txt".into(),
            error: None,
            last_success: success.map(|(at, sha256)| Success {
                at: at.parse().unwrap(),
                version: "v".into(),
                sha256,
            }),
        }
    }

    #[test]
    fn a_set_is_current_as_of_its_date_or_the_last_refresh_that_found_it() {
        let set = Roots::embedded().provenance;
        let own = set.date.midnight();
        assert_eq!(known_current_as_of(&set, None), own);
        let later = "2030-01-02T03:04:05Z";
        // A refresh that fetched this very set since: current as of then.
        let same = attempt(later, Some((later, set.sha256)));
        assert_eq!(
            known_current_as_of(&set, Some(&same)),
            later.parse().unwrap()
        );
        // One that fetched another set says nothing of this one.
        let other = attempt(later, Some((later, Sha256::of(b"another set"))));
        assert_eq!(known_current_as_of(&set, Some(&other)), own);
        // A failed attempt alone, neither.
        assert_eq!(known_current_as_of(&set, Some(&attempt(later, None))), own);
        // Nor a refresh from before the set's own date.
        let before = attempt(
            "2000-01-01T00:00:00Z",
            Some(("2000-01-01T00:00:00Z", set.sha256)),
        );
        assert_eq!(known_current_as_of(&set, Some(&before)), own);
    }

    #[test]
    fn every_attempt_is_recorded_and_a_failure_keeps_the_last_success() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::in_one(tmp.path());
        assert_eq!(LastAttempt::read(&paths), None);
        let req = |from: &str| Request {
            from: from.to_string(),
            timeout: Duration::from_secs(5),
            allow_removed: Vec::new(),
            progress: &|_, _| {},
        };
        // A set from a file: the snapshot's own PEM (certifi's cacert.pem).
        let pem = tmp.path().join("cacert.pem");
        std::fs::write(&pem, crate::sources::mozilla::PEM).unwrap();
        let done = fetch(&paths, &req(pem.to_str().unwrap())).unwrap();
        let ok = LastAttempt::read(&paths).unwrap();
        assert_eq!(ok.error, None);
        assert_eq!(ok.from, pem.to_str().unwrap());
        let success = ok.last_success.clone().unwrap();
        assert_eq!(success.sha256, done.provenance.sha256);
        assert_eq!(success.at, ok.at);

        let missing = tmp.path().join("missing.pem");
        let err = fetch(&paths, &req(missing.to_str().unwrap())).unwrap_err();
        let failed = LastAttempt::read(&paths).unwrap();
        assert_eq!(failed.error, Some(err.to_string()));
        assert_eq!(failed.last_success, Some(success));
    }
}
