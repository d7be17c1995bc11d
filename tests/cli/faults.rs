//! Faults: a full disk, a read-only folder, many writers at once, missing
//! state. The bundle is always a whole old or new one; nothing is lost.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

/// A small tmpfs, mounted for the test and unmounted after.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` where this machine does not let the test mount one (not
    /// root, no mount) and skipping was asked for ([`require_that`]).
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            // mode: a tmpfs root is 1777 by default, a folder any user can
            // write, which cabundle refuses as root for its state.
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        require_that(ok, "a tmpfs of its own (root, and util-linux's mount)")
            .then(|| Tmpfs(dir.to_path_buf()))
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

/// A home synced over an empty Debian root, on a tmpfs of `size` of its
/// own, and the bundle it holds.
struct OnTmpfs {
    // Unmounted before the temp folder under it goes.
    fs: Tmpfs,
    dir: tempfile::TempDir,
    root: PathBuf,
    before: Vec<u8>,
}

impl OnTmpfs {
    fn new(size: &str) -> Option<OnTmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let root = debian_root(dir.path(), &[]);
        let fs = Tmpfs::mount(&dir.path().join("home"), size)?;
        cabundle(&fs.0)
            .args(["sync", "--root"])
            .arg(&root)
            .assert()
            .success();
        let before = fs::read(fs.0.join("ca-bundle.pem")).unwrap();
        Some(OnTmpfs {
            fs,
            dir,
            root,
            before,
        })
    }

    /// The bundle is still the one synced before the fault.
    fn assert_bundle_kept(&self) {
        let bundle = self.fs.0.join("ca-bundle.pem");
        assert_eq!(self.before, fs::read(&bundle).unwrap());
        bundle_is_whole(&bundle);
    }
}

/// `sync` and `add CORP`, the commands that write state, each with
/// `--root ROOT`, in `home`.
fn writers(home: &Path, root: &Path, corp: &Path) -> [assert_cmd::Command; 2] {
    ["sync", "add"].map(|verb| {
        let mut cmd = cabundle(home);
        cmd.arg(verb);
        if verb == "add" {
            cmd.arg(corp);
        }
        cmd.arg("--root").arg(root);
        cmd
    })
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
    // Room for one bundle, its manifest and its hashed folder (a page per
    // certificate), not for a second bundle beside them.
    let Some(t) = OnTmpfs::new("900k") else {
        return;
    };
    write(
        &t.root.join("usr/local/share/ca-certificates/new.crt"),
        valid_ca("New CA").pem,
    );
    cabundle(&t.fs.0)
        .args(["sync", "--root"])
        .arg(&t.root)
        .assert()
        .code(1)
        .stderr(contains("ca-bundle.pem").and(contains("No space left on device")));
    t.assert_bundle_kept();
    assert_no_temp_files(&t.fs.0);
}

#[test]
fn a_read_only_folder_fails_clearly_and_keeps_the_old_bundle() {
    let Some(t) = OnTmpfs::new("2m") else {
        return;
    };
    t.fs.remount_read_only();
    let home = &t.fs.0;
    let corp = write(&t.dir.path().join("corp.pem"), valid_ca("Corp CA").pem);
    for mut cmd in writers(home, &t.root, &corp) {
        cmd.assert()
            .code(1)
            .stderr(contains("Read-only file system").and(contains(home.to_str().unwrap())));
        t.assert_bundle_kept();
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

/// `sh -c 'umask 077; exec cabundle ...'`: every folder cabundle makes is
/// 0755 and every file 0644 all the same, so other users' clients can
/// read the bundle.
#[test]
fn state_folders_are_0755_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let home = dir.path().join("deep/home");
    let corp = write(&dir.path().join("corp.pem"), valid_ca("Umask CA").pem);
    let bin = assert_cmd::cargo::cargo_bin("cabundle");
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 077; exec "$0" add "$1" --name corp --root "$2""#)
        .arg(&bin)
        .arg(&corp)
        .arg(&root)
        .env("CABUNDLE_HOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    for folder in [
        dir.path().join("deep"),
        home.clone(),
        home.join("cas"),
        home.join("cas/corp"),
    ] {
        assert_eq!(mode(&folder), 0o755, "{}", folder.display());
    }
    let mut files = vec![
        home.join("ca-bundle.pem"),
        home.join("manifest.json"),
        home.join(".lock"),
    ];
    files.extend(
        fs::read_dir(home.join("cas/corp"))
            .unwrap()
            .map(|e| e.unwrap().path()),
    );
    assert_eq!(files.len(), 4);
    for file in files {
        assert_eq!(mode(&file), 0o644, "{}", file.display());
    }
}

/// A `.lock` link planted in the state folder: every writer fails, naming
/// it, and neither the file it points at nor a missing one is touched.
#[test]
fn a_planted_lock_link_is_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    let target = write(&dir.path().join("target"), "precious\n");
    let corp = write(&dir.path().join("corp.pem"), valid_ca("Link CA").pem);
    for link_to in [target.clone(), dir.path().join("missing")] {
        let _ = fs::remove_file(home.join(".lock"));
        std::os::unix::fs::symlink(&link_to, home.join(".lock")).unwrap();
        for mut cmd in writers(&home, &root, &corp) {
            cmd.assert()
                .code(1)
                .stderr(contains(".lock").and(contains("symbolic link")));
        }
    }
    assert_eq!(fs::read_to_string(&target).unwrap(), "precious\n");
    assert!(!dir.path().join("missing").exists());
    assert!(!home.join("ca-bundle.pem").exists());
}

/// Kills the process group it names when dropped (the holder and
/// whatever it started), however the test ends.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pgid = self.0.id() as i32;
        // SAFETY: kill has no memory preconditions; the group is the one
        // this test started with process_group(0).
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Wait (up to 10 s) until `lock` is `held` or free, as `flock -n` finds it.
fn wait_for_lock(lock: &Path, held: bool) {
    let start = std::time::Instant::now();
    loop {
        let free = Command::new("flock")
            .arg("-n")
            .arg(lock)
            .arg("true")
            .status()
            .unwrap()
            .success();
        if free != held {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the lock is still {} after 10 s",
            if held { "free" } else { "held" }
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Another process holds the lock (util-linux `flock`): the waiter says on
/// stderr, after a second, which pid holds it, keeps waiting, and gives up
/// after `--lock-timeout` with exit 1 and nothing changed.
#[test]
fn a_held_lock_is_named_while_waiting_and_given_up_after_lock_timeout() {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};
    if !require("flock", "--version", "Debian: apt-get install util-linux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    let lock = home.join(".lock");
    let holder = Group(
        Command::new("flock")
            .arg(&lock)
            .args(["sleep", "60"])
            .process_group(0)
            .spawn()
            .unwrap(),
    );
    // Held once `flock -n` cannot take it.
    wait_for_lock(&lock, true);
    for args in [
        vec!["--lock-timeout", "2", "sync"],
        vec!["sync", "--lock-timeout", "2"],
    ] {
        let start = Instant::now();
        let out = cabundle(&home)
            .args(&args)
            .arg("--root")
            .arg(&root)
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap();
        let took = start.elapsed();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(10),
            "gave up after {took:?}: {err}"
        );
        let waiting = format!(
            "cabundle: waiting for the lock on {} (held by pid {}: flock ",
            lock.display(),
            holder.0.id()
        );
        assert!(err.contains(&waiting), "no {waiting:?} in:\n{err}");
        assert!(err.contains("--lock-timeout"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!home.join("ca-bundle.pem").exists());
    }
    // --lock-timeout 0: no waiting at all, and no notice.
    let start = Instant::now();
    let out = cabundle(&home)
        .args(["sync", "--lock-timeout", "0", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(start.elapsed() < Duration::from_secs(2), "{err}");
    assert!(!err.contains("waiting for the lock"), "{err}");
    // Killing the group ends `sleep`, which holds the lock, a moment after
    // the `flock` process the guard waits for.
    drop(holder);
    wait_for_lock(&lock, false);
    cabundle(&home)
        .args(["sync", "--lock-timeout", "0", "--root"])
        .arg(&root)
        .assert()
        .success();
}

/// As root, a state folder another user owns or can write, or a folder on
/// the way to it that they could rename, is refused before anything is
/// written, naming the folder and the fix; a sticky folder above it
/// (`/tmp`) is fine.
#[test]
fn as_root_state_folders_others_could_change_are_refused() {
    use std::os::unix::fs::{PermissionsExt, chown};
    if !require_root("the state folder checks apply to root only") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Below the tempdir (0700), so that uid 65534 could not have reached
    // these anyway: the checks go by owner and mode alone.
    let root = debian_root(dir.path(), &[]);
    let corp = write(&dir.path().join("corp.pem"), valid_ca("Unsafe Home CA").pem);
    let mkdir = |rel: &str, mode: u32| {
        let p = dir.path().join(rel);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
        p
    };
    let theirs = mkdir("theirs", 0o755);
    chown(&theirs, Some(65534), Some(65534)).unwrap();
    let group_writable = mkdir("group-writable", 0o775);
    let open_parent = mkdir("open", 0o777);
    let sticky_parent = mkdir("sticky", 0o1777);
    let cases: [(PathBuf, &Path, &str, &str); 5] = [
        (theirs.clone(), &theirs, "owned by uid 65534", "chown root"),
        (
            theirs.join("home"),
            &theirs,
            "owned by uid 65534",
            "chown root",
        ),
        (
            group_writable.clone(),
            &group_writable,
            "writable by group or others",
            "chmod go-w",
        ),
        (
            open_parent.join("home"),
            &open_parent,
            "writable by group or others",
            "chmod go-w",
        ),
        (
            mkdir("with-cas", 0o755),
            &dir.path().join("with-cas/cas"),
            "writable by group or others",
            "chmod go-w",
        ),
    ];
    fs::create_dir(dir.path().join("with-cas/cas")).unwrap();
    fs::set_permissions(
        dir.path().join("with-cas/cas"),
        fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    for (home, named, why, fix) in &cases {
        for mut cmd in writers(home, &root, &corp) {
            let out = cmd.output().unwrap();
            let err = stderr_of(&out);
            assert_eq!(out.status.code(), Some(1), "{}: {err}", home.display());
            for needle in [named.to_str().unwrap(), why, fix, "root"] {
                assert!(
                    err.contains(needle),
                    "{}: no {needle:?} in {err}",
                    home.display()
                );
            }
            assert!(!home.join("ca-bundle.pem").exists());
            assert!(!home.join("cas").join("corp").exists());
        }
    }
    assert!(
        !theirs.join("home").exists(),
        "made a folder inside a refused one"
    );
    // Under a sticky folder (as under /tmp): made, and used.
    let home = sticky_parent.join("home");
    cabundle(&home)
        .args(["add", corp.to_str().unwrap(), "--root"])
        .arg(&root)
        .assert()
        .success();
    assert!(home.join("ca-bundle.pem").exists());
    // The sticky folder itself as the state folder: others can write it.
    cabundle(&sticky_parent)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .code(1)
        .stderr(contains("writable by group or others"));
}
