//! cabundle's own state: where each file lives ([`Paths`]), the lock that
//! serialises writers, the atomic writer, the config, the manifest and the
//! added CAs' folder.

pub(crate) mod atomic;
pub mod config;
pub(crate) mod lock;
pub mod manifest;

pub use atomic::{
    Prepared, Sink, commit_all, create_dir, prepare_atomic, write_atomic, write_atomic_mode,
    write_atomic_with,
};
pub use lock::{Holder, LockWait, Waiting};

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
use crate::system::is_root;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// config.toml and the lock.
    pub config_dir: PathBuf,
    /// The added CAs.
    pub cas: PathBuf,
    pub bundle: PathBuf,
    pub manifest: PathBuf,
    /// Downloaded data.
    pub cache_dir: PathBuf,
    /// How [`Paths::lock`] waits for another writer.
    pub lock_wait: LockWait,
}

impl Paths {
    /// `CABUNDLE_HOME` puts everything in one folder. Otherwise root gets
    /// system paths every user can read, and a user gets XDG paths. As
    /// root, folders another user could change are refused
    /// ([`Paths::check_safe`]).
    pub fn discover() -> Result<Paths> {
        let paths = Paths::locate()?;
        paths.check_safe()?;
        Ok(paths)
    }

    fn locate() -> Result<Paths> {
        if let Some(home) = home_override() {
            return Ok(Paths::in_one(
                &std::path::absolute(home).map_err(|e| Error::io("CABUNDLE_HOME", e))?,
            ));
        }
        if is_root() {
            let etc = PathBuf::from("/etc/cabundle");
            return Ok(Paths {
                cas: etc.join("cas"),
                bundle: etc.join("ca-bundle.pem"),
                manifest: etc.join("manifest.json"),
                config_dir: etc,
                cache_dir: PathBuf::from("/var/cache/cabundle"),
                lock_wait: LockWait::default(),
            });
        }
        let dirs = directories::ProjectDirs::from("", "", "cabundle").ok_or(Error::NoHome)?;
        let data = dirs.data_dir();
        Ok(Paths {
            config_dir: dirs.config_dir().to_path_buf(),
            cas: dirs.config_dir().join("cas"),
            bundle: data.join("ca-bundle.pem"),
            manifest: data.join("manifest.json"),
            cache_dir: dirs.cache_dir().to_path_buf(),
            lock_wait: LockWait::default(),
        })
    }

    pub fn in_one(home: &Path) -> Paths {
        Paths {
            config_dir: home.to_path_buf(),
            cas: home.join("cas"),
            bundle: home.join("ca-bundle.pem"),
            manifest: home.join("manifest.json"),
            cache_dir: home.join("cache"),
            lock_wait: LockWait::default(),
        }
    }

    /// The same paths, waiting for the lock as `wait` says.
    pub fn with_lock_wait(self, wait: LockWait) -> Paths {
        Paths {
            lock_wait: wait,
            ..self
        }
    }

    /// The OpenSSL hashed folder beside the bundle (`SSL_CERT_DIR`): a
    /// link to a complete folder of the bundle's certificates.
    pub fn cert_dir(&self) -> PathBuf {
        self.bundle.with_file_name("certs")
    }

    /// The bundle as a password-less PKCS#12 trust store, beside it, for
    /// JVMs pointed at it (`env --java`). Every sync writes it.
    pub fn pkcs12(&self) -> PathBuf {
        self.bundle.with_extension("p12")
    }

    pub fn config(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// What `install --system` wrote, so `uninstall --system` removes
    /// exactly that.
    pub fn installed(&self) -> PathBuf {
        self.config_dir.join("installed.json")
    }

    /// Every folder cabundle writes its state in.
    fn state_dirs(&self) -> Vec<&Path> {
        let mut dirs: Vec<&Path> = Vec::new();
        let candidates = [
            Some(self.config_dir.as_path()),
            Some(self.cas.as_path()),
            self.bundle.parent(),
            self.manifest.parent(),
            Some(self.cache_dir.as_path()),
        ];
        for dir in candidates.into_iter().flatten() {
            if !dir.as_os_str().is_empty() && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        dirs
    }

    /// As root, refuse state folders another user could change: what is in
    /// them decides what root trusts (the CAs in `cas/`, the bundle every
    /// client reads) and where root writes.
    ///
    /// Checked: each state folder that exists, and every folder above it up
    /// to `/`, after resolving links (so what is checked is what the writes
    /// go through). A folder not made yet is made later inside the nearest
    /// one that exists, so that one and those above it are checked. Why the
    /// whole way up: a user who can rename any folder on the path can swap
    /// the whole subtree for one of their own, whatever the modes below it.
    ///
    /// The rule (OpenSSH's StrictModes, but for root only): owned by root,
    /// and not writable by group or others. The one exception is a folder
    /// *above* the state folder that has the sticky bit (`/tmp`): there
    /// others cannot rename or delete what root owns, and the folder below
    /// it is checked in full. A state folder itself never gets it.
    pub fn check_safe(&self) -> Result<()> {
        if !is_root() {
            return Ok(());
        }
        for dir in self.state_dirs() {
            check_state_dir(dir)?;
        }
        Ok(())
    }

    /// Take the state lock, waiting for any other writer for up to
    /// `lock_wait.timeout` (telling `lock_wait.on_wait` once, after a
    /// second). Held until the returned file is dropped. The lock file is
    /// never followed through a link; the holder's pid and command are
    /// written into it, so a waiter can say who it waits for.
    pub fn lock(&self) -> Result<File> {
        self.check_safe()?;
        create_dir(&self.config_dir)?;
        lock::acquire(&self.config_dir.join(".lock"), &self.lock_wait)
    }
}

/// `CABUNDLE_HOME`, when set (and not empty): the one folder that holds all
/// of cabundle's state, whoever runs it.
pub fn home_override() -> Option<PathBuf> {
    std::env::var_os("CABUNDLE_HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// See [`Paths::check_safe`].
fn check_state_dir(dir: &Path) -> Result<()> {
    // The folder, or the nearest one above it that exists (where cabundle
    // would make it).
    let mut existing = dir;
    while let Err(e) = fs::metadata(existing) {
        if e.kind() != io::ErrorKind::NotFound {
            return Err(Error::io(existing, e));
        }
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => return Ok(()),
        }
    }
    let real = fs::canonicalize(existing).at(existing)?;
    for (i, folder) in real.ancestors().enumerate() {
        let meta = fs::metadata(folder).at(folder)?;
        // The state folder itself, when it exists; else a folder above it.
        let state_folder = i == 0 && existing == dir;
        let unsafe_because = |reason: String, fix: String| {
            let shown = if state_folder {
                dir.to_path_buf()
            } else {
                PathBuf::from(format!(
                    "{} (on the way to {})",
                    folder.display(),
                    dir.display()
                ))
            };
            Error::UnsafeState {
                path: shown,
                reason: format!(
                    "{reason}, and cabundle is running as root: another user could change what \
                     root trusts through it; fix: {fix}, or set CABUNDLE_HOME to a folder only \
                     root can change"
                ),
            }
        };
        if !meta.is_dir() {
            return Err(Error::UnsafeState {
                path: folder.to_path_buf(),
                reason: "is not a folder".into(),
            });
        }
        let mode = meta.mode();
        if meta.uid() != 0 {
            return Err(unsafe_because(
                format!("owned by uid {}, not root", meta.uid()),
                format!("`chown root {}`", folder.display()),
            ));
        }
        let sticky = mode & 0o1000 != 0;
        if mode & 0o022 != 0 && (state_folder || !sticky) {
            return Err(unsafe_because(
                format!("writable by group or others (mode {:o})", mode & 0o7777),
                format!("`chmod go-w {}`", folder.display()),
            ));
        }
    }
    Ok(())
}

/// A record cabundle keeps of what it changed outside its state
/// (`installed.json`, `java.json`): the empty record when there is none
/// yet, and one it cannot read an error, so nothing it names is touched.
pub fn load_record<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T> {
    if !path.exists() {
        return Ok(T::default());
    }
    let bytes = crate::decode::read_bounded(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| Error::BadInstallRecord {
        path: path.to_path_buf(),
        source,
    })
}

/// Write a record ([`load_record`]) atomically, as readable JSON.
pub fn save_record<T: serde::Serialize>(path: &Path, record: &T) -> Result<()> {
    let mut json = serde_json::to_vec_pretty(record).map_err(|e| Error::encode(path, e))?;
    json.push(b'\n');
    write_atomic(path, &json)
}

#[cfg(test)]
mod tests {
    use super::lock::printable;
    use super::*;
    use std::fs::Permissions;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};

    /// Set `path`'s modification time to 1970-01-12 and return it.
    fn backdate(path: &Path) -> std::time::SystemTime {
        let earlier = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(earlier).unwrap();
        earlier
    }

    /// What a folder holds: the written file, and no temp file beside it.
    fn names_in(dir: &Path) -> Vec<std::ffi::OsString> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        names.sort();
        names
    }

    /// Paths in a fresh folder, giving up on the lock after `timeout`.
    fn paths_in(dir: &Path, timeout: Duration, on_wait: fn(&Waiting)) -> Paths {
        Paths::in_one(dir).with_lock_wait(LockWait { timeout, on_wait })
    }

    #[test]
    fn a_held_lock_times_out_naming_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path(), Duration::ZERO, |_| {});
        let held = paths.lock().unwrap();
        let text = fs::read_to_string(dir.path().join(".lock")).unwrap();
        assert!(
            text.starts_with(&format!("pid {}\ncommand ", std::process::id())),
            "{text}"
        );
        // A second open file description of the same file does not share
        // the lock, so this process waits for itself.
        let start = Instant::now();
        let err = paths.lock().unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "--lock-timeout 0 waited"
        );
        let Error::LockTimeout { path, holder, secs } = &err else {
            panic!("{err}");
        };
        assert_eq!(path, &dir.path().join(".lock"));
        assert!(
            holder.starts_with(&format!("pid {}: ", std::process::id())),
            "{err}"
        );
        assert_eq!(*secs, 0);
        assert!(err.to_string().contains("--lock-timeout"), "{err}");
        drop(held);
        paths.lock().unwrap();
    }

    static NOTICES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[test]
    fn a_waiting_writer_is_told_once_after_a_second_then_gives_up() {
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path(), Duration::from_millis(1500), |w| {
            assert!(w.path.ends_with(".lock"));
            assert_eq!(w.holder.pid, Some(std::process::id()));
            assert_eq!(w.timeout, Duration::from_millis(1500));
            NOTICES.fetch_add(1, Ordering::SeqCst);
        });
        let _held = paths.lock().unwrap();
        let start = Instant::now();
        assert!(matches!(paths.lock(), Err(Error::LockTimeout { .. })));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1500), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        assert_eq!(NOTICES.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_timeout_too_large_for_the_clock_does_not_panic() {
        let dir = tempfile::tempdir().unwrap();
        let paths = paths_in(dir.path(), Duration::from_secs(u64::MAX), |_| {});
        paths.lock().unwrap();
    }

    #[test]
    fn a_planted_lock_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let (home, target) = (dir.path().join("home"), dir.path().join("precious"));
        fs::create_dir(&home).unwrap();
        fs::write(&target, b"precious bytes").unwrap();
        let paths = paths_in(&home, Duration::ZERO, |_| {});
        for link_to in [target.clone(), dir.path().join("not-there")] {
            let _ = fs::remove_file(home.join(".lock"));
            std::os::unix::fs::symlink(&link_to, home.join(".lock")).unwrap();
            let err = paths.lock().unwrap_err().to_string();
            assert!(
                err.contains(".lock") && err.contains("symbolic link"),
                "{err}"
            );
        }
        assert_eq!(fs::read(&target).unwrap(), b"precious bytes");
        assert!(
            !dir.path().join("not-there").exists(),
            "made a file through the link"
        );
    }

    #[test]
    fn a_lock_that_is_not_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".lock")).unwrap();
        let err = paths_in(dir.path(), Duration::ZERO, |_| {})
            .lock()
            .unwrap_err()
            .to_string();
        assert!(err.contains(".lock"), "{err}");
    }

    #[test]
    fn folders_are_made_0755() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_dir(&deep).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            let mode = fs::metadata(dir.path().join(d))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o7777, 0o755, "{d}");
        }
        create_dir(&deep).unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        assert!(create_dir(&file.join("sub")).is_err());
    }

    #[test]
    fn holders_are_shown_on_one_safe_line() {
        assert_eq!(
            printable("cabundle\x1b[2J sync\n--root /"),
            "cabundle [2J sync --root /"
        );
        let long = "x".repeat(500);
        assert_eq!(printable(&long).chars().count(), 201);
        let h = Holder {
            pid: Some(7),
            command: Some("flock x".into()),
        };
        assert_eq!(h.to_string(), "pid 7: flock x");
        assert_eq!(Holder::default().to_string(), "another process");
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca-bundle.pem");
        write_atomic(&path, b"old bundle").unwrap();
        let err = write_atomic_with(&path, |f| {
            f.write_all(b"half of a new")?;
            Err(io::Error::other("injected failure before the rename"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("injected failure"), "{err}");
        assert!(err.to_string().contains("ca-bundle.pem"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old bundle");
        assert_eq!(
            names_in(dir.path()),
            ["ca-bundle.pem"],
            "no temp file left behind"
        );
    }

    #[test]
    fn written_files_are_world_readable_and_replace_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/ca-bundle.pem");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn same_bytes_are_not_rewritten_but_the_time_moves() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca-bundle.pem");
        write_atomic(&path, b"same").unwrap();
        let old = fs::metadata(&path).unwrap();
        let earlier = backdate(&path);
        write_atomic(&path, b"same").unwrap();
        let new = fs::metadata(&path).unwrap();
        assert_eq!(old.ino(), new.ino(), "the file was replaced");
        assert!(new.modified().unwrap() > earlier, "the time did not move");
        write_atomic(&path, b"different").unwrap();
        assert_ne!(fs::metadata(&path).unwrap().ino(), old.ino());
        assert_eq!(fs::read(&path).unwrap(), b"different");
        assert_eq!(names_in(dir.path()), ["ca-bundle.pem"]);
    }

    /// A link or a FIFO where a file goes: replaced by a regular file,
    /// never written, touched or blocked on through it, even when the link
    /// leads to the very bytes being written.
    #[test]
    fn a_link_or_fifo_in_place_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"same").unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o644)).unwrap();
        let earlier = backdate(&target);
        let path = dir.path().join("ca-bundle.pem");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        write_atomic(&path, b"same").unwrap();
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        assert_eq!(fs::metadata(&target).unwrap().modified().unwrap(), earlier);

        let fifo = dir.path().join("manifest.json");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        write_atomic(&fifo, b"{}").unwrap();
        assert_eq!(fs::read(&fifo).unwrap(), b"{}");
    }

    #[test]
    fn stale_temp_files_from_a_dead_run_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca-bundle.pem");
        fs::write(dir.path().join(".ca-bundle.pem.abc123.tmp"), b"partial").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(names_in(dir.path()), ["ca-bundle.pem"]);
    }

    /// The compare-then-write path, with writes split at every size, so a
    /// difference lands before, inside and after each chunk.
    #[test]
    fn a_rewrite_in_pieces_gives_exactly_the_new_bytes() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca-bundle.pem");
        let base: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let mut changed_middle = base.clone();
        changed_middle[2500] ^= 1;
        let cases: [&[u8]; 5] = [
            &base,
            &changed_middle,
            &base[..4999],
            &[base.as_slice(), b"tail"].concat(),
            b"",
        ];
        for new in cases {
            for chunk in [1, 7, 1000, 4096, 10_000] {
                write_atomic(&path, &base).unwrap();
                let ino = fs::metadata(&path).unwrap().ino();
                write_atomic_with(&path, |f| {
                    new.chunks(chunk).try_for_each(|c| f.write_all(c))
                })
                .unwrap();
                assert_eq!(fs::read(&path).unwrap(), new, "chunk {chunk}");
                let replaced = fs::metadata(&path).unwrap().ino() != ino;
                assert_eq!(replaced, new != base.as_slice(), "chunk {chunk}");
                assert_eq!(names_in(dir.path()), ["ca-bundle.pem"], "chunk {chunk}");
            }
        }
    }
}
