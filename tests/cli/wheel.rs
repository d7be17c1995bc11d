//! The Python wheel (pyproject.toml, maturin's "bin" bindings), as a user
//! gets it: installed offline into a fresh venv, `cabundle` is on that
//! venv's bin/ and works (`--version`, `sync`, `python status`, which finds
//! that venv's interpreter first), and `pip uninstall` takes it out again.
//!
//! The wheel is a release build, made once per run by scripts/test.sh
//! (scripts/build-wheel.sh), which names it in `CABUNDLE_TEST_WHEEL`.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use serde_json::Value;

use common::{Ran, require_that, run_bounded, scrubbed, venv};

/// The wheel scripts/test.sh built, or None (the test skipped) when there
/// is none and `CABUNDLE_TEST_ALLOW_SKIP=1`.
fn built_wheel() -> Option<PathBuf> {
    let wheel = std::env::var_os("CABUNDLE_TEST_WHEEL")
        .filter(|w| !w.is_empty())
        .map(PathBuf::from);
    let usable = wheel.as_ref().is_some_and(|w| w.is_file());
    let needs = match &wheel {
        Some(w) => format!(
            "the wheel CABUNDLE_TEST_WHEEL names, {}, which is not there",
            w.display()
        ),
        None => "a built wheel: run scripts/test.sh, which builds it, or \
                 CABUNDLE_TEST_WHEEL=$(scripts/build-wheel.sh) cargo test"
            .to_string(),
    };
    require_that(usable, &needs).then(|| wheel.unwrap())
}

/// `program ARGS` with nothing inherited that could decide the outcome,
/// within the deadline, which must succeed.
fn ok(mut cmd: StdCommand, what: &str) -> Ran {
    let ran = run_bounded({
        cmd.env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        cmd
    });
    assert!(ran.code == Some(0), "{what}:\n{ran}");
    ran
}

fn in_venv(venv: &Path, program: &str) -> StdCommand {
    scrubbed(venv.join("bin").join(program))
}

#[test]
fn the_wheel_installs_the_binary_into_a_venv_and_uninstalls_it() {
    let Some(wheel) = built_wheel() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("venv");
    // A venv of the test venv's Python, with the pip it bundles.
    let mut make = scrubbed(venv::python());
    make.args(["-m", "venv"]).arg(&fresh);
    ok(make, "python -m venv");

    let mut install = in_venv(&fresh, "python");
    install
        .args(["-m", "pip", "install", "--no-index", "--quiet"])
        .arg(&wheel);
    ok(install, "pip install --no-index WHEEL");
    let exe = fresh.join("bin/cabundle");
    assert!(exe.is_file(), "{} is not there", exe.display());

    let mut version = in_venv(&fresh, "cabundle");
    version.arg("--version");
    let ran = ok(version, "cabundle --version");
    assert_eq!(
        ran.stdout.trim(),
        format!("cabundle {}", env!("CARGO_PKG_VERSION"))
    );

    let home = tmp.path().join("home");
    let mut sync = in_venv(&fresh, "cabundle");
    sync.env("CABUNDLE_HOME", &home).arg("sync");
    ok(sync, "cabundle sync");
    assert!(home.join("ca-bundle.pem").is_file());

    // Run from the venv's bin/, not activated, with another venv's Python
    // on PATH: its own venv's interpreter comes first.
    let mut status = in_venv(&fresh, "cabundle");
    status
        .env("CABUNDLE_HOME", &home)
        .env("PATH", venv::venv().join("bin"))
        .args(["python", "status", "--json"]);
    let ran = ok(status, "cabundle python status --json");
    let json: Value = serde_json::from_str(&ran.stdout).unwrap();
    let found: Vec<&str> = json["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["found_by"].as_str().unwrap())
        .collect();
    assert_eq!(found.first(), Some(&"cabundle's venv"), "{ran}");
    assert!(found[1..].contains(&"PATH"), "{ran}");
    let first = &json["interpreters"][0];
    assert_eq!(
        first["python"].as_str(),
        Some(fresh.join("bin/python3").to_str().unwrap()),
        "{ran}"
    );
    assert_eq!(first["found_by"], "cabundle's venv", "{ran}");
    assert_eq!(first["ok"], true, "{ran}");

    let mut uninstall = in_venv(&fresh, "python");
    uninstall.args(["-m", "pip", "uninstall", "-y", "cabundle"]);
    ok(uninstall, "pip uninstall -y cabundle");
    assert!(!exe.exists(), "pip uninstall left {}", exe.display());
    let mut show = in_venv(&fresh, "python");
    show.args(["-m", "pip", "show", "cabundle"]);
    let ran = run_bounded(show);
    assert!(ran.code.is_some_and(|c| c != 0), "still installed:\n{ran}");
}
