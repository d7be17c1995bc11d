//! The user's added CAs: `<cas>/<name>/<sha256>.pem`, one certificate per
//! file, so a name groups what one `add` brought in and a fingerprint names
//! exactly one file.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Gathered;
use crate::cert::Cert;
use crate::decode;
use crate::error::{Error, IoContext, Result};

pub const LABEL_PREFIX: &str = "added:";

/// One stored certificate.
#[derive(Debug, Clone)]
pub struct Added {
    pub name: String,
    pub path: PathBuf,
    pub cert: Cert,
}

/// Every stored certificate, sorted by name then fingerprint. Files that
/// cannot be read are reported into `out` when it is given.
///
/// Entries are looked at, never followed: a name folder or a file that is a
/// link (whose target anyone may own, and `remove` would delete through) is
/// reported and skipped, as is anything that is not a folder of regular
/// files. As root, so is an entry another user could change.
pub fn list(cas: &Path, mut out: Option<&mut Gathered>) -> Result<Vec<Added>> {
    let mut added = Vec::new();
    let mut skip = |path: &Path, why: &dyn std::fmt::Display| {
        if let Some(out) = out.as_deref_mut() {
            out.problem(path, format!("{why}; skipped"));
        }
    };
    for name in sorted_names(cas)? {
        let dir = cas.join(&name);
        if let Some(why) = skip_reason(&dir, true) {
            skip(&dir, &why);
            continue;
        }
        for file in sorted_names(&dir)? {
            let path = dir.join(&file);
            if let Some(why) = skip_reason(&path, false) {
                skip(&path, &why);
                continue;
            }
            match decode::decode_file(&path) {
                Ok(d) if d.errors.is_empty() && d.items.len() == 1 => {
                    let cert = d.items.into_iter().next().map(|i| i.cert);
                    added.extend(cert.map(|cert| Added {
                        name: name.clone(),
                        path,
                        cert,
                    }));
                }
                Ok(d) => {
                    let why: Vec<String> = d.errors.iter().map(ToString::to_string).collect();
                    skip(
                        &path,
                        &format!("stored CA file is damaged: {}", why.join("; ")),
                    );
                }
                Err(e) => skip(&path, &e),
            }
        }
    }
    Ok(added)
}

/// Why [`list`] skips the entry at `path`, if it does: [`unusable`], or
/// an entry that cannot be looked at.
fn skip_reason(path: &Path, folder: bool) -> Option<String> {
    match unusable(path, folder) {
        Ok(why) => why.map(String::from),
        Err(e) => Some(e.to_string()),
    }
}

/// Why the entry at `path` (a name folder when `folder`, else a stored
/// file) is not one `add` wrote, if it is not; looked at without following
/// a link.
fn unusable(path: &Path, folder: bool) -> std::io::Result<Option<&'static str>> {
    let meta = fs::symlink_metadata(path)?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Ok(Some(
            "is a symbolic link; cabundle never follows links in its store",
        ));
    }
    if folder && !kind.is_dir() {
        return Ok(Some(
            "is not a folder; `cabundle add` keeps each name in one",
        ));
    }
    if !folder && !kind.is_file() {
        return Ok(Some("is not a regular file"));
    }
    if crate::system::is_root() && (meta.uid() != 0 || meta.mode() & 0o022 != 0) {
        return Ok(Some(
            "can be changed by a user other than root (its owner or its mode); \
             cabundle, running as root, does not trust it",
        ));
    }
    Ok(None)
}

/// Add the stored CAs to `out`; returns how many there were.
pub fn load(cas: &Path, out: &mut Gathered) -> Result<usize> {
    let added = list(cas, Some(out))?;
    let n = added.len();
    for a in added {
        let item = decode::Item::plain(a.cert);
        out.found_in(&format!("{LABEL_PREFIX}{}", a.name), vec![item]);
    }
    Ok(n)
}

/// Refuse to store under `name` when its folder is there but is not one
/// `add` made (a link, above all: writing through it would put files
/// wherever it points).
pub fn check_slot(cas: &Path, name: &str) -> Result<()> {
    let dir = cas.join(name);
    match unusable(&dir, true) {
        Ok(None) => Ok(()),
        Ok(Some(why)) => Err(Error::UnsafeState {
            path: dir,
            reason: format!("{why}; nothing was changed (move it away first)"),
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// The file a certificate is stored in under `name`.
pub fn path_for(cas: &Path, name: &str, cert: &Cert) -> PathBuf {
    cas.join(name).join(format!("{}.pem", cert.fingerprint()))
}

/// Names become folder names (and, later, file names in OS stores).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::BadName(name.to_string()))
    }
}

/// A name from a file name: `Corp Root CA.pem` gives `Corp-Root-CA`.
pub fn name_from_file(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_start_matches('.').chars().take(64).collect();
    if name.is_empty() { "ca".into() } else { name }
}

fn sorted_names(dir: &Path) -> Result<Vec<String>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let name = entry.at(dir)?.file_name();
        // Our own temp files and anything not UTF-8 were not written by `add`.
        if let Some(name) = name.to_str().filter(|n| !n.starts_with('.')) {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_files_are_safe() {
        assert_eq!(
            name_from_file(Path::new("/x/Corp Root CA.pem")),
            "Corp-Root-CA"
        );
        assert_eq!(name_from_file(Path::new("/x/.hidden.crt")), "hidden");
        assert_eq!(name_from_file(Path::new("/")), "ca");
        assert!(check_name("corp-ca_1.2").is_ok());
        for bad in ["", ".x", "a/b", "../x", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
