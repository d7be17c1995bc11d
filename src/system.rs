//! Running the host's own tools (`security` on macOS, the distributions'
//! CA updaters), found on PATH the way a shell finds them.

use std::env;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// The first executable `name` on PATH.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path).map(|dir| dir.join(name)).find(|p| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Is this process running as root?
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}
