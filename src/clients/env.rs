//! The settings that point TLS clients at the bundle, rendered for a shell
//! (the engine of `env`), or set for one command (of `exec`). This runs
//! from shell rc files, so it parses no certificate and reads nothing but
//! the environment.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::ValueEnum;

use crate::error::{Error, Result};
use crate::state::Paths;

/// Every variable cabundle sets. Each one a client reads for its CA file is
/// set to the whole bundle, since nearly every client *replaces* its roots
/// with the file; `SSL_CERT_DIR` to the hashed folder beside it, which
/// holds the same certificates: OpenSSL clients (Python's ssl, curl) read a
/// folder too, by default the OS's /etc/ssl/certs, which would be a side
/// door around what cabundle pruned or blocked.
pub const VARS: &[&str] = &[
    "SSL_CERT_FILE",
    CERT_DIR,
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "AWS_CA_BUNDLE",
    "CARGO_HTTP_CAINFO",
    "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH",
];

/// The one variable that names a folder, not the bundle.
pub const CERT_DIR: &str = "SSL_CERT_DIR";

/// What `var` is set to: the bundle, or for [`CERT_DIR`] the hashed folder.
pub fn value<'a, T: ?Sized>(var: &str, bundle: &'a T, cert_dir: &'a T) -> &'a T {
    if var == CERT_DIR { cert_dir } else { bundle }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    #[value(alias = "bash", alias = "zsh", alias = "dash", alias = "ksh")]
    Sh,
    Fish,
    #[value(alias = "pwsh")]
    Powershell,
    Dockerfile,
    Dotenv,
    Json,
}

impl Shell {
    /// The shell of `$SHELL`; sh syntax when unknown.
    pub fn from_env() -> Shell {
        let shell = std::env::var_os("SHELL").unwrap_or_default();
        let name = Path::new(&shell)
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match name.trim_end_matches(".exe") {
            "fish" => Shell::Fish,
            "pwsh" | "powershell" => Shell::Powershell,
            _ => Shell::Sh,
        }
    }
}

/// The settings for the bundle in `paths`: each variable of `only` (every
/// one when empty), in [`VARS`]' order, to its value as text a shell can
/// carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub vars: Vec<(&'static str, String)>,
    /// The bundle, when it does not exist yet: Python ignores a missing
    /// `SSL_CERT_FILE` without a word, so the user must be told.
    pub missing_bundle: Option<PathBuf>,
}

/// The variable every JVM reads its options from at start.
pub const JAVA_OPTIONS: &str = "JAVA_TOOL_OPTIONS";

/// The engine of `env`. `java` adds [`JAVA_OPTIONS`], pointing each JVM's
/// default trust store at the PKCS#12 beside the bundle. Only on request:
/// every JVM then says "Picked up JAVA_TOOL_OPTIONS" on stderr, and the
/// variable replaces options the user may set there already.
pub fn settings(paths: &Paths, only: &[String], java: bool) -> Result<Settings> {
    let bundle = text(&paths.bundle, "the bundle's")?;
    let cert_dir = paths.cert_dir();
    let cert_dir = text(&cert_dir, "the hashed folder's")?;
    let mut vars: Vec<(&'static str, String)> = VARS
        .iter()
        .filter(|v| only.is_empty() || only.iter().any(|o| o == *v))
        .map(|v| (*v, value(v, bundle, cert_dir).to_string()))
        .collect();
    if java {
        vars.push((JAVA_OPTIONS, java_options(&paths.pkcs12())?));
    }
    Ok(Settings {
        vars,
        missing_bundle: missing_bundle(paths),
    })
}

/// `path` as text that no setting can misread: UTF-8, no control
/// character.
pub fn text<'a>(path: &'a Path, what: &str) -> Result<&'a str> {
    let refuse = |reason: String| Error::UnusablePath {
        path: path.to_path_buf(),
        reason,
    };
    match path.to_str() {
        None => Err(refuse(format!(
            "{what} path is not UTF-8, so no setting can name it"
        ))),
        Some(s) if s.chars().any(char::is_control) => Err(refuse(format!(
            "{what} path holds a control character, which no setting can carry safely"
        ))),
        Some(s) => Ok(s),
    }
}

/// JAVA_TOOL_OPTIONS for a trust store: the JVM splits the variable at
/// white space, with no quoting, so a path holding any cannot be carried.
/// A password-less PKCS#12 needs no trustStorePassword.
pub fn java_options(store: &Path) -> Result<String> {
    let path = text(store, "the PKCS#12 trust store's")?;
    if path.chars().any(char::is_whitespace) {
        return Err(Error::UnusablePath {
            path: store.to_path_buf(),
            reason: format!("{JAVA_OPTIONS} splits at white space, so it cannot name this path"),
        });
    }
    Ok(format!(
        "-Djavax.net.ssl.trustStore={path} -Djavax.net.ssl.trustStoreType=PKCS12"
    ))
}

fn missing_bundle(paths: &Paths) -> Option<PathBuf> {
    (!paths.bundle.exists()).then(|| paths.bundle.clone())
}

/// A command with every variable pointed at the bundle in `paths`, ready
/// to run (the engine of `exec`).
#[derive(Debug)]
pub struct Prepared {
    pub command: Command,
    /// As [`Settings::missing_bundle`].
    pub missing_bundle: Option<PathBuf>,
}

pub fn prepare(paths: &Paths, program: &OsStr, args: &[OsString]) -> Prepared {
    let cert_dir = paths.cert_dir();
    let mut command = Command::new(program);
    command.args(args).envs(
        VARS.iter()
            .map(|v| (v, value(v, paths.bundle.as_path(), cert_dir.as_path()))),
    );
    Prepared {
        command,
        missing_bundle: missing_bundle(paths),
    }
}

/// The snippet that sets each variable to its value.
pub fn render(shell: Shell, settings: &[(&str, &str)]) -> String {
    if shell == Shell::Json {
        let map: serde_json::Map<String, serde_json::Value> = settings
            .iter()
            .map(|(var, value)| (var.to_string(), (*value).into()))
            .collect();
        return format!("{}\n", serde_json::Value::Object(map));
    }
    if shell == Shell::Dockerfile {
        // One ENV instruction, one layer: `VAR="value"` pairs on
        // continuation lines.
        let pairs: Vec<String> = settings
            .iter()
            .map(|(var, value)| format!("{var}={}", double_quote(value)))
            .collect();
        return match pairs.is_empty() {
            true => String::new(),
            false => format!("ENV {}\n", pairs.join(" \\\n    ")),
        };
    }
    let mut out = String::new();
    for &(var, value) in settings {
        let line = match shell {
            Shell::Sh => format!("export {var}={}", sh_quote(value)),
            Shell::Fish => format!("set -gx {var} {}", fish_quote(value)),
            Shell::Powershell => format!("$env:{var} = {}", powershell_quote(value)),
            Shell::Dotenv => format!("{var}={}", dotenv_quote(value)),
            Shell::Json | Shell::Dockerfile => unreachable!("handled above"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// POSIX single quotes: nothing inside is special but `'` itself.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// fish single quotes: only `\\` and `\'` are escapes inside.
fn fish_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

/// PowerShell single quotes: a quote is doubled, and PowerShell counts the
/// typographic single quotes as quotes too.
fn powershell_quote(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// Dockerfile ENV: double quotes, with `"`, `\` and `$` (which it would
/// expand) escaped.
fn double_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// dotenv: single quotes, the one form compose and python-dotenv both take
/// literally (double quotes would expand `$`); `'` and `\` are escaped.
fn dotenv_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', r"\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_awkward_paths() {
        assert_eq!(sh_quote("/a b/it's"), r"'/a b/it'\''s'");
        assert_eq!(fish_quote(r"/a\b'c"), r"'/a\\b\'c'");
        assert_eq!(double_quote(r#"/a "b" $x\"#), r#""/a \"b\" \$x\\""#);
        assert_eq!(dotenv_quote(r"/a $x/it's\"), r"'/a $x/it\'s\\'");
        assert_eq!(
            powershell_quote("/o\u{2019}brien's"),
            "'/o\u{2019}\u{2019}brien''s'"
        );
        let json = render(Shell::Json, &[("A", "/x y"), ("B", "/x y")]);
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed["A"], "/x y");
        assert_eq!(parsed["B"], "/x y");
    }
}
