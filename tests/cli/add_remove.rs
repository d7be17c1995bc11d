//! `cabundle add` and `cabundle remove`: a corp CA joins the full bundle and
//! leaves it again; anything unfit is refused with nothing changed.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

/// A synced state over a small Debian-shaped root.
fn fixture() -> Synced {
    Synced::new(&[&valid_ca("OS Root").pem])
}

/// Does the bundle let openssl verify `leaf`?
fn verifies(f: &Synced, leaf: &str) -> bool {
    openssl_verifies(&f.bundle(), leaf, f.dir())
}

#[test]
fn an_added_corp_ca_verifies_its_leaves_until_removed() {
    let f = fixture();
    let corp = valid_ca("Corp Inspection CA");
    let (leaf, _) = corp.leaf(days(-1), days(90));
    assert!(!verifies(&f, &leaf));

    let path = f.file("corp.pem", &corp.pem);
    let fp = openssl_sha256(&corp.pem);
    f.run(&["add", &path]).assert().success().stdout(
        contains("added corp:")
            .and(contains(fp.as_str()))
            .and(contains("CN=Corp Inspection CA")),
    );
    assert!(verifies(&f, &leaf));
    // It joined the full bundle: public roots are still there.
    let bundle = fs::read_to_string(f.bundle()).unwrap();
    assert!(pem_blocks(&bundle).len() > 100);
    assert!(bundle.contains("# Sources: added:corp"));

    f.run(&["remove", "corp"])
        .assert()
        .success()
        .stdout(contains("removed corp:"));
    assert!(!verifies(&f, &leaf));
    assert!(!fs::read_to_string(f.bundle()).unwrap().contains(&fp));
}

#[test]
fn remove_takes_a_cn_or_a_fingerprint_in_any_form() {
    let f = fixture();
    let a = valid_ca("Alpha Corp CA");
    let b = valid_ca("Beta Corp CA");
    let both = f.file("both.pem", format!("{}{}", a.pem, b.pem));
    f.run(&["add", "--name", "two", &both]).assert().success();
    let bundle = fs::read_to_string(f.bundle()).unwrap();
    assert!(bundle.contains("Alpha Corp CA") && bundle.contains("Beta Corp CA"));

    f.run(&["remove", "alpha corp ca"]).assert().success();
    let fp = openssl_sha256(&b.pem).to_uppercase();
    let colons: Vec<String> = fp
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    f.run(&["remove", &colons.join(":")]).assert().success();
    let bundle = fs::read_to_string(f.bundle()).unwrap();
    assert!(!bundle.contains("Corp CA"));
    assert!(!f.home.join("cas/two").exists());
}

#[test]
fn adding_twice_keeps_one_copy() {
    let f = fixture();
    let corp = valid_ca("Twice CA");
    let path = f.file("twice.pem", &corp.pem);
    f.run(&["add", &path]).assert().success();
    f.run(&["add", &path])
        .assert()
        .success()
        .stderr(contains("already added"));
    let bundle = fs::read_to_string(f.bundle()).unwrap();
    assert_eq!(bundle.matches("CN=Twice CA").count(), 1);
}

#[test]
fn der_files_and_leaves_with_allow_leaf_are_accepted() {
    let f = fixture();
    let corp = valid_ca("Der CA");
    let (ok, _) = openssl(
        &["x509", "-outform", "DER", "-out", &f.file("ca.der", "")],
        &corp.pem,
    );
    assert!(ok);
    f.run(&["add", &f.dir().join("in/ca.der").display().to_string()])
        .assert()
        .success();
    assert!(
        fs::read_to_string(f.bundle())
            .unwrap()
            .contains("CN=Der CA")
    );

    let (leaf, _) = corp.leaf(days(-1), days(30));
    let path = f.file("pinned.pem", &leaf);
    f.run(&["add", &path])
        .assert()
        .code(1)
        .stderr(contains("not a CA").and(contains("--allow-leaf")));
    f.run(&["add", "--allow-leaf", &path]).assert().success();
    assert!(
        fs::read_to_string(f.bundle())
            .unwrap()
            .contains("CN=localhost")
    );
}

/// Each unfit file: exit 1, the file named, and not one byte of state changed.
#[test]
fn unfit_files_are_refused_and_change_nothing() {
    let f = fixture();
    let good = f.file("good.pem", valid_ca("Good CA").pem);
    let corp = valid_ca("Issuer");
    let (leaf, key) = corp.leaf(days(-1), days(30));
    let expired = ca("Expired CA", days(-400), days(-2));
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "garbage.pem",
            f.file("garbage.pem", "this is not a certificate\n"),
            "neither PEM nor a DER certificate",
        ),
        (
            "binary.der",
            f.file("binary.der", [0x30u8, 0x82, 0x01, 0x00, 0xde, 0xad]),
            "not an X.509 certificate",
        ),
        ("empty.pem", f.file("empty.pem", ""), "no certificate"),
        ("key.pem", f.file("key.pem", &key), "not a certificate"),
        (
            "expired.pem",
            f.file("expired.pem", &expired.pem),
            "expired",
        ),
        ("leaf.pem", f.file("leaf.pem", &leaf), "not a CA"),
        (
            "truncated.pem",
            f.file("truncated.pem", &corp.pem[..corp.pem.len() / 2]),
            "truncated",
        ),
        (
            "missing.pem",
            f.dir().join("in/missing.pem").display().to_string(),
            "No such file",
        ),
        (
            "/in",
            f.dir().join("in").display().to_string(),
            "not a regular file",
        ),
    ];
    let before = snapshot(&f.home);
    for (name, path, why) in &cases {
        // A good file given alongside does not get in either.
        f.run(&["add", &good, path])
            .assert()
            .code(1)
            .stdout("")
            .stderr(
                contains(*name)
                    .and(contains(*why))
                    .and(contains("nothing was changed")),
            );
        assert_eq!(
            before,
            snapshot(&f.home),
            "state changed after refusing {name}"
        );
    }
}

#[test]
fn unknown_names_are_errors_that_change_nothing() {
    let f = fixture();
    let path = f.file("corp.pem", valid_ca("Kept CA").pem);
    f.run(&["add", &path]).assert().success();
    let before = snapshot(&f.home);
    f.run(&["remove", "corp", "no-such-ca"])
        .assert()
        .code(1)
        .stderr(contains("no-such-ca"));
    f.run(&["remove", &"ab".repeat(32)]).assert().code(1);
    assert_eq!(before, snapshot(&f.home));
    f.run(&["add", "--name", "../evil", &path])
        .assert()
        .code(1)
        .stderr(contains("--name"));
}

#[test]
fn a_failed_resync_takes_the_new_ca_out_again() {
    let f = fixture();
    let before = snapshot(&f.home);
    // The bundle's path is now a folder, so writing the bundle fails.
    let bundle = f.bundle();
    fs::remove_file(&bundle).unwrap();
    fs::create_dir(&bundle).unwrap();
    let path = f.file("corp.pem", valid_ca("Unlucky CA").pem);
    f.run(&["add", &path])
        .assert()
        .code(1)
        .stderr(contains("ca-bundle.pem"));
    assert!(list_cas(&f.home.join("cas")).is_empty());
    fs::remove_dir(&bundle).unwrap();
    f.run(&["sync"]).assert().success();
    assert_eq!(before, snapshot(&f.home));
}

fn list_cas(dir: &Path) -> Vec<PathBuf> {
    snapshot(dir).into_iter().map(|(p, _)| p).collect()
}

#[test]
fn concurrent_adds_lose_no_ca() {
    let f = fixture();
    let cas: Vec<Ca> = (0..8)
        .map(|i| valid_ca(&format!("Parallel CA {i}")))
        .collect();
    let bin = assert_cmd::cargo::cargo_bin("cabundle");
    let children: Vec<_> = cas
        .iter()
        .enumerate()
        .map(|(i, ca)| {
            let path = f.file(&format!("p{i}.pem"), &ca.pem);
            std::process::Command::new(&bin)
                .args(["add", &path, "--root"])
                .arg(&f.root)
                .env("CABUNDLE_HOME", &f.home)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let bundle = fs::read_to_string(f.bundle()).unwrap();
    for i in 0..8 {
        assert!(
            bundle.contains(&format!("CN=Parallel CA {i}")),
            "Parallel CA {i} lost"
        );
    }
}

/// Links in `cas/`, to a folder or to a file elsewhere: sync reports and
/// skips them (never trusting what they point at), `remove` cannot reach
/// through them to delete a target, and `add` will not write through one.
#[test]
fn links_in_the_store_are_reported_and_skipped_never_followed() {
    let f = fixture();
    let cas = f.home.join("cas");
    let outside = f.dir().join("outside");
    let folder_ca = valid_ca("Linked Folder CA");
    let file_ca = valid_ca("Linked File CA");
    let in_folder = write(&outside.join("folder/ca.pem"), &folder_ca.pem);
    let target = write(&outside.join("file.pem"), &file_ca.pem);
    fs::create_dir_all(cas.join("corp")).unwrap();
    std::os::unix::fs::symlink(outside.join("folder"), cas.join("linked")).unwrap();
    std::os::unix::fs::symlink(&target, cas.join("corp/link.pem")).unwrap();

    let out = f.run(&["sync"]).output().unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    for link in [cas.join("linked"), cas.join("corp/link.pem")] {
        let line = err
            .lines()
            .find(|l| l.contains(link.to_str().unwrap()))
            .unwrap_or_else(|| panic!("{} not reported:\n{err}", link.display()));
        assert!(line.contains("symbolic link"), "{line}");
    }
    for ca in [&folder_ca, &file_ca] {
        assert!(
            !bundle_holds(&f.bundle(), &ca.pem),
            "a linked CA was trusted"
        );
    }

    let folder_fp = openssl_sha256(&folder_ca.pem);
    let file_fp = openssl_sha256(&file_ca.pem);
    for what in ["linked", &folder_fp, &file_fp, "Linked File CA", "corp"] {
        f.run(&["remove", what])
            .assert()
            .code(1)
            .stderr(contains("no added CA matches"));
    }
    assert_eq!(fs::read_to_string(&in_folder).unwrap(), folder_ca.pem);
    assert_eq!(fs::read_to_string(&target).unwrap(), file_ca.pem);
    assert!(
        fs::symlink_metadata(cas.join("linked"))
            .unwrap()
            .is_symlink()
    );

    let corp = f.file("corp.pem", valid_ca("Would Go Through").pem);
    f.run(&["add", "--name", "linked", &corp])
        .assert()
        .code(1)
        .stderr(contains(cas.join("linked").to_str().unwrap()).and(contains("symbolic link")));
    let names: Vec<_> = fs::read_dir(outside.join("folder"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["ca.pem"], "add wrote through the link");
}

/// `remove` takes what `list` shows: the first 16 hex digits, or any
/// unique prefix of 8 or more. Two added CAs with one CN are listed, not
/// guessed between, and nothing changes.
#[test]
fn remove_takes_the_id_list_shows_and_lists_what_is_ambiguous() {
    let f = fixture();
    let (a, b) = (valid_ca("Same Name CA"), valid_ca("Same Name CA"));
    f.run(&["add", "--name", "a", &f.file("a.pem", &a.pem)])
        .assert()
        .success();
    f.run(&["add", "--name", "b", &f.file("b.pem", &b.pem)])
        .assert()
        .success();
    let before = snapshot(&f.home);
    let out = f.run(&["remove", "same name ca"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for (ca, name) in [(&a, "a"), (&b, "b")] {
        let id = &openssl_sha256(&ca.pem)[..16];
        assert!(
            err.contains(&format!(
                "{id}  CN=Same Name CA, O=cabundle tests  (added as {name})"
            )),
            "{err}"
        );
    }
    assert_eq!(before, snapshot(&f.home));

    let list = cabundle(&f.home).arg("list").output().unwrap();
    let shown = String::from_utf8_lossy(&list.stdout)
        .lines()
        .find(|l| l.contains("(added:a)"))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .unwrap();
    f.run(&["remove", &shown])
        .assert()
        .success()
        .stdout(contains("removed a: CN=Same Name CA"));
    let fp = openssl_sha256(&b.pem);
    f.run(&["remove", &fp[..8]])
        .assert()
        .success()
        .stdout(contains("removed b: CN=Same Name CA"));
    assert!(!bundle_holds(&f.bundle(), &a.pem) && !bundle_holds(&f.bundle(), &b.pem));
}

/// What a refusal says is about the file, in words: no parser's Debug
/// text (`Der(UnexpectedTag { .. })`, `NomError(Eof)`).
#[test]
fn refusals_carry_no_parser_internals() {
    let f = fixture();
    let corp = valid_ca("Cut Short CA");
    let whole = f.file("whole.der", "");
    assert!(openssl(&["x509", "-outform", "DER", "-out", &whole], &corp.pem).0);
    let der = fs::read(&whole).unwrap();
    let cases = [
        // A SEQUENCE of 256 bytes that holds two.
        (
            "claims.der",
            vec![0x30u8, 0x82, 0x01, 0x00, 0xde, 0xad],
            "ends before",
        ),
        ("short.der", der[..der.len() / 2].to_vec(), "ends before"),
        // A whole certificate whose version is a string, not an INTEGER.
        ("tag.der", retagged(&der), "invalid version"),
    ];
    for (name, bytes, why) in cases {
        let path = f.file(name, bytes);
        let out = f.run(&["add", &path]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(name) && err.contains(why), "{name}: {err}");
        for internal in [
            "Der(",
            "Nom",
            "Parsing Error",
            "UnexpectedTag",
            "Incomplete",
        ] {
            assert!(!err.contains(internal), "{name}: {err}");
        }
    }
}

/// `der` with the tag of its version field (the first `[0] INTEGER` in the
/// TBSCertificate) changed from INTEGER to OCTET STRING.
fn retagged(der: &[u8]) -> Vec<u8> {
    let mut out = der.to_vec();
    let at = out
        .windows(3)
        .position(|w| w == [0xa0, 0x03, 0x02])
        .expect("a v3 certificate");
    out[at + 2] = 0x04;
    out
}
