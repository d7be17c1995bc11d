//! Where cabundle keeps its state, the lock that serialises writers, and the
//! one atomic writer every file goes through.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
        if let Some(home) = std::env::var_os("CABUNDLE_HOME").filter(|h| !h.is_empty()) {
            return Ok(Paths::in_one(
                &std::path::absolute(PathBuf::from(home))
                    .map_err(|e| Error::io("CABUNDLE_HOME", e))?,
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
        let path = self.config_dir.join(".lock");
        let (file, writable) = open_lock(&path)?;
        let start = Instant::now();
        // None: a timeout too large to add to the clock, so no deadline.
        let deadline = start.checked_add(self.lock_wait.timeout);
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {}
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Error::LockTimeout {
                    holder: holder(&file).to_string(),
                    path,
                    secs: self.lock_wait.timeout.as_secs(),
                });
            }
            if !told && now.duration_since(start) >= NOTICE_AFTER {
                told = true;
                (self.lock_wait.on_wait)(&Waiting {
                    path: &path,
                    holder: &holder(&file),
                    timeout: self.lock_wait.timeout,
                });
            }
            let left = deadline.map_or(POLL, |d| d.saturating_duration_since(now));
            std::thread::sleep(left.min(POLL));
        }
        if writable {
            // Who holds it, for the next waiter; a failure here only makes
            // that message vaguer.
            let me = format!("pid {}\ncommand {}\n", std::process::id(), command_line());
            let _ = file
                .set_len(0)
                .and_then(|()| file.write_all_at(me.as_bytes(), 0));
        }
        Ok(file)
    }
}

/// How long a writer waits for the lock before it says so.
const NOTICE_AFTER: Duration = Duration::from_secs(1);
/// How often a waiting writer tries the lock again.
const POLL: Duration = Duration::from_millis(50);

/// How [`Paths::lock`] waits for another writer.
#[derive(Clone, Copy)]
pub struct LockWait {
    /// Give up after this long (a timeout too large for the clock waits
    /// for ever).
    pub timeout: Duration,
    /// Told once, after a second of waiting. The library never prints: the
    /// command layer decides what to say.
    pub on_wait: fn(&Waiting),
}

impl Default for LockWait {
    fn default() -> LockWait {
        LockWait {
            timeout: Duration::from_secs(60),
            on_wait: |_| {},
        }
    }
}

impl fmt::Debug for LockWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockWait")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl PartialEq for LockWait {
    fn eq(&self, other: &LockWait) -> bool {
        self.timeout == other.timeout && std::ptr::fn_addr_eq(self.on_wait, other.on_wait)
    }
}

impl Eq for LockWait {}

/// A writer is waiting for the lock.
#[derive(Debug)]
pub struct Waiting<'a> {
    pub path: &'a Path,
    pub holder: &'a Holder,
    pub timeout: Duration,
}

/// Who holds the lock, as far as can be told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<u32>,
    pub command: Option<String>,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.pid, &self.command) {
            (Some(pid), Some(cmd)) => write!(f, "pid {pid}: {cmd}"),
            (Some(pid), None) => write!(f, "pid {pid}"),
            (None, _) => f.write_str("another process"),
        }
    }
}

/// Open (making it if need be) the lock file, never through a link: a
/// planted `.lock` link must not make root create or truncate a file
/// elsewhere. O_NONBLOCK, so a FIFO in its place cannot hang the open.
/// Returns the file and whether it could be opened for writing (on a
/// read-only filesystem an existing lock file still locks; the write that
/// follows then names the real problem).
fn open_lock(path: &Path) -> Result<(File, bool)> {
    let flags = libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK;
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(flags)
        .open(path)
        .map(|f| (f, true))
        .or_else(|e| {
            OpenOptions::new()
                .read(true)
                .custom_flags(flags)
                .open(path)
                .map(|f| (f, false))
                .map_err(|_| e)
        });
    let (file, writable) = match opened {
        Ok(opened) => opened,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Error::UnsafeState {
                path: path.to_path_buf(),
                reason: "is a symbolic link; cabundle never follows a link for its lock file \
                         (remove it, and find out who put it there)"
                    .into(),
            });
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().at(path)?;
    if !meta.is_file() {
        return Err(Error::UnsafeState {
            path: path.to_path_buf(),
            reason: "is not a regular file; cabundle's lock file must be one (remove it)".into(),
        });
    }
    if writable && meta.mode() & 0o7777 != 0o644 {
        // 0644 like every other state file, whatever the umask made it; a
        // lock file someone else owns keeps its mode, and still locks.
        let _ = file.set_permissions(Permissions::from_mode(0o644));
    }
    Ok((file, writable))
}

/// The command line of this process, for the lock file.
fn command_line() -> String {
    let words: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    printable(&words.join(" "))
}

/// Text from a file or another process, made safe to show on a terminal
/// and kept to a line.
fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    if s.chars().count() > 200 {
        out.push('…');
    }
    out.trim().to_string()
}

/// Who holds the lock on `file`: the kernel's own list of locks says which
/// process (whatever it is: an older cabundle, `flock`, ...); what the
/// holder wrote into the file gives its command when it was cabundle.
fn holder(file: &File) -> Holder {
    let mut buf = vec![0u8; 1024];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]);
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
    };
    let recorded = Holder {
        pid: field("pid ").and_then(|p| p.parse().ok()),
        command: field("command ")
            .map(|c| printable(&c))
            .filter(|c| !c.is_empty()),
    };
    let Some(pid) = file.metadata().ok().and_then(|m| kernel_lock_holder(&m)) else {
        return recorded;
    };
    if recorded.pid == Some(pid) {
        return recorded;
    }
    let command = fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|c| printable(&String::from_utf8_lossy(&c).replace('\0', " ")))
        .filter(|c| !c.is_empty());
    Holder {
        pid: Some(pid),
        command,
    }
}

/// The pid holding a flock(2) write lock on the file `meta` describes,
/// from `/proc/locks` (Linux; `None` elsewhere or when it is not there).
fn kernel_lock_holder(meta: &fs::Metadata) -> Option<u32> {
    let locks = fs::read_to_string("/proc/locks").ok()?;
    let dev = meta.dev();
    // As the kernel prints a device: major and minor in hex.
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    locks.lines().find_map(|line| {
        // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; a waiter's line
        // has "->" after the number and is not the holder.
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "FLOCK", _, _, pid, id, ..] if *id == want => pid.parse().ok(),
            _ => None,
        }
    })
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
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        let target = dir.path().join("precious");
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

    /// A link or a FIFO where a file goes: replaced by a regular file,
    /// never written, touched or blocked on through it, even when the link
    /// leads to the very bytes being written.
    #[test]
    fn a_link_or_fifo_in_place_is_replaced_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, b"same").unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o644)).unwrap();
        let earlier = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        File::options()
            .write(true)
            .open(&target)
            .unwrap()
            .set_modified(earlier)
            .unwrap();
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
