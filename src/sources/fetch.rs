//! `cabundle fetch`: fresh Mozilla roots, downloaded over verified HTTPS
//! (trusting only the current merged bundle, so it works behind a
//! TLS-inspecting proxy once its CA is added) or read from a file, checked,
//! then cached for `sync`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use url::Url;

use crate::cert::{Cert, Sha256, hex};
use crate::date::{self, Day};
use crate::decode::{self, DecodeError, ReadError, certdata};
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

/// Why a fetch failed (nothing is written then).
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("only https:// URLs (or a file) are accepted; downloads must be verified")]
    NotHttps,
    #[error("not a URL ({0})")]
    BadUrl(url::ParseError),
    /// The HTTP client's error with its causes, on one line: its own
    /// message alone ("error sending request") does not say what went wrong.
    #[error("{0}")]
    Http(String),
    #[error("HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("larger than {} MiB", MAX_DOWNLOAD >> 20)]
    TooLarge,
    #[error("timed out: {0} KiB arrived before the deadline")]
    SlowBody(usize),
    #[error("timed out")]
    TimedOut,
    #[error("while reading the body: {0}")]
    Body(String),
    #[error("the body was cut short")]
    CutShort,
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The `.sha256` published beside the set.
    #[error("{at}: {problem}")]
    Published {
        at: String,
        problem: Box<FetchError>,
    },
    #[error("not a SHA-256 line")]
    NotAShaLine,
    #[error("SHA-256 is {got}, but the published one is {published}")]
    Mismatch { got: Sha256, published: Sha256 },
    #[error(transparent)]
    Certdata(#[from] certdata::CertdataError),
    #[error("{first}{}", match more {
        0 => String::new(),
        1 => " (and 1 more problem)".into(),
        n => format!(" (and {n} more problems)"),
    })]
    Pem { first: DecodeError, more: usize },
    #[error(
        "a PEM file that is neither curl's nor certifi's cacert.pem (no Mozilla header, no \
         labels): an OS bundle or your own CAs are not a Mozilla set; add your own CAs with \
         `cabundle add`"
    )]
    NotAMozillaSet,
    #[error("{0} is not a trusted CA certificate")]
    NotATrustedCa(String),
    #[error("only {count} roots, against {current} in the current set: refusing a set that small")]
    TooSmall { count: usize, current: usize },
    /// Roots Mozilla removed (name and SHA-256 each), and the version of
    /// the set in use.
    #[error(
        "it holds {} root(s) that Mozilla has removed from its set: {}. It is an older set \
         than the one in use ({current}); fetch a current one, or let a removed root back in \
         by its SHA-256 with --allow-removed",
        roots.len(),
        first_of(roots, 5)
    )]
    Removed { roots: Vec<String>, current: String },
}

/// The first `n` of `items`, and how many more there are.
fn first_of(items: &[String], n: usize) -> String {
    let shown = items[..items.len().min(n)].join(", ");
    match items.len().saturating_sub(n) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// Where a set is read from.
enum Origin<'a> {
    Https(Url),
    File(&'a Path),
}

impl<'a> Origin<'a> {
    /// Anything with a scheme is a URL, which must be https; the rest is a
    /// file.
    fn of(from: &'a str) -> std::result::Result<Origin<'a>, FetchError> {
        if !from.contains("://") {
            return Ok(Origin::File(Path::new(from)));
        }
        match Url::parse(from) {
            Ok(url) if url.scheme() == "https" => Ok(Origin::Https(url)),
            Ok(_) => Err(FetchError::NotHttps),
            Err(e) => Err(FetchError::BadUrl(e)),
        }
    }
}

/// A set fetched and checked, and what the user should know about it.
pub struct Fetched {
    pub roots: Roots,
    pub notes: Vec<Note>,
}

/// Something the user should know about a set that was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// By the sets' own dates, this one is older than the one in use.
    Older {
        date: Day,
        current_version: String,
        current_date: Day,
    },
}

/// How [`parse`] words the version of a set whose file carries no date:
/// its `date` is then the day it was fetched, not the set's own.
const UNDATED: &str = "fetched ";

/// The day a set was made, when it is known: the embedded snapshot's and a
/// dated file's (curl's header), not the fetch day of an undated one.
fn own_date(p: &Provenance) -> Option<Day> {
    (!p.version.starts_with(UNDATED)).then_some(p.date)
}

/// Fetch, verify and describe a set of roots. Nothing is written.
pub fn fetch(opts: &Options<'_>) -> Result<Fetched> {
    let err = |reason: FetchError| Error::Fetch {
        from: opts.from.clone(),
        reason,
    };
    let from = Origin::of(&opts.from).map_err(err)?;
    let (bytes, published) = match &from {
        Origin::Https(url) => {
            let client = client(opts).map_err(err)?;
            let deadline = Instant::now() + opts.timeout;
            let bytes = download(&client, url, deadline, opts.progress).map_err(err)?;
            // curl publishes cacert.pem.sha256; where there is none (404), as
            // for Mozilla's certdata.txt, the parse and count checks stand
            // alone.
            let mut sidecar = url.clone();
            sidecar.set_path(&format!("{}.sha256", url.path()));
            let published = published_sha256(&client, &sidecar, deadline).map_err(err)?;
            (bytes, published)
        }
        Origin::File(path) => {
            let bytes = decode::read_bounded(path).map_err(|e| err(e.into()))?;
            let mut sidecar = path.as_os_str().to_owned();
            sidecar.push(".sha256");
            let published = match decode::read_bounded(Path::new(&sidecar)) {
                Ok(text) => Some(parse_sha256_line(&text).ok_or_else(|| {
                    err(FetchError::Published {
                        at: Path::new(&sidecar).display().to_string(),
                        problem: Box::new(FetchError::NotAShaLine),
                    })
                })?),
                Err(_) => None,
            };
            (bytes, published)
        }
    };
    let digest = Sha256::of(&bytes);
    if let Some(published) = published
        && published != digest
    {
        return Err(err(FetchError::Mismatch {
            got: digest,
            published,
        }));
    }
    let upstream = match from {
        Origin::Https(_) => opts.from.clone(),
        Origin::File(path) => std::path::absolute(path)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| opts.from.clone()),
    };
    let mut roots = parse(&bytes, &upstream, digest).map_err(err)?;
    let current = &opts.current;
    let floor = current.count / 2;
    if roots.provenance.count < floor.max(1) {
        return Err(err(FetchError::TooSmall {
            count: roots.provenance.count,
            current: current.count,
        }));
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
            // The whole SHA-256: what --allow-removed takes.
            back.push(format!("{} ({sha})", crate::cert::printable(&name)));
        }
    }
    if !back.is_empty() {
        return Err(err(FetchError::Removed {
            roots: back,
            current: current.version.clone(),
        }));
    }
    roots.provenance.allowed_removed.sort();
    let mut notes = Vec::new();
    if let (Some(own), Some(theirs)) = (own_date(&roots.provenance), own_date(current))
        && own < theirs
    {
        notes.push(Note::Older {
            date: own,
            current_version: current.version.clone(),
            current_date: theirs,
        });
    }
    Ok(Fetched { roots, notes })
}

/// certdata.txt or a PEM bundle (curl's or certifi's cacert.pem), told
/// apart by content, as a PEM set with its provenance. A PEM file must be
/// one of those, of CA certificates only: an OS bundle or the user's own
/// CAs are not a Mozilla set. (Not only self-signed roots: Mozilla's set
/// has held intermediates as anchors, certifi 2017's PSCProcert among them.)
pub fn parse(bytes: &[u8], upstream: &str, upstream_sha256: Sha256) -> Result<Roots, FetchError> {
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
        let mut decoded = decode::decode(bytes);
        if !decoded.errors.is_empty() {
            let more = decoded.errors.len() - 1;
            let first = decoded.errors.swap_remove(0);
            return Err(FetchError::Pem { first, more });
        }
        let text = String::from_utf8_lossy(bytes);
        let curl = text.contains("## Bundle of CA Root Certificates");
        let certifi = text.lines().any(|l| l.starts_with("# Label: "));
        let ours = text.starts_with("# Mozilla roots fetched by cabundle from ");
        if !(curl || certifi || ours) {
            return Err(FetchError::NotAMozillaSet);
        }
        for item in &decoded.items {
            let c = &item.cert;
            if item.distrust.is_some() || !c.is_ca() {
                return Err(FetchError::NotATrustedCa(c.name().to_string()));
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
        None => (
            today,
            format!("{UNDATED}{today} (the file carries no date)"),
        ),
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

fn client(opts: &Options<'_>) -> Result<reqwest::blocking::Client, FetchError> {
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
        .map_err(|e| FetchError::Http(chain(&e)))
}

/// GET `url`, at most [`MAX_DOWNLOAD`] bytes, by `deadline`, with a progress
/// line on a terminal. reqwest's own timeout bounds each read, not the
/// whole body, so a server dripping bytes is stopped here.
fn download(
    client: &reqwest::blocking::Client,
    url: &Url,
    deadline: Instant,
    progress: &dyn Fn(u64, Option<u64>),
) -> Result<Vec<u8>, FetchError> {
    let response = client
        .get(url.clone())
        .send()
        .map_err(|e| FetchError::Http(chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(FetchError::Status(status));
    }
    if response.content_length().is_some_and(|n| n > MAX_DOWNLOAD) {
        return Err(FetchError::TooLarge);
    }
    let expected = response.content_length();
    let mut body = Vec::new();
    let mut reader = response.take(MAX_DOWNLOAD + 1);
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = reader
            .read(&mut chunk)
            .map_err(|e| FetchError::Body(chain(&e)))?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
        if Instant::now() > deadline {
            return Err(FetchError::SlowBody(body.len() / 1024));
        }
        if body.len() as u64 > MAX_DOWNLOAD {
            return Err(FetchError::TooLarge);
        }
        progress(body.len() as u64, expected);
    }
    progress(0, None);
    if expected.is_some_and(|t| t != body.len() as u64) {
        return Err(FetchError::CutShort);
    }
    Ok(body)
}

/// The `.sha256` published beside a file, if there is one (404: none).
fn published_sha256(
    client: &reqwest::blocking::Client,
    url: &Url,
    deadline: Instant,
) -> Result<Option<Sha256>, FetchError> {
    let at = |problem: FetchError| FetchError::Published {
        at: url.to_string(),
        problem: Box::new(problem),
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(at(FetchError::TimedOut));
    }
    let response = client
        .get(url.clone())
        .timeout(remaining)
        .send()
        .map_err(|e| FetchError::Http(chain(&e)))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    if !response.status().is_success() {
        return Err(at(FetchError::Status(response.status())));
    }
    let mut text = Vec::new();
    response
        .take(4096)
        .read_to_end(&mut text)
        .map_err(|e| at(FetchError::Body(chain(&e))))?;
    parse_sha256_line(&text)
        .map(Some)
        .ok_or_else(|| at(FetchError::NotAShaLine))
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
/// ("error sending request") does not say what went wrong. rustls's verdict
/// on the server's certificate ends it, in words ([`tls_reason`]).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let tls = tls_error(err);
        let text = tls.map_or_else(|| err.to_string(), tls_reason);
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        if tls.is_some() {
            break;
        }
        next = err.source();
    }
    out
}

/// The rustls error in `e`, itself or carried in `io::Error`s (which the
/// connector nests, and whose `source` skips what they carry).
fn tls_error<'a>(mut e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    loop {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        e = e.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// Why rustls refused the server's certificate, in words: its own text
/// gives times as Unix seconds ("verification time 1796032243 (UNIX)").
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let day = |t: &rustls::pki_types::UnixTime| {
        date::instant(date::Timestamp::from_unix(
            i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
        ))
    };
    let why = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::Expired => "has expired".to_string(),
            C::ExpiredContext { not_after, .. } => format!("expired on {}", day(not_after)),
            C::NotValidYet => "is not valid yet".to_string(),
            C::NotValidYetContext { not_before, .. } => {
                format!(
                    "is not valid until {} (check this machine's clock)",
                    day(not_before)
                )
            }
            C::UnknownIssuer => "is signed by a CA the bundle does not hold (unknown issuer); \
                                 behind a TLS-inspecting proxy, `cabundle add` its CA first"
                .to_string(),
            C::BadSignature => "has a signature that does not verify".to_string(),
            other => return format!("the server's certificate was refused: {other}"),
        },
        other => return other.to_string(),
    };
    format!("the server's certificate {why}")
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
