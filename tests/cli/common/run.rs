//! Running things: the binary and other programs with nothing from the
//! outer environment that could decide an outcome, within a deadline;
//! their output as text; the tools a test needs.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// No child process of a test may run longer than this: a run this long is
/// a hang, which fails the test instead of wedging the suite.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// What the tests scrub besides `cabundle::clients::env::VARS` (which this
/// machine exports several of) and [`PROXY_VARS`]: other CA settings,
/// OpenSSL's config, Python's switches and an active virtualenv, the shell
/// (`cabundle env` reads `$SHELL`), rc hooks of non-interactive shells, and
/// git, curl and node configuration from outside the test.
pub const SCRUB_EXTRA: &[&str] = &[
    "SSL_CERT_DIR",
    // Java: options every JVM picks up, and which JVM is "the" one.
    "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "_JAVA_OPTIONS",
    "JAVA_HOME",
    "HTTPLIB2_CA_CERTS",
    "NIX_SSL_CERT_FILE",
    "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE",
    "OPENSSL_CONF",
    "PYTHONHTTPSVERIFY",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONWARNINGS",
    "VIRTUAL_ENV",
    "CONDA_PREFIX",
    "SHELL",
    "BASH_ENV",
    "ENV",
    "ZDOTDIR",
    "CURL_HOME",
    "GIT_SSL_CAPATH",
    // Removed, never set: an inherited one must not let a git test pass.
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CERT",
    "GIT_SSL_KEY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_PROXY_COMMAND",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "NODE_OPTIONS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_USE_ENV_PROXY",
];

/// Inherited settings that would send a request elsewhere than asked.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// A command whose environment can be changed: std's and assert_cmd's.
pub trait EnvRemove {
    fn remove_env(&mut self, var: &str);
    fn set_env(&mut self, var: &str, value: &str) -> &mut Self;
}

impl EnvRemove for StdCommand {
    fn remove_env(&mut self, var: &str) {
        self.env_remove(var);
    }
    fn set_env(&mut self, var: &str, value: &str) -> &mut Self {
        self.env(var, value)
    }
}

impl EnvRemove for Command {
    fn remove_env(&mut self, var: &str) {
        self.env_remove(var);
    }
    fn set_env(&mut self, var: &str, value: &str) -> &mut Self {
        self.env(var, value)
    }
}

/// Remove every TLS and proxy setting from `cmd`'s environment:
/// `cabundle::clients::env::VARS`, [`SCRUB_EXTRA`] and [`PROXY_VARS`].
pub fn scrub<C: EnvRemove>(cmd: &mut C) -> &mut C {
    let vars = cabundle::clients::env::VARS
        .iter()
        .chain(SCRUB_EXTRA)
        .chain(PROXY_VARS);
    for var in vars {
        cmd.remove_env(var);
    }
    cmd
}

/// [`scrub`], then bypass proxies for loopback, write no bytecode (so
/// site-packages listings compare and the shared venv stays as built), and
/// let git read no system or user config and never prompt.
pub fn scrub_loopback<C: EnvRemove>(cmd: &mut C) -> &mut C {
    scrub(cmd)
        .set_env("NO_PROXY", "127.0.0.1,localhost")
        .set_env("no_proxy", "127.0.0.1,localhost")
        .set_env("PYTHONDONTWRITEBYTECODE", "1")
        .set_env("GIT_CONFIG_NOSYSTEM", "1")
        .set_env("GIT_CONFIG_GLOBAL", "/dev/null")
        .set_env("GIT_TERMINAL_PROMPT", "0")
}

/// The real binary, with all state in `home` and nothing inherited that
/// could decide an outcome ([`scrub`]).
pub fn cabundle(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cabundle").expect("binary built");
    scrub(&mut cmd).env("CABUNDLE_HOME", home);
    cmd
}

/// [`cabundle`] for a test that talks to servers on 127.0.0.1
/// ([`scrub_loopback`]).
pub fn cabundle_loopback(home: &Path) -> Command {
    let mut cmd = cabundle(home);
    scrub_loopback(&mut cmd);
    cmd
}

/// `program` with stdin closed and nothing inherited that could decide an
/// outcome ([`scrub`]).
pub fn scrubbed(program: impl AsRef<std::ffi::OsStr>) -> StdCommand {
    let mut cmd = StdCommand::new(program);
    scrub(&mut cmd).stdin(Stdio::null());
    cmd
}

/// [`scrubbed`], for a client of servers on 127.0.0.1 ([`scrub_loopback`]).
pub fn scrubbed_loopback(program: impl AsRef<std::ffi::OsStr>) -> StdCommand {
    let mut cmd = scrubbed(program);
    scrub_loopback(&mut cmd);
    cmd
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn stderr_of(out: &Output) -> String {
    text(&out.stderr)
}

/// stdout then stderr, for a failure message.
pub fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// Run `cmd`; panic with its output unless it succeeds.
pub fn run_ok(cmd: &mut StdCommand, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        both(&out)
    );
}

/// One finished (or killed) child process.
pub struct Ran {
    pub what: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

impl fmt::Display for Ran {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}\n  exit {:?} after {:.1?}{}\n--- stdout\n{}--- stderr\n{}---",
            self.what,
            self.code,
            self.elapsed,
            if self.timed_out {
                " (KILLED at the deadline)"
            } else {
                ""
            },
            self.stdout,
            self.stderr
        )
    }
}

/// Run `cmd` with stdin closed, draining its output as it comes; kill it
/// at the [`DEADLINE`].
pub fn run_bounded(mut cmd: StdCommand) -> Ran {
    let what = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let drain = |mut r: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > DEADLINE {
            timed_out = true;
            let _ = child.kill();
            break child.wait().unwrap();
        }
        thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    Ran {
        what,
        code: if timed_out { None } else { status.code() },
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed,
        timed_out,
    }
}

/// Run `cmd` (the binary), killing it and failing the test when it
/// outlives the [`DEADLINE`] (on a FIFO, /dev/zero or a walk that does not
/// end).
pub fn within_deadline(cmd: &mut Command) -> Output {
    let start = Instant::now();
    let out = cmd.timeout(DEADLINE).output().unwrap();
    assert!(
        out.status.code().is_some(),
        "{cmd:?} was still running after {:?} and was killed ({:?}); last stderr lines:\n{}",
        start.elapsed(),
        out.status,
        stderr_of(&out)
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    out
}

/// `program` on PATH, if it is installed.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Did the person running the tests ask to skip what this machine cannot
/// do (`CABUNDLE_TEST_ALLOW_SKIP=1`)?
fn skips_allowed() -> bool {
    std::env::var_os("CABUNDLE_TEST_ALLOW_SKIP").is_some_and(|v| v == "1")
}

/// Does this machine give the test what it `needs` (`ok`)? A test that
/// lacks it fails, naming it, unless the person running the tests asked to
/// skip such tests with `CABUNDLE_TEST_ALLOW_SKIP=1`: then this says so on
/// stderr and returns false.
pub fn require_that(ok: bool, needs: &str) -> bool {
    if ok {
        return true;
    }
    if skips_allowed() {
        eprintln!("skipped: this test needs {needs}");
        return false;
    }
    panic!("this test needs {needs}; set CABUNDLE_TEST_ALLOW_SKIP=1 to skip it instead");
}

/// Is `program` runnable (`program ARG` exits 0)? [`require_that`], naming
/// the program and how to install it.
pub fn require(program: &str, arg: &str, install_hint: &str) -> bool {
    let ok = StdCommand::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    require_that(
        ok,
        &format!("`{program}`, which cannot run ({install_hint})"),
    )
}

/// Root rights ([`require_that`]), for what only root may do: mounts,
/// namespaces, other users' files, the system's trust store.
pub fn require_root(for_what: &str) -> bool {
    require_that(cabundle::system::is_root(), &format!("root ({for_what})"))
}

/// `clients` arguments naming every tool with a config of its own, and no
/// runtime: what the tools' tests ask about (this machine's JVMs under
/// /usr/lib/jvm, found whatever PATH says, are not theirs to judge).
pub const CONFIG_TOOLS: [&str; 10] = [
    "pip", "uv", "conda", "npm", "git", "curl", "aws", "gcloud", "cargo", "systemd",
];
