//! `cabundle block` / `unblock`: a user blocklist applied to every source.

use crate::common;

use std::fs;
use std::path::Path;

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

fn mozilla_root() -> String {
    let snapshot =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("bundles/mozilla-roots.pem"))
            .unwrap();
    pem_blocks(&snapshot)
        .into_iter()
        .rev()
        .find(|b| openssl_unexpired(b))
        .unwrap()
}

#[test]
fn a_blocked_root_leaves_every_source_until_unblocked() {
    let dir = tempfile::tempdir().unwrap();
    let public = mozilla_root();
    let root = debian_root(dir.path(), &[&public]);
    let home = dir.path().join("home");
    let bundle = home.join("ca-bundle.pem");
    cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    let fp = openssl_sha256(&public);
    assert!(bundle_holds(&bundle, &public));

    // Colons and capitals, as people paste them from other tools.
    let pasted: Vec<String> = fp
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    cabundle(&home)
        .args(["block", &pasted.join(":"), "--root"])
        .arg(&root)
        .assert()
        .success()
        .stderr(contains("blocked:"));
    assert!(!bundle_holds(&bundle, &public));
    assert!(
        fs::read_to_string(home.join("config.toml"))
            .unwrap()
            .contains(&fp)
    );
    cabundle(&home)
        .arg("list")
        .assert()
        .success()
        .stdout(contains("blocked").and(contains(&fp[..16])));
    let all = cabundle(&home)
        .args(["list", "--json", "--all"])
        .output()
        .unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_slice(&all.stdout).unwrap();
    let rec = records.iter().find(|r| r["sha256"] == fp.as_str()).unwrap();
    assert_eq!(rec["status"], "blocked");

    // A later sync keeps it out; unblock brings it back.
    cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(!bundle_holds(&bundle, &public));
    cabundle(&home)
        .args(["unblock", &fp, "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(bundle_holds(&bundle, &public));
    cabundle(&home)
        .args(["unblock", &fp, "--root"])
        .arg(&root)
        .assert()
        .code(1)
        .stderr(contains("not blocked"));
}

#[test]
fn blocking_something_not_seen_is_kept_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let home = dir.path().join("home");
    let unseen = "ab".repeat(32);
    cabundle(&home)
        .args(["block", &unseen, "--root"])
        .arg(&root)
        .assert()
        .success();
    cabundle(&home)
        .arg("list")
        .assert()
        .success()
        .stdout(contains("not in any source"));
    cabundle(&home)
        .args(["block", "not-a-fingerprint"])
        .assert()
        .code(2);
}

#[test]
fn a_corrupt_config_stops_sync_by_name_and_keeps_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let home = dir.path().join("home");
    cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    let before = fs::read(home.join("ca-bundle.pem")).unwrap();
    write(&home.join("config.toml"), "blocked = [\"oops\"");
    cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .code(1)
        .stderr(contains("config.toml"));
    assert_eq!(before, fs::read(home.join("ca-bundle.pem")).unwrap());
    assert_eq!(
        fs::read_to_string(home.join("config.toml")).unwrap(),
        "blocked = [\"oops\""
    );
}
