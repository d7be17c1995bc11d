//! The settings that point TLS clients at the bundle, rendered for a shell.
//! This runs from shell rc files, so it parses no certificate and reads
//! nothing but the environment.

use std::path::Path;

use clap::ValueEnum;

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

/// The snippet that sets each variable to its value.
pub fn render(shell: Shell, settings: &[(&str, &str)]) -> String {
    if shell == Shell::Json {
        let map: serde_json::Map<String, serde_json::Value> = settings
            .iter()
            .map(|(var, value)| (var.to_string(), (*value).into()))
            .collect();
        return format!("{}\n", serde_json::Value::Object(map));
    }
    let mut out = String::new();
    for &(var, value) in settings {
        let line = match shell {
            Shell::Sh => format!("export {var}={}", sh_quote(value)),
            Shell::Fish => format!("set -gx {var} {}", fish_quote(value)),
            Shell::Powershell => format!("$env:{var} = {}", powershell_quote(value)),
            Shell::Dockerfile => format!("ENV {var}={}", double_quote(value)),
            Shell::Dotenv => format!("{var}={}", dotenv_quote(value)),
            Shell::Json => unreachable!("handled above"),
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
