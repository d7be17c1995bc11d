//! What people read, as snapshots (tests/cli/snapshots/): the sync summary,
//! `list`, `env` in every syntax, doctor's findings, `--help` and the
//! common errors. A change to a message is then one reviewed diff. After a
//! deliberate change, re-accept them all with
//!
//! ```sh
//! INSTA_UPDATE=always INSTA_FORCE_PASS=1 cargo test --test cli snapshots::
//! ```
//!
//! (or `cargo insta review`), and read the diff before committing it. In CI
//! (`CI=true`) insta writes nothing: a snapshot that differs, or is missing,
//! fails.
//!
//! The input is fixed: a Debian store holding certifi 2017.7.27.1's 142
//! roots (tests/data), the embedded Mozilla snapshot, and `--at` a fixed
//! day; what reads the clock (`list --expiring`, doctor) runs under
//! `faketime` at that day. What varies from run to run (the temp folder,
//! a generated certificate's fingerprint and dates) is replaced by a
//! placeholder.

use crate::common;

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use insta::assert_snapshot;

use common::{Synced, cabundle, days, require, source_file, text, valid_ca};

/// The day every snapshot is taken as of.
/// After the embedded snapshot was made (else doctor says the clock is
/// wrong) and within the life of most of its roots.
const DAY: &str = "2028-01-01";

/// What a run shows a person: its exit code, stderr and stdout.
fn shown(out: &Output) -> String {
    format!(
        "exit: {}\n--- stderr\n{}--- stdout\n{}",
        out.status
            .code()
            .map_or_else(|| format!("{}", out.status), |c| c.to_string()),
        text(&out.stderr),
        text(&out.stdout)
    )
}

/// `s` as a regex that matches it literally.
fn literal(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escape = "\\.+*?()|[]{}^$#&-~".contains(c);
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// Snapshot `out` as `name`, with `dir` (the test's temp folder) shown as
/// `[TMP]`, and the fingerprints and dates of certificates made at test
/// time as placeholders when `generated` holds any.
fn check(name: &str, dir: &Path, generated: bool, out: &Output) {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(true);
    settings.add_filter(&literal(&dir.display().to_string()), "[TMP]");
    if generated {
        settings.add_filter(r"\b[0-9a-f]{64}\b", "[SHA256]");
        settings.add_filter(r"\b\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?\b", "[DATE]");
    }
    settings.bind(|| assert_snapshot!(name, shown(out)));
}

/// A home synced as of [`DAY`] over a Debian root whose store is certifi
/// 2017.7.27.1's cacert.pem.
fn fixture() -> Synced {
    let certifi =
        std::fs::read_to_string(source_file("tests/data/certifi-2017.7.27.1-cacert.pem")).unwrap();
    Synced::as_of(&[&certifi], DAY)
}

/// `cabundle ARGS` in the fixture's home, with the clock at [`DAY`] noon
/// (`faketime`; monotonic time, which waits and timeouts use, is real):
/// for what reads the clock (`list --expiring`, doctor, the re-sync after
/// `block`).
fn at_day(s: &Synced, args: &[&str]) -> Option<Command> {
    if !require("faketime", "--version", "Debian: apt-get install faketime") {
        return None;
    }
    let mut cmd = Command::new("faketime");
    common::scrub(&mut cmd)
        .env("CABUNDLE_HOME", &s.home)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .arg(format!("{DAY} 12:00:00"))
        .arg(env!("CARGO_BIN_EXE_cabundle"))
        .args(args);
    Some(cmd)
}

/// `sync --at AT` of the fixture's root into a new home.
fn sync_as_of(name: &str, at: &str) {
    let s = fixture();
    let out = cabundle(&s.dir().join("other-home"))
        .args(["sync", "--root"])
        .arg(&s.root)
        .args(["--at", at])
        .output()
        .unwrap();
    check(name, s.dir(), false, &out);
}

// ---------------------------------------------------------------- sync

#[test]
fn sync_summary() {
    sync_as_of("sync_summary", DAY);
}

#[test]
fn sync_far_past() {
    sync_as_of("sync_far_past", "1990-01-01");
}

#[test]
fn sync_far_future() {
    sync_as_of("sync_far_future", "2100-01-01");
}

// ---------------------------------------------------------------- list

#[test]
fn list_text() {
    let s = fixture();
    check(
        "list_text",
        s.dir(),
        false,
        &cabundle(&s.home).arg("list").output().unwrap(),
    );
}

#[test]
fn list_expiring() {
    let s = fixture();
    let Some(mut cmd) = at_day(&s, &["list", "--expiring", "365"]) else {
        return;
    };
    check("list_expiring", s.dir(), false, &cmd.output().unwrap());
}

/// The JSON records of the same few certificates as [`list_expiring`]:
/// every field, without a snapshot of a thousand lines.
#[test]
fn list_json() {
    let s = fixture();
    let Some(mut cmd) = at_day(&s, &["list", "--json", "--expiring", "365"]) else {
        return;
    };
    check("list_json", s.dir(), false, &cmd.output().unwrap());
}

// ---------------------------------------------------------------- env

/// `env --shell SHELL` of a synced home, for each syntax `--shell` takes.
fn env_in(shell: &str) {
    let s = fixture();
    let out = cabundle(&s.home)
        .args(["env", "--shell", shell])
        .output()
        .unwrap();
    check(&format!("env_{shell}"), s.dir(), false, &out);
}

#[test]
fn env_sh() {
    env_in("sh");
}

#[test]
fn env_fish() {
    env_in("fish");
}

#[test]
fn env_powershell() {
    env_in("powershell");
}

#[test]
fn env_dockerfile() {
    env_in("dockerfile");
}

#[test]
fn env_dotenv() {
    env_in("dotenv");
}

#[test]
fn env_json() {
    env_in("json");
}

// ---------------------------------------------------------------- doctor

/// `doctor` without a URL on a setup with one of each finding: variables
/// at the bundle, one at a one-certificate file, one at a missing file,
/// the rest unset.
#[test]
fn doctor_findings() {
    let s = fixture();
    let corp = s.file("corp.pem", valid_ca("Snapshot Corp CA").pem);
    let Some(mut cmd) = at_day(&s, &["doctor"]) else {
        return;
    };
    let out = cmd
        .env("SSL_CERT_FILE", s.bundle())
        .env("SSL_CERT_DIR", s.home.join("certs"))
        .env("REQUESTS_CA_BUNDLE", &corp)
        .env("CURL_CA_BUNDLE", s.dir().join("missing.pem"))
        .output()
        .unwrap();
    check("doctor_findings", s.dir(), false, &out);
}

// ---------------------------------------------------------------- --help

/// The subcommands `cabundle --help` lists.
fn subcommands() -> Vec<String> {
    let out = cabundle(Path::new("/nonexistent"))
        .arg("--help")
        .output()
        .unwrap();
    text(&out.stdout)
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A description wrapped onto the next line is indented further.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// `cabundle ARGS --help`, snapshot as `help_NAME`.
fn help(name: &str, args: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let out = cabundle(tmp.path())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    check(&format!("help_{name}"), tmp.path(), false, &out);
}

/// One test per subcommand (and python's own), so each fails by name.
macro_rules! help_snapshots {
    ($($test:ident: [$($arg:literal),*];)*) => {
        $(
            #[test]
            fn $test() {
                help(stringify!($test).trim_start_matches("help_"), &[$($arg),*]);
            }
        )*

        /// Every subcommand `--help` lists has its snapshot above.
        #[test]
        fn help_covers_every_subcommand() {
            let covered: Vec<&str> = vec![$($($arg,)*)*];
            for command in subcommands() {
                assert!(
                    covered.contains(&command.as_str()),
                    "`cabundle {command}` has no help snapshot: add it to help_snapshots!"
                );
            }
        }
    };
}

help_snapshots! {
    help_top: [];
    help_sync: ["sync"];
    help_add: ["add"];
    help_remove: ["remove"];
    help_list: ["list"];
    help_env: ["env"];
    help_fetch: ["fetch"];
    help_block: ["block"];
    help_unblock: ["unblock"];
    help_install: ["install"];
    help_uninstall: ["uninstall"];
    help_clients: ["clients"];
    help_exec: ["exec"];
    help_export: ["export"];
    help_python: ["python"];
    help_python_status: ["python", "status"];
    help_python_install: ["python", "install"];
    help_python_uninstall: ["python", "uninstall"];
    help_doctor: ["doctor"];
    help_proxy: ["proxy"];
    help_proxy_detect: ["proxy", "detect"];
    help_proxy_trust: ["proxy", "trust"];
    help_schedule: ["schedule"];
    help_schedule_enable: ["schedule", "enable"];
    help_schedule_disable: ["schedule", "disable"];
    help_schedule_status: ["schedule", "status"];
    help_completions: ["completions"];
}

// ---------------------------------------------------------------- errors

/// `cabundle ARGS --root ROOT` in a synced home ([`at_day`]), snapshot as
/// `name`.
fn error(name: &str, generated: bool, args: impl FnOnce(&Synced) -> Vec<String>) {
    let s = fixture();
    let mut args = args(&s);
    args.extend(["--root".into(), s.root.display().to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let Some(mut cmd) = at_day(&s, &args) else {
        return;
    };
    check(name, s.dir(), generated, &cmd.output().unwrap());
}

#[test]
fn error_add_not_a_certificate() {
    error("error_add_not_a_certificate", false, |s| {
        vec![
            "add".into(),
            s.file("notes.pem", "these are not the certificates\n"),
        ]
    });
}

#[test]
fn error_add_a_leaf() {
    error("error_add_a_leaf", true, |s| {
        let leaf = valid_ca("Snapshot Issuer").leaf(days(-1), days(30)).0;
        vec!["add".into(), s.file("server.pem", leaf)]
    });
}

#[test]
fn error_add_a_missing_file() {
    error("error_add_a_missing_file", false, |s| {
        vec![
            "add".into(),
            s.dir().join("in/missing.pem").display().to_string(),
        ]
    });
}

#[test]
fn error_remove_unknown() {
    error("error_remove_unknown", false, |_| {
        vec!["remove".into(), "no-such-ca".into()]
    });
}

#[test]
fn error_block_not_a_fingerprint() {
    error("error_block_not_a_fingerprint", false, |_| {
        vec!["block".into(), "not-a-fingerprint".into()]
    });
}

#[test]
fn block_unknown_fingerprint() {
    error("block_unknown_fingerprint", false, |_| {
        vec!["block".into(), "ab".repeat(32)]
    });
}

#[test]
fn error_unblock_not_blocked() {
    error("error_unblock_not_blocked", false, |_| {
        vec!["unblock".into(), "ab".repeat(32)]
    });
}

#[test]
fn error_doctor_malformed_url() {
    let tmp = tempfile::tempdir().unwrap();
    let out = cabundle(tmp.path())
        .args(["doctor", "https://exa mple.com/"])
        .output()
        .unwrap();
    check("error_doctor_malformed_url", tmp.path(), false, &out);
}

// ---------------------------------------------------------------- Java, export

/// `install --java` on JVM folders that are each wrong in their own way:
/// what it says of each, and the exit code.
#[test]
fn install_java_hostile_jvms() {
    let s = fixture();
    let jvm = |name: &str| {
        let home = s.dir().join("jvms").join(name);
        std::fs::create_dir_all(home.join("bin")).unwrap();
        home
    };
    let corrupt = jvm("corrupt");
    common::write(&corrupt.join("lib/security/cacerts"), "not a keystore\n");
    let bare = jvm("bare");
    let out_link = jvm("link-out");
    let elsewhere = common::write(&s.dir().join("elsewhere/cacerts"), "\u{fe}");
    std::fs::create_dir_all(out_link.join("lib/security")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out_link.join("lib/security/cacerts")).unwrap();
    let mut cmd = cabundle(&s.home);
    cmd.args(["install", "--java"]);
    for home in [&corrupt, &bare, &out_link] {
        cmd.arg("--java-home").arg(home);
    }
    check(
        "install_java_hostile_jvms",
        s.dir(),
        false,
        &cmd.output().unwrap(),
    );
}

#[test]
fn export_written_and_refused() {
    let s = fixture();
    let p12 = s.dir().join("out/truststore.p12");
    let out = cabundle(&s.home)
        .args(["export", "--format", "pkcs12", "-o"])
        .arg(&p12)
        .output()
        .unwrap();
    check("export_pkcs12_written", s.dir(), false, &out);
    let out = cabundle(&s.home)
        .args(["export", "--format", "openssl-dir"])
        .output()
        .unwrap();
    check("error_export_openssl_dir_without_o", s.dir(), false, &out);
    let out = cabundle(&s.home)
        .args(["export", "--format", "configmap", "--name", "Not_A_Name"])
        .output()
        .unwrap();
    check("error_export_bad_name", s.dir(), false, &out);
}
