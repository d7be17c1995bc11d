//! conda (and mamba, which reads the same `.condarc` key): which CA file it
//! verifies with, read as conda does. conda is not asked (it takes seconds
//! to start); its files are read here.
//!
//! conda's `ssl_verify` (alias `verify_ssl`) is `true` (the default:
//! certifi, in conda's own Python), `false` (no verification: reported
//! loudly), a CA file or folder, or `truststore` (the system store, conda
//! 23.9 and later on Python 3.10 and later). conda reads it from its
//! `.condarc` files in this order, a later one winning unless an earlier
//! value is marked `#!final`: `/etc/conda/{.condarc,condarc,condarc.d/}`,
//! `/var/lib/conda/...`, `$CONDA_ROOT/...` (the base install: `CONDA_ROOT`,
//! else the one `CONDA_EXE` or the `conda` on PATH belongs to),
//! `$XDG_CONFIG_HOME/conda/...`, `~/.config/conda/...`, `~/.conda/...`,
//! `~/.condarc`, `$CONDA_PREFIX/...` (the active environment), then
//! `$CONDARC` (conda's `SEARCH_PATH`; a `condarc.d/` folder's `*.yml` and
//! `*.yaml` files in name order). `CONDA_SSL_VERIFY` beats every file.
//!
//! conda downloads with requests, whose `REQUESTS_CA_BUNDLE`, else
//! `CURL_CA_BUNDLE`, replaces the session's `verify` (psf/requests#5209):
//! either beats `ssl_verify`, `false` included. `ssl_verify: truststore`
//! is ignored behind a proxy (`proxy_servers`, or the proxy variables) by
//! conda releases without conda/conda#16253: they fall back to certifi
//! silently (conda/conda#16252). Both are said.
//!
//! The report is made when a conda, mamba or micromamba is on PATH, or
//! `~/.condarc` exists. cabundle owns `ssl_verify` in `~/.condarc` (a
//! top-level YAML key); a `ssl_verify: false` or any other value the user
//! set there is theirs, left alone unless `--force`.

use std::path::{Path, PathBuf};

use super::edit::{self, Format, Owned};
use super::pip::{missing_added, system_store};
use super::{Context, Report, State, Tool, fix, judge, pointed_at};

const KEY: Format = Format::YamlTop { key: "ssl_verify" };
const ALIAS: Format = Format::YamlTop { key: "verify_ssl" };

pub static CONDA: Tool = Tool {
    name: "conda",
    programs: &["conda", "mamba", "micromamba"],
    report,
    config: Some(Owned {
        file: user_condarc,
        format: KEY,
        value: bundle,
    }),
};

fn bundle(ctx: &Context) -> String {
    ctx.bundle.display().to_string()
}

fn user_condarc(ctx: &Context) -> PathBuf {
    ctx.in_home(".condarc")
}

/// conda's `SEARCH_PATH` on Linux, before expansion.
const SEARCH_PATH: &[&str] = &[
    "/etc/conda/.condarc",
    "/etc/conda/condarc",
    "/etc/conda/condarc.d/",
    "/var/lib/conda/.condarc",
    "/var/lib/conda/condarc",
    "/var/lib/conda/condarc.d/",
    "$CONDA_ROOT/.condarc",
    "$CONDA_ROOT/condarc",
    "$CONDA_ROOT/condarc.d/",
    "$XDG_CONFIG_HOME/conda/.condarc",
    "$XDG_CONFIG_HOME/conda/condarc",
    "$XDG_CONFIG_HOME/conda/condarc.d/",
    "~/.config/conda/.condarc",
    "~/.config/conda/condarc",
    "~/.config/conda/condarc.d/",
    "~/.conda/.condarc",
    "~/.conda/condarc",
    "~/.conda/condarc.d/",
    "~/.condarc",
    "$CONDA_PREFIX/.condarc",
    "$CONDA_PREFIX/condarc",
    "$CONDA_PREFIX/condarc.d/",
    "$CONDARC",
];

/// The base install: `CONDA_ROOT`, else the prefix of `CONDA_EXE` or of
/// the conda found (`ROOT/bin/conda`, `ROOT/condabin/conda`).
fn conda_root(ctx: &Context, program: Option<&Path>) -> Option<PathBuf> {
    if let Some(root) = ctx.var("CONDA_ROOT") {
        return Some(PathBuf::from(root));
    }
    let exe = ctx.var("CONDA_EXE").map(PathBuf::from).or_else(|| {
        program
            .filter(|p| p.ends_with("conda"))
            .map(Path::to_path_buf)
    })?;
    let exe = std::fs::canonicalize(&exe).unwrap_or(exe);
    Some(exe.parent()?.parent()?.to_path_buf())
}

/// The files conda reads, in its order, each once.
fn config_files(ctx: &Context, program: Option<&Path>) -> Vec<PathBuf> {
    let root = conda_root(ctx, program);
    let xdg = ctx
        .var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.in_home(".config"));
    let mut out: Vec<PathBuf> = Vec::new();
    for entry in SEARCH_PATH {
        let (var, rest) = match entry.split_once('/') {
            Some((head, rest)) if head.starts_with('$') || head == "~" => (head, rest),
            None => (*entry, ""),
            _ => ("", *entry),
        };
        let base = match var {
            "" => PathBuf::from("/"),
            "~" => ctx.home.clone(),
            "$CONDA_ROOT" => match &root {
                Some(r) => r.clone(),
                None => continue,
            },
            "$XDG_CONFIG_HOME" => xdg.clone(),
            v => match ctx.var(&v[1..]) {
                Some(dir) => PathBuf::from(dir),
                None => continue,
            },
        };
        let path = if rest.is_empty() {
            base
        } else {
            base.join(rest)
        };
        let found: Vec<PathBuf> = if path.is_dir() {
            let mut yaml: Vec<PathBuf> = std::fs::read_dir(&path)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| {
                            p.is_file() && p.extension().is_some_and(|e| e == "yml" || e == "yaml")
                        })
                        .collect()
                })
                .unwrap_or_default();
            yaml.sort();
            yaml
        } else if path.is_file() {
            vec![path]
        } else {
            vec![]
        };
        for f in found {
            if !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

/// One `ssl_verify` conda would take.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verify {
    On,
    Off,
    Truststore,
    Path(PathBuf),
}

impl Verify {
    /// As conda types it: booleans the way conda's `boolify` reads them,
    /// `truststore`, else a path with `$VAR` and `~` expanded.
    fn parse(ctx: &Context, value: &str) -> Verify {
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "y" => Verify::On,
            "false" | "no" | "off" | "n" | "none" => Verify::Off,
            _ if value.trim() == "truststore" => Verify::Truststore,
            _ => Verify::Path(PathBuf::from(expand(ctx, value.trim()))),
        }
    }
}

/// `$VAR`, `${VAR}` and a leading `~`, as conda's `expandvars` leaves a
/// path (an unset variable stays as written).
fn expand(ctx: &Context, value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    if let Some(r) = rest.strip_prefix("~/") {
        out.push_str(&format!("{}/", ctx.home.display()));
        rest = r;
    }
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, skip) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match ctx.env.get(name).filter(|_| !name.is_empty()) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[at..at + 1 + skip]),
        }
        rest = &after[skip..];
    }
    out.push_str(rest);
    out
}

/// The `ssl_verify` in force and where it comes from; `Err` with the file
/// that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    verify: Verify,
    from: String,
    /// The file, when one set it.
    file: Option<PathBuf>,
    /// A proxy is configured (`proxy_servers` in a file read).
    proxy_servers: bool,
}

fn resolve(ctx: &Context, files: &[PathBuf]) -> Result<Found, String> {
    let mut found = Found {
        verify: Verify::On,
        from: "its default".into(),
        file: None,
        proxy_servers: false,
    };
    let mut finalized = false;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let unreadable = |why: String| format!("{}: {why}", file.display());
        found.proxy_servers |= text.lines().any(|l| {
            l.starts_with("proxy_servers:") && !l["proxy_servers:".len()..].trim().starts_with("{}")
        });
        if finalized {
            continue;
        }
        for (format, key) in [(ALIAS, "verify_ssl"), (KEY, "ssl_verify")] {
            if let Some(value) = edit::get(format, &text).map_err(unreadable)? {
                found = Found {
                    verify: Verify::parse(ctx, &value),
                    from: format!("{}: {key}", file.display()),
                    file: Some(file.clone()),
                    ..found
                };
                finalized |= text
                    .lines()
                    .any(|l| l.starts_with(&format!("{key}:")) && l.contains("#!final"));
            }
        }
    }
    if !finalized {
        for var in ["CONDA_VERIFY_SSL", "CONDA_SSL_VERIFY"] {
            if let Some(v) = ctx.var(var) {
                found.verify = Verify::parse(ctx, v);
                found.from = var.into();
                found.file = None;
            }
        }
    }
    Ok(found)
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    let files = config_files(ctx, program.as_deref());
    decide(ctx, program, &files)
}

const PROXY_VARS: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

fn decide(ctx: &Context, program: Option<PathBuf>, files: &[PathBuf]) -> Report {
    let mut report = Report {
        tool: "conda",
        program: program.clone(),
        state: State::UsesOther,
        uses: String::new(),
        from: String::new(),
        lacks: None,
        fix: Some(fix("conda")),
    };
    let found = match resolve(ctx, files) {
        Ok(f) => f,
        Err(why) => {
            report.uses = "cannot tell: a .condarc cabundle cannot read".into();
            report.from = why;
            report.fix = Some("check that file: conda may refuse it too".into());
            return report;
        }
    };
    // The fix, when the user's ~/.condarc would not win.
    let owned = user_condarc(ctx);
    let owned_at = files.iter().position(|f| *f == owned);
    let at = |f: &Path| files.iter().position(|g| g == f);
    let fix_here = match &found.file {
        None if found.from != "its default" => Some(format!(
            "{} overrides every .condarc: change it there",
            found.from
        )),
        Some(f) if *f != owned && at(f) > owned_at => Some(format!(
            "{} overrides ~/.condarc: change it there",
            found.from
        )),
        _ => None,
    };
    let variable = ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"]
        .into_iter()
        .find_map(|v| ctx.var(v).map(|f| (v, PathBuf::from(f))));

    if let Some((var, file)) = variable {
        let overridden = match &found.verify {
            Verify::On => String::new(),
            Verify::Off => format!(" (it overrides ssl_verify: false, from {})", found.from),
            _ => format!(" (it overrides ssl_verify, from {})", found.from),
        };
        let mut r = pointed_at(ctx, "conda", program, &file, format!("{var}{overridden}"));
        if r.state != State::UsesBundle {
            r.fix = Some(format!(
                "point {var} at the bundle (eval \"$(cabundle env)\") or unset it: it overrides ssl_verify"
            ));
        }
        return r;
    }
    report.from = found.from.clone();
    match &found.verify {
        Verify::Off => {
            report.uses = "NO VERIFICATION: any certificate is accepted".into();
            report.lacks = Some("certificate verification is off (ssl_verify: false)".into());
            report.fix = Some(match &found.file {
                Some(f) if *f == owned => {
                    "remove ssl_verify: false, or cabundle install --clients conda --force".into()
                }
                _ => format!("remove ssl_verify: false ({})", found.from),
            });
        }
        Verify::Path(p) if p.is_dir() => {
            let ours = std::fs::canonicalize(p).ok() == std::fs::canonicalize(&ctx.cert_dir).ok();
            report.state = if ours {
                State::UsesBundle
            } else {
                State::UsesOther
            };
            report.uses = format!("the folder {}", p.display());
        }
        Verify::Path(p) => {
            report = pointed_at(ctx, "conda", program, p, found.from.clone());
        }
        Verify::Truststore => {
            let system = system_store(ctx);
            let via_bundle = ctx.var("SSL_CERT_FILE").is_some()
                && system
                    .as_deref()
                    .is_some_and(|s| judge(ctx, s).0 == State::UsesBundle);
            report.uses = match &system {
                Some(s) => format!("the system store ({}), through truststore", s.display()),
                None => "the system store, through truststore".into(),
            };
            report.state = if via_bundle {
                State::UsesBundle
            } else {
                State::UsesOther
            };
            let missing = missing_added(
                ctx,
                &system.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
            );
            let mut lacks = Vec::new();
            if !via_bundle && !missing.is_empty() {
                lacks.push(format!("no {} (added CA)", missing.join(", ")));
            }
            let proxy = found.proxy_servers || PROXY_VARS.iter().any(|v| ctx.var(v).is_some());
            if proxy {
                report.state = State::UsesOther;
                lacks.push(
                    "BEHIND A PROXY, conda releases without conda/conda#16253 ignore \
                     truststore and use certifi (conda/conda#16252)"
                        .into(),
                );
            }
            report.lacks = (!lacks.is_empty()).then(|| lacks.join("; "));
        }
        Verify::On => {
            report.state = State::NotSetUp;
            report.uses = "certifi (in conda's own Python)".into();
            report.from = "nothing set".into();
            report.lacks = (!ctx.added.is_empty()).then(|| {
                let names: Vec<&str> = ctx.added.iter().map(|(n, _)| n.as_str()).collect();
                format!("no {} (added CA)", names.join(", "))
            });
        }
    }
    report.fix = if report.state == State::UsesBundle {
        None
    } else if matches!(found.verify, Verify::Off) {
        report.fix
    } else {
        Some(fix_here.unwrap_or_else(|| fix("conda")))
    };
    report
}

#[cfg(test)]
mod tests {
    use super::super::pip::fixture::Fixture;
    use super::*;

    fn decide_here(f: &Fixture) -> Report {
        let files = config_files(&f.ctx, None);
        decide(&f.ctx, None, &files)
    }

    #[test]
    fn condarc_files_in_conda_order_the_last_wins_unless_final() {
        let mut f = Fixture::new();
        let (bundle, other) = (f.bundle(), f.other());
        let root = f.tmp.path().join("miniconda");
        f.set("CONDA_ROOT", root.display().to_string());
        f.write("miniconda/.condarc", &format!("ssl_verify: {bundle}\n"));
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        assert_eq!(r.from, format!("{}/.condarc: ssl_verify", root.display()));

        // ~/.condarc comes later: it wins; its alias too.
        f.write(
            "home/.condarc",
            &format!("channels:\n  - conda-forge\nverify_ssl: {other}\n"),
        );
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesOther, "{r:?}");
        assert!(r.lacks.as_deref().unwrap().contains("no corp"), "{r:?}");
        assert_eq!(r.fix.as_deref(), Some("cabundle install --clients conda"));

        // A condarc.d file of the root, marked final: nothing later counts.
        f.write(
            "miniconda/condarc.d/10-corp.yml",
            &format!("ssl_verify: {bundle}  #!final\n"),
        );
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        assert!(r.from.contains("10-corp.yml"), "{r:?}");
        std::fs::remove_dir_all(root.join("condarc.d")).unwrap();

        // $CONDARC comes last, and $VAR in a value is expanded.
        f.set("MY_CA", &bundle);
        let condarc = f.write("mine.yaml", "ssl_verify: ${MY_CA}\n");
        f.set("CONDARC", condarc.display().to_string());
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        f.write("mine.yaml", &format!("ssl_verify: {other}\n"));
        let r = decide_here(&f);
        assert!(
            r.fix.as_deref().unwrap().contains("change it there"),
            "{r:?}"
        );

        // CONDA_SSL_VERIFY beats every file; REQUESTS_CA_BUNDLE beats that.
        f.set("CONDA_SSL_VERIFY", &bundle);
        assert_eq!(decide_here(&f).state, State::UsesBundle);
        f.set("REQUESTS_CA_BUNDLE", &other);
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesOther, "{r:?}");
        assert!(
            r.from.starts_with("REQUESTS_CA_BUNDLE (it overrides"),
            "{r:?}"
        );
    }

    #[test]
    fn ssl_verify_false_is_loud_and_truststore_behind_a_proxy_too() {
        let mut f = Fixture::new();
        f.write("home/.condarc", "ssl_verify: False\n");
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesOther);
        assert!(r.uses.starts_with("NO VERIFICATION"), "{r:?}");
        assert!(r.fix.as_deref().unwrap().contains("--force"), "{r:?}");

        f.write("home/.condarc", "ssl_verify: truststore\n");
        f.set("SSL_CERT_FILE", f.bundle());
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesBundle, "{r:?}");
        f.write(
            "home/.condarc",
            "ssl_verify: truststore\nproxy_servers:\n  https: http://proxy:3128\n",
        );
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesOther, "{r:?}");
        assert!(
            r.lacks.as_deref().unwrap().contains("conda/conda#16252"),
            "{r:?}"
        );

        f.write("home/.condarc", "channels: [conda-forge]\n");
        let r = decide_here(&f);
        assert_eq!(r.state, State::NotSetUp, "{r:?}");
        assert!(r.uses.starts_with("certifi"), "{r:?}");
    }

    #[test]
    fn a_condarc_that_cannot_be_read_is_said() {
        let f = Fixture::new();
        f.write("home/.condarc", "{ssl_verify: false}\n");
        let r = decide_here(&f);
        assert_eq!(r.state, State::UsesOther);
        assert!(r.from.contains("flow style"), "{r:?}");
    }

    #[test]
    fn values_are_typed_and_expanded_as_conda_does() {
        let mut f = Fixture::new();
        f.set("HOMEDIR", "/h");
        assert_eq!(Verify::parse(&f.ctx, "Yes"), Verify::On);
        assert_eq!(Verify::parse(&f.ctx, "off"), Verify::Off);
        assert_eq!(Verify::parse(&f.ctx, "truststore"), Verify::Truststore);
        assert_eq!(
            Verify::parse(&f.ctx, "$HOMEDIR/${HOMEDIR}/$UNSET/x"),
            Verify::Path("/h//h/$UNSET/x".into())
        );
        let home = f.ctx.home.display().to_string();
        assert_eq!(expand(&f.ctx, "~/ca.pem"), format!("{home}/ca.pem"));
    }
}
