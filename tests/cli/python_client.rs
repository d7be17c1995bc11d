//! End to end with real clients: a loopback HTTPS server whose certificate
//! a corporate CA signed is refused by Python (requests and urllib) and curl
//! pointed at the bundle by `cabundle env`, trusted once `cabundle add` put
//! the CA in, and refused again after `cabundle remove`.
//!
//! Needs python3 with `requests` (the test fails, saying so, without them);
//! curl is used when installed and skipped with a note otherwise. Nothing
//! leaves 127.0.0.1.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output, Stdio};

use common::server::{HELLO_BODY as BODY, ServerChild, hello_server, start_https};
use common::{cabundle, days, debian_root, pem_blocks, valid_ca, write};

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

/// The HTTPS server; killed and reaped however the test ends.
struct Server {
    _child: ServerChild,
    port: u16,
}

fn python() -> StdCommand {
    scrubbed("python3")
}

/// `program` with none of what would let the outer environment decide the
/// outcome: the snippet's variables, other CA settings, proxies (which would
/// send the loopback request elsewhere), rc hooks of non-interactive shells,
/// curl's config file and Python's switch for turning verification off
/// ([`common::scrub`]), and `SHELL`.
fn scrubbed(program: &str) -> StdCommand {
    let mut cmd = StdCommand::new(program);
    common::scrub(&mut cmd).env_remove("SHELL");
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    cmd
}

/// python3 with requests, or a failure that says what is missing.
fn require_python() {
    let out = python()
        .args([
            "-c",
            "import ssl, requests; print(requests.__version__, ssl.OPENSSL_VERSION)",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 is required for this test (CI installs it) but cannot be run: {e}")
        });
    assert!(
        out.status.success(),
        "python3 with the `requests` package is required for this test (CI installs them; \
         `pip install requests` or `apt-get install python3-requests`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "python3: requests {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
}

fn start_server(dir: &Path, cert_pem: &str, key_pem: &str) -> Server {
    let (child, port, _) = start_https(
        &mut python(),
        dir,
        &hello_server(),
        (cert_pem, key_pem),
        &[],
        "start the python3 HTTPS server",
    );
    Server {
        _child: child,
        port,
    }
}

/// Run `command...` in bash after `eval`-ing `cabundle env --shell sh
/// ENV_ARGS` from `home`, the way a shell rc does. ENV_ARGS are plain words
/// (flags and variable names), so they travel in one variable.
fn with_env(home: &Path, env_args: &[&str], command: &[&str]) -> Output {
    let script = r#"snippet="$("$CABUNDLE_BIN" env --shell sh $CABUNDLE_ENV_ARGS)" || exit 97
eval "$snippet"
exec "$@""#;
    let out = scrubbed("bash")
        .args(["--noprofile", "--norc", "-c", script, "bash"])
        .args(command)
        .env("CABUNDLE_ENV_ARGS", env_args.join(" "))
        .env("CABUNDLE_BIN", env!("CARGO_BIN_EXE_cabundle"))
        .env("CABUNDLE_HOME", home)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(97),
        "cabundle env failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A client run: (succeeded, stdout + stderr).
fn client(home: &Path, env_args: &[&str], command: &[&str]) -> (bool, String) {
    let out = with_env(home, env_args, command);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Python GETs `url` with `kind` (requests or urllib) under the settings of
/// `cabundle env ENV_ARGS`.
fn python_get(home: &Path, env_args: &[&str], kind: &str, url: &str) -> (bool, String) {
    client(home, env_args, &["python3", "-c", CLIENT, kind, url])
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

fn installed(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn bundle_blocks(home: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(home.join("ca-bundle.pem")).expect("a bundle");
    pem_blocks(&text).into_iter().collect()
}

#[test]
fn python_and_curl_trust_the_corp_ca_while_it_is_added_and_only_then() {
    require_python();
    let curl = installed("curl").is_some();
    if !curl {
        eprintln!("note: curl is not installed; skipping the curl checks");
    }

    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let root = debian_root(tmp.path(), &[]);
    cabundle(&home)
        .arg("sync")
        .arg("--root")
        .arg(&root)
        .assert()
        .success();
    let before = bundle_blocks(&home);

    let corp = valid_ca("cabundle test Corp TLS Inspection CA");
    let corp_file = write(&tmp.path().join("corp.pem"), &corp.pem);
    let (leaf, key) = corp.leaf(days(-1), days(30));
    let server = start_server(tmp.path(), &leaf, &key);
    let url = format!("https://127.0.0.1:{}/", server.port);

    // Not added yet: the bundle holds public roots only.
    assert_verify_fails(
        "requests before add",
        python_get(&home, &[], "requests", &url),
    );
    // urllib/ssl with nothing but SSL_CERT_FILE set.
    assert_verify_fails(
        "urllib before add",
        python_get(&home, &["--only", "SSL_CERT_FILE"], "urllib", &url),
    );
    if curl {
        let out = curl_get(&home, &url);
        assert_eq!(
            out.status.code(),
            Some(60),
            "curl before add should fail verification (exit 60):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    cabundle(&home)
        .arg("add")
        .arg(&corp_file)
        .arg("--root")
        .arg(&root)
        .assert()
        .success()
        .stdout(predicates::str::contains("added corp:"));
    // The CA joined the full bundle; it did not replace it.
    let added = bundle_blocks(&home);
    let corp_block: BTreeSet<String> = pem_blocks(&corp.pem).into_iter().collect();
    let expected: BTreeSet<String> = before.union(&corp_block).cloned().collect();
    assert_eq!(
        added, expected,
        "bundle after add is not the old one plus the corp CA"
    );

    assert_trusted(
        "requests after add",
        python_get(&home, &[], "requests", &url),
    );
    // requests reads REQUESTS_CA_BUNDLE alone too.
    assert_trusted(
        "requests with only REQUESTS_CA_BUNDLE",
        python_get(&home, &["--only", "REQUESTS_CA_BUNDLE"], "requests", &url),
    );
    assert_trusted(
        "urllib with only SSL_CERT_FILE after add",
        python_get(&home, &["--only", "SSL_CERT_FILE"], "urllib", &url),
    );
    if curl {
        let out = curl_get(&home, &url);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains(BODY),
            "curl after add should trust the server ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    cabundle(&home)
        .args(["remove", "corp", "--root"])
        .arg(&root)
        .assert()
        .success()
        .stdout(predicates::str::contains("removed corp:"));
    assert_eq!(
        bundle_blocks(&home),
        before,
        "remove did not restore the bundle"
    );

    assert_verify_fails(
        "requests after remove",
        python_get(&home, &[], "requests", &url),
    );
    assert_verify_fails(
        "urllib after remove",
        python_get(&home, &["--only", "SSL_CERT_FILE"], "urllib", &url),
    );
    if curl {
        let out = curl_get(&home, &url);
        assert_eq!(
            out.status.code(),
            Some(60),
            "curl after remove should fail verification (exit 60):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(server);
}
