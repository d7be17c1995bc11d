use crate::cli::{ScheduleAction, ScheduleArgs, ScheduleScope};
use cabundle::date;
use cabundle::error::{Error, Result};
use cabundle::schedule::{self, Disabled, Enabled, Host, How, Installed, Scope, Status};
use cabundle::state::Paths;

use super::{out, out_json, say};

pub fn run(paths: &Paths, args: &ScheduleArgs) -> Result<()> {
    match &args.action {
        ScheduleAction::Enable(s) => {
            let host = host(s, true)?;
            show_enabled(&schedule::enable(paths, &host)?, &host);
            Ok(())
        }
        ScheduleAction::Disable(s) => {
            let host = host(s, true)?;
            show_disabled(&schedule::disable(paths, &host)?, &host, paths);
            Ok(())
        }
        ScheduleAction::Status(a) => {
            let status = schedule::status(paths, &host(&a.scope, false)?)?;
            match a.json {
                true => out_json(&status),
                false => out(&render_status(&status)),
            }
        }
    }
}

/// This machine, for the scope asked. The system's schedule is root's to
/// change.
fn host(s: &ScheduleScope, changes: bool) -> Result<Host> {
    let scope = if s.user { Scope::User } else { Scope::System };
    if changes && scope == Scope::System && !cabundle::system::is_root() {
        return Err(Error::Schedule(
            "the system's schedule (/etc/systemd/system, /etc/cron.d) needs root: run it with \
             sudo, or give --user for your own"
                .into(),
        ));
    }
    Host::this_machine(scope)
}

/// How a schedule is kept, in a few words.
fn how(i: &Installed) -> String {
    match &i.how {
        How::Systemd { files, .. } => format!(
            "a systemd timer ({})",
            files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        How::CronFile { file } => format!("a cron file ({})", file.path.display()),
        How::Crontab { .. } => "a line in your crontab (crontab -l)".into(),
    }
}

fn show_enabled(done: &Enabled, host: &Host) {
    let scope = done.scope.name();
    let i = &done.installed;
    if done.already {
        say!(
            "already scheduled ({scope}), since {}: {}; nothing was changed (`cabundle schedule \
             disable{}` first, to change it)",
            date::day(i.at),
            how(i),
            user_flag(host)
        );
        return;
    }
    say!("scheduled ({scope}): `{}` weekly, as {}", i.command, how(i));
    match &i.how {
        How::Systemd { .. } => {
            say!(
                "the timer fires once a week (OnCalendar=weekly), up to 12 h later at random; a \
                 run missed while the machine was off is made up at the next start"
            );
            for line in &done.ran {
                say!("ran: {line}");
            }
            for line in &done.to_run {
                say!("systemd is not running here: start the timer with `{line}` once it is");
            }
            if host.scope == Scope::User {
                say!(
                    "a user timer runs while your systemd user manager does: `loginctl \
                     enable-linger` keeps it running when you are logged out"
                );
            }
        }
        How::CronFile { .. } | How::Crontab { .. } => say!(
            "no systemd here, so cron runs it; cron mails what it prints, which it does only \
             when the refresh fails"
        ),
    }
}

fn show_disabled(done: &Disabled, host: &Host, paths: &Paths) {
    if !done.recorded {
        say!(
            "no {} schedule recorded in {}: nothing to remove",
            host.scope.name(),
            paths.config_dir.join("schedule.json").display()
        );
        return;
    }
    for line in &done.ran {
        say!("ran: {line}");
    }
    for path in &done.removed {
        let changed = match done.changed.contains(path) {
            true => " (changed since enable wrote it)",
            false => "",
        };
        say!("removed {}{changed}", path.display());
    }
    if done.crontab_lines > 0 {
        say!(
            "took {} out of your crontab",
            cabundle::cert::count(done.crontab_lines, "line")
        );
    }
    if done.missing_lines > 0 {
        say!(
            "{} enable added to your crontab {} no longer there",
            cabundle::cert::count(done.missing_lines, "line"),
            if done.missing_lines == 1 {
                "was"
            } else {
                "were"
            }
        );
    }
    say!("the {} schedule is gone", host.scope.name());
}

fn user_flag(host: &Host) -> &'static str {
    match host.scope {
        Scope::User => " --user",
        Scope::System => "",
    }
}

fn render_status(s: &Status) -> String {
    let scope = s.scope.name();
    let flag = match s.scope {
        Scope::User => " --user",
        Scope::System => "",
    };
    let mut text = String::new();
    match &s.installed {
        Some(i) => {
            text.push_str(&format!(
                "schedule ({scope}): weekly since {}, as {}\n  runs: {}\n",
                date::day(i.at),
                how(i),
                i.command
            ));
            match &i.how {
                How::Systemd { .. } => text.push_str(&format!(
                    "  next run: systemctl{flag} list-timers {}.timer\n",
                    schedule::UNIT
                )),
                How::Crontab { lines, .. } => {
                    for line in lines {
                        text.push_str(&format!("  {line}\n"));
                    }
                }
                How::CronFile { .. } => {}
            }
            for path in &s.missing {
                text.push_str(&format!(
                    "  warning: {} is gone since (`cabundle schedule disable{flag}`, then \
                     enable, puts it back)\n",
                    path.display()
                ));
            }
            if s.exe_missing {
                text.push_str(&format!(
                    "  warning: {}, which the job runs, is gone: the job fails. Run `cabundle \
                     schedule disable{flag}` and `enable{flag}` with the cabundle you use now\n",
                    i.exe.display()
                ));
            }
        }
        None => {
            let sudo = match s.scope {
                Scope::System => "sudo ",
                Scope::User => "",
            };
            text.push_str(&format!(
                "schedule ({scope}): none (`{sudo}cabundle schedule enable{flag}` adds one)\n"
            ));
            for path in &s.unrecorded {
                text.push_str(&format!(
                    "  but {} is there, which this cabundle did not add (its record is in \
                     another config folder, or a package added it)\n",
                    path.display()
                ));
            }
        }
    }
    match &s.last_refresh {
        None => text.push_str("last refresh: none yet (`cabundle sync --refresh`)\n"),
        Some(last) => match &last.error {
            None => text.push_str(&format!(
                "last refresh: {}, ok{}\n",
                date::instant(last.at),
                last.last_success
                    .as_ref()
                    .map(|s| format!(" (Mozilla {})", s.version))
                    .unwrap_or_default()
            )),
            Some(e) => {
                text.push_str(&cabundle::cert::printable(&format!(
                    "last refresh: {}, FAILED: {e}",
                    date::instant(last.at)
                )));
                text.push('\n');
                if let Some(ok) = &last.last_success {
                    text.push_str(&format!(
                        "  the last that succeeded: {} (Mozilla {})\n",
                        date::instant(ok.at),
                        ok.version
                    ));
                }
            }
        },
    }
    if let Some(m) = &s.mozilla {
        let days = (date::now().unix() - m.current_as_of.unix()).div_euclid(86_400);
        text.push_str(&format!(
            "the bundle's Mozilla roots: {}, current as of {} ({days} days ago)\n",
            m.version,
            date::day(m.current_as_of)
        ));
    }
    text
}
