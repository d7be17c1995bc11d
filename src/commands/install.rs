use std::path::Path;

use crate::cli::SystemArgs;
use cabundle::error::{Error, Result};
use cabundle::outputs::os_store::{self, Record, Removal};
use cabundle::sources::user;
use cabundle::state::Paths;
use cabundle::system::is_root;

use super::{out, say};

pub fn install(paths: &Paths, args: &SystemArgs) -> Result<()> {
    if !is_root() {
        return Err(Error::NeedRoot("install --system"));
    }
    let root = absolute(&args.root)?;
    let layout = os_store::layout(&root)?;
    let _lock = paths.lock()?;
    let added = user::list(&paths.cas, None)?;
    if added.is_empty() {
        return Err(Error::NothingToInstall);
    }
    let mut record = Record::load(&paths.installed())?;
    let before = record.roots.get(&root).cloned().unwrap_or_default();
    let (written, stale) =
        os_store::write(&root, layout, &os_store::plan(layout, &added), &before)?;
    let mut lines = String::new();
    for w in &written {
        let real = os_store::real_path(&root, &w.path)?;
        lines.push_str(&format!("installed {}\n", real.display()));
    }
    record.roots.insert(root.clone(), written);
    record.save(&paths.installed())?;
    out(&lines)?;
    warn_kept(paths, &stale);
    update(layout.install.updater, &root, args.no_update)
}

pub fn uninstall(paths: &Paths, args: &SystemArgs) -> Result<()> {
    if !is_root() {
        return Err(Error::NeedRoot("uninstall --system"));
    }
    let root = absolute(&args.root)?;
    let _lock = paths.lock()?;
    let mut record = Record::load(&paths.installed())?;
    let Some(written) = record.roots.remove(&root) else {
        say!("nothing was installed under {}", root.display());
        return Ok(());
    };
    // What may be removed is decided by the layout, before anything is.
    let layout = os_store::layout(&root)?;
    let done = os_store::remove(&root, layout, &written)?;
    record.save(&paths.installed())?;
    let mut lines = String::new();
    for real in &done.removed {
        lines.push_str(&format!("removed {}\n", real.display()));
    }
    out(&lines)?;
    warn_kept(paths, &done);
    update(layout.install.updater_after_removal, &root, args.no_update)?;
    if done.refused.is_empty() {
        Ok(())
    } else {
        Err(Error::RecordRefused {
            path: paths.installed(),
            count: done.refused.len(),
        })
    }
}

/// Say which recorded files were left in place, and why.
fn warn_kept(paths: &Paths, done: &Removal) {
    for real in &done.changed {
        say!(
            "warning: left {} in place: it changed since cabundle wrote it",
            real.display()
        );
    }
    for (path, why) in &done.refused {
        say!(
            // Quoted and escaped: the record may have been edited by hand.
            "warning: refused to remove {path:?} (named in {}): {why}; left alone",
            paths.installed().display()
        );
    }
}

fn update(command: &[&str], root: &Path, no_update: bool) -> Result<()> {
    let updater = command.join(" ");
    if no_update {
        say!("skipped `{updater}` (--no-update): run it for the OS to pick up the change");
        Ok(())
    } else if root != Path::new("/") {
        say!(
            "not running `{updater}` for {}: run it inside that system",
            root.display()
        );
        Ok(())
    } else {
        say!("running `{updater}`");
        os_store::run_updater(command)
    }
}

fn absolute(root: &Path) -> Result<std::path::PathBuf> {
    std::path::absolute(root).map_err(|e| Error::io(root, e))
}
