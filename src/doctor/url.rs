//! `cabundle doctor URL`: what the server presents, judged as the clients
//! doctor speaks for judge it, with one named class per failure and the fix
//! that is right for it.
//!
//! The chain is captured during the handshake (rustls, else a TLS ≤ 1.2
//! ClientHello: [`crate::doctor::capture::capture`]) and the connection dropped there:
//! no data ever flows to a server that was not verified. The verdict is
//! OpenSSL's with its default flags ([`crate::doctor::verify`]), which Python's ssl,
//! requests, httpx and curl share; where Python 3.10-3.12, Python 3.13 and
//! later (strict, partial chains) or rustls clients (uv, cargo) decide
//! otherwise, each gets a line of its own.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::classify::{Class, Context, Elsewhere, SERVER_FIX, classify, presented_top, verified};
use super::trust::TrustSets;
use crate::cert::Cert;
use crate::date;
use crate::doctor::capture::{self, Captured, Protocol, Suite, Target};
use crate::doctor::verify::{self, Failure, Profile};

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
    pub now: crate::date::Timestamp,
    pub save_issuer: Option<PathBuf>,
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
    let proxy = capture::proxy_for(&host);
    report.proxy = proxy.as_ref().map(|(h, p)| format!("{h}:{p}"));
    let target = Target {
        host: host.clone(),
        port,
        proxy,
        timeout: opts.timeout,
    };
    let captured = match capture::capture(&target) {
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
            .map_or_else(|| "no certificate".into(), |e| e.to_string());
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
    let judge =
        |certs: &[Cert]| verify::verify(&chain, certs, Some(&host), opts.now.unix(), &openssl);
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
            classify(
                f,
                &Context {
                    chain: &chain,
                    host: &host,
                    sets,
                    elsewhere: accepted_by,
                    now: opts.now,
                    deadline: started + opts.timeout,
                },
            )
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
    report.clients = other_clients(
        &chain,
        &sets.in_force.1,
        &host,
        opts.now.unix(),
        &main,
        &captured,
    );
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
        Some(top) => match crate::state::write_atomic(file, top.to_pem().as_bytes()) {
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
    let webpki = capture::verify(&ders, trusted, host, now);
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
