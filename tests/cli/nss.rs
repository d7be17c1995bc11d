//! `install --nss` / `uninstall --nss` on NSS databases in scratch homes:
//! a real Chromium (Debian's, headless) that refuses a server signed by an
//! added corp CA before and loads its page after; Firefox-shaped profiles
//! made by certutil; certificates the user added themselves, kept as they
//! were; and the hostile cases (a database folder that is a link, a corrupt
//! cert9.db, a read-only database, one with a primary password). HOME and
//! every database are in temp folders: the machine's own are never read.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

use crate::common::server::{HELLO_BODY, Https};
use crate::common::{
    self, Corp, both, certutil, days, on_path, require, require_that, run_bounded, scrubbed,
    scrubbed_loopback, stderr_of, text,
};

/// Variables that would send Chromium, certutil or cabundle to another
/// user folder than the scratch HOME.
const XDG: [&str; 4] = [
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
];

fn certutil_here() -> bool {
    require(
        "certutil",
        "--build-flags",
        "Debian: apt-get install libnss3-tools",
    )
}

/// A new database without a password, as Chromium and Firefox make them.
fn new_db(dir: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    certutil(dir, &["-N", "--empty-password"]);
    dir.to_path_buf()
}

/// The user adding a certificate themselves, under their own nickname.
fn user_adds(dir: &Path, nickname: &str, trust: &str, pem: &str) {
    let file = common::write(&dir.with_extension("user-ca.pem"), pem);
    certutil(
        dir,
        &[
            "-A",
            "-n",
            nickname,
            "-t",
            trust,
            "-i",
            file.to_str().unwrap(),
        ],
    );
    fs::remove_file(file).unwrap();
}

/// `certutil -L`: (nickname, trust) of every entry.
fn listed(dir: &Path) -> Vec<(String, String)> {
    certutil(dir, &["-L"])
        .lines()
        .skip_while(|l| !l.contains("SSL,S/MIME,JAR/XPI"))
        .skip(1)
        .filter_map(|l| {
            let (nick, trust) = l.trim_end().rsplit_once(' ')?;
            Some((nick.trim_end().to_string(), trust.to_string()))
        })
        .collect()
}

/// The SHA-256 of each certificate `nickname` names.
fn shas_of(dir: &Path, nickname: &str) -> Vec<String> {
    common::pem_blocks(&certutil(dir, &["-L", "-a", "-n", nickname]))
        .iter()
        .map(|b| common::sha256_hex(&common::der(b)))
        .collect()
}

/// The nickname cabundle gives the corp CA added as `corp`.
fn corp_nickname(s: &Corp) -> String {
    let sha = common::sha256_hex(&common::der(&s.corp.pem));
    format!("cabundle corp {}", &sha[..8])
}

/// `cabundle ARGS` with HOME `home` (and no XDG folder from outside).
fn run_in(s: &Corp, home: &Path, args: &[&str]) -> Command {
    let mut cmd = common::cabundle(&s.home);
    for var in XDG {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home).args(args);
    cmd
}

fn ok(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    (text(&out.stdout), stderr_of(&out))
}

/// Debian's chromium, headless, with HOME `home` and a fresh profile in
/// `dir`: `--dump-dom URL`. (Whether the page loaded, what it said.)
fn chromium(home: &Path, dir: &Path, url: &str) -> (bool, String) {
    let profile = tempfile::tempdir_in(dir).unwrap();
    let mut cmd = scrubbed_loopback("chromium");
    for var in XDG {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home).args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        &format!("--user-data-dir={}", profile.path().display()),
        "--dump-dom",
        url,
    ]);
    let ran = run_bounded(cmd);
    assert!(!ran.timed_out, "{ran}");
    (ran.stdout.contains(HELLO_BODY), ran.to_string())
}

fn chromium_here() -> bool {
    require("chromium", "--version", "Debian: apt-get install chromium")
}

#[test]
fn chromium_trusts_the_corp_ca_after_install_nss_and_no_longer_after_uninstall() {
    if !certutil_here() || !chromium_here() {
        return;
    }
    let s = Corp::new();
    let server = Https::hello(s.dir(), &s.corp.leaf(days(-1), days(30)));
    let url = server.url("");
    let home = s.dir().join("user");
    fs::create_dir_all(&home).unwrap();

    // Chromium refuses the server, and makes its database where M146+
    // does when there is none: ~/.local/share/pki/nssdb.
    let (loaded, said) = chromium(&home, s.dir(), &url);
    assert!(!loaded, "{said}");
    assert!(said.contains("ERR_CERT_AUTHORITY_INVALID"), "{said}");
    let db = home.join(".local/share/pki/nssdb");
    assert!(db.join("cert9.db").is_file(), "{said}");
    // A CA the user trusts on their own.
    let own = common::valid_ca("cabundle test User's Own Root");
    user_adds(&db, "my own root", "CT,C,C", &own.pem);

    s.add_corp();
    let (out, _) = ok(&mut run_in(&s, &home, &["install", "--nss"]));
    let nick = corp_nickname(&s);
    assert_eq!(
        out,
        format!(
            "added to {} (Chromium, Chrome and Electron apps): {nick:?}\n",
            db.display()
        )
    );
    let mut want = vec![
        ("my own root".to_string(), "CT,C,C".to_string()),
        (nick.clone(), "C,,".to_string()),
    ];
    want.sort();
    let mut got = listed(&db);
    got.sort();
    assert_eq!(got, want);
    assert_eq!(
        shas_of(&db, &nick),
        [common::sha256_hex(&common::der(&s.corp.pem))]
    );
    // No ~/.pki/nssdb was made: Chromium would not read the XDG one then.
    assert!(!home.join(".pki").exists());

    let (loaded, said) = chromium(&home, s.dir(), &url);
    assert!(loaded, "{said}");

    let (out, _) = ok(&mut run_in(&s, &home, &["uninstall", "--nss"]));
    assert_eq!(
        out,
        format!(
            "removed from {} (Chromium, Chrome and Electron apps): {nick:?}\n",
            db.display()
        )
    );
    assert_eq!(
        listed(&db),
        [("my own root".to_string(), "CT,C,C".to_string())]
    );
    let (loaded, said) = chromium(&home, s.dir(), &url);
    assert!(!loaded, "{said}");
    assert!(said.contains("ERR_CERT_AUTHORITY_INVALID"), "{said}");
    drop(server);
}

#[test]
fn with_no_database_install_nss_makes_pki_nssdb_which_chromium_reads() {
    if !certutil_here() || !chromium_here() {
        return;
    }
    let s = Corp::new();
    let server = Https::hello(s.dir(), &s.corp.leaf(days(-1), days(30)));
    let home = s.dir().join("user");
    fs::create_dir_all(&home).unwrap();
    s.add_corp();
    let (out, err) = ok(&mut run_in(&s, &home, &["install", "--nss"]));
    let db = home.join(".pki/nssdb");
    assert!(
        err.contains("there was no NSS database; made one, as Chromium would"),
        "{err}"
    );
    assert!(
        out.starts_with(&format!("added to {}", db.display())),
        "{out}"
    );
    assert_eq!(listed(&db), [(corp_nickname(&s), "C,,".to_string())]);
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "as Chromium makes it");
    let (loaded, said) = chromium(&home, s.dir(), &server.url(""));
    assert!(loaded, "{said}");
    // Installing again changes nothing.
    let (out, err) = ok(&mut run_in(&s, &home, &["install", "--nss"]));
    assert_eq!(out, "");
    assert!(err.contains("already holds"), "{err}");
    drop(server);
}

#[test]
fn firefox_profiles_get_the_corp_ca_and_a_legacy_one_is_reported() {
    if !certutil_here() {
        return;
    }
    let s = Corp::new();
    let home = s.dir().join("user");
    let firefox = new_db(&home.join(".mozilla/firefox/abc.default-release"));
    let snap = new_db(&home.join("snap/firefox/common/.mozilla/firefox/s1.default"));
    let flatpak = new_db(&home.join(".var/app/org.mozilla.firefox/.mozilla/firefox/f1.default"));
    // A profile from before Firefox 58: only the DBM database.
    let old = home.join(".mozilla/firefox/old.default");
    let cert8 = common::write(&old.join("cert8.db"), b"a DBM database");
    // Not a profile: no database.
    fs::create_dir_all(home.join(".mozilla/firefox/Crash Reports")).unwrap();
    s.add_corp();
    let nick = corp_nickname(&s);
    let (out, err) = ok(&mut run_in(&s, &home, &["install", "--nss"]));
    for (db, kind) in [
        (&firefox, "Firefox profile"),
        (&snap, "Firefox (snap) profile"),
        (&flatpak, "Firefox (Flatpak) profile"),
    ] {
        assert!(
            out.contains(&format!("added to {} ({kind}): {nick:?}\n", db.display())),
            "{out}"
        );
        assert_eq!(listed(db), [(nick.clone(), "C,,".to_string())]);
    }
    // Chromium's database is made as well.
    assert_eq!(
        listed(&home.join(".pki/nssdb")),
        [(nick.clone(), "C,,".to_string())]
    );
    assert!(
        err.contains(&format!(
            "{} (Firefox profile): only a legacy cert8.db",
            old.display()
        )),
        "{err}"
    );
    assert_eq!(fs::read(&cert8).unwrap(), b"a DBM database");
    assert!(!old.join("cert9.db").exists());

    // `remove` takes the CA out of the bundle; the next install --nss takes
    // it out of every database.
    run_in(&s, &home, &["remove", "corp"])
        .arg("--root")
        .arg(&s.root)
        .assert()
        .success();
    let (out, _) = ok(&mut run_in(&s, &home, &["install", "--nss"]));
    assert!(
        out.contains(&format!("removed from {}", firefox.display())),
        "{out}"
    );
    for db in [&firefox, &snap, &flatpak] {
        assert_eq!(listed(db), []);
    }
    let (_, err) = ok(&mut run_in(&s, &home, &["uninstall", "--nss"]));
    assert!(err.contains("nothing to take out"), "{err}");
}

#[test]
fn what_the_user_added_is_never_added_twice_nor_removed() {
    if !certutil_here() {
        return;
    }
    let s = Corp::new();
    let home = s.dir().join("user");
    let db = new_db(&home.join(".pki/nssdb"));
    // The corp CA, added by the user before cabundle, with more trust than
    // cabundle gives: certutil -A of it under another nickname would
    // quietly replace that trust.
    user_adds(&db, "Corp Root (mine)", "CT,C,C", &s.corp.pem);
    // Another root with the corp CA's very subject (its old key): NSS
    // files the two under one subject, and deletes by nickname.
    let old_corp = common::valid_ca("cabundle test Corp TLS Inspection CA");
    let profile = new_db(&home.join(".mozilla/firefox/abc.default-release"));
    user_adds(&profile, "old corp root", "C,,", &old_corp.pem);
    s.add_corp();
    let nick = corp_nickname(&s);

    let (out, err) = ok(&mut run_in(&s, &home, &["install", "--nss"]));
    assert!(
        err.contains("as \"Corp Root (mine)\" (yours: not added twice, never removed)"),
        "{err}"
    );
    assert!(!out.contains(&db.display().to_string()), "{out}");
    assert_eq!(
        listed(&db),
        [("Corp Root (mine)".to_string(), "CT,C,C".to_string())]
    );
    let mut got = listed(&profile);
    got.sort();
    assert_eq!(
        got,
        [
            (nick.clone(), "C,,".to_string()),
            ("old corp root".to_string(), "C,,".to_string())
        ]
    );

    let (out, _) = ok(&mut run_in(&s, &home, &["uninstall", "--nss"]));
    assert_eq!(
        out,
        format!(
            "removed from {} (Firefox profile): {nick:?}\n",
            profile.display()
        )
    );
    assert_eq!(
        listed(&db),
        [("Corp Root (mine)".to_string(), "CT,C,C".to_string())]
    );
    assert_eq!(
        listed(&profile),
        [("old corp root".to_string(), "C,,".to_string())]
    );
    assert_eq!(
        shas_of(&profile, "old corp root"),
        [common::sha256_hex(&common::der(&old_corp.pem))]
    );
}

/// Every file below `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    common::snapshot(dir)
}

#[test]
fn hostile_databases_are_reported_and_nothing_is_lost() {
    if !certutil_here() {
        return;
    }
    let s = Corp::new();
    let home = s.dir().join("user");
    // ~/.pki/nssdb is a link to a database elsewhere.
    let elsewhere = new_db(&s.dir().join("elsewhere/nssdb"));
    user_adds(
        &elsewhere,
        "someone's root",
        "C,,",
        &common::valid_ca("Elsewhere").pem,
    );
    fs::create_dir_all(home.join(".pki")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, home.join(".pki/nssdb")).unwrap();
    // A profile whose cert9.db is damaged.
    let corrupt = home.join(".mozilla/firefox/corrupt.default");
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect();
    common::write(&corrupt.join("cert9.db"), &garbage);
    // A profile whose cert9.db is a link to another profile's.
    let other = new_db(&s.dir().join("other-profile"));
    let linked = home.join(".mozilla/firefox/linked.default");
    fs::create_dir_all(&linked).unwrap();
    std::os::unix::fs::symlink(other.join("cert9.db"), linked.join("cert9.db")).unwrap();
    // A profile with a primary password.
    let locked = home.join(".mozilla/firefox/password.default");
    fs::create_dir_all(&locked).unwrap();
    let pw = common::write(&s.dir().join("pw.txt"), "a primary password\n");
    certutil(&locked, &["-N", "-f", pw.to_str().unwrap()]);
    // And one good profile, which gets the CA all the same.
    let good = new_db(&home.join(".mozilla/firefox/good.default"));
    s.add_corp();
    let before = [files(&elsewhere), files(&corrupt), files(&other)];

    let out = run_in(&s, &home, &["install", "--nss"]).output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        err.contains(&format!(
            "{} (Chromium, Chrome and Electron apps): is a symbolic link (to {})",
            home.join(".pki/nssdb").display(),
            elsewhere.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{} (Firefox profile): certutil cannot read it (",
            corrupt.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{} is a symbolic link",
            linked.join("cert9.db").display()
        )),
        "{err}"
    );
    assert!(err.contains("it has a primary password"), "{err}");
    assert!(err.contains("4 NSS databases left unchanged"), "{err}");
    assert!(
        text(&out.stdout).contains(&format!("added to {}", good.display())),
        "{}",
        both(&out)
    );
    assert_eq!(before, [files(&elsewhere), files(&corrupt), files(&other)]);
    // Not even a half-added entry in the one with a password.
    assert_eq!(listed(&locked), []);
    // Nothing recorded but the good profile.
    let record: serde_json::Value =
        serde_json::from_slice(&fs::read(s.home.join("nss.json")).unwrap()).unwrap();
    let recorded: Vec<&String> = record["databases"].as_object().unwrap().keys().collect();
    assert_eq!(recorded, [&good.display().to_string()]);
}

#[test]
fn a_read_only_database_is_reported_and_left_alone() {
    if !certutil_here() {
        return;
    }
    let s = Corp::new();
    let home = s.dir().join("user");
    let db = new_db(&home.join(".pki/nssdb"));
    let own = common::valid_ca("cabundle test User's Own Root");
    user_adds(&db, "my own root", "C,,", &own.pem);
    let before = files(&db);
    s.add_corp();
    // Root writes through permission bits: a read-only bind mount in a
    // private mount namespace stops it, as a read-only file system would.
    let out = if cabundle::system::is_root() {
        if !require_that(on_path("unshare").is_some(), "unshare (util-linux)") {
            return;
        }
        let script = format!(
            "mount --bind {0} {0} && mount -o remount,bind,ro {0} && exec \"$0\" \"$@\"",
            db.display()
        );
        let mut cmd = scrubbed("unshare");
        for var in XDG {
            cmd.env_remove(var);
        }
        cmd.args(["-m", "--propagation", "private", "sh", "-c", &script])
            .arg(assert_cmd::cargo::cargo_bin("cabundle"))
            .args(["install", "--nss"])
            .env("CABUNDLE_HOME", &s.home)
            .env("HOME", &home)
            .output()
            .unwrap()
    } else {
        use std::os::unix::fs::PermissionsExt;
        let ro = |mode| {
            for (f, _) in &before {
                fs::set_permissions(f, fs::Permissions::from_mode(mode)).unwrap();
            }
            fs::set_permissions(&db, fs::Permissions::from_mode(mode | 0o100)).unwrap();
        };
        ro(0o400);
        let out = run_in(&s, &home, &["install", "--nss"]).output().unwrap();
        ro(0o600);
        out
    };
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stderr_of(&out).contains("certutil cannot change it"),
        "{}",
        both(&out)
    );
    assert_eq!(files(&db), before);
    // Nothing is recorded for it: uninstall has nothing to take out.
    let (_, err) = ok(&mut run_in(&s, &home, &["uninstall", "--nss"]));
    assert!(err.contains("nothing to take out"), "{err}");
    assert_eq!(
        listed(&db),
        [("my own root".to_string(), "C,,".to_string())]
    );
}

#[test]
fn without_certutil_install_nss_names_the_package_and_changes_nothing() {
    let s = Corp::new();
    let home = s.dir().join("user");
    fs::create_dir_all(&home).unwrap();
    s.add_corp();
    let empty = tempfile::tempdir().unwrap();
    let out = run_in(&s, &home, &["install", "--nss"])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stderr_of(&out).contains(
            "certutil not found: apt-get install libnss3-tools (Debian/Ubuntu), \
             dnf install nss-tools (Fedora/RHEL)"
        ),
        "{}",
        both(&out)
    );
    assert_eq!(fs::read_dir(&home).unwrap().count(), 0);
    assert!(!s.home.join("nss.json").exists());
}

#[test]
fn report_says_which_trusted_roots_are_expired_blocked_or_in_the_bundle() {
    if !certutil_here() {
        return;
    }
    let s = Corp::new();
    let home = s.dir().join("user");
    let db = new_db(&home.join(".pki/nssdb"));
    let expired = common::ca("cabundle test Expired Root", days(-800), days(-2));
    let blocked = common::valid_ca("cabundle test Blocked Root");
    let untrusted = common::valid_ca("cabundle test Intermediate Kept Untrusted");
    user_adds(&db, "expired root", "C,,", &expired.pem);
    user_adds(&db, "blocked root", "C,,", &blocked.pem);
    user_adds(&db, "an intermediate", ",,", &untrusted.pem);
    let blocked_sha = common::sha256_hex(&common::der(&blocked.pem));
    s.run(&["block", &blocked_sha]).assert().success();
    s.add_corp();
    ok(&mut run_in(&s, &home, &["install", "--nss"]));

    let paths = cabundle::state::Paths::in_one(&s.home);
    let dbs = cabundle::clients::nss::databases(&home);
    let found = dbs.iter().find(|d| d.path == db).unwrap();
    assert!(found.exists);
    let report = cabundle::clients::nss::report(&paths, found).unwrap();
    assert_eq!(report.skipped, None);
    let row = |nick: &str| {
        let e = report
            .entries
            .iter()
            .find(|e| e.listed.nickname == nick)
            .unwrap_or_else(|| panic!("{nick} in {report:#?}"));
        let c = &e.certificates[0];
        (
            e.trusted_for_servers,
            e.ours,
            c.expired,
            c.blocked,
            c.in_bundle,
        )
    };
    assert_eq!(row("expired root"), (true, false, true, false, Some(false)));
    assert_eq!(row("blocked root"), (true, false, false, true, Some(false)));
    assert_eq!(
        row("an intermediate"),
        (false, false, false, false, Some(false))
    );
    assert_eq!(
        row(&corp_nickname(&s)),
        (true, true, false, false, Some(true))
    );
    let stale: Vec<&str> = report
        .stale()
        .map(|(e, _)| e.listed.nickname.as_str())
        .collect();
    assert_eq!(stale.len(), 2, "{stale:?}");
    assert!(stale.contains(&"expired root") && stale.contains(&"blocked root"));
    // A database that cannot be read is reported, not an error.
    let corrupt = home.join(".mozilla/firefox/c.default");
    common::write(&corrupt.join("cert9.db"), b"not a database");
    let dbs = cabundle::clients::nss::databases(&home);
    let found = dbs.iter().find(|d| d.path == corrupt).unwrap();
    let report = cabundle::clients::nss::report(&paths, found).unwrap();
    assert!(
        matches!(
            report.skipped,
            Some(cabundle::clients::nss::Skip::Unreadable { .. })
        ),
        "{report:?}"
    );
}
