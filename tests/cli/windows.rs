//! The Windows host's roots under WSL, without Windows: `sync
//! --windows-host` against a stand-in `powershell.exe` on PATH that replays
//! the fixed script's output format with certificates made here, and
//! `--windows-export` / `--windows-disallowed` on exports built here in
//! every form Windows writes (.sst to the published layout, .p7b made by
//! OpenSSL, folders of .cer). Everything is written in temp folders.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

const LM_ROOT: &str = r"LocalMachine\Root";
const CU_ROOT: &str = r"CurrentUser\Root";
const LM_CA: &str = r"LocalMachine\CA";
const LM_DISALLOWED: &str = r"LocalMachine\Disallowed";
const STORES: [&str; 6] = [
    LM_ROOT,
    CU_ROOT,
    LM_CA,
    r"CurrentUser\CA",
    LM_DISALLOWED,
    r"CurrentUser\Disallowed",
];

/// Where Windows keeps powershell.exe under WSL: the tests that need it
/// absent cannot run on a WSL machine with interop.
const WINDOWS_POWERSHELL: &str = "/mnt/c/Windows/System32/WindowsPowerShell/v1.0/powershell.exe";

/// What the fixed script prints for stores holding these certificates
/// (PEM): each certificate's line, then each store's end line.
fn listing(stores: &[(&str, &[&str])]) -> String {
    let mut out = String::new();
    for store in STORES {
        let certs: &[&str] = stores
            .iter()
            .find(|(s, _)| *s == store)
            .map_or(&[], |(_, c)| c);
        for pem in certs {
            out += &format!("{store}\t{}\r\n", data_encoding::BASE64.encode(&der(pem)));
        }
        out += &format!("#end\t{store}\t{}\r\n", certs.len());
    }
    out
}

/// A stand-in powershell.exe in `dir/bin` that records its arguments in
/// `dir/bin/args` and prints `dir/bin/listing`; the folder, for PATH.
fn stand_in(dir: &Path, listing: &str) -> PathBuf {
    let bin = dir.join("bin");
    write(&bin.join("listing"), listing);
    let ps = write(
        &bin.join("powershell.exe"),
        "#!/bin/sh\nhere=$(dirname \"$0\")\nprintf '%s\\n' \"$@\" > \"$here/args\"\n\
         cat \"$here/listing\"\n",
    );
    std::fs::set_permissions(&ps, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

/// PATH with `bin` first.
fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `cabundle sync --windows-host` over the Debian root of `s`, with `bin`
/// first on PATH.
fn sync_host(s: &Synced, bin: &Path) -> assert_cmd::assert::Assert {
    let mut cmd = s.run(&["sync", "--windows-host"]);
    cmd.env("PATH", path_with(bin))
        .env_remove("WSL_DISTRO_NAME");
    cmd.timeout(DEADLINE).assert()
}

fn fp(pem: &str) -> String {
    openssl_sha256(pem)
}

#[test]
fn the_hosts_roots_join_the_bundle_and_its_disallowed_ones_leave_every_source() {
    // The OS store and Mozilla both carry `public`; Windows disallows it.
    let public = &public_root(1).pem;
    let s = Synced::new(&[public]);
    let corp = valid_ca("cabundle test Corp Root (Group Policy)");
    let user = valid_ca("cabundle test User Root");
    let issuing = intermediate(&corp, "cabundle test Corp Issuing CA", days(-30), days(900));
    let banned = valid_ca("cabundle test Banned Root");
    let bin = stand_in(
        s.dir(),
        &listing(&[
            (LM_ROOT, &[&corp.pem, &banned.pem]),
            (CU_ROOT, &[&user.pem]),
            (LM_CA, &[&issuing.pem]),
            (LM_DISALLOWED, &[public, &banned.pem]),
        ]),
    );
    let out = sync_host(&s, &bin).success().get_output().clone();
    let err = stderr_of(&out);
    assert!(
        err.contains(r"windows-host:LocalMachine\Root: 2 certificates"),
        "{err}"
    );
    assert!(
        err.contains(r"windows-host:LocalMachine\CA: 1 certificate, intermediates"),
        "{err}"
    );
    assert!(
        err.contains(r"windows-host:LocalMachine\Disallowed: 2 certificates distrusted"),
        "{err}"
    );

    // The script ran as designed.
    let args = std::fs::read_to_string(bin.join("args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    assert_eq!(args[..3], ["-NoProfile", "-NonInteractive", "-Command"]);
    assert_eq!(args.len(), 4, "{args:?}");
    assert!(args[3].contains(r"Get-ChildItem -LiteralPath ('Cert:\'+$s)"));

    let bundle = bundle_fingerprints(&s.home);
    assert!(bundle.contains(&fp(&corp.pem)) && bundle.contains(&fp(&user.pem)));
    assert!(
        !bundle.contains(&fp(&issuing.pem)),
        "an intermediate is no anchor"
    );
    assert!(!bundle.contains(&fp(&banned.pem)));
    assert!(
        !bundle.contains(&fp(public)),
        "disallowed, though the OS and Mozilla carry it"
    );
    let records = list_json(&s.home);
    assert_eq!(
        sources(record(&records, &fp(&corp.pem))),
        [r"windows-host:LocalMachine\Root"]
    );
    assert_eq!(
        sources(record(&records, &fp(&user.pem))),
        [r"windows-host:CurrentUser\Root"]
    );
    let gone = record(&records, &fp(public));
    assert_eq!(gone["status"], "distrusted");
    assert!(
        gone["reason"]
            .as_str()
            .unwrap()
            .contains(r"Windows host's LocalMachine\Disallowed"),
        "{gone}"
    );
    assert!(sources(gone).iter().any(|s| s.starts_with("os:")), "{gone}");
    assert!(
        sources(gone).iter().any(|s| s.starts_with("mozilla")),
        "{gone}"
    );
    // The bundle says where each came from.
    let text = std::fs::read_to_string(s.bundle()).unwrap();
    assert!(
        text.contains(r"# Sources: windows-host:LocalMachine\Root"),
        "{text}"
    );
    assert_bundle_is_what_list_keeps(&s.home);

    // config.toml's windows-host = true: every sync reads the host.
    s.run(&["sync"]).assert().success();
    assert!(!bundle_fingerprints(&s.home).contains(&fp(&corp.pem)));
    write(&s.home.join("config.toml"), "windows-host = true\n");
    let mut cmd = s.run(&["sync"]);
    cmd.env("PATH", path_with(&bin)).assert().success();
    assert!(bundle_fingerprints(&s.home).contains(&fp(&corp.pem)));
    // `block` keeps the setting when it writes the config.
    let mut cmd = s.run(&["block", &fp(&user.pem)]);
    cmd.env("PATH", path_with(&bin)).assert().success();
    let config = std::fs::read_to_string(s.home.join("config.toml")).unwrap();
    assert!(config.contains("windows-host = true"), "{config}");
}

/// Output that is not the script's: each bad line is a warning naming its
/// number, the rest is read. A Disallowed store not listed whole cannot be
/// applied: nothing is written.
#[test]
fn bad_lines_are_reported_and_a_cut_disallowed_store_stops_the_sync() {
    let s = Synced::new(&[]);
    let corp = valid_ca("cabundle test Corp Root");
    let good = listing(&[(LM_ROOT, &[&corp.pem])]);
    let bin = stand_in(
        s.dir(),
        &format!("garbage \u{1b}[31m here\n{LM_ROOT}\t%%%\n{good}"),
    );
    let out = sync_host(&s, &bin).success().get_output().clone();
    let err = stderr_of(&out);
    assert!(
        err.contains("line 1 of the script's output: not STORE<TAB>BASE64"),
        "{err}"
    );
    assert!(err.contains("line 2 of the script's output"), "{err}");
    assert!(!err.contains('\u{1b}'), "escapes reach the terminal: {err}");
    assert!(bundle_fingerprints(&s.home).contains(&fp(&corp.pem)));

    let cut = &good[..good.rfind("#end").unwrap()];
    write(&bin.join("listing"), cut);
    let before = std::fs::read(s.bundle()).unwrap();
    sync_host(&s, &bin).code(1).stderr(
        contains("cannot be applied")
            .and(contains(r"windows-host:CurrentUser\Disallowed"))
            .and(contains("cut short")),
    );
    assert_eq!(
        std::fs::read(s.bundle()).unwrap(),
        before,
        "nothing was written"
    );

    // powershell.exe that fails (a policy that forbids it, say).
    let ps = write(
        &bin.join("powershell.exe"),
        "#!/bin/sh\necho 'This program is blocked by group policy.' >&2\nexit 1\n",
    );
    std::fs::set_permissions(&ps, std::fs::Permissions::from_mode(0o755)).unwrap();
    sync_host(&s, &bin)
        .code(1)
        .stderr(contains("blocked by group policy").and(contains("nothing was written")));
}

/// No powershell.exe anywhere, or one the kernel cannot run (what a
/// Windows program is when interop is off): the error names what was
/// checked and the way out.
#[test]
fn without_interop_the_error_names_what_was_checked_and_the_way_out() {
    if Path::new(WINDOWS_POWERSHELL).exists() {
        eprintln!("skipped: {WINDOWS_POWERSHELL} exists (a WSL machine)");
        return;
    }
    let s = Synced::new(&[]);
    let empty = s.dir().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = s.run(&["sync", "--windows-host"]);
    cmd.env("PATH", &empty).env_remove("WSL_DISTRO_NAME");
    let checked = contains("WSL_DISTRO_NAME unset")
        .and(contains("/proc/sys/kernel/osrelease"))
        .and(contains("WSLInterop"))
        .and(contains(WINDOWS_POWERSHELL))
        .and(contains("--windows-export"))
        .and(contains("nothing was written"));
    cmd.timeout(DEADLINE).assert().code(1).stderr(checked);
    // The same through config.toml.
    write(&s.home.join("config.toml"), "windows-host = true\n");
    let mut cmd = s.run(&["sync"]);
    cmd.env("PATH", &empty)
        .timeout(DEADLINE)
        .assert()
        .code(1)
        .stderr(contains("--windows-export"));
    std::fs::remove_file(s.home.join("config.toml")).unwrap();

    // A Windows program, which only interop can run.
    let mut pe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    pe.resize(1024, 0);
    let ps = write(&empty.join("powershell.exe"), pe);
    std::fs::set_permissions(&ps, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = s.run(&["sync", "--windows-host"]);
    cmd.env("PATH", &empty)
        .env("WSL_DISTRO_NAME", "Ubuntu")
        .timeout(DEADLINE)
        .assert()
        .code(1)
        .stderr(
            contains("Windows interop is off")
                .and(contains("WSL_DISTRO_NAME=Ubuntu"))
                .and(contains("--windows-disallowed")),
        );
}

#[test]
fn windows_options_that_make_no_sense_together_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["sync", "--windows-host", "--macos-export", "x.pem"][..],
        &[
            "sync",
            "--windows-export",
            "x.sst",
            "--macos-export",
            "x.pem",
        ],
    ] {
        cabundle(dir.path()).args(args).assert().code(2);
    }
}

// ------------------------------------------------------------------ exports

/// One element of a serialized store: id, encoding type, length, value.
fn element(id: u32, encoding: u32, value: &[u8]) -> Vec<u8> {
    [
        &id.to_le_bytes()[..],
        &encoding.to_le_bytes(),
        &(value.len() as u32).to_le_bytes(),
        value,
    ]
    .concat()
}

/// A serialized store as `Export-Certificate -Type SST` writes one
/// ([MS-OSHARED] 2.3.9.1): version 0, "CERT", then per certificate its
/// properties (SHA-1 hash 0x03, friendly name 0x0b, key identifier 0x14)
/// and the certificate element (0x20), then the 12-byte end marker.
fn sst(pems: &[&str]) -> Vec<u8> {
    let mut out = [&0u32.to_le_bytes()[..], b"CERT"].concat();
    for pem in pems {
        let der = der(pem);
        let sha1 = data_encoding::HEXLOWER
            .decode(openssl_sha1(pem).to_lowercase().as_bytes())
            .unwrap();
        let name: Vec<u8> = "Root\0".encode_utf16().flat_map(u16::to_le_bytes).collect();
        out.extend(element(0x03, 1, &sha1));
        out.extend(element(0x0b, 1, &name));
        out.extend(element(0x14, 1, &[0x5a; 20]));
        out.extend(element(0x20, 1, &der));
    }
    out.extend([0u8; 12]);
    out
}

/// `sync --windows-export FILE...` over an empty store.
fn sync_exports(home: &Path, flag: &str, files: &[&Path]) -> assert_cmd::assert::Assert {
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = cabundle(home);
    cmd.args(["sync", "--offline", "--root"]).arg(empty.path());
    for f in files {
        cmd.arg(flag).arg(f);
    }
    cmd.timeout(DEADLINE).assert()
}

#[test]
fn an_sst_export_gives_anchors_and_a_disallowed_one_distrust() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (
        valid_ca("cabundle test SST Root A"),
        valid_ca("cabundle test SST Root B"),
    );
    let public = &public_root(0).pem;
    let roots = write(&dir.path().join("roots.sst"), sst(&[&a.pem, &b.pem]));
    let banned = write(&dir.path().join("disallowed.sst"), sst(&[public, &b.pem]));
    let home = dir.path().join("home");
    sync_exports(&home, "--windows-export", &[&roots])
        .success()
        .stderr(contains("roots.sst: 2 certificates"));
    let got = bundle_fingerprints(&home);
    assert!(got.contains(&fp(&a.pem)) && got.contains(&fp(&b.pem)));
    let records = list_json(&home);
    assert_eq!(
        sources(record(&records, &fp(&a.pem))),
        [format!("windows-export:{}", roots.display())]
    );
    // The Disallowed export takes b and a Mozilla root out.
    let mut cmd = cabundle(&home);
    let empty = tempfile::tempdir().unwrap();
    cmd.args(["sync", "--offline", "--root"])
        .arg(empty.path())
        .arg("--windows-export")
        .arg(&roots)
        .arg("--windows-disallowed")
        .arg(&banned)
        .assert()
        .success()
        .stderr(contains("disallowed.sst: 2 certificates distrusted"));
    let got = bundle_fingerprints(&home);
    assert!(got.contains(&fp(&a.pem)));
    assert!(!got.contains(&fp(&b.pem)) && !got.contains(&fp(public)));
    let records = list_json(&home);
    let reason = record(&records, &fp(public))["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("Windows Disallowed export"), "{reason}");
}

/// Stores cut short or with lengths that lie, as anchors and as distrust:
/// a clear error naming the file, or what could be read and a warning;
/// never a panic, and never a distrust half applied.
#[test]
fn hostile_sst_files_are_errors_naming_the_file_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let a = valid_ca("cabundle test SST Root A");
    let b = valid_ca("cabundle test SST Root B");
    let good = sst(&[&a.pem, &b.pem]);
    // The header, then three properties (12 + 20, 12 + 10, 12 + 20 bytes),
    // then the first certificate's element header.
    let first_cert = 8 + 32 + 22 + 32 + 12;
    let mut variants: Vec<(String, Vec<u8>)> = vec![
        ("header only".into(), good[..8].to_vec()),
        ("cut in a header".into(), good[..8 + 5].to_vec()),
        (
            "cut in the first certificate".into(),
            good[..first_cert + 50].to_vec(),
        ),
        ("no end marker".into(), good[..good.len() - 12].to_vec()),
        (
            "cut in the end marker".into(),
            good[..good.len() - 4].to_vec(),
        ),
    ];
    // The first property's length, then the first certificate's, lying.
    for (at, lie) in [(8 + 8, u32::MAX), (8 + 8, 0x7fff_ffff), (8 + 8, 21)] {
        let mut bad = good.clone();
        bad[at..at + 4].copy_from_slice(&lie.to_le_bytes());
        variants.push((format!("length {lie:#x} at {at}"), bad));
    }
    let mut end = good.clone();
    end.extend(b"trailing");
    variants.push(("bytes after the end marker".into(), end));
    for (what, bytes) in variants {
        let file = write(&dir.path().join("hostile.sst"), &bytes);
        let home = dir.path().join("home");
        let out = sync_exports(&home, "--windows-export", &[&file])
            .get_output()
            .clone();
        let err = stderr_of(&out);
        match out.status.code() {
            Some(0) => assert!(
                err.contains("hostile.sst: serialized store:"),
                "{what}: {err}"
            ),
            Some(1) => assert!(
                err.contains("hostile.sst") && err.contains("nothing was written"),
                "{what}: {err}"
            ),
            other => panic!("{what}: exit {other:?}: {err}"),
        }
        // As a Disallowed export, any fault stops the sync.
        sync_exports(&home, "--windows-disallowed", &[&file])
            .code(1)
            .stderr(contains("hostile.sst").and(contains("cannot be applied")));
    }
}

#[test]
fn a_p7b_made_by_openssl_is_read_in_der_and_pem() {
    let dir = tempfile::tempdir().unwrap();
    let a = valid_ca("cabundle test P7B Root A");
    let b = valid_ca("cabundle test P7B Root B");
    let pa = write(&dir.path().join("a.pem"), &a.pem);
    let pb = write(&dir.path().join("b.pem"), &b.pem);
    let home = dir.path().join("home");
    for (name, form) in [("roots.p7b", "DER"), ("roots-pem.p7b", "PEM")] {
        let p7b = dir.path().join(name);
        run_ok(
            std::process::Command::new("openssl")
                .args(["crl2pkcs7", "-nocrl", "-certfile"])
                .arg(&pa)
                .arg("-certfile")
                .arg(&pb)
                .args(["-outform", form, "-out"])
                .arg(&p7b),
            "openssl crl2pkcs7",
        );
        sync_exports(&home, "--windows-export", &[&p7b])
            .success()
            .stderr(contains(format!("{name}: 2 certificates")));
        let got = bundle_fingerprints(&home);
        assert!(
            got.contains(&fp(&a.pem)) && got.contains(&fp(&b.pem)),
            "{name}"
        );
    }
}

#[test]
fn a_folder_of_cer_files_der_and_base64() {
    let dir = tempfile::tempdir().unwrap();
    let certs: Vec<Ca> = ["DER", "Base64", "Bare Base64"]
        .iter()
        .map(|n| valid_ca(&format!("cabundle test CER {n}")))
        .collect();
    let folder = dir.path().join("exported");
    write(&folder.join("one.cer"), der(&certs[0].pem));
    write(&folder.join("two.CER"), certs[1].pem.replace('\n', "\r\n"));
    write(
        &folder.join("three.cer"),
        data_encoding::BASE64.encode(&der(&certs[2].pem)),
    );
    write(&folder.join("notes.txt"), "not read");
    write(&folder.join("broken.cer"), "neither DER nor base64 \u{0}");
    let home = dir.path().join("home");
    sync_exports(&home, "--windows-export", &[&folder])
        .success()
        .stderr(contains("broken.cer").and(contains("notes.txt").not()));
    let got = bundle_fingerprints(&home);
    for c in &certs {
        assert!(got.contains(&fp(&c.pem)), "{}", c.pem);
    }
    let records = list_json(&home);
    assert_eq!(
        sources(record(&records, &fp(&certs[0].pem))),
        [format!(
            "windows-export:{}",
            folder.join("one.cer").display()
        )]
    );
    // Named paths that are not there, or hold nothing: nothing is written.
    let other = dir.path().join("other");
    let nothing = dir.path().join("nothing");
    std::fs::create_dir_all(&nothing).unwrap();
    for missing in [
        dir.path().join("nowhere.sst"),
        nothing,
        folder.join("notes.txt"),
    ] {
        sync_exports(&other, "--windows-export", &[&missing])
            .code(1)
            .stderr(contains("--windows-export").and(contains("nothing was written")));
        assert!(!other.join("ca-bundle.pem").exists());
    }
}
