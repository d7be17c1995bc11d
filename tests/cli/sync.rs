//! `cabundle sync`: the real Debian store checked with openssl, fixture roots
//! for drop-ins, distrust, bad files and expiry, and deterministic output.

use crate::common;

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

#[test]
fn debian_store_and_mozilla_roots_all_valid_none_twice_checked_by_openssl() {
    let system = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if !require_that(
        system.exists(),
        "a Debian CA store (Debian: apt-get install ca-certificates)",
    ) {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    cabundle(home.path()).arg("sync").assert().success();
    let bundle = fs::read_to_string(home.path().join("ca-bundle.pem")).unwrap();

    // What should be there: every unexpired certificate of the inputs.
    let mut inputs = openssl_view(&fs::read_to_string(system).unwrap());
    inputs.extend(openssl_view(&fs::read_to_string(snapshot_pem()).unwrap()));
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
    sync_ok(&state, &root, &[]);
    let first = fs::read(&bundle).unwrap();
    let first_manifest = fs::read(state.join("manifest.json")).unwrap();
    sync_ok(&state, &root, &[]);
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
    let (root, drop) = debian_drop_in(dir.path());
    let pem_ca = valid_ca("Dropped PEM");
    let der_ca = valid_ca("Dropped DER");
    let nested = valid_ca("Nested");
    write(&drop.join("corp.crt"), &pem_ca.pem);
    write(&drop.join("der.crt"), der(&der_ca.pem));
    write(&drop.join("team/nested.crt"), &nested.pem);
    write(
        &drop.join("bad.crt"),
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    );
    let wrong_ext = valid_ca("Wrong extension");
    write(&drop.join("ignored.pem"), &wrong_ext.pem);

    let home = dir.path().join("home");
    let err = sync_ok(&home, &root, &[]);
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
    let fp = openssl_sha256(&ca.pem);
    assert_eq!(
        sources(record(&list_json(&home), &fp)),
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
    let Public {
        pem: victim, fp, ..
    } = public_root(0);
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[victim]);
    write(
        &root.join("usr/share/ca-certificates/mozilla/Victim.crt"),
        victim,
    );
    write(
        &root.join("etc/ca-certificates.conf"),
        "# admin says no\n!mozilla/Victim.crt\n",
    );
    let home = dir.path().join("home");
    let err = sync_ok(&home, &root, &[]);
    assert!(err.contains("left out"), "{err}");
    assert!(!file_fingerprints(&home.join("ca-bundle.pem")).contains(fp));
    let records = list_json(&home);
    let record = record(&records, fp);
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
    let bundle_text = trusted_certificate(&rejected.pem, "-addreject")
        + &trusted_certificate(&trusted.pem, "-addtrust");
    let root = debian_root(dir.path(), &[&bundle_text]);
    // The same rejected certificate, plain, in a drop-in: still out.
    write(
        &root.join("usr/local/share/ca-certificates/r.crt"),
        &rejected.pem,
    );
    let home = dir.path().join("home");
    sync_ok(&home, &root, &[]);
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
    let err = sync_ok(&home, &root, &[]);
    assert!(!err.contains("warning"), "{err}");
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

    let err = sync_ok(&home, &root, &[]);
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
    let err = sync_ok(&home, &root, &["--at", &at]);
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
    let s = Synced::new(&[&valid_ca("Listed").pem]);
    let home = &s.home;
    let out = cabundle(home).args(["list", "--json"]).output().unwrap();
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
    let text = cabundle(home).arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("CN=Listed"));
}

/// A file name is not a line of the bundle: a drop-in whose path spells a
/// whole PEM block (folders named with newlines and the block's base64,
/// whose `/` are the folder breaks) gives its label to the comment lines,
/// escaped, and the certificate it spells reaches no output. Python's ssl
/// loads exactly what `list` keeps.
#[test]
fn a_path_spelling_a_pem_block_injects_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (root, drop) = debian_drop_in(dir.path());
    // A certificate whose base64 has no run longer than a file name may
    // be; the name changes the fixed part of the encoding.
    let (injected, block) = (0..500)
        .find_map(|i| {
            let ca = valid_ca(&format!("Injected {i}"));
            let block = pem_blocks(&ca.pem)[0].clone();
            block
                .split('/')
                .all(|part| part.len() < 250)
                .then_some((ca, block))
        })
        .expect("a certificate that spells a path");
    let good = valid_ca("Good Anchor With A Strange Path");
    let path = drop.join(format!("x\n{block}z")).join("good.crt");
    write(&path, &good.pem);
    let home = dir.path().join("home");
    let err = sync_ok(&home, &root, &[]);
    let bundle = fs::read_to_string(home.join("ca-bundle.pem")).unwrap();
    let got = file_fingerprints(&home.join("ca-bundle.pem"));
    assert!(got.contains(&openssl_sha256(&good.pem)));
    assert!(
        !got.contains(&openssl_sha256(&injected.pem)),
        "injected:\n{bundle}"
    );
    assert!(
        bundle.contains("x\\n-----BEGIN CERTIFICATE-----\\n"),
        "{bundle}"
    );
    // Nor on the terminal: the escaped name, never a raw line break.
    assert!(!err.contains("\n-----BEGIN"));
    assert_bundle_is_what_list_keeps(&home);
}

/// certdata.txt labels are quoted strings with `\xNN` escapes, so one can
/// hold a newline and a whole PEM block. They are written into the cached
/// set's comment lines: escaped, the block stays a label.
#[test]
fn a_certdata_label_spelling_a_pem_block_injects_nothing() {
    use common::certdata::{Root, certdata};
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let injected = valid_ca("Injected Through A certdata Label");
    let label: String = format!("Label\n{}", pem_blocks(&injected.pem)[0])
        .bytes()
        .map(|b| match b {
            b'\n' | b'"' | b'\\' => format!("\\x{b:02x}"),
            _ => (b as char).to_string(),
        })
        .collect();
    let pems = snapshot_roots();
    let roots: Vec<Root> = pems
        .iter()
        .map(|pem| Root::delegator(pem, &label))
        .collect();
    sync_fetched(
        &home,
        &write(&dir.path().join("certdata.txt"), certdata(&roots)),
    );
    let fp = openssl_sha256(&injected.pem);
    for entry in fs::read_dir(home.join("cache")).unwrap().flatten() {
        let text = fs::read_to_string(entry.path()).unwrap();
        assert!(!file_fingerprints(&entry.path()).contains(&fp), "{text}");
    }
    assert!(!file_fingerprints(&home.join("ca-bundle.pem")).contains(&fp));
    assert_bundle_is_what_list_keeps(&home);
}

/// Validity includes notAfter (RFC 5280 4.1.2.5): as of 2030-01-01 (its
/// midnight), a root whose notAfter is that very second is kept, and one
/// that ended a second earlier is pruned.
#[test]
fn expiry_is_judged_to_the_second_with_not_after_included() {
    let dir = tempfile::tempdir().unwrap();
    let at = |s: i64| time::OffsetDateTime::from_unix_timestamp(s).unwrap();
    let midnight = 1_893_456_000; // 2030-01-01T00:00:00Z
    let last_second = ca(
        "Ends At Midnight",
        at(midnight - 86_400 * 400),
        at(midnight),
    );
    let a_second_before = ca(
        "Ends A Second Before",
        at(midnight - 86_400 * 400),
        at(midnight - 1),
    );
    let root = debian_root(dir.path(), &[&last_second.pem, &a_second_before.pem]);
    let home = dir.path().join("home");
    sync_ok(&home, &root, &["--at", "2030-01-01"]);
    let got = file_fingerprints(&home.join("ca-bundle.pem"));
    assert!(
        got.contains(&openssl_sha256(&last_second.pem)),
        "notAfter == now is valid"
    );
    assert!(!got.contains(&openssl_sha256(&a_second_before.pem)));
    let records = list_json(&home);
    let status = |pem: &str| record(&records, &openssl_sha256(pem))["status"].clone();
    assert_eq!(status(&last_second.pem), "kept");
    assert_eq!(status(&a_second_before.pem), "expired");
}

/// An X.509 v1 self-signed certificate is an old-style root: it has no
/// extensions, so it cannot say CA:TRUE, and still is one (OpenSSL and
/// Mozilla's set treat it so). `add` takes it without --allow-leaf, and a
/// fetched set holding one is accepted, and it reaches the bundle.
#[test]
fn a_v1_self_signed_root_is_a_ca() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("v1.key");
    let csr = dir.path().join("v1.csr");
    let v1 = dir.path().join("v1.pem");
    let run = |args: &[&str]| {
        let ok = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "openssl {args:?}");
    };
    run(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        key.to_str().unwrap(),
        "-subj",
        "/CN=Old Style V1 Root",
        "-out",
        csr.to_str().unwrap(),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-signkey",
        key.to_str().unwrap(),
        "-days",
        "3650",
        "-out",
        v1.to_str().unwrap(),
    ]);
    let pem = fs::read_to_string(&v1).unwrap();
    let (_, text) = openssl(&["x509", "-noout", "-text"], &pem);
    assert!(text.contains("Version: 1 (0x0)"), "{text}");

    let root = debian_root(dir.path(), &[]);
    let home = dir.path().join("home");
    cabundle(&home)
        .arg("add")
        .arg(&v1)
        .arg("--root")
        .arg(&root)
        .assert()
        .success();
    assert!(bundle_holds(&home.join("ca-bundle.pem"), &pem));

    // A certifi-style set: the snapshot's roots and the v1 root.
    let mut set = String::new();
    for block in snapshot_roots().iter().chain([&pem]) {
        set += &format!("\n# Label: \"root\"\n{block}");
    }
    let home2 = dir.path().join("home2");
    sync_fetched(&home2, &write(&dir.path().join("cacert.pem"), set));
    assert!(bundle_holds(&home2.join("ca-bundle.pem"), &pem));
    assert_bundle_is_what_list_keeps(&home2);
}

/// `cabundle ARGS` with no CABUNDLE_HOME, as a user whose default state
/// (XDG paths) is under `xdg`: as root, the default state would be the
/// machine's own /etc/cabundle, which no test may touch, so as root the
/// command runs as nobody (setpriv).
fn without_home(xdg: &Path, args: &[&std::ffi::OsStr]) -> Option<std::process::Output> {
    use std::os::unix::fs::PermissionsExt;
    let bin = assert_cmd::cargo::cargo_bin("cabundle");
    let mut cmd = if cabundle::system::is_root() {
        if !require("setpriv", "--version", "util-linux") {
            return None;
        }
        // nobody must reach its folders, and own the one it writes in.
        let mut up = xdg.parent();
        while let Some(dir) = up.filter(|d| d.starts_with(std::env::temp_dir())) {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
            up = dir.parent();
        }
        fs::create_dir_all(xdg).unwrap();
        std::os::unix::fs::chown(xdg, Some(65534), Some(65534)).unwrap();
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin);
        c
    } else {
        fs::create_dir_all(xdg).unwrap();
        std::process::Command::new(&bin)
    };
    cmd.args(args)
        .env_remove("CABUNDLE_HOME")
        .env("HOME", xdg.join("home"))
        .env("XDG_CONFIG_HOME", xdg.join("config"))
        .env("XDG_DATA_HOME", xdg.join("data"))
        .env("XDG_CACHE_HOME", xdg.join("cache"));
    scrub(&mut cmd);
    Some(cmd.output().unwrap())
}

/// `--root IMAGE` names another system, whose added CAs, blocked list and
/// bundle are its own: without CABUNDLE_HOME saying where they are, sync
/// and the commands that sync refuse (naming the image's own state folder)
/// and write nothing. With it, the image's state is used and written.
#[test]
fn a_root_other_than_this_system_needs_cabundle_home() {
    let dir = tempfile::tempdir().unwrap();
    let image = debian_root(dir.path(), &[&valid_ca("Image Root").pem]);
    let corp = write(&dir.path().join("corp.pem"), valid_ca("Image Corp CA").pem);
    let xdg = dir.path().join("xdg");
    let o = |s: &'static str| std::ffi::OsStr::new(s);
    for args in [
        vec![o("sync"), o("--root"), image.as_os_str()],
        vec![o("add"), corp.as_os_str(), o("--root"), image.as_os_str()],
        vec![o("block"), o("Image Root"), o("--root"), image.as_os_str()],
    ] {
        let Some(out) = without_home(&xdg, &args) else {
            return;
        };
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        let image_state = format!("CABUNDLE_HOME={}", image.join("etc/cabundle").display());
        assert!(err.contains(&image_state), "{args:?}: {err}");
        assert!(err.contains("nothing was written"), "{args:?}: {err}");
        assert!(snapshot(&xdg).is_empty(), "{args:?} wrote state");
        assert!(!image.join("etc/cabundle").exists(), "{args:?}");
    }
    // This system's root, however it is spelled, needs nothing more.
    let Some(out) = without_home(&xdg, &[o("sync"), o("--root"), o("/.")]) else {
        return;
    };
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(xdg.join("data/cabundle/ca-bundle.pem").is_file());

    // The image's own state, named.
    let state = image.join("etc/cabundle");
    for args in [&["add"][..], &["sync"]] {
        let mut cmd = cabundle(&state);
        cmd.args(args);
        if args == ["add"] {
            cmd.arg(&corp);
        }
        cmd.arg("--root").arg(&image).assert().success();
    }
    let bundle = fs::read_to_string(state.join("ca-bundle.pem")).unwrap();
    assert!(bundle.contains("CN=Image Root") && bundle.contains("CN=Image Corp CA"));
}

/// A sync far in the past finds nearly every root not valid yet: one line
/// says how many, names a few, and points at `list`, which marks each;
/// the date given is echoed as `--at`'s. Past ten of a kind, the same for
/// expired roots.
#[test]
fn a_far_date_is_summarised_not_listed_root_by_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[&valid_ca("Recent Root").pem]);
    let home = dir.path().join("home");
    let sync_at = |at: &str| {
        let out = cabundle(&home)
            .args(["sync", "--at", at, "--root"])
            .arg(&root)
            .output()
            .unwrap();
        let err = stderr_of(&out);
        assert!(out.status.success(), "{err}");
        err
    };

    let err = sync_at("1990-01-01");
    assert!(err.lines().count() < 10, "{err}");
    assert!(err.contains("as of 1990-01-01 (--at)"), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("kept certificates are not valid yet on 1990-01-01"))
        .unwrap_or_else(|| panic!("no summary line:\n{err}"));
    assert!(line.contains("more; `cabundle list` marks each"), "{line}");
    assert!(!err.contains("is not valid until"), "{err}");
    let list = cabundle(&home).arg("list").output().unwrap();
    let text = String::from_utf8_lossy(&list.stdout);
    let kept = text.lines().filter(|l| !l.starts_with("blocked")).count();
    assert!(kept > 100, "{text}");
    assert_eq!(text.matches("[not valid until ").count(), kept, "{text}");

    let err = sync_at("2100-01-01");
    assert!(err.lines().count() < 10, "{err}");
    assert!(
        err.lines()
            .any(|l| l.contains("pruned ") && l.contains("`cabundle list --all` lists each")),
        "{err}"
    );
    assert!(err.contains("wrote 0 certificates"), "{err}");

    // A few of a kind are still named one by one, and a date of the
    // user's own is never mistaken for today.
    let err = sync_at(&today());
    assert!(err.contains(&format!("as of {} (--at)", today())), "{err}");
    let out = cabundle(&home)
        .args(["sync", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(!stderr_of(&out).contains("(--at)"), "{}", stderr_of(&out));
}

fn today() -> String {
    let d = days(0).date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

/// The header of `list` counts, per source, what it lists: with
/// `--expiring`, only those; a certificate two sources carry counts for
/// both.
#[test]
fn list_counts_what_it_lists_per_source() {
    let dir = tempfile::tempdir().unwrap();
    let mozilla =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("bundles/mozilla-roots.pem"))
            .unwrap();
    let shared = pem_blocks(&mozilla)
        .into_iter()
        .find(|b| openssl_unexpired(b))
        .unwrap();
    let soon = ca("Soon Root", days(-100), days(5));
    let root = debian_root(dir.path(), &[&shared, &soon.pem, &valid_ca("Own Root").pem]);
    let home = dir.path().join("home");
    let corp = write(&dir.path().join("corp.pem"), valid_ca("Listed Corp CA").pem);
    let add = [
        "add",
        corp.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ];
    cabundle(&home).args(add).assert().success();
    let header = |args: &[&str]| {
        let out = cabundle(&home).arg("list").args(args).output().unwrap();
        assert!(out.status.success());
        let listed = String::from_utf8_lossy(&out.stdout).lines().count();
        (stderr_of(&out), listed)
    };
    let kept = list_json(&home)
        .iter()
        .filter(|r| r["status"] == "kept")
        .count();
    let moz = list_json(&home)
        .iter()
        .filter(|r| r["status"] == "kept" && r["sources"].to_string().contains("\"mozilla\""))
        .count();

    let (err, listed) = header(&[]);
    assert_eq!(listed, kept);
    assert!(
        err.contains(&format!(
            "{kept} certificates listed; of these, 3 from Debian GNU/Linux 12 (bookworm) (debian), \
             {moz} from Mozilla "
        )) && err.trim_end().ends_with(", 1 added"),
        "{err}"
    );
    let (err, listed) = header(&["--expiring", "30"]);
    assert_eq!(listed, 1);
    assert!(
        err.contains(
            "1 certificate listed (kept, expiring within 30 days); of these, 1 from Debian"
        ) && err.contains(", 0 from Mozilla ")
            && err.trim_end().ends_with(", 0 added"),
        "{err}"
    );
}
