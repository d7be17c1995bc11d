//! The trust sets a presented chain is judged against: the one in force
//! for OpenSSL clients here (SSL_CERT_FILE and SSL_CERT_DIR, else the
//! bundle), the OS store, Mozilla's roots and the bundle; and the security
//! level OpenSSL applies.

use std::fs;
use std::path::{Path, PathBuf};

use crate::cert::Cert;
use crate::decode;
use crate::state::Paths;

/// The three trust sets a chain is checked against, each with where it
/// came from, and the security level OpenSSL applies here; read once for
/// all the URLs of one run.
pub struct TrustSets {
    pub(super) in_force: (String, Vec<Cert>),
    /// cabundle's bundle, when the set in force is another.
    pub(super) bundle: Option<(String, Vec<Cert>)>,
    pub(super) os: (String, Vec<Cert>),
    pub(super) mozilla: (String, Vec<Cert>),
    pub(super) level: u8,
}

impl TrustSets {
    pub fn load(paths: &Paths) -> TrustSets {
        // The OS store and Mozilla's roots exactly as `sync` gathers them.
        let opts = crate::sync::Options {
            root: PathBuf::from("/"),
            macos_export: None,
            macos_trust_settings: None,
            windows: Default::default(),
            at: crate::date::now(),
        };
        let (os, mozilla) = match crate::sync::gather(paths, &opts) {
            Ok(g) => {
                let mut certs: Vec<Cert> =
                    g.gathered.found.into_iter().map(|(_, i)| i.cert).collect();
                let mozilla = certs.split_off(g.from_os);
                (
                    ("the OS trust store".to_string(), certs),
                    (
                        format!("Mozilla roots ({})", g.roots.provenance.upstream),
                        mozilla,
                    ),
                )
            }
            Err(e) => (
                (format!("the OS trust store (not read: {e})"), Vec::new()),
                (format!("Mozilla roots (not read: {e})"), Vec::new()),
            ),
        };
        let in_force = in_force(paths);
        let bundle = (!in_force.0.starts_with("the bundle")).then(|| {
            (
                format!("the bundle {}", paths.bundle.display()),
                read_certs(&paths.bundle),
            )
        });
        TrustSets {
            in_force,
            bundle,
            os,
            mozilla,
            level: openssl_security_level(),
        }
    }
}

/// The trust set OpenSSL clients use now: SSL_CERT_FILE when set, else the
/// bundle; plus what is in each folder of SSL_CERT_DIR (a colon-separated
/// list, as OpenSSL reads it), else cabundle's hashed folder.
fn in_force(paths: &Paths) -> (String, Vec<Cert>) {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    let (mut shown, path) = match var("SSL_CERT_FILE") {
        Some(f) => (
            format!("SSL_CERT_FILE={}", f.to_string_lossy()),
            PathBuf::from(f),
        ),
        None => (
            format!("the bundle {}", paths.bundle.display()),
            paths.bundle.clone(),
        ),
    };
    let read = read_certs;
    let mut certs = read(&path);
    if let Some(dirs) = var("SSL_CERT_DIR") {
        shown.push_str(&format!(" + SSL_CERT_DIR={}", dirs.to_string_lossy()));
        // OpenSSL looks up HASH.N names there; those are what it trusts.
        let hashed = |name: &str| {
            name.split_once('.').is_some_and(|(h, n)| {
                h.len() == 8
                    && h.bytes().all(|b| b.is_ascii_hexdigit())
                    && !n.is_empty()
                    && n.bytes().all(|b| b.is_ascii_digit())
            })
        };
        for dir in std::env::split_paths(&dirs) {
            if let Ok(entries) = fs::read_dir(&dir) {
                for e in entries.flatten() {
                    if hashed(&e.file_name().to_string_lossy()) {
                        certs.extend(read(&e.path()));
                    }
                }
            }
        }
    }
    (shown, certs)
}

fn read_certs(p: &Path) -> Vec<Cert> {
    decode::decode_file(p)
        .map(|d| d.items.into_iter().map(|i| i.cert).collect())
        .unwrap_or_default()
}

/// The SSL security level OpenSSL clients here run at: what the system's
/// OpenSSL configuration (or a file it includes) sets with `@SECLEVEL=N`,
/// as Fedora's and RHEL's crypto policies do; else the level the OpenSSL
/// here was built with: 2 on Debian and Ubuntu (both build with
/// `OPENSSL_TLS_SECURITY_LEVEL=2`; Debian 12's `s_client` refuses a
/// 1024-bit RSA leaf with no configuration saying so), 1 (OpenSSL's own)
/// elsewhere. Python sets its own (2) in its cipher string, whatever this
/// says.
fn openssl_security_level() -> u8 {
    configured_security_level().unwrap_or_else(|| {
        let release = fs::read_to_string("/etc/os-release").unwrap_or_default();
        let debian_family = release.lines().any(|l| {
            let (k, v) = l.split_once('=').unwrap_or_default();
            (k == "ID" || k == "ID_LIKE")
                && v.trim_matches('"')
                    .split_whitespace()
                    .any(|id| id == "debian" || id == "ubuntu")
        });
        if debian_family { 2 } else { 1 }
    })
}

fn configured_security_level() -> Option<u8> {
    let conf = std::env::var_os("OPENSSL_CONF")
        .map(PathBuf::from)
        .into_iter()
        .chain(
            [
                "/etc/ssl/openssl.cnf",
                "/usr/lib/ssl/openssl.cnf",
                "/etc/pki/tls/openssl.cnf",
            ]
            .map(PathBuf::from),
        )
        .find(|p| p.is_file());
    let conf = conf?;
    let mut texts = Vec::new();
    if let Ok(bytes) = decode::read_bounded(&conf) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        // One level of `.include` (where crypto policies live).
        for line in text.lines() {
            if let Some(inc) = line.trim().strip_prefix(".include") {
                let inc = Path::new(inc.trim().trim_start_matches('=').trim());
                let files: Vec<PathBuf> = match fs::read_dir(inc) {
                    Ok(d) => d.flatten().map(|e| e.path()).collect(),
                    Err(_) => vec![inc.to_path_buf()],
                };
                for f in files {
                    if let Ok(b) = decode::read_bounded(&f) {
                        texts.push(String::from_utf8_lossy(&b).into_owned());
                    }
                }
            }
        }
        texts.push(text);
    }
    texts
        .iter()
        .flat_map(|t| t.lines())
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split("@SECLEVEL=").nth(1))
        .filter_map(|rest| rest.chars().next()?.to_digit(10))
        .map(|d| d as u8)
        .max()
}

impl TrustSets {
    pub(super) fn all(&self) -> impl Iterator<Item = &Vec<Cert>> {
        [&self.in_force, &self.os, &self.mozilla]
            .into_iter()
            .chain(self.bundle.as_ref())
            .map(|(_, certs)| certs)
    }
}
