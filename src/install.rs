//! `install --system`: the added CAs, as files in the OS store's drop-in
//! folder, then the distribution's updater. A record of what was written
//! lets `uninstall --system` remove exactly that and nothing else.

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cert::hex;
use crate::decode;
use crate::error::{Error, IoContext, Result};
use crate::sources::os::{self, Layout};
use crate::sources::user::Added;
use crate::store;
use crate::system::find_program;

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
    pub sha256: String,
}

impl Record {
    pub fn load(path: &Path) -> Result<Record> {
        if !path.exists() {
            return Ok(Record::default());
        }
        let bad = |reason: String| Error::Config {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = decode::read_bounded(path).map_err(bad)?;
        serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        store::write_atomic(path, &json)
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

/// Write `files` under `root`, replacing what an earlier install wrote
/// there. Returns the new record for this root.
pub fn write(root: &Path, files: &[(PathBuf, String)], before: &[Written]) -> Result<Vec<Written>> {
    for (path, _) in files {
        let real = os::under(root, path).at(path)?;
        if real.exists() && !before.iter().any(|w| &w.path == path) {
            return Err(Error::Refused {
                path: real,
                reason: "exists and was not written by cabundle; not overwriting it".into(),
            });
        }
    }
    let mut written = Vec::new();
    for (path, text) in files {
        store::write_atomic(&os::under(root, path).at(path)?, text.as_bytes())?;
        written.push(Written {
            path: path.clone(),
            sha256: hex(&Sha256::digest(text.as_bytes())),
        });
    }
    // What an earlier install wrote and this one did not is stale.
    let stale: Vec<Written> = before
        .iter()
        .filter(|w| !written.iter().any(|n| n.path == w.path))
        .cloned()
        .collect();
    remove(root, &stale)?;
    Ok(written)
}

/// Remove what install wrote. A file changed since is kept and named in the
/// returned list.
pub fn remove(root: &Path, written: &[Written]) -> Result<Vec<PathBuf>> {
    let mut kept = Vec::new();
    for w in written {
        let real = os::under(root, &w.path).at(&w.path)?;
        match decode::read_bounded(&real) {
            Ok(bytes) if hex(&Sha256::digest(&bytes)) == w.sha256 => {
                fs::remove_file(&real).at(&real)?;
            }
            Ok(_) => kept.push(real),
            Err(_) if !real.exists() => {}
            Err(reason) => return Err(Error::Config { path: real, reason }),
        }
    }
    Ok(kept)
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
