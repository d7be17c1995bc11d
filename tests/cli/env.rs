//! `cabundle env`: the snippet, sourced by real shells, points every
//! variable at the bundle (also from a home with awkward characters); the
//! machine formats parse; `--only` narrows it; stdout carries nothing but the
//! snippet; `$SHELL` picks the syntax.
//!
//! zsh and fish are required (scripts/test.sh installs them); PowerShell
//! is in no registry this project reaches, so its test is `#[ignore]`d and
//! runs with `--ignored` where `pwsh` is installed.

use crate::common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use cabundle::clients::env::VARS;
use common::{
    cabundle, debian_root, expected_value, require, scrubbed, source_file, stderr_of, sync_ok,
    write,
};

/// The home the brief of `env` must survive: a space and a single quote.
const AWKWARD: &str = "my home's dir";

/// Worse still: double quotes, `$`, a backtick, a backslash, a glob and a
/// `$(...)`, each of which one quoting style or another would expand.
const NASTY: &str = r#"we "ird" $HOME `id` \dir * $(echo x)"#;

/// The variables are the ones README's Dockerfile sets (what people copy),
/// in the same order, each to the bundle or its hashed folder.
#[test]
fn the_crate_sets_the_variables_the_readme_lists() {
    let readme = std::fs::read_to_string(source_file("README.md")).unwrap();
    let block: Vec<(&str, &str)> = readme
        .lines()
        .skip_while(|l| !l.starts_with("ENV SSL_CERT_FILE="))
        .take_while(|l| l.starts_with("ENV ") || l.starts_with("    "))
        .map(|l| {
            let assignment = l.trim_start_matches("ENV ").trim().trim_end_matches(" \\");
            let (var, value) = assignment.split_once('=').unwrap();
            // As `env --shell dockerfile` prints it: each value quoted.
            (var, value.trim_matches('"'))
        })
        .collect();
    let names: Vec<&str> = block.iter().map(|(var, _)| *var).collect();
    assert_eq!(names, VARS, "README's Dockerfile block");
    let bundle = Path::new("/etc/cabundle/ca-bundle.pem");
    for (var, value) in block {
        assert_eq!(value, expected_value(bundle, var), "{var} in README");
    }
}

// ---------------------------------------------------------------- helpers

/// A CABUNDLE_HOME called `name` under `tmp`, synced from a fixture root so
/// the machine's own store does not matter.
fn synced_home(tmp: &Path, name: &str) -> PathBuf {
    let home = tmp.join(name);
    sync_ok(&home, &debian_root(tmp, &[]), &[]);
    assert!(
        home.join("ca-bundle.pem").is_file(),
        "sync wrote no bundle in {}",
        home.display()
    );
    home
}

/// What `var` must be for `home`'s bundle ([`expected_value`]).
fn value_of(home: &Path, var: &str) -> String {
    expected_value(&home.join("ca-bundle.pem"), var)
}

/// `cabundle env ARGS` in `home`: (stdout, stderr), which must succeed.
fn env_cmd(home: &Path, args: &[&str]) -> (String, String) {
    let out = cabundle(home).arg("env").args(args).output().unwrap();
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(
        out.status.success(),
        "cabundle env {args:?} failed ({}):\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

/// `cabundle env ARGS` after a sync: stdout, with stderr required empty.
fn env_quiet(home: &Path, args: &[&str]) -> String {
    let (stdout, stderr) = env_cmd(home, args);
    assert_eq!(
        stderr, "",
        "cabundle env {args:?} wrote to stderr after a sync"
    );
    stdout
}

/// How to make each shell source the file named by $CABUNDLE_TEST_SNIPPET
/// and then list its environment, NUL-separated, as a child process sees it
/// (so an unexported assignment would not count). The shell inherits none
/// of the TLS variables (which would make a sourced snippet look right when
/// it did nothing) or rc hooks (which would run extra code in it) of ours
/// ([`scrubbed`]).
#[derive(Debug, Clone, Copy)]
enum Sourcer {
    Bash,
    Zsh,
    Fish,
    Pwsh,
}

impl Sourcer {
    fn program(self) -> &'static str {
        match self {
            Sourcer::Bash => "bash",
            Sourcer::Zsh => "zsh",
            Sourcer::Fish => "fish",
            Sourcer::Pwsh => "pwsh",
        }
    }

    fn command(self) -> StdCommand {
        let mut cmd = scrubbed(self.program());
        match self {
            Sourcer::Bash => cmd.args([
                "--noprofile",
                "--norc",
                "-c",
                r#"set -e; . "$CABUNDLE_TEST_SNIPPET"; env -0"#,
            ]),
            Sourcer::Zsh => cmd.args(["-f", "-c", r#"set -e; . "$CABUNDLE_TEST_SNIPPET"; env -0"#]),
            Sourcer::Fish => cmd.args([
                "--no-config",
                "-c",
                "source $CABUNDLE_TEST_SNIPPET; or exit 1; env -0",
            ]),
            Sourcer::Pwsh => cmd.args([
                "-NoLogo",
                "-NoProfile",
                "-NonInteractive",
                "-Command",
                "$ErrorActionPreference = 'Stop'; . $env:CABUNDLE_TEST_SNIPPET; \
                 Get-ChildItem env: | ForEach-Object { \
                 [Console]::Out.Write($_.Name + '=' + $_.Value + [char]0) }",
            ]),
        };
        cmd
    }

    /// Source `snippet` (saved under `dir`) and return the environment it
    /// leaves. Sourcing must succeed and print nothing on stderr.
    fn source(self, dir: &Path, snippet: &str) -> HashMap<String, String> {
        let ext = if matches!(self, Sourcer::Pwsh) {
            "ps1"
        } else {
            "sh"
        };
        let file = write(
            &dir.join(format!("snippet-{}.{ext}", self.program())),
            snippet,
        );
        let out = self
            .command()
            .env("CABUNDLE_TEST_SNIPPET", &file)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.program()));
        let stderr = stderr_of(&out);
        assert!(
            out.status.success() && stderr.is_empty(),
            "{} could not source the snippet ({}):\n{stderr}\nsnippet:\n{snippet}",
            self.program(),
            out.status
        );
        parse_env0(&out.stdout)
    }
}

fn parse_env0(bytes: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(bytes)
        .split('\0')
        .filter_map(|entry| entry.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Each of `vars` is `bundle` in `env`, and every other TLS variable unset.
fn assert_points_at(env: &HashMap<String, String>, vars: &[&str], home: &Path, who: &str) {
    for &var in VARS {
        if vars.contains(&var) {
            assert_eq!(
                env.get(var),
                Some(&value_of(home, var)),
                "{who}: {var} is not the bundle (or its hashed folder)"
            );
        } else {
            assert_eq!(env.get(var), None, "{who}: {var} set though not asked for");
        }
    }
}

/// Source the snippet from `cabundle env ARGS` in `home` with `sourcer`
/// and check that all nine variables name the bundle.
fn check_shell(sourcer: Sourcer, tmp: &Path, home: &Path, args: &[&str]) {
    let snippet = env_quiet(home, args);
    let env = sourcer.source(tmp, &snippet);
    let who = format!(
        "{} with `cabundle env {}`",
        sourcer.program(),
        args.join(" ")
    );
    assert_points_at(&env, VARS, home, &who);
}

/// Both awkward homes, each synced, under one temp dir.
fn awkward_homes(tmp: &Path) -> Vec<PathBuf> {
    [AWKWARD, NASTY]
        .iter()
        .map(|name| synced_home(tmp, name))
        .collect()
}

/// The value of a `"..."` word in which `\` escapes the next character
/// when it is one of `escapable` and is kept literally otherwise (Docker's
/// rule for ENV, and python-dotenv's for `\"` and `\\`).
fn unquote_double(word: &str, escapable: &str) -> String {
    let inner = word
        .strip_prefix('"')
        .and_then(|w| w.strip_suffix('"'))
        .unwrap_or_else(|| panic!("not a double-quoted word: {word}"));
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|n| escapable.contains(*n)) => {
                out.push(chars.next().unwrap());
            }
            '"' => panic!("unescaped double quote inside {word}"),
            _ => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------- shells

#[test]
fn bash_sources_the_default_snippet_and_every_variable_names_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    for home in awkward_homes(tmp.path()) {
        // SHELL is unset (the helper removes it): sh syntax.
        let snippet = env_quiet(&home, &[]);
        for line in snippet.lines() {
            assert!(line.starts_with("export "), "not sh syntax: {line}");
        }
        assert_eq!(snippet.lines().count(), VARS.len(), "{snippet}");
        check_shell(Sourcer::Bash, tmp.path(), &home, &[]);
        check_shell(Sourcer::Bash, tmp.path(), &home, &["--shell", "bash"]);
    }
}

#[test]
fn eval_in_bash_as_a_shell_rc_does_it() {
    // `eval "$(cabundle env)"` is what the README puts in ~/.bashrc.
    let tmp = tempfile::tempdir().unwrap();
    for home in awkward_homes(tmp.path()) {
        let out = scrubbed("bash")
            .args([
                "--noprofile",
                "--norc",
                "-c",
                r#"set -e; snippet="$("$CABUNDLE_BIN" env)"; eval "$snippet"; env -0"#,
            ])
            .env("CABUNDLE_BIN", env!("CARGO_BIN_EXE_cabundle"))
            .env("CABUNDLE_HOME", &home)
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert!(out.status.success() && stderr.is_empty(), "{stderr}");
        assert_points_at(&parse_env0(&out.stdout), VARS, &home, "eval in bash");
    }
}

#[test]
fn zsh_sources_the_sh_snippet() {
    if !require("zsh", "--version", "Debian: apt-get install zsh") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for home in awkward_homes(tmp.path()) {
        check_shell(Sourcer::Zsh, tmp.path(), &home, &[]);
        check_shell(Sourcer::Zsh, tmp.path(), &home, &["--shell", "zsh"]);
    }
}

#[test]
fn fish_sources_the_fish_snippet() {
    if !require("fish", "--version", "Debian: apt-get install fish") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for home in awkward_homes(tmp.path()) {
        let snippet = env_quiet(&home, &["--shell", "fish"]);
        for line in snippet.lines() {
            assert!(line.starts_with("set -gx "), "not fish syntax: {line}");
        }
        check_shell(Sourcer::Fish, tmp.path(), &home, &["--shell", "fish"]);
    }
}

#[test]
#[ignore = "needs pwsh (PowerShell), which no registry this project reaches ships; run with --ignored where it is installed"]
fn powershell_sources_the_powershell_snippet() {
    if !require("pwsh", "-Version", "PowerShell 7") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for home in awkward_homes(tmp.path()) {
        check_shell(Sourcer::Pwsh, tmp.path(), &home, &["--shell", "powershell"]);
        check_shell(Sourcer::Pwsh, tmp.path(), &home, &["--shell", "pwsh"]);
    }
}

// ---------------------------------------------------------------- formats

#[test]
fn json_is_one_object_mapping_every_variable_to_the_bundle() {
    let tmp = tempfile::tempdir().unwrap();
    for home in awkward_homes(tmp.path()) {
        let out = env_quiet(&home, &["--shell", "json"]);
        let value: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}):\n{out}"));
        let object = value.as_object().expect("a JSON object");
        assert_eq!(object.len(), VARS.len(), "{out}");
        for &var in VARS {
            assert_eq!(
                object.get(var).and_then(|v| v.as_str()),
                Some(value_of(&home, var).as_str()),
                "{var} in {out}"
            );
        }
        assert_eq!(out.trim_end().lines().count(), 1, "one object, one line");
    }
}

/// One ENV instruction (one layer), in its multi-variable form: the first
/// line `ENV VAR="..." \`, then one `    VAR="..."` per line, each but the
/// last continued with ` \`.
#[test]
fn dockerfile_gives_one_env_instruction_for_every_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let homes = awkward_homes(tmp.path());
    for home in &homes {
        let out = env_quiet(home, &["--shell", "dockerfile"]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(out.matches("ENV ").count(), 1, "{out}");
        let mut seen = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let indent = if i == 0 { "ENV " } else { "    " };
            let rest = line
                .strip_prefix(indent)
                .unwrap_or_else(|| panic!("line {i} does not start with {indent:?}: {line}"));
            let pair = match i + 1 == lines.len() {
                true => rest,
                false => rest
                    .strip_suffix(" \\")
                    .unwrap_or_else(|| panic!("not continued: {line}")),
            };
            let (var, word) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("not VAR=\"...\": {line}"));
            assert!(word.starts_with('"') && word.ends_with('"'), "{line}");
            // Docker's lexer: inside "...", `\` escapes `"`, `$` and `\`.
            assert_eq!(unquote_double(word, "\"$\\"), value_of(home, var), "{line}");
            seen.push(var.to_string());
        }
        assert_eq!(seen, VARS, "{out}");
    }
    // One variable: one line, not continued.
    let home = &homes[0];
    let one = env_quiet(home, &["--shell", "dockerfile", "--only", "PIP_CERT"]);
    assert_eq!(one.lines().count(), 1, "{one}");
    assert!(
        one.starts_with("ENV PIP_CERT=\"") && one.ends_with("\"\n"),
        "{one}"
    );
}

#[test]
fn dotenv_lines_parse_as_var_equals_value() {
    let tmp = tempfile::tempdir().unwrap();
    let home = synced_home(tmp.path(), AWKWARD);
    let out = env_quiet(&home, &["--shell", "dotenv"]);
    let mut seen = Vec::new();
    for line in out.lines() {
        let (var, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not VAR=value: {line}"));
        assert!(
            !var.is_empty() && var.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
            "bad name in {line}"
        );
        // Single quotes, as python-dotenv and compose read them literally,
        // with `\'` and `\\` escapes.
        assert!(value.starts_with('\'') && value.ends_with('\''), "{line}");
        let mut unquoted = String::new();
        let mut chars = value[1..value.len() - 1].chars();
        while let Some(c) = chars.next() {
            unquoted.push(if c == '\\' { chars.next().unwrap() } else { c });
        }
        let value = unquoted;
        assert_eq!(value, value_of(&home, var), "{line}");
        seen.push(var.to_string());
    }
    assert_eq!(seen, VARS, "{out}");
}

// ---------------------------------------------------------------- --only

#[test]
fn only_prints_exactly_the_named_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let home = synced_home(tmp.path(), AWKWARD);
    let two = ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"];
    let only = ["--only", "SSL_CERT_FILE,REQUESTS_CA_BUNDLE"];

    let snippet = env_quiet(&home, &only);
    let names: Vec<&str> = snippet
        .lines()
        .map(|l| {
            l.strip_prefix("export ")
                .and_then(|l| l.split_once('='))
                .unwrap_or_else(|| panic!("not `export VAR=...`: {l}"))
                .0
        })
        .collect();
    assert_eq!(names, two, "{snippet}");
    let env = Sourcer::Bash.source(tmp.path(), &snippet);
    assert_points_at(&env, &two, &home, "bash with --only");

    let json = env_quiet(
        &home,
        &[
            "--shell",
            "json",
            "--only",
            "SSL_CERT_FILE,REQUESTS_CA_BUNDLE",
        ],
    );
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"], "{json}");

    // Repeating the flag is the same as the comma list.
    let repeated = env_quiet(
        &home,
        &["--only", "SSL_CERT_FILE", "--only", "REQUESTS_CA_BUNDLE"],
    );
    assert_eq!(repeated, snippet);
}

#[test]
fn an_unknown_variable_in_only_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let home = synced_home(tmp.path(), "home");
    for only in [
        "NOT_A_TLS_VAR",
        "SSL_CERT_FILE,NOT_A_TLS_VAR",
        "HTTPS_PROXY",
    ] {
        let out = cabundle(&home)
            .args(["env", "--only", only])
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "--only {only}: {stderr}");
        assert!(out.stdout.is_empty(), "--only {only} printed a snippet");
        let bad = only.rsplit(',').next().unwrap();
        assert!(stderr.contains(bad), "--only {only}: {stderr}");
    }
}

// ---------------------------------------------------------------- streams

#[test]
fn before_any_sync_the_warning_goes_to_stderr_and_stdout_still_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join(AWKWARD);

    let (snippet, stderr) = env_cmd(&home, &[]);
    assert!(
        stderr.contains("does not exist") && stderr.contains("sync"),
        "no warning about the missing bundle on stderr: {stderr:?}"
    );
    assert!(
        !snippet.contains("warning") && !snippet.contains("does not exist"),
        "the warning leaked into stdout:\n{snippet}"
    );
    for line in snippet.lines() {
        assert!(line.starts_with("export "), "not a snippet line: {line}");
    }
    let env = Sourcer::Bash.source(tmp.path(), &snippet);
    assert_points_at(&env, VARS, &home, "bash before sync");

    let (json, stderr) = env_cmd(&home, &["--shell", "json"]);
    assert!(stderr.contains("does not exist"), "{stderr}");
    serde_json::from_str::<serde_json::Value>(&json)
        .unwrap_or_else(|e| panic!("stdout is not only the JSON ({e}):\n{json}"));

    // `env` reads nothing and writes nothing: no state appears.
    assert!(!home.exists(), "cabundle env created {}", home.display());
}

#[test]
fn after_a_sync_stderr_is_empty_for_every_shell() {
    let tmp = tempfile::tempdir().unwrap();
    let home = synced_home(tmp.path(), AWKWARD);
    for shell in ["sh", "fish", "powershell", "dockerfile", "dotenv", "json"] {
        let out = env_quiet(&home, &["--shell", shell]);
        assert!(!out.is_empty(), "--shell {shell} printed nothing");
        assert!(out.ends_with('\n'), "--shell {shell}: no final newline");
    }
    env_quiet(&home, &[]);
}

// ---------------------------------------------------------------- $SHELL

#[test]
fn shell_from_the_environment_picks_the_syntax() {
    let tmp = tempfile::tempdir().unwrap();
    let home = synced_home(tmp.path(), "home");
    let first_line = |shell: Option<&str>, args: &[&str]| -> String {
        let mut cmd = cabundle(&home);
        if let Some(shell) = shell {
            cmd.env("SHELL", shell);
        }
        let out = cmd.arg("env").args(args).output().unwrap();
        assert!(out.status.success() && out.stderr.is_empty());
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    let bundle = value_of(&home, "SSL_CERT_FILE");

    let fish = first_line(Some("/usr/bin/fish"), &[]);
    assert_eq!(fish, format!("set -gx SSL_CERT_FILE '{bundle}'"));
    for sh in [
        None,
        Some(""),
        Some("/bin/bash"),
        Some("/usr/bin/zsh"),
        Some("/bin/sh"),
    ] {
        let line = first_line(sh, &[]);
        assert_eq!(
            line,
            format!("export SSL_CERT_FILE='{bundle}'"),
            "SHELL={sh:?}"
        );
    }
    let pwsh = first_line(Some("/usr/bin/pwsh"), &[]);
    assert_eq!(pwsh, format!("$env:SSL_CERT_FILE = '{bundle}'"));

    // --shell wins over $SHELL.
    let sh = first_line(Some("/usr/bin/fish"), &["--shell", "sh"]);
    assert!(sh.starts_with("export "), "{sh}");

    // And the fish it picks is fish that fish can source.
    if require("fish", "--version", "Debian: apt-get install fish") {
        let out = cabundle(&home)
            .env("SHELL", "/usr/bin/fish")
            .arg("env")
            .output()
            .unwrap();
        let env = Sourcer::Fish.source(tmp.path(), &String::from_utf8(out.stdout).unwrap());
        assert_points_at(&env, VARS, &home, "fish via $SHELL");
    }
}

// ------------------------------------------------------------ side doors

/// OpenSSL clients also trust every certificate in their default hashed
/// folder, /etc/ssl/certs. Here that folder (a scratch copy with one more
/// CA, bind-mounted over it in a private mount namespace, so the machine is
/// untouched) holds a CA the user blocked with `cabundle block`.
///
/// - Without the snippet, Python and curl both accept a server that CA
///   issued: the side door is real, and the test would notice if it
///   stopped being one.
/// - After `eval "$(cabundle env)"`, Python refuses it: SSL_CERT_DIR names
///   cabundle's own hashed folder.
/// - curl does not: it reads its build's CA folder (Debian's: /etc/ssl/certs)
///   whatever the environment says, once CURL_CA_BUNDLE is set (which old
///   curl needs to use the bundle at all). That is a limit README states,
///   and the fix it gives, `capath` in curl's config file, makes curl
///   refuse it too.
#[test]
fn a_blocked_ca_in_the_os_hashed_folder_is_refused_after_env() {
    use common::server::{hello_server, start_https};
    if !common::require_root("a private mount namespace, to bind-mount over /etc/ssl/certs")
        || !common::require("unshare", "--help", "util-linux")
        || !common::require("curl", "--version", "Debian: apt-get install curl")
    {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let home = synced_home(tmp.path(), "home");
    let ca = common::valid_ca("Side Door CA");
    let fp = common::openssl_sha256(&ca.pem);
    cabundle(&home).args(["block", &fp]).assert().success();
    let leaf = ca.leaf(common::days(-1), common::days(30));
    let (_server, port, _log) = start_https(
        &mut common::scrubbed_loopback("python3"),
        tmp.path(),
        &hello_server(),
        (&leaf.0, &leaf.1),
        &[],
        "python3 starts the test server",
    );
    // The OS folder as it is, plus the CA, rehashed as the updater would.
    let os_certs = tmp.path().join("os-certs");
    let copied = StdCommand::new("cp")
        .args(["-rL", "/etc/ssl/certs"])
        .arg(&os_certs)
        .status()
        .unwrap();
    assert!(copied.success());
    write(&os_certs.join("side-door-ca.pem"), &ca.pem);
    let rehash = StdCommand::new("openssl")
        .arg("rehash")
        .arg(&os_certs)
        .status()
        .unwrap();
    assert!(rehash.success());
    let curl_home = tmp.path().join("curl-home");
    write(
        &curl_home.join(".curlrc"),
        format!("capath = \"{}\"\n", home.join("certs").display()),
    );

    let url = format!("https://localhost:{port}/");
    let script = format!(
        r#"set -u
mount --bind "$OS_CERTS" /etc/ssl/certs || exit 99
probe() {{
  python3 -c 'import sys, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=10).read(); print("python: accepted")
except Exception as e:
    print("python: refused", type(e).__name__)' "{url}"
  if curl -q -sS --max-time 10 -o /dev/null "{url}" 2>/dev/null; then echo "curl: accepted"; else echo "curl: refused"; fi
  if CURL_HOME="$CURL_CONF" curl -sS --max-time 10 -o /dev/null "{url}" 2>/dev/null; then echo "curl+capath: accepted"; else echo "curl+capath: refused"; fi
}}
echo "== without env"; probe
eval "$("$CABUNDLE_BIN" env --shell bash)"
echo "== with env"; probe
"#
    );
    let out = common::scrubbed_loopback("unshare")
        .args(["--mount", "--propagation", "private", "bash", "-c", &script])
        .env("OS_CERTS", &os_certs)
        .env("CURL_CONF", &curl_home)
        .env("CABUNDLE_HOME", &home)
        .env("CABUNDLE_BIN", assert_cmd::cargo::cargo_bin("cabundle"))
        .env_remove("CURL_HOME")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_ne!(
        out.status.code(),
        Some(99),
        "cannot bind-mount here: {out:?}"
    );
    assert!(out.status.success(), "{said}\n{}", stderr_of(&out));
    let (without, with) = said.split_once("== with env").expect("both runs");
    assert!(
        without.contains("python: accepted") && without.contains("curl: accepted"),
        "the OS folder should be a side door without the snippet:\n{said}"
    );
    assert!(
        with.contains("python: refused") && with.contains("curl+capath: refused"),
        "a blocked CA was trusted through the OS folder:\n{said}"
    );
    // The limit README states, pinned: if curl ever starts honouring
    // SSL_CERT_DIR with CURL_CA_BUNDLE set, this says so.
    assert!(with.contains("curl: accepted"), "curl changed:\n{said}");
    // The real folder was never touched.
    assert!(!std::path::Path::new("/etc/ssl/certs/side-door-ca.pem").exists());
}

/// Every place that shows `env` written to a file names the shell the
/// file is for: `$SHELL` is the login shell, not the file's (a fish user's
/// `cabundle env >> ~/.bashrc` would put fish syntax in .bashrc).
#[test]
fn every_example_that_writes_env_to_a_file_names_its_shell() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| {
        let out = cabundle(tmp.path()).args(args).output().unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let texts = [
        ("README.md", readme),
        ("--help", help(&["--help"])),
        ("env --help", help(&["env", "--help"])),
    ];
    let mut seen = 0;
    for (name, text) in &texts {
        // Command lines (examples start with the command), not prose.
        for line in text.lines().filter(|l| {
            l.trim_start().starts_with("cabundle env") && l.contains('>') && !l.contains("2>")
        }) {
            seen += 1;
            let (command, file) = line.split_once('>').unwrap();
            assert!(command.contains("--shell "), "{name}: {line}");
            let shell = command
                .split("--shell ")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next();
            let file = file.trim_start_matches('>').trim();
            let fits = match shell {
                Some("bash") => file.contains("bash"),
                Some("zsh") => file.contains("zsh"),
                Some("fish") => file.contains("fish"),
                Some("powershell") => file.contains("PROFILE"),
                other => panic!("{name}: {line}: shell {other:?}"),
            };
            assert!(fits, "{name}: the file does not fit the shell: {line}");
        }
    }
    assert!(seen >= 4, "no examples found");
}
