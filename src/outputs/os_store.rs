//! `install --system`: the added CAs, as files in the OS store's drop-in
//! folder, then the distribution's updater. A record of what was written
//! lets `uninstall --system` remove exactly that and nothing else.

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cert::Sha256;
use crate::decode;
use crate::error::{Error, IoContext, Result};
use crate::sources::os::{self, Layout};
use crate::sources::user::{self, Added};
use crate::state;
use crate::system::find_program;
use serde::{Deserialize, Serialize};

/// Every install, by the root it went into.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    pub roots: BTreeMap<PathBuf, Vec<Written>>,
}

/// One file install wrote: its path inside the system, and the SHA-256 of
/// its contents, so a file someone changed since is left alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub path: PathBuf,
    pub sha256: Sha256,
}

impl Record {
    pub fn load(path: &Path) -> Result<Record> {
        state::load_record(path)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        state::save_record(path, self)
    }
}

/// What `install --system` or `uninstall --system` did, shown to the
/// command before the updater runs, so that the updater's own output comes
/// after what led to it.
#[derive(Debug)]
pub struct Done {
    /// The system's root, absolute.
    pub root: PathBuf,
    /// Whether anything was recorded for this root (uninstall: when not,
    /// nothing was ever installed there and nothing was done).
    pub recorded: bool,
    /// Files written (install) or removed (uninstall), as real paths.
    pub files: Vec<PathBuf>,
    /// Recorded files left alone, and why.
    pub left: Removal,
    pub update: Update,
}

/// What becomes of the distribution's updater (its command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// It runs now.
    Runs(String),
    /// `--no-update`: the user runs it.
    Skipped(String),
    /// The root is not this system's: it must run inside that system.
    Elsewhere(String),
    /// Nothing changed, so there is nothing to update.
    Unneeded,
}

/// The system `install --system` and `uninstall --system` change.
pub struct System<'a> {
    /// Where it is mounted (`/` for this machine).
    pub root: &'a Path,
    /// Leave the distribution's updater to the caller.
    pub no_update: bool,
}

/// The engine of `install --system`: the added CAs into the drop-in folder
/// of the OS store under `root` (recorded in `paths.installed()`), then
/// the updater. `show` is told what was done before the updater runs.
pub fn install(paths: &state::Paths, on: &System, show: &mut dyn FnMut(&Done)) -> Result<()> {
    let (root, lock) = begin(paths, on.root, "install --system")?;
    let layout = layout(&root)?;
    let added = user::list(&paths.cas, None)?;
    if added.is_empty() {
        // Under sudo, the user's own store is not the one read: say so.
        let sudo_user = std::env::var("SUDO_USER").ok().filter(|u| u != "root");
        return Err(Error::NoAddedCas {
            cas: paths.cas.clone(),
            sudo_user,
        });
    }
    let mut record = Record::load(&paths.installed())?;
    let before = record.roots.get(&root).cloned().unwrap_or_default();
    let (written, left) = write(&root, layout, &plan(layout, &added), &before)?;
    let files = written
        .iter()
        .map(|w| real_path(&root, &w.path))
        .collect::<Result<Vec<_>>>()?;
    record.roots.insert(root.clone(), written);
    record.save(&paths.installed())?;
    let done = Done {
        root: root.clone(),
        recorded: true,
        files,
        left,
        update: update(layout.install.updater, &root, on.no_update),
    };
    show(&done);
    // Not held while the updater runs: its hooks may run cabundle (the
    // package's update.d hook syncs), which would wait for this lock.
    drop(lock);
    run_update(layout.install.updater, &done.update)
}

/// The engine of `uninstall --system`: exactly what `install --system`
/// recorded for `root` is removed (see [`remove`]), then the updater.
/// `show` is told what was done before the updater runs.
pub fn uninstall(paths: &state::Paths, on: &System, show: &mut dyn FnMut(&Done)) -> Result<()> {
    let (root, lock) = begin(paths, on.root, "uninstall --system")?;
    let mut record = Record::load(&paths.installed())?;
    let Some(written) = record.roots.remove(&root) else {
        show(&Done {
            root,
            recorded: false,
            files: Vec::new(),
            left: Removal::default(),
            update: Update::Unneeded,
        });
        return Ok(());
    };
    // What may be removed is decided by the layout, before anything is.
    let layout = layout(&root)?;
    let mut left = remove(&root, layout, &written)?;
    record.save(&paths.installed())?;
    let done = Done {
        root: root.clone(),
        recorded: true,
        files: std::mem::take(&mut left.removed),
        update: update(layout.install.updater_after_removal, &root, on.no_update),
        left,
    };
    show(&done);
    drop(lock); // as in install
    run_update(layout.install.updater_after_removal, &done.update)?;
    if done.left.refused.is_empty() {
        Ok(())
    } else {
        Err(Error::RecordRefused {
            path: paths.installed(),
            count: done.left.refused.len(),
        })
    }
}

/// What `command` does first: refuse unless root, make the root absolute
/// (the record is keyed by it), and take the lock.
fn begin(paths: &state::Paths, root: &Path, command: &'static str) -> Result<(PathBuf, fs::File)> {
    if !crate::system::is_root() {
        return Err(Error::NeedRoot(command));
    }
    let root = std::path::absolute(root).at(root)?;
    Ok((root, paths.lock()?))
}

/// Whether the updater runs: not when asked not to, nor for another
/// system's root (it would update this one).
fn update(command: &[&str], root: &Path, no_update: bool) -> Update {
    let line = command.join(" ");
    if no_update {
        Update::Skipped(line)
    } else if root != Path::new("/") {
        Update::Elsewhere(line)
    } else {
        Update::Runs(line)
    }
}

fn run_update(command: &[&str], update: &Update) -> Result<()> {
    match update {
        Update::Runs(_) => run_updater(command),
        _ => Ok(()),
    }
}

/// The layout under `root`, which must be one install knows.
pub fn layout(root: &Path) -> Result<&'static Layout> {
    os::detect(root)
        .0
        .ok_or_else(|| Error::NoLayout(root.to_path_buf()))
}

/// The files for `added` in `layout`'s drop-in folder: one certificate per
/// file (Debian's updater skips files with more), `cabundle-NAME.EXT`, or
/// `cabundle-NAME-N.EXT` when a name holds several.
pub fn plan(layout: &Layout, added: &[Added]) -> Vec<(PathBuf, String)> {
    let mut by_name: BTreeMap<&str, Vec<&Added>> = BTreeMap::new();
    for a in added {
        by_name.entry(&a.name).or_default().push(a);
    }
    let mut files = Vec::new();
    for (name, certs) in by_name {
        for (i, a) in certs.iter().enumerate() {
            let file = if certs.len() == 1 {
                format!("cabundle-{name}.{}", layout.install.extension)
            } else {
                format!("cabundle-{name}-{}.{}", i + 1, layout.install.extension)
            };
            let text = format!(
                "# {} (cabundle: {name}; `cabundle uninstall --system` removes it)\n{}",
                a.cert.subject,
                a.cert.to_pem()
            );
            files.push((Path::new(layout.install.dir).join(file), text));
        }
    }
    files
}

/// Where the recorded or planned `path` is under `root`: its folder as the
/// system would resolve it, and its own name not followed (a link there is
/// replaced or refused, never written or deleted through).
/// A folder whose links cannot be followed inside `root` is an error.
pub fn real_path(root: &Path, path: &Path) -> Result<PathBuf> {
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) => Ok(os::under(root, dir).at(dir)?.join(name)),
        _ => os::under(root, path).at(path),
    }
}

/// Write `files` under `root`, replacing what an earlier install wrote
/// there. Returns the new record for this root, and what became of the
/// files the earlier install wrote that this one did not.
pub fn write(
    root: &Path,
    layout: &Layout,
    files: &[(PathBuf, String)],
    before: &[Written],
) -> Result<(Vec<Written>, Removal)> {
    for (path, _) in files {
        let real = real_path(root, path)?;
        let exists = fs::symlink_metadata(&real).is_ok();
        if exists && !before.iter().any(|w| &w.path == path) {
            return Err(Error::Refused {
                path: real,
                reason: "exists and was not written by cabundle; not overwriting it".into(),
            });
        }
    }
    let mut written = Vec::new();
    for (path, text) in files {
        state::write_atomic(&real_path(root, path)?, text.as_bytes())?;
        written.push(Written {
            path: path.clone(),
            sha256: Sha256::of(text.as_bytes()),
        });
    }
    // What an earlier install wrote and this one did not is stale.
    let stale: Vec<Written> = before
        .iter()
        .filter(|w| !written.iter().any(|n| n.path == w.path))
        .cloned()
        .collect();
    let removal = remove(root, layout, &stale)?;
    Ok((written, removal))
}

/// What [`remove`] did with each recorded file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removal {
    pub removed: Vec<PathBuf>,
    /// Changed since install wrote them: left in place.
    pub changed: Vec<PathBuf>,
    /// Recorded, but not a file install writes: never touched, whatever
    /// the record says. (The recorded path, and why.)
    pub refused: Vec<(PathBuf, NotInstallable)>,
}

/// Why a recorded path is not one `install --system` writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotInstallable {
    #[error("not a file in {0}")]
    Elsewhere(&'static str),
    #[error("not named as cabundle names its files (cabundle-NAME.{0})")]
    Name(&'static str),
    #[error("is not a regular file (cabundle writes only those)")]
    NotAFile,
}

/// Remove what install wrote. Only a file install could have written is
/// touched: in `layout`'s install folder, named as [`plan`] names files, a
/// regular file, and holding the bytes recorded for it. A file changed
/// since is kept; a record naming anything else (`/etc/passwd`,
/// `../../x`, another folder's file, a link) is refused.
pub fn remove(root: &Path, layout: &Layout, written: &[Written]) -> Result<Removal> {
    let mut done = Removal::default();
    for w in written {
        if let Err(why) = installable_name(layout, &w.path) {
            done.refused.push((w.path.clone(), why));
            continue;
        }
        let real = real_path(root, &w.path)?;
        match fs::symlink_metadata(&real) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&real, e)),
            Ok(m) if !m.file_type().is_file() => {
                done.refused
                    .push((w.path.clone(), NotInstallable::NotAFile));
                continue;
            }
            Ok(_) => {}
        }
        match decode::read_bounded(&real) {
            Ok(bytes) if Sha256::of(&bytes) == w.sha256 => {
                fs::remove_file(&real).at(&real)?;
                done.removed.push(real);
            }
            Ok(_) => done.changed.push(real),
            Err(_) if !real.exists() => {}
            Err(source) => return Err(Error::Read { path: real, source }),
        }
    }
    Ok(done)
}

/// Is `path` one [`plan`] could have made for `layout`: directly in its
/// install folder, named `cabundle-NAME.EXT` or `cabundle-NAME-N.EXT`?
fn installable_name(layout: &Layout, path: &Path) -> Result<(), NotInstallable> {
    let dir = Path::new(layout.install.dir);
    let plain = path.is_absolute()
        && path
            .components()
            .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !plain || path.parent() != Some(dir) {
        return Err(NotInstallable::Elsewhere(layout.install.dir));
    }
    let stem = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("cabundle-"))
        .and_then(|n| n.strip_suffix(layout.install.extension))
        .and_then(|n| n.strip_suffix('.'));
    // NAME-N is a name too: one check covers both forms.
    match stem {
        Some(stem) if user::check_name(stem).is_ok() => Ok(()),
        _ => Err(NotInstallable::Name(layout.install.extension)),
    }
}

/// Run an updater command line, its output going to our stderr (stdout is
/// for data). Its absence or failure is an error that says the files stay.
pub fn run_updater(command: &[&str]) -> Result<()> {
    let Some((program, args)) = command.split_first() else {
        return Ok(());
    };
    let path = find_program(program).ok_or_else(|| Error::Updater {
        program: program.to_string(),
        reason: "not found on PATH".into(),
    })?;
    let stderr = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| Error::io("<stderr>", e))?;
    let status = Command::new(&path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stderr))
        .status()
        .map_err(|e| Error::Updater {
            program: path.display().to_string(),
            reason: e.to_string(),
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Updater {
            program: path.display().to_string(),
            reason: format!("failed ({status})"),
        })
    }
}
