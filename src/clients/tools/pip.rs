//! pip: which CA file it verifies with, read as pip does.
//!
//! pip's `cert` option names a CA file. Like every pip option it comes
//! from, lowest first: the `[global]` section of each config file, then
//! the section of the command (`[install]` for `pip install`, `[download]`
//! for `pip download`), then the `PIP_CERT` variable. Within a section the
//! files are read in this order, a later one winning: the global ones
//! (`$XDG_CONFIG_DIRS/pip/pip.conf`, default `/etc/xdg/pip/pip.conf`, then
//! `/etc/pip.conf`), the user's (the legacy `~/.pip/pip.conf`, then
//! `$XDG_CONFIG_HOME/pip/pip.conf`), the environment's
//! (`sys.prefix/pip.conf`: the venv's), then `PIP_CONFIG_FILE`. A
//! `PIP_CONFIG_FILE` that exists turns the user's files off; one that is
//! `/dev/null` turns every file off. An empty value counts as unset. pip
//! itself is asked which files it reads (`pip config debug`: only it knows
//! its `sys.prefix`) and its version (`pip --version`); the files are then
//! read here, as configparser reads them. A file pip cannot load stops
//! every pip command: that is reported, with pip's own words.
//!
//! pip's `cert` sets its requests session's `verify`, which requests
//! replaces with `REQUESTS_CA_BUNDLE`, else `CURL_CA_BUNDLE`, whenever one
//! is set (pypa/pip#10147, psf/requests#5209): those variables beat even
//! `PIP_CERT`. pip's `proxy` option turns that off (it sets the session's
//! `trust_env` to false). With none of them, pip uses its bundled certifi.
//!
//! pip 24.2 and later, on Python 3.10 and later, verify through truststore
//! (unless `use-deprecated = legacy-certs`; from 22.2, `use-feature =
//! truststore` turns it on): the system store (OpenSSL's default file,
//! `SSL_CERT_FILE` when set), pip's certifi and the file chosen above are
//! then all trusted, added up, not the one file alone ("HTTPS
//! certificates" in pip's documentation; checked with pip 25.1 and 23.2).
//!
//! cabundle owns `cert` in `[global]` of the user's file: the XDG one
//! (`~/.config/pip/pip.conf`), or the legacy `~/.pip/pip.conf` when only
//! that one exists, as `pip config --user` picks.
//!
//! The other tools of this family (npm, conda, uv) share the helpers at
//! the end: asking a program within a deadline, the system store, and the
//! added CAs a set of files lacks.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

use super::edit::{Format, Owned};
use super::{Context, Report, State, Tool, fix, judge, pointed_at};
use crate::cert::Sha256;

pub static PIP: Tool = Tool {
    name: "pip",
    programs: &["pip", "pip3"],
    report,
    config: Some(Owned {
        file: user_config,
        format: Format::Ini {
            section: "global",
            key: "cert",
        },
        value: bundle,
    }),
};

fn bundle(ctx: &Context) -> String {
    ctx.bundle.display().to_string()
}

/// The user's config file, as `pip config --user set` picks it: the XDG
/// one, unless only the legacy one exists.
fn user_config(ctx: &Context) -> PathBuf {
    let xdg = user_xdg(ctx);
    let legacy = ctx.in_home(".pip/pip.conf");
    if !xdg.exists() && legacy.exists() {
        legacy
    } else {
        xdg
    }
}

/// `$XDG_CONFIG_HOME/pip/pip.conf` (platformdirs takes any non-blank
/// value), else `~/.config/pip/pip.conf`.
fn user_xdg(ctx: &Context) -> PathBuf {
    match ctx.var("XDG_CONFIG_HOME").filter(|v| !v.trim().is_empty()) {
        Some(dir) => Path::new(dir).join("pip/pip.conf"),
        None => ctx.in_home(".config/pip/pip.conf"),
    }
}

/// The kinds of pip's config files, in the order it reads them.
const KINDS: &[&str] = &["global", "user", "base", "site", "env"];

/// What pip said of itself, when it could be asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Asked {
    /// Its config files (kind, path), in the order it reads them; `None`
    /// when it could not say.
    files: Option<Vec<(String, PathBuf)>>,
    /// pip cannot load its configuration: its own words.
    broken: Option<String>,
    version: Option<Version>,
}

/// `pip --version`: "pip 24.2 from DIR (python 3.12)".
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    pip: (u32, u32),
    python: (u32, u32),
    /// pip's package folder.
    dir: PathBuf,
}

impl Version {
    fn parse(line: &str) -> Option<Version> {
        let rest = line.trim().strip_prefix("pip ")?;
        let (version, rest) = rest.split_once(" from ")?;
        let (dir, python) = rest.rsplit_once(" (python ")?;
        Some(Version {
            pip: major_minor(version)?,
            python: major_minor(python.trim_end_matches(')'))?,
            dir: PathBuf::from(dir),
        })
    }

    /// pip's bundled certifi, where a pip that vendors it keeps it.
    fn certifi(&self) -> Option<PathBuf> {
        Some(self.dir.join("_vendor/certifi/cacert.pem")).filter(|p| p.is_file())
    }
}

/// "24.2.1" → (24, 2).
pub(super) fn major_minor(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()
        .map(|m| {
            m.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    Some((major, minor))
}

/// Ask `pip` which files it reads and its version (both at once: each is
/// a Python start).
fn ask_pip(ctx: &Context, pip: &Path) -> Asked {
    let (debug, version) = std::thread::scope(|s| {
        let debug = s.spawn(|| ask(ctx, pip, &["config", "debug"]));
        let version = ask(ctx, pip, &["--version"]);
        (debug.join().ok().flatten(), version)
    });
    let mut asked = Asked {
        version: version
            .filter(|v| v.ok)
            .and_then(|v| Version::parse(&v.stdout)),
        ..Asked::default()
    };
    match debug {
        Some(d) if d.ok => asked.files = Some(parse_config_debug(&d.stdout)),
        // What pip says when a file stops it ("Configuration file could not
        // be loaded."); anything else (a shim's complaint) is no answer.
        Some(d) if d.stderr.contains("onfiguration file") => {
            asked.broken = Some(
                d.stderr
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        _ => {}
    }
    asked
}

/// The files `pip config debug` lists, in the order pip reads them (it
/// prints its kinds sorted by name: they are put back in order here).
fn parse_config_debug(text: &str) -> Vec<(String, PathBuf)> {
    let mut kind = String::new();
    let mut listed = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') {
            kind = line.trim_end_matches(':').to_string();
            continue;
        }
        // A file is indented by two spaces; its values by four.
        if line.starts_with("   ") {
            continue;
        }
        let file = line
            .trim()
            .strip_suffix(", exists: True")
            .or_else(|| line.trim().strip_suffix(", exists: False"));
        if let Some(file) = file {
            listed.push((kind.clone(), PathBuf::from(file)));
        }
    }
    let mut files = Vec::new();
    for k in KINDS {
        files.extend(listed.iter().filter(|(kind, _)| kind == k).cloned());
    }
    files
}

/// pip's files as its documentation gives them, when pip cannot say.
fn documented_files(ctx: &Context, pip: Option<&Path>) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    let dirs = ctx
        .var("XDG_CONFIG_DIRS")
        .unwrap_or("/etc/xdg")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("pip/pip.conf"));
    for f in dirs.chain([PathBuf::from("/etc/pip.conf")]) {
        files.push(("global".to_string(), f));
    }
    if !env_file(ctx).is_some_and(|f| f.exists()) {
        files.push(("user".into(), ctx.in_home(".pip/pip.conf")));
        files.push(("user".into(), user_xdg(ctx)));
    }
    // A venv's bin/pip: its sys.prefix is the venv.
    if let Some(prefix) = pip.and_then(Path::parent).and_then(Path::parent) {
        files.push(("site".into(), prefix.join("pip.conf")));
    }
    if let Some(f) = env_file(ctx) {
        files.push(("env".into(), f));
    }
    files
}

fn env_file(ctx: &Context) -> Option<PathBuf> {
    ctx.env
        .get("PIP_CONFIG_FILE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// One `section.key = value` of a config file, as pip normalizes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    section: String,
    key: String,
    value: String,
}

/// An INI file as configparser (`RawConfigParser`, as pip makes it) reads
/// it, or what it refuses it for: a line before any section, a line that
/// is neither a section nor `key = value` / `key: value`, a section or a
/// key twice. Keys are lowercased with `_` as `-`; sections are kept as
/// written (configparser's are case-sensitive: `[Global]` is not pip's);
/// an indented line continues the value before it; `#` and `;` start
/// comment lines only.
fn parse_ini(text: &str) -> Result<Vec<Entry>, String> {
    let mut out: Vec<Entry> = Vec::new();
    let mut sections: HashSet<String> = HashSet::new();
    let mut section: Option<String> = None;
    let mut last: Option<usize> = None;
    let mut keys: HashSet<(String, String)> = HashSet::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if line.is_empty() {
            last = None;
            continue;
        }
        if raw.starts_with([' ', '\t'])
            && let Some(at) = last
        {
            out[at].value = format!("{}\n{line}", out[at].value);
            continue;
        }
        if line.starts_with('[') && line.ends_with(']') && line.len() > 2 {
            let name = line[1..line.len() - 1].to_string();
            if !sections.insert(name.clone()) {
                return Err(format!("line {n}: section [{name}] a second time"));
            }
            section = Some(name);
            last = None;
            continue;
        }
        let Some(current) = &section else {
            return Err(format!("line {n}: text before any [section]"));
        };
        let Some(at) = line.find(['=', ':']) else {
            return Err(format!("line {n}: neither a [section] nor key = value"));
        };
        let key = line[..at]
            .trim()
            .to_ascii_lowercase()
            .replace('_', "-")
            .trim_start_matches("--")
            .to_string();
        if key.is_empty() {
            return Err(format!("line {n}: a value without a key"));
        }
        if !keys.insert((current.clone(), key.clone())) {
            return Err(format!("line {n}: {key} a second time in [{current}]"));
        }
        out.push(Entry {
            section: current.clone(),
            key,
            value: line[at + 1..].trim().to_string(),
        });
        last = Some(out.len() - 1);
    }
    Ok(out)
}

/// A pip option as pip resolves it, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Setting {
    value: String,
    /// "PIP_CERT", "/etc/pip.conf [global] cert".
    from: String,
    /// The file and section, for one set in a file.
    file: Option<(PathBuf, String)>,
}

/// The config files read, with their entries: what the options of one
/// pip command resolve from.
struct Config {
    files: Vec<(PathBuf, Vec<Entry>)>,
}

impl Config {
    /// `name` (normalized) for `command`: `[global]` in every file, then
    /// `[command]` in every file, then `PIP_NAME`; the last non-empty one
    /// wins.
    fn get(&self, ctx: &Context, name: &str, command: &str) -> Option<Setting> {
        let mut found = None;
        for section in ["global", command] {
            for (path, entries) in &self.files {
                for e in entries {
                    if e.section == section && e.key == name && !e.value.is_empty() {
                        found = Some(Setting {
                            value: e.value.clone(),
                            from: format!("{} [{section}] {name}", path.display()),
                            file: Some((path.clone(), section.to_string())),
                        });
                    }
                }
            }
        }
        let var = format!("PIP_{}", name.to_ascii_uppercase().replace('-', "_"));
        if let Some(v) = ctx.var(&var) {
            found = Some(Setting {
                value: v.to_string(),
                from: var,
                file: None,
            });
        }
        found
    }
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    let asked = program
        .as_deref()
        .map(|pip| ask_pip(ctx, pip))
        .unwrap_or_default();
    decide(ctx, program, &asked)
}

/// The report, from what pip said (`asked`) and the files it reads.
fn decide(ctx: &Context, program: Option<PathBuf>, asked: &Asked) -> Report {
    let mut report = Report {
        tool: "pip",
        program: program.clone(),
        state: State::UsesOther,
        uses: String::new(),
        from: String::new(),
        lacks: None,
        fix: Some(fix("pip")),
    };
    let stopped = |report: &mut Report, why: String| {
        report.uses = "nothing: pip stops at its configuration".into();
        report.from = why;
        report.fix = Some("repair that file (pip refuses to run while it is there)".into());
    };
    if let Some(why) = &asked.broken {
        stopped(&mut report, format!("pip says: {why}"));
        return report;
    }
    let mut files = match &asked.files {
        Some(files) => files.clone(),
        None => documented_files(ctx, program.as_deref()),
    };
    if env_file(ctx).is_some_and(|f| f == Path::new("/dev/null")) {
        files.clear();
    }
    let mut config = Config { files: Vec::new() };
    for (_, path) in &files {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        match parse_ini(&text) {
            Ok(entries) => config.files.push((path.clone(), entries)),
            Err(why) => {
                stopped(&mut report, format!("{}: {why}", path.display()));
                return report;
            }
        }
    }

    let command = "install";
    let proxy = config.get(ctx, "proxy", command);
    let cert = config.get(ctx, "cert", command);
    // requests' variables replace the session's verify unless pip's
    // proxy option turned trust_env off.
    let variable = proxy
        .is_none()
        .then(|| {
            ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
                .into_iter()
                .find_map(|v| ctx.var(v).map(|f| (v, f)))
        })
        .flatten();
    let chosen: Option<(PathBuf, String)> = match (variable, &cert) {
        (Some((var, file)), Some(c)) => Some((
            PathBuf::from(file),
            format!("{var} (it overrides pip's cert, from {})", c.from),
        )),
        (Some((var, file)), None) => Some((PathBuf::from(file), var.to_string())),
        (None, Some(c)) => Some((PathBuf::from(&c.value), c.from.clone())),
        (None, None) => None,
    };
    let version = asked.version.as_ref();
    let certifi = version.and_then(Version::certifi);
    let certifi_words = match &certifi {
        Some(f) => format!("pip's bundled certifi ({})", f.display()),
        None => "pip's bundled certifi".to_string(),
    };
    let truststore = version.is_some_and(|v| {
        let deprecated = config
            .get(ctx, "use-deprecated", command)
            .is_some_and(|s| s.value.contains("legacy-certs"));
        let feature = config
            .get(ctx, "use-feature", command)
            .is_some_and(|s| s.value.contains("truststore"));
        v.python >= (3, 10) && ((v.pip >= (24, 2) && !deprecated) || (v.pip >= (22, 2) && feature))
    });

    if truststore {
        // Everything adds up: the chosen file, the system store, certifi.
        let system = system_store(ctx);
        let system_is_bundle = ctx.var("SSL_CERT_FILE").is_some()
            && system
                .as_deref()
                .is_some_and(|s| judge(ctx, s).0 == State::UsesBundle);
        let chosen_is_bundle = chosen
            .as_ref()
            .is_some_and(|(f, _)| judge(ctx, f).0 == State::UsesBundle);
        let system_words = match &system {
            Some(s) => format!("the system store ({})", s.display()),
            None => "the system store".to_string(),
        };
        let mut parts: Vec<String> = Vec::new();
        if let Some((f, _)) = &chosen {
            parts.push(f.display().to_string());
        }
        parts.push(system_words);
        parts.push(certifi_words);
        report.uses = format!("{} (truststore trusts them all)", parts.join(", "));
        report.from = match &chosen {
            Some((_, from)) => from.clone(),
            None if system_is_bundle => "SSL_CERT_FILE (truststore reads it)".into(),
            None => "nothing set".into(),
        };
        if chosen_is_bundle || system_is_bundle {
            report.state = State::UsesBundle;
            report.fix = None;
            if !chosen_is_bundle {
                report.from = "SSL_CERT_FILE (truststore reads it)".into();
            }
        } else {
            report.state = if chosen.is_some() {
                State::UsesOther
            } else {
                State::NotSetUp
            };
            let mut files: Vec<&Path> = Vec::new();
            files.extend(chosen.as_ref().map(|(f, _)| f.as_path()));
            files.extend(system.as_deref());
            files.extend(certifi.as_deref());
            let missing = missing_added(ctx, &files);
            report.lacks =
                (!missing.is_empty()).then(|| format!("no {} (added CA)", missing.join(", ")));
        }
    } else if let Some((file, from)) = &chosen {
        report = pointed_at(ctx, "pip", program, file, from.clone());
    } else {
        report.state = State::NotSetUp;
        report.uses = certifi_words;
        report.from = "nothing set".into();
        report.lacks = match certifi.as_deref() {
            Some(f) => judge(ctx, f).1,
            None => {
                let missing = missing_added(ctx, &[]);
                (!missing.is_empty()).then(|| format!("no {} (added CA)", missing.join(", ")))
            }
        };
    }
    if report.state == State::UsesBundle {
        return report;
    }

    // What the fix is, when the user's [global] cert would not win.
    let owned = user_config(ctx);
    let position = |file: &Path| files.iter().position(|(_, p)| p == file);
    let owned_at = position(&owned);
    report.fix = Some(if let Some((var, _)) = variable {
        format!(
            "point {var} at the bundle (eval \"$(cabundle env)\") or unset it: it overrides pip's cert"
        )
    } else if cert.as_ref().is_some_and(|c| c.file.is_none()) {
        "point PIP_CERT at the bundle (eval \"$(cabundle env)\") or unset it: it overrides pip's config files".into()
    } else if owned_at.is_none() {
        match env_file(ctx) {
            Some(f) if f == Path::new("/dev/null") => "PIP_CONFIG_FILE=/dev/null turns pip's config files off: set PIP_CERT (eval \"$(cabundle env)\")".into(),
            Some(f) => format!(
                "set cert in {} (PIP_CONFIG_FILE: pip reads no user config while it is set)",
                f.display()
            ),
            None => "pip reads no user config here: set PIP_CERT (eval \"$(cabundle env)\")".into(),
        }
    } else if let Some(Setting {
        file: Some((file, section)),
        from,
        ..
    }) = &cert
        && (section != "global" || position(file) > owned_at)
    {
        format!("{from} overrides the user's [global] cert: change it there")
    } else {
        fix("pip")
    });
    report
}

// ---------------------------------------------------------------------------
// Shared by the tools of this family.

/// How long a tool gets to answer a question about its configuration.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// What a program answered.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// `program ARGS`, run as the user would run it: in the home folder, with
/// the context's environment and nothing else, stdin closed. `None` when
/// it cannot run or does not answer within [`ASK_TIMEOUT`] (it is then
/// killed).
pub(super) fn ask(ctx: &Context, program: &Path, args: &[&str]) -> Option<Answer> {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(&ctx.home)
        .env_clear()
        .envs(&ctx.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take()?));
    let err = drain(Box::new(child.stderr.take()?));
    let status = match child.wait_timeout(ASK_TIMEOUT) {
        Ok(Some(status)) => status,
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
    };
    Some(Answer {
        ok: status.success(),
        stdout: out.join().ok()?,
        stderr: err.join().ok()?,
    })
}

/// Where the distributions keep the system store as one file.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system store as OpenSSL finds it: `SSL_CERT_FILE` when it names a
/// file, else the distribution's bundle.
pub(super) fn system_store(ctx: &Context) -> Option<PathBuf> {
    ctx.var("SSL_CERT_FILE")
        .map(PathBuf::from)
        .filter(|f| f.is_file())
        .or_else(|| {
            SYSTEM_BUNDLES
                .iter()
                .map(PathBuf::from)
                .find(|f| f.is_file())
        })
}

/// The added CAs that none of `files` holds, by name.
pub(super) fn missing_added(ctx: &Context, files: &[&Path]) -> Vec<String> {
    let mut held: HashSet<Sha256> = HashSet::new();
    for f in files {
        if let Ok(bytes) = crate::decode::read_bounded(f) {
            held.extend(
                crate::decode::decode(&bytes)
                    .items
                    .into_iter()
                    .map(|i| i.cert.sha256),
            );
        }
    }
    let mut names: Vec<String> = ctx
        .added
        .iter()
        .filter(|(_, sha)| !held.contains(sha))
        .map(|(name, _)| name.clone())
        .collect();
    names.dedup();
    names
}

#[cfg(test)]
pub(super) mod fixture {
    //! A hand-built [`Context`] for the tools' unit tests: a home, a bundle
    //! of three embedded roots and one "corp" CA (added), and a file of the
    //! same roots without it.

    use std::fs;
    use std::path::PathBuf;

    use super::super::Context;

    pub struct Fixture {
        pub tmp: tempfile::TempDir,
        pub ctx: Context,
        /// The three roots without the added CA.
        pub other: PathBuf,
    }

    impl Fixture {
        pub fn new() -> Fixture {
            let tmp = tempfile::tempdir().unwrap();
            let roots = crate::test_support::roots();
            let (corp, public) = (&roots[0], &roots[1..4]);
            let pem =
                |certs: &[&crate::cert::Cert]| certs.iter().map(|c| c.to_pem()).collect::<String>();
            let public: Vec<_> = public.iter().collect();
            let mut all = public.clone();
            all.push(corp);
            let bundle = tmp.path().join("state/ca-bundle.pem");
            fs::create_dir_all(bundle.parent().unwrap()).unwrap();
            fs::write(&bundle, pem(&all)).unwrap();
            let other = tmp.path().join("other.pem");
            fs::write(&other, pem(&public)).unwrap();
            let home = tmp.path().join("home");
            fs::create_dir_all(&home).unwrap();
            let mut ctx = Context::for_test(&home, &[]);
            ctx.bundle = bundle;
            ctx.cert_dir = tmp.path().join("state/certs");
            ctx.bundle_certs = all.iter().map(|c| c.sha256).collect();
            ctx.added = vec![("corp".into(), corp.sha256)];
            Fixture { tmp, ctx, other }
        }

        pub fn set(&mut self, var: &str, value: impl Into<String>) {
            self.ctx.env.insert(var.into(), value.into());
        }

        /// Write `text` to `rel` below the temp folder; its path.
        pub fn write(&self, rel: &str, text: &str) -> PathBuf {
            let path = self.tmp.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        }

        pub fn bundle(&self) -> String {
            self.ctx.bundle.display().to_string()
        }

        pub fn other(&self) -> String {
            self.other.display().to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::Fixture;
    use super::*;

    fn pip_version(pip: (u32, u32), python: (u32, u32)) -> Option<Version> {
        Some(Version {
            pip,
            python,
            dir: PathBuf::from("/nowhere/pip"),
        })
    }

    /// pip asked, listing these files as (kind, path).
    fn asked(files: &[(&str, &Path)], version: Option<Version>) -> Asked {
        Asked {
            files: Some(
                files
                    .iter()
                    .map(|(k, p)| (k.to_string(), p.to_path_buf()))
                    .collect(),
            ),
            broken: None,
            version,
        }
    }

    #[test]
    fn the_answers_of_pip_are_read() {
        let v = Version::parse("pip 24.2 from /usr/lib/python3/dist-packages/pip (python 3.12)\n")
            .unwrap();
        assert_eq!((v.pip, v.python), ((24, 2), (3, 12)));
        assert_eq!(v.dir, Path::new("/usr/lib/python3/dist-packages/pip"));
        let debug = "env_var:\n  PIP_CERT='/x'\nenv:\nglobal:\n  /etc/xdg/pip/pip.conf, exists: False\n  \
                     /etc/pip.conf, exists: True\n    global.cert: /y\nsite:\n  /v/pip.conf, exists: False\n\
                     user:\n  /h/.pip/pip.conf, exists: False\n  /h/.config/pip/pip.conf, exists: True\n";
        let files: Vec<String> = parse_config_debug(debug)
            .into_iter()
            .map(|(k, p)| format!("{k} {}", p.display()))
            .collect();
        assert_eq!(
            files,
            [
                "global /etc/xdg/pip/pip.conf",
                "global /etc/pip.conf",
                "user /h/.pip/pip.conf",
                "user /h/.config/pip/pip.conf",
                "site /v/pip.conf",
            ]
        );
    }

    #[test]
    fn ini_is_read_as_configparser_reads_it() {
        let e = parse_ini(
            "# c\n[global]\nCERT = /a.pem\nindex_url: https://x\n  more\n[install]\ncert=\n",
        )
        .unwrap();
        assert_eq!(e[0].key, "cert");
        assert_eq!(e[0].value, "/a.pem");
        assert_eq!(e[1].key, "index-url");
        assert_eq!(e[1].value, "https://x\nmore");
        assert_eq!(
            (e[2].section.as_str(), e[2].value.as_str()),
            ("install", "")
        );
        assert!(parse_ini("cert = x\n").unwrap_err().contains("before any"));
        assert!(parse_ini("[global\ncert = x\n").is_err());
        assert!(parse_ini("[global]\njust words\n").is_err());
        assert!(parse_ini("[global]\ncert = a\ncert = b\n").is_err());
        assert!(parse_ini("[global]\n[global]\n").is_err());
    }

    #[test]
    fn pip_precedence_variables_then_command_section_then_later_files() {
        let mut f = Fixture::new();
        let (bundle, other) = (f.bundle(), f.other());
        let global = f.write("etc/pip.conf", &format!("[global]\ncert = {other}\n"));
        let user = f.write(
            "home/.config/pip/pip.conf",
            &format!("[global]\ncert = {bundle}\n"),
        );
        let files = [("global", global.as_path()), ("user", user.as_path())];
        let a = asked(&files, pip_version((23, 2), (3, 11)));

        // The user's file is read after the global one: it wins.
        let r = decide(&f.ctx, None, &a);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        assert_eq!(r.from, format!("{} [global] cert", user.display()));

        // [install] anywhere beats [global] everywhere, for pip install.
        f.write(
            "etc/pip.conf",
            &format!("[global]\ncert = {bundle}\n[install]\ncert = {other}\n"),
        );
        let r = decide(&f.ctx, None, &a);
        assert_eq!(r.state, State::UsesOther);
        assert!(r.from.contains("[install] cert"), "{r:?}");
        assert!(
            r.fix.as_deref().unwrap().contains("change it there"),
            "{r:?}"
        );
        assert!(r.lacks.as_deref().unwrap().contains("no corp"), "{r:?}");
        f.write("etc/pip.conf", &format!("[global]\ncert = {other}\n"));

        // PIP_CERT beats the files...
        f.set("PIP_CERT", &other);
        let r = decide(&f.ctx, None, &a);
        assert_eq!((r.state, r.from.as_str()), (State::UsesOther, "PIP_CERT"));
        // ...and REQUESTS_CA_BUNDLE beats PIP_CERT (requests' own rule).
        f.set("PIP_CERT", &bundle);
        f.set("CURL_CA_BUNDLE", &other);
        let r = decide(&f.ctx, None, &a);
        assert_eq!(r.state, State::UsesOther);
        assert!(r.from.starts_with("CURL_CA_BUNDLE"), "{r:?}");
        f.set("REQUESTS_CA_BUNDLE", &bundle);
        let r = decide(&f.ctx, None, &a);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        assert!(r.from.starts_with("REQUESTS_CA_BUNDLE"), "{r:?}");
        // pip's proxy option turns requests' variables off.
        f.set("REQUESTS_CA_BUNDLE", &other);
        f.set("PIP_PROXY", "http://proxy.example:3128");
        let r = decide(&f.ctx, None, &a);
        assert_eq!((r.state, r.from.as_str()), (State::UsesBundle, "PIP_CERT"));
    }

    #[test]
    fn pip_config_file_variable_turns_the_user_files_off() {
        let mut f = Fixture::new();
        let bundle = f.bundle();
        let user = f.write(
            "home/.config/pip/pip.conf",
            &format!("[global]\ncert = {bundle}\n"),
        );
        let legacy = f.ctx.in_home(".pip/pip.conf");
        let mine = f.write("mine.conf", "[global]\ntimeout = 5\n");
        f.set(
            "XDG_CONFIG_DIRS",
            f.tmp.path().join("xdg").display().to_string(),
        );
        let kinds = |ctx: &Context| -> Vec<(String, PathBuf)> {
            documented_files(ctx, Some(Path::new("/venv/bin/pip")))
        };
        let xdg_global = f.tmp.path().join("xdg/pip/pip.conf");
        let global = [
            ("global".to_string(), xdg_global.clone()),
            ("global".to_string(), PathBuf::from("/etc/pip.conf")),
        ];
        let site = ("site".to_string(), PathBuf::from("/venv/pip.conf"));
        let mut expected = global.to_vec();
        expected.push(("user".into(), legacy.clone()));
        expected.push(("user".into(), user.clone()));
        expected.push(site.clone());
        assert_eq!(kinds(&f.ctx), expected);
        // A PIP_CONFIG_FILE that exists: no user files, it comes last.
        f.set("PIP_CONFIG_FILE", mine.display().to_string());
        let mut expected = global.to_vec();
        expected.push(site);
        expected.push(("env".into(), mine.clone()));
        assert_eq!(kinds(&f.ctx), expected);

        // As pip lists them then: the user's cert is not read.
        let listed = asked(&[("global", &xdg_global), ("env", &mine)], None);
        let r = decide(&f.ctx, None, &listed);
        assert_eq!(r.state, State::NotSetUp, "{r:?}");
        assert!(
            r.fix.as_deref().unwrap().contains("PIP_CONFIG_FILE"),
            "{r:?}"
        );
        // /dev/null: no file at all, whatever pip lists.
        f.set("PIP_CONFIG_FILE", "/dev/null");
        let listed = asked(&[("user", &user)], None);
        let r = decide(&f.ctx, None, &listed);
        assert_eq!(r.state, State::NotSetUp, "{r:?}");
        assert!(r.fix.as_deref().unwrap().contains("/dev/null"), "{r:?}");
        f.ctx.env.remove("PIP_CONFIG_FILE");
        let r = decide(&f.ctx, None, &listed);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
    }

    #[test]
    fn a_file_pip_cannot_load_stops_it() {
        let f = Fixture::new();
        let bad = f.write("home/.config/pip/pip.conf", "[global\ncert = x\n");
        let r = decide(&f.ctx, None, &asked(&[("user", &bad)], None));
        assert_eq!(r.state, State::UsesOther);
        assert!(r.uses.contains("stops"), "{r:?}");
        assert!(r.from.contains("line 1"), "{r:?}");
        let said = Asked {
            broken: Some("Configuration file could not be loaded.".into()),
            ..Asked::default()
        };
        let r = decide(&f.ctx, None, &said);
        assert!(r.from.contains("pip says"), "{r:?}");
    }

    #[test]
    fn truststore_adds_the_system_store_and_certifi_to_the_chosen_file() {
        let mut f = Fixture::new();
        let (bundle, other) = (f.bundle(), f.other());
        let new = pip_version((24, 2), (3, 12));
        // Nothing set: the system store and certifi.
        let r = decide(&f.ctx, None, &asked(&[], new.clone()));
        assert_eq!(r.state, State::NotSetUp);
        assert!(r.uses.contains("truststore"), "{r:?}");
        // SSL_CERT_FILE is OpenSSL's default file: truststore reads it.
        f.set("SSL_CERT_FILE", &bundle);
        let r = decide(&f.ctx, None, &asked(&[], new.clone()));
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        // ...even with a cert of another file: they add up.
        f.set("PIP_CERT", &other);
        let r = decide(&f.ctx, None, &asked(&[], new.clone()));
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        // Older pip, or Python 3.9, or legacy-certs: certifi or the file alone.
        for v in [pip_version((24, 1), (3, 12)), pip_version((24, 2), (3, 9))] {
            let r = decide(&f.ctx, None, &asked(&[], v));
            assert_eq!(r.state, State::UsesOther, "{r:?}");
        }
        f.set("PIP_USE_DEPRECATED", "legacy-certs");
        let r = decide(&f.ctx, None, &asked(&[], new));
        assert_eq!(r.state, State::UsesOther, "{r:?}");
    }

    #[test]
    fn the_users_file_is_the_xdg_one_unless_only_the_legacy_one_exists() {
        let mut f = Fixture::new();
        let xdg = f.ctx.in_home(".config/pip/pip.conf");
        assert_eq!(user_config(&f.ctx), xdg);
        let legacy = f.write("home/.pip/pip.conf", "[global]\n");
        assert_eq!(user_config(&f.ctx), legacy);
        f.write("home/.config/pip/pip.conf", "");
        assert_eq!(user_config(&f.ctx), xdg);
        let elsewhere = f.tmp.path().join("xdg");
        f.set("XDG_CONFIG_HOME", elsewhere.display().to_string());
        assert_eq!(user_config(&f.ctx), legacy);
    }
}
