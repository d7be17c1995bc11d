//! `install --system` / `uninstall --system`: added CAs into the OS store
//! the distribution's way, and out again without a trace.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

use cabundle::system::is_root;

/// A minimal tree of `family` with an os-release.
fn tree(dir: &Path, os_release: &str) -> PathBuf {
    let root = dir.join("root");
    write(&root.join("etc/os-release"), os_release);
    root
}

fn add(home: &Path, root: &Path, args: &[&str]) {
    cabundle(home)
        .arg("add")
        .args(args)
        .arg("--root")
        .arg(root)
        .assert()
        .success();
}

/// `cabundle VERB --system --no-update --root ROOT`: install or uninstall
/// in a tree, without running its updater.
fn system(home: &Path, root: &Path, verb: &str) -> assert_cmd::Command {
    let mut cmd = cabundle(home);
    cmd.args([verb, "--system", "--no-update", "--root"])
        .arg(root);
    cmd
}

/// A Debian tree (os-release only) and a home that added "Corp Root" as
/// `corp`: (temp folder, root, home).
fn debian_with_corp() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path(), "ID=debian\n");
    let home = dir.path().join("home");
    let corp = write(&dir.path().join("corp.pem"), valid_ca("Corp Root").pem);
    add(&home, &root, &[corp.to_str().unwrap()]);
    (dir, root, home)
}

#[test]
fn each_family_gets_its_own_folder_and_extension_and_uninstall_takes_only_ours() {
    if !require_root("install --system") {
        return;
    }
    let families = [
        ("ID=debian\n", "usr/local/share/ca-certificates", "crt"),
        ("ID=alpine\n", "usr/local/share/ca-certificates", "crt"),
        ("ID=fedora\n", "etc/pki/ca-trust/source/anchors", "pem"),
        (
            "ID=\"opensuse-leap\"\nID_LIKE=\"suse opensuse\"\n",
            "etc/pki/trust/anchors",
            "pem",
        ),
        (
            "ID=arch\n",
            "etc/ca-certificates/trust-source/anchors",
            "crt",
        ),
    ];
    for (release, folder, ext) in families {
        let dir = tempfile::tempdir().unwrap();
        let root = tree(dir.path(), release);
        let home = dir.path().join("home");
        let corp = write(&dir.path().join("corp.pem"), valid_ca("Corp Root").pem);
        let (a, b) = (valid_ca("Team A"), valid_ca("Team B"));
        let team = write(&dir.path().join("team.pem"), format!("{}{}", a.pem, b.pem));
        add(&home, &root, &[corp.to_str().unwrap()]);
        add(&home, &root, &[team.to_str().unwrap()]);
        let admins = write(
            &root.join(folder).join(format!("admin.{ext}")),
            valid_ca("Admin's Own").pem,
        );

        system(&home, &root, "install")
            .assert()
            .success()
            .stdout(contains(format!("cabundle-corp.{ext}")))
            .stderr(contains("--no-update"));
        let dropin = root.join(folder);
        let corp_file = dropin.join(format!("cabundle-corp.{ext}"));
        // One certificate per file: Debian's updater skips files with more.
        for (file, who) in [
            (corp_file.clone(), "Corp Root"),
            (dropin.join(format!("cabundle-team-1.{ext}")), ""),
            (dropin.join(format!("cabundle-team-2.{ext}")), ""),
        ] {
            let text = fs::read_to_string(&file)
                .unwrap_or_else(|_| panic!("{release}: no {}", file.display()));
            assert_eq!(pem_blocks(&text).len(), 1, "{}", file.display());
            assert!(text.contains(who));
            assert!(openssl(&["x509", "-noout"], &text).0);
        }
        // The OS store now holds them: a sync of that root sees them there.
        let other = dir.path().join("other-home");
        sync_ok(&other, &root, &[]);
        let text = fs::read_to_string(other.join("ca-bundle.pem")).unwrap();
        assert!(
            text.contains(&format!("# Sources: os:/{folder}/cabundle-corp.{ext}")),
            "{release}"
        );

        // Installing again after a remove takes the stale file out.
        cabundle(&home)
            .args(["remove", "team", "--root"])
            .arg(&root)
            .assert()
            .success();
        system(&home, &root, "install").assert().success();
        assert!(!dropin.join(format!("cabundle-team-1.{ext}")).exists());
        assert!(corp_file.exists());

        system(&home, &root, "uninstall")
            .assert()
            .success()
            .stdout(contains("removed"));
        let left: Vec<_> = fs::read_dir(&dropin)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert_eq!(left, std::slice::from_ref(&admins), "{release}");
        // Again: nothing to do, and not an error.
        system(&home, &root, "uninstall")
            .assert()
            .success()
            .stderr(contains("nothing was installed"));
    }
}

#[test]
fn a_file_changed_since_install_is_left_alone() {
    if !require_root("install --system") {
        return;
    }
    let (_dir, root, home) = debian_with_corp();
    system(&home, &root, "install").assert().success();
    let file = root.join("usr/local/share/ca-certificates/cabundle-corp.crt");
    fs::write(&file, "edited by the admin\n").unwrap();
    system(&home, &root, "uninstall")
        .assert()
        .success()
        .stderr(contains("left").and(contains("changed since")));
    assert_eq!(fs::read_to_string(&file).unwrap(), "edited by the admin\n");
}

#[test]
fn a_file_of_the_same_name_that_is_not_ours_is_not_overwritten() {
    if !require_root("install --system") {
        return;
    }
    let (_dir, root, home) = debian_with_corp();
    let theirs = write(
        &root.join("usr/local/share/ca-certificates/cabundle-corp.crt"),
        "theirs\n",
    );
    system(&home, &root, "install")
        .assert()
        .code(1)
        .stderr(contains("not written by cabundle"));
    assert_eq!(fs::read_to_string(theirs).unwrap(), "theirs\n");
}

#[test]
fn without_root_rights_nothing_changes() {
    let (_dir, root, home) = debian_with_corp();
    let bin = assert_cmd::cargo::cargo_bin("cabundle");
    if is_root() && !require("setpriv", "--version", "util-linux, to drop root") {
        return;
    }
    for verb in ["install", "uninstall"] {
        // As root, drop to nobody for the command; otherwise we are not root.
        let mut cmd = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let out = cmd
            .args([verb, "--system", "--root"])
            .arg(&root)
            .env("CABUNDLE_HOME", &home)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("needs root"), "{err}");
    }
    assert!(!root.join("usr/local/share/ca-certificates").exists());
    assert!(!home.join("installed.json").exists());
}

/// What the real-updater test runs as, inside its private namespace.
const REAL_SYSTEM_TEST: &str = "install::on_the_real_debian_system_install_is_seen_by_openssl_and_uninstall_restores_every_byte";
/// Set (to the host's mount namespace) in the re-run of that test that is
/// inside its own mount namespace.
const PRIVATE_NAMESPACE: &str = "CABUNDLE_TEST_PRIVATE_NAMESPACE_OF";
/// What Debian's updater writes, or reads and could be changed through.
const SYSTEM_TREES: [&str; 3] = [
    "/etc/ssl/certs",
    "/usr/local/share/ca-certificates",
    "/etc/ca-certificates.conf",
];

/// Every entry at and below `path`: kind, mode, and a link's target or a
/// file's SHA-256. Two equal maps mean nothing there changed.
fn tree_sums(path: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut sums = std::collections::BTreeMap::new();
    let mut todo = vec![path.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let sum = if meta.is_symlink() {
            format!("link -> {}", fs::read_link(&p).unwrap().display())
        } else if meta.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            format!("dir {mode:o}")
        } else {
            format!("file {mode:o} {}", sha256_hex(&fs::read(&p).unwrap()))
        };
        sums.insert(p, sum);
    }
    sums
}

/// Install into the real Debian store and run the real updater, then
/// uninstall: OpenSSL trusts the CA in between and every byte is back
/// after. All of it happens in a private mount namespace (the test runs
/// itself again under `unshare -m`), over copies of the system's folders,
/// so the host's store is never written: checked by summing it before and
/// after.
#[test]
fn on_the_real_debian_system_install_is_seen_by_openssl_and_uninstall_restores_every_byte() {
    if let Some(host) = std::env::var_os(PRIVATE_NAMESPACE) {
        return real_system_in_private_namespace(Path::new(&host));
    }
    let mut missing: Vec<String> = Vec::new();
    if !is_root() {
        missing.push("root (for a private mount namespace)".into());
    }
    for tool in ["unshare", "mount", "cp"] {
        if cabundle::system::find_program(tool).is_none() {
            missing.push(format!("{tool} (util-linux / coreutils) on PATH"));
        }
    }
    for path in [
        "/usr/sbin/update-ca-certificates",
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/debian_version",
        "/etc/ca-certificates.conf",
        "/usr/share/ca-certificates",
        "/usr/local/share/ca-certificates",
    ] {
        if !Path::new(path).exists() {
            missing.push(path.into());
        }
    }
    let needs = format!(
        "Debian's ca-certificates and a private mount namespace; missing: {}",
        missing.join(", ")
    );
    if !require_that(missing.is_empty(), &needs) {
        return;
    }
    let before: Vec<_> = SYSTEM_TREES
        .iter()
        .map(|t| tree_sums(Path::new(t)))
        .collect();
    let host_namespace = fs::read_link("/proc/self/ns/mnt").unwrap();
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([
            REAL_SYSTEM_TEST,
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PRIVATE_NAMESPACE, &host_namespace)
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), stderr_of(&out));
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the run in a private namespace failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for (tree, before) in SYSTEM_TREES.iter().zip(before) {
        assert!(
            tree_sums(Path::new(tree)) == before,
            "the host's {tree} changed"
        );
    }
}

/// The test proper, in its own mount namespace: the system's folders are
/// private copies (the updater's hooks an empty folder, the packaged
/// certificates read-only) before anything runs.
fn real_system_in_private_namespace(host_namespace: &Path) {
    // Both the namespace the outer run was in and init's: a variable set
    // by hand must not make this run on the host.
    let here = fs::read_link("/proc/self/ns/mnt").unwrap();
    for host in [
        Some(host_namespace.to_path_buf()),
        fs::read_link("/proc/1/ns/mnt").ok(),
    ] {
        assert_ne!(
            Some(&here),
            host.as_ref(),
            "not in a mount namespace of its own: refusing to touch the system"
        );
    }
    let private = tempfile::tempdir().unwrap();
    let copies = private.path().join("system");
    fs::create_dir(&copies).unwrap();
    for (i, tree) in SYSTEM_TREES.iter().enumerate() {
        let copy = copies.join(i.to_string());
        run_ok(Command::new("cp").arg("-a").arg(tree).arg(&copy), "cp -a");
        run_ok(
            Command::new("mount").arg("--bind").arg(&copy).arg(tree),
            "mount --bind",
        );
    }
    let packaged = "/usr/share/ca-certificates";
    run_ok(
        Command::new("mount").args(["--bind", packaged, packaged]),
        "mount --bind",
    );
    run_ok(
        Command::new("mount").args(["-o", "remount,bind,ro", packaged]),
        "mount -o remount,ro",
    );
    let hooks = Path::new("/etc/ca-certificates/update.d");
    if hooks.is_dir() {
        run_ok(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", "mode=0755", "tmpfs"])
                .arg(hooks),
            "mount -t tmpfs",
        );
    }

    let system_bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    let updater = Path::new("/usr/sbin/update-ca-certificates");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let corp = valid_ca("Corp System Test Root");
    let (leaf, _) = corp.leaf(days(-1), days(30));
    let corp_file = write(&dir.path().join("corp-system-test.pem"), &corp.pem);
    let scratch = tree(dir.path(), "ID=debian\n");
    add(&home, &scratch, &[corp_file.to_str().unwrap()]);
    // Make sure the links match the store before we start comparing.
    assert!(
        Command::new(updater)
            .arg("--fresh")
            .output()
            .unwrap()
            .status
            .success()
    );
    let before = fs::read(system_bundle).unwrap();
    assert!(!openssl_verifies(system_bundle, &leaf, dir.path()));

    // A hook that syncs, as the package's does, but gives up on the lock at
    // once: install and uninstall must not hold it while the updater runs
    // its hooks, or the package's hook would wait for them.
    let hook_log = dir.path().join("hook.log");
    if hooks.is_dir() {
        let hook = write(
            &hooks.join("cabundle-test"),
            format!(
                "#!/bin/sh\ncat >/dev/null\n'{bin}' --lock-timeout 0 sync --offline >'{log}' 2>&1\n\
                 echo \"exit $?\" >>'{log}'\n",
                bin = env!("CARGO_BIN_EXE_cabundle"),
                log = hook_log.display()
            ),
        );
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let hook_synced = |after: &str| {
        if hooks.is_dir() {
            let log = fs::read_to_string(&hook_log).unwrap();
            assert!(
                log.ends_with("exit 0\n"),
                "the hook's sync after {after}:\n{log}"
            );
            fs::remove_file(&hook_log).unwrap();
        }
    };

    // Without the updater on PATH: a clear error, and the file stays.
    let installed = Path::new("/usr/local/share/ca-certificates/cabundle-corp-system-test.crt");
    cabundle(&home)
        .args(["install", "--system"])
        .env("PATH", "/nonexistent")
        .assert()
        .code(1)
        .stderr(contains("update-ca-certificates").and(contains("not found")));
    assert!(installed.exists());

    cabundle(&home)
        .args(["install", "--system"])
        .assert()
        .success()
        .stdout(contains(installed.to_str().unwrap()));
    hook_synced("install --system");
    assert!(bundle_holds(system_bundle, &corp.pem));
    assert!(openssl_verifies(system_bundle, &leaf, dir.path()));

    cabundle(&home)
        .args(["uninstall", "--system"])
        .assert()
        .success();
    hook_synced("uninstall --system");
    assert!(!installed.exists());
    assert_eq!(
        fs::read(system_bundle).unwrap(),
        before,
        "the system bundle was not restored byte for byte"
    );
    let dangling = Command::new("find")
        .args(["/etc/ssl/certs", "-xtype", "l"])
        .output()
        .unwrap();
    assert!(
        dangling.stdout.is_empty(),
        "links left behind: {}",
        String::from_utf8_lossy(&dangling.stdout)
    );
}

/// A doctored installed.json naming files install never writes, each with
/// the right SHA-256 (so only the check on where and how it is named stands
/// between it and deletion): `uninstall --system` and install's clean-up
/// delete none of them and name each one; the genuine entry still goes.
#[test]
fn a_doctored_record_deletes_nothing_install_did_not_write() {
    if !require_root("install --system") {
        return;
    }
    let (dir, root, home) = debian_with_corp();
    let dropin = root.join("usr/local/share/ca-certificates");
    // Victims: inside the tree (reached through the record's own path),
    // beside it (reached through `..`), and in the drop-in folder but not
    // named as cabundle names files.
    let victims = [
        (
            "/etc/passwd",
            write(&root.join("etc/passwd"), "root:x:0:0\n"),
        ),
        (
            "/etc/ssl/certs/cabundle-corp.crt",
            write(
                &root.join("etc/ssl/certs/cabundle-corp.crt"),
                "other folder\n",
            ),
        ),
        (
            "/usr/local/share/ca-certificates/sub/cabundle-corp.crt",
            write(&dropin.join("sub/cabundle-corp.crt"), "sub folder\n"),
        ),
        (
            "/usr/local/share/ca-certificates/admin.crt",
            write(&dropin.join("admin.crt"), "the admin's\n"),
        ),
        (
            "/usr/local/share/ca-certificates/cabundle-corp.pem",
            write(&dropin.join("cabundle-corp.pem"), "wrong extension\n"),
        ),
        (
            "/usr/local/share/ca-certificates/../../../../x",
            write(&dir.path().join("x"), "outside the tree\n"),
        ),
        ("../../x", dir.path().join("x")),
        (
            "usr/local/share/ca-certificates/cabundle-rel.crt",
            write(&dropin.join("cabundle-rel.crt"), "relative record\n"),
        ),
    ];
    // A link with our name, to a file elsewhere.
    let linked = write(&dir.path().join("linked-target"), "link target\n");
    std::os::unix::fs::symlink(&linked, dropin.join("cabundle-link.crt")).unwrap();

    let doctor_record = |keep_genuine: bool| {
        let path = home.join("installed.json");
        let mut record: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let entries = record["roots"][root.to_str().unwrap()]
            .as_array_mut()
            .unwrap();
        if !keep_genuine {
            entries.clear();
        }
        for (recorded, real) in &victims {
            entries.push(serde_json::json!({
                "path": recorded,
                "sha256": sha256_hex(&fs::read(real).unwrap()),
            }));
        }
        entries.push(serde_json::json!({
            "path": "/usr/local/share/ca-certificates/cabundle-link.crt",
            "sha256": sha256_hex(&fs::read(&linked).unwrap()),
        }));
        fs::write(&path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    };
    let untouched = || {
        for (recorded, real) in &victims {
            assert!(real.exists(), "{recorded} was deleted: {}", real.display());
        }
        assert_eq!(fs::read_to_string(&linked).unwrap(), "link target\n");
        assert!(fs::symlink_metadata(dropin.join("cabundle-link.crt")).is_ok());
    };
    let refusals = |err: &str| {
        for (recorded, _) in &victims {
            let named = format!("refused to remove {recorded:?}");
            assert!(err.contains(&named), "no {named:?} in:\n{err}");
        }
        assert!(err.contains("cabundle-link.crt\""), "{err}");
    };

    // install's clean-up of what an earlier install recorded.
    system(&home, &root, "install").assert().success();
    doctor_record(true);
    let out = system(&home, &root, "install").output().unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    refusals(&err);
    untouched();

    // uninstall: the genuine file goes, nothing else; exit 1 says so.
    doctor_record(true);
    let genuine = dropin.join("cabundle-corp.crt");
    assert!(genuine.exists());
    let out = system(&home, &root, "uninstall").output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    refusals(&err);
    assert!(err.contains("installed.json"), "{err}");
    assert!(!genuine.exists(), "the genuine entry was not removed");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("removed"),
        "{err}"
    );
    untouched();
}

/// With no added CAs, install says which store it looked in; under sudo,
/// that root's store is not the user's, and how to add for root.
#[test]
fn with_nothing_added_install_names_the_store_it_read_and_sudo_is_explained() {
    if !is_root() {
        eprintln!("skipped: install --system needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = tree(dir.path(), "ID=debian\n");
    let home = dir.path().join("home");
    let cas = home.join("cas");
    let install = |sudo_user: Option<&str>| {
        let mut cmd = cabundle(&home);
        cmd.args(["install", "--system", "--no-update", "--root"])
            .arg(&root);
        match sudo_user {
            Some(user) => cmd.env("SUDO_USER", user),
            None => cmd.env_remove("SUDO_USER"),
        };
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = install(None);
    assert!(
        err.contains(&format!("{} holds none", cas.display()))
            && err.contains("`cabundle add FILE` first"),
        "{err}"
    );
    let err = install(Some("alice"));
    assert!(
        err.contains(&format!("root's store {} holds none", cas.display()))
            && err.contains("alice")
            && err.contains("`sudo cabundle add FILE`"),
        "{err}"
    );
    assert!(!root.join("usr/local/share/ca-certificates").exists());
}
