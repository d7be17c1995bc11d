//! `cabundle doctor`: why "certificate verify failed", and the one command
//! that fixes it, or word that the fault is the server's.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::cert::Cert;
use crate::date;
use crate::decode;
use crate::env::VARS;
use crate::manifest::Manifest;
use crate::sources::mozilla::Roots;
use crate::sources::{self, Gathered};
use crate::store::Paths;
use crate::tls::{self, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Info,
    Warning,
    Problem,
}

/// One thing doctor looked at.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub level: Level,
    pub check: String,
    pub message: String,
    /// The command that fixes it.
    pub fix: Option<String>,
}

fn finding(level: Level, check: &str, message: String, fix: Option<&str>) -> Finding {
    Finding {
        level,
        check: check.into(),
        message,
        fix: fix.map(Into::into),
    }
}

/// A variable pointing at fewer certificates than this is someone's own CA
/// alone, which replaces every public root.
const FEW: usize = 10;
const EXPIRING_DAYS: i64 = 30;

/// Checks of this machine's setup.
pub fn local(paths: &Paths, now: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    let bundle = decode::decode_file(&paths.bundle);
    let certs: Vec<Cert> = match &bundle {
        Ok(d) if !d.items.is_empty() => {
            out.push(finding(
                Level::Ok,
                "bundle",
                format!(
                    "{} holds {} certificates",
                    paths.bundle.display(),
                    d.items.len()
                ),
                None,
            ));
            d.items.iter().map(|i| i.cert.clone()).collect()
        }
        Ok(_) => {
            out.push(finding(
                Level::Problem,
                "bundle",
                format!("{} holds no certificate", paths.bundle.display()),
                Some("cabundle sync"),
            ));
            Vec::new()
        }
        Err(e) => {
            out.push(finding(
                Level::Problem,
                "bundle",
                format!("{}: {e}", paths.bundle.display()),
                Some("cabundle sync"),
            ));
            Vec::new()
        }
    };
    if !certs.is_empty() {
        let changes = stale(paths);
        if !changes.is_empty() {
            let shown: Vec<&str> = changes.iter().take(5).map(String::as_str).collect();
            let more = match changes.len() - shown.len() {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            out.push(finding(
                Level::Problem,
                "bundle age",
                format!(
                    "the bundle does not hold what its sources now say: {}{more}",
                    shown.join("; ")
                ),
                Some("cabundle sync"),
            ));
        }
    }
    variables(paths, &mut out);
    for var in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push(finding(
                Level::Info,
                "proxy",
                format!("{var}={}", v.to_string_lossy()),
                None,
            ));
        }
    }
    clock(&certs, now, &mut out);
    if let Ok(m) = Manifest::read(&paths.manifest, &paths.bundle) {
        let soon = date::instant(now + EXPIRING_DAYS * 86_400);
        for r in m
            .certificates
            .iter()
            .filter(|r| r.status == crate::bundle::Status::Kept)
        {
            if r.not_after <= soon {
                out.push(finding(
                    Level::Warning,
                    "expiring",
                    format!("{} expires {}", r.subject, r.not_after),
                    None,
                ));
            }
            if let Some(at) = &r.distrust_after {
                out.push(finding(
                    Level::Info,
                    "distrust-after",
                    format!(
                        "Mozilla distrusts leaves issued after {at} by {}",
                        r.subject
                    ),
                    None,
                ));
            }
        }
    }
    out
}

/// What changed among the bundle's sources since the last sync: the OS
/// store's files (by size and content, which Docker's COPY and tar keep
/// old times on), a file that appeared (a new drop-in, ca-certificates
/// installed into an image) or went, the Mozilla set, the added CAs and the
/// blocked list. Each as a short phrase.
fn stale(paths: &Paths) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let Ok(m) = Manifest::read(&paths.manifest, &paths.bundle) else {
        return Vec::new();
    };
    let mut changes = Vec::new();
    // The OS store, read again as sync reads it (a live macOS keychain or
    // an export named on a command line is not read again).
    if m.os.family.as_deref() != Some("macos") {
        let mut g = Gathered::default();
        sources::os::load(&m.os.root, &mut g);
        let now: BTreeMap<&Path, String> = g
            .files
            .iter()
            .map(|f| (f.path.as_path(), crate::cert::hex(&f.digest.sha256)))
            .collect();
        let then: BTreeMap<&Path, &str> = m
            .inputs
            .iter()
            .map(|i| (i.path.as_path(), i.sha256.as_str()))
            .collect();
        if then.is_empty() && !now.is_empty() {
            changes.push(format!(
                "its manifest (cabundle {}) does not record what that sync read",
                m.cabundle
            ));
        } else {
            for (path, sha) in &now {
                match then.get(path) {
                    None => changes.push(format!("{} is new", path.display())),
                    Some(old) if old != sha => changes.push(format!("{} changed", path.display())),
                    Some(_) => {}
                }
            }
            for path in then.keys().filter(|p| !now.contains_key(*p)) {
                changes.push(format!("{} is gone", path.display()));
            }
        }
    }
    let mozilla = Roots::current(&paths.cache_dir, &mut Gathered::default()).provenance;
    if mozilla.sha256 != m.mozilla.sha256 {
        changes.push(format!(
            "the Mozilla set in use is now {} ({})",
            mozilla.version, mozilla.upstream
        ));
    }
    let added_now: BTreeSet<String> = sources::user::list(&paths.cas, None)
        .map(|a| a.into_iter().map(|a| a.cert.fingerprint()).collect())
        .unwrap_or_default();
    let added_then: BTreeSet<String> = m
        .certificates
        .iter()
        .filter(|r| {
            r.sources
                .iter()
                .any(|s| s.starts_with(sources::user::LABEL_PREFIX))
        })
        .map(|r| r.sha256.clone())
        .collect();
    if added_now != added_then {
        changes.push("the added CAs changed".into());
    }
    let blocked_now: BTreeSet<String> = crate::config::Config::load(&paths.config())
        .map(|c| c.blocked.into_iter().collect())
        .unwrap_or_default();
    if blocked_now != m.blocked.iter().cloned().collect() {
        changes.push("the blocked list changed".into());
    }
    changes
}

/// What the clients that read `var` do when it names a file that is not
/// there: each its own way (their docs and code; checked for Python's ssl,
/// requests, curl, git and Node in tests/doctor.rs).
fn when_missing(var: &str) -> &'static str {
    match var {
        "SSL_CERT_FILE" => {
            "Python's ssl (urllib, httpx, huggingface_hub) ignores it without a word and uses \
             OpenSSL's default store; requests and curl do not read this variable at all"
        }
        "REQUESTS_CA_BUNDLE" => {
            "requests (and pip before 24.2, conda) fails every HTTPS request: \"Could not find a \
             suitable TLS CA certificate bundle\""
        }
        "CURL_CA_BUNDLE" => {
            "curl fails with error 77 (\"error setting certificate verify locations\"); requests \
             fails too when REQUESTS_CA_BUNDLE is not set"
        }
        "PIP_CERT" => "pip fails: \"Could not find a suitable TLS CA certificate bundle\"",
        "NODE_EXTRA_CA_CERTS" => {
            "Node warns \"Ignoring extra certs from ...\" once and goes on with its own roots only"
        }
        "GIT_SSL_CAINFO" => "git fails: \"error setting certificate file\"",
        "AWS_CA_BUNDLE" => "the AWS CLI and boto fail to load the CA bundle",
        "CARGO_HTTP_CAINFO" => "cargo fails to set up its TLS roots",
        "GRPC_DEFAULT_SSL_ROOTS_FILE_PATH" => "gRPC cannot load its roots and fails to connect",
        _ => "clients that read it fail or ignore it",
    }
}

fn variables(paths: &Paths, out: &mut Vec<Finding>) {
    let bundle = fs::canonicalize(&paths.bundle).ok();
    for var in VARS.iter().filter(|v| **v != crate::env::CERT_DIR) {
        let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
            out.push(finding(
                Level::Warning,
                var,
                format!("{var} is not set: clients that read it will not use the bundle"),
                Some("eval \"$(cabundle env)\"  # or: cabundle env >> ~/.bashrc"),
            ));
            continue;
        };
        let path = PathBuf::from(&value);
        let shown = path.display();
        if !path.exists() {
            out.push(finding(
                Level::Problem,
                var,
                format!(
                    "{var} points to a missing file {shown}: {}",
                    when_missing(var)
                ),
                Some("cabundle sync, or unset it"),
            ));
            continue;
        }
        if bundle.is_some() && fs::canonicalize(&path).ok() == bundle {
            out.push(finding(
                Level::Ok,
                var,
                format!("{var} points to the bundle"),
                None,
            ));
            continue;
        }
        match decode::decode_file(&path) {
            Err(e) => out.push(finding(Level::Problem, var, format!("{var}={shown}: {e}"), None)),
            Ok(d) if d.items.is_empty() => {
                out.push(finding(Level::Problem, var, format!("{var}={shown} holds no certificate"), None))
            }
            Ok(d) if d.items.len() < FEW => out.push(finding(
                Level::Problem,
                var,
                format!(
                    "{var}={shown} holds only {} certificate(s): it replaces every public root, so other sites fail",
                    d.items.len()
                ),
                Some(&format!("cabundle add {shown}  # then point {var} at the bundle: cabundle env")),
            )),
            Ok(d) => out.push(finding(
                Level::Warning,
                var,
                format!("{var}={shown} ({} certificates) is not the cabundle bundle", d.items.len()),
                Some("eval \"$(cabundle env)\""),
            )),
        }
    }
    // OpenSSL reads SSL_CERT_DIR as a colon-separated list of folders.
    let ours = fs::canonicalize(paths.cert_dir()).ok();
    match std::env::var("SSL_CERT_DIR").ok().filter(|v| !v.is_empty()) {
        None => out.push(finding(
            Level::Warning,
            "SSL_CERT_DIR",
            "SSL_CERT_DIR is not set: OpenSSL clients (Python's ssl, curl) also trust the OS \
             folder /etc/ssl/certs, which can hold roots cabundle pruned or blocked"
                .into(),
            Some("eval \"$(cabundle env)\""),
        )),
        Some(dirs) => {
            let others: Vec<&str> = dirs
                .split(':')
                .filter(|d| ours.is_none() || fs::canonicalize(d).ok() != ours)
                .collect();
            if others.is_empty() {
                out.push(finding(
                    Level::Ok,
                    "SSL_CERT_DIR",
                    "SSL_CERT_DIR points to cabundle's hashed folder".into(),
                    None,
                ));
            } else {
                for dir in others {
                    let n = fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
                    out.push(finding(
                        Level::Warning,
                        "SSL_CERT_DIR",
                        format!(
                            "SSL_CERT_DIR holds {dir} ({n} entries): OpenSSL clients also trust what \
                             is in it, including roots cabundle pruned or blocked"
                        ),
                        Some("eval \"$(cabundle env)\""),
                    ));
                }
            }
        }
    }
}

fn clock(certs: &[Cert], now: i64, out: &mut Vec<Finding>) {
    let floor = date::parse_day(&Roots::embedded().provenance.date).unwrap_or(0);
    if now < floor {
        out.push(finding(
            Level::Problem,
            "clock",
            format!(
                "the clock says {}, before this cabundle's roots were made ({}): every certificate check is off",
                date::instant(now),
                date::day(floor)
            ),
            Some("fix the system clock (timedatectl set-ntp true)"),
        ));
    }
    if let Some(newest) = certs.iter().max_by_key(|c| c.not_before)
        && newest.not_before > now + 86_400
    {
        out.push(finding(
            Level::Problem,
            "clock",
            format!(
                "the clock says {}, but {} in the bundle is valid only from {}",
                date::instant(now),
                newest.name(),
                date::instant(newest.not_before)
            ),
            Some("fix the system clock (timedatectl set-ntp true)"),
        ));
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

/// What one trust set says of the chain.
#[derive(Debug, Clone, Serialize)]
pub struct TrustResult {
    /// `in force`, `os` or `mozilla`.
    pub trust_set: String,
    /// The file or source it came from.
    pub source: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// The diagnosis for one URL.
#[derive(Debug, Clone, Serialize)]
pub struct UrlReport {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub proxy: Option<String>,
    pub ok: bool,
    /// A short, stable name for the failure class (see README).
    pub failure: Option<String>,
    pub message: String,
    /// Whether the server, not this machine, must change.
    pub server_fault: bool,
    pub fix: Option<String>,
    pub looks_like_tls_inspection: bool,
    pub chain: Vec<ChainCert>,
    pub trust: Vec<TrustResult>,
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
    pub timeout: Duration,
    pub now: i64,
    pub save_issuer: Option<PathBuf>,
}

/// The three trust sets a chain is checked against, each with where it
/// came from; read once for all the URLs of one run.
pub struct TrustSets {
    in_force: (String, Vec<Cert>),
    os: (String, Vec<Cert>),
    mozilla: (String, Vec<Cert>),
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
        TrustSets {
            in_force: in_force(paths),
            os,
            mozilla,
        }
    }
}

pub fn check_url(sets: &TrustSets, url: &str, opts: &UrlOptions) -> UrlReport {
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
        chain: Vec::new(),
        trust: Vec::new(),
        saved_issuer: None,
    };
    let Some((host, port)) = parse_url(url) else {
        report.failure = Some("bad-url".into());
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
    let ders = match tls::presented_chain(&target) {
        Ok(c) => c,
        Err(e) => {
            report.failure = Some("connect".into());
            report.message = e;
            return report;
        }
    };
    let chain: Vec<Cert> = ders.iter().filter_map(|d| Cert::from_der(d).ok()).collect();
    report.chain = chain
        .iter()
        .map(|c| ChainCert {
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            sha256: c.fingerprint(),
            not_before: date::instant(c.not_before),
            not_after: date::instant(c.not_after),
            expired: c.not_after < opts.now,
            not_yet_valid: c.not_before > opts.now,
        })
        .collect();
    if chain.len() != ders.len() || chain.is_empty() {
        report.failure = Some("unreadable-chain".into());
        report.message = "the server presented a certificate that cannot be parsed".into();
        report.server_fault = true;
        return report;
    }

    let results: Vec<(&str, &str, Result<(), rustls::Error>)> = [
        ("in force", &sets.in_force),
        ("os", &sets.os),
        ("mozilla", &sets.mozilla),
    ]
    .into_iter()
    .map(|(name, (source, certs))| {
        (
            name,
            source.as_str(),
            tls::verify(&ders, certs, &host, opts.now),
        )
    })
    .collect();
    report.trust = results
        .iter()
        .map(|(set, source, r)| TrustResult {
            trust_set: set.to_string(),
            source: source.to_string(),
            ok: r.is_ok(),
            error: r.as_ref().err().map(ToString::to_string),
        })
        .collect();

    let mozilla = &sets.mozilla.1;
    let verdict = classify(
        &chain,
        &results[0].2,
        results[1].2.is_ok() || results[2].2.is_ok(),
        &host,
        mozilla,
        opts.now,
    );
    report.ok = verdict.failure.is_none();
    report.failure = verdict.failure.map(Into::into);
    report.message = verdict.message;
    report.server_fault = verdict.server_fault;
    report.fix = verdict.fix;
    report.looks_like_tls_inspection = verdict.inspection;
    let path = issuer_path(&chain);
    let top = path.last().copied().or(chain.first());
    if let (Some(file), Some(top)) = (&opts.save_issuer, top)
        && !report.ok
    {
        // Only a certificate that can vouch for the leaf: one the server
        // sent above it, or the leaf itself when it is self-signed.
        if !path.is_empty() || top.subject == top.issuer {
            match crate::store::write_atomic(file, top.to_pem().as_bytes()) {
                Ok(()) => report.saved_issuer = Some(file.clone()),
                Err(e) => report
                    .message
                    .push_str(&format!(" (could not save the issuer: {e})")),
            }
        } else {
            report.message.push_str(&format!(
                "; nothing saved: the server did not send its issuer ({}), so get that CA from its owner",
                top.issuer
            ));
        }
    }
    report
}

/// The trust set OpenSSL clients use now: SSL_CERT_FILE when set, else the
/// bundle; plus what is in SSL_CERT_DIR, which they read as well.
fn in_force(paths: &Paths) -> (String, Vec<Cert>) {
    let (mut shown, path) = match std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        Some(f) => (
            format!("SSL_CERT_FILE={}", f.to_string_lossy()),
            PathBuf::from(f),
        ),
        None => (
            format!("the bundle {}", paths.bundle.display()),
            paths.bundle.clone(),
        ),
    };
    let read = |p: &Path| -> Vec<Cert> {
        decode::decode_file(p)
            .map(|d| d.items.into_iter().map(|i| i.cert).collect())
            .unwrap_or_default()
    };
    let mut certs = read(&path);
    if let Some(dir) = std::env::var_os("SSL_CERT_DIR").filter(|v| !v.is_empty()) {
        shown.push_str(&format!(" + SSL_CERT_DIR={}", dir.to_string_lossy()));
        // OpenSSL looks up HASH.N names there; those are what it trusts.
        let hashed = |name: &str| {
            name.split_once('.').is_some_and(|(h, n)| {
                h.len() == 8
                    && h.bytes().all(|b| b.is_ascii_hexdigit())
                    && n.bytes().all(|b| b.is_ascii_digit())
            })
        };
        if let Ok(entries) = fs::read_dir(&dir) {
            for e in entries.flatten() {
                if hashed(&e.file_name().to_string_lossy()) {
                    certs.extend(read(&e.path()));
                }
            }
        }
    }
    (shown, certs)
}

struct Verdict {
    failure: Option<&'static str>,
    message: String,
    server_fault: bool,
    fix: Option<String>,
    inspection: bool,
}

fn verdict(
    failure: Option<&'static str>,
    message: String,
    server_fault: bool,
    fix: Option<String>,
) -> Verdict {
    Verdict {
        failure,
        message,
        server_fault,
        fix,
        inspection: false,
    }
}

/// Name the precise failure, from the chain itself and what the trust set
/// in force said of it.
fn classify(
    chain: &[Cert],
    in_force: &Result<(), rustls::Error>,
    elsewhere_ok: bool,
    host: &str,
    mozilla: &[Cert],
    now: i64,
) -> Verdict {
    use rustls::CertificateError as E;
    let leaf = &chain[0];
    let server = "the fault is the server's: its operator must fix it";
    let expired_later: Vec<&Cert> = chain[1..].iter().filter(|c| c.not_after < now).collect();
    let path = issuer_path(chain);
    let cert_error = match in_force {
        Ok(()) => {
            return match expired_later.first() {
                Some(x) => verdict(
                    None,
                    format!(
                        "verified; the server also sends {}, which expired {}, but another valid path exists (clients that insist on that path, such as OpenSSL before 1.1.0, fail)",
                        x.name(),
                        date::day(x.not_after)
                    ),
                    false,
                    None,
                ),
                None => verdict(None, "verified".into(), false, None),
            };
        }
        Err(rustls::Error::InvalidCertificate(e)) => Some(e),
        Err(_) => None,
    };
    if leaf.not_after < now {
        return verdict(
            Some("expired-leaf"),
            format!(
                "the server's certificate ({}) expired {}; {server}",
                leaf.name(),
                date::instant(leaf.not_after)
            ),
            true,
            None,
        );
    }
    if leaf.not_before > now {
        return verdict(
            Some("not-yet-valid"),
            format!(
                "the server's certificate ({}) is valid only from {}: the server's certificate is too new, or this machine's clock is behind",
                leaf.name(),
                date::instant(leaf.not_before)
            ),
            false,
            Some("check the clock: date -u".into()),
        );
    }
    if matches!(
        cert_error,
        Some(E::NotValidForName | E::NotValidForNameContext { .. })
    ) {
        return verdict(
            Some("hostname-mismatch"),
            format!(
                "the server's certificate ({}) is not valid for {host}; {server}",
                leaf.name()
            ),
            true,
            None,
        );
    }
    let expired_error = matches!(cert_error, Some(E::Expired | E::ExpiredContext { .. }));
    if let Some(x) = path
        .iter()
        .find(|c| c.not_after < now)
        .filter(|_| expired_error)
    {
        let root = x.subject == x.issuer;
        return verdict(
            Some(if root {
                "expired-root"
            } else {
                "expired-intermediate"
            }),
            format!(
                "{} {} in the chain the server sends expired {}, and no other valid path exists; {server}",
                if root { "the root" } else { "the intermediate" },
                x.name(),
                date::instant(x.not_after)
            ),
            true,
            None,
        );
    }
    if chain.len() == 1 && leaf.subject == leaf.issuer {
        return verdict(
            Some("self-signed"),
            format!("the server's certificate ({}) is self-signed: nothing vouches for it", leaf.name()),
            true,
            Some("if you trust this one server: cabundle doctor URL --save-issuer server.pem; cabundle add --allow-leaf server.pem".into()),
        );
    }
    if elsewhere_ok {
        return verdict(
            Some("bundle-lacks-root"),
            "the OS store or Mozilla's roots accept this chain, but the trust set in force does not: it is stale or too narrow".into(),
            false,
            Some("cabundle sync  # and point clients at the bundle: eval \"$(cabundle env)\"".into()),
        );
    }
    let top = path.last().copied().unwrap_or(leaf);
    if path.is_empty() && has_ca_issuers(leaf) {
        return verdict(
            Some("missing-intermediate"),
            format!(
                "the server sends only its own certificate, not the intermediate {} that issued it; {server}",
                top.issuer
            ),
            true,
            None,
        );
    }
    let public_issuer = mozilla.iter().any(|m| m.subject == top.issuer);
    let mut v = verdict(
        Some("unknown-issuer"),
        format!("the chain ends at {}, which no trust set here knows", top.issuer),
        false,
        Some("cabundle doctor URL --save-issuer issuer.pem  # review it, then: cabundle add issuer.pem".into()),
    );
    if path.is_empty() {
        v.message.push_str(" (the server sent only its own certificate: if that issuer is an intermediate, the server is missing it)");
    }
    if !public_issuer && is_public_host(host) {
        v.inspection = true;
        v.message.push_str(": this looks like TLS inspection (a corporate proxy re-signing traffic); add its CA once you have checked it");
    }
    v
}

/// The presented certificates that stand above the leaf, each the issuer of
/// the one before, by name; strays the server also sent are left out.
fn issuer_path(chain: &[Cert]) -> Vec<&Cert> {
    let mut path: Vec<&Cert> = Vec::new();
    let Some(mut cur) = chain.first() else {
        return path;
    };
    while cur.subject != cur.issuer && path.len() < chain.len() {
        match chain[1..]
            .iter()
            .find(|c| c.subject == cur.issuer && !path.contains(c))
        {
            Some(next) => {
                path.push(next);
                cur = next;
            }
            None => break,
        }
    }
    path
}

/// Does the certificate say where its issuer can be downloaded (AIA
/// caIssuers)? Public CAs always do; that marks a missing intermediate.
fn has_ca_issuers(cert: &Cert) -> bool {
    use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};
    let Ok((_, x)) = X509Certificate::from_der(&cert.der) else {
        return false;
    };
    x.extensions().iter().any(|e| match e.parsed_extension() {
        ParsedExtension::AuthorityInfoAccess(aia) => aia.accessdescs.iter().any(|d| {
            d.access_method == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS
        }),
        _ => false,
    })
}

/// A name on the public internet, not loopback, a private range or a
/// single-label intranet name.
pub fn is_public_host(host: &str) -> bool {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => {
            !(ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified())
        }
        Ok(IpAddr::V6(ip)) => {
            !(ip.is_loopback() || ip.is_unspecified() || (ip.segments()[0] & 0xfe00) == 0xfc00)
        }
        Err(_) => {
            host.contains('.')
                && !["localhost", ".local", ".internal", ".lan", ".corp", ".home"]
                    .iter()
                    .any(|s| host == s.trim_start_matches('.') || host.ends_with(s))
        }
    }
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
    }

    #[test]
    fn public_hosts() {
        assert!(is_public_host("pypi.org"));
        assert!(is_public_host("8.8.8.8"));
        for h in [
            "localhost",
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "git.corp",
            "intranet",
            "::1",
            "fd00::1",
        ] {
            assert!(!is_public_host(h), "{h}");
        }
    }
}
