//! `cabundle block` / `unblock`: a user blocklist applied to every source.

use crate::common;

use std::fs;
use std::path::Path;

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

#[test]
fn a_blocked_root_leaves_every_source_until_unblocked() {
    let public = &public_root(0).pem;
    let s = Synced::new(&[public]);
    let (home, bundle) = (&s.home, s.bundle());
    let fp = openssl_sha256(public);
    assert!(bundle_holds(&bundle, public));

    // Colons and capitals, as people paste them from other tools.
    let pasted: Vec<String> = fp
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    s.run(&["block", &pasted.join(":")])
        .assert()
        .success()
        .stderr(contains("blocked:"));
    assert!(!bundle_holds(&bundle, public));
    assert!(
        fs::read_to_string(home.join("config.toml"))
            .unwrap()
            .contains(&fp)
    );
    cabundle(home)
        .arg("list")
        .assert()
        .success()
        .stdout(contains("blocked").and(contains(&fp[..16])));
    assert_eq!(record(&list_json(home), &fp)["status"], "blocked");

    // A later sync keeps it out; unblock brings it back.
    s.sync();
    assert!(!bundle_holds(&bundle, public));
    s.run(&["unblock", &fp]).assert().success();
    assert!(bundle_holds(&bundle, public));
    s.run(&["unblock", &fp])
        .assert()
        .success()
        .stderr(contains("was not blocked"));
}

#[test]
fn blocking_something_not_seen_is_kept_and_listed() {
    let s = Synced::new(&[]);
    s.run(&["block", &"ab".repeat(32)]).assert().success();
    cabundle(&s.home)
        .arg("list")
        .assert()
        .success()
        .stdout(contains("not in any source"));
    cabundle(&s.home)
        .args(["block", "not-a-fingerprint"])
        .assert()
        .code(1)
        .stderr(contains("matches \"not-a-fingerprint\"").and(contains("nothing was changed")));
}

#[test]
fn a_corrupt_config_stops_sync_by_name_and_keeps_the_bundle() {
    let s = Synced::new(&[]);
    let before = fs::read(s.bundle()).unwrap();
    write(&s.home.join("config.toml"), "blocked = [\"oops\"");
    s.run(&["sync"])
        .assert()
        .code(1)
        .stderr(contains("config.toml"));
    assert_eq!(before, fs::read(s.bundle()).unwrap());
    assert_eq!(
        fs::read_to_string(s.home.join("config.toml")).unwrap(),
        "blocked = [\"oops\""
    );
}

/// A state synced over a Debian root holding `cas`.
fn synced(dir: &Path, cas: &[&Ca]) -> (std::path::PathBuf, std::path::PathBuf) {
    let pems: Vec<&str> = cas.iter().map(|c| c.pem.as_str()).collect();
    let root = debian_root(dir, &pems);
    let home = dir.join("home");
    cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    (root, home)
}

/// The fingerprint column `list` prints for the certificate named `cn`.
fn listed_id(home: &Path, cn: &str) -> String {
    let out = cabundle(home).args(["list", "--all"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains(&format!("CN={cn}")))
        .unwrap_or_else(|| panic!("{cn} not listed:\n{text}"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

/// `block` takes what `list` shows (its 16 hex digits, or any unique
/// prefix of 8 or more), a CN, or an added CA's name; `unblock` the same.
/// An id that fits several certificates lists them and changes nothing.
#[test]
fn block_takes_what_list_shows() {
    let dir = tempfile::tempdir().unwrap();
    let (one, twin_a, twin_b) = (
        valid_ca("Listed Root"),
        valid_ca("Twin Root"),
        valid_ca("Twin Root"),
    );
    let (root, home) = synced(dir.path(), &[&one, &twin_a, &twin_b]);
    let bundle = home.join("ca-bundle.pem");
    let fp = openssl_sha256(&one.pem);

    let shown = listed_id(&home, "Listed Root");
    assert_eq!(shown.len(), 16);
    cabundle(&home)
        .args(["block", &shown, "--root"])
        .arg(&root)
        .assert()
        .success()
        .stdout(contains(format!("blocked {fp}")).and(contains("CN=Listed Root")));
    assert!(!bundle_holds(&bundle, &one.pem));
    // `list` shows it blocked, by the same id unblock takes.
    cabundle(&home)
        .arg("list")
        .assert()
        .stdout(contains(format!("blocked     {shown}")));
    cabundle(&home)
        .args(["unblock", &fp[..8], "--root"])
        .arg(&root)
        .assert()
        .success()
        .stdout(contains(format!("unblocked {fp}")));
    assert!(bundle_holds(&bundle, &one.pem));

    // By CN, any case.
    cabundle(&home)
        .args(["block", "listed root", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(!bundle_holds(&bundle, &one.pem));
    cabundle(&home)
        .args(["unblock", "Listed Root", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(bundle_holds(&bundle, &one.pem));

    // Two certificates share a CN: both are listed, nothing changes.
    let before = snapshot(&home);
    let out = cabundle(&home)
        .args(["block", "Twin Root", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for twin in [&twin_a, &twin_b] {
        let id = &openssl_sha256(&twin.pem)[..16];
        assert!(err.contains(id), "{id} not among the candidates:\n{err}");
    }
    assert!(err.contains("nothing was changed"), "{err}");
    assert_eq!(before, snapshot(&home));
    // Too short a prefix names nothing.
    cabundle(&home)
        .args(["block", &fp[..6], "--root"])
        .arg(&root)
        .assert()
        .code(1)
        .stderr(contains("at least 8 hex digits"));
    assert_eq!(before, snapshot(&home));

    // The name of an added CA blocks every certificate stored under it.
    let corp = valid_ca("Named Corp CA");
    let file = write(&dir.path().join("corp.pem"), &corp.pem);
    cabundle(&home)
        .args(["add", "--name", "corp"])
        .arg(&file)
        .arg("--root")
        .arg(&root)
        .assert()
        .success();
    cabundle(&home)
        .args(["block", "corp", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(!bundle_holds(&bundle, &corp.pem));
}

/// Blocking what no source carries and unblocking what is not blocked are
/// handled alike: said so, exit 0 (the command is idempotent, as blocking
/// twice is). An id that names nothing at all is an error for both, with
/// the same exit code, and changes nothing.
#[test]
fn block_and_unblock_are_symmetric() {
    let dir = tempfile::tempdir().unwrap();
    let seen = valid_ca("Seen Root");
    let (root, home) = synced(dir.path(), &[&seen]);
    let unseen = "cd".repeat(32);

    let block_unseen = cabundle(&home)
        .args(["block", &unseen, "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let unblock_unblocked = cabundle(&home)
        .args(["unblock", &openssl_sha256(&seen.pem), "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(
        block_unseen.status.code(),
        Some(0),
        "{}",
        err(&block_unseen)
    );
    assert_eq!(
        unblock_unblocked.status.code(),
        block_unseen.status.code(),
        "{}",
        err(&unblock_unblocked)
    );
    assert!(
        err(&block_unseen).contains("no certificate the last sync saw"),
        "{}",
        err(&block_unseen)
    );
    assert!(
        err(&unblock_unblocked).contains("was not blocked"),
        "{}",
        err(&unblock_unblocked)
    );
    // By CN too: known, but not blocked.
    cabundle(&home)
        .args(["unblock", "Seen Root", "--root"])
        .arg(&root)
        .assert()
        .success()
        .stderr(contains("was not blocked"));

    let before = snapshot(&home);
    for verb in ["block", "unblock"] {
        cabundle(&home)
            .args([verb, "Nobody Root", "--root"])
            .arg(&root)
            .assert()
            .code(1)
            .stderr(contains("matches \"Nobody Root\"").and(contains("nothing was changed")));
    }
    assert_eq!(before, snapshot(&home));
}
