//! Running the host's own tools (`security` on macOS, the distributions'
//! CA updaters), found on PATH the way a shell finds them.

use std::path::PathBuf;

/// The first executable `name` on PATH. Never the current folder: these
/// run as root, from wherever the admin happens to be.
pub fn find_program(name: &str) -> Option<PathBuf> {
    which::which_global(name).ok()
}

/// Is this process running as root?
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_found_on_path_only() {
        let sh = find_program("sh").expect("sh on PATH");
        assert!(sh.is_absolute(), "{}", sh.display());
        assert_eq!(find_program("cabundle-no-such-program"), None);
    }
}
