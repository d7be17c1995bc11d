//! `cabundle python status|install|uninstall` against a real virtualenv with
//! requests and httpx: a loopback HTTPS server whose certificate a corporate
//! CA signed is refused by requests, urllib and httpx until the CA is added
//! *and* the venv carries cabundle.pth, with no TLS variable in the
//! environment; trusted while the .pth is there; refused again after
//! `python uninstall`. certifi is never touched.
//!
//! The venv is the shared one ([`common::venv`]: `$CABUNDLE_TEST_VENV`,
//! else target/test-venv, which scripts/test.sh makes). Tests that change
//! a venv work on their own copy of it, so tests running at once never see
//! each other's cabundle.pth and the shared venv stays clean.
//! Nothing leaves 127.0.0.1.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;

use common::server::{HELLO_BODY as BODY, Https};
use common::venv::{self, venv_python};
use common::{
    Corp, both, cabundle_loopback as cb, days, debian_root, expected_value, on_path, require,
    require_root, run_ok, scrubbed_loopback as scrubbed, sha256_hex, text, write,
};

// ---------------------------------------------------------------------------
// The venv

/// A private copy of the shared venv under `dir`, for a test that installs
/// a .pth into it.
fn venv_copy(dir: &Path) -> PathBuf {
    let dest = dir.join("venv");
    run_ok(
        StdCommand::new("cp").arg("-a").arg(venv::venv()).arg(&dest),
        "cp -a venv",
    );
    dest
}

/// (site-packages, certifi's cacert.pem) of an interpreter.
fn site_and_certifi(python: &Path) -> (PathBuf, PathBuf) {
    let out = scrubbed(python)
        .args([
            "-c",
            "import sysconfig, certifi; print(sysconfig.get_paths()['purelib']); print(certifi.where())",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    (
        PathBuf::from(lines.next().unwrap()),
        PathBuf::from(lines.next().unwrap()),
    )
}

/// The names in site-packages (bytecode caches aside).
fn listing(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "__pycache__")
        .collect()
}

fn sha256_of(path: &Path) -> String {
    sha256_hex(&fs::read(path).unwrap())
}

// ---------------------------------------------------------------------------
// The server and the clients

/// GET the URL with each client named; one line per client:
/// `NAME OK BODY` or `NAME FAIL Exception: message`.
const CLIENT: &str = r#"
import sys
url = sys.argv[1]
for kind in sys.argv[2:]:
    try:
        if kind == "requests":
            import requests
            body = requests.get(url, timeout=30).text
        elif kind == "httpx":
            import httpx
            body = httpx.get(url, timeout=30).text
        else:
            import urllib.request
            with urllib.request.urlopen(url, timeout=30) as r:
                body = r.read().decode()
        print(kind, "OK", body.strip())
    except Exception as e:
        print(kind, "FAIL", ("%s: %s" % (type(e).__name__, e)).replace("\n", " "))
"#;

const CLIENTS: &[&str] = &["requests", "urllib", "httpx"];

/// Each client's line from [`CLIENT`], run by `python` with nothing but
/// `env` added to a scrubbed environment.
fn get(python: &Path, url: &str, env: &[(&str, &Path)]) -> Vec<(String, String)> {
    let mut cmd = scrubbed(python);
    cmd.arg("-c").arg(CLIENT).arg(url).args(CLIENTS);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "the client script broke:\n{}",
        both(&out)
    );
    let stdout = text(&out.stdout);
    let lines: Vec<(String, String)> = stdout
        .lines()
        .map(|l| {
            let (kind, rest) = l.split_once(' ').unwrap();
            (kind.to_string(), rest.to_string())
        })
        .collect();
    assert_eq!(
        lines.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        CLIENTS,
        "{stdout}"
    );
    lines
}

fn result<'a>(results: &'a [(String, String)], kind: &str) -> &'a str {
    &results.iter().find(|(k, _)| k == kind).unwrap().1
}

fn assert_trusted(what: &str, results: &[(String, String)], kinds: &[&str]) {
    for kind in kinds {
        let r = result(results, kind);
        assert_eq!(
            r,
            format!("OK {BODY}"),
            "{kind} {what} should have trusted the server"
        );
    }
}

/// Refused on certificate verification, with `reason` in the message.
fn assert_refused(what: &str, results: &[(String, String)], kinds: &[&str], reason: &str) {
    for kind in kinds {
        let r = result(results, kind);
        assert!(
            r.starts_with("FAIL ") && r.contains("CERTIFICATE_VERIFY_FAILED") && r.contains(reason),
            "{kind} {what} should have refused the server ({reason}):\n{r}"
        );
    }
}

fn python_cmd(home: &Path, action: &str, python: &Path) -> Command {
    let mut cmd = cb(home);
    cmd.args(["python", action, "--python"]).arg(python);
    cmd
}

/// `python status --json` for these interpreters, `env` added.
fn status_json(home: &Path, pythons: &[&Path], env: &[(&str, &Path)]) -> Value {
    let mut cmd = cb(home);
    cmd.args(["python", "status", "--json"]);
    for p in pythons {
        cmd.arg("--python").arg(p);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "python status --json printed no JSON ({e}):\n{}",
            both(&out)
        )
    })
}

fn status_text(home: &Path, python: &Path, env: &[(&str, &Path)]) -> String {
    let mut cmd = python_cmd(home, "status", python);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    text(&out.stdout)
}

/// The verdict of the client whose name starts with `name`.
fn client<'a>(interpreter: &'a Value, name: &str) -> &'a Value {
    interpreter["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"].as_str().unwrap().starts_with(name))
        .unwrap_or_else(|| panic!("no verdict for {name}:\n{interpreter:#}"))
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

const INTERPRETER_KEYS: &[&str] = &[
    "python",
    "found_by",
    "ok",
    "error",
    "executable",
    "version",
    "openssl",
    "verify_paths",
    "certifi",
    "packages",
    "site_packages",
    "pth_installed",
    "env",
    "clients",
];

// ---------------------------------------------------------------------------
// The tests

#[test]
fn pth_points_requests_urllib_and_httpx_at_the_bundle_until_uninstall() {
    let s = Corp::new();
    let venv = venv_copy(s.dir());
    let py = venv_python(&venv);
    let (site, certifi) = site_and_certifi(&py);
    let certifi_hash = sha256_of(&certifi);
    let listing_before = listing(&site);
    // A valid many-certificate bundle without the corp CA, for an explicit
    // REQUESTS_CA_BUNDLE later.
    let public = s.dir().join("public.pem");
    fs::copy(s.bundle(), &public).unwrap();

    let server = Https::hello(s.dir(), &s.corp.leaf(days(-1), days(30)));
    let url = server.url("");

    assert_refused(
        "before add",
        &get(&py, &url, &[]),
        CLIENTS,
        "unable to get local issuer certificate",
    );
    s.add_corp();
    // The bundle has the CA now, but nothing points Python at it yet.
    assert_refused(
        "after add, before python install",
        &get(&py, &url, &[]),
        CLIENTS,
        "unable to get local issuer certificate",
    );

    let pth = site.join("cabundle.pth");
    python_cmd(&s.home, "install", &py)
        .assert()
        .success()
        .stdout(format!("installed {}\n", pth.display()));
    let mut expected = listing_before.clone();
    expected.insert("cabundle.pth".into());
    assert_eq!(
        listing(&site),
        expected,
        "install wrote more than cabundle.pth"
    );
    let pth_bytes = fs::read(&pth).unwrap();
    // Twice is the same as once.
    python_cmd(&s.home, "install", &py).assert().success();
    assert_eq!(fs::read(&pth).unwrap(), pth_bytes);
    assert_eq!(listing(&site), expected, "a second install left something");

    assert_trusted(
        "with the .pth and no TLS variable",
        &get(&py, &url, &[]),
        CLIENTS,
    );

    let status = status_json(&s.home, &[&py], &[]);
    assert_eq!(
        keys(&status),
        set(&["bundle", "bundle_exists", "interpreters"])
    );
    assert_eq!(status["bundle"], s.bundle().to_str().unwrap());
    assert_eq!(status["bundle_exists"], true);
    let interpreters = status["interpreters"].as_array().unwrap();
    assert_eq!(interpreters.len(), 1, "{status:#}");
    let i = &interpreters[0];
    assert_eq!(keys(i), set(INTERPRETER_KEYS));
    assert_eq!(i["python"], py.to_str().unwrap());
    assert_eq!(i["found_by"], "--python");
    assert_eq!(i["ok"], true);
    assert_eq!(i["error"], Value::Null);
    assert_eq!(i["site_packages"], site.to_str().unwrap());
    assert_eq!(i["certifi"], certifi.to_str().unwrap());
    assert_eq!(i["pth_installed"], true);
    assert!(i["version"].as_str().unwrap().starts_with("3."), "{i:#}");
    assert!(i["openssl"].as_str().unwrap().contains("SSL"), "{i:#}");
    assert!(i["verify_paths"].is_object(), "{i:#}");
    for package in ["requests", "httpx", "certifi"] {
        assert!(i["packages"][package].is_string(), "{package}: {i:#}");
    }
    // The .pth set every variable, as the interpreter itself reports.
    for var in cabundle::clients::env::VARS {
        assert_eq!(
            i["env"][var],
            expected_value(&s.bundle(), var),
            "{var}: {i:#}"
        );
    }
    for c in i["clients"].as_array().unwrap() {
        assert_eq!(
            keys(c),
            set(&["client", "uses_bundle", "ca_file", "detail"])
        );
        // pip too: the .pth sets PIP_CERT, whatever pip's version.
        assert_eq!(c["uses_bundle"], true, "{c:#}");
    }
    for name in ["urllib", "requests ", "httpx "] {
        let c = client(i, name);
        assert_eq!(c["ca_file"], s.bundle().to_str().unwrap(), "{c:#}");
    }

    // An explicit REQUESTS_CA_BUNDLE still wins over the .pth: requests
    // reads only it (and fails), the others still get the bundle.
    let explicit = [("REQUESTS_CA_BUNDLE", public.as_path())];
    let results = get(&py, &url, &explicit);
    assert_refused(
        "with an explicit REQUESTS_CA_BUNDLE",
        &results,
        &["requests"],
        "unable to get local issuer certificate",
    );
    assert_trusted(
        "with an explicit REQUESTS_CA_BUNDLE",
        &results,
        &["urllib", "httpx"],
    );
    let status = status_json(&s.home, &[&py], &explicit);
    let i = &status["interpreters"][0];
    let requests = client(i, "requests ");
    assert_eq!(requests["ca_file"], public.to_str().unwrap());
    assert_not_the_bundle(requests, "REQUESTS_CA_BUNDLE");
    assert_eq!(client(i, "urllib")["uses_bundle"], true);
    assert_eq!(client(i, "httpx ")["uses_bundle"], true);

    python_cmd(&s.home, "uninstall", &py)
        .assert()
        .success()
        .stdout(format!("removed {}\n", pth.display()));
    assert_eq!(
        listing(&site),
        listing_before,
        "uninstall did not remove exactly cabundle.pth"
    );
    assert_refused(
        "after uninstall",
        &get(&py, &url, &[]),
        CLIENTS,
        "unable to get local issuer certificate",
    );
    python_cmd(&s.home, "uninstall", &py)
        .assert()
        .success()
        .stderr(predicates::str::contains("nothing to remove"));
    let status = status_json(&s.home, &[&py], &[]);
    let i = &status["interpreters"][0];
    assert_eq!(i["pth_installed"], false);
    for name in ["urllib", "requests ", "httpx "] {
        assert_eq!(client(i, name)["uses_bundle"], false, "{i:#}");
    }

    assert_eq!(
        sha256_of(&certifi),
        certifi_hash,
        "certifi's cacert.pem changed"
    );
    drop(server);
}

/// The line of `python status` that says `client` does not use the bundle.
fn no_line<'a>(text: &'a str, client: &str) -> &'a str {
    text.lines()
        .find(|l| l.trim_start().starts_with(&format!("NO  {client}")))
        .unwrap_or_else(|| panic!("no NO line for {client}:\n{text}"))
}

/// A client's verdict: not the bundle, and `detail` says why.
fn assert_not_the_bundle(c: &Value, detail: &str) {
    assert_eq!(c["uses_bundle"], false, "{c:#}");
    assert!(c["detail"].as_str().unwrap().contains(detail), "{c:#}");
}

#[test]
fn status_flags_ca_variables_pointing_at_a_missing_or_one_certificate_file() {
    let s = Corp::new();
    let py = venv::python().to_path_buf();
    let missing = s.dir().join("no-such-bundle.pem");

    // A missing file: requests fails every request, Python's ssl ignores it.
    let env = [
        ("REQUESTS_CA_BUNDLE", missing.as_path()),
        ("SSL_CERT_FILE", missing.as_path()),
    ];
    let text = status_text(&s.home, &py, &env);
    let requests_line = no_line(&text, "requests ");
    assert!(
        requests_line.contains(&format!(
            "REQUESTS_CA_BUNDLE points to a missing file {}",
            missing.display()
        )) && requests_line.contains("fails every HTTPS request"),
        "{text}"
    );
    let urllib_line = no_line(&text, "urllib/ssl");
    assert!(
        urllib_line.contains("SSL_CERT_FILE points to a missing file")
            && urllib_line.contains("ignores silently"),
        "{text}"
    );
    let status = status_json(&s.home, &[&py], &env);
    let i = &status["interpreters"][0];
    assert_eq!(i["env"]["REQUESTS_CA_BUNDLE"], missing.to_str().unwrap());
    let requests = client(i, "requests ");
    assert_eq!(requests["ca_file"], missing.to_str().unwrap());
    assert_not_the_bundle(requests, "missing file");
    assert_not_the_bundle(client(i, "urllib"), "missing file");

    // corp.pem alone: trusted, but every public root is gone.
    let env = [("REQUESTS_CA_BUNDLE", s.corp_file.as_path())];
    let text = status_text(&s.home, &py, &env);
    let requests_line = no_line(&text, "requests ");
    assert!(
        requests_line.contains(&format!(
            "REQUESTS_CA_BUNDLE points to a 1-certificate file {}",
            s.corp_file.display()
        )) && requests_line.contains("replaces all public roots"),
        "{text}"
    );
    let status = status_json(&s.home, &[&py], &env);
    let requests = client(&status["interpreters"][0], "requests ");
    assert_eq!(requests["ca_file"], s.corp_file.to_str().unwrap());
    assert_not_the_bundle(requests, "replaces all public roots");
}

/// Prints the TLS variables as a fresh interpreter sees them, as JSON.
const SHOW_ENV: &str =
    "import json, os, sys; print(json.dumps({k: os.environ.get(k) for k in sys.argv[1:]}))";

/// (stdout as JSON, stderr) of `python -c SHOW_ENV VARS...`.
fn env_seen(python: &Path) -> (Value, String) {
    let out = scrubbed(python)
        .args(["-c", SHOW_ENV])
        .args(cabundle::clients::env::VARS)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        text(&out.stderr),
    )
}

#[test]
fn pth_with_the_bundle_missing_starts_python_silently_and_sets_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let bundle = home.join("ca-bundle.pem");
    let venv = venv_copy(tmp.path());
    let py = venv_python(&venv);

    // No bundle yet: install says so, and goes ahead.
    python_cmd(&home, "install", &py)
        .assert()
        .success()
        .stderr(predicates::str::contains("does not exist yet"));
    let nothing_set = |(env, stderr): (Value, String), when: &str| {
        assert_eq!(stderr, "", "python wrote to stderr {when}");
        for var in cabundle::clients::env::VARS {
            assert_eq!(env[var], Value::Null, "{var} set {when}: {env}");
        }
    };
    nothing_set(env_seen(&py), "before the first sync");
    let out = scrubbed(&py).args(["-c", "pass"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(both(&out), "", "python -c pass was not silent");

    common::sync_ok(&home, &debian_root(tmp.path(), &[]), &[]);
    let (env, stderr) = env_seen(&py);
    assert_eq!(stderr, "");
    for var in cabundle::clients::env::VARS {
        assert_eq!(env[var], expected_value(&bundle, var), "{var}: {env}");
    }

    fs::remove_file(&bundle).unwrap();
    nothing_set(env_seen(&py), "with the bundle deleted");
    let status = status_json(&home, &[&py], &[]);
    assert_eq!(status["bundle_exists"], false);
    assert_eq!(status["interpreters"][0]["pth_installed"], true);
    assert_eq!(status["interpreters"][0]["ok"], true);
}

#[test]
fn broken_interpreters_are_reported_and_the_others_still_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let broken = write(&tmp.path().join("broken-python"), "#!/bin/sh\nexit 1\n");
    // A pyenv shim whose version is not installed ends as the shell's
    // "not found" does, after its own words on stderr.
    let shim = write(
        &tmp.path().join("shims/python3.9"),
        "#!/bin/sh\necho 'pyenv: python3.9: command not found' >&2\necho >&2\n\
         echo 'The `python3.9` command exists in these Python versions:' >&2\nexit 127\n",
    );
    for script in [&broken, &shim] {
        fs::set_permissions(script, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let good = venv::python().to_path_buf();

    let status = status_json(&home, &[&broken, &shim, &good], &[]);
    let interpreters = status["interpreters"].as_array().unwrap();
    assert_eq!(interpreters.len(), 3, "{status:#}");
    for (i, path) in interpreters.iter().zip([&broken, &shim, &good]) {
        assert_eq!(i["python"], path.to_str().unwrap(), "{status:#}");
        assert_eq!(i["found_by"], "--python");
    }
    for i in &interpreters[..2] {
        assert_eq!(i["ok"], false, "{i:#}");
        assert_eq!(i["clients"], serde_json::json!([]), "{i:#}");
        // Only what is known: the probe's fields appear when it ran.
        assert_eq!(
            keys(i),
            set(&["python", "found_by", "ok", "error", "clients"]),
            "{i:#}"
        );
        // What the interpreter printed is not taken for the reason.
        let error = i["error"].as_str().unwrap();
        assert!(error.contains("does not run"), "{i:#}");
        assert!(
            !error.contains("pyenv") && !error.contains("versions"),
            "{i:#}"
        );
    }
    assert!(
        interpreters[0]["error"]
            .as_str()
            .unwrap()
            .contains("exit status: 1"),
        "{status:#}"
    );
    assert!(
        interpreters[1]["error"]
            .as_str()
            .unwrap()
            .contains("not installed"),
        "{status:#}"
    );
    let ok = &interpreters[2];
    assert_eq!(ok["ok"], true, "{ok:#}");
    assert_eq!(ok["error"], Value::Null);
    assert!(!ok["clients"].as_array().unwrap().is_empty(), "{ok:#}");
    assert_eq!(keys(ok), set(INTERPRETER_KEYS));

    // In text, each broken one is one line of its own.
    let out = cb(&home)
        .args(["python", "status"])
        .arg("--python")
        .arg(&broken)
        .arg("--python")
        .arg(&shim)
        .arg("--python")
        .arg(&good)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    for bad in [&broken, &shim] {
        let line = format!("BROKEN {} (from --python): does not run", bad.display());
        assert_eq!(stdout.matches(&line).count(), 1, "{stdout}");
    }
    assert!(!stdout.contains("pyenv"), "{stdout}");
    assert!(
        stdout.contains(&format!("{} (from --python)\n  Python 3.", good.display())),
        "{stdout}"
    );

    // install has one target: a broken one is an error naming it.
    for bad in [&broken, &shim] {
        python_cmd(&home, "install", bad)
            .assert()
            .code(1)
            .stderr(predicates::str::contains(bad.to_str().unwrap()));
    }
}

/// An interpreter named by a path that is not there is an error (exit 1,
/// the path named), for status as for install.
#[test]
fn a_python_that_is_not_there_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let missing = tmp.path().join("no-such-python");
    for action in ["status", "install", "uninstall"] {
        let out = python_cmd(&home, action, &missing).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{action}: {}", both(&out));
        assert!(
            text(&out.stderr).contains(missing.to_str().unwrap()),
            "{action}: {}",
            both(&out)
        );
        assert!(out.stdout.is_empty(), "{action}: {}", both(&out));
    }
}

/// Links (as PATH entries, shims and venvs make them) that lead to one
/// interpreter and environment are one interpreter, listed once with the
/// other paths that lead to it; another environment of the same
/// executable (a venv) stays apart.
#[test]
fn one_interpreter_reached_by_several_paths_is_listed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let venv = venv::python().to_path_buf();
    // The base interpreter of the venv, as `sys._base_executable` says.
    let out = scrubbed(&venv)
        .args(["-c", "import sys; print(sys._base_executable)"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let base = PathBuf::from(text(&out.stdout).trim());
    let (a, b) = (tmp.path().join("a/python3"), tmp.path().join("b/python"));
    for link in [&a, &b] {
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&base, link).unwrap();
    }

    let status = status_json(&home, &[&a, &venv, &b], &[]);
    let interpreters = status["interpreters"].as_array().unwrap();
    assert_eq!(interpreters.len(), 2, "{status:#}");
    assert_eq!(interpreters[0]["python"], a.to_str().unwrap());
    assert_eq!(
        interpreters[0]["same_as"],
        serde_json::json!([format!("{} (--python)", b.display())]),
        "{status:#}"
    );
    assert_eq!(interpreters[1]["python"], venv.to_str().unwrap());
    assert!(interpreters[1].get("same_as").is_none(), "{status:#}");
    assert_ne!(
        interpreters[0]["site_packages"], interpreters[1]["site_packages"],
        "{status:#}"
    );

    let out = cb(&home)
        .args(["python", "status", "--python"])
        .arg(&a)
        .arg("--python")
        .arg(&b)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("  Python 3.").count(), 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "{} (from --python; also {} (--python))",
            a.display(),
            b.display()
        )),
        "{stdout}"
    );
}

#[test]
fn install_into_a_site_packages_it_cannot_write_fails_and_suggests_a_venv() {
    if !require_root("to run `python install` as another user")
        || !require("setpriv", "--version", "Debian: apt-get install util-linux")
    {
        return;
    }
    let setpriv = on_path("setpriv").unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Let the unprivileged user through to the venv and the binary.
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = tmp.path().join("bin/cabundle");
    fs::create_dir_all(bin.parent().unwrap()).unwrap();
    fs::copy(env!("CARGO_BIN_EXE_cabundle"), &bin).unwrap();
    let nobody = |program: &Path| {
        let mut cmd = scrubbed(&setpriv);
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(program)
            .env("HOME", tmp.path())
            .current_dir(tmp.path());
        cmd
    };
    // Can uid 65534 start this interpreter the way cabundle will (a plain
    // exec from a process of that user)?
    let runs_as_nobody = |py: &Path| {
        nobody(Path::new("/bin/sh"))
            .args(["-c", r#"exec "$0" -c pass"#])
            .arg(py)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    // The root-owned venv copy, unless its base interpreter is private (a
    // pyenv under /root): then a bare venv of a system interpreter, which
    // is all `python install` needs.
    let mut py = venv_python(&venv_copy(tmp.path()));
    if !runs_as_nobody(&py) {
        let base = ["/usr/bin/python3", "/usr/local/bin/python3"]
            .into_iter()
            .map(Path::new)
            .find(|base| {
                let venv = tmp.path().join("bare-venv");
                let _ = fs::remove_dir_all(&venv);
                scrubbed(base)
                    .args(["-m", "venv", "--without-pip"])
                    .arg(&venv)
                    .status()
                    .is_ok_and(|s| s.success())
                    && runs_as_nobody(&venv_python(&venv))
            });
        let needs = format!(
            "an interpreter uid 65534 can run: neither {} nor a venv of /usr/bin/python3 or \
             /usr/local/bin/python3 (Debian: apt-get install python3 python3-venv)",
            py.display()
        );
        if !common::require_that(base.is_some(), &needs) {
            return;
        }
        py = venv_python(&tmp.path().join("bare-venv"));
        eprintln!(
            "note: uid 65534 cannot run the test venv's interpreter; using a bare venv of {}",
            base.unwrap().display()
        );
    }
    let site = PathBuf::from(
        text(
            &scrubbed(&py)
                .args([
                    "-c",
                    "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                ])
                .output()
                .unwrap()
                .stdout,
        )
        .trim(),
    );
    let listing_before = listing(&site);

    let out = nobody(&bin)
        .args(["python", "install", "--python"])
        .arg(&py)
        .env("CABUNDLE_HOME", tmp.path().join("home"))
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stderr.contains(&format!("{} is not writable", site.display()))
            && stderr.contains("python3 -m venv")
            && stderr.contains("--python"),
        "{stderr}"
    );
    assert_eq!(
        listing(&site),
        listing_before,
        "a failed install left a file"
    );
}

#[test]
fn an_expired_server_certificate_gives_the_real_error_with_the_pth_in_place() {
    let s = Corp::new();
    s.add_corp();
    let venv = venv_copy(s.dir());
    let py = venv_python(&venv);
    let server = Https::hello(s.dir(), &s.corp.leaf(days(-60), days(-1)));
    let url = server.url("");

    // Without the bundle the chain does not even reach the CA.
    assert_refused(
        "without the .pth",
        &get(&py, &url, &[]),
        CLIENTS,
        "unable to get local issuer certificate",
    );
    python_cmd(&s.home, "install", &py).assert().success();
    let results = get(&py, &url, &[]);
    assert_refused(
        "with the .pth and an expired leaf",
        &results,
        CLIENTS,
        "certificate has expired",
    );

    let status = status_json(&s.home, &[&py], &[]);
    let i = &status["interpreters"][0];
    assert_eq!(i["pth_installed"], true);
    for name in ["urllib", "requests ", "httpx "] {
        let c = client(i, name);
        assert_eq!(c["uses_bundle"], true, "{c:#}");
        assert_eq!(c["ca_file"], s.bundle().to_str().unwrap(), "{c:#}");
    }
    let text = status_text(&s.home, &py, &[]);
    assert!(text.contains("cabundle.pth: installed"), "{text}");
    assert!(text.contains("uses the cabundle bundle"), "{text}");
    drop(server);
}

#[test]
fn a_cabundle_pth_that_cabundle_did_not_write_is_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let venv = venv_copy(tmp.path());
    let py = venv_python(&venv);
    let (site, _) = site_and_certifi(&py);
    let foreign = b"# someone else's file\nimport os\n";
    let pth = write(&site.join("cabundle.pth"), foreign);
    for action in ["install", "uninstall"] {
        python_cmd(&home, action, &py)
            .assert()
            .code(1)
            .stderr(predicates::str::contains("not written by cabundle"));
        assert_eq!(fs::read(&pth).unwrap(), foreign, "{action} touched it");
    }
}
