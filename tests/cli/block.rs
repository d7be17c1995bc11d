//! `cabundle block` / `unblock`: a user blocklist applied to every source.

use crate::common;

use std::fs;

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
        .code(1)
        .stderr(contains("not blocked"));
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
        .code(2);
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
