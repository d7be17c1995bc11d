//! The Debian package's update-ca-certificates hook
//! (debian/ca-certificates-hook, installed as
//! /etc/ca-certificates/update.d/cabundle): run as the updater runs it,
//! with the added and removed certificates on stdin, against a stand-in
//! `cabundle` on PATH or the real one. The hook's one system path,
//! /etc/cabundle, is pointed at a temp folder in a copy of the script, so
//! nothing here reads or writes the machine's state. scripts/deb-test.sh
//! checks the installed package in a Debian root.
//!
//! And what debian/postrm must agree with: the files `cabundle schedule
//! enable` writes as root, which a purge takes out by their mark.

use crate::common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

const STATE_LINE: &str = "state=/etc/cabundle\n";

/// A copy of the hook whose state folder is `state`.
fn hook(dir: &Path, state: &Path) -> PathBuf {
    let script = fs::read_to_string(source_file("debian/ca-certificates-hook")).unwrap();
    assert_eq!(
        script.matches(STATE_LINE).count(),
        1,
        "the hook names /etc/cabundle once, in {STATE_LINE:?}"
    );
    let copy = dir.join("hook");
    let moved = format!("state={}\n", state.display());
    fs::write(&copy, script.replace(STATE_LINE, &moved)).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

/// A PATH folder with `cat` (the hook reads stdin with it) and, when
/// given, `cabundle`.
fn bin(dir: &Path, cabundle: Option<&Path>) -> PathBuf {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    symlink(on_path("cat").expect("cat on PATH"), bin.join("cat")).unwrap();
    if let Some(cabundle) = cabundle {
        symlink(cabundle, bin.join("cabundle")).unwrap();
    }
    bin
}

/// A stand-in `cabundle` that writes what it was given into `log` (its
/// arguments, CABUNDLE_HOME, and how much stdin it got), prints a summary
/// line on each stream, and exits with `status`.
fn stand_in(dir: &Path, log: &Path, status: i32) -> PathBuf {
    let script = format!(
        "#!/bin/sh\n\
         PATH=/usr/bin:/bin\n\
         {{ echo \"args: $*\"; echo \"home: ${{CABUNDLE_HOME-unset}}\"; \
            echo \"stdin: $(cat | wc -c)\"; }} > '{log}'\n\
         echo 'stand-in: on stdout'\n\
         echo 'cabundle: error: stand-in failing' >&2\n\
         exit {status}\n",
        log = log.display()
    );
    let path = write(&dir.join("stand-in-cabundle"), script);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// What update-ca-certificates pipes in: a line per certificate added or
/// removed. 1 MiB of them, far past a pipe's buffer, so a hook that exited
/// without reading would leave the writer with a broken pipe.
fn updater_input() -> Vec<u8> {
    let line = b"+/usr/share/ca-certificates/mozilla/Some_Root_CA.crt\n";
    line.repeat((1 << 20) / line.len())
}

/// Run `hook` as the updater does, PATH only `bin`, with `env` set (and
/// CABUNDLE_HOME removed unless set there), writing [`updater_input`]:
/// the output, and whether all of the input was taken.
fn run(hook: &Path, bin: &Path, env: &[(&str, &Path)]) -> (Output, std::io::Result<()>) {
    let mut cmd = Command::new(hook);
    scrub(&mut cmd)
        .env_remove("CABUNDLE_HOME")
        .env("PATH", bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&updater_input()));
    let out = child.wait_with_output().unwrap();
    (out, writer.join().unwrap())
}

fn log_of(log: &Path) -> String {
    fs::read_to_string(log).unwrap_or_else(|e| panic!("the stand-in did not run ({e})"))
}

#[test]
fn where_root_never_ran_cabundle_the_hook_does_nothing_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let hook = hook(dir.path(), &dir.path().join("etc-cabundle"));
    let bin = bin(dir.path(), Some(&stand_in(dir.path(), &log, 0)));
    let (out, taken) = run(&hook, &bin, &[]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(taken.is_ok(), "stdin not read to its end: {taken:?}");
    assert_eq!(both(&out), "");
    assert!(!log.exists(), "cabundle ran: {}", log_of(&log));
    assert!(!dir.path().join("etc-cabundle").exists());
}

#[test]
fn a_sync_that_succeeds_is_quiet_offline_and_reads_no_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("etc-cabundle");
    fs::create_dir(&state).unwrap();
    let log = dir.path().join("log");
    let hook = hook(dir.path(), &state);
    let bin = bin(dir.path(), Some(&stand_in(dir.path(), &log, 0)));
    let (out, taken) = run(&hook, &bin, &[]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(taken.is_ok(), "stdin not read to its end: {taken:?}");
    assert_eq!(
        both(&out),
        "",
        "the summary of a sync that worked is dropped"
    );
    assert_eq!(
        log_of(&log),
        "args: sync --offline\nhome: unset\nstdin: 0\n",
        "the updater's list went to cabundle"
    );
}

#[test]
fn a_sync_that_fails_says_why_on_stderr_and_the_hook_still_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("etc-cabundle");
    fs::create_dir(&state).unwrap();
    let log = dir.path().join("log");
    let hook = hook(dir.path(), &state);
    for status in [1, 2, 127] {
        let bin = bin(
            &dir.path().join(status.to_string()),
            Some(&stand_in(dir.path(), &log, status)),
        );
        let (out, taken) = run(&hook, &bin, &[]);
        assert!(out.status.success(), "exit {status}: {}", both(&out));
        assert!(taken.is_ok(), "stdin not read to its end: {taken:?}");
        assert_eq!(text(&out.stdout), "", "the updater's stdout is its own");
        let stderr = stderr_of(&out);
        assert!(
            stderr.contains("cabundle: error: stand-in failing")
                && stderr.contains("stand-in: on stdout")
                && stderr.contains(&format!("`cabundle sync` failed (exit {status})")),
            "{stderr}"
        );
    }
}

#[test]
fn a_cabundle_home_is_kept_only_when_it_names_the_system_state() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("etc-cabundle");
    fs::create_dir(&state).unwrap();
    let elsewhere = dir.path().join("image/etc/cabundle");
    let log = dir.path().join("log");
    let hook = hook(dir.path(), &state);
    let bin = bin(dir.path(), Some(&stand_in(dir.path(), &log, 0)));
    let with_slash = PathBuf::from(format!("{}/", state.display()));
    for (home, seen) in [
        (&elsewhere, "unset".to_string()),
        (&state, state.display().to_string()),
        (&with_slash, with_slash.display().to_string()),
    ] {
        let (out, _) = run(&hook, &bin, &[("CABUNDLE_HOME", home)]);
        assert!(out.status.success(), "{}", both(&out));
        assert!(
            log_of(&log).contains(&format!("home: {seen}\n")),
            "CABUNDLE_HOME={}: {}",
            home.display(),
            log_of(&log)
        );
    }
}

/// `dpkg -r` keeps the hook (a conffile) and takes the binary.
#[test]
fn with_cabundle_gone_the_hook_does_nothing_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("etc-cabundle");
    fs::create_dir(&state).unwrap();
    let hook = hook(dir.path(), &state);
    let (out, taken) = run(&hook, &bin(dir.path(), None), &[]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(taken.is_ok(), "stdin not read to its end: {taken:?}");
    assert_eq!(both(&out), "");
}

/// The real binary, its state in the temp folder the hook's copy names
/// (as CABUNDLE_HOME, which the hook keeps since it names that folder):
/// it syncs from this machine's store, quietly; with a config.toml that
/// does not parse, cabundle's error reaches stderr and the hook exits 0.
#[test]
fn with_the_real_cabundle_a_sync_is_made_and_a_broken_state_fails_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("etc-cabundle");
    fs::create_dir(&state).unwrap();
    let hook = hook(dir.path(), &state);
    let bin = bin(dir.path(), Some(Path::new(env!("CARGO_BIN_EXE_cabundle"))));

    let (out, taken) = run(&hook, &bin, &[("CABUNDLE_HOME", &state)]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(taken.is_ok(), "stdin not read to its end: {taken:?}");
    assert_eq!(both(&out), "", "a sync that worked is quiet");
    let bundle = fs::read_to_string(state.join("ca-bundle.pem")).unwrap();
    assert!(bundle.contains("-----BEGIN CERTIFICATE-----"));

    write(&state.join("config.toml"), "this is = = not toml\n");
    let (out, taken) = run(&hook, &bin, &[("CABUNDLE_HOME", &state)]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(taken.is_ok(), "stdin not read to its end: {taken:?}");
    assert_eq!(text(&out.stdout), "");
    let stderr = stderr_of(&out);
    assert!(
        stderr.contains("cabundle: error:")
            && stderr.contains("config.toml")
            && stderr.contains("`cabundle sync` failed (exit 1)"),
        "{stderr}"
    );
}

/// debian/postrm names schedule's files and mark by hand (the binary is
/// gone when it runs): they must be the ones src/schedule.rs writes.
#[test]
fn the_postrm_purges_the_files_schedule_writes_by_their_mark() {
    use cabundle::schedule::{CRON_FILE, MARKER, UNIT};
    let postrm = fs::read_to_string(source_file("debian/postrm")).unwrap();
    for needed in [
        format!("mark='{MARKER}'"),
        format!("/etc/cron.d/{CRON_FILE}; do"),
        "units=/etc/systemd/system\n".to_string(),
        format!("$units/{UNIT}.service "),
        format!("timer=$units/{UNIT}.timer\n"),
        format!("timers.target.wants/{UNIT}.timer\n"),
        format!("systemctl disable --now {UNIT}.timer "),
    ] {
        assert!(postrm.contains(&needed), "debian/postrm lacks {needed:?}");
    }
}
