//! uv: which roots it verifies with. Reported only: uv has no setting
//! that points it at a CA file, so cabundle writes none; the fix is
//! `SSL_CERT_FILE` (`cabundle env` sets it).
//!
//! uv (rustls) trusts, highest first: the files of `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` when set (they replace every other source; a
//! `SSL_CERT_FILE` that does not exist is ignored); else the system store
//! with `--system-certs` / `UV_SYSTEM_CERTS=true` / `system-certs = true`
//! (before, `--native-tls` / `UV_NATIVE_TLS` / `native-tls = true`); else
//! the Mozilla roots built into uv (webpki-roots). uv reads neither
//! `REQUESTS_CA_BUNDLE` nor pip's `cert` (astral-sh/uv#2020; "TLS
//! certificates" in uv's documentation). Its settings come from
//! `UV_CONFIG_FILE` alone when set (none with `UV_NO_CONFIG`), else the
//! user's `uv.toml` (`$XDG_CONFIG_HOME/uv/uv.toml`, `~/.config/uv/uv.toml`)
//! over the system's (`$XDG_CONFIG_DIRS/uv/uv.toml`, `/etc/uv/uv.toml`); a
//! project's own `uv.toml` or `pyproject.toml` is not read here (the
//! report is the user's, from the home folder), nor a command line.

use std::path::{Path, PathBuf};

use super::pip::{missing_added, system_store};
use super::{Context, Report, State, Tool, pointed_at};

pub static UV: Tool = Tool {
    name: "uv",
    programs: &["uv"],
    report,
    config: None,
};

/// The fix for uv: the variable it reads.
const FIX: &str =
    "eval \"$(cabundle env)\" (uv reads SSL_CERT_FILE; it has no setting cabundle writes)";

/// A boolean as uv's environment variables take it.
fn truthy(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" | "t" => Some(true),
        "0" | "false" | "no" | "off" | "n" | "f" => Some(false),
        _ => None,
    }
}

/// uv's config files, lowest first.
fn config_files(ctx: &Context) -> Vec<PathBuf> {
    if let Some(file) = ctx.var("UV_CONFIG_FILE") {
        return vec![PathBuf::from(file)];
    }
    if ctx.var("UV_NO_CONFIG").and_then(truthy) == Some(true) {
        return vec![];
    }
    let system = ctx
        .var("XDG_CONFIG_DIRS")
        .unwrap_or("")
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join("uv/uv.toml"))
        .chain([PathBuf::from("/etc/uv/uv.toml")])
        .find(|f| f.is_file());
    let user = match ctx.var("XDG_CONFIG_HOME") {
        Some(dir) => Path::new(dir).join("uv/uv.toml"),
        None => ctx.in_home(".config/uv/uv.toml"),
    };
    system.into_iter().chain([user]).collect()
}

/// Whether uv uses the system store, and what says so.
fn system_certs(ctx: &Context, files: &[PathBuf]) -> Option<String> {
    for var in ["UV_SYSTEM_CERTS", "UV_NATIVE_TLS"] {
        if let Some(on) = ctx.var(var).and_then(truthy) {
            return on.then(|| var.to_string());
        }
    }
    let mut found = None;
    for file in files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            continue;
        };
        for key in ["native-tls", "system-certs"] {
            if let Some(on) = table.get(key).and_then(toml::Value::as_bool) {
                found = on.then(|| format!("{}: {key} = true", file.display()));
            }
        }
    }
    found
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    let files = config_files(ctx);
    decide(ctx, program, &files)
}

fn decide(ctx: &Context, program: Option<PathBuf>, files: &[PathBuf]) -> Report {
    let with_fix = |mut r: Report| {
        r.fix = (r.state != State::UsesBundle).then(|| FIX.to_string());
        r
    };
    let file = ctx.var("SSL_CERT_FILE").map(PathBuf::from);
    if let Some(f) = file.as_ref().filter(|f| f.exists()) {
        return with_fix(pointed_at(ctx, "uv", program, f, "SSL_CERT_FILE".into()));
    }
    let ignored = if file.is_some() {
        " (SSL_CERT_FILE names a file that is not there, which uv ignores)"
    } else {
        ""
    };
    if let Some(dirs) = ctx.var("SSL_CERT_DIR") {
        let ours = std::fs::canonicalize(&ctx.cert_dir).ok();
        let has_ours = dirs
            .split(':')
            .any(|d| ours.is_some() && std::fs::canonicalize(d).ok() == ours);
        return with_fix(Report {
            tool: "uv",
            program,
            state: if has_ours {
                State::UsesBundle
            } else {
                State::UsesOther
            },
            uses: format!("the certificates in {dirs}"),
            from: format!("SSL_CERT_DIR{ignored}"),
            lacks: None,
            fix: None,
        });
    }
    if let Some(from) = system_certs(ctx, files) {
        let from = format!("{from}{ignored}");
        return with_fix(match system_store(ctx) {
            Some(store) => {
                let mut r = pointed_at(ctx, "uv", program, &store, from);
                r.uses = format!("the system store ({})", store.display());
                r
            }
            None => Report {
                tool: "uv",
                program,
                state: State::UsesOther,
                uses: "the system store".into(),
                from,
                lacks: None,
                fix: None,
            },
        });
    }
    let missing = missing_added(ctx, &[]);
    with_fix(Report {
        tool: "uv",
        program,
        state: State::NotSetUp,
        uses: "the Mozilla roots built into uv".into(),
        from: format!("nothing set{ignored}"),
        lacks: (!missing.is_empty()).then(|| format!("no {} (added CA)", missing.join(", "))),
        fix: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::pip::fixture::Fixture;
    use super::*;

    fn decide_here(f: &Fixture) -> Report {
        decide(&f.ctx, None, &config_files(&f.ctx))
    }

    #[test]
    fn ssl_cert_file_then_system_certs_then_its_own_roots() {
        let mut f = Fixture::new();
        let (bundle, other) = (f.bundle(), f.other());
        let r = decide_here(&f);
        assert_eq!(r.state, State::NotSetUp);
        assert!(r.lacks.as_deref().unwrap().contains("no corp"), "{r:?}");
        assert!(r.fix.as_deref().unwrap().contains("SSL_CERT_FILE"), "{r:?}");

        // uv ignores requests' and pip's settings.
        f.set("REQUESTS_CA_BUNDLE", &bundle);
        f.set("PIP_CERT", &bundle);
        assert_eq!(decide_here(&f).state, State::NotSetUp);

        // native-tls in the user's uv.toml, then UV_SYSTEM_CERTS=false over it.
        f.write("home/.config/uv/uv.toml", "native-tls = true\n");
        let r = decide_here(&f);
        assert!(r.uses.starts_with("the system store"), "{r:?}");
        assert!(r.from.ends_with("uv.toml: native-tls = true"), "{r:?}");
        f.set("UV_SYSTEM_CERTS", "false");
        assert_eq!(decide_here(&f).state, State::NotSetUp);

        // SSL_CERT_FILE replaces everything; a missing one is ignored.
        f.set("SSL_CERT_FILE", "/nonexistent/ca.pem");
        let r = decide_here(&f);
        assert_eq!(r.state, State::NotSetUp);
        assert!(r.from.contains("not there"), "{r:?}");
        f.set("SSL_CERT_FILE", &other);
        assert_eq!(decide_here(&f).state, State::UsesOther);
        f.set("SSL_CERT_FILE", &bundle);
        let r = decide_here(&f);
        assert_eq!((r.state, r.fix), (State::UsesBundle, None));
    }

    #[test]
    fn uv_config_file_alone_or_none() {
        let mut f = Fixture::new();
        f.write("home/.config/uv/uv.toml", "system-certs = true\n");
        assert!(decide_here(&f).uses.starts_with("the system store"));
        let mine = f.write("mine.toml", "[pip]\nindex-url = \"https://x\"\n");
        f.set("UV_CONFIG_FILE", mine.display().to_string());
        assert_eq!(decide_here(&f).state, State::NotSetUp);
        f.ctx.env.remove("UV_CONFIG_FILE");
        f.set("UV_NO_CONFIG", "1");
        assert_eq!(decide_here(&f).state, State::NotSetUp);
    }
}
