//! The one atomic writer every file goes through: a temp file beside the
//! target, fsynced, renamed over it, the folder fsynced; an unchanged file
//! is only read.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, IoContext, Result};
/// Make `dir` and any folders above it that are missing, each with mode
/// 0755 whatever the umask: every state folder must be readable by the
/// users whose clients read the bundle, and writable by its owner alone.
pub fn create_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir(parent)?;
    }
    match DirBuilder::new().mode(0o755).create(dir) {
        // The umask may have narrowed the mode given to mkdir.
        Ok(()) => fs::set_permissions(dir, Permissions::from_mode(0o755)).at(dir),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Replace `path` with `bytes`, or leave it as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// [`write_atomic`], the new file made with `mode` before it is renamed
/// into place: a file that may hold secrets (an `.npmrc` with a token)
/// is never readable by others, even for a moment.
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let prepared = prepare_atomic(path, |f| f.write_all(bytes))?;
    if let Some(tmp) = &prepared.tmp {
        tmp.as_file()
            .set_permissions(Permissions::from_mode(mode))
            .at(path)?;
    }
    prepared.commit()
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
                .custom_flags(libc::O_NOFOLLOW)
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
/// leave alone: a regular, world-readable file, not a link (a link is
/// replaced by the rename, never written or touched through) and not a
/// FIFO (O_NONBLOCK: opening one cannot hang).
fn comparable(path: &Path) -> Option<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
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
