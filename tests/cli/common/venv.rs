//! The venv with requests and httpx that every Python test starts from:
//! `$CABUNDLE_TEST_VENV`, else `target/test-venv`. scripts/test.sh makes
//! it (once, then reuses it); no test changes it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;

use super::scrubbed_loopback;

pub fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin/python")
}

fn venv_ready(venv: &Path) -> bool {
    scrubbed_loopback(venv_python(venv))
        .args(["-c", "import requests, httpx, certifi"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The shared venv; fails, saying how to make it, when it is not ready.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = std::env::var_os("CABUNDLE_TEST_VENV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv"));
        assert!(
            venv_ready(&venv),
            "{} has no bin/python that imports requests, httpx and certifi: run \
             scripts/test.sh (it makes target/test-venv), or point CABUNDLE_TEST_VENV at a venv \
             made with `python3 -m venv DIR && DIR/bin/python -m pip install requests httpx`",
            venv.display()
        );
        venv
    })
}

/// The shared venv's interpreter.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| venv_python(venv()))
}
