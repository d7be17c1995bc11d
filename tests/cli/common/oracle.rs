//! What openssl says of certificates (the oracle the tests compare
//! cabundle with), the PEM text they are asked about, and the embedded
//! Mozilla snapshot as openssl judges it; and p11-kit's `trust`, run on a
//! scratch source folder.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;
use std::sync::OnceLock;

use assert_cmd::Command;
use sha2::{Digest, Sha256};

use std::os::unix::fs::PermissionsExt;

use super::{require, stderr_of, text, write};

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

/// The DER of the first PEM block in `pem`.
pub fn der(pem: &str) -> Vec<u8> {
    let body = pem_body(&pem_blocks(pem)[0]);
    data_encoding::BASE64.decode(body.as_bytes()).unwrap()
}

/// A certificate's DER as PEM, 64 characters a line.
pub fn der_to_pem(der: &[u8]) -> String {
    let b64 = data_encoding::BASE64.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// Lowercase hex SHA-256 of `bytes`, as cabundle writes fingerprints.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
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

/// The value of openssl's `... Fingerprint=AB:CD:...` line, as lowercase hex.
fn fingerprint_in(out: &str) -> String {
    out.lines()
        .find(|l| l.contains("Fingerprint="))
        .expect("openssl printed a fingerprint")
        .rsplit('=')
        .next()
        .unwrap()
        .replace(':', "")
        .to_lowercase()
}

/// SHA-256 fingerprint as openssl prints it, normalised to lowercase hex.
pub fn openssl_sha256(pem: &str) -> String {
    let (ok, out) = openssl(&["x509", "-noout", "-fingerprint", "-sha256"], pem);
    assert!(ok, "openssl could not read:\n{pem}");
    fingerprint_in(&out)
}

/// SHA-1 fingerprint as openssl prints it, uppercase hex (as macOS trust
/// settings name certificates).
pub fn openssl_sha1(pem: &str) -> String {
    let (ok, out) = openssl(&["x509", "-noout", "-fingerprint", "-sha1"], pem);
    assert!(ok, "openssl could not read:\n{pem}");
    fingerprint_in(&out).to_uppercase()
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
    (fingerprint_in(&out), unexpired)
}

/// `openssl x509 FLAG serverAuth -trustout` (`-addtrust` or `-addreject`):
/// a TRUSTED CERTIFICATE with OpenSSL aux data, as real tools write it.
pub fn trusted_certificate(pem: &str, flag: &str) -> String {
    let (ok, out) = openssl(&["x509", flag, "serverAuth", "-trustout"], pem);
    assert!(ok && out.contains("BEGIN TRUSTED CERTIFICATE"), "{out}");
    out
}

/// The SHA-256 of every certificate in a PEM file, by openssl.
pub fn file_fingerprints(path: &Path) -> BTreeSet<String> {
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

/// A file of the source tree (`bundles/...`, `tests/data/...`).
pub fn source_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The embedded snapshot, read from the source tree: the same bytes the
/// binary compiled in.
pub fn snapshot_pem() -> PathBuf {
    source_file("bundles/mozilla-roots.pem")
}

/// Every root of the embedded snapshot, as a PEM block.
pub fn snapshot_roots() -> Vec<String> {
    pem_blocks(&fs::read_to_string(snapshot_pem()).unwrap())
}

/// `bundles/mozilla-removed.toml`: the roots Mozilla has removed, by SHA-256.
pub fn removed_ledger() -> toml::Table {
    let text = fs::read_to_string(source_file("bundles/mozilla-removed.toml")).unwrap();
    let ledger: toml::Table = toml::from_str(&text).unwrap();
    ledger["removed"].as_table().unwrap().clone()
}

/// One root of the embedded snapshot, as openssl sees it.
pub struct Public {
    pub pem: String,
    pub fp: String,
    pub unexpired: bool,
}

/// The embedded Mozilla snapshot, each root judged by `openssl x509
/// -checkend 0` (once per test binary).
pub fn mozilla() -> &'static [Public] {
    static ROOTS: OnceLock<Vec<Public>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        snapshot_roots()
            .into_iter()
            .map(|pem| {
                let (fp, unexpired) = openssl_sha256_unexpired(&pem);
                Public { pem, fp, unexpired }
            })
            .collect()
    })
}

/// The `n`-th unexpired root of the snapshot.
pub fn public_root(n: usize) -> &'static Public {
    mozilla()
        .iter()
        .filter(|r| r.unexpired)
        .nth(n)
        .expect("the snapshot has enough unexpired roots")
}

/// Fingerprints of the unexpired roots of the snapshot.
pub fn mozilla_unexpired() -> BTreeSet<String> {
    mozilla()
        .iter()
        .filter(|r| r.unexpired)
        .map(|r| r.fp.clone())
        .collect()
}

/// How to run p11-kit's `trust` so that it reads only `source` (a folder
/// with `anchors/` and `blocklist/`, like /etc/pki/ca-trust/source), without
/// touching the system's configuration: a per-user module config in a
/// private HOME overrides the trust module's `x-init-reserved`, which the
/// module parses as `paths=...`. p11-kit ignores per-user config in a
/// program running as root ("skipping user config in program running as
/// root"), so as root `trust` runs as `nobody` through util-linux's
/// `setpriv`. `None` when `trust` (or, as root, `setpriv`) is missing.
pub fn p11_kit_trust(dir: &Path, paths: &str) -> Option<StdCommand> {
    if !require(
        "trust",
        "--help",
        "Debian: apt-get install p11-kit p11-kit-modules",
    ) {
        return None;
    }
    let home = dir.join("p11-home");
    write(
        &home.join(".config/pkcs11/modules/p11-kit-trust.module"),
        format!("module: p11-kit-trust.so\nx-init-reserved: paths={paths}\n"),
    );
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let mut cmd = if root {
        if !require("setpriv", "--help", "Debian: apt-get install util-linux") {
            return None;
        }
        // `nobody` must reach the config, the source and the output folder.
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = StdCommand::new("setpriv");
        cmd.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            "trust",
        ]);
        cmd
    } else {
        StdCommand::new("trust")
    };
    cmd.env("HOME", &home)
        .env_remove("P11_KIT_NO_USER_CONFIG")
        .env_remove("XDG_CONFIG_HOME");
    Some(cmd)
}

/// `trust ARGS`, reading only `paths` ([`p11_kit_trust`], found already),
/// which must succeed: its stdout.
pub fn trust(dir: &Path, paths: &str, args: &[&str]) -> String {
    let out = p11_kit_trust(dir, paths)
        .expect("trust runs")
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "trust {args:?}: {}", stderr_of(&out));
    text(&out.stdout)
}

/// A folder `trust`, run as `nobody`, can write its output to.
pub fn extract_dir(path: &Path) -> PathBuf {
    fs::create_dir_all(path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o777)).unwrap();
    path.to_path_buf()
}

/// `keytool -list -v` of a keystore, by the keytool at `keytool`, which
/// must succeed: each entry's SHA-256 (lowercase hex, sorted), and whether
/// there are entries and every one is a trustedCertEntry.
pub fn keytool_entries(
    keytool: &Path,
    store: &Path,
    password: Option<&str>,
) -> (Vec<String>, bool) {
    let mut cmd = super::scrubbed_loopback(keytool);
    cmd.args(["-list", "-v", "-keystore"]).arg(store);
    if let Some(p) = password {
        cmd.args(["-storepass", p]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "keytool -list: {}", super::both(&out));
    let listing = text(&out.stdout);
    let mut shas: Vec<String> = listing
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SHA256: "))
        .map(|h| h.replace(':', "").to_ascii_lowercase())
        .collect();
    shas.sort();
    let entries = listing.matches("Entry type: ").count();
    let trusted = listing.matches("Entry type: trustedCertEntry").count();
    let all_trusted = entries > 0 && entries == trusted && entries == shas.len();
    (shas, all_trusted)
}

/// The SHA-256 of each certificate in a PEM bundle, sorted.
pub fn bundle_shas(bundle: &Path) -> Vec<String> {
    let mut shas: Vec<String> = pem_blocks(&fs::read_to_string(bundle).unwrap())
        .iter()
        .map(|b| sha256_hex(&der(b)))
        .collect();
    shas.sort();
    shas
}

/// `certutil ARGS -d sql:DIR`, which must succeed; its stdout.
pub fn certutil(dir: &Path, args: &[&str]) -> String {
    let out = super::scrubbed("certutil")
        .args(args)
        .arg("-d")
        .arg(format!("sql:{}", dir.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "certutil {args:?}: {}",
        super::both(&out)
    );
    text(&out.stdout)
}
