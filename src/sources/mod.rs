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

use crate::decode::{self, Item};

const MAX_ERRORS_PER_FILE: usize = 5;

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
        match decode::decode_file(path) {
            Ok(decoded) => {
                // A few lines say what is wrong with a file; thousands would
                // bury every other message.
                let extra = decoded.errors.len().saturating_sub(MAX_ERRORS_PER_FILE);
                for reason in decoded.errors.into_iter().take(MAX_ERRORS_PER_FILE) {
                    self.problem(shown_as, reason);
                }
                if extra > 0 {
                    self.problem(shown_as, format!("and {extra} more unreadable items"));
                }
                let n = decoded.items.len();
                self.files.push((shown_as.to_path_buf(), n));
                self.found.extend(
                    decoded
                        .items
                        .into_iter()
                        .map(|item| (label.to_string(), item)),
                );
                n
            }
            Err(reason) => {
                self.problem(shown_as, reason);
                0
            }
        }
    }

    pub fn problem(&mut self, path: &Path, reason: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_path_buf(),
            reason: reason.into(),
        });
    }
}
