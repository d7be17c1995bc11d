//! `install --java` / `uninstall --java`: every JVM's own trust store
//! (`cacerts`) holds the merged set, written in the format and with the
//! password that file already has. Java reads neither PEM bundles nor the
//! environment, so this is how a corporate root reaches Maven, Gradle or
//! an IDE's bundled runtime.
//!
//! Each change to a JVM's file is recorded (`java.json` in the config
//! folder) with the original bytes (or link) kept beside it, so
//! `uninstall --java` puts back exactly what was there, and `sync` keeps
//! what it wrote current.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cert::Sha256;
use crate::error::{Error, IoContext, Result};
use crate::export::Set;
use crate::outputs::keystore::{self, Existing, Format};
use crate::state::{self, Paths};

/// Where a JVM keeps its trust store, newest layout first (Java 8 JDKs
/// keep it under `jre/`).
const CACERTS: [&str; 2] = ["lib/security/cacerts", "jre/lib/security/cacerts"];

/// Passwords tried on an existing cacerts: the JDK's, then none (JDK 18+
/// ship a password-less PKCS#12).
const PASSWORDS: [&str; 2] = ["changeit", ""];

/// A cacerts this large is not a trust store.
const MAX_CACERTS: u64 = 64 << 20;

/// Trust stores that a distribution rebuilds from its own store: a JVM's
/// cacerts that links to one is the distribution's, not the JVM's.
const DISTRIBUTION_STORES: [(&str, &str); 4] = [
    (
        "/etc/ssl/certs/java/cacerts",
        "ca-certificates-java (Debian, Ubuntu, Arch)",
    ),
    (
        "/etc/pki/ca-trust/extracted/java/cacerts",
        "update-ca-trust (RHEL, Fedora)",
    ),
    (
        "/var/lib/ca-certificates/java-cacerts",
        "update-ca-certificates (SUSE)",
    ),
    (
        "/etc/ca-certificates/extracted/java-cacerts.jks",
        "update-ca-trust (Arch)",
    ),
];

/// What the JVM search reads from the environment, passed in so that tests
/// need not change the process's own.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub home: Option<PathBuf>,
    pub java_home: Option<PathBuf>,
    pub path: Option<std::ffi::OsString>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            home: std::env::var_os("HOME").map(PathBuf::from),
            java_home: std::env::var_os("JAVA_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
            path: std::env::var_os("PATH"),
        }
    }
}

/// A JVM found, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jvm {
    /// Its folder, as found (links resolved).
    pub home: PathBuf,
    pub found_by: String,
}

/// The JVMs on this machine: `explicit` homes only when given, else
/// `JAVA_HOME`, `java` on PATH and the folders JDKs are installed in by
/// packages, SDKMAN, IntelliJ, Gradle and JetBrains' bundled runtimes.
/// Each once, whichever ways lead to it; folders that hold no `bin/java`
/// and no cacerts are passed over unless named.
pub fn discover(env: &Env, explicit: &[PathBuf]) -> Vec<Jvm> {
    let mut found: Vec<(PathBuf, String, bool)> = Vec::new();
    if !explicit.is_empty() {
        for home in explicit {
            found.push((home.clone(), "--java-home".into(), true));
        }
    } else {
        if let Some(home) = &env.java_home {
            found.push((home.clone(), "JAVA_HOME".into(), true));
        }
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        if let Some(java) = env
            .path
            .as_ref()
            .and_then(|p| which::which_in("java", Some(p), &cwd).ok())
            .and_then(|j| fs::canonicalize(j).ok())
        {
            // .../bin/java, whose folder's parent is the home.
            if let Some(home) = java.parent().and_then(Path::parent) {
                found.push((home.to_path_buf(), "java on PATH".into(), false));
            }
        }
        let mut globs: Vec<(PathBuf, &str)> = vec![
            (PathBuf::from("/usr/lib/jvm"), ""),
            (PathBuf::from("/opt/java"), ""),
            (
                PathBuf::from("/Library/Java/JavaVirtualMachines"),
                "Contents/Home",
            ),
            (PathBuf::from("/opt"), "jbr"),
        ];
        if let Some(home) = &env.home {
            globs.push((home.join(".sdkman/candidates/java"), ""));
            globs.push((home.join(".jdks"), ""));
            globs.push((home.join(".gradle/jdks"), ""));
            globs.push((home.join(".local/share/JetBrains/Toolbox/apps"), "jbr"));
        }
        for (dir, inner) in globs {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            let mut homes: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path().join(inner))
                .filter(|p| p.is_dir())
                .collect();
            homes.sort();
            for home in homes {
                found.push((home, dir.display().to_string(), false));
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut jvms = Vec::new();
    for (home, how, named) in found {
        let real = fs::canonicalize(&home).unwrap_or(home.clone());
        let looks_like_one = real.join("bin/java").exists()
            || CACERTS
                .iter()
                .any(|c| fs::symlink_metadata(real.join(c)).is_ok());
        if (named || looks_like_one) && seen.insert(real.clone()) {
            jvms.push(Jvm {
                home: real,
                found_by: how,
            });
        }
    }
    jvms
}

/// The record of every cacerts `install --java` changed.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// By the cacerts path (as found, not resolved).
    pub cacerts: BTreeMap<PathBuf, Changed>,
}

/// One cacerts changed: what was there, and what cabundle wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changed {
    pub jvm: PathBuf,
    pub original: Original,
    pub format: Format,
    /// The password it is written with (`None`: a password-less PKCS#12).
    /// A trust store's password is not a secret: it keys an integrity check.
    pub password: Option<String>,
    /// The SHA-256 of what cabundle wrote: a file that no longer has it was
    /// changed since (a JDK update) and is not touched.
    pub written: Sha256,
    /// Its permission bits, kept.
    pub mode: u32,
}

/// What was at the cacerts path before cabundle wrote there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Original {
    /// A file, whose bytes are kept in the backup folder under this name.
    File { sha256: Sha256 },
    /// A link (to the distribution's store), replaced with `--force`.
    Link { target: PathBuf },
}

impl Record {
    pub fn load(path: &Path) -> Result<Record> {
        state::load_record(path)
    }

    fn save(&self, path: &Path) -> Result<()> {
        state::save_record(path, self)
    }
}

/// What became of one JVM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub jvm: Jvm,
    /// Its trust store, where it has one.
    pub cacerts: Option<PathBuf>,
    pub result: Result_,
}

/// What was done to one JVM's cacerts, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Result_ {
    /// Written with the set (`install`, or `sync` keeping it current).
    Written {
        format: Format,
        password: Option<String>,
        certificates: usize,
    },
    /// It already held exactly the set.
    Unchanged,
    /// `uninstall`: what was there before is back.
    Restored,
    /// Left alone, and why.
    Skipped { reason: Skip },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Skip {
    /// No `lib/security/cacerts` (nor Java 8's `jre/lib/security/cacerts`).
    NoTrustStore,
    /// A link to the distribution's own store, which its tools rebuild.
    Distribution { target: PathBuf, by: String },
    /// A link that leads out of the JVM's folder, to a file that is not a
    /// known distribution store, or nowhere.
    LinkOut { target: Option<PathBuf> },
    /// Not a keystore cabundle can read.
    Unreadable { reason: String },
    /// Opened by neither `changeit` nor no password.
    OtherPassword,
    /// It holds private keys, which a trust store rewrite would lose.
    PrivateKeys { count: usize },
    /// Could not be written (read-only, or another user's).
    NotWritable { reason: String },
    /// `uninstall`: changed since cabundle wrote it (a JDK update?).
    ChangedSince,
    /// `uninstall`: cabundle never changed it.
    NotInstalled,
}

/// The record of JVM changes and the folder of original cacerts.
fn record_path(paths: &Paths) -> PathBuf {
    paths.config_dir.join("java.json")
}

fn backup_dir(paths: &Paths) -> PathBuf {
    paths.config_dir.join("java-originals")
}

/// Whether `install --java` changed any JVM (so `sync` has some to keep
/// current).
pub fn recorded(paths: &Paths) -> bool {
    record_path(paths).exists()
}

/// The engine of `install --java`: the current bundle into each JVM's
/// cacerts (see [`install_one`]). `force` also replaces a link to the
/// distribution's store.
pub fn install(paths: &Paths, jvms: &[Jvm], force: bool) -> Result<Vec<Outcome>> {
    let _lock = paths.lock()?;
    let set = Set::current(paths)?;
    let mut record = Record::load(&record_path(paths))?;
    let mut out = Vec::new();
    for jvm in jvms {
        let (cacerts, result) = match trust_store(&jvm.home) {
            None => (
                None,
                Result_::Skipped {
                    reason: Skip::NoTrustStore,
                },
            ),
            Some(cacerts) => {
                let result = install_one(paths, &mut record, &set, jvm, &cacerts, force)?;
                (Some(cacerts), result)
            }
        };
        out.push(Outcome {
            jvm: jvm.clone(),
            cacerts,
            result,
        });
    }
    Ok(out)
}

/// The JVM's cacerts path, if it has one (a link counts, even dangling).
pub fn trust_store(home: &Path) -> Option<PathBuf> {
    CACERTS
        .iter()
        .map(|c| home.join(c))
        .find(|p| fs::symlink_metadata(p).is_ok())
}

/// One cacerts: judge what is there, keep the original, write the set in
/// the same format and password, and record it. Only the record and the
/// backup folder failing is an error: a JVM that cannot be written is an
/// outcome, reported.
fn install_one(
    paths: &Paths,
    record: &mut Record,
    set: &Set,
    jvm: &Jvm,
    cacerts: &Path,
    force: bool,
) -> Result<Result_> {
    let skip = |reason| Ok(Result_::Skipped { reason });
    let meta = fs::symlink_metadata(cacerts).at(cacerts)?;
    let previous = record.cacerts.get(cacerts).cloned();
    // A file cabundle wrote and nobody changed since: its original is in
    // the record already.
    let ours = previous
        .as_ref()
        .filter(|p| meta.is_file() && digest(cacerts).is_some_and(|sha| sha == p.written));
    let (original, existing, mode) = if let Some(prev) = ours {
        let existing = Existing {
            format: prev.format,
            password: prev.password.clone(),
            trusted: Vec::new(),
            private_keys: 0,
            encrypted_entries: false,
        };
        (prev.original.clone(), existing, prev.mode)
    } else if meta.file_type().is_symlink() {
        let target = fs::canonicalize(cacerts).ok();
        let Some(target) = target.filter(|t| t.is_file()) else {
            return skip(Skip::LinkOut { target: None });
        };
        let distribution = DISTRIBUTION_STORES
            .iter()
            .find(|(p, _)| Path::new(p) == target);
        if !target.starts_with(&jvm.home) {
            match distribution {
                Some((_, by)) if !force => {
                    return skip(Skip::Distribution {
                        target,
                        by: by.to_string(),
                    });
                }
                Some(_) => {}
                None => {
                    return skip(Skip::LinkOut {
                        target: Some(target),
                    });
                }
            }
        }
        let bytes = match read(&target) {
            Ok(b) => b,
            Err(reason) => return skip(Skip::Unreadable { reason }),
        };
        let existing = match judge(&bytes) {
            Ok(e) => e,
            Err(skip_) => return skip(skip_),
        };
        let link = fs::read_link(cacerts).at(cacerts)?;
        let mode = fs::metadata(&target).map_or(0o644, |m| m.permissions().mode() & 0o7777);
        (Original::Link { target: link }, existing, mode)
    } else {
        let bytes = match read(cacerts) {
            Ok(b) => b,
            Err(reason) => return skip(Skip::Unreadable { reason }),
        };
        let existing = match judge(&bytes) {
            Ok(e) => e,
            Err(skip_) => return skip(skip_),
        };
        let sha = Sha256::of(&bytes);
        let backup = backup_dir(paths).join(format!("{sha}.cacerts"));
        if !backup.exists() {
            state::write_atomic(&backup, &bytes)?;
        }
        let mode = meta.permissions().mode() & 0o7777;
        (Original::File { sha256: sha }, existing, mode)
    };
    // As it was: none, changeit, or (rarely) an empty one.
    let password = existing.password.clone();
    let bytes = set.keystore(existing.format, password.as_deref());
    let written = Sha256::of(&bytes);
    if ours.is_some_and(|p| p.written == written) {
        return Ok(Result_::Unchanged);
    }
    // Recorded before the file changes: a crash between the two leaves a
    // record that uninstall can act on, never a change without one.
    record.cacerts.insert(
        cacerts.to_path_buf(),
        Changed {
            jvm: jvm.home.clone(),
            original,
            format: existing.format,
            password: password.clone(),
            written,
            mode,
        },
    );
    record.save(&record_path(paths))?;
    if let Err(e) = replace(cacerts, &bytes, mode) {
        match previous {
            Some(p) => record.cacerts.insert(cacerts.to_path_buf(), p),
            None => record.cacerts.remove(cacerts),
        };
        record.save(&record_path(paths))?;
        return skip(Skip::NotWritable {
            reason: e.to_string(),
        });
    }
    Ok(Result_::Written {
        format: existing.format,
        password,
        certificates: set.certs.len(),
    })
}

/// Format and password of an existing trust store, or why it is left alone.
fn judge(bytes: &[u8]) -> std::result::Result<Existing, Skip> {
    match keystore::open(bytes, &PASSWORDS) {
        Ok(e) if e.private_keys > 0 => Err(Skip::PrivateKeys {
            count: e.private_keys,
        }),
        Ok(e) => Ok(e),
        Err(keystore::KeystoreError::WrongPassword) => Err(Skip::OtherPassword),
        Err(e) => Err(Skip::Unreadable {
            reason: e.to_string(),
        }),
    }
}

fn read(path: &Path) -> std::result::Result<Vec<u8>, String> {
    crate::decode::read_bounded_max(path, MAX_CACERTS).map_err(|e| e.to_string())
}

fn digest(path: &Path) -> Option<Sha256> {
    read(path).ok().map(|b| Sha256::of(&b))
}

/// Put `bytes` at `path` atomically, with `mode` (a link there is replaced,
/// not written through).
fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    state::write_atomic_mode(path, bytes, mode)
}

/// Put a link back at `path`, atomically: made beside it, renamed over.
fn relink(path: &Path, target: &Path) -> io::Result<()> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.cabundle-link.tmp"));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// The engine of `uninstall --java`: each recorded cacerts (of `jvms`, or
/// all when none are given) gets its original back, unless it changed
/// since cabundle wrote it.
pub fn uninstall(paths: &Paths, jvms: &[Jvm]) -> Result<Vec<Outcome>> {
    let _lock = paths.lock()?;
    let mut record = Record::load(&record_path(paths))?;
    let wanted: Vec<PathBuf> = record
        .cacerts
        .iter()
        .filter(|(_, c)| jvms.is_empty() || jvms.iter().any(|j| j.home == c.jvm))
        .map(|(p, _)| p.clone())
        .collect();
    let mut out = Vec::new();
    for jvm in jvms {
        if !wanted.iter().any(|p| record.cacerts[p].jvm == jvm.home) {
            out.push(Outcome {
                jvm: jvm.clone(),
                cacerts: trust_store(&jvm.home),
                result: Result_::Skipped {
                    reason: Skip::NotInstalled,
                },
            });
        }
    }
    for cacerts in wanted {
        let changed = record.cacerts[&cacerts].clone();
        let jvm = Jvm {
            home: changed.jvm.clone(),
            found_by: "the record".into(),
        };
        let current = fs::symlink_metadata(&cacerts)
            .ok()
            .filter(|m| m.is_file())
            .and_then(|_| digest(&cacerts));
        let result = if current != Some(changed.written) {
            Result_::Skipped {
                reason: Skip::ChangedSince,
            }
        } else {
            match restore(paths, &cacerts, &changed) {
                Ok(()) => Result_::Restored,
                Err(e) => Result_::Skipped {
                    reason: Skip::NotWritable {
                        reason: e.to_string(),
                    },
                },
            }
        };
        // A file that could not be written stays recorded, to try again.
        if !matches!(
            result,
            Result_::Skipped {
                reason: Skip::NotWritable { .. }
            }
        ) {
            record.cacerts.remove(&cacerts);
            if let Original::File { sha256 } = changed.original {
                let still_used = record
                    .cacerts
                    .values()
                    .any(|c| c.original == Original::File { sha256 });
                if !still_used {
                    let _ = fs::remove_file(backup_dir(paths).join(format!("{sha256}.cacerts")));
                }
            }
        }
        out.push(Outcome {
            jvm,
            cacerts: Some(cacerts),
            result,
        });
    }
    record.save(&record_path(paths))?;
    Ok(out)
}

fn restore(paths: &Paths, cacerts: &Path, changed: &Changed) -> Result<()> {
    match &changed.original {
        Original::Link { target } => relink(cacerts, target).at(cacerts),
        Original::File { sha256 } => {
            let backup = backup_dir(paths).join(format!("{sha256}.cacerts"));
            let bytes = read(&backup).map_err(|reason| Error::Mismatch {
                path: backup.clone(),
                reason,
            })?;
            if Sha256::of(&bytes) != *sha256 {
                return Err(Error::Mismatch {
                    path: backup,
                    reason: "is not the original it was kept as".into(),
                });
            }
            replace(cacerts, &bytes, changed.mode)
        }
    }
}

/// `sync`: each recorded cacerts that still holds what cabundle wrote gets
/// the new set, in its format and password. Called under the lock. As in
/// install, the record says what is about to be written before it is.
pub fn refresh(paths: &Paths, set: &Set) -> Result<Vec<Outcome>> {
    let path = record_path(paths);
    if !path.exists() {
        return Ok(Vec::new());
    }
    let mut record = Record::load(&path)?;
    let mut out = Vec::new();
    let recorded: Vec<PathBuf> = record.cacerts.keys().cloned().collect();
    for cacerts in recorded {
        let changed = record.cacerts[&cacerts].clone();
        let jvm = Jvm {
            home: changed.jvm.clone(),
            found_by: "the record".into(),
        };
        let bytes = set.keystore(changed.format, changed.password.as_deref());
        let written = Sha256::of(&bytes);
        let result = if digest(&cacerts) != Some(changed.written) {
            Result_::Skipped {
                reason: Skip::ChangedSince,
            }
        } else if written == changed.written {
            Result_::Unchanged
        } else {
            let entry = record.cacerts.get_mut(&cacerts).expect("listed above");
            entry.written = written;
            record.save(&path)?;
            match replace(&cacerts, &bytes, changed.mode) {
                Ok(()) => Result_::Written {
                    format: changed.format,
                    password: changed.password.clone(),
                    certificates: set.certs.len(),
                },
                Err(e) => {
                    record.cacerts.insert(cacerts.clone(), changed.clone());
                    record.save(&path)?;
                    Result_::Skipped {
                        reason: Skip::NotWritable {
                            reason: e.to_string(),
                        },
                    }
                }
            }
        };
        out.push(Outcome {
            jvm,
            cacerts: Some(cacerts),
            result,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jvm(home: &Path) {
        fs::create_dir_all(home.join("bin")).unwrap();
        fs::write(home.join("bin/java"), "").unwrap();
        fs::set_permissions(home.join("bin/java"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::create_dir_all(home.join("lib/security")).unwrap();
        fs::write(home.join("lib/security/cacerts"), "").unwrap();
    }

    #[test]
    fn jvms_are_found_where_installers_put_them_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let places = [
            ".sdkman/candidates/java/21.0.5-tem",
            ".jdks/corretto-17",
            ".gradle/jdks/eclipse_adoptium-11-amd64-linux",
            ".local/share/JetBrains/Toolbox/apps/intellij-idea-ultimate/jbr",
        ];
        for p in places {
            jvm(&home.join(p));
        }
        // SDKMAN's `current` is a link to one of them: the same JVM.
        std::os::unix::fs::symlink(
            home.join(places[0]),
            home.join(".sdkman/candidates/java/current"),
        )
        .unwrap();
        // Java 8: the trust store under jre/, and no bin/java at the top.
        let java8 = dir.path().join("java8");
        fs::create_dir_all(java8.join("jre/lib/security")).unwrap();
        fs::write(java8.join("jre/lib/security/cacerts"), "").unwrap();
        // A folder that is no JVM is passed over.
        fs::create_dir_all(home.join(".jdks/not-a-jdk")).unwrap();
        let env = Env {
            home: Some(home.clone()),
            java_home: Some(java8.clone()),
            path: Some(home.join(places[0]).join("bin").into_os_string()),
        };
        let found: Vec<Jvm> = discover(&env, &[])
            .into_iter()
            .filter(|j| j.home.starts_with(fs::canonicalize(dir.path()).unwrap()))
            .collect();
        let homes: Vec<PathBuf> = found.iter().map(|j| j.home.clone()).collect();
        let mut want: Vec<PathBuf> = places
            .iter()
            .map(|p| fs::canonicalize(home.join(p)).unwrap())
            .collect();
        want.push(fs::canonicalize(&java8).unwrap());
        let mut got = homes.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{found:?}");
        assert_eq!(found[0].found_by, "JAVA_HOME");
        assert_eq!(found[1].found_by, "java on PATH");
        assert_eq!(
            trust_store(&java8),
            Some(java8.join("jre/lib/security/cacerts"))
        );
        // Named homes only, when given: even one that is no JVM (it is
        // then reported as having no trust store).
        let named = discover(&env, &[home.join(".jdks/not-a-jdk")]);
        assert_eq!(named.len(), 1);
        assert_eq!(trust_store(&named[0].home), None);
    }
}
