//! The command line itself: help with examples, exit codes, completions.

use crate::common;

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
        .stdout(contains("cabundle env --shell bash >> ~/.bashrc"));
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
    assert_eq!(text.trim(), "0", "{}", stderr_of(&out));
    assert!(!stderr_of(&out).contains("panicked"));
}

/// A hand-edited manifest whose dates and fingerprints are not dates and
/// fingerprints (multi-byte characters where `list` would cut them short):
/// refused, naming the file, the value and the fix; never a panic.
#[test]
fn list_refuses_a_hand_edited_manifest_whose_values_are_not_values() {
    let s = Synced::new(&[&valid_ca("Manifest Root").pem]);
    let home = &s.home;
    let path = home.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let certs = manifest["certificates"].as_array_mut().unwrap();
    let odd = ["2030-01-0é", "ü", "", "€€€€€€€€€€€€€€€€€€€€"];
    let n = certs.len();
    for (i, text) in odd.iter().enumerate() {
        let rec = &mut certs[i % n];
        rec["not_after"] = (*text).into();
        rec["sha256"] = format!("{text}{}", "é".repeat(i * 5)).into();
        rec["distrust_after"] = (*text).into();
    }
    manifest["blocked"] = serde_json::json!(["é", "0123456789abcdeé", "ü".repeat(20)]);
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    for args in [
        &["list"][..],
        &["list", "--all"],
        &["list", "--json"],
        &["list", "--expiring", "30"],
    ] {
        let out = cabundle(home).args(args).output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        for part in ["manifest.json", "is not a", "cabundle sync"] {
            assert!(err.contains(part), "{args:?}: {err}");
        }
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Every numeric flag at 0, 1 and the top of its type: a usage error (2)
/// or a clean run, never a panic. `fetch` and `doctor` only ever reach a
/// closed port on this machine.
#[test]
fn numeric_flags_at_their_extremes_never_panic() {
    let s = Synced::new(&[&valid_ca("Extreme Root").pem]);
    let home = &s.home;
    let (u64_max, u32_max) = (u64::MAX.to_string(), u32::MAX.to_string());
    let over_u32 = (u64::from(u32::MAX) + 1).to_string();
    // A port nothing listens on: bound, then released.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("https://127.0.0.1:{closed}/x");
    let root_s = s.root.to_str().unwrap();
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["fetch", "--from", &url, "--timeout", "0"], 2),
        (vec!["fetch", "--from", &url, "--timeout", "1"], 1),
        (vec!["fetch", "--from", &url, "--timeout", "86400"], 1),
        (vec!["fetch", "--from", &url, "--timeout", "86401"], 2),
        (vec!["fetch", "--from", &url, "--timeout", &u64_max], 2),
        (vec!["fetch", "--from", &url, "--timeout", "-1"], 2),
        (vec!["doctor", &url, "--timeout", "0"], 2),
        (vec!["doctor", &url, "--timeout", "1"], 1),
        (vec!["doctor", &url, "--timeout", &u64_max], 2),
        (vec!["list", "--expiring", "0"], 0),
        (vec!["list", "--expiring", "1"], 0),
        (vec!["list", "--expiring", &u32_max], 0),
        (vec!["list", "--expiring", &over_u32], 2),
        (vec!["list", "--expiring", "-1"], 2),
        (vec!["--lock-timeout", "0", "sync", "--root", root_s], 0),
        (vec!["--lock-timeout", "1", "sync", "--root", root_s], 0),
        (
            vec!["--lock-timeout", &u64_max, "sync", "--root", root_s],
            0,
        ),
        (
            vec!["sync", "--root", root_s, "--lock-timeout", &u64_max],
            0,
        ),
        (vec!["--lock-timeout", "-1", "sync"], 2),
        (vec!["sync", "--at", "9999-12-31", "--root", root_s], 0),
        (vec!["sync", "--at", "0000-01-01", "--root", root_s], 0),
    ];
    for (args, code) in cases {
        let out = cabundle(home)
            .args(&args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if code == 2 {
            assert!(err.contains("error:"), "{args:?}: {err}");
        }
    }
    // The list of everything expiring before the end of time is all of it.
    let all = cabundle(home).args(["list", "--json"]).output().unwrap();
    let far = cabundle(home)
        .args(["list", "--json", "--expiring", &u32_max])
        .output()
        .unwrap();
    assert_eq!(all.stdout, far.stdout);
}
