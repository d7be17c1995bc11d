//! Hostile input: every case in tests/data/bad, plus large and special ones
//! made here, through `add` (refused, file named, nothing changed) and
//! through an OS drop-in folder (reported by path, skipped, the good anchor
//! kept). No panic, no hang.

use crate::common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

use common::*;
use rcgen::{BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, KeyPair};

/// `cabundle ARGS` in `home`, within the deadline: a hang fails the test
/// instead of CI.
fn run(home: &Path, args: &[&std::ffi::OsStr]) -> Output {
    within_deadline(cabundle(home).args(args))
}

/// The cases made at test time: too large to commit, or not files at all.
fn generated(dir: &Path) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    let mut out = Vec::new();
    let mut add = |name: &str, data: Vec<u8>| {
        out.push(write(&dir.join(name), data));
    };
    add("fifty-mib.pem", vec![b'A'; 50 << 20]);
    add(
        "long-line.pem",
        [
            b"-----BEGIN CERTIFICATE-----\n".to_vec(),
            vec![b'Q'; 1 << 20],
            b"\n-----END CERTIFICATE-----\n".to_vec(),
        ]
        .concat(),
    );
    // DER nested 100k SEQUENCEs deep.
    let mut deep = Vec::new();
    for _ in 0..100_000 {
        let n = deep.len();
        let mut head = vec![0x30];
        match n {
            0..=127 => head.push(n as u8),
            128..=255 => head.extend([0x81, n as u8]),
            256..=65535 => head.extend([0x82, (n >> 8) as u8, n as u8]),
            _ => head.extend([0x83, (n >> 16) as u8, (n >> 8) as u8, n as u8]),
        }
        head.extend(deep);
        deep = head;
        if deep.len() > 4_000_000 {
            break;
        }
    }
    add("deeply-nested.der", deep);
    // A self-signed CA carrying a 1 MiB extension.
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "Huge Extension CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mut blob = vec![0x04, 0x83, 0x10, 0x00, 0x00];
    blob.extend(vec![0xaa; 1 << 20]);
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 99999, 1],
        blob,
    )];
    add(
        "huge-extension.pem",
        p.self_signed(&key).unwrap().pem().into_bytes(),
    );
    // Ten thousand empty blocks.
    add(
        "ten-thousand-blocks.pem",
        "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
            .repeat(10_000)
            .into_bytes(),
    );
    // Not files.
    symlink(dir.join("loop-b.pem"), dir.join("loop-a.pem")).unwrap();
    symlink(dir.join("loop-a.pem"), dir.join("loop-b.pem")).unwrap();
    out.push(dir.join("loop-a.pem"));
    mkfifo(&dir.join("fifo.pem"));
    out.push(dir.join("fifo.pem"));
    symlink("/dev/zero", dir.join("zero.pem")).unwrap();
    out.push(dir.join("zero.pem"));
    fs::create_dir(dir.join("folder.pem")).unwrap();
    out.push(dir.join("folder.pem"));
    out
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e != "md"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_corpus_has_at_least_thirty_cases() {
    let dir = tempfile::tempdir().unwrap();
    let n = corpus().len() + generated(dir.path()).len();
    assert!(n >= 30, "{n} cases");
}

#[test]
fn add_refuses_each_case_by_name_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = debian_root(dir.path(), &[]);
    let home = dir.path().join("home");
    let r = root.as_os_str();
    let s = run(&home, &["sync".as_ref(), "--root".as_ref(), r]);
    assert!(s.status.success());
    let before = snapshot(&home);
    let mut cases = corpus();
    cases.extend(generated(&dir.path().join("generated")));
    for case in &cases {
        let out = run(
            &home,
            &["add".as_ref(), case.as_os_str(), "--root".as_ref(), r],
        );
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", case.display());
        assert!(!err.contains("panicked"), "{}: {err}", case.display());
        let name = case.file_name().unwrap().to_string_lossy();
        assert!(
            err.contains(name.as_ref()) && err.contains("nothing was changed"),
            "{}: {err}",
            case.display()
        );
        assert!(out.stdout.is_empty());
        assert_eq!(
            before,
            snapshot(&home),
            "{} changed the state",
            case.display()
        );
    }
}

#[test]
fn sync_reports_each_case_in_a_drop_in_folder_and_keeps_the_good_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let (root, drop) = debian_drop_in(dir.path());
    let good = valid_ca("Good Anchor Among Hostile Ones");
    write(&drop.join("good.crt"), &good.pem);
    let mut names = Vec::new();
    for case in corpus() {
        let name = format!("{}.crt", case.file_name().unwrap().to_string_lossy());
        fs::copy(&case, drop.join(&name)).unwrap();
        names.push(name);
    }
    // The generated ones, made under the drop-in folder with .crt names.
    let made = generated(&dir.path().join("made"));
    for path in made {
        let name = format!("{}.crt", path.file_name().unwrap().to_string_lossy());
        fs::rename(&path, drop.join(&name)).unwrap();
        names.push(name);
    }
    // Renamed links now point at the old names; point them at each other again.
    for (a, b) in [
        ("loop-a.pem.crt", "loop-b.pem.crt"),
        ("loop-b.pem.crt", "loop-a.pem.crt"),
    ] {
        let _ = fs::remove_file(drop.join(a));
        symlink(drop.join(b), drop.join(a)).unwrap();
    }
    let home = dir.path().join("home");
    let started = Instant::now();
    let out = run(
        &home,
        &["sync".as_ref(), "--root".as_ref(), root.as_os_str()],
    );
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("panicked"));
    eprintln!(
        "sync over {} hostile files took {:?}",
        names.len(),
        started.elapsed()
    );
    for name in names.iter().filter(|n| *n != "folder.pem.crt") {
        assert!(
            err.lines()
                .any(|l| l.contains("warning:") && l.contains(name.as_str())),
            "{name} not reported:\n{err}"
        );
    }
    assert!(bundle_holds(&home.join("ca-bundle.pem"), &good.pem));
    assert_bundle_is_what_list_keeps(&home);
}

/// Every case as an entry of a p11-kit blocklist (a Fedora tree): a
/// distrust that cannot be read cannot be applied, so the sync stops, names
/// the file and leaves the bundle as it was. A bare public key is the one
/// case that is a readable distrust (a p11-kit public-key object): applied,
/// and the sync goes on.
#[test]
fn each_case_in_a_blocklist_stops_the_sync_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = corpus();
    cases.extend(
        generated(&dir.path().join("generated"))
            .into_iter()
            .filter(|p| !p.ends_with("folder.pem")),
    );
    for (i, case) in cases.iter().enumerate() {
        let root = dir.path().join(format!("root-{i}"));
        write(&root.join("etc/os-release"), "ID=fedora\n");
        let blocklist = root.join("etc/pki/ca-trust/source/blocklist");
        fs::create_dir_all(&blocklist).unwrap();
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let entry = blocklist.join(&name);
        if fs::symlink_metadata(case).is_ok_and(|m| m.file_type().is_symlink()) {
            symlink(fs::read_link(case).unwrap(), &entry).unwrap();
        } else if fs::metadata(case).is_ok_and(|m| m.file_type().is_file()) {
            fs::copy(case, &entry).unwrap();
        } else {
            // The FIFO: a new one in place.
            mkfifo(&entry);
        }
        let home = dir.path().join(format!("home-{i}"));
        let r = root.as_os_str();
        // A bundle from before the entry existed.
        fs::rename(&entry, dir.path().join("aside")).unwrap();
        assert!(
            run(&home, &["sync".as_ref(), "--root".as_ref(), r])
                .status
                .success()
        );
        fs::rename(dir.path().join("aside"), &entry).unwrap();
        let before = snapshot(&home);

        let out = run(&home, &["sync".as_ref(), "--root".as_ref(), r]);
        let err = stderr_of(&out);
        assert!(!err.contains("panicked"), "{name}: {err}");
        if name == "p11kit-public-key-object.p11-kit" {
            assert!(out.status.success(), "{name}: {err}");
            continue;
        }
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(
            err.contains("a distrust cannot be applied") && err.contains(&name),
            "{name}: {err}"
        );
        assert_eq!(before, snapshot(&home), "{name}: the state changed");
    }
}
