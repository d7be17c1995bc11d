//! Where certificates come from: the OS trust store, Mozilla's roots and the
//! user's added CAs. Each source reports what it found, what the admin
//! distrusts, and the files it could not use, without stopping at them.

pub mod fetch;
pub(crate) mod macos;
pub mod mozilla;
pub mod os;
pub(crate) mod p11kit;
pub mod user;
pub mod windows;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cert::Sha256;
use crate::date::Timestamp;
use crate::decode::{self, Item, ReadError};

const MAX_ERRORS_PER_FILE: usize = 5;

/// Fewer files than this each are not worth a decoder thread.
const MIN_FILES_PER_THREAD: usize = 4;

/// Decode each file, spreading them over the cores; results in input order.
/// With `list_only`, each file is read for its digest and not decoded.
pub(super) fn decode_all(
    root: &Path,
    files: &[(PathBuf, String)],
    memo: &decode::Memo,
    list_only: bool,
) -> Vec<Result<(decode::Decoded, Digest), ReadError>> {
    let read = |path: &Path| {
        os::read_in(root, path).map(|bytes| {
            let decoded = if list_only {
                decode::Decoded::default()
            } else {
                decode::decode_with(&bytes, memo)
            };
            (decoded, Digest::of(&bytes))
        })
    };
    // A thread costs about as much as decoding a small file: a drop-in
    // folder with a few CAs is read in place.
    let workers = if files.len() < MIN_FILES_PER_THREAD * 2 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(8)
            .min(files.len() / MIN_FILES_PER_THREAD)
    };
    if workers <= 1 {
        return files.iter().map(|(path, _)| read(path)).collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<(decode::Decoded, Digest), ReadError>>> =
        (0..files.len()).map(|_| None).collect();
    type Done = Vec<(usize, Result<(decode::Decoded, Digest), ReadError>)>;
    let done: Vec<Done> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, ..)) = files.get(i) else {
                            return mine;
                        };
                        mine.push((i, read(path)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    for (i, r) in done.into_iter().flatten() {
        slots[i] = Some(r);
    }
    slots
        .into_iter()
        .map(|r| r.unwrap_or(Err(ReadError::NotRead)))
        .collect()
}

/// What a file held when it was read: enough to tell later whether it
/// changed, whatever its time says (Docker's COPY and tar keep old ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest {
    pub size: u64,
    pub sha256: Sha256,
}

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            size: bytes.len() as u64,
            sha256: Sha256::of(bytes),
        }
    }
}

/// One file a source read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    /// As shown to people: inside the system for the OS store.
    pub path: PathBuf,
    pub digest: Digest,
    /// How many certificates it gave.
    pub certificates: usize,
}

pub use crate::error::Problem;

/// A certificate that must never reach the bundle, whatever carries it.
#[derive(Debug, Clone)]
pub struct Distrust {
    pub by: Fingerprint,
    pub reason: String,
}

/// How a distrust names its certificate. macOS trust settings use SHA-1;
/// p11-kit and NSS also distrust every certificate with a key, or with an
/// issuer and serial number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fingerprint {
    Sha256(Sha256),
    Sha1([u8; 20]),
    /// SHA-256 of a SubjectPublicKeyInfo.
    Spki(Sha256),
    /// [`crate::cert::issuer_serial_key`] of an issuer and serial number.
    IssuerSerial(Sha256),
}

/// Everything the sources produced for one sync.
#[derive(Debug, Default)]
pub struct Gathered {
    /// (source label, certificate), in the order found. A label is shared
    /// by all the certificates of one file.
    pub found: Vec<(Arc<str>, Item)>,
    pub distrusted: Vec<Distrust>,
    pub problems: Vec<Problem>,
    /// Distrusts that could not be applied: a file that says "do not
    /// trust" but cannot be read. The sync stops on any of them, since
    /// leaving the certificate in would re-trust what the admin distrusted.
    pub unapplied: Vec<Problem>,
    /// Mozilla's "distrust leaves issued after" dates, by SHA-256.
    pub distrust_after: HashMap<Sha256, Timestamp>,
    /// Each OS store file read.
    pub files: Vec<FileRead>,
    /// Shared with the gatherings that run beside this one.
    pub memo: Arc<decode::Memo>,
    /// Only note each file read (path, size, SHA-256) and decode nothing:
    /// what `doctor` compares with the manifest's record of the last sync.
    pub list_only: bool,
}

impl Gathered {
    /// A gathering to run beside this one, parsing each certificate that
    /// both meet only once.
    pub fn beside(&self) -> Gathered {
        Gathered {
            memo: Arc::clone(&self.memo),
            ..Gathered::default()
        }
    }

    /// Read `path` (inside the system under `root`, see [`os::read_in`]),
    /// decode it and record its certificates under `label`; any problem is
    /// recorded against the file. Returns how many certificates it gave.
    pub fn read_file(&mut self, root: &Path, path: &Path, label: &str) -> usize {
        self.read_files(root, vec![(path.to_path_buf(), label.to_string())])
    }

    /// [`Gathered::read_file`] for many files: decoded on every core, then
    /// recorded in the order given, so the result does not depend on timing.
    pub fn read_files(&mut self, root: &Path, files: Vec<(PathBuf, String)>) -> usize {
        let results = decode_all(root, &files, &self.memo, self.list_only);
        let mut total = 0;
        for ((shown_as, label), result) in files.into_iter().zip(results) {
            match result {
                Ok((decoded, digest)) => total += self.record(&shown_as, &label, decoded, digest),
                Err(reason) => self.problem(&shown_as, reason),
            }
        }
        total
    }

    /// Record what one file gave under `label`, and its problems; returns
    /// how many certificates it gave.
    pub fn record(
        &mut self,
        shown_as: &Path,
        label: &str,
        decoded: decode::Decoded,
        digest: Digest,
    ) -> usize {
        // A few lines say what is wrong with a file; thousands would bury
        // every other message.
        let extra = decoded.errors.len().saturating_sub(MAX_ERRORS_PER_FILE);
        for reason in decoded.errors.into_iter().take(MAX_ERRORS_PER_FILE) {
            self.problem(shown_as, reason);
        }
        if extra > 0 {
            self.problem(shown_as, format!("and {extra} more unreadable items"));
        }
        let n = decoded.items.len();
        self.read(shown_as, digest, n);
        self.found_in(label, decoded.items);
        n
    }

    /// Note a file read, for the manifest.
    pub fn read(&mut self, path: &Path, digest: Digest, certificates: usize) {
        self.files.push(FileRead {
            path: path.to_path_buf(),
            digest,
            certificates,
        });
    }

    /// Record certificates found under one source label. Labels hold file
    /// names and paths, which go into the bundle's `#` comment lines and
    /// onto terminals: every control character is escaped here, once, so a
    /// newline in a file name cannot start a line (a PEM block) of its own.
    pub fn found_in(&mut self, label: &str, items: Vec<Item>) {
        let label: Arc<str> = Arc::from(crate::cert::printable(label));
        self.found
            .extend(items.into_iter().map(|item| (Arc::clone(&label), item)));
    }

    /// Add what another gathering found, after what this one found.
    pub fn append(&mut self, mut other: Gathered) {
        self.found.append(&mut other.found);
        self.distrusted.append(&mut other.distrusted);
        self.problems.append(&mut other.problems);
        self.unapplied.append(&mut other.unapplied);
        self.files.append(&mut other.files);
        self.distrust_after.extend(other.distrust_after);
    }

    /// A file that could not be used, and why (any error, or text).
    pub fn problem(&mut self, path: &Path, reason: impl fmt::Display) {
        self.problems.push(Problem {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        });
    }

    /// A distrust in `path` that cannot be applied: the sync will stop.
    pub fn unapplied(&mut self, path: &Path, reason: impl fmt::Display) {
        self.unapplied.push(Problem {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        });
    }

    /// Distrust whatever `by` names, for `reason`.
    pub fn distrust(&mut self, by: Fingerprint, reason: impl Into<String>) {
        self.distrusted.push(Distrust {
            by,
            reason: reason.into(),
        });
    }
}
