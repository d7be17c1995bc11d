//! End to end with real clients: a loopback HTTPS server whose certificate
//! a corporate CA signed is refused by Python (requests and urllib) and curl
//! pointed at the bundle by `cabundle env`, trusted once `cabundle add` put
//! the CA in, and refused again after `cabundle remove`.
//!
//! Python is the shared venv's (requests in it); curl is required (the test
//! fails naming it without). Nothing leaves 127.0.0.1.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Output;

use common::server::{HELLO_BODY as BODY, Https};
use common::{Corp, both, days, pem_blocks, require, scrubbed_loopback, stderr_of, venv};

/// GET the URL with requests or urllib; prints `OK <body>` or
/// `FAIL <exception>` (exit 1).
const CLIENT: &str = r#"
import sys
kind, url = sys.argv[1], sys.argv[2]
try:
    if kind == "requests":
        import requests
        body = requests.get(url, timeout=30).text
    else:
        import urllib.request
        with urllib.request.urlopen(url, timeout=30) as r:
            body = r.read().decode()
except Exception as e:
    print("FAIL %s: %s" % (type(e).__name__, e))
    sys.exit(1)
print("OK " + body.strip())
"#;

/// Run `command...` in bash after `eval`-ing `cabundle env --shell sh
/// ENV_ARGS` from `home`, the way a shell rc does. ENV_ARGS are plain words
/// (flags and variable names), so they travel in one variable.
fn with_env(home: &Path, env_args: &[&str], command: &[&str]) -> Output {
    let script = r#"snippet="$("$CABUNDLE_BIN" env --shell sh $CABUNDLE_ENV_ARGS)" || exit 97
eval "$snippet"
exec "$@""#;
    let out = scrubbed_loopback("bash")
        .args(["--noprofile", "--norc", "-c", script, "bash"])
        .args(command)
        .env("CABUNDLE_ENV_ARGS", env_args.join(" "))
        .env("CABUNDLE_BIN", env!("CARGO_BIN_EXE_cabundle"))
        .env("CABUNDLE_HOME", home)
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(97),
        "cabundle env failed:\n{}",
        both(&out)
    );
    out
}

/// A client run: (succeeded, stdout + stderr).
fn client(home: &Path, env_args: &[&str], command: &[&str]) -> (bool, String) {
    let out = with_env(home, env_args, command);
    (out.status.success(), both(&out))
}

/// Python GETs `url` with `kind` (requests or urllib) under the settings of
/// `cabundle env ENV_ARGS`.
fn python_get(home: &Path, env_args: &[&str], kind: &str, url: &str) -> (bool, String) {
    let python = venv::python().to_str().unwrap();
    client(home, env_args, &[python, "-c", CLIENT, kind, url])
}

fn assert_trusted(what: &str, (ok, text): (bool, String)) {
    assert!(
        ok && text.contains(BODY),
        "{what} should have trusted the server:\n{text}"
    );
}

fn assert_verify_fails(what: &str, (ok, text): (bool, String)) {
    assert!(!ok, "{what} should have refused the server:\n{text}");
    assert!(
        text.contains("CERTIFICATE_VERIFY_FAILED"),
        "{what} failed, but not on certificate verification:\n{text}"
    );
}

fn curl_get(home: &Path, url: &str) -> Output {
    // -q first: ignore any ~/.curlrc.
    with_env(
        home,
        &[],
        &[
            "curl",
            "-q",
            "-sS",
            "--max-time",
            "30",
            "--noproxy",
            "*",
            url,
        ],
    )
}

/// requests, urllib/ssl with nothing but SSL_CERT_FILE set, and curl all
/// fail verification (curl: exit 60).
fn assert_all_refuse(when: &str, home: &Path, url: &str) {
    assert_verify_fails(
        &format!("requests {when}"),
        python_get(home, &[], "requests", url),
    );
    assert_verify_fails(
        &format!("urllib {when}"),
        python_get(home, &["--only", "SSL_CERT_FILE"], "urllib", url),
    );
    let out = curl_get(home, url);
    assert_eq!(
        out.status.code(),
        Some(60),
        "curl {when} should fail verification (exit 60):\n{}",
        stderr_of(&out)
    );
}

fn bundle_blocks(home: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(home.join("ca-bundle.pem")).expect("a bundle");
    pem_blocks(&text).into_iter().collect()
}

#[test]
fn python_and_curl_trust_the_corp_ca_while_it_is_added_and_only_then() {
    if !require("curl", "--version", "Debian: apt-get install curl") {
        return;
    }
    let s = Corp::new();
    let home = &s.home;
    let before = bundle_blocks(home);
    let corp = &s.corp;
    let server = Https::hello(s.dir(), &corp.leaf(days(-1), days(30)));
    let url = server.url("");

    // Not added yet: the bundle holds public roots only.
    assert_all_refuse("before add", home, &url);

    s.run(&["add", s.corp_file.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicates::str::contains("added corp:"));
    // The CA joined the full bundle; it did not replace it.
    let added = bundle_blocks(home);
    let corp_block: BTreeSet<String> = pem_blocks(&corp.pem).into_iter().collect();
    let expected: BTreeSet<String> = before.union(&corp_block).cloned().collect();
    assert_eq!(
        added, expected,
        "bundle after add is not the old one plus the corp CA"
    );

    assert_trusted(
        "requests after add",
        python_get(home, &[], "requests", &url),
    );
    // requests reads REQUESTS_CA_BUNDLE alone too.
    assert_trusted(
        "requests with only REQUESTS_CA_BUNDLE",
        python_get(home, &["--only", "REQUESTS_CA_BUNDLE"], "requests", &url),
    );
    assert_trusted(
        "urllib with only SSL_CERT_FILE after add",
        python_get(home, &["--only", "SSL_CERT_FILE"], "urllib", &url),
    );
    let out = curl_get(home, &url);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(BODY),
        "curl after add should trust the server ({}):\n{}",
        out.status,
        stderr_of(&out)
    );

    s.run(&["remove", "corp"])
        .assert()
        .success()
        .stdout(predicates::str::contains("removed corp:"));
    assert_eq!(
        bundle_blocks(home),
        before,
        "remove did not restore the bundle"
    );

    assert_all_refuse("after remove", home, &url);
    drop(server);
}
