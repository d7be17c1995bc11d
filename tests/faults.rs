//! Faults: a full disk, a read-only folder, many writers at once, missing
//! state. The bundle is always a whole old or new one; nothing is lost.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

/// A small tmpfs, mounted for the test and unmounted after; `None` where
/// this machine does not let the test mount one (not root, no mount).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .ok()?
            .success();
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }

    fn remount_read_only(&self) {
        assert!(
            Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(&self.0)
                .status()
                .unwrap()
                .success()
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn bundle_is_whole(path: &Path) -> usize {
    let text = fs::read_to_string(path).unwrap();
    let n = pem_blocks(&text).len();
    let header: usize = text
        .lines()
        .next()
        .and_then(|l| l.split(": ").nth(1))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(n, header, "the bundle's header and its blocks disagree");
    n
}

#[test]
fn a_full_disk_fails_clearly_and_keeps_the_old_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    // Room for one bundle and its manifest, not for a second bundle beside it.
    let Some(fs_) = Tmpfs::mount(&dir.path().join("home"), "400k") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let home = &fs_.0;
    cabundle(home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    let before = fs::read(home.join("ca-bundle.pem")).unwrap();
    write(
        &root.join("usr/local/share/ca-certificates/new.crt"),
        valid_ca("New CA").pem,
    );
    cabundle(home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .code(1)
        .stderr(contains("ca-bundle.pem").and(contains("No space left on device")));
    assert_eq!(before, fs::read(home.join("ca-bundle.pem")).unwrap());
    bundle_is_whole(&home.join("ca-bundle.pem"));
    let temps: Vec<_> = fs::read_dir(home)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temp files left on the full disk");
}

#[test]
fn a_read_only_folder_fails_clearly_and_keeps_the_old_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let Some(fs_) = Tmpfs::mount(&dir.path().join("home"), "2m") else {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let home = fs_.0.clone();
    cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    let before = fs::read(home.join("ca-bundle.pem")).unwrap();
    fs_.remount_read_only();
    let corp = write(&dir.path().join("corp.pem"), valid_ca("Corp CA").pem);
    for args in [vec!["sync"], vec!["add", corp.to_str().unwrap()]] {
        cabundle(&home)
            .args(&args)
            .arg("--root")
            .arg(&root)
            .assert()
            .code(1)
            .stderr(contains("Read-only file system").and(contains(home.to_str().unwrap())));
        assert_eq!(before, fs::read(home.join("ca-bundle.pem")).unwrap());
    }
}

#[test]
fn sixteen_concurrent_adds_and_syncs_lose_no_ca() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let home = dir.path().join("home");
    let bin = assert_cmd::cargo::cargo_bin("cabundle");
    let cas: Vec<Ca> = (0..8)
        .map(|i| valid_ca(&format!("Concurrent CA {i}")))
        .collect();
    let mut children = Vec::new();
    for (i, ca) in cas.iter().enumerate() {
        let file = write(&dir.path().join(format!("ca{i}.pem")), &ca.pem);
        for args in [
            vec!["add".as_ref(), file.as_os_str()],
            vec!["sync".as_ref()],
        ] {
            children.push(
                Command::new(&bin)
                    .args(args)
                    .arg("--root")
                    .arg(&root)
                    .env("CABUNDLE_HOME", &home)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap(),
            );
        }
    }
    assert_eq!(children.len(), 16);
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let bundle = home.join("ca-bundle.pem");
    bundle_is_whole(&bundle);
    for ca in &cas {
        assert!(bundle_holds(&bundle, &ca.pem), "a CA was lost");
    }
}

#[test]
fn missing_or_misplaced_state_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("not/yet/here");
    cabundle(&missing).arg("list").assert().code(1).stderr(
        contains(missing.join("ca-bundle.pem").to_str().unwrap()).and(contains("cabundle sync")),
    );
    // sync makes the folders it needs.
    let root = debian_root(dir.path(), &[]);
    cabundle(&missing)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(missing.join("ca-bundle.pem").exists());
    // State "folder" that is a file.
    let file = write(&dir.path().join("a-file"), "x");
    cabundle(&file)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .code(1)
        .stderr(contains("a-file"));
    assert_eq!(fs::read(&file).unwrap(), b"x");
}
