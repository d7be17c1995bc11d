//! systemd user services: the TLS variables of the user manager's
//! environment, from `environment.d`, and a file of cabundle's own there.
//!
//! The user manager runs `systemd-environment-d-generator` at start and
//! on `systemctl --user daemon-reload`; it reads `*.conf` files of
//! `KEY=VALUE` lines from `$XDG_CONFIG_HOME/environment.d` (else
//! `~/.config/environment.d`), `/etc/environment.d`, `/run/...`,
//! `/usr/local/lib/...` and `/usr/lib/...`, all sorted by file name
//! together, a later file overriding an earlier one's keys
//! (environment.d(5)). Every service it starts inherits the result, and
//! desktop sessions that import its environment (GNOME, KDE) hand it to
//! what they start. Only the user's own folder is read here.
//!
//! cabundle owns `60-cabundle.conf` there, whole: every variable `cabundle
//! env` sets ([`crate::clients::env::VARS`]), each to the bundle or the
//! hashed folder. It is used when every one of them ends at that value
//! (a later file may set one elsewhere), not set up when none is set.
//! Values are written bare, or double-quoted with `"`, `\`, `` ` `` and `$`
//! escaped; the generator expands `$VAR` in values even so, so a bundle
//! path holding `$` is not carried. cron reads none of this: see the
//! README.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::edit::{Format, Owned};
use super::{Context, Report, State, Tool, fix, judge};
use crate::clients::env::{self, VARS};

pub static SYSTEMD: Tool = Tool {
    name: "systemd",
    programs: &["systemctl"],
    report,
    config: Some(Owned {
        file: own_file,
        format: Format::Whole,
        value: contents,
    }),
};

/// The file cabundle owns.
pub const FILE: &str = "60-cabundle.conf";

fn folder(ctx: &Context) -> PathBuf {
    ctx.in_config("environment.d")
}

fn own_file(ctx: &Context) -> PathBuf {
    folder(ctx).join(FILE)
}

/// What each variable should be.
fn expected(ctx: &Context) -> Vec<(&'static str, String)> {
    let bundle = ctx.bundle.to_string_lossy();
    let dir = ctx.cert_dir.to_string_lossy();
    VARS.iter()
        .map(|v| (*v, env::value(v, &*bundle, &*dir).to_string()))
        .collect()
}

/// The whole file cabundle writes.
fn contents(ctx: &Context) -> String {
    let mut out = String::from(
        "# Written by `cabundle install --clients systemd`: the TLS variables of\n\
         # `cabundle env`, for systemd user services (environment.d(5)) and the\n\
         # desktop sessions that import their environment. `cabundle uninstall\n\
         # --clients systemd` removes this file.\n",
    );
    for (var, value) in expected(ctx) {
        out += &format!("{var}={}\n", quote(&value));
    }
    out
}

/// A value as an environment.d line holds it: bare when nothing in it is
/// special there, else in double quotes.
fn quote(value: &str) -> String {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._+,@%:=~-".contains(c));
    if bare {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// The `KEY=VALUE` lines of one environment.d file: comments (`#`, `;`)
/// and blank lines skipped, a quoted value unquoted.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|raw| {
            let line = raw.trim();
            if line.is_empty() || line.starts_with(['#', ';']) {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            Some((key.trim().to_string(), unquote(value.trim())))
        })
        .collect()
}

fn unquote(value: &str) -> String {
    if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Each variable as the user's environment.d files leave it: its value
/// and the file that set it last.
fn effective(dir: &Path) -> BTreeMap<String, (String, PathBuf)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "conf") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    let mut out = BTreeMap::new();
    for file in files {
        let Ok(bytes) = crate::decode::read_bounded(&file) else {
            continue;
        };
        for (key, value) in parse(&String::from_utf8_lossy(&bytes)) {
            out.insert(key, (value, file.clone()));
        }
    }
    out
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    let set = effective(&folder(ctx));
    let expected = expected(ctx);
    let first = |var: &str| set.get(var);
    if expected.iter().all(|(var, _)| first(var).is_none()) {
        return Report {
            tool: "systemd",
            program,
            state: State::NotSetUp,
            uses: "each service's own default".into(),
            from: "nothing set".into(),
            lacks: None,
            fix: Some(fix("systemd")),
        };
    }
    let (mut missing, mut elsewhere) = (Vec::new(), Vec::new());
    for (var, want) in &expected {
        match first(var) {
            None => missing.push(*var),
            Some((value, file)) if value != want => {
                elsewhere.push(format!("{var} set to {value} by {}", file.display()));
            }
            Some(_) => {}
        }
    }
    let (uses, from) = match first("SSL_CERT_FILE") {
        Some((value, file)) => (value.clone(), format!("{}: SSL_CERT_FILE", file.display())),
        None => ("each service's own default".into(), "nothing set".into()),
    };
    if missing.is_empty() && elsewhere.is_empty() {
        return Report {
            tool: "systemd",
            program,
            state: State::UsesBundle,
            uses,
            from,
            lacks: None,
            fix: None,
        };
    }
    let mut lacks = Vec::new();
    if let Some((value, _)) = first("SSL_CERT_FILE").filter(|(v, _)| Path::new(v) != ctx.bundle)
        && let (_, Some(words)) = judge(ctx, Path::new(value))
    {
        lacks.push(words);
    }
    if !missing.is_empty() {
        lacks.push(format!("not set: {}", missing.join(", ")));
    }
    lacks.extend(elsewhere);
    Report {
        tool: "systemd",
        program,
        state: State::UsesOther,
        uses,
        from,
        lacks: Some(lacks.join("; ")),
        fix: Some(fix("systemd")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(home: &Path, env: &[(&str, &str)]) -> Context {
        Context::for_test(home, env)
    }
    #[test]
    fn our_file_then_what_a_later_file_overrides() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        let c = ctx(home, &[]);
        assert_eq!(
            own_file(&c),
            home.join(".config/environment.d/60-cabundle.conf")
        );
        assert_eq!(report(&c, None).state, State::NotSetUp);
        let text = contents(&c);
        // Every variable of `cabundle env`, read back as written.
        let parsed: BTreeMap<String, String> = parse(&text).into_iter().collect();
        let want: BTreeMap<String, String> = expected(&c)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(parsed, want);
        std::fs::create_dir_all(folder(&c)).unwrap();
        std::fs::write(own_file(&c), &text).unwrap();
        let r = report(&c, None);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        // An earlier file is overridden by ours; a later one overrides ours.
        std::fs::write(folder(&c).join("10-old.conf"), "SSL_CERT_FILE=/old.pem\n").unwrap();
        assert_eq!(report(&c, None).state, State::UsesBundle);
        std::fs::write(
            folder(&c).join("90-corp.conf"),
            "# corp\nSSL_CERT_FILE=\"/corp.pem\"\n",
        )
        .unwrap();
        let r = report(&c, None);
        assert_eq!(r.state, State::UsesOther);
        assert_eq!(r.uses, "/corp.pem");
        assert!(r.lacks.unwrap().contains("90-corp.conf"));
        // XDG_CONFIG_HOME moves the folder.
        let xdg = home.join("xdg");
        let c = ctx(home, &[("XDG_CONFIG_HOME", xdg.to_str().unwrap())]);
        assert_eq!(own_file(&c), xdg.join("environment.d/60-cabundle.conf"));
        assert_eq!(quote("/a b/$x\"y"), "\"/a b/\\$x\\\"y\"");
        assert_eq!(unquote(&quote("/a b/$x\"y\\")), "/a b/$x\"y\\");
    }
}
