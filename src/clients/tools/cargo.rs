//! cargo: the CA file its libcurl verifies registries and git fetches
//! with, and `http.cainfo` in its home config.
//!
//! Its precedence (the Cargo book's "Configuration": `http.cainfo`,
//! "Hierarchical structure", "Environment variables"; curl-rust's
//! openssl-probe defaults):
//!
//! 1. `--config http.cainfo=...` on a command line (per command: not
//!    reported).
//! 2. `CARGO_HTTP_CAINFO`.
//! 3. `http.cainfo` in its config files, merged: a project's
//!    `.cargo/config.toml` from the current folder up (per folder: not
//!    reported), then `$CARGO_HOME/config.toml` (`CARGO_HOME`, else
//!    `~/.cargo`), which this reads; cargo reads the older `config`
//!    (without `.toml`) instead when it exists. A relative path there is
//!    relative to the folder above the one holding the file. A file that
//!    is not TOML stops cargo.
//! 4. Else what openssl-probe finds: `SSL_CERT_FILE` when that file
//!    exists, else the OS store's bundle.
//!
//! Whatever the CA file, cargo's libcurl also loads the CA folder
//! openssl-probe finds (`SSL_CERT_DIR`, else `/etc/ssl/certs`): cargo has
//! no key for it, so only `SSL_CERT_DIR` (`cabundle env`) closes that
//! side door. cabundle sets `[http] cainfo` in `$CARGO_HOME/config.toml`
//! (or the `config` cargo reads instead) as a TOML string.

use std::path::{Path, PathBuf};

use super::edit::{self, Format, Owned};
use super::{Context, Report, State, Tool, fix, pointed_at};

const FORMAT: Format = Format::Toml {
    table: "http",
    key: "cainfo",
};

pub static CARGO: Tool = Tool {
    name: "cargo",
    programs: &["cargo"],
    report,
    config: Some(Owned {
        file: config_file,
        format: FORMAT,
        value: bundle,
    }),
};

fn bundle(ctx: &Context) -> String {
    ctx.bundle.display().to_string()
}

/// `CARGO_HOME`, else `~/.cargo`.
fn cargo_home(ctx: &Context) -> PathBuf {
    ctx.var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.in_home(".cargo"))
}

/// The home config cargo reads: `config` when it exists, else
/// `config.toml`.
fn config_file(ctx: &Context) -> PathBuf {
    let home = cargo_home(ctx);
    let legacy = home.join("config");
    if legacy.is_file() {
        legacy
    } else {
        home.join("config.toml")
    }
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    if let Some(file) = ctx.var("CARGO_HTTP_CAINFO") {
        return pointed_at(
            ctx,
            "cargo",
            program,
            Path::new(file),
            "CARGO_HTTP_CAINFO".into(),
        );
    }
    let file = config_file(ctx);
    if let Ok(bytes) = crate::decode::read_bounded(&file) {
        let text = String::from_utf8_lossy(&bytes);
        match edit::get(FORMAT, &text) {
            Ok(Some(value)) => {
                // Relative to the folder above the one holding the file.
                let base = file
                    .parent()
                    .and_then(Path::parent)
                    .unwrap_or(Path::new("/"));
                return pointed_at(
                    ctx,
                    "cargo",
                    program,
                    &base.join(&value),
                    format!("{}: http.cainfo", file.display()),
                );
            }
            Ok(None) => {}
            Err(e) => {
                return Report {
                    tool: "cargo",
                    program,
                    state: State::UsesOther,
                    uses: format!("nothing: {} cannot be read", file.display()),
                    from: "nothing: cargo stops".into(),
                    lacks: Some(format!(
                        "{}: {e}; cargo refuses every command",
                        file.display()
                    )),
                    fix: Some(fix("cargo")),
                };
            }
        }
    }
    if let Some(file) = ctx.var("SSL_CERT_FILE").filter(|f| Path::new(f).exists()) {
        return pointed_at(
            ctx,
            "cargo",
            program,
            Path::new(file),
            "SSL_CERT_FILE (cargo's libcurl, through openssl-probe)".into(),
        );
    }
    Report {
        tool: "cargo",
        program,
        state: State::NotSetUp,
        uses: "its built-in default (the OS store's bundle, as openssl-probe finds it)".into(),
        from: "nothing set".into(),
        lacks: None,
        fix: Some(fix("cargo")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(home: &Path, env: &[(&str, &str)]) -> Context {
        Context::for_test(home, env)
    }
    use crate::test_support::write;

    #[test]
    fn the_variable_then_the_home_config_then_openssl_probe() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        let c = ctx(home, &[]);
        assert_eq!(config_file(&c), home.join(".cargo/config.toml"));
        assert_eq!(report(&c, None).state, State::NotSetUp);
        write(
            &home.join(".cargo/config.toml"),
            "[http]\ncainfo = \"certs/corp.pem\"\n",
        );
        let r = report(&c, None);
        assert_eq!(r.uses, home.join("certs/corp.pem").display().to_string());
        assert!(r.from.ends_with("config.toml: http.cainfo"));
        // The legacy `config` is read instead when it exists.
        write(&home.join(".cargo/config"), "[build]\njobs = 1\n");
        assert_eq!(config_file(&c), home.join(".cargo/config"));
        assert_eq!(report(&c, None).state, State::NotSetUp);
        // CARGO_HOME moves it; the variable wins over everything.
        let other = home.join("cargo-home");
        write(&other.join("config.toml"), "http.cainfo = '/abs.pem'\n");
        let c = ctx(home, &[("CARGO_HOME", other.to_str().unwrap())]);
        assert_eq!(report(&c, None).uses, "/abs.pem");
        let c = ctx(
            home,
            &[
                ("CARGO_HOME", other.to_str().unwrap()),
                ("CARGO_HTTP_CAINFO", "/env.pem"),
            ],
        );
        assert_eq!(report(&c, None).from, "CARGO_HTTP_CAINFO");
        // Not TOML: cargo stops.
        write(&other.join("config.toml"), "[http\n");
        let c = ctx(home, &[("CARGO_HOME", other.to_str().unwrap())]);
        let r = report(&c, None);
        assert_eq!(r.state, State::UsesOther);
        assert!(r.lacks.unwrap().contains("not TOML"));
        // openssl-probe takes SSL_CERT_FILE only when it exists.
        let empty = home.join("empty-home");
        let pem = home.join("probe.pem");
        write(&pem, "");
        let c = ctx(
            home,
            &[
                ("CARGO_HOME", empty.to_str().unwrap()),
                ("SSL_CERT_FILE", pem.to_str().unwrap()),
            ],
        );
        assert!(report(&c, None).from.starts_with("SSL_CERT_FILE"));
        let c = ctx(
            home,
            &[
                ("CARGO_HOME", empty.to_str().unwrap()),
                ("SSL_CERT_FILE", "/no/such.pem"),
            ],
        );
        assert_eq!(report(&c, None).state, State::NotSetUp);
    }
}
