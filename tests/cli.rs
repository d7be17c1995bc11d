//! The command line itself: help with examples, exit codes, completions.

mod common;

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

#[test]
fn every_command_has_help_with_an_example() {
    let home = tempfile::tempdir().unwrap();
    for cmd in [
        "sync",
        "add",
        "remove",
        "block",
        "unblock",
        "list",
        "env",
        "install",
        "uninstall",
        "completions",
    ] {
        cabundle(home.path())
            .args([cmd, "--help"])
            .assert()
            .success()
            .stdout(contains("Example"));
    }
    cabundle(home.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("cabundle env >> ~/.bashrc"));
}

#[test]
fn usage_errors_exit_2_and_failures_exit_1() {
    let home = tempfile::tempdir().unwrap();
    cabundle(home.path()).assert().code(2);
    cabundle(home.path()).arg("frobnicate").assert().code(2);
    cabundle(home.path())
        .args(["sync", "--at", "2024-13-01"])
        .assert()
        .code(2)
        .stderr(contains("YYYY-MM-DD"));
    cabundle(home.path()).arg("add").assert().code(2);
    cabundle(home.path())
        .args(["env", "--shell", "tcsh"])
        .assert()
        .code(2);
    cabundle(home.path())
        .arg("list")
        .assert()
        .code(1)
        .stderr(contains("cabundle sync").and(contains("ca-bundle.pem")));
}

#[test]
fn a_corrupt_manifest_is_named_in_the_error() {
    let home = tempfile::tempdir().unwrap();
    write(&home.path().join("manifest.json"), "{ not json");
    cabundle(home.path())
        .arg("list")
        .assert()
        .code(1)
        .stderr(contains("manifest.json"));
}

#[test]
fn completions_are_printed_for_each_shell() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        cabundle(home.path())
            .args(["completions", shell])
            .assert()
            .success()
            .stdout(contains("cabundle").and(contains("sync")));
    }
}

#[test]
fn closed_pipes_do_not_panic() {
    let home = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("cabundle");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#""$0" sync --root / 2>&1 | head -c 1 >/dev/null; "$0" list | head -n 1 >/dev/null; echo "${PIPESTATUS[0]}""#)
        .arg(&bin)
        .env("CABUNDLE_HOME", home.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim(), "0", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
