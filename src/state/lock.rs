//! The lock that serialises writers: never opened through a link, naming
//! its holder, waited for with a notice and a timeout.

use std::fmt;
use std::fs::{self, File, OpenOptions, Permissions};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};
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
pub(super) fn printable(s: &str) -> String {
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

/// [`super::Paths::lock`]: take the lock on `path`, waiting as `wait` says.
pub(super) fn acquire(path: &Path, wait: &LockWait) -> Result<File> {
    let path = path.to_path_buf();
    let (file, writable) = open_lock(&path)?;
    let start = Instant::now();
    // None: a timeout too large to add to the clock, so no deadline.
    let deadline = start.checked_add(wait.timeout);
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
                secs: wait.timeout.as_secs(),
            });
        }
        if !told && now.duration_since(start) >= NOTICE_AFTER {
            told = true;
            (wait.on_wait)(&Waiting {
                path: &path,
                holder: &holder(&file),
                timeout: wait.timeout,
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
