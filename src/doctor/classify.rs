//! Naming a failure: OpenSSL's first error, read with what the chain, the
//! trust sets and the host say, becomes one [`Class`] with a message and the
//! fix that is right for it ("the server must fix this" far more often than
//! "add this CA").

use std::net::IpAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::trust::TrustSets;
use super::verify::{self, Code, Failure, Profile};
use crate::cert::Cert;
use crate::date;
use crate::decode;

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

pub(super) const SERVER_FIX: &str =
    "nothing to change here: the server's operator must fix its certificates";

pub(super) struct Verdict {
    pub(super) class: Option<Class>,
    pub(super) message: String,
    pub(super) server_fault: bool,
    pub(super) fix: Option<String>,
    pub(super) inspection: bool,
}

/// The failures whose fix is plainly the server's, by OpenSSL's code: the
/// class, and what is wrong with the certificate at fault.
fn server_side(code: Code) -> Option<(Class, &'static str)> {
    Some(match code {
        Code::InvalidPurpose => (
            Class::WrongPurpose,
            "is not for TLS servers (its extended key usage or key usage says otherwise)",
        ),
        Code::KeyusageNoDigitalSignature => (
            Class::WrongPurpose,
            "has a key usage that does not allow signing handshakes",
        ),
        Code::PermittedViolation
        | Code::ExcludedViolation
        | Code::SubtreeMinmax
        | Code::UnsupportedConstraintType
        | Code::UnsupportedNameSyntax => (
            Class::NameConstraints,
            "has a name that a CA above it may not issue for",
        ),
        Code::PathLengthExceeded => (
            Class::PathLength,
            "sits below more intermediates than a CA's path length allows",
        ),
        Code::InvalidCa | Code::KeyusageNoCertsign => {
            (Class::NotACa, "signs other certificates but is not a CA")
        }
        Code::UnhandledCriticalExtension => (
            Class::UnsupportedCriticalExtension,
            "has a critical extension OpenSSL does not know, so it must refuse it",
        ),
        Code::CertSignatureFailure => (
            Class::BadSignature,
            "has a signature that does not verify: the chain is broken or forged",
        ),
        Code::CertChainTooLong => (
            Class::ChainTooLong,
            "ends a chain longer than OpenSSL's limit of 100 certificates",
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
        | Code::EcKeyExplicitParams => (
            Class::InvalidCertificate,
            "breaks the rules for certificates",
        ),
        _ => return None,
    })
}

/// A failure only the server's operator can fix: the message says so,
/// and the fix is theirs.
fn server_at_fault(class: Class, what: String, fix: &str) -> Verdict {
    verdict(
        class,
        format!("{what}; the fault is the server's: its operator must fix it"),
        true,
        Some(fix.into()),
    )
}

pub(super) fn verdict(
    class: Class,
    message: String,
    server_fault: bool,
    fix: Option<String>,
) -> Verdict {
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
pub(super) fn verified(chain: &[Cert], path: &[Cert], now: crate::date::Timestamp) -> Verdict {
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
/// What a failure is judged with besides OpenSSL's verdict.
#[derive(Clone, Copy)]
pub(super) struct Context<'a> {
    /// The chain as the server sent it.
    pub chain: &'a [Cert],
    pub host: &'a str,
    pub sets: &'a TrustSets,
    /// Another trust set that accepts the chain, if one does.
    pub elsewhere: Option<Elsewhere>,
    /// The time the chain is judged at.
    pub now: crate::date::Timestamp,
    /// When the check of this URL must end: the issuer download gets what
    /// is left.
    pub deadline: Instant,
}

pub(super) fn classify(f: &Failure, cx: &Context) -> Verdict {
    let (chain, host, sets, now) = (cx.chain, cx.host, cx.sets, cx.now);
    let who = f.cert().map(|c| c.name().to_string()).unwrap_or_default();
    let at = f.depth;
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
            server_at_fault(
                class,
                format!("{} {who} (depth {at}) expired {when}", role(f)),
                SERVER_FIX,
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
                    date::instant(now)
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
                server_at_fault(
                    Class::HostnameMismatch,
                    format!("the server's certificate is for {names}, not {host}"),
                    SERVER_FIX,
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
            server_at_fault(
                Class::WeakSignature,
                format!(
                    "{} {who} (depth {at}) is signed with {alg}, which OpenSSL refuses (security level {})",
                    role(f),
                    sets.level.max(1)
                ),
                "the server's operator must get certificates signed with SHA-256 or better; do not add anything here",
            )
        }
        Code::EeKeyTooSmall | Code::CaKeyTooSmall => server_at_fault(
            Class::WeakKey,
            format!("{} {who} (depth {at}) has a key too weak for OpenSSL's security level {}", role(f), sets.level.max(1)),
            "the server's operator must use RSA 2048 bits or more, or an EC key",
        ),
        Code::SelfSignedCertInChain
        | Code::UnableToGetIssuerCertLocally
        | Code::UnableToGetIssuerCert
        | Code::UnableToVerifyLeafSignature => {
            issuer_problem(f, cx)
        }
        Code::UnsupportedAlgorithm => verdict(
            Class::UnsupportedAlgorithm,
            format!(
                "{who} (depth {at}) is signed with an algorithm cabundle cannot check, so doctor gives no verdict on it; openssl s_client -verify_return_error can"
            ),
            false,
            None,
        ),
        code => match server_side(code) {
            Some((class, what)) => server_at_fault(
                class,
                format!("{} {who} (depth {at}) {what} (OpenSSL: {})", role(f), code.text()),
                SERVER_FIX,
            ),
            None => server_at_fault(
                Class::InvalidCertificate,
                format!("OpenSSL refuses {who} (depth {at}): {}", code.text()),
                SERVER_FIX,
            ),
        },
    }
}

/// No trusted issuer was found: the set in force lacks a root others have,
/// the server left out its intermediate, or nothing here knows the issuer.
fn issuer_problem(f: &Failure, cx: &Context) -> Verdict {
    let (chain, host, sets, now) = (cx.chain, cx.host, cx.sets, cx.now);
    if let Some(elsewhere) = cx.elsewhere {
        let (who, fix) = match elsewhere {
            Elsewhere::Bundle => (
                "cabundle's bundle accepts this chain",
                "point clients at the bundle: eval \"$(cabundle env)\"",
            ),
            Elsewhere::Store => (
                "the OS store or Mozilla's roots accept this chain",
                "cabundle sync  # and point clients at the bundle: eval \"$(cabundle env)\"",
            ),
        };
        return verdict(
            Class::BundleLacksRoot,
            format!(
                "{who}, but the trust set in force ({}) does not: it is stale or too narrow",
                sets.in_force.0
            ),
            false,
            Some(fix.into()),
        );
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
        (top.not_after <= now).then_some(top)
    } else {
        let by_name = holders(&top.issuer);
        (!by_name.is_empty() && by_name.iter().all(|c| c.not_after <= now)).then(|| by_name[0])
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
        let left = cx.deadline.saturating_duration_since(Instant::now());
        let fetched = urls
            .iter()
            .find_map(|u| fetch_issuer(u, left).ok().map(|c| (u, c)));
        if let Some((url, issuer)) = &fetched {
            let mut completed: Vec<Cert> = chain.to_vec();
            completed.push(issuer.clone());
            let profile = Profile::openssl_default(sets.level);
            let with = verify::verify(
                &completed,
                &sets.in_force.1,
                Some(host),
                now.unix(),
                &profile,
            );
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
pub(super) enum Elsewhere {
    /// cabundle's bundle, not in force, accepts it.
    Bundle,
    /// The OS store or Mozilla's roots accept it.
    Store,
}

/// The furthest certificate above the leaf that the server sent, following
/// issuer names from the leaf; the leaf itself when it is self-signed;
/// `None` when the server sent nothing that issued its leaf.
pub(super) fn presented_top(chain: &[Cert]) -> Option<&Cert> {
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
    is_public_host(host)
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
