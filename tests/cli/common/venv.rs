//! The venv with requests and httpx that tests/python_env.rs and
//! tests/exec.rs share: `$CABUNDLE_TEST_VENV` when set, else one made once
//! under target/tmp/test-venv and reused by later runs.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::sync::OnceLock;

use super::scrub_loopback;

pub fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin/python")
}

fn venv_ready(venv: &Path) -> bool {
    let mut cmd = StdCommand::new(venv_python(venv));
    scrub_loopback(&mut cmd)
        .stdin(Stdio::null())
        .args(["-c", "import requests, httpx, certifi"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn both(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Run `cmd`; panic with its output (and how to prepare a venv by hand)
/// unless it succeeds.
pub fn run_ok(cmd: &mut StdCommand, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\nPrepare a venv yourself and point CABUNDLE_TEST_VENV at it:\n  \
         python3 -m venv DIR && DIR/bin/python -m pip install requests httpx",
        out.status,
        both(&out)
    );
}

/// The venv every test starts from; no test changes it.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(venv) = std::env::var_os("CABUNDLE_TEST_VENV").filter(|v| !v.is_empty()) {
            let venv = PathBuf::from(venv);
            assert!(
                venv_ready(&venv),
                "CABUNDLE_TEST_VENV={} has no bin/python that imports requests and httpx; \
                 prepare it with: python3 -m venv DIR && DIR/bin/python -m pip install requests httpx",
                venv.display()
            );
            return venv;
        }
        let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-venv");
        // Test binaries (and threads in one) may get here at once: one
        // builds while the others wait on the lock, then all reuse it.
        fs::create_dir_all(venv.parent().unwrap()).unwrap();
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(venv.with_extension("lock"))
            .unwrap();
        lock.lock().unwrap();
        if !venv_ready(&venv) {
            eprintln!(
                "building {} (python3 -m venv, pip install requests httpx)",
                venv.display()
            );
            let _ = fs::remove_dir_all(&venv);
            // pip keeps the outer environment: its proxy and CA settings
            // are what let it reach the package index.
            run_ok(
                StdCommand::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .env_remove("VIRTUAL_ENV"),
                "python3 -m venv",
            );
            run_ok(
                StdCommand::new(venv_python(&venv)).args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "requests",
                    "httpx",
                ]),
                "pip install requests httpx",
            );
            assert!(venv_ready(&venv), "the new venv cannot import requests, httpx");
        }
        drop(lock);
        venv
    })
}

/// The shared venv's interpreter.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| venv_python(venv()))
}
