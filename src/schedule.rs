//! `schedule`: fresh Mozilla roots on a schedule, opt-in. `enable` makes
//! the system (or the user's session) run `cabundle sync --refresh` once a
//! week: a systemd timer where there is systemd, else a cron entry. What
//! it adds is recorded (`schedule.json` in the config folder), so `disable`
//! removes exactly that; `status` says what is there and how the last
//! refresh went.
//!
//! Where things go and what runs is a [`Host`]: the real one comes from
//! [`Host::this_machine`], a test's names temp folders and stand-in
//! programs. Nothing here prints.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::cert::Sha256;
use crate::date::{self, Timestamp};
use crate::error::{Error, IoContext, Result};
use crate::state::{self, Paths};
use crate::system::find_program;

/// The units' name: `cabundle-refresh.service` and `.timer`.
pub const UNIT: &str = "cabundle-refresh";
/// The file in `/etc/cron.d`.
pub const CRON_FILE: &str = "cabundle";
/// Marks what cabundle wrote: the comment that starts each unit file and
/// cron file, and the line above its entry in a user's crontab.
pub const MARKER: &str =
    "# Added by `cabundle schedule enable`; `cabundle schedule disable` removes it.";

/// Whose schedule: the system's (root, `/etc`) or the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    System,
    User,
}

impl Scope {
    /// `systemctl`'s flag for it.
    fn systemctl_args(self) -> &'static [&'static str] {
        match self {
            Scope::System => &[],
            Scope::User => &["--user"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Scope::System => "system",
            Scope::User => "user",
        }
    }
}

/// The machine a schedule goes on: where each kind of file goes, which
/// programs there are, what the job runs.
#[derive(Debug, Clone)]
pub struct Host {
    pub scope: Scope,
    /// Where unit files go: `/etc/systemd/system`, or the user's
    /// `~/.config/systemd/user`.
    pub unit_dir: PathBuf,
    /// systemd runs the system (`/run/systemd/system`), and for the user
    /// scope, the user's own manager runs too (`$XDG_RUNTIME_DIR/systemd`):
    /// `systemctl` can enable the timer now.
    pub systemd_running: bool,
    /// `systemctl`, when systemd is installed.
    pub systemctl: Option<PathBuf>,
    /// `/etc/cron.d` (the system scope's cron), when it is there.
    pub cron_d: Option<PathBuf>,
    /// `crontab` (the user scope's cron), when it is installed.
    pub crontab: Option<PathBuf>,
    /// The cabundle the job runs: this one.
    pub exe: PathBuf,
    /// `CABUNDLE_HOME`, which the job gets too, when it is set.
    pub home: Option<PathBuf>,
}

impl Host {
    /// This machine, for `scope`.
    pub fn this_machine(scope: Scope) -> Result<Host> {
        let exe = std::env::current_exe().map_err(|e| Error::io("<current executable>", e))?;
        let running = Path::new("/run/systemd/system").is_dir();
        let (unit_dir, systemd_running) = match scope {
            Scope::System => (PathBuf::from("/etc/systemd/system"), running),
            Scope::User => {
                let dirs = directories::BaseDirs::new().ok_or(Error::NoHome)?;
                // The user's manager keeps its runtime folder there while it
                // runs; without it `systemctl --user` has no one to talk to
                // (su, ssh without lingering, cron).
                let manager = std::env::var_os("XDG_RUNTIME_DIR")
                    .filter(|d| !d.is_empty())
                    .is_some_and(|d| Path::new(&d).join("systemd").is_dir());
                (dirs.config_dir().join("systemd/user"), running && manager)
            }
        };
        Ok(Host {
            scope,
            unit_dir,
            systemd_running,
            systemctl: find_program("systemctl"),
            cron_d: Some(PathBuf::from("/etc/cron.d")).filter(|d| d.is_dir()),
            crontab: find_program("crontab"),
            exe,
            home: state::home_override(),
        })
    }

    fn timer(&self) -> PathBuf {
        self.unit_dir.join(format!("{UNIT}.timer"))
    }

    fn service(&self) -> PathBuf {
        self.unit_dir.join(format!("{UNIT}.service"))
    }

    /// The link `systemctl enable` makes for the timer.
    fn wants_link(&self) -> PathBuf {
        self.unit_dir
            .join("timers.target.wants")
            .join(format!("{UNIT}.timer"))
    }
}

/// Every schedule `enable` added, by scope (`schedule.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<Installed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Installed>,
}

impl Record {
    fn path(paths: &Paths) -> PathBuf {
        paths.config_dir.join("schedule.json")
    }

    pub fn load(paths: &Paths) -> Result<Record> {
        state::load_record(&Record::path(paths))
    }

    fn save(&self, paths: &Paths) -> Result<()> {
        state::save_record(&Record::path(paths), self)
    }

    pub fn get(&self, scope: Scope) -> Option<&Installed> {
        match scope {
            Scope::System => self.system.as_ref(),
            Scope::User => self.user.as_ref(),
        }
    }

    fn slot(&mut self, scope: Scope) -> &mut Option<Installed> {
        match scope {
            Scope::System => &mut self.system,
            Scope::User => &mut self.user,
        }
    }
}

/// One schedule, as `enable` added it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// When it was added.
    pub at: Timestamp,
    /// The job's command line, as written.
    pub command: String,
    /// The cabundle it runs.
    pub exe: PathBuf,
    pub how: How,
}

/// What `enable` added, exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum How {
    /// `cabundle-refresh.service` and `.timer`, and whether `enable` ran
    /// `systemctl enable --now` on the timer.
    Systemd {
        files: Vec<Written>,
        enabled_now: bool,
    },
    /// `/etc/cron.d/cabundle`.
    CronFile { file: Written },
    /// These lines, appended to the user's crontab; `had_crontab`: whether
    /// there was one before.
    Crontab {
        lines: Vec<String>,
        had_crontab: bool,
    },
}

/// A file `enable` wrote, and the SHA-256 of what it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub path: PathBuf,
    pub sha256: Sha256,
}

/// What `enable` did.
#[derive(Debug)]
pub struct Enabled {
    pub scope: Scope,
    pub installed: Installed,
    /// It was there already: nothing was changed.
    pub already: bool,
    /// The commands still to run to start it (systemd not running here),
    /// or nothing.
    pub to_run: Vec<String>,
    /// What was run (`systemctl daemon-reload`, `enable --now`).
    pub ran: Vec<String>,
}

/// The engine of `schedule enable`.
pub fn enable(paths: &Paths, host: &Host) -> Result<Enabled> {
    let _lock = paths.lock()?;
    let mut record = Record::load(paths)?;
    if let Some(installed) = record.get(host.scope) {
        return Ok(Enabled {
            scope: host.scope,
            installed: installed.clone(),
            already: true,
            to_run: Vec::new(),
            ran: Vec::new(),
        });
    }
    let command = job_command(host)?;
    let at = date::now();
    let mut to_run = Vec::new();
    let mut ran = Vec::new();
    let how = if host.systemd_running || host.systemctl.is_some() {
        let files = [
            (host.service(), service_unit(host)?),
            (host.timer(), timer_unit()),
        ];
        state::create_dir(&host.unit_dir)?;
        let mut written = Vec::new();
        for (path, text) in &files {
            state::write_atomic_mode(path, text.as_bytes(), 0o644)?;
            written.push(Written {
                path: path.clone(),
                sha256: Sha256::of(text.as_bytes()),
            });
        }
        let how = How::Systemd {
            files: written,
            enabled_now: host.systemd_running,
        };
        // Recorded before systemctl runs: whatever it does, `disable`
        // knows what to take out.
        *record.slot(host.scope) = Some(Installed {
            at,
            command: command.clone(),
            exe: host.exe.clone(),
            how: how.clone(),
        });
        record.save(paths)?;
        let enable_now = ["enable", "--now", &format!("{UNIT}.timer")].map(String::from);
        match (&host.systemctl, host.systemd_running) {
            (Some(systemctl), true) => {
                for args in [vec!["daemon-reload".to_string()], enable_now.to_vec()] {
                    ran.push(systemctl_line(host.scope, &args));
                    run(systemctl, host.scope.systemctl_args(), &args)?;
                }
            }
            _ => to_run.push(systemctl_line(host.scope, &enable_now)),
        }
        how
    } else {
        let how = match (host.scope, &host.cron_d, &host.crontab) {
            (Scope::System, Some(cron_d), _) => {
                let path = cron_d.join(CRON_FILE);
                let text = cron_file(&command);
                state::write_atomic_mode(&path, text.as_bytes(), 0o644)?;
                How::CronFile {
                    file: Written {
                        path,
                        sha256: Sha256::of(text.as_bytes()),
                    },
                }
            }
            (Scope::User, _, Some(crontab)) => {
                let before = crontab_list(crontab)?;
                let lines = vec![MARKER.to_string(), cron_entry(&command, None)];
                let mut text = before.clone().unwrap_or_default();
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                for line in &lines {
                    text.push_str(line);
                    text.push('\n');
                }
                crontab_install(crontab, &text)?;
                How::Crontab {
                    lines,
                    had_crontab: before.is_some(),
                }
            }
            _ => return Err(Error::Schedule(no_scheduler(host))),
        };
        *record.slot(host.scope) = Some(Installed {
            at,
            command: command.clone(),
            exe: host.exe.clone(),
            how: how.clone(),
        });
        record.save(paths)?;
        how
    };
    Ok(Enabled {
        scope: host.scope,
        installed: Installed {
            at,
            command,
            exe: host.exe.clone(),
            how,
        },
        already: false,
        to_run,
        ran,
    })
}

/// Why there is nowhere to put a schedule.
fn no_scheduler(host: &Host) -> String {
    let cron = match host.scope {
        Scope::System => "/etc/cron.d",
        Scope::User => "crontab",
    };
    format!(
        "neither systemd (systemctl) nor cron ({cron}) is here, so nothing would run the job; \
         nothing was written. Run `cabundle sync --refresh` from whatever runs jobs here"
    )
}

/// What `disable` did.
#[derive(Debug, Default)]
pub struct Disabled {
    /// There was a schedule for that scope.
    pub recorded: bool,
    /// Files removed.
    pub removed: Vec<PathBuf>,
    /// Of those, the ones changed since `enable` wrote them.
    pub changed: Vec<PathBuf>,
    /// Lines taken out of the crontab.
    pub crontab_lines: usize,
    /// Recorded lines no longer in the crontab (someone took them out).
    pub missing_lines: usize,
    /// What was run.
    pub ran: Vec<String>,
}

/// The engine of `schedule disable`: exactly what `enable` recorded for
/// the scope goes, and the record of it.
pub fn disable(paths: &Paths, host: &Host) -> Result<Disabled> {
    let _lock = paths.lock()?;
    let mut record = Record::load(paths)?;
    let Some(installed) = record.slot(host.scope).take() else {
        return Ok(Disabled::default());
    };
    let mut done = Disabled {
        recorded: true,
        ..Disabled::default()
    };
    match &installed.how {
        How::Systemd { files, .. } => {
            let systemctl = host.systemctl.as_ref().filter(|_| host.systemd_running);
            // A timer whose file is gone already is no unit to disable
            // (systemctl would fail on it).
            if let Some(systemctl) = systemctl.filter(|_| host.timer().exists()) {
                let args = ["disable", "--now", &format!("{UNIT}.timer")].map(String::from);
                done.ran.push(systemctl_line(host.scope, &args));
                run(systemctl, host.scope.systemctl_args(), &args)?;
            } else {
                // Enabled by hand since (`systemctl enable` with systemd
                // down makes just this link): it would dangle.
                let link = host.wants_link();
                if fs::read_link(&link).is_ok_and(|to| to.file_name() == host.timer().file_name()) {
                    fs::remove_file(&link).at(&link)?;
                    done.removed.push(link);
                }
            }
            for file in files {
                remove_written(file, &mut done)?;
            }
            if let Some(systemctl) = systemctl {
                let args = ["daemon-reload".to_string()];
                done.ran.push(systemctl_line(host.scope, &args));
                run(systemctl, host.scope.systemctl_args(), &args)?;
            }
        }
        How::CronFile { file } => remove_written(file, &mut done)?,
        How::Crontab { lines, had_crontab } => {
            let crontab = host.crontab.as_ref().ok_or_else(|| {
                Error::Schedule(
                    "the schedule is a line in your crontab, but there is no `crontab` program \
                     on PATH to take it out; nothing was changed"
                        .into(),
                )
            })?;
            let text = crontab_list(crontab)?.unwrap_or_default();
            let (rest, taken) = without_lines(&text, lines);
            done.crontab_lines = taken;
            done.missing_lines = lines.len() - taken;
            if taken > 0 {
                if rest.trim().is_empty() && !had_crontab {
                    crontab_remove(crontab)?;
                } else {
                    crontab_install(crontab, &rest)?;
                }
            }
        }
    }
    record.save(paths)?;
    Ok(done)
}

/// Remove a file `enable` wrote, noting when it changed since.
fn remove_written(file: &Written, done: &mut Disabled) -> Result<()> {
    match fs::read(&file.path) {
        Ok(bytes) => {
            if Sha256::of(&bytes) != file.sha256 {
                done.changed.push(file.path.clone());
            }
            fs::remove_file(&file.path).at(&file.path)?;
            done.removed.push(file.path.clone());
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&file.path, e)),
    }
}

/// `text` without the first run of `lines` (one after the other, whole
/// lines), and how many were taken out; when they are not found together,
/// each is taken out where it is found, once.
fn without_lines(text: &str, lines: &[String]) -> (String, usize) {
    let mut kept: Vec<&str> = text.lines().collect();
    let together = kept
        .windows(lines.len().max(1))
        .position(|w| w.iter().zip(lines).all(|(a, b)| a == b));
    let taken = match together {
        Some(i) if !lines.is_empty() => {
            kept.drain(i..i + lines.len());
            lines.len()
        }
        _ => {
            let mut n = 0;
            for line in lines {
                if let Some(i) = kept.iter().position(|k| k == line) {
                    kept.remove(i);
                    n += 1;
                }
            }
            n
        }
    };
    let mut rest = kept.join("\n");
    if !rest.is_empty() {
        rest.push('\n');
    }
    (rest, taken)
}

/// What `status` found.
#[derive(Debug, Serialize)]
pub struct Status {
    pub scope: Scope,
    /// What `enable` recorded.
    pub installed: Option<Installed>,
    /// Recorded files that are gone since.
    pub missing: Vec<PathBuf>,
    /// The cabundle the job runs is gone.
    pub exe_missing: bool,
    /// A schedule in the usual place that this config folder has no record
    /// of (another install, a package's).
    pub unrecorded: Vec<PathBuf>,
    /// The last refresh, as recorded (any refresh, scheduled or not).
    pub last_refresh: Option<crate::refresh::LastAttempt>,
    /// The Mozilla set the bundle was built from, and how current it is
    /// known to be.
    pub mozilla: Option<MozillaAge>,
}

#[derive(Debug, Serialize)]
pub struct MozillaAge {
    pub version: String,
    pub current_as_of: Timestamp,
}

/// The engine of `schedule status`.
pub fn status(paths: &Paths, host: &Host) -> Result<Status> {
    let record = Record::load(paths)?;
    let installed = record.get(host.scope).cloned();
    let mut missing = Vec::new();
    if let Some(i) = &installed {
        let files: Vec<&Written> = match &i.how {
            How::Systemd { files, .. } => files.iter().collect(),
            How::CronFile { file } => vec![file],
            How::Crontab { .. } => Vec::new(),
        };
        missing.extend(
            files
                .into_iter()
                .filter(|f| !f.path.exists())
                .map(|f| f.path.clone()),
        );
    }
    let unrecorded = match &installed {
        Some(_) => Vec::new(),
        None => {
            let mut usual = vec![host.timer()];
            if host.scope == Scope::System
                && let Some(d) = &host.cron_d
            {
                usual.push(d.join(CRON_FILE));
            }
            usual.into_iter().filter(|p| p.exists()).collect()
        }
    };
    let last_refresh = crate::refresh::LastAttempt::read(paths);
    let mozilla = crate::state::manifest::Manifest::read(&paths.manifest, &paths.bundle)
        .ok()
        .map(|m| MozillaAge {
            current_as_of: crate::refresh::known_current_as_of(&m.mozilla, last_refresh.as_ref()),
            version: m.mozilla.version,
        });
    Ok(Status {
        scope: host.scope,
        exe_missing: installed.as_ref().is_some_and(|i| !i.exe.exists()),
        installed,
        missing,
        unrecorded,
        last_refresh,
        mozilla,
    })
}

/// The job: this cabundle, `sync --refresh`, with CABUNDLE_HOME when it is
/// set; as a shell command line (cron's), words quoted.
fn job_command(host: &Host) -> Result<String> {
    let mut words = Vec::new();
    if let Some(home) = &host.home {
        words.push(format!("CABUNDLE_HOME={}", sh_quote(home)?));
    }
    words.push(sh_quote(&host.exe)?);
    words.push("sync --refresh".into());
    Ok(words.join(" "))
}

/// The service unit: one `sync --refresh`, at low priority.
fn service_unit(host: &Host) -> Result<String> {
    let mut text = format!(
        "{MARKER}\n[Unit]\nDescription=Refresh cabundle's Mozilla roots and rebuild its CA bundle\n"
    );
    if host.scope == Scope::System {
        // The user manager cannot see the system's network target.
        text.push_str("Wants=network-online.target\nAfter=network-online.target\n");
    }
    text.push_str("\n[Service]\nType=oneshot\n");
    if let Some(home) = &host.home {
        text.push_str(&format!(
            "Environment={}\n",
            systemd_env(&format!("CABUNDLE_HOME={}", path_text(home)?))
        ));
    }
    text.push_str(&format!(
        "ExecStart={} sync --refresh\nNice=10\nIOSchedulingClass=idle\n",
        systemd_exe(&host.exe)?
    ));
    Ok(text)
}

/// The timer: weekly, at a time spread over half a day so that machines
/// do not all fetch at once, and run at the next boot when one was missed.
fn timer_unit() -> String {
    format!(
        "{MARKER}\n[Unit]\nDescription=Weekly refresh of cabundle's CA bundle\n\n\
         [Timer]\nOnCalendar=weekly\nRandomizedDelaySec=12h\nPersistent=true\n\n\
         [Install]\nWantedBy=timers.target\n"
    )
}

/// `/etc/cron.d/cabundle`: the entry, as root, with a PATH of its own.
fn cron_file(command: &str) -> String {
    format!(
        "{MARKER}\nSHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n{}\n",
        cron_entry(command, Some("root"))
    )
}

/// A crontab entry (with the user field, for `/etc/cron.d`): weekly at a
/// time picked now (spread, as the timer's delay is), quiet unless the job
/// fails (cron mails what a job prints).
fn cron_entry(command: &str, user: Option<&str>) -> String {
    let (minute, hour, weekday) = spread();
    let user = user.map(|u| format!(" {u}")).unwrap_or_default();
    // `%` ends a crontab command: escaped.
    let command = command.replace('%', "\\%");
    format!("{minute} {hour} * * {weekday}{user} out=$({command} 2>&1) || echo \"$out\"")
}

/// A minute, an hour and a day of the week, from the clock and the pid.
fn spread() -> (u64, u64, u64) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let seed = nanos ^ (u64::from(std::process::id()) << 32);
    (seed % 60, (seed / 60) % 24, (seed / 1440) % 7)
}

/// A path as UTF-8 text with no control character (which no unit file
/// or crontab line can carry).
fn path_text(path: &Path) -> Result<&str> {
    let unusable = |reason: &str| Error::UnusablePath {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let text = path.to_str().ok_or_else(|| unusable("not UTF-8"))?;
    if text.chars().any(char::is_control) {
        return Err(unusable(
            "holds a control character, which a unit file or crontab cannot carry",
        ));
    }
    Ok(text)
}

/// A word for /bin/sh.
fn sh_quote(path: &Path) -> Result<String> {
    let text = path_text(path)?;
    if text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:,@".contains(c))
    {
        return Ok(text.to_string());
    }
    Ok(format!("'{}'", text.replace('\'', "'\\''")))
}

/// `Environment=`'s value for systemd: double-quoted, with `\\` and `"`
/// escaped, and `%` (specifiers, which systemd expands everywhere). It
/// expands no variable there: `$` is itself.
fn systemd_env(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('%', "%%");
    format!("\"{escaped}\"")
}

/// The program in `ExecStart=`: double-quoted, `%` escaped. systemd expands
/// no variable in the program's own path, and refuses one holding a quote
/// or a backslash (systemd-analyze verify: "Executable name contains
/// special characters").
fn systemd_exe(path: &Path) -> Result<String> {
    let text = path_text(path)?;
    if text.contains(['"', '\'', '\\']) {
        return Err(Error::UnusablePath {
            path: path.to_path_buf(),
            reason: "systemd runs no program whose path holds a quote or a backslash: \
                     move cabundle elsewhere first"
                .into(),
        });
    }
    Ok(format!("\"{}\"", text.replace('%', "%%")))
}

fn systemctl_line(scope: Scope, args: &[String]) -> String {
    let mut words = vec!["systemctl"];
    words.extend(scope.systemctl_args());
    words.extend(args.iter().map(String::as_str));
    words.join(" ")
}

/// Run a program to the end; its output goes to our stderr.
fn run(program: &Path, flags: &[&str], args: &[String]) -> Result<()> {
    let stderr = std::io::stderr();
    let to_stderr = std::os::fd::AsFd::as_fd(&stderr)
        .try_clone_to_owned()
        .map_err(|e| Error::io("<stderr>", e))?;
    let status = Command::new(program)
        .args(flags)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(to_stderr))
        .status()
        .map_err(|source| Error::Exec {
            program: program.display().to_string(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Schedule(format!(
            "{} {} failed ({status})",
            program.display(),
            flags
                .iter()
                .copied()
                .chain(args.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" ")
        )))
    }
}

/// The user's crontab (`crontab -l`), or None when there is none yet.
fn crontab_list(crontab: &Path) -> Result<Option<String>> {
    let out = Command::new(crontab)
        .arg("-l")
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Exec {
            program: crontab.display().to_string(),
            source,
        })?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return String::from_utf8(out.stdout).map(Some).map_err(|_| {
            Error::Schedule(format!(
                "{} -l: the crontab is not UTF-8; nothing was changed",
                crontab.display()
            ))
        });
    }
    // Vixie cron, cronie and busybox all say so, and exit 1.
    if stderr.to_lowercase().contains("no crontab for") {
        return Ok(None);
    }
    Err(Error::Schedule(format!(
        "{} -l failed ({}): {}; nothing was changed",
        crontab.display(),
        out.status,
        crate::cert::printable(stderr.trim())
    )))
}

/// Replace the user's crontab with `text` (`crontab -`).
fn crontab_install(crontab: &Path, text: &str) -> Result<()> {
    let mut child = Command::new(crontab)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Exec {
            program: crontab.display().to_string(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(text.as_bytes())
            .map_err(|source| Error::Exec {
                program: crontab.display().to_string(),
                source,
            })?;
    }
    let out = child.wait_with_output().map_err(|source| Error::Exec {
        program: crontab.display().to_string(),
        source,
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Schedule(format!(
            "{} - failed ({}): {}",
            crontab.display(),
            out.status,
            crate::cert::printable(String::from_utf8_lossy(&out.stderr).trim())
        )))
    }
}

/// Remove the user's crontab (`crontab -r`): it held only what `enable`
/// put there.
fn crontab_remove(crontab: &Path) -> Result<()> {
    let status = Command::new(crontab)
        .arg("-r")
        .stdin(Stdio::null())
        .status()
        .map_err(|source| Error::Exec {
            program: crontab.display().to_string(),
            source,
        })?;
    match status.success() {
        true => Ok(()),
        false => Err(Error::Schedule(format!(
            "{} -r failed ({status})",
            crontab.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A shell script at `path`.
    fn script(path: &Path, body: &str) -> PathBuf {
        fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
        path.to_path_buf()
    }

    /// A stand-in `systemctl` that logs each call, one line of arguments.
    fn systemctl(dir: &Path) -> (PathBuf, PathBuf) {
        let log = dir.join("systemctl.log");
        let program = script(
            &dir.join("systemctl"),
            &format!("echo \"$*\" >> '{}'\n", log.display()),
        );
        (program, log)
    }

    fn log(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }

    /// A stand-in `crontab` keeping the crontab in `dir/crontab`, saying
    /// what Debian's says when there is none.
    fn crontab(dir: &Path) -> (PathBuf, PathBuf) {
        let file = dir.join("crontab");
        let f = file.display();
        let program = script(
            &dir.join("crontab-program"),
            &format!(
                "case \"$1\" in\n\
                 -l) [ -f '{f}' ] || {{ echo 'no crontab for tester' >&2; exit 1; }}; cat '{f}' ;;\n\
                 -) cat > '{f}' ;;\n\
                 -r) rm '{f}' ;;\n\
                 *) exit 2 ;;\n\
                 esac\n"
            ),
        );
        (program, file)
    }

    /// A host whose every place is under `dir`, with nothing to schedule
    /// with until the test says.
    fn host(dir: &Path, scope: Scope) -> Host {
        Host {
            scope,
            unit_dir: dir.join("units"),
            systemd_running: false,
            systemctl: None,
            cron_d: None,
            crontab: None,
            exe: std::env::current_exe().unwrap(),
            home: None,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// What the tests of both scopes share: paths in their own folder.
    fn setup() -> (tempfile::TempDir, Paths) {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::in_one(&tmp.path().join("home"));
        (tmp, paths)
    }

    /// systemd-analyze, or None (and the test is skipped) when
    /// CABUNDLE_TEST_ALLOW_SKIP=1 says a missing tool may skip it.
    fn systemd_analyze() -> Option<PathBuf> {
        if let Some(p) = find_program("systemd-analyze") {
            return Some(p);
        }
        assert!(
            std::env::var("CABUNDLE_TEST_ALLOW_SKIP").as_deref() == Ok("1"),
            "systemd-analyze is needed by this test (Debian: apt-get install systemd): install \
             it, or set CABUNDLE_TEST_ALLOW_SKIP=1 to skip"
        );
        eprintln!("skipped: no systemd-analyze");
        None
    }

    #[test]
    fn the_units_pass_systemd_analyze_verify() {
        let Some(analyze) = systemd_analyze() else {
            return;
        };
        let tmp = tempfile::tempdir().unwrap();
        // A cabundle and a home in folders whose names systemd would
        // otherwise read as specifiers, variables, quotes and escapes.
        let odd = tmp.path().join("odd %h $HOME \"q\" 'q' \\n");
        let bin = tmp.path().join("bin %h $HOME ${HOME}");
        fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("cabundle");
        fs::copy("/bin/true", &exe).unwrap();
        for scope in [Scope::System, Scope::User] {
            let mut h = host(&tmp.path().join(scope.name()), scope);
            h.exe = exe.clone();
            h.home = Some(odd.join("home"));
            fs::create_dir_all(&h.unit_dir).unwrap();
            fs::write(h.service(), service_unit(&h).unwrap()).unwrap();
            fs::write(h.timer(), timer_unit()).unwrap();
            let runtime = tmp.path().join(format!("runtime-{}", scope.name()));
            fs::create_dir_all(&runtime).unwrap();
            fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
            let out = Command::new(&analyze)
                .args(scope.systemctl_args())
                .arg("verify")
                .arg(h.timer())
                .arg(h.service())
                .env("XDG_RUNTIME_DIR", &runtime)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.trim().is_empty(),
                "{scope:?}: {}\n{stderr}\n{}",
                out.status,
                service_unit(&h).unwrap()
            );
        }
        // A program path systemd would refuse is refused here, with why.
        let mut h = host(tmp.path(), Scope::System);
        h.exe = odd.join("cabundle");
        let err = service_unit(&h).unwrap_err().to_string();
        assert!(err.contains("a quote or a backslash"), "{err}");
    }

    #[test]
    fn with_systemd_running_enable_starts_the_timer_and_disable_stops_it() {
        let (tmp, paths) = setup();
        let (program, calls) = systemctl(tmp.path());
        for scope in [Scope::System, Scope::User] {
            let _ = fs::remove_file(&calls);
            let mut h = host(&tmp.path().join(scope.name()), scope);
            h.systemctl = Some(program.clone());
            h.systemd_running = true;
            let done = enable(&paths, &h).unwrap();
            assert!(!done.already);
            assert!(done.to_run.is_empty());
            let flag = if scope == Scope::User { "--user " } else { "" };
            assert_eq!(
                log(&calls),
                format!("{flag}daemon-reload\n{flag}enable --now cabundle-refresh.timer\n")
            );
            assert_eq!(
                names(&h.unit_dir),
                ["cabundle-refresh.service", "cabundle-refresh.timer"]
            );
            let service = fs::read_to_string(h.service()).unwrap();
            assert!(service.starts_with(MARKER), "{service}");
            assert!(
                service.contains(&format!(
                    "ExecStart=\"{}\" sync --refresh\n",
                    h.exe.display()
                )),
                "{service}"
            );
            assert_eq!(
                service.contains("network-online.target"),
                scope == Scope::System
            );
            let mode = fs::metadata(h.timer()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
            assert!(matches!(
                Record::load(&paths).unwrap().get(scope).unwrap().how,
                How::Systemd {
                    enabled_now: true,
                    ..
                }
            ));

            // Again: nothing changes, nothing runs.
            assert!(enable(&paths, &h).unwrap().already);
            assert_eq!(log(&calls).lines().count(), 2);

            let _ = fs::remove_file(&calls);
            let gone = disable(&paths, &h).unwrap();
            assert!(gone.recorded);
            assert_eq!(gone.removed, [h.service(), h.timer()]);
            assert!(gone.changed.is_empty());
            assert_eq!(
                log(&calls),
                format!("{flag}disable --now cabundle-refresh.timer\n{flag}daemon-reload\n")
            );
            assert!(names(&h.unit_dir).is_empty());
            assert!(Record::load(&paths).unwrap().get(scope).is_none());
            // Nothing left to remove.
            assert!(!disable(&paths, &h).unwrap().recorded);
        }
    }

    #[test]
    fn a_timer_removed_by_hand_is_not_disabled_again() {
        let (tmp, paths) = setup();
        let (program, calls) = systemctl(tmp.path());
        let mut h = host(tmp.path(), Scope::System);
        h.systemctl = Some(program);
        h.systemd_running = true;
        enable(&paths, &h).unwrap();
        fs::remove_file(h.timer()).unwrap();
        let _ = fs::remove_file(&calls);
        let gone = disable(&paths, &h).unwrap();
        assert_eq!(gone.removed, [h.service()]);
        assert_eq!(log(&calls), "daemon-reload\n");
        assert!(Record::load(&paths).unwrap().get(Scope::System).is_none());
    }

    #[test]
    fn without_systemd_running_the_units_are_written_and_enabling_is_left_to_the_user() {
        let (tmp, paths) = setup();
        let (program, calls) = systemctl(tmp.path());
        let mut h = host(tmp.path(), Scope::System);
        h.systemctl = Some(program);
        h.home = Some(tmp.path().join("state home"));
        let done = enable(&paths, &h).unwrap();
        assert_eq!(
            done.to_run,
            ["systemctl enable --now cabundle-refresh.timer"]
        );
        assert!(done.ran.is_empty());
        assert_eq!(log(&calls), "", "systemctl ran");
        assert_eq!(
            done.installed.command,
            format!(
                "CABUNDLE_HOME='{}' {} sync --refresh",
                tmp.path().join("state home").display(),
                h.exe.display()
            )
        );
        let service = fs::read_to_string(h.service()).unwrap();
        assert!(
            service.contains(&format!(
                "Environment=\"CABUNDLE_HOME={}\"\n",
                tmp.path().join("state home").display()
            )),
            "{service}"
        );
        // What `systemctl enable` does with systemd down: one link. The
        // user changes the timer too.
        let wants = h.unit_dir.join("timers.target.wants");
        fs::create_dir_all(&wants).unwrap();
        std::os::unix::fs::symlink(h.timer(), h.wants_link()).unwrap();
        fs::write(h.timer(), timer_unit().replace("12h", "1h")).unwrap();
        let gone = disable(&paths, &h).unwrap();
        assert_eq!(gone.removed, [h.wants_link(), h.service(), h.timer()]);
        assert_eq!(gone.changed, [h.timer()]);
        assert_eq!(names(&h.unit_dir), ["timers.target.wants"]);
        assert!(names(&wants).is_empty());
        assert_eq!(log(&calls), "");
    }

    #[test]
    fn without_systemd_root_gets_a_cron_file() {
        let (tmp, paths) = setup();
        let mut h = host(tmp.path(), Scope::System);
        let cron_d = tmp.path().join("cron.d");
        fs::create_dir_all(&cron_d).unwrap();
        fs::write(cron_d.join("other"), "1 2 * * * root true\n").unwrap();
        h.cron_d = Some(cron_d.clone());
        let done = enable(&paths, &h).unwrap();
        let file = cron_d.join(CRON_FILE);
        assert_eq!(
            done.installed.how,
            How::CronFile {
                file: Written {
                    path: file.clone(),
                    sha256: Sha256::of(&fs::read(&file).unwrap())
                }
            }
        );
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], MARKER);
        assert_eq!(lines[1], "SHELL=/bin/sh");
        assert!(lines[2].starts_with("PATH=/usr/local/sbin:"));
        // minute hour * * weekday root command
        let fields: Vec<&str> = lines[3].splitn(7, ' ').collect();
        assert!(fields[0].parse::<u8>().unwrap() < 60, "{}", lines[3]);
        assert!(fields[1].parse::<u8>().unwrap() < 24, "{}", lines[3]);
        assert_eq!(fields[2..4], ["*", "*"]);
        assert!(fields[4].parse::<u8>().unwrap() < 7, "{}", lines[3]);
        assert_eq!(fields[5], "root");
        assert_eq!(
            fields[6],
            format!(
                "out=$({} sync --refresh 2>&1) || echo \"$out\"",
                h.exe.display()
            )
        );
        assert_eq!(lines.len(), 4);
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let gone = disable(&paths, &h).unwrap();
        assert_eq!(gone.removed, [file]);
        assert_eq!(names(&cron_d), ["other"]);
    }

    #[test]
    fn without_systemd_a_user_gets_two_lines_in_the_crontab_and_loses_exactly_those() {
        let (tmp, paths) = setup();
        let (program, file) = crontab(tmp.path());
        let mut h = host(tmp.path(), Scope::User);
        h.crontab = Some(program);
        // A crontab of the user's own.
        let before = "MAILTO=me@example.com\n# nightly\n17 3 * * * /home/me/bin/nightly\n";
        fs::write(&file, before).unwrap();
        let done = enable(&paths, &h).unwrap();
        let How::Crontab { lines, had_crontab } = &done.installed.how else {
            panic!("{:?}", done.installed.how);
        };
        assert!(had_crontab);
        assert_eq!(lines[0], MARKER);
        assert!(
            lines[1].ends_with(&format!(
                " out=$({} sync --refresh 2>&1) || echo \"$out\"",
                h.exe.display()
            )),
            "{}",
            lines[1]
        );
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            format!("{before}{}\n{}\n", lines[0], lines[1])
        );
        // The user adds a line after ours.
        let mut text = fs::read_to_string(&file).unwrap();
        text.push_str("0 0 1 * * /home/me/bin/monthly\n");
        fs::write(&file, &text).unwrap();
        let gone = disable(&paths, &h).unwrap();
        assert_eq!((gone.crontab_lines, gone.missing_lines), (2, 0));
        assert_eq!(
            fs::read_to_string(&file).unwrap(),
            format!("{before}0 0 1 * * /home/me/bin/monthly\n")
        );

        // No crontab before: none after.
        fs::remove_file(&file).unwrap();
        let done = enable(&paths, &h).unwrap();
        assert!(matches!(
            done.installed.how,
            How::Crontab {
                had_crontab: false,
                ..
            }
        ));
        assert_eq!(fs::read_to_string(&file).unwrap().lines().count(), 2);
        disable(&paths, &h).unwrap();
        assert!(!file.exists());
    }

    #[test]
    fn with_no_scheduler_nothing_is_written() {
        let (tmp, paths) = setup();
        for scope in [Scope::System, Scope::User] {
            let h = host(tmp.path(), scope);
            let err = enable(&paths, &h).unwrap_err().to_string();
            assert!(err.contains("neither systemd"), "{err}");
            assert!(!h.unit_dir.exists());
            assert!(Record::load(&paths).unwrap().get(scope).is_none());
        }
    }

    #[test]
    fn the_job_is_one_shell_command_line_whatever_the_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let odd = tmp.path().join("it's a \"dir\" $HOME `x`");
        fs::create_dir_all(&odd).unwrap();
        // Prints its arguments and CABUNDLE_HOME, as the shell gave them.
        let exe = script(
            &odd.join("cabundle"),
            "printf '%s|' \"$CABUNDLE_HOME\" \"$@\"\n",
        );
        let mut h = host(tmp.path(), Scope::User);
        h.exe = exe;
        h.home = Some(odd.join("home"));
        let command = job_command(&h).unwrap();
        let out = Command::new("/bin/sh")
            .args(["-c", &command])
            .env_remove("CABUNDLE_HOME")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{}|sync|--refresh|", odd.join("home").display())
        );
        // cron reads `%` as a new line: escaped in its entries.
        h.exe = PathBuf::from("/opt/100%/cabundle");
        let entry = cron_entry(&job_command(&h).unwrap(), None);
        assert!(entry.contains("/opt/100\\%/cabundle"), "{entry}");
        // A path no unit file or crontab line can hold is refused.
        h.exe = PathBuf::from("/opt/a\nb/cabundle");
        assert!(job_command(&h).is_err());
    }

    #[test]
    fn lines_come_out_together_else_one_by_one() {
        let lines = ["# m".to_string(), "1 2 * * 3 job".to_string()];
        assert_eq!(
            without_lines("a\n# m\n1 2 * * 3 job\nb\n", &lines),
            ("a\nb\n".to_string(), 2)
        );
        assert_eq!(
            without_lines("# m\na\n1 2 * * 3 job\n", &lines),
            ("a\n".to_string(), 2)
        );
        assert_eq!(
            without_lines("a\n1 2 * * 3 job\n", &lines),
            ("a\n".to_string(), 1)
        );
        assert_eq!(without_lines("a\n", &lines), ("a\n".to_string(), 0));
    }
}
