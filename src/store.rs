//! Where cabundle keeps its state, the lock that serialises writers, and the
//! one atomic writer every file goes through.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};

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
}

impl Paths {
    /// `CABUNDLE_HOME` puts everything in one folder. Otherwise root gets
    /// system paths every user can read, and a user gets XDG paths.
    pub fn discover() -> Result<Paths> {
        if let Some(home) = std::env::var_os("CABUNDLE_HOME").filter(|h| !h.is_empty()) {
            return Ok(Paths::in_one(
                &std::path::absolute(PathBuf::from(home))
                    .map_err(|e| Error::io("CABUNDLE_HOME", e))?,
            ));
        }
        if crate::system::is_root() {
            let etc = PathBuf::from("/etc/cabundle");
            return Ok(Paths {
                cas: etc.join("cas"),
                bundle: etc.join("ca-bundle.pem"),
                manifest: etc.join("manifest.json"),
                config_dir: etc,
                cache_dir: PathBuf::from("/var/cache/cabundle"),
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
        })
    }

    pub fn in_one(home: &Path) -> Paths {
        Paths {
            config_dir: home.to_path_buf(),
            cas: home.join("cas"),
            bundle: home.join("ca-bundle.pem"),
            manifest: home.join("manifest.json"),
            cache_dir: home.join("cache"),
        }
    }

    pub fn config(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }

    /// What `install --system` wrote, so `uninstall --system` removes
    /// exactly that.
    pub fn installed(&self) -> PathBuf {
        self.config_dir.join("installed.json")
    }

    /// Take the state lock, waiting for any other writer. Held until the
    /// returned file is dropped.
    pub fn lock(&self) -> Result<File> {
        create_dir(&self.config_dir)?;
        let path = self.config_dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            // On a read-only filesystem an existing lock file still locks;
            // the write that follows then names the real problem.
            .or_else(|e| File::open(&path).map_err(|_| e))
            .at(&path)?;
        file.lock().at(&path)?;
        Ok(file)
    }
}

pub fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).at(dir)
}

/// Replace `path` with `bytes`, or leave it as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Write through `fill` into a temp file beside `path`, fsync it, then
/// rename it over `path` and fsync the folder. If anything fails, or the
/// process dies, before the rename, `path` is untouched. Callers hold the
/// state lock, so a leftover temp file is from a dead run and is removed.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut Sink) -> io::Result<()>,
) -> Result<()> {
    prepare_atomic(path, fill)?.commit()
}

/// A file written and synced beside its final name, not yet renamed; or,
/// when its bytes are those already in place, nothing to rename at all.
pub struct Prepared {
    tmp: Option<tempfile::NamedTempFile>,
    path: PathBuf,
    dir: PathBuf,
}

impl Prepared {
    /// Rename it into place and make the rename durable.
    pub fn commit(self) -> Result<()> {
        commit_all(vec![self])
    }
}

/// Rename each into place, in order, then sync each folder once: the
/// renames are durable only once their folder is synced, and one sync
/// covers every rename in that folder. An unchanged file only has its time
/// brought up to date, so "older than its sources" stays meaningful.
pub fn commit_all(files: Vec<Prepared>) -> Result<()> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for Prepared { tmp, path, dir } in files {
        match tmp {
            Some(tmp) => {
                tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
                if !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
            None => OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_modified(std::time::SystemTime::now()))
                .at(&path)?,
        }
    }
    for dir in dirs {
        File::open(&dir).and_then(|d| d.sync_all()).at(&dir)?;
    }
    Ok(())
}

/// Where `fill` writes. While every byte matches the file already in
/// place, nothing is written: an unchanged sync only reads. At the first
/// difference a temp file is made beside it, the matching part copied in,
/// and writing goes on there.
pub struct Sink {
    path: PathBuf,
    dir: PathBuf,
    prefix: String,
    /// The file in place, while it matches all that was written.
    same: Option<File>,
    /// How many bytes matched.
    matched: u64,
    scratch: Vec<u8>,
    tmp: Option<tempfile::NamedTempFile>,
}

impl Sink {
    /// The temp file, made (with the matched part copied in) on first use.
    fn diverge(&mut self) -> io::Result<&mut File> {
        let tmp = match self.tmp.take() {
            Some(tmp) => tmp,
            None => self.new_temp()?,
        };
        Ok(self.tmp.insert(tmp).as_file_mut())
    }

    fn new_temp(&mut self) -> io::Result<tempfile::NamedTempFile> {
        let mut tmp = tempfile::Builder::new()
            .prefix(&self.prefix)
            .suffix(".tmp")
            .tempfile_in(&self.dir)?;
        if let Some(mut old) = self.same.take() {
            old.seek(SeekFrom::Start(0))?;
            let copied = io::copy(&mut old.take(self.matched), tmp.as_file_mut())?;
            if copied != self.matched {
                return Err(io::Error::other(format!(
                    "{} shrank while it was being compared",
                    self.path.display()
                )));
            }
        }
        Ok(tmp)
    }

    /// Does the file in place hold exactly what was written, and no more?
    fn unchanged(&mut self) -> io::Result<bool> {
        match &mut self.same {
            Some(old) => Ok(old.read(&mut [0u8; 1])? == 0),
            None => Ok(false),
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(old) = &mut self.same {
            self.scratch.resize(buf.len(), 0);
            match old.read_exact(&mut self.scratch) {
                Ok(()) if self.scratch == buf => {
                    self.matched += buf.len() as u64;
                    return Ok(buf.len());
                }
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {}
                Err(e) => return Err(e),
            }
        }
        self.diverge()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.tmp {
            Some(tmp) => tmp.as_file_mut().flush(),
            None => Ok(()),
        }
    }
}

/// The first half of [`write_atomic_with`]: everything but the rename, so
/// two files can be written at once and committed in order. Same inputs
/// give the same bytes, so a rewrite is often a no-op: then no temp file is
/// made and nothing is renamed.
pub fn prepare_atomic(
    path: &Path,
    fill: impl FnOnce(&mut Sink) -> io::Result<()>,
) -> Result<Prepared> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    create_dir(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{name}.");
    remove_stale_temps(dir, &prefix);
    let mut sink = Sink {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        prefix,
        same: comparable(path),
        matched: 0,
        scratch: Vec::new(),
        tmp: None,
    };
    fill(&mut sink).at(path)?;
    if sink.unchanged().at(path)? {
        return Ok(Prepared {
            tmp: None,
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
        });
    }
    let tmp = match sink.tmp.take() {
        Some(tmp) => tmp,
        None => sink.new_temp().at(path)?,
    };
    tmp.as_file()
        .set_permissions(Permissions::from_mode(0o644))
        .and_then(|()| tmp.as_file().sync_all())
        .at(path)?;
    Ok(Prepared {
        tmp: Some(tmp),
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
    })
}

/// The file in place, to compare against, if it is one a rewrite could
/// leave alone: a regular, world-readable file.
fn comparable(path: &Path) -> Option<File> {
    let file = File::open(path).ok()?;
    match file.metadata() {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o777 == 0o644 => Some(file),
        _ => None,
    }
}

fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(prefix) && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let names = names_in(dir.path());
        assert_eq!(names, ["ca-bundle.pem"], "no temp file left behind");
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
        let earlier = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(earlier)
            .unwrap();
        write_atomic(&path, b"same").unwrap();
        let new = fs::metadata(&path).unwrap();
        assert_eq!(old.ino(), new.ino(), "the file was replaced");
        assert!(new.modified().unwrap() > earlier, "the time did not move");
        write_atomic(&path, b"different").unwrap();
        assert_ne!(fs::metadata(&path).unwrap().ino(), old.ino());
        assert_eq!(fs::read(&path).unwrap(), b"different");
        let names = names_in(dir.path());
        assert_eq!(names, ["ca-bundle.pem"]);
    }

    #[test]
    fn stale_temp_files_from_a_dead_run_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca-bundle.pem");
        fs::write(dir.path().join(".ca-bundle.pem.abc123.tmp"), b"partial").unwrap();
        write_atomic(&path, b"new").unwrap();
        let names = names_in(dir.path());
        assert_eq!(names, ["ca-bundle.pem"]);
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
