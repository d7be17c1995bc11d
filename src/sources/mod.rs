//! Where certificates come from: the OS trust store, Mozilla's roots and the
//! user's added CAs. Each source reports what it found, what the admin
//! distrusts, and the files it could not use, without stopping at them.

pub mod macos;
pub mod mozilla;
pub mod os;
pub mod user;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::decode::{self, Item};

const MAX_ERRORS_PER_FILE: usize = 5;

/// Decode each file, spreading them over the cores; results in input order.
fn decode_all(files: &[(PathBuf, PathBuf, String)]) -> Vec<Result<decode::Decoded, String>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(files.len());
    if workers <= 1 {
        return files
            .iter()
            .map(|(path, ..)| decode::decode_file(path))
            .collect();
    }
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<decode::Decoded, String>>> =
        (0..files.len()).map(|_| None).collect();
    let done: Vec<Vec<(usize, Result<decode::Decoded, String>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((path, ..)) = files.get(i) else {
                            return mine;
                        };
                        mine.push((i, decode::decode_file(path)));
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
        .map(|r| r.unwrap_or_else(|| Err("not read (a decoder thread failed)".into())))
        .collect()
}

/// A file that could not be used, and why. Reported, then skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// A certificate that must never reach the bundle, whatever carries it.
#[derive(Debug, Clone)]
pub struct Distrust {
    pub by: Fingerprint,
    pub reason: String,
}

/// How a distrust names its certificate. macOS trust settings use SHA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fingerprint {
    Sha256([u8; 32]),
    Sha1([u8; 20]),
}

/// Everything the sources produced for one sync.
#[derive(Debug, Default)]
pub struct Gathered {
    /// (source label, certificate), in the order found.
    pub found: Vec<(String, Item)>,
    pub distrusted: Vec<Distrust>,
    pub problems: Vec<Problem>,
    /// Mozilla's "distrust leaves issued after" dates, by SHA-256.
    pub distrust_after: HashMap<[u8; 32], i64>,
    /// Each OS store file read (as shown to people), and how many
    /// certificates it gave.
    pub files: Vec<(PathBuf, usize)>,
}

impl Gathered {
    /// Decode `path` and record its certificates under `label`; any problem
    /// is recorded against the file. Returns how many certificates it gave.
    pub fn read_file(&mut self, path: &Path, shown_as: &Path, label: &str) -> usize {
        self.read_files(vec![(
            path.to_path_buf(),
            shown_as.to_path_buf(),
            label.to_string(),
        )])
    }

    /// [`Gathered::read_file`] for many files: decoded on every core, then
    /// recorded in the order given, so the result does not depend on timing.
    pub fn read_files(&mut self, files: Vec<(PathBuf, PathBuf, String)>) -> usize {
        let results = decode_all(&files);
        let mut total = 0;
        for ((_, shown_as, label), result) in files.into_iter().zip(results) {
            match result {
                Ok(decoded) => {
                    // A few lines say what is wrong with a file; thousands
                    // would bury every other message.
                    let extra = decoded.errors.len().saturating_sub(MAX_ERRORS_PER_FILE);
                    for reason in decoded.errors.into_iter().take(MAX_ERRORS_PER_FILE) {
                        self.problem(&shown_as, reason);
                    }
                    if extra > 0 {
                        self.problem(&shown_as, format!("and {extra} more unreadable items"));
                    }
                    let n = decoded.items.len();
                    total += n;
                    self.files.push((shown_as, n));
                    self.found
                        .extend(decoded.items.into_iter().map(|item| (label.clone(), item)));
                }
                Err(reason) => self.problem(&shown_as, reason),
            }
        }
        total
    }

    /// Add what another gathering found, after what this one found.
    pub fn append(&mut self, mut other: Gathered) {
        self.found.append(&mut other.found);
        self.distrusted.append(&mut other.distrusted);
        self.problems.append(&mut other.problems);
        self.files.append(&mut other.files);
        self.distrust_after.extend(other.distrust_after);
    }

    pub fn problem(&mut self, path: &Path, reason: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_path_buf(),
            reason: reason.into(),
        });
    }
}
