//! `cabundle doctor URL`: what the server presents, judged as the clients
//! doctor speaks for judge it, with one named class per failure and the fix
//! that is right for it.
//!
//! The chain is captured during the handshake (rustls, else a TLS ≤ 1.2
//! ClientHello: [`crate::tls::capture`]) and the connection dropped there:
//! no data ever flows to a server that was not verified. The verdict is
//! OpenSSL's with its default flags ([`crate::verify`]), which Python's ssl,
//! requests, httpx and curl share; where Python 3.10-3.12, Python 3.13 and
//! later (strict, partial chains) or rustls clients (uv, cargo) decide
//! otherwise, each gets a line of its own.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cert::Cert;
use crate::date;
use crate::decode;
use crate::sources::mozilla::Roots;
use crate::sources::{self, Gathered};
use crate::store::Paths;
use crate::tls::{self, Captured, Protocol, Suite, Target};
use crate::verify::{self, Code, Failure, Profile};

/// Why a server fails, one name per kind of failure: stable, for scripts
/// (`--json`'s `failure`), and each with its own fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    ExpiredLeaf,
    ExpiredIntermediate,
    ExpiredRoot,
    NotYetValid,
    HostnameMismatch,
    UnknownIssuer,
    MissingIntermediate,
    SelfSigned,
    BundleLacksRoot,
    WeakSignature,
    WeakKey,
    WrongPurpose,
    NameConstraints,
    PathLength,
    NotACa,
    UnsupportedCriticalExtension,
    BadSignature,
    /// Longer than OpenSSL's depth limit (100).
    ChainTooLong,
    /// A certificate that breaks X.509's own rules (a path length on a
    /// non-CA, an empty name, explicit curve parameters...).
    InvalidCertificate,
    /// Signed with an algorithm cabundle cannot check (Ed448, say): no
    /// verdict, which doctor says rather than guess.
    UnsupportedAlgorithm,
    /// A certificate in the chain that OpenSSL cannot read at all.
    UnreadableChain,
    /// The chain is fine; the server's protocol or cipher suites are not
    /// ones the clients accept.
    Protocol,
    /// No chain: the connection, the proxy or the handshake failed.
    Connect,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::ExpiredLeaf => "expired-leaf",
            Class::ExpiredIntermediate => "expired-intermediate",
            Class::ExpiredRoot => "expired-root",
            Class::NotYetValid => "not-yet-valid",
            Class::HostnameMismatch => "hostname-mismatch",
            Class::UnknownIssuer => "unknown-issuer",
            Class::MissingIntermediate => "missing-intermediate",
            Class::SelfSigned => "self-signed",
            Class::BundleLacksRoot => "bundle-lacks-root",
            Class::WeakSignature => "weak-signature",
            Class::WeakKey => "weak-key",
            Class::WrongPurpose => "wrong-purpose",
            Class::NameConstraints => "name-constraints",
            Class::PathLength => "path-length",
            Class::NotACa => "not-a-ca",
            Class::UnsupportedCriticalExtension => "unsupported-critical-extension",
            Class::BadSignature => "bad-signature",
            Class::ChainTooLong => "chain-too-long",
            Class::InvalidCertificate => "invalid-certificate",
            Class::UnsupportedAlgorithm => "unsupported-algorithm",
            Class::UnreadableChain => "unreadable-chain",
            Class::Protocol => "protocol",
            Class::Connect => "connect",
        }
    }
}

/// One certificate of a presented chain.
#[derive(Debug, Clone, Serialize)]
pub struct ChainCert {
    pub subject: String,
    pub issuer: String,
    pub sha256: String,
    pub not_before: String,
    pub not_after: String,
    pub expired: bool,
    pub not_yet_valid: bool,
}

/// What one trust set says of the chain, as OpenSSL judges it.
#[derive(Debug, Clone, Serialize)]
pub struct TrustResult {
    /// `in force`, `os` or `mozilla`.
    pub trust_set: String,
    /// The file or source it came from.
    pub source: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// A client whose verdict differs from OpenSSL's default one.
#[derive(Debug, Clone, Serialize)]
pub struct ClientVerdict {
    pub client: String,
    pub ok: bool,
    pub detail: String,
}

/// OpenSSL's own words for the failure: `X509_V_ERR_*`'s number, the
/// depth, and its text, as `openssl s_client` prints them.
#[derive(Debug, Clone, Serialize)]
pub struct OpensslError {
    pub code: Option<i32>,
    pub depth: usize,
    pub text: String,
}

/// The diagnosis for one URL.
#[derive(Debug, Clone, Serialize)]
pub struct UrlReport {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub proxy: Option<String>,
    pub ok: bool,
    /// The failure's class (see README), `None` when verified.
    pub failure: Option<Class>,
    pub message: String,
    /// Whether the server, not this machine, must change.
    pub server_fault: bool,
    pub fix: Option<String>,
    pub looks_like_tls_inspection: bool,
    pub openssl_error: Option<OpensslError>,
    pub protocol: Option<Protocol>,
    pub cipher: Option<Suite>,
    pub chain: Vec<ChainCert>,
    pub trust: Vec<TrustResult>,
    /// Clients that would decide otherwise, each with why.
    pub clients: Vec<ClientVerdict>,
    /// The presented certificate to review (and maybe add), when saved.
    pub saved_issuer: Option<PathBuf>,
}

/// `https://host[:port][/path]` or `host[:port]`.
pub fn parse_url(url: &str) -> Option<(String, u16)> {
    // `host`, `host:port` and `https://...` are all accepted; a bare one
    // is read as https.
    let full = if url.contains("://") {
        url.to_string()
    } else {
        format!("https://{url}")
    };
    let parsed = reqwest::Url::parse(&full).ok()?;
    if parsed.scheme() != "https" || !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    // IPv6 literals come bracketed; names already lowercased.
    let host = parsed.host_str()?.trim_matches(['[', ']']).to_string();
    Some((host, parsed.port_or_known_default()?))
}

pub struct UrlOptions {
    /// The whole check of one URL, the proxy and the issuer's download
    /// included, ends by then.
    pub timeout: Duration,
    pub now: i64,
    pub save_issuer: Option<PathBuf>,
}

/// The three trust sets a chain is checked against, each with where it
/// came from, and the security level OpenSSL applies here; read once for
/// all the URLs of one run.
pub struct TrustSets {
    in_force: (String, Vec<Cert>),
    /// cabundle's bundle, when the set in force is another.
    bundle: Option<(String, Vec<Cert>)>,
    os: (String, Vec<Cert>),
    mozilla: (String, Vec<Cert>),
    level: u8,
}

impl TrustSets {
    pub fn load(paths: &Paths) -> TrustSets {
        let certs = |g: Gathered| g.found.into_iter().map(|(_, i)| i.cert).collect();
        let mut g = Gathered::default();
        let mut moz = g.beside();
        sources::os::load(Path::new("/"), &mut g);
        let os = ("the OS trust store".to_string(), certs(g));
        let roots = Roots::current(&paths.cache_dir, &mut moz);
        roots.load(&mut moz);
        let mozilla = (
            format!("Mozilla roots ({})", roots.provenance.upstream),
            certs(moz),
        );
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

pub fn check_url(sets: &TrustSets, url: &str, opts: &UrlOptions) -> UrlReport {
    let started = Instant::now();
    let mut report = UrlReport {
        url: url.into(),
        host: String::new(),
        port: 0,
        proxy: None,
        ok: false,
        failure: None,
        message: String::new(),
        server_fault: false,
        fix: None,
        looks_like_tls_inspection: false,
        openssl_error: None,
        protocol: None,
        cipher: None,
        chain: Vec::new(),
        trust: Vec::new(),
        clients: Vec::new(),
        saved_issuer: None,
    };
    // The command line checked it already.
    let Some((host, port)) = parse_url(url) else {
        report.failure = Some(Class::Connect);
        report.message = format!("{url}: expected https://host[:port][/path] or host[:port]");
        return report;
    };
    report.host.clone_from(&host);
    report.port = port;
    let proxy = tls::proxy_for(&host);
    report.proxy = proxy.as_ref().map(|(h, p)| format!("{h}:{p}"));
    let target = Target {
        host: host.clone(),
        port,
        proxy,
        timeout: opts.timeout,
    };
    let captured = match tls::capture(&target) {
        Ok(c) => c,
        Err(e) => {
            report.failure = Some(Class::Connect);
            report.message = e.to_string();
            return report;
        }
    };
    report.protocol = Some(captured.protocol);
    report.cipher = captured.cipher;
    let chain: Vec<Cert> = captured
        .chain
        .iter()
        .filter_map(|d| Cert::from_der(d).ok())
        .collect();
    report.chain = chain
        .iter()
        .map(|c| ChainCert {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            sha256: c.fingerprint(),
            not_before: date::instant(c.not_before),
            not_after: date::instant(c.not_after),
            expired: c.not_after <= opts.now,
            not_yet_valid: c.not_before > opts.now,
        })
        .collect();
    if chain.len() != captured.chain.len() || chain.is_empty() {
        let bad = captured
            .chain
            .iter()
            .position(|d| Cert::from_der(d).is_err())
            .unwrap_or(0);
        let why = captured
            .chain
            .get(bad)
            .and_then(|d| Cert::from_der(d).err())
            .unwrap_or_else(|| "no certificate".into());
        report.failure = Some(Class::UnreadableChain);
        report.message = format!(
            "the server presents a certificate (number {} of {}) that cannot be read: {why}; \
             OpenSSL clients cannot load it either",
            bad + 1,
            captured.chain.len()
        );
        report.server_fault = true;
        report.fix = Some(SERVER_FIX.into());
        return report;
    }

    let openssl = Profile::openssl_default(sets.level);
    let judge = |certs: &[Cert]| verify::verify(&chain, certs, Some(&host), opts.now, &openssl);
    let main = judge(&sets.in_force.1);
    let os = judge(&sets.os.1);
    let mozilla = judge(&sets.mozilla.1);
    let bundle = sets
        .bundle
        .as_ref()
        .map(|(name, certs)| (name, judge(certs)));
    report.trust = [
        ("in force", &sets.in_force.0, &main),
        ("os", &sets.os.0, &os),
        ("mozilla", &sets.mozilla.0, &mozilla),
    ]
    .into_iter()
    .chain(bundle.iter().map(|(name, r)| ("bundle", *name, r)))
    .map(|(set, source, r)| TrustResult {
        trust_set: set.into(),
        source: source.clone(),
        ok: r.is_ok(),
        error: r.as_ref().err().map(|f| f.to_string()),
    })
    .collect();

    let verdict = match &main {
        Ok(path) => verified(&chain, path, opts.now),
        Err(f) => {
            report.openssl_error = Some(OpensslError {
                code: f.code.number(),
                depth: f.depth,
                text: f.code.text().into(),
            });
            let accepted_by = if bundle.as_ref().is_some_and(|(_, r)| r.is_ok()) {
                Some(Elsewhere::Bundle)
            } else if os.is_ok() || mozilla.is_ok() {
                Some(Elsewhere::Store)
            } else {
                None
            };
            classify(f, &chain, &host, sets, accepted_by, opts, started)
        }
    };
    report.ok = verdict.class.is_none();
    report.failure = verdict.class;
    report.message = verdict.message;
    report.server_fault = verdict.server_fault;
    report.fix = verdict.fix;
    report.looks_like_tls_inspection = verdict.inspection;

    // Clients that decide otherwise: their own verification profiles and
    // their own protocol and suite lists.
    report.clients = other_clients(&chain, &sets.in_force.1, &host, opts.now, &main, &captured);
    // The chain may be fine while the clients doctor speaks for refuse
    // the connection itself: that is the failure then.
    let openssl_refuses = refused_by(Client::OpensslDefault, &captured);
    let python_refuses = refused_by(Client::Python, &captured);
    if report.ok && (openssl_refuses.is_some() || python_refuses.is_some()) {
        let who = match (&openssl_refuses, &python_refuses) {
            (Some(_), Some(_)) => "curl and Python refuse it by default",
            (Some(_), None) => {
                "curl and other OpenSSL clients refuse it by default (Python accepts it)"
            }
            _ => "Python (requests, httpx, pip) refuses it by default (curl accepts it)",
        };
        report.ok = false;
        report.failure = Some(Class::Protocol);
        report.server_fault = true;
        report.message = format!(
            "the chain is fine, but {}: {who}",
            openssl_refuses.or(python_refuses).unwrap_or_default()
        );
        report.fix = Some(
            "the server must offer TLS 1.2 or later with an ECDHE or DHE key exchange and an \
             AES-GCM or ChaCha20 suite; nothing on this machine should be weakened to reach it"
                .into(),
        );
    }

    save_issuer(&mut report, &chain, opts);
    report
}

const SERVER_FIX: &str = "nothing to change here: the server's operator must fix its certificates";

struct Verdict {
    class: Option<Class>,
    message: String,
    server_fault: bool,
    fix: Option<String>,
    inspection: bool,
}

fn verdict(class: Class, message: String, server_fault: bool, fix: Option<String>) -> Verdict {
    Verdict {
        class: Some(class),
        message,
        server_fault,
        fix,
        inspection: false,
    }
}

/// Verified; a note when the server also sends an expired certificate on a
/// path it did not need (clients that insist on the sent path fail).
fn verified(chain: &[Cert], path: &[Cert], now: i64) -> Verdict {
    let unused_expired = chain
        .iter()
        .skip(1)
        .find(|c| c.not_after <= now && !path.iter().any(|p| p.sha256 == c.sha256));
    let message = match unused_expired {
        Some(x) => format!(
            "verified; the server also sends {}, which expired {}, but another valid path \
             exists (clients that insist on that path, such as OpenSSL before 1.1.0, fail)",
            x.name(),
            date::day(x.not_after)
        ),
        None => "verified".into(),
    };
    Verdict {
        class: None,
        message,
        server_fault: false,
        fix: None,
        inspection: false,
    }
}

/// Where a certificate stands, for messages.
fn role(f: &Failure) -> &'static str {
    match (f.depth, f.chain.len()) {
        (0, _) => "the server's certificate",
        (d, n) if d + 1 == n && f.cert().is_some_and(|c| c.subject == c.issuer) => "the root",
        _ => "the intermediate",
    }
}

/// Name the failure OpenSSL reported, and what to do about it.
fn classify(
    f: &Failure,
    chain: &[Cert],
    host: &str,
    sets: &TrustSets,
    elsewhere: Option<Elsewhere>,
    opts: &UrlOptions,
    started: Instant,
) -> Verdict {
    let who = f.cert().map(|c| c.name().to_string()).unwrap_or_default();
    let at = f.depth;
    let server = "the fault is the server's: its operator must fix it";
    match f.code {
        Code::CertHasExpired => {
            let when = f.cert().map(|c| date::instant(c.not_after)).unwrap_or_default();
            let class = match (at, role(f)) {
                (0, _) => Class::ExpiredLeaf,
                (_, "the root") => Class::ExpiredRoot,
                _ => Class::ExpiredIntermediate,
            };
            if class == Class::ExpiredRoot && sets.in_force.1.iter().any(|c| Some(c.sha256) == f.cert().map(|x| x.sha256)) {
                // The expired root is in the trust set in force: cabundle's
                // bundle never keeps one, so the set in force is another.
                let bundle_ok = !sets.in_force.0.starts_with("the bundle");
                return verdict(
                    class,
                    format!(
                        "the chain ends at the root {who} (depth {at}), which expired {when}; \
                         the trust set in force ({}) still holds it",
                        sets.in_force.0
                    ),
                    !bundle_ok,
                    Some(if bundle_ok {
                        "point clients at cabundle's bundle, which prunes expired roots: eval \"$(cabundle env)\"; if the server still fails, it must chain to a current root".into()
                    } else {
                        "the server must send a chain to a current root (its CA's cross-sign or new root)".into()
                    }),
                );
            }
            verdict(
                class,
                format!("{} {who} (depth {at}) expired {when}; {server}", role(f)),
                true,
                Some(SERVER_FIX.into()),
            )
        }
        Code::CertNotYetValid => {
            let when = f.cert().map(|c| date::instant(c.not_before)).unwrap_or_default();
            verdict(
                Class::NotYetValid,
                format!(
                    "{} {who} (depth {at}) is valid only from {when}: the server uses it too early, \
                     or this machine's clock is behind (now: {})",
                    role(f),
                    date::instant(opts.now)
                ),
                false,
                Some("check the clock first: date -u; if it is right, the server's operator must fix the certificate".into()),
            )
        }
        Code::HostnameMismatch | Code::IpAddressMismatch => {
            let names = chain.first().map(names_of).unwrap_or_default();
            let local = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok();
            if local {
                verdict(
                    Class::HostnameMismatch,
                    format!(
                        "you asked for {host}, and the certificate is for {names}: connect by one of \
                         those names (a certificate names the host, not where it runs)"
                    ),
                    false,
                    Some(format!("use https://{}/ (or add {host} to the certificate's names)", first_name(chain))),
                )
            } else {
                verdict(
                    Class::HostnameMismatch,
                    format!("the server's certificate is for {names}, not {host}; {server}"),
                    true,
                    Some(SERVER_FIX.into()),
                )
            }
        }
        Code::DepthZeroSelfSignedCert => verdict(
            Class::SelfSigned,
            format!("the server's certificate ({who}) is self-signed: nothing vouches for it"),
            false,
            Some("if you trust this one server, and have checked its SHA-256 with its owner: cabundle doctor URL --save-issuer server.pem; cabundle add --allow-leaf server.pem".into()),
        ),
        Code::CaMdTooWeak => {
            let alg = f.cert().map(signature_name).unwrap_or_default();
            verdict(
                Class::WeakSignature,
                format!(
                    "{} {who} (depth {at}) is signed with {alg}, which OpenSSL refuses (security level {}); {server}",
                    role(f),
                    sets.level.max(1)
                ),
                true,
                Some("the server's operator must get certificates signed with SHA-256 or better; do not add anything here".into()),
            )
        }
        Code::EeKeyTooSmall | Code::CaKeyTooSmall => verdict(
            Class::WeakKey,
            format!("{} {who} (depth {at}) has a key too weak for OpenSSL's security level {}; {server}", role(f), sets.level.max(1)),
            true,
            Some("the server's operator must use RSA 2048 bits or more, or an EC key".into()),
        ),
        Code::InvalidPurpose => verdict(
            Class::WrongPurpose,
            format!(
                "{} {who} (depth {at}) is not for TLS servers (its extended key usage or key usage says otherwise); {server}",
                role(f)
            ),
            true,
            Some(SERVER_FIX.into()),
        ),
        Code::PermittedViolation | Code::ExcludedViolation | Code::SubtreeMinmax | Code::UnsupportedConstraintType | Code::UnsupportedNameSyntax => verdict(
            Class::NameConstraints,
            format!("a CA in the chain may not issue for the names in {who} (depth {at}): {}; {server}", f.code.text()),
            true,
            Some(SERVER_FIX.into()),
        ),
        Code::PathLengthExceeded => verdict(
            Class::PathLength,
            format!("the CA {who} (depth {at}) allows fewer intermediates below it than the chain has; {server}"),
            true,
            Some(SERVER_FIX.into()),
        ),
        Code::InvalidCa | Code::KeyusageNoCertsign => verdict(
            Class::NotACa,
            format!("{who} (depth {at}) signs other certificates but is not a CA ({}); {server}", f.code.text()),
            true,
            Some(SERVER_FIX.into()),
        ),
        Code::UnhandledCriticalExtension => verdict(
            Class::UnsupportedCriticalExtension,
            format!("{who} (depth {at}) has a critical extension OpenSSL does not know, so it must refuse it; {server}"),
            true,
            Some(SERVER_FIX.into()),
        ),
        Code::CertSignatureFailure => verdict(
            Class::BadSignature,
            format!("the signature on {who} (depth {at}) does not verify: the chain is broken or forged"),
            true,
            Some(SERVER_FIX.into()),
        ),
        Code::SelfSignedCertInChain
        | Code::UnableToGetIssuerCertLocally
        | Code::UnableToGetIssuerCert
        | Code::UnableToVerifyLeafSignature => {
            issuer_problem(f, chain, host, sets, elsewhere, opts, started)
        }
        Code::KeyusageNoDigitalSignature => verdict(
            Class::WrongPurpose,
            format!("{who} (depth {at}) has a key usage that does not allow signing handshakes; {server}"),
            true,
            Some(SERVER_FIX.into()),
        ),
        Code::CertChainTooLong => verdict(
            Class::ChainTooLong,
            format!("the chain is longer than OpenSSL's limit of 100 certificates; {server}"),
            true,
            Some(SERVER_FIX.into()),
        ),
        Code::UnsupportedAlgorithm => verdict(
            Class::UnsupportedAlgorithm,
            format!(
                "{who} (depth {at}) is signed with an algorithm cabundle cannot check, so doctor gives no verdict on it; openssl s_client -verify_return_error can"
            ),
            false,
            None,
        ),
        Code::Unspecified
        | Code::ProxyCertificatesNotAllowed
        | Code::SignatureAlgorithmInconsistency
        | Code::PathlenInvalidForNonCa
        | Code::PathlenWithoutKuKeyCertSign
        | Code::KuKeyCertSignInvalidForNonCa
        | Code::IssuerNameEmpty
        | Code::SubjectNameEmpty
        | Code::MissingAuthorityKeyIdentifier
        | Code::MissingSubjectKeyIdentifier
        | Code::EmptySubjectAltName
        | Code::EmptySubjectSanNotCritical
        | Code::CaBconsNotCritical
        | Code::CaCertMissingKeyUsage
        | Code::ExtensionsRequireVersion3
        | Code::EcKeyExplicitParams => verdict(
            Class::InvalidCertificate,
            format!("{who} (depth {at}) breaks the rules for certificates: {}; {server}", f.code.text()),
            true,
            Some(SERVER_FIX.into()),
        ),
    }
}

/// No trusted issuer was found: the set in force lacks a root others have,
/// the server left out its intermediate, or nothing here knows the issuer.
fn issuer_problem(
    f: &Failure,
    chain: &[Cert],
    host: &str,
    sets: &TrustSets,
    elsewhere: Option<Elsewhere>,
    opts: &UrlOptions,
    started: Instant,
) -> Verdict {
    match elsewhere {
        Some(Elsewhere::Bundle) => {
            return verdict(
                Class::BundleLacksRoot,
                format!(
                    "cabundle's bundle accepts this chain, but the trust set in force ({}) does not",
                    sets.in_force.0
                ),
                false,
                Some("point clients at the bundle: eval \"$(cabundle env)\"".into()),
            );
        }
        Some(Elsewhere::Store) => {
            return verdict(
                Class::BundleLacksRoot,
                format!(
                    "the OS store or Mozilla's roots accept this chain, but the trust set in force ({}) does not: it is stale or too narrow",
                    sets.in_force.0
                ),
                false,
                Some(
                    "cabundle sync  # and point clients at the bundle: eval \"$(cabundle env)\""
                        .into(),
                ),
            );
        }
        None => {}
    }
    // The top of what the server sent: the certificate whose issuer is
    // missing.
    let top = f.cert().unwrap_or(&chain[0]);
    let self_issued = top.subject == top.issuer;
    let holders = |name: &str| -> Vec<&Cert> {
        sets.all()
            .flat_map(|set| set.iter().filter(move |c| c.subject == name))
            .collect()
    };
    // A root that expired: the one the server sends (no set keeps it), or
    // the only ones any store here has by its issuer's name.
    let expired_root = if self_issued {
        (top.not_after <= opts.now).then_some(top)
    } else {
        let by_name = holders(&top.issuer);
        (!by_name.is_empty() && by_name.iter().all(|c| c.not_after <= opts.now)).then(|| by_name[0])
    };
    if let Some(root) = expired_root {
        return verdict(
            Class::ExpiredRoot,
            format!(
                "the chain ends at the root {}, which expired {}; no current root vouches for {} (depth {}), so {}",
                root.name(),
                date::instant(root.not_after),
                top.name(),
                f.depth,
                "the server must send a chain to a current root (its CA's cross-sign or new root)"
            ),
            true,
            Some("nothing to change here: the server's operator must chain to a current root; re-adding the expired one would not help (clients refuse it)".into()),
        );
    }
    if !self_issued && holders(&top.issuer).is_empty() {
        // Its issuer is an intermediate the server should send: the AIA
        // URL, if there is one, fetches it to confirm.
        let urls = ca_issuers(top);
        let left = opts.timeout.saturating_sub(started.elapsed());
        let fetched = urls
            .iter()
            .find_map(|u| fetch_issuer(u, left).ok().map(|c| (u, c)));
        if let Some((url, issuer)) = &fetched {
            let mut completed: Vec<Cert> = chain.to_vec();
            completed.push(issuer.clone());
            let profile = Profile::openssl_default(sets.level);
            let with = verify::verify(&completed, &sets.in_force.1, Some(host), opts.now, &profile);
            if with.is_ok() {
                return verdict(
                    Class::MissingIntermediate,
                    format!(
                        "the server does not send the intermediate {} that issued {} (depth {}); with it (fetched from {url}) the chain verifies; the server's operator must send it",
                        issuer.name(),
                        top.name(),
                        f.depth
                    ),
                    true,
                    Some("the server must send its full chain (leaf and intermediates); do not add the intermediate here".into()),
                );
            }
        }
        let public_without_aia = urls.is_empty() && tls_inspection_likely(host);
        if fetched.is_none() && !public_without_aia && (chain.len() == 1 || !urls.is_empty()) {
            return verdict(
                Class::MissingIntermediate,
                format!(
                    "the server sends {} but not {}, the CA that issued it, and no trust set here holds that CA{}; \
                     (if {} is instead your organisation's own root, get it from IT and add it)",
                    if chain.len() == 1 { "only its own certificate" } else { "a chain" },
                    top.issuer,
                    match urls.first() {
                        Some(u) => format!(" (it could not be fetched from {u} to confirm)"),
                        None => String::new(),
                    },
                    top.issuer,
                ),
                true,
                Some("the server must send its full chain (leaf and intermediates); do not add the intermediate here".into()),
            );
        }
    }
    let public_issuer = sets
        .mozilla
        .1
        .iter()
        .any(|m| m.subject == top.issuer || m.subject == top.subject);
    let fix = match presented_top(chain) {
        Some(c) if c.subject == c.issuer => "if this is your organisation's CA or TLS-inspection proxy: save the root the server sent (cabundle doctor URL --save-issuer issuer.pem), check its SHA-256 with IT, then: cabundle add issuer.pem".to_string(),
        _ => format!(
            "if this is your organisation's CA or TLS-inspection proxy, get its root ({}) from IT and add it: cabundle add root.pem",
            if self_issued { &top.subject } else { &top.issuer }
        ),
    };
    let mut v = verdict(
        Class::UnknownIssuer,
        format!(
            "the chain ends at {}, which no trust set here knows",
            if self_issued {
                &top.subject
            } else {
                &top.issuer
            }
        ),
        false,
        Some(fix),
    );
    if !public_issuer && tls_inspection_likely(host) {
        v.inspection = true;
        v.message.push_str(": this looks like TLS inspection (a corporate proxy re-signing traffic); add its CA once you have checked it with IT");
    }
    v
}

/// Whether the server's chain-building landed in a set other than the
/// one in force.
#[derive(Clone, Copy)]
enum Elsewhere {
    /// cabundle's bundle, not in force, accepts it.
    Bundle,
    /// The OS store or Mozilla's roots accept it.
    Store,
}

impl TrustSets {
    fn all(&self) -> impl Iterator<Item = &Vec<Cert>> {
        [&self.in_force, &self.os, &self.mozilla]
            .into_iter()
            .chain(self.bundle.as_ref())
            .map(|(_, certs)| certs)
    }
}

/// The furthest certificate above the leaf that the server sent, following
/// issuer names from the leaf; the leaf itself when it is self-signed;
/// `None` when the server sent nothing that issued its leaf.
fn presented_top(chain: &[Cert]) -> Option<&Cert> {
    let mut at = chain.first()?;
    if at.subject == at.issuer {
        return Some(at);
    }
    let mut top = None;
    // Bounded by the chain's length: a loop of names cannot spin.
    for _ in 1..chain.len() {
        match chain.iter().skip(1).find(|c| c.subject == at.issuer) {
            Some(c) if c.subject != at.subject => {
                top = Some(c);
                at = c;
            }
            _ => break,
        }
    }
    top
}

fn tls_inspection_likely(host: &str) -> bool {
    super::is_public_host(host)
}

/// The DNS and IP names a certificate is for, for messages.
fn names_of(cert: &Cert) -> String {
    let names = san_names(cert);
    if names.is_empty() {
        cert.common_name
            .clone()
            .unwrap_or_else(|| cert.subject.clone())
    } else {
        names.join(", ")
    }
}

fn first_name(chain: &[Cert]) -> String {
    chain
        .first()
        .and_then(|c| san_names(c).into_iter().next().or(c.common_name.clone()))
        .unwrap_or_default()
}

fn san_names(cert: &Cert) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
    let Ok((_, x)) = X509Certificate::from_der(&cert.der) else {
        return Vec::new();
    };
    let Ok(Some(san)) = x.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(crate::cert::printable(d)),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).ok()?).to_string()),
                16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The signature algorithm's name, for messages ("SHA-1 with RSA").
fn signature_name(cert: &Cert) -> String {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let Ok((_, x)) = X509Certificate::from_der(&cert.der) else {
        return "a weak digest".into();
    };
    let oid = x.signature_algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.113549.1.1.4" => "MD5 with RSA".into(),
        "1.2.840.113549.1.1.5" => "SHA-1 with RSA".into(),
        "1.2.840.10045.4.1" => "ECDSA with SHA-1".into(),
        "1.2.840.10040.4.3" => "DSA with SHA-1".into(),
        "1.2.840.113549.1.1.2" => "MD2 with RSA".into(),
        _ => format!("a weak digest ({oid})"),
    }
}

/// The certificate's AIA caIssuers URLs (http or https).
fn ca_issuers(cert: &Cert) -> Vec<String> {
    use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};
    let Ok((_, x)) = X509Certificate::from_der(&cert.der) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in x.extensions() {
        if let ParsedExtension::AuthorityInfoAccess(aia) = e.parsed_extension() {
            for d in &aia.accessdescs {
                if d.access_method
                    == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS
                    && let GeneralName::URI(u) = &d.access_location
                    && (u.starts_with("http://") || u.starts_with("https://"))
                {
                    out.push(u.to_string());
                }
            }
        }
    }
    out
}

/// Download the certificate an AIA URL names (DER or PEM, at most 64 KiB,
/// within `left`). It is only used to confirm a diagnosis, never trusted
/// or stored: whatever it is, the chain must still verify to a root this
/// machine already trusts. Plain http is what CAs publish these on, and is
/// fine for that reason.
fn fetch_issuer(url: &str, left: Duration) -> Result<Cert, String> {
    use std::io::Read;
    if left.is_zero() {
        return Err("no time left".into());
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .timeout(left)
        .connect_timeout(left)
        .redirect(reqwest::redirect::Policy::limited(3))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(url).send().map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    response
        .take(64 * 1024)
        .read_to_end(&mut body)
        .map_err(|e| e.to_string())?;
    let decoded = decode::decode(&body);
    decoded
        .items
        .into_iter()
        .next()
        .map(|i| i.cert)
        .ok_or_else(|| "not a certificate".into())
}

/// Save the certificate that vouches for the leaf, for review, when asked
/// and when there is one: never when nothing above the leaf was sent.
fn save_issuer(report: &mut UrlReport, chain: &[Cert], opts: &UrlOptions) {
    let Some(file) = &opts.save_issuer else {
        return;
    };
    if report.ok {
        return;
    }
    // Adding the issuer is the fix only when nothing here knows it; for
    // any other failure, saving it would invite the wrong fix.
    if !matches!(
        report.failure,
        Some(Class::UnknownIssuer | Class::SelfSigned | Class::MissingIntermediate)
    ) {
        report.message.push_str(&format!(
            "; nothing saved: the issuer is not the problem here ({})",
            report.failure.map_or("", Class::as_str)
        ));
        return;
    }
    let leaf = &chain[0];
    let top = presented_top(chain);
    match top {
        Some(top) => match crate::store::write_atomic(file, top.to_pem().as_bytes()) {
            Ok(()) => {
                report.saved_issuer = Some(file.clone());
                if top.subject != top.issuer {
                    report.message.push_str(&format!(
                        "; the saved certificate is an intermediate: OpenSSL clients also need its root ({}), which the server did not send",
                        top.issuer
                    ));
                }
            }
            Err(e) => report
                .message
                .push_str(&format!(" (could not save the issuer: {e})")),
        },
        None => report.message.push_str(&format!(
            "; nothing saved: the server did not send its issuer ({}), so get that CA from its owner",
            leaf.issuer
        )),
    }
}

/// The client families whose verdicts can differ from OpenSSL's default.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    /// curl, `openssl s_client`: OpenSSL's defaults.
    OpensslDefault,
    /// Python's ssl (requests, httpx, pip): TLS 1.2 at least, its own
    /// cipher string.
    Python,
    /// uv, cargo and other rustls clients.
    Rustls,
}

/// Why `client` would refuse the server's protocol or suite, if it would.
fn refused_by(client: Client, c: &Captured) -> Option<String> {
    let proto = c.protocol;
    let old = matches!(proto, Protocol::Ssl3 | Protocol::Tls10 | Protocol::Tls11);
    let suite = c.cipher;
    match client {
        Client::Rustls => c.rustls_error.as_ref().map(|e| {
            format!(
                "rustls speaks only TLS 1.2 and 1.3 with ECDHE and AES-GCM or ChaCha20, and this \
                 server ({} {}) does not: {e}",
                proto.name(),
                suite.map(|s| s.to_string()).unwrap_or_default()
            )
        }),
        // OpenSSL 3 at security level 1 and up has no TLS below 1.2 (their
        // handshake signatures are SHA-1 or MD5), and no 3DES or RC4.
        Client::OpensslDefault => {
            if old {
                Some(format!("this server speaks only {}", proto.name()))
            } else if suite.is_some_and(|s| s.is_3des() || s.is_rc4()) {
                Some(format!(
                    "this server offers only {}",
                    suite.unwrap_or(Suite { id: 0 })
                ))
            } else {
                None
            }
        }
        // Python's default cipher string: ECDHE or DHE with AES (GCM, or
        // CBC with SHA-256/384) or ChaCha20 (ECDHE only), nothing with a
        // SHA-1 MAC, no RSA key transport; TLS 1.2 at least.
        Client::Python => {
            if old {
                return Some(format!("this server speaks only {}", proto.name()));
            }
            let s = suite?;
            if s.is_tls13() {
                return None;
            }
            let name = s.to_string();
            let kx_ok = name.starts_with("TLS_ECDHE_") || name.starts_with("TLS_DHE_RSA_");
            let cipher_ok =
                name.contains("_AES_") && !name.contains("_CCM") && !name.ends_with("_SHA")
                    || (name.starts_with("TLS_ECDHE_") && name.contains("CHACHA20"));
            (!(kx_ok && cipher_ok)).then(|| format!("this server offers only {name}"))
        }
    }
}

/// The lines for clients that would decide otherwise than OpenSSL's
/// default: by their verification flags, then by protocol and suite.
fn other_clients(
    chain: &[Cert],
    trusted: &[Cert],
    host: &str,
    now: i64,
    main: &Result<Vec<Cert>, Failure>,
    captured: &Captured,
) -> Vec<ClientVerdict> {
    let mut out = Vec::new();
    let main_ok = main.is_ok();
    let say = |r: &Result<Vec<Cert>, Failure>| match r {
        Ok(_) => "verifies".to_string(),
        Err(f) => format!("refuses: {f}"),
    };
    for (client, profile) in [
        (
            "Python 3.10-3.12 (requests, httpx, pip)",
            Profile::python_312(),
        ),
        (
            "Python 3.13 and later (VERIFY_X509_STRICT, partial chains)",
            Profile::python_313(),
        ),
    ] {
        let r = verify::verify(chain, trusted, Some(host), now, &profile);
        let differs =
            r.is_ok() != main_ok || matches!((&r, main), (Err(a), Err(b)) if a.code != b.code);
        if differs {
            out.push(ClientVerdict {
                client: client.into(),
                ok: r.is_ok(),
                detail: say(&r),
            });
        }
    }
    let ders: Vec<Vec<u8>> = chain.iter().map(|c| c.der.clone()).collect();
    let webpki = tls::verify(&ders, trusted, host, now);
    if webpki.is_ok() != main_ok {
        out.push(ClientVerdict {
            client: "rustls clients (uv, cargo, Rust tools)".into(),
            ok: webpki.is_ok(),
            detail: match &webpki {
                Ok(()) => "verifies (webpki judges this chain otherwise than OpenSSL)".into(),
                Err(e) => format!("refuses: {e}"),
            },
        });
    }
    for (client, which) in [
        ("curl and OpenSSL's defaults", Client::OpensslDefault),
        ("Python (requests, httpx, pip)", Client::Python),
        ("rustls clients (uv, cargo, Rust tools)", Client::Rustls),
    ] {
        if let Some(why) = refused_by(which, captured) {
            out.push(ClientVerdict {
                client: client.into(),
                ok: false,
                detail: format!("refuses the connection: {why}"),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_host_ports() {
        assert_eq!(
            parse_url("https://Example.com/a?b"),
            Some(("example.com".into(), 443))
        );
        assert_eq!(
            parse_url("example.com:8443"),
            Some(("example.com".into(), 8443))
        );
        assert_eq!(parse_url("https://[::1]:4443/"), Some(("::1".into(), 4443)));
        assert_eq!(parse_url("http://example.com"), None);
        assert_eq!(parse_url("https://:443"), None);
        assert_eq!(parse_url("https://user@example.com"), None);
    }

    #[test]
    fn classes_are_kebab_case_in_json() {
        for c in [
            Class::ExpiredRoot,
            Class::UnsupportedCriticalExtension,
            Class::NotACa,
        ] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}
