//! The bundle is replaced whole or not at all: a killed writer, or one that
//! hits a file-size limit, leaves the previous bundle intact.

use crate::common;

use std::fs;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

#[test]
fn kill_9_at_random_moments_leaves_an_old_or_new_bundle() {
    // Two states whose bundles differ: with and without an added CA.
    let s = Synced::new(&[&valid_ca("OS Root").pem]);
    let (root, home) = (&s.root, &s.home);
    let bin = assert_cmd::cargo::cargo_bin("cabundle");
    let without = fs::read(s.bundle()).unwrap();
    s.add("corp", &valid_ca("Corp CA").pem);
    let with = fs::read(s.bundle()).unwrap();
    assert_ne!(with, without);
    let (stored, parked) = (home.join("cas/corp"), s.dir().join("parked"));

    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64
        | 1;
    let mut outcomes = [0usize; 2];
    for round in 0..40 {
        // Flip the store so that a completed sync would change the bundle.
        if round % 2 == 0 {
            fs::rename(&stored, &parked).unwrap();
        } else {
            fs::rename(&parked, &stored).unwrap();
        }
        let mut child = Command::new(&bin)
            .args(["sync", "--root"])
            .arg(root)
            .env("CABUNDLE_HOME", home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        sleep(Duration::from_micros(seed % 150_000));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let now = fs::read(home.join("ca-bundle.pem")).unwrap();
        assert!(
            now == with || now == without,
            "round {round}: a torn bundle"
        );
        outcomes[usize::from(now == with)] += 1;
    }
    eprintln!(
        "bundles seen after kills: {} without, {} with the CA",
        outcomes[0], outcomes[1]
    );
    // The next run cleans up whatever the killed ones left.
    s.sync();
    assert_no_temp_files(home);
}

#[test]
fn a_file_size_limit_fails_cleanly_and_keeps_the_old_bundle() {
    let s = Synced::new(&[]);
    let (root, home) = (&s.root, &s.home);
    let before = fs::read(s.bundle()).unwrap();
    assert!(before.len() > 64 * 1024);
    write(
        &root.join("usr/local/share/ca-certificates/new.crt"),
        valid_ca("New CA").pem,
    );

    let bin = assert_cmd::cargo::cargo_bin("cabundle");
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"ulimit -f 64; exec "$0" sync --root "$1""#)
        .arg(&bin)
        .arg(root)
        .env("CABUNDLE_HOME", home)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ca-bundle.pem") && err.contains("File too large"),
        "{err}"
    );
    assert_eq!(before, fs::read(s.bundle()).unwrap());
    assert_no_temp_files(home);
}
