//! `cabundle doctor` without a URL: this machine's setup. The bundle is
//! current, every TLS variable points at it, SSL_CERT_DIR, proxies, the
//! clock, roots about to expire.
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cert::{Cert, Sha256};
use crate::clients::env::VARS;
use crate::date::{self, Timestamp};
use crate::decode;
use crate::sources::mozilla::Roots;
use crate::sources::{self, Gathered};
use crate::state::Paths;
use crate::state::manifest::Manifest;

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
pub fn local(paths: &Paths, now: Timestamp) -> Vec<Finding> {
    let mut out = Vec::new();
    let bundle = decode::decode_file(&paths.bundle);
    let certs: Vec<Cert> = match &bundle {
        Ok(d) if !d.items.is_empty() => {
            out.push(finding(
                Level::Ok,
                "bundle",
                format!(
                    "{} holds {}",
                    paths.bundle.display(),
                    crate::cert::count(d.items.len(), "certificate")
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
    let last_refresh = crate::refresh::LastAttempt::read(paths);
    if let Ok(m) = Manifest::read(&paths.manifest, &paths.bundle) {
        mozilla_age(&m, last_refresh.as_ref(), now, &mut out);
        let soon = now.plus_days(EXPIRING_DAYS);
        for r in m
            .certificates
            .iter()
            .filter(|r| r.status == crate::merge::Status::Kept)
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
    if let Some(last) = &last_refresh {
        failed_refresh(last, &mut out);
    }
    out
}

/// A Mozilla set older than this (days) misses what Mozilla has added and
/// removed since: it changes its set several times a year.
pub const MOZILLA_STALE_DAYS: i64 = 90;

/// The Mozilla set the bundle was built from is old: older than
/// [`MOZILLA_STALE_DAYS`] by its own date or, when a refresh fetched the
/// same set since, by that refresh.
fn mozilla_age(
    m: &Manifest,
    last: Option<&crate::refresh::LastAttempt>,
    now: Timestamp,
    out: &mut Vec<Finding>,
) {
    let current_as_of = crate::refresh::known_current_as_of(&m.mozilla, last);
    // Calendar days, as the message says "as of DAY": the seconds a
    // refresh took within its day do not move the count.
    let days =
        (now.day().midnight().unix() - current_as_of.day().midnight().unix()).div_euclid(86_400);
    if days > MOZILLA_STALE_DAYS {
        out.push(finding(
            Level::Warning,
            "mozilla age",
            format!(
                "the bundle's Mozilla roots ({}) are {days} days old (as of {}): roots Mozilla \
                 added or removed since then are not in it",
                m.mozilla.version,
                date::day(current_as_of)
            ),
            Some("cabundle sync --refresh  # and keep them fresh: cabundle schedule enable"),
        ));
    }
}

/// The last attempt to fetch fresh Mozilla roots failed (a scheduled
/// `sync --refresh` says so nowhere else).
fn failed_refresh(last: &crate::refresh::LastAttempt, out: &mut Vec<Finding>) {
    let Some(error) = &last.error else {
        return;
    };
    let success = match &last.last_success {
        Some(s) => format!("; the last that succeeded was on {}", date::day(s.at)),
        None => String::new(),
    };
    out.push(finding(
        Level::Warning,
        "refresh",
        // The error can quote what a server sent: escaped. It names where
        // the refresh read from.
        crate::cert::printable(&format!(
            "the last refresh of Mozilla's roots ({}) failed: {error}{success}",
            date::instant(last.at),
        )),
        Some("cabundle sync --refresh"),
    ));
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
    if m.os.family != Some(sources::os::Family::Macos) {
        // The files only: their digests are what the manifest recorded.
        let mut g = Gathered {
            list_only: true,
            ..Gathered::default()
        };
        sources::os::load(&m.os.root, &mut g);
        let now: BTreeMap<&Path, Sha256> = g
            .files
            .iter()
            .map(|f| (f.path.as_path(), f.digest.sha256))
            .collect();
        let then: BTreeMap<&Path, Sha256> = m
            .inputs
            .iter()
            .map(|i| (i.path.as_path(), i.sha256))
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
    let added_now: BTreeSet<Sha256> = sources::user::list(&paths.cas, None)
        .map(|a| a.into_iter().map(|a| a.cert.sha256).collect())
        .unwrap_or_default();
    let added_then: BTreeSet<Sha256> = m
        .certificates
        .iter()
        .filter(|r| {
            r.sources
                .iter()
                .any(|s| s.starts_with(sources::user::LABEL_PREFIX))
        })
        .map(|r| r.sha256)
        .collect();
    if added_now != added_then {
        changes.push("the added CAs changed".into());
    }
    let blocked_now: BTreeSet<Sha256> = crate::state::config::Config::load(&paths.config())
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
    for var in VARS.iter().filter(|v| **v != crate::clients::env::CERT_DIR) {
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
                format!(
                    "{var}={shown} ({}) is not the cabundle bundle",
                    crate::cert::count(d.items.len(), "certificate")
                ),
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

fn clock(certs: &[Cert], now: Timestamp, out: &mut Vec<Finding>) {
    let floor = Roots::embedded().provenance.date.midnight();
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
        && newest.not_before > now.plus_days(1)
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
