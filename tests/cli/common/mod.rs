//! Helpers shared by the integration tests: the binary, generated
//! certificates with any dates, fixture OS roots, and openssl as an oracle.
#![allow(dead_code)]

pub mod certdata;
pub mod server;
pub mod venv;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

/// The real binary, with all state in `home` and no TLS settings inherited.
pub fn cabundle(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cabundle").expect("binary built");
    cmd.env("CABUNDLE_HOME", home).env_remove("SHELL");
    for var in [
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// What the tests scrub besides `cabundle::clients::env::VARS` (which this machine
/// exports several of) and [`PROXY_VARS`]: other CA settings, OpenSSL's config, Python's switches and an
/// active virtualenv, rc hooks of non-interactive shells, and git, curl
/// and node configuration from outside the test.
pub const SCRUB_EXTRA: &[&str] = &[
    "SSL_CERT_DIR",
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
    "BASH_ENV",
    "ENV",
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

/// [`scrub`], then bypass proxies for loopback and write no bytecode (so
/// site-packages listings compare and the shared venv stays as built).
pub fn scrub_loopback<C: EnvRemove>(cmd: &mut C) -> &mut C {
    scrub(cmd)
        .set_env("NO_PROXY", "127.0.0.1,localhost")
        .set_env("no_proxy", "127.0.0.1,localhost")
        .set_env("PYTHONDONTWRITEBYTECODE", "1")
}

/// `now + days`, for certificates whose validity is relative to today.
pub fn days(n: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(n)
}

pub struct Ca {
    pub pem: String,
    pub key: KeyPair,
    pub params: CertificateParams,
}

impl Ca {
    pub fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// A TLS server certificate for 127.0.0.1 / localhost: (cert PEM, key PEM).
    pub fn leaf(&self, not_before: OffsetDateTime, not_after: OffsetDateTime) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, "localhost");
        p.not_before = not_before;
        p.not_after = not_after;
        let cert = p.signed_by(&key, &self.issuer()).unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// A self-signed CA with basicConstraints CA:TRUE.
pub fn ca(cn: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "cabundle tests");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = not_before;
    params.not_after = not_after;
    let pem = params.self_signed(&key).unwrap().pem();
    Ca { pem, key, params }
}

/// A CA valid from a year ago for ten years.
pub fn valid_ca(cn: &str) -> Ca {
    ca(cn, days(-365), days(3650))
}

pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
    path.to_path_buf()
}

/// The PEM blocks of a bundle, each as its own string.
pub fn pem_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with("-----BEGIN") {
            cur = Some(String::new());
        }
        if let Some(c) = cur.as_mut() {
            c.push_str(line);
            c.push('\n');
        }
        if line.starts_with("-----END") {
            blocks.extend(cur.take());
        }
    }
    blocks
}

/// The base64 body of a PEM block, without line breaks: the DER, as text.
pub fn pem_body(block: &str) -> String {
    block
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect()
}

/// Does the bundle at `path` hold the certificate `pem` (compared as DER,
/// not through cabundle's own comments)?
pub fn bundle_holds(path: &Path, pem: &str) -> bool {
    let want = pem_body(&pem_blocks(pem)[0]);
    let text = fs::read_to_string(path).unwrap_or_default();
    pem_blocks(&text).iter().any(|b| pem_body(b) == want)
}

/// Run openssl with `input` on stdin; (success, stdout).
pub fn openssl(args: &[&str], input: &str) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .write_stdin(input.to_string())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// SHA-256 fingerprint as openssl prints it, normalised to lowercase hex.
pub fn openssl_sha256(pem: &str) -> String {
    let (ok, out) = openssl(&["x509", "-noout", "-fingerprint", "-sha256"], pem);
    assert!(ok, "openssl could not read:\n{pem}");
    out.trim()
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase()
}

/// (SHA-256, unexpired by `-checkend 0`) in one openssl run.
pub fn openssl_sha256_unexpired(pem: &str) -> (String, bool) {
    let (unexpired, out) = openssl(
        &[
            "x509",
            "-noout",
            "-fingerprint",
            "-sha256",
            "-checkend",
            "0",
        ],
        pem,
    );
    let line = out
        .lines()
        .find(|l| l.contains("Fingerprint="))
        .expect("openssl printed a fingerprint");
    (
        line.rsplit('=')
            .next()
            .unwrap()
            .replace(':', "")
            .to_lowercase(),
        unexpired,
    )
}

/// The SHA-256 of every certificate in a PEM file, by openssl.
pub fn file_fingerprints(path: &Path) -> std::collections::BTreeSet<String> {
    let text = fs::read_to_string(path).unwrap();
    pem_blocks(&text)
        .iter()
        .map(|b| openssl_sha256(b))
        .collect()
}

/// Is the certificate still valid now, by `openssl x509 -checkend 0`?
pub fn openssl_unexpired(pem: &str) -> bool {
    openssl(&["x509", "-noout", "-checkend", "0"], pem).0
}

/// `openssl verify -CAfile bundle leaf`.
pub fn openssl_verifies(bundle: &Path, leaf_pem: &str, dir: &Path) -> bool {
    let leaf = write(&dir.join("leaf-to-verify.pem"), leaf_pem);
    StdCommand::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(bundle)
        .arg(&leaf)
        .output()
        .unwrap()
        .status
        .success()
}

/// A Debian-shaped root under `dir`: an os-release, an extracted bundle
/// holding `bundled`, and nothing else.
pub fn debian_root(dir: &Path, bundled: &[&str]) -> PathBuf {
    let root = dir.join("root");
    write(
        &root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
    );
    write(
        &root.join("etc/ssl/certs/ca-certificates.crt"),
        bundled.concat(),
    );
    root
}

/// Every file below `dir`, with contents, for before/after comparisons.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                out.extend(snapshot(&path));
            } else if path.file_name().is_some_and(|n| n != ".lock") {
                out.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// Is `program` runnable (`program ARG` exits 0)? A test that needs a tool
/// it cannot run fails, naming it, unless the person running the tests
/// asked to skip such tests with `CABUNDLE_TEST_ALLOW_SKIP=1`: then this
/// says so on stderr and returns false.
pub fn require(program: &str, arg: &str, install_hint: &str) -> bool {
    let ok = StdCommand::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return true;
    }
    let why = format!("`{program}` is needed and cannot run ({install_hint})");
    if std::env::var_os("CABUNDLE_TEST_ALLOW_SKIP").is_some_and(|v| v == "1") {
        eprintln!("skipped: {why}");
        return false;
    }
    panic!("{why}; set CABUNDLE_TEST_ALLOW_SKIP=1 to skip this test instead");
}

/// The invariant: the bundle, as Python's `ssl` (OpenSSL) loads it, holds
/// exactly the certificates `cabundle list --json` shows as kept: no
/// certificate slips in through a comment line, and none is lost. The CA
/// certificates are compared one by one (`get_ca_certs`), and the count of
/// everything loaded (`cert_store_stats`, which also counts a pinned leaf)
/// must be the kept count.
pub fn assert_bundle_is_what_list_keeps(home: &Path) {
    let bundle = home.join("ca-bundle.pem");
    let script = r#"
import hashlib, json, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cafile=sys.argv[1])
cas = sorted(hashlib.sha256(c).hexdigest() for c in ctx.get_ca_certs(binary_form=True))
print(json.dumps({"cas": cas, "total": ctx.cert_store_stats()["x509"]}))
"#;
    let out = StdCommand::new("python3")
        .args(["-c", script])
        .arg(&bundle)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "Python's ssl cannot load {}: {}",
        bundle.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = cabundle(home).args(["list", "--json"]).output().unwrap();
    assert!(list.status.success());
    let kept: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    let loaded_cas: std::collections::BTreeSet<String> = seen["cas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let kept_fps: std::collections::BTreeSet<String> = kept
        .iter()
        .map(|r| r["sha256"].as_str().unwrap().to_string())
        .collect();
    assert!(
        loaded_cas.is_subset(&kept_fps),
        "Python loaded certificates list does not keep: {:?}",
        loaded_cas.difference(&kept_fps).collect::<Vec<_>>()
    );
    assert_eq!(
        seen["total"].as_u64(),
        Some(kept.len() as u64),
        "Python loaded {} certificates, list keeps {}",
        seen["total"],
        kept.len()
    );
}
