//! Freshness: `schedule enable|disable|status --user` through the binary
//! (a systemd user timer written but left to the user to start, and the
//! crontab fallback through a stand-in `crontab`), and doctor's warnings
//! on an old Mozilla set and a failed refresh.
//!
//! Only the user scope runs here, with HOME, XDG_CONFIG_HOME and PATH in a
//! temp folder and no user manager (XDG_RUNTIME_DIR unset): nothing touches
//! the real /etc, crontab or systemd. The system scope, and systemctl runs
//! when systemd is up, are tested in `src/schedule.rs` on paths given.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

use common::certdata::current_certdata;
use common::{Synced, cabundle, require, stderr_of, text, within_deadline};

/// A home synced as usual, and a user's folders beside it.
struct Fx {
    synced: Synced,
    /// HOME; XDG_CONFIG_HOME is `HOME/config`.
    user: PathBuf,
    /// PATH: the stand-ins, and nothing else.
    bin: PathBuf,
}

impl Fx {
    fn new() -> Fx {
        let synced = Synced::new(&[]);
        let user = synced.dir().join("user");
        let bin = synced.dir().join("bin");
        fs::create_dir_all(user.join("config")).unwrap();
        fs::create_dir_all(&bin).unwrap();
        Fx { synced, user, bin }
    }

    /// `cabundle schedule ARGS --user` as this user.
    fn schedule(&self, args: &[&str]) -> Output {
        let mut cmd = cabundle(&self.synced.home);
        cmd.env("HOME", &self.user)
            .env("XDG_CONFIG_HOME", self.user.join("config"))
            .env("PATH", &self.bin)
            .env_remove("XDG_RUNTIME_DIR")
            .arg("schedule")
            .args(args)
            .arg("--user");
        within_deadline(&mut cmd)
    }

    fn ok(&self, args: &[&str]) -> Output {
        let out = self.schedule(args);
        assert!(
            out.status.success(),
            "schedule {args:?}: {}",
            stderr_of(&out)
        );
        out
    }

    fn units(&self) -> PathBuf {
        self.user.join("config/systemd/user")
    }

    /// A shell script in the PATH folder.
    fn stand_in(&self, name: &str, body: &str) -> PathBuf {
        let path = self.bin.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }
}

#[test]
fn without_systemd_a_users_schedule_is_two_crontab_lines_and_disable_takes_out_exactly_those() {
    let fx = Fx::new();
    let crontab = fx.synced.dir().join("crontab");
    let c = crontab.display();
    // As Debian's: `-l` fails with "no crontab for USER" when there is none.
    fx.stand_in(
        "crontab",
        &format!(
            "case \"$1\" in\n\
             -l) [ -f '{c}' ] || {{ echo 'no crontab for tester' >&2; exit 1; }}; /bin/cat '{c}' ;;\n\
             -) /bin/cat > '{c}' ;;\n\
             -r) /bin/rm '{c}' ;;\n\
             *) exit 2 ;;\n\
             esac\n"
        ),
    );
    let before = "MAILTO=\"\"\n# the user's own\n5 4 * * * /usr/bin/backup --quiet\n";
    fs::write(&crontab, before).unwrap();

    let out = fx.ok(&["enable"]);
    assert!(
        stderr_of(&out).contains("cron runs it"),
        "{}",
        stderr_of(&out)
    );
    let after = fs::read_to_string(&crontab).unwrap();
    let added: Vec<&str> = after.strip_prefix(before).expect(&after).lines().collect();
    assert_eq!(added.len(), 2, "{after}");
    assert_eq!(added[0], cabundle::schedule::MARKER);
    let job = format!(
        "out=$(CABUNDLE_HOME={} {} sync --refresh 2>&1) || echo \"$out\"",
        fx.synced.home.display(),
        env!("CARGO_BIN_EXE_cabundle")
    );
    assert!(added[1].ends_with(&format!(" {job}")), "{}", added[1]);

    let out = fx.ok(&["status"]);
    let shown = text(&out.stdout);
    assert!(shown.contains("a line in your crontab"), "{shown}");
    assert!(shown.contains(added[1]), "{shown}");
    let json: Value = serde_json::from_slice(&fx.ok(&["status", "--json"]).stdout).unwrap();
    assert_eq!(json["scope"], "user");
    assert_eq!(json["installed"]["how"]["kind"], "crontab");
    assert_eq!(json["installed"]["how"]["had_crontab"], true);

    // Enabled already: nothing changes.
    let out = fx.ok(&["enable"]);
    assert!(stderr_of(&out).contains("already scheduled"));
    assert_eq!(fs::read_to_string(&crontab).unwrap(), after);

    let out = fx.ok(&["disable"]);
    assert!(stderr_of(&out).contains("took 2 lines out of your crontab"));
    assert_eq!(fs::read_to_string(&crontab).unwrap(), before);
    let shown = text(&fx.ok(&["status"]).stdout);
    assert!(shown.contains("schedule (user): none"), "{shown}");
    // Nothing left to take out.
    let out = fx.ok(&["disable"]);
    assert!(stderr_of(&out).contains("nothing to remove"));
    assert_eq!(fs::read_to_string(&crontab).unwrap(), before);
}

#[test]
fn with_systemd_installed_but_not_running_the_user_units_are_written_and_left_to_start() {
    let fx = Fx::new();
    let calls = fx.synced.dir().join("systemctl.log");
    fx.stand_in(
        "systemctl",
        &format!("echo \"$*\" >> '{}'\n", calls.display()),
    );
    let out = fx.ok(&["enable"]);
    let said = stderr_of(&out);
    assert!(
        said.contains(
            "start the timer with `systemctl --user enable --now cabundle-refresh.timer`"
        ),
        "{said}"
    );
    assert!(
        !calls.exists(),
        "systemctl ran: {}",
        fs::read_to_string(&calls).unwrap()
    );
    let units = fx.units();
    let service = fs::read_to_string(units.join("cabundle-refresh.service")).unwrap();
    let timer = fs::read_to_string(units.join("cabundle-refresh.timer")).unwrap();
    assert!(
        service.contains(&format!(
            "\nExecStart=\"{}\" sync --refresh\n",
            env!("CARGO_BIN_EXE_cabundle")
        )),
        "{service}"
    );
    assert!(
        service.contains(&format!(
            "\nEnvironment=\"CABUNDLE_HOME={}\"\n",
            fx.synced.home.display()
        )),
        "{service}"
    );
    for line in [
        "OnCalendar=weekly",
        "RandomizedDelaySec=12h",
        "Persistent=true",
    ] {
        assert!(timer.contains(&format!("\n{line}\n")), "{timer}");
    }
    verify_user_units(&units, fx.synced.dir());

    let shown = text(&fx.ok(&["status"]).stdout);
    assert!(shown.contains("a systemd timer"), "{shown}");
    assert!(shown.contains("systemctl --user list-timers"), "{shown}");

    let out = fx.ok(&["disable"]);
    let said = stderr_of(&out);
    assert!(said.contains("removed"), "{said}");
    assert_eq!(fs::read_dir(&units).unwrap().count(), 0);
    assert!(!calls.exists());
}

/// `systemd-analyze --user verify` of the units in `units`: clean.
fn verify_user_units(units: &Path, dir: &Path) {
    if !require(
        "systemd-analyze",
        "--version",
        "Debian: apt-get install systemd",
    ) {
        return;
    }
    let runtime = dir.join("runtime");
    fs::create_dir_all(&runtime).unwrap();
    fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["--user", "verify"])
        .arg(units.join("cabundle-refresh.timer"))
        .arg(units.join("cabundle-refresh.service"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}",
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------- doctor

/// `cabundle ARGS` in `home` with the clock at `day` noon (faketime;
/// monotonic time is real), or None when faketime is missing and skips
/// are allowed.
fn at_day(home: &Path, day: &str, args: &[&str]) -> Option<Command> {
    if !require("faketime", "--version", "Debian: apt-get install faketime") {
        return None;
    }
    let mut cmd = Command::new("faketime");
    common::scrub(&mut cmd)
        .env("CABUNDLE_HOME", home)
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .arg(format!("{day} 12:00:00"))
        .arg(env!("CARGO_BIN_EXE_cabundle"))
        .args(args);
    Some(cmd)
}

/// doctor's findings (`--json`) of one check.
fn findings(out: &Output, check: &str) -> Vec<Value> {
    let json: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr_of(out)));
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .cloned()
        .collect()
}

fn doctor_at(home: &Path, day: &str) -> Option<Output> {
    at_day(home, day, &["doctor", "--json"]).map(|mut cmd| within_deadline(&mut cmd))
}

#[test]
fn doctor_warns_when_the_mozilla_set_is_older_than_ninety_days() {
    let fx = Synced::new(&[]);
    // The snapshot built in is certifi 2026.10.19.post1, of 2026-10-19.
    let Some(out) = doctor_at(&fx.home, "2026-12-01") else {
        return;
    };
    assert_eq!(findings(&out, "mozilla age"), Vec::<Value>::new());
    let out = doctor_at(&fx.home, "2027-06-01").unwrap();
    let found = findings(&out, "mozilla age");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["level"], "warning");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.contains("(2026.10.19.post1) are 225 days old (as of 2026-10-19)"),
        "{message}"
    );
    assert!(
        found[0]["fix"]
            .as_str()
            .unwrap()
            .contains("cabundle sync --refresh")
    );

    // A refresh that day (certdata.txt carries no date: the set is as of
    // its fetch), and a sync: current again, for 90 days.
    let certdata = current_certdata(fx.dir());
    let mut fetch = at_day(&fx.home, "2027-06-01", &["fetch", "--from"]).unwrap();
    fetch.arg(&certdata).assert().success();
    let empty = tempfile::tempdir().unwrap();
    let mut sync = at_day(&fx.home, "2027-06-01", &["sync", "--offline", "--root"]).unwrap();
    sync.arg(empty.path()).assert().success();
    let out = doctor_at(&fx.home, "2027-08-30").unwrap();
    assert_eq!(findings(&out, "mozilla age"), Vec::<Value>::new());
    let out = doctor_at(&fx.home, "2027-09-15").unwrap();
    let found = findings(&out, "mozilla age");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.contains("are 106 days old (as of 2027-06-01)"),
        "{message}"
    );
}

#[test]
fn doctor_warns_when_the_last_refresh_failed_until_one_succeeds() {
    let fx = Fx::new();
    let home = &fx.synced.home;
    let doctor = || within_deadline(cabundle(home).args(["doctor", "--json"]));
    assert_eq!(findings(&doctor(), "refresh"), Vec::<Value>::new());

    let missing = fx.synced.dir().join("gone/certdata.txt");
    cabundle(home)
        .args(["fetch", "--from"])
        .arg(&missing)
        .assert()
        .failure();
    let found = findings(&doctor(), "refresh");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["level"], "warning");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the last refresh of Mozilla's roots ("),
        "{message}"
    );
    assert!(message.contains(") failed: fetch from "), "{message}");
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(!message.contains("succeeded"), "{message}");
    let shown = text(&fx.ok(&["status"]).stdout);
    assert!(
        shown.contains("last refresh: ") && shown.contains(", FAILED: fetch from"),
        "{shown}"
    );

    // One that succeeds clears it...
    cabundle(home)
        .args(["fetch", "--from"])
        .arg(current_certdata(fx.synced.dir()))
        .assert()
        .success();
    assert_eq!(findings(&doctor(), "refresh"), Vec::<Value>::new());
    let shown = text(&fx.ok(&["status"]).stdout);
    assert!(shown.contains(", ok (Mozilla fetched "), "{shown}");

    // ...and a failure after it names it.
    cabundle(home)
        .args(["fetch", "--from"])
        .arg(&missing)
        .assert()
        .failure();
    let found = findings(&doctor(), "refresh");
    let message = found[0]["message"].as_str().unwrap();
    assert!(
        message.contains("; the last that succeeded was on "),
        "{message}"
    );
}
