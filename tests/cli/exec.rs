//! `cabundle exec -- COMMAND...`: real clients (requests in a venv, curl,
//! git over smart HTTP, node) trust a loopback HTTPS server signed by an
//! added corp CA only when run through it; the command's exit code,
//! signals, stdin and stdout pass through unchanged (it is exec(2)'d), and
//! every variable of `cabundle::clients::env::VARS` is the bundle inside it.
//!
//! Python: the shared venv with requests ([`common::venv`]).
//! curl, git and node are required (scripts/test.sh installs them; a test
//! fails naming the one it lacks). Nothing leaves 127.0.0.1.

use crate::common;

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;

use common::server::{HELLO_BODY as BODY, Https, https_server};
use common::{
    Corp, both, cabundle_loopback as cb, days, expected_value, on_path, require, run_ok,
    scrubbed_loopback as scrubbed, text, venv, write,
};

/// `cabundle exec -- COMMAND...`.
fn exec(home: &Path, command: &[&OsStr]) -> Command {
    let mut cmd = cb(home);
    cmd.args(["exec", "--"]).args(command);
    cmd
}

/// `program` on PATH, or a failure naming it ([`require`]).
fn required(program: &str, package: &str) -> Option<std::path::PathBuf> {
    require(
        program,
        "--version",
        &format!("Debian: apt-get install {package}"),
    )
    .then(|| on_path(program))
    .flatten()
}

// ---------------------------------------------------------------------------
// Servers

/// Git's smart HTTP over TLS ([`https_server`]): every request goes
/// through `git http-backend` as a CGI program, with the repositories below
/// argv[3].
pub(crate) fn git_server() -> String {
    https_server(
        r#"
import os, subprocess

root = sys.argv[3]

class Handler(Quiet):
    def do_GET(self):
        self.cgi()

    def do_POST(self):
        self.cgi()

    def cgi(self):
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": root,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROJECT_ROOT": root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
        }
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             stdout=subprocess.PIPE, stderr=sys.stderr).stdout
        sep = out.find(b"\r\n\r\n")
        head, rest = (out[:sep], out[sep + 4:]) if sep >= 0 else (out, b"")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        self.wfile.write(rest)
"#,
    )
}

// ---------------------------------------------------------------------------
// Clients

/// requests.get; prints the body, or the error on stderr and exits 1.
const REQUESTS_GET: &str = r#"
import sys, requests
try:
    print(requests.get(sys.argv[1], timeout=30).text.strip())
except Exception as e:
    sys.exit("FAIL %s: %s" % (type(e).__name__, e))
"#;

#[test]
fn exec_gives_requests_and_curl_the_bundle() {
    let s = Corp::new();
    let server = Https::hello(s.dir(), &s.corp.leaf(days(-1), days(30)));
    let url = server.url("");
    let py = venv::python();
    let requests: [&OsStr; 4] = [
        py.as_os_str(),
        "-c".as_ref(),
        REQUESTS_GET.as_ref(),
        url.as_ref(),
    ];

    // Through exec, but the bundle lacks the CA: refused.
    let out = exec(&s.home, &requests).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        both(&out)
    );

    s.add_corp();
    exec(&s.home, &requests)
        .assert()
        .success()
        .stdout(format!("{BODY}\n"));
    // Not through exec: nothing points requests at the bundle.
    let out = scrubbed(py).args(&requests[1..]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        both(&out)
    );

    let Some(curl) = required("curl", "curl") else {
        return;
    };
    // -q first: ignore any ~/.curlrc.
    let curl_args: [&OsStr; 6] = [
        curl.as_os_str(),
        "-q".as_ref(),
        "-sS".as_ref(),
        "--max-time".as_ref(),
        "30".as_ref(),
        url.as_ref(),
    ];
    let curl_args = &curl_args[..];
    let out = scrubbed(&curl).args(&curl_args[1..]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(60),
        "curl without exec should fail verification:\n{}",
        both(&out)
    );
    exec(&s.home, curl_args)
        .assert()
        .success()
        .stdout(format!("{BODY}\n"));
    drop(server);
}

/// git, with a home of its own and nothing from outside.
fn git(dir: &Path) -> StdCommand {
    let mut cmd = scrubbed("git");
    cmd.current_dir(dir).env("HOME", dir);
    cmd
}

/// A repository with one commit (`README` holding `readme`) under `dir`,
/// served bare as `srv/repo.git`: its HEAD.
pub(crate) fn bare_repo(dir: &Path, readme: &str) -> String {
    run_ok(
        git(dir).args(["-c", "init.defaultBranch=main", "init", "-q", "work"]),
        "git init",
    );
    write(&dir.join("work/README"), readme);
    run_ok(git(&dir.join("work")).args(["add", "README"]), "git add");
    run_ok(
        git(&dir.join("work")).args([
            "-c",
            "user.name=cabundle tests",
            "-c",
            "user.email=tests@cabundle.invalid",
            "commit",
            "-q",
            "-m",
            "initial",
        ]),
        "git commit",
    );
    let head = text(
        &git(&dir.join("work"))
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .trim()
    .to_string();
    fs::create_dir_all(dir.join("srv")).unwrap();
    run_ok(
        git(dir).args(["clone", "-q", "--bare", "work", "srv/repo.git"]),
        "git clone --bare",
    );
    head
}

#[test]
fn exec_lets_git_fetch_over_https() {
    let Some(git_bin) = required("git", "git") else {
        return;
    };
    let s = Corp::new();
    s.add_corp();
    let dir = s.dir();
    let readme = "a repository served over TLS by git http-backend\n";
    let head = bare_repo(dir, readme);
    let (cert, key) = s.corp.leaf(days(-1), days(30));
    let server = Https::start(dir, &git_server(), (&cert, &key), &[&dir.join("srv")]);
    let url = server.url("repo.git");

    // Not through exec: git's own default CAs do not include the corp CA.
    let out = git(dir).args(["ls-remote", &url]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(128),
        "git ls-remote without exec:\n{}",
        both(&out)
    );
    assert!(
        text(&out.stderr).to_lowercase().contains("certificate"),
        "git failed, but not on the certificate:\n{}",
        both(&out)
    );

    // `cabundle exec -- git ARGS`, which must succeed: its stdout.
    let through_exec = |args: &[&str]| {
        let command: Vec<&OsStr> = std::iter::once(git_bin.as_os_str())
            .chain(args.iter().map(OsStr::new))
            .collect();
        let out = exec(&s.home, &command)
            .env("HOME", dir)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cabundle exec -- git {args:?}:\n{}\nserver:\n{}",
            both(&out),
            server.log()
        );
        text(&out.stdout)
    };
    let refs = through_exec(&["ls-remote", &url]);
    assert!(refs.contains(&format!("{head}\tHEAD\n")), "{refs}");
    assert!(
        refs.contains(&format!("{head}\trefs/heads/main\n")),
        "{refs}"
    );

    // A clone needs the POST side of the protocol too.
    through_exec(&["clone", "-q", &url, "clone"]);
    assert_eq!(
        fs::read_to_string(dir.join("clone/README")).unwrap(),
        readme
    );
    drop(server);
}

#[test]
fn exec_gives_node_the_bundle_as_extra_ca_certs() {
    let Some(node) = required("node", "nodejs") else {
        return;
    };
    let s = Corp::new();
    s.add_corp();
    let server = Https::hello(s.dir(), &s.corp.leaf(days(-1), days(30)));
    let script = format!(
        "require('https').get('{}', r => process.exit(r.statusCode===200?0:1))\
         .on('error', e => {{console.error(e.message); process.exit(2)}})",
        server.url("")
    );
    let out = scrubbed(&node).args(["-e", &script]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "node without exec:\n{}",
        both(&out)
    );
    assert!(text(&out.stderr).contains("certificate"), "{}", both(&out));

    let command: [&OsStr; 3] = [node.as_os_str(), "-e".as_ref(), script.as_ref()];
    let out = exec(&s.home, &command).output().unwrap();
    assert!(
        out.status.success(),
        "cabundle exec -- node:\n{}",
        both(&out)
    );
    drop(server);
}

fn os(args: &[&'static str]) -> Vec<&'static OsStr> {
    args.iter().map(|a| OsStr::new(*a)).collect()
}

#[test]
fn exit_codes_signals_stdin_and_stdout_pass_through() {
    let s = Corp::new();
    let home = &s.home;

    exec(home, &os(&["sh", "-c", "exit 7"])).assert().code(7);
    exec(home, &os(&["true"]))
        .assert()
        .code(0)
        .stdout("")
        .stderr("");

    // Killed by a signal: the caller sees the signal itself, as from the
    // command run directly, and a shell reports 128 + 15.
    let out = exec(home, &os(&["sh", "-c", "kill -TERM $$"]))
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(15), "{:?}", out.status);
    let out = scrubbed("bash")
        .args([
            "--noprofile",
            "--norc",
            "-c",
            r#""$BIN" exec -- sh -c "kill -TERM \$\$"; echo $?"#,
        ])
        .env("BIN", env!("CARGO_BIN_EXE_cabundle"))
        .env("CABUNDLE_HOME", home)
        .output()
        .unwrap();
    assert_eq!(text(&out.stdout), "143\n", "{}", both(&out));

    // The command replaces cabundle: same process.
    let mut child = scrubbed(env!("CARGO_BIN_EXE_cabundle"))
        .env("CABUNDLE_HOME", home)
        .args(["exec", "--", "sh", "-c", "echo $$"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pid = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut pid)
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(pid.trim(), child.id().to_string());

    // stdin to stdout, byte for byte, and stderr.
    let bytes: Vec<u8> = (0..=255u8)
        .chain(b"\nlast line\n".iter().copied())
        .collect();
    exec(home, &os(&["cat"]))
        .write_stdin(bytes.clone())
        .assert()
        .success()
        .stdout(bytes);
    exec(home, &os(&["sh", "-c", "echo to-stderr >&2"]))
        .assert()
        .success()
        .stdout("")
        .stderr("to-stderr\n");
    // Arguments arrive as given, leading hyphens and spaces included.
    exec(
        home,
        &os(&[
            "sh",
            "-c",
            r#"printf '%s|' "$@""#,
            "sh",
            "-x",
            "a b",
            "--help",
        ]),
    )
    .assert()
    .success()
    .stdout("-x|a b|--help|");

    // As a shell says it: not found 127, not executable 126.
    exec(home, &os(&["cabundle-test-no-such-command"]))
        .assert()
        .code(127)
        .stderr(predicates::str::contains("cabundle-test-no-such-command"));
    let not_exec = write(&s.dir().join("not-executable"), "#!/bin/sh\nexit 0\n");
    exec(home, &[not_exec.as_os_str()])
        .assert()
        .code(126)
        .stderr(predicates::str::contains("not-executable"));
}

/// Each line `VAR=value` of `env` output for the variables in VARS.
fn tls_vars(stdout: &[u8]) -> Vec<(String, String)> {
    text(stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| cabundle::clients::env::VARS.contains(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn every_tls_variable_is_the_bundle_inside_the_command() {
    let s = Corp::new();
    let out = exec(&s.home, &os(&["env"])).output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(text(&out.stderr), "", "a warning with the bundle in place");
    let seen = tls_vars(&out.stdout);
    let bundle = s.bundle();
    let bundle = bundle.to_str().unwrap();
    // OpenSSL's certificate folder is cabundle's hashed one beside the
    // bundle, so /etc/ssl/certs cannot add roots that cabundle pruned or
    // blocked.
    let cert_dir = s.bundle().with_file_name("certs");
    let expected: Vec<(String, String)> = cabundle::clients::env::VARS
        .iter()
        .map(|v| (v.to_string(), expected_value(&s.bundle(), v)))
        .collect();
    let mut sorted = seen.clone();
    sorted.sort();
    let mut expected_sorted = expected;
    expected_sorted.sort();
    assert_eq!(sorted, expected_sorted, "{}", text(&out.stdout));

    // The folder holds exactly the bundle's certificates.
    let in_dir: std::collections::BTreeSet<String> = std::fs::read_dir(&cert_dir)
        .unwrap()
        .flatten()
        .map(|e| common::openssl_sha256(&std::fs::read_to_string(e.path()).unwrap()))
        .collect();
    assert_eq!(in_dir, common::file_fingerprints(&s.bundle()));

    // Set in the outer environment to something else: exec overrides it.
    let out = exec(&s.home, &os(&["env"]))
        .env("REQUESTS_CA_BUNDLE", "/elsewhere.pem")
        .output()
        .unwrap();
    assert!(tls_vars(&out.stdout).contains(&("REQUESTS_CA_BUNDLE".into(), bundle.into())));

    // No bundle yet: it says so on stderr and runs the command anyway.
    let fresh = s.dir().join("fresh-home");
    let out = exec(&fresh, &os(&["env"])).output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("does not exist yet"),
        "{}",
        both(&out)
    );
    for (k, v) in tls_vars(&out.stdout) {
        assert_eq!(v, expected_value(&fresh.join("ca-bundle.pem"), &k));
    }
}
