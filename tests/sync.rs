//! `cabundle sync`: the real Debian store checked with openssl, fixture roots
//! for drop-ins, distrust, bad files and expiry, and deterministic output.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use common::*;
use serde_json::Value;

/// fingerprint -> unexpired?, by openssl, for every certificate in `text`.
fn openssl_view(text: &str) -> BTreeMap<String, bool> {
    pem_blocks(text)
        .iter()
        .map(|b| openssl_sha256_unexpired(b))
        .collect()
}

fn list_json(home: &Path) -> Vec<Value> {
    let out = cabundle(home)
        .args(["list", "--json", "--all"])
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn debian_store_and_mozilla_roots_all_valid_none_twice_checked_by_openssl() {
    let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if !system.exists() {
        eprintln!("skipped: no Debian CA store on this machine");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    cabundle(home.path()).arg("sync").assert().success();
    let bundle = fs::read_to_string(home.path().join("ca-bundle.pem")).unwrap();

    // What should be there: every unexpired certificate of the inputs.
    let mut inputs = openssl_view(&fs::read_to_string(system).unwrap());
    let snapshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("bundles/mozilla-roots.pem");
    inputs.extend(openssl_view(&fs::read_to_string(snapshot).unwrap()));
    let mut anchors = vec![Path::new("/usr/local/share/ca-certificates").to_path_buf()];
    while let Some(dir) = anchors.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                anchors.push(path);
            } else if path.extension().is_some_and(|e| e == "crt") {
                let text = fs::read_to_string(&path).unwrap_or_default();
                inputs.extend(openssl_view(&text));
            }
        }
    }
    let expected: BTreeSet<_> = inputs
        .iter()
        .filter(|(_, ok)| **ok)
        .map(|(f, _)| f.clone())
        .collect();
    let expired: BTreeSet<_> = inputs
        .iter()
        .filter(|(_, ok)| !**ok)
        .map(|(f, _)| f.clone())
        .collect();

    let blocks = pem_blocks(&bundle);
    let view: Vec<(String, bool)> = blocks.iter().map(|b| openssl_sha256_unexpired(b)).collect();
    let got: Vec<String> = view.iter().map(|(f, _)| f.clone()).collect();
    let got_set: BTreeSet<_> = got.iter().cloned().collect();
    assert_eq!(got.len(), got_set.len(), "a certificate appears twice");
    for (fp, unexpired) in &view {
        assert!(unexpired, "expired certificate in the bundle: {fp}");
    }
    assert!(got_set.is_disjoint(&expired));
    // This machine's ca-certificates.conf deselects nothing (checked below),
    // so the bundle is exactly the unexpired inputs.
    let conf = fs::read_to_string("/etc/ca-certificates.conf").unwrap_or_default();
    if conf.lines().any(|l| l.starts_with('!')) {
        assert!(got_set.is_subset(&expected));
    } else {
        assert_eq!(got_set, expected);
    }
    eprintln!(
        "{} certificates in, {} expired pruned, {} in the bundle",
        inputs.len(),
        expired.len(),
        got.len()
    );
}

#[test]
fn two_syncs_give_byte_identical_bundles() {
    let home = tempfile::tempdir().unwrap();
    let a = valid_ca("Fixture A");
    let b = valid_ca("Fixture B");
    let root = debian_root(home.path(), &[&a.pem, &b.pem]);
    write(
        &root.join("usr/local/share/ca-certificates/c.crt"),
        valid_ca("Fixture C").pem,
    );
    let bundle = home.path().join("state/ca-bundle.pem");
    let state = home.path().join("state");
    cabundle(&state)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    let first = fs::read(&bundle).unwrap();
    let first_manifest = fs::read(state.join("manifest.json")).unwrap();
    cabundle(&state)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    assert_eq!(first, fs::read(&bundle).unwrap());
    assert_eq!(
        first_manifest,
        fs::read(state.join("manifest.json")).unwrap()
    );
    // The same on the machine's own store, when it has one.
    let other = tempfile::tempdir().unwrap();
    cabundle(other.path()).arg("sync").assert().success();
    let one = fs::read(other.path().join("ca-bundle.pem")).unwrap();
    cabundle(other.path()).arg("sync").assert().success();
    assert_eq!(one, fs::read(other.path().join("ca-bundle.pem")).unwrap());
}

#[test]
fn drop_in_anchors_count_before_the_updater_runs_and_bad_files_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let drop = root.join("usr/local/share/ca-certificates");
    let pem_ca = valid_ca("Dropped PEM");
    let der_ca = valid_ca("Dropped DER");
    let nested = valid_ca("Nested");
    write(&drop.join("corp.crt"), &pem_ca.pem);
    let der = pem_blocks(&der_ca.pem)[0].clone();
    let (_, der_bytes) = {
        let out = assert_cmd::Command::new("openssl")
            .args(["x509", "-outform", "DER"])
            .write_stdin(der)
            .output()
            .unwrap();
        (out.status.success(), out.stdout)
    };
    write(&drop.join("der.crt"), der_bytes);
    write(&drop.join("team/nested.crt"), &nested.pem);
    write(
        &drop.join("bad.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    );
    let wrong_ext = valid_ca("Wrong extension");
    write(&drop.join("ignored.pem"), &wrong_ext.pem);

    let home = dir.path().join("home");
    let out = cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("/usr/local/share/ca-certificates/bad.crt"),
        "{err}"
    );
    assert!(err.contains("bad base64"), "{err}");
    assert!(
        err.contains("ignored.pem") && err.contains("*.crt"),
        "{err}"
    );

    // Debian's updater appends each file as it is, so a DER drop-in is
    // never trusted: it is reported, with how to convert it.
    assert!(
        err.contains("der.crt: ignored: a DER certificate") && err.contains("-inform der"),
        "{err}"
    );

    let bundle = fs::read_to_string(home.join("ca-bundle.pem")).unwrap();
    let got = file_fingerprints(&home.join("ca-bundle.pem"));
    for ca in [&pem_ca, &nested] {
        assert!(got.contains(&openssl_sha256(&ca.pem)));
    }
    assert!(!got.contains(&openssl_sha256(&der_ca.pem)));
    assert!(!got.contains(&openssl_sha256(&wrong_ext.pem)));
    assert!(!bundle.contains("Wrong extension"));
}

#[test]
fn one_certificate_in_three_places_is_one_entry_naming_all_three() {
    let dir = tempfile::tempdir().unwrap();
    let ca = valid_ca("Everywhere");
    let root = debian_root(dir.path(), &[&ca.pem]);
    write(&root.join("usr/local/share/ca-certificates/e.crt"), &ca.pem);
    let home = dir.path().join("home");
    let corp = write(&dir.path().join("everywhere.pem"), &ca.pem);
    cabundle(&home)
        .args(["add"])
        .arg(&corp)
        .arg("--root")
        .arg(&root)
        .assert()
        .success();
    let records = list_json(&home);
    let fp = openssl_sha256(&ca.pem);
    let mine: Vec<_> = records
        .iter()
        .filter(|r| r["sha256"] == fp.as_str())
        .collect();
    assert_eq!(mine.len(), 1);
    let sources: Vec<&str> = mine[0]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            "added:everywhere",
            "os:/etc/ssl/certs/ca-certificates.crt",
            "os:/usr/local/share/ca-certificates/e.crt"
        ]
    );
    let bundle = fs::read_to_string(home.join("ca-bundle.pem")).unwrap();
    assert_eq!(bundle.matches(&fp).count(), 1);
}

#[test]
fn a_deselected_root_is_left_out_even_from_the_mozilla_snapshot() {
    let snapshot =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("bundles/mozilla-roots.pem"))
            .unwrap();
    let victim = pem_blocks(&snapshot)
        .into_iter()
        .find(|b| openssl_unexpired(b))
        .unwrap();
    let fp = openssl_sha256(&victim);
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[&victim]);
    write(
        &root.join("usr/share/ca-certificates/mozilla/Victim.crt"),
        &victim,
    );
    write(
        &root.join("etc/ca-certificates.conf"),
        "# admin says no\n!mozilla/Victim.crt\n",
    );
    let home = dir.path().join("home");
    let out = cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(stderr_of(&out).contains("left out"), "{}", stderr_of(&out));
    let bundle = fs::read_to_string(home.join("ca-bundle.pem")).unwrap();
    assert!(!pem_blocks(&bundle).iter().any(|b| openssl_sha256(b) == fp));
    let record = list_json(&home)
        .into_iter()
        .find(|r| r["sha256"] == fp.as_str())
        .unwrap();
    assert_eq!(record["status"], "distrusted");
    assert!(
        record["reason"]
            .as_str()
            .unwrap()
            .contains("ca-certificates.conf")
    );
}

#[test]
fn trusted_certificate_aux_data_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let rejected = valid_ca("Rejected For Servers");
    let trusted = valid_ca("Trusted For Servers");
    let aux = |pem: &str, flag: &str| {
        let (ok, out) = openssl(&["x509", flag, "serverAuth", "-trustout"], pem);
        assert!(ok);
        out
    };
    let bundle_text = aux(&rejected.pem, "-addreject") + &aux(&trusted.pem, "-addtrust");
    assert!(bundle_text.contains("BEGIN TRUSTED CERTIFICATE"));
    let root = debian_root(dir.path(), &[&bundle_text]);
    // The same rejected certificate, plain, in a drop-in: still out.
    write(
        &root.join("usr/local/share/ca-certificates/r.crt"),
        &rejected.pem,
    );
    let home = dir.path().join("home");
    cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    let got = file_fingerprints(&home.join("ca-bundle.pem"));
    assert!(got.contains(&openssl_sha256(&trusted.pem)));
    assert!(!got.contains(&openssl_sha256(&rejected.pem)));
}

#[test]
fn pem_in_all_its_dialects_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let cas: Vec<Ca> = (0..4).map(|i| valid_ca(&format!("Dialect {i}"))).collect();
    let crlf = cas[0].pem.replace('\n', "\r\n");
    let x509 = cas[1]
        .pem
        .replace("BEGIN CERTIFICATE", "BEGIN X509 CERTIFICATE")
        .replace("END CERTIFICATE", "END X509 CERTIFICATE");
    let text = format!(
        "\u{feff}# a comment\n{crlf}\nsome text between blocks\n{x509}\n# more\n{}{}",
        cas[2].pem, cas[3].pem
    );
    let root = debian_root(dir.path(), &[&text]);
    let home = dir.path().join("home");
    let out = cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!stderr_of(&out).contains("warning"), "{}", stderr_of(&out));
    let got = file_fingerprints(&home.join("ca-bundle.pem"));
    for ca in &cas {
        assert!(got.contains(&openssl_sha256(&ca.pem)));
    }
}

#[test]
fn expired_roots_are_pruned_as_of_at_and_future_ones_kept_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let short = ca("Short Lived Root", days(-30), days(100));
    let future = ca("Future Root", days(10), days(1000));
    let root = debian_root(dir.path(), &[&short.pem, &future.pem]);
    let home = dir.path().join("home");

    let out = cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success());
    assert!(err.contains("Future Root is not valid until"), "{err}");
    assert!(
        fs::read_to_string(home.join("ca-bundle.pem"))
            .unwrap()
            .contains("Short Lived Root")
    );

    let later = days(200).date();
    let at = format!(
        "{:04}-{:02}-{:02}",
        later.year(),
        later.month() as u8,
        later.day()
    );
    let out = cabundle(&home)
        .args(["sync", "--at", &at, "--root"])
        .arg(&root)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success());
    assert!(err.contains("pruned: Short Lived Root (expired"), "{err}");
    let bundle = fs::read_to_string(home.join("ca-bundle.pem")).unwrap();
    assert!(!bundle.contains("Short Lived Root"));
    assert!(bundle.contains("Future Root"));
    let rec = list_json(&home)
        .into_iter()
        .find(|r| r["subject"].as_str().unwrap().contains("Short Lived"))
        .unwrap();
    assert_eq!(rec["status"], "expired");
}

#[test]
fn a_root_with_no_os_store_warns_and_still_writes_mozilla_roots() {
    let dir = tempfile::tempdir().unwrap();
    let scratch = dir.path().join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    let home = dir.path().join("home");
    let out = cabundle(&home)
        .args(["sync", "--root"])
        .arg(&scratch)
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("warning: no OS trust store found"), "{err}");
    assert!(out.stdout.is_empty());
    let bundle = fs::read_to_string(home.join("ca-bundle.pem")).unwrap();
    assert!(pem_blocks(&bundle).len() > 100);
    assert!(
        bundle
            .lines()
            .filter(|l| l.starts_with("# Sources:"))
            .all(|l| l == "# Sources: mozilla")
    );
}

#[test]
fn list_json_has_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[&valid_ca("Listed").pem]);
    let home = dir.path().join("home");
    cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .assert()
        .success();
    let out = cabundle(&home).args(["list", "--json"]).output().unwrap();
    let records: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(records.len() > 100);
    for r in &records {
        let sha = r["sha256"].as_str().unwrap();
        assert!(
            sha.len() == 64
                && sha
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert!(r["subject"].is_string() && r["not_after"].is_string());
        assert!(!r["sources"].as_array().unwrap().is_empty());
        assert_eq!(r["status"], "kept");
    }
    let text = cabundle(&home).arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("CN=Listed"));
}
