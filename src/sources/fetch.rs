//! `cabundle fetch`: fresh Mozilla roots, downloaded over verified HTTPS
//! (trusting only the current merged bundle, so it works behind a
//! TLS-inspecting proxy once its CA is added) or read from a file, checked,
//! then cached for `sync`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cert::{Cert, Sha256, hex};
use crate::date::{self, Day};
use crate::decode::{self, certdata};
use crate::error::{Error, Result};
use crate::sources::mozilla::{Provenance, Roots};

/// Mozilla's certdata.txt on the Firefox release branch.
pub const DEFAULT_URL: &str = "https://raw.githubusercontent.com/mozilla-firefox/firefox/refs/heads/release/security/nss/lib/ckfw/builtins/certdata.txt";

/// certdata.txt is about 1.3 MB; anything far larger is not it.
pub const MAX_DOWNLOAD: u64 = decode::MAX_FILE_SIZE;

pub struct Options<'a> {
    /// An https URL or a file.
    pub from: String,
    pub timeout: Duration,
    /// What the HTTPS download trusts: the CA certificates of the current
    /// merged bundle.
    pub trust: Vec<Cert>,
    /// The set in use now (the cache's or the embedded snapshot's): a much
    /// smaller one is refused, an older one is pointed out.
    pub current: Provenance,
    /// Roots Mozilla removed that the user lets back in, by name.
    pub allow_removed: Vec<Sha256>,
    /// Told of the download's progress: (bytes so far, bytes expected);
    /// `(0, None)` once it is over. The command layer shows it.
    pub progress: &'a dyn Fn(u64, Option<u64>),
}

/// A set fetched and checked, and what the user should know about it.
pub struct Fetched {
    pub roots: Roots,
    pub notes: Vec<String>,
}

/// Fetch, verify and describe a set of roots. Nothing is written.
pub fn fetch(opts: &Options<'_>) -> Result<Fetched> {
    let err = |reason: String| Error::Fetch {
        from: opts.from.clone(),
        reason,
    };
    let (bytes, published) = if opts.from.starts_with("https://") {
        let client = client(opts).map_err(err)?;
        let deadline = Instant::now() + opts.timeout;
        let bytes = download(&client, &opts.from, deadline, opts.progress).map_err(err)?;
        // curl publishes cacert.pem.sha256; where there is none (404), as for
        // Mozilla's certdata.txt, the parse and count checks stand alone.
        let published =
            published_sha256(&client, &format!("{}.sha256", opts.from), deadline).map_err(err)?;
        (bytes, published)
    } else if opts.from.contains("://") {
        return Err(err(
            "only https:// URLs (or a file) are accepted; downloads must be verified".into(),
        ));
    } else {
        let path = Path::new(&opts.from);
        let bytes = decode::read_bounded(path).map_err(err)?;
        let sidecar = format!("{}.sha256", opts.from);
        let published = match decode::read_bounded(Path::new(&sidecar)) {
            Ok(text) => Some(
                parse_sha256_line(&text)
                    .ok_or_else(|| err(format!("{sidecar}: not a SHA-256 line")))?,
            ),
            Err(_) => None,
        };
        (bytes, published)
    };
    let digest = Sha256::of(&bytes);
    if let Some(want) = published
        && want != digest
    {
        return Err(err(format!(
            "SHA-256 is {digest}, but the published one is {want}"
        )));
    }
    let upstream = match opts.from.contains("://") {
        true => opts.from.clone(),
        false => std::path::absolute(&opts.from)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| opts.from.clone()),
    };
    let mut roots = parse(&bytes, &upstream, digest).map_err(err)?;
    let current = &opts.current;
    let floor = current.count / 2;
    if roots.provenance.count < floor.max(1) {
        return Err(err(format!(
            "only {} roots, against {} in the current set: refusing a set that small",
            roots.provenance.count, current.count
        )));
    }
    // No rollback: a root Mozilla removed comes back only by name.
    let removed = crate::sources::mozilla::removed_roots();
    let mut back = Vec::new();
    for item in decode::decode(&roots.pem).items {
        let sha = item.cert.sha256;
        if !removed.contains(&sha) {
            continue;
        }
        if opts.allow_removed.contains(&sha) {
            roots.provenance.allowed_removed.push(sha);
        } else {
            let name = crate::sources::mozilla::removed_name(&sha)
                .unwrap_or_else(|| item.cert.name().to_string());
            back.push(format!(
                "{} ({})",
                crate::cert::printable(&name),
                sha.short()
            ));
        }
    }
    if !back.is_empty() {
        let shown: Vec<&str> = back.iter().take(5).map(String::as_str).collect();
        let more = back.len().saturating_sub(shown.len());
        return Err(err(format!(
            "it holds {} root(s) that Mozilla has removed from its set: {}{}. It is an older \
             set than the one in use ({}); fetch a current one, or let a removed root back in \
             by its SHA-256 with --allow-removed",
            back.len(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            current.version
        )));
    }
    roots.provenance.allowed_removed.sort();
    let mut notes = Vec::new();
    let own = roots.provenance.date;
    if roots.provenance.version.starts_with("fetched") && own < current.date {
        notes.push(format!(
            "this set is dated {own}, older than the one in use ({}, {}); \
             `cabundle fetch --embedded` returns to the snapshot built in",
            current.version, current.date
        ));
    }
    Ok(Fetched { roots, notes })
}

/// certdata.txt or a PEM bundle (curl's or certifi's cacert.pem), told
/// apart by content, as a PEM set with its provenance. A PEM file must be
/// one of those, of CA certificates only: an OS bundle or the user's own
/// CAs are not a Mozilla set. (Not only self-signed roots: Mozilla's set
/// has held intermediates as anchors, certifi 2017's PSCProcert among them.)
pub fn parse(bytes: &[u8], upstream: &str, upstream_sha256: Sha256) -> Result<Roots, String> {
    let today = date::now().day();
    let mut pem = String::new();
    let mut distrust_after = BTreeMap::new();
    let mut distrusted = BTreeMap::new();
    let mut own_date = None;
    let (format, count) = if certdata::is_certdata(bytes) {
        let set = certdata::parse(bytes)?;
        for a in &set.anchors {
            // Labels come from the file: one must not start a line of its
            // own (a PEM block) in the cache.
            pem.push_str(&format!("\n# {}\n", crate::cert::printable(&a.label)));
            if let Some(at) = a.distrust_after {
                distrust_after.insert(a.cert.sha256, at);
                pem.push_str(&format!("# Mozilla distrusts leaves issued after: {at}\n"));
            }
            pem.push_str(&a.cert.to_pem());
        }
        for d in &set.distrusted {
            let label = crate::cert::printable(&d.label);
            distrusted.insert(format!("issuer-serial:{}", d.issuer_serial), label.clone());
            if let Some(sha1) = d.sha1 {
                distrusted.insert(format!("sha1:{}", hex(&sha1)), label.clone());
            }
            if let Some(sha256) = d.sha256 {
                distrusted.insert(format!("sha256:{sha256}"), label);
            }
        }
        ("certdata.txt", set.anchors.len())
    } else {
        let decoded = decode::decode(bytes);
        if let Some(first) = decoded.errors.first() {
            let more = match decoded.errors.len() - 1 {
                0 => String::new(),
                1 => " (and 1 more problem)".into(),
                n => format!(" (and {n} more problems)"),
            };
            return Err(format!("{first}{more}"));
        }
        let text = String::from_utf8_lossy(bytes);
        let curl = text.contains("## Bundle of CA Root Certificates");
        let certifi = text.lines().any(|l| l.starts_with("# Label: "));
        let ours = text.starts_with("# Mozilla roots fetched by cabundle from ");
        if !(curl || certifi || ours) {
            return Err(
                "a PEM file that is neither curl's nor certifi's cacert.pem (no Mozilla header, \
                 no labels): an OS bundle or your own CAs are not a Mozilla set; add your own \
                 CAs with `cabundle add`"
                    .into(),
            );
        }
        for item in &decoded.items {
            let c = &item.cert;
            if item.distrust.is_some() || !c.is_ca() {
                return Err(format!("{} is not a trusted CA certificate", c.name()));
            }
            pem.push_str(&format!("\n# {}\n{}", c.name(), c.to_pem()));
        }
        own_date = curl_date(&text);
        ("cacert.pem", decoded.items.len())
    };
    // The set's own date where the format carries one (curl's header),
    // else the day it was fetched, and the version says which.
    let (date, version) = match own_date {
        Some(d) => (d, format!("Mozilla data as of {d}, fetched {today}")),
        None => (today, format!("fetched {today} (the file carries no date)")),
    };
    let pem = format!(
        "# Mozilla roots fetched by cabundle from {}\n{pem}",
        crate::cert::printable(upstream)
    )
    .into_bytes();
    Ok(Roots {
        provenance: Provenance {
            upstream: upstream.to_string(),
            format: format.into(),
            version,
            date,
            upstream_sha256,
            sha256: Sha256::of(&pem),
            count,
            license: "MPL-2.0".into(),
            file: None,
            distrust_after,
            distrusted,
            allowed_removed: Vec::new(),
        },
        pem: Cow::Owned(pem),
    })
}

/// curl's header: `## Certificate data from Mozilla as of: Tue Jul  2
/// 03:12:04 2024 GMT`.
fn curl_date(text: &str) -> Option<Day> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("## Certificate data from Mozilla as of: "))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    // [weekday] month day time year [GMT]
    let (month, day, year) = match words.as_slice() {
        [_, m, d, _, y, ..] => (*m, *d, *y),
        _ => return None,
    };
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = MONTHS.iter().position(|x| *x == month)? + 1;
    let d: u8 = day.parse().ok()?;
    let y: i32 = year.parse().ok()?;
    format!("{y:04}-{m:02}-{d:02}").parse().ok()
}

fn client(opts: &Options<'_>) -> Result<reqwest::blocking::Client, String> {
    // reqwest is built without a default crypto provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let roots = opts
        .trust
        .iter()
        .filter_map(|c| reqwest::Certificate::from_der(&c.der).ok());
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        if attempt.url().scheme() != "https" {
            let to = attempt.url().to_string();
            attempt.error(format!("redirected to {to}, which is not https"))
        } else if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    });
    reqwest::blocking::Client::builder()
        .tls_certs_only(roots)
        .https_only(true)
        .redirect(redirects)
        .connect_timeout(opts.timeout)
        .timeout(opts.timeout)
        .user_agent(concat!("cabundle/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| chain(&e))
}

/// GET `url`, at most [`MAX_DOWNLOAD`] bytes, by `deadline`, with a progress
/// line on a terminal. reqwest's own timeout bounds each read, not the
/// whole body, so a server dripping bytes is stopped here.
fn download(
    client: &reqwest::blocking::Client,
    url: &str,
    deadline: Instant,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<Vec<u8>, String> {
    let response = client.get(url).send().map_err(|e| chain(&e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if response.content_length().is_some_and(|n| n > MAX_DOWNLOAD) {
        return Err(format!("larger than {} MiB", MAX_DOWNLOAD >> 20));
    }
    let expected = response.content_length();
    let mut body = Vec::new();
    let mut reader = response.take(MAX_DOWNLOAD + 1);
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| format!("while reading the body: {}", chain(&e)))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        if Instant::now() > deadline {
            return Err(format!(
                "timed out: {} KiB arrived before the deadline",
                body.len() / 1024
            ));
        }
        if body.len() as u64 > MAX_DOWNLOAD {
            return Err(format!("larger than {} MiB", MAX_DOWNLOAD >> 20));
        }
        progress(body.len() as u64, expected);
    }
    progress(0, None);
    if expected.is_some_and(|t| t != body.len() as u64) {
        return Err("the body was cut short".into());
    }
    Ok(body)
}

/// The `.sha256` published beside a file, if there is one (404: none).
fn published_sha256(
    client: &reqwest::blocking::Client,
    url: &str,
    deadline: Instant,
) -> Result<Option<Sha256>, String> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(format!("{url}: timed out"));
    }
    let response = client
        .get(url)
        .timeout(remaining)
        .send()
        .map_err(|e| chain(&e))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let mut text = Vec::new();
    response
        .take(4096)
        .read_to_end(&mut text)
        .map_err(|e| format!("{url}: {e}"))?;
    parse_sha256_line(&text)
        .map(Some)
        .ok_or_else(|| format!("{url}: not a SHA-256 line"))
}

/// `HEX  name` (sha256sum's format), or the bare hex.
fn parse_sha256_line(text: &[u8]) -> Option<Sha256> {
    let text = std::str::from_utf8(text).ok()?;
    let word = text.split_whitespace().next()?;
    // Plain hex only: sha256sum writes no colons.
    word.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| word.parse().ok())
        .flatten()
}

/// An error and its causes on one line: reqwest's own message alone
/// ("error sending request") does not say what went wrong.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_lines_in_the_usual_forms() {
        let h = "AB".repeat(32);
        let want = Some(Sha256([0xab; 32]));
        assert_eq!(
            parse_sha256_line(format!("{h}  cacert.pem\n").as_bytes()),
            want
        );
        assert_eq!(parse_sha256_line(h.as_bytes()), want);
        assert_eq!(parse_sha256_line(b"<html>404</html>"), None);
        assert_eq!(parse_sha256_line(vec!["ab"; 32].join(":").as_bytes()), None);
    }

    #[test]
    fn curl_dates_are_read_from_the_header() {
        assert_eq!(
            curl_date("##\n## Certificate data from Mozilla as of: Tue Jul  2 03:12:04 2024 GMT\n"),
            "2024-07-02".parse().ok()
        );
        assert_eq!(
            curl_date("## Certificate data from Mozilla as of: soon\n"),
            None
        );
        assert_eq!(curl_date("no header\n"), None);
    }

    #[test]
    fn a_pem_set_is_described_and_counted() {
        let roots = parse(crate::sources::mozilla::PEM, "test", Sha256::default()).unwrap();
        assert_eq!(roots.provenance.format, "cacert.pem");
        assert_eq!(
            roots.provenance.count,
            crate::sources::mozilla::Roots::embedded().provenance.count
        );
        assert_eq!(
            decode::decode(&roots.pem).items.len(),
            roots.provenance.count
        );
        assert!(
            parse(
                b"-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n",
                "t",
                Sha256::default()
            )
            .is_err()
        );
    }
}
