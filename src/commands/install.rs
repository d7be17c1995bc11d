use crate::cli::SystemArgs;
use cabundle::error::Result;
use cabundle::outputs::os_store::{self, Done, System, Update};
use cabundle::state::Paths;

use super::{out, say};

fn system(args: &SystemArgs) -> System<'_> {
    System {
        root: &args.root,
        no_update: args.no_update,
    }
}

pub fn install(paths: &Paths, args: &SystemArgs) -> Result<()> {
    os_store::install(paths, &system(args), &mut |done| {
        show(paths, done, "installed")
    })
}

pub fn uninstall(paths: &Paths, args: &SystemArgs) -> Result<()> {
    os_store::uninstall(paths, &system(args), &mut |done| {
        if !done.recorded {
            say!("nothing was installed under {}", done.root.display());
        }
        show(paths, done, "removed")
    })
}

/// The files, on stdout; what was left alone and what becomes of the
/// updater, on stderr. Shown before the updater runs, so that its own
/// output comes after.
fn show(paths: &Paths, done: &Done, verb: &str) {
    let lines: String = done
        .files
        .iter()
        .map(|f| format!("{verb} {}\n", f.display()))
        .collect();
    // A closed stdout is no reason not to run the updater.
    let _ = out(&lines);
    for real in &done.left.changed {
        say!(
            "warning: left {} in place: it changed since cabundle wrote it",
            real.display()
        );
    }
    for (path, why) in &done.left.refused {
        say!(
            // Quoted and escaped: the record may have been edited by hand.
            "warning: refused to remove {path:?} (named in {}): {why}; left alone",
            paths.installed().display()
        );
    }
    match &done.update {
        Update::Runs(updater) => say!("running `{updater}`"),
        Update::Skipped(updater) => {
            say!("skipped `{updater}` (--no-update): run it for the OS to pick up the change")
        }
        Update::Elsewhere(updater) => say!(
            "not running `{updater}` for {}: run it inside that system",
            done.root.display()
        ),
        Update::Unneeded => {}
    }
}
