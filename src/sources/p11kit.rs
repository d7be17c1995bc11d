//! p11-kit's trust source folders, read as p11-kit's trust module reads
//! them (RHEL/Fedora's `update-ca-trust`, SUSE's and Arch's updaters are
//! p11-kit). Each source folder has three kinds of place:
//!
//! - the folder itself ("extended format"): files say their own trust, as
//!   `TRUSTED CERTIFICATE` aux data or `.p11-kit` objects; a plain
//!   certificate there is neither trusted nor distrusted;
//! - `anchors/`: every certificate is an anchor, unless it says it is
//!   distrusted;
//! - `blocklist/` (and `blacklist/`): every certificate is distrusted.
//!
//! Then, as p11-kit's builder and `trust extract --filter=ca-anchors
//! --purpose=server-auth` decide (checked against `trust` itself in the
//! tests): a distrusted certificate also distrusts every certificate with
//! its key or its issuer and serial number, from any folder or source; an
//! extendedKeyUsage stapled to a key (from a `TRUSTED CERTIFICATE`'s trust
//! list or an `x-certificate-extension` object) replaces the own usage of
//! the certificates with that key in the same source folder (p11-kit's
//! token) only; an anchor is extracted only if it is a CA and that usage
//! allows TLS servers.
//!
//! cabundle is stricter than p11-kit in three places, each because the
//! admin's intent to distrust is plain: `blacklist/` is read (p11-kit 0.24
//! reads only `blocklist/`), blocklist folders are read to any depth, and a
//! public key (a `PUBLIC KEY` block, or a `.p11-kit` object of class
//! `public-key`) distrusts every certificate with that key (p11-kit says
//! "unsupported" and keeps them). A distrust that cannot be read stops the
//! sync.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::os::{Depth, list_files};
use super::{Fingerprint, Gathered};
use crate::cert::{Cert, Sha256, issuer_serial_key};
use crate::decode::{self, Item, TrustData, p11kit};

/// Where in a source folder a file is: it decides what a plain
/// certificate there means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Top,
    Anchors,
    Blocklist,
}

/// OIDs as text (p11-kit's persist format) and as DER content.
const EKU_OID: &str = "2.5.29.37";
const BASIC_CONSTRAINTS_OID: &str = "2.5.29.19";
const OID_SERVER_AUTH: &[u8] = decode::OID_SERVER_AUTH;
const OID_ANY_EKU: &[u8] = decode::OID_ANY_EKU;

/// One certificate object as p11-kit's parser leaves it.
struct CertObject {
    cert: Cert,
    /// Which source folder (p11-kit token) it came from.
    source: usize,
    trusted: bool,
    distrusted: bool,
    /// The file, as shown to people.
    file: PathBuf,
    place: Place,
}

/// Purposes stapled to a key (`None`: an extension that cannot be read),
/// and the file that said so.
type Stapled = Vec<(Option<Vec<Vec<u8>>>, PathBuf)>;

/// What the folders said, before p11-kit's rules join it up.
#[derive(Default)]
struct Token {
    certs: Vec<CertObject>,
    /// Extended key usage stapled to a key (by SHA-256 of its SPKI): the
    /// purposes, or `None` for one that cannot be read (p11-kit then drops
    /// the certificate); and the file that said it.
    eku: HashMap<(usize, Sha256), Stapled>,
    /// basicConstraints stapled to a key: is it a CA?
    ca: HashMap<(usize, Sha256), bool>,
    /// Distrust by issuer and serial alone (a certificate object with no
    /// value, as Fedora writes for NSS distrust records).
    issuer_serial: Vec<(Sha256, PathBuf)>,
    /// Distrusted public keys.
    keys: Vec<(Sha256, PathBuf)>,
}

/// Read the source folders (paths inside the system, in p11-kit's order)
/// into `out`; returns how many anchors they gave.
pub fn load(root: &Path, sources: &[&str], out: &mut Gathered) -> usize {
    let mut token = Token::default();
    for (index, source) in sources.iter().enumerate() {
        let source = Path::new(source);
        for (dir, place, depth) in [
            (
                source.to_path_buf(),
                Place::Top,
                Depth::Top(&["anchors", "blocklist", "blacklist"]),
            ),
            (source.join("anchors"), Place::Anchors, Depth::Top(&[])),
            (source.join("blocklist"), Place::Blocklist, Depth::Deep),
            (source.join("blacklist"), Place::Blocklist, Depth::Deep),
        ] {
            for file in list_files(root, &dir, depth, out) {
                read_file(root, &file, (index, place), &mut token, out);
            }
        }
    }
    join(token, out)
}

fn read_file(
    root: &Path,
    shown: &Path,
    (source, place): (usize, Place),
    token: &mut Token,
    out: &mut Gathered,
) {
    let bytes = match super::os::read_in(root, shown) {
        Ok(bytes) => bytes,
        Err(e) if place == Place::Blocklist => {
            return out.unapplied(shown, format!("a blocklist file that cannot be read ({e})"));
        }
        Err(e) => return out.problem(shown, e),
    };
    let digest = super::Digest::of(&bytes);
    if out.list_only {
        return out.read(shown, digest, 0);
    }
    if p11kit::is_persist(&bytes) {
        let n = read_persist(&bytes, shown, (source, place), token, out);
        return out.read(shown, digest, n);
    }
    let decoded = if place == Place::Blocklist {
        decode::decode_keys(&bytes)
    } else {
        decode::decode_with(&bytes, &out.memo)
    };
    for e in &decoded.errors {
        // A block that may have carried a distrust, and cannot be read.
        if place == Place::Blocklist
            || (place == Place::Top && e.label() == Some("TRUSTED CERTIFICATE"))
        {
            out.unapplied(shown, format!("a distrust entry that cannot be read: {e}"));
        } else {
            out.problem(shown, e);
        }
    }
    out.read(shown, digest, decoded.items.len());
    for key in decoded.public_keys {
        token.keys.push((key, shown.to_path_buf()));
    }
    for item in decoded.items {
        add_item(item, shown, (source, place), token);
    }
}

/// A certificate from a PEM or DER file: its trust data as p11-kit's
/// parser turns it into attributes.
fn add_item(item: Item, shown: &Path, (source, place): (usize, Place), token: &mut Token) {
    let (trusted, distrusted) = match &item.trust_data {
        TrustData::None => (false, false),
        // p11-kit skips a block it cannot parse; it may have meant a
        // distrust, so cabundle does not trust it anywhere.
        TrustData::Unreadable => (false, true),
        TrustData::Aux(aux) => {
            // The trust list (empty when absent) less the reject list
            // becomes the key's extended key usage; with nothing left, the
            // certificate is distrusted.
            let rejected = aux.reject.clone().unwrap_or_default();
            let purposes: Vec<Vec<u8>> = aux
                .trust
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|o| !rejected.contains(o))
                .collect();
            if purposes.is_empty() {
                (false, true)
            } else {
                token
                    .eku
                    .entry((source, item.cert.spki_sha256()))
                    .or_default()
                    .push((Some(purposes), shown.to_path_buf()));
                (true, false)
            }
        }
    };
    push_cert(
        item.cert,
        (trusted, distrusted),
        shown,
        (source, place),
        token,
    );
}

/// p11-kit's `populate_trust`: what the place makes of a certificate.
fn push_cert(
    cert: Cert,
    (trusted, distrusted): (bool, bool),
    shown: &Path,
    (source, place): (usize, Place),
    token: &mut Token,
) {
    let (trusted, distrusted) = match place {
        Place::Anchors if distrusted => (false, true),
        Place::Anchors => (true, false),
        Place::Blocklist => (false, true),
        Place::Top => (trusted, distrusted),
    };
    token.certs.push(CertObject {
        cert,
        source,
        trusted,
        distrusted,
        file: shown.to_path_buf(),
        place,
    });
}

/// Returns how many certificates the file held.
fn read_persist(
    bytes: &[u8],
    shown: &Path,
    (source, place): (usize, Place),
    token: &mut Token,
    out: &mut Gathered,
) -> usize {
    let objects = match p11kit::parse(bytes) {
        Ok(objects) => objects,
        Err(e) => {
            // p11-kit loads nothing from such a file. If it meant to
            // distrust something, that cannot be honoured.
            let meant_distrust =
                place == Place::Blocklist || memchr::memmem::find(bytes, b"x-distrusted").is_some();
            let reason = format!("p11-kit cannot read this file ({e})");
            if meant_distrust {
                out.unapplied(shown, format!("{reason}, and it carries a distrust"))
            } else {
                out.problem(shown, format!("{reason}; skipped, as p11-kit skips it"))
            }
            return 0;
        }
    };
    // p11-kit refuses a whole file that holds a public-key object: cabundle
    // applies its distrusts (stricter) but trusts nothing from it.
    let refused_by_p11_kit = objects
        .iter()
        .any(|o| o.class.as_deref() == Some("public-key"));
    if refused_by_p11_kit {
        out.problem(
            shown,
            "p11-kit does not load this file (it holds a public-key object); cabundle \
             applies its distrusts and trusts nothing from it",
        );
    }
    let mut certificates = 0;
    for o in objects {
        let at = format!("object at line {}", o.line);
        let distrusted = o.distrusted == Some(true) || place == Place::Blocklist;
        match o.class.as_deref() {
            Some("certificate") => match (&o.value, &o.issuer, &o.serial_number) {
                (Some(der), ..) => match out.memo.cert(der) {
                    Ok(cert) => {
                        if let Some(at) = o.server_distrust_after.as_deref() {
                            match decode::certdata::utc_time(at) {
                                Some(t) => {
                                    out.distrust_after.insert(cert.sha256, t);
                                }
                                None => out.problem(
                                    shown,
                                    format!("{at:?}: nss-server-distrust-after is not a UTCTime"),
                                ),
                            }
                        }
                        certificates += 1;
                        let trusted = o.trusted == Some(true) && !refused_by_p11_kit;
                        if refused_by_p11_kit && !distrusted {
                            continue;
                        }
                        push_cert(
                            cert,
                            (trusted, o.distrusted == Some(true)),
                            shown,
                            (source, place),
                            token,
                        );
                    }
                    Err(e) if distrusted => out.unapplied(shown, format!("{at}: {e}")),
                    Err(e) => out.problem(shown, format!("{at}: {e}")),
                },
                (None, Some(issuer), Some(serial)) if distrusted => {
                    match integer_content(serial) {
                        Some(serial) => token
                            .issuer_serial
                            .push((issuer_serial_key(issuer, serial), shown.to_path_buf())),
                        None => out.unapplied(
                            shown,
                            format!("{at}: serial-number is not a DER INTEGER"),
                        ),
                    }
                }
                (None, ..) if distrusted => out.unapplied(
                    shown,
                    format!("{at}: a distrusted certificate with neither a value nor an issuer and serial"),
                ),
                _ => {}
            },
            Some("public-key") => match &o.public_key_info {
                Some(spki) if distrusted => {
                    token
                        .keys
                        .push((Sha256::of(spki), shown.to_path_buf()));
                }
                None if distrusted => out.unapplied(shown, format!("{at}: a public key with no key")),
                _ => {}
            },
            Some("x-certificate-extension") if !refused_by_p11_kit => {
                let Some(spki) = &o.public_key_info else {
                    out.problem(shown, format!("{at}: an extension with no public key; ignored"));
                    continue;
                };
                let key = (source, Sha256::of(spki));
                match o.object_id.as_deref() {
                    Some(EKU_OID) => {
                        let purposes = o.value.as_deref().and_then(extension_eku);
                        if purposes.is_none() {
                            out.problem(
                                shown,
                                format!("{at}: an extended key usage that cannot be read: \
                                         p11-kit then leaves the certificates with this key out"),
                            );
                        }
                        token
                            .eku
                            .entry(key)
                            .or_default()
                            .push((purposes, shown.to_path_buf()));
                    }
                    Some(BASIC_CONSTRAINTS_OID) => {
                        if let Some(ca) = o.value.as_deref().and_then(extension_ca) {
                            token.ca.insert(key, ca);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    certificates
}

/// Apply p11-kit's rules to everything read; returns the anchors given.
fn join(token: Token, out: &mut Gathered) -> usize {
    let label = |f: &Path| format!("os:{}", f.display());
    // Distrust by certificate, key and issuer and serial: every object with
    // any of these is left out, whatever carries it.
    for o in token.certs.iter().filter(|o| o.distrusted) {
        let why = match o.place {
            Place::Blocklist => format!("in the blocklist {}", o.file.display()),
            _ => format!("distrusted in {}", o.file.display()),
        };
        out.distrust(Fingerprint::Spki(o.cert.spki_sha256()), why.clone());
        out.distrust(
            Fingerprint::IssuerSerial(o.cert.issuer_serial()),
            why.clone(),
        );
        out.found_in(
            &label(&o.file),
            vec![Item {
                cert: o.cert.clone(),
                distrust: Some(why),
                trust_data: TrustData::None,
            }],
        );
    }
    for (key, file) in token.issuer_serial {
        let why = format!(
            "distrusted by issuer and serial number in {}",
            file.display()
        );
        out.distrust(Fingerprint::IssuerSerial(key), why);
    }
    for (key, file) in token.keys {
        let why = format!(
            "its public key is distrusted in {} (p11-kit ignores public-key entries; cabundle \
             applies them to every certificate with that key)",
            file.display()
        );
        out.distrust(Fingerprint::Spki(key), why);
    }
    let trusted: HashSet<Sha256> = token
        .certs
        .iter()
        .filter(|o| o.trusted && !o.distrusted)
        .map(|o| o.cert.sha256)
        .collect();
    let mut anchors = 0;
    for o in &token.certs {
        if o.distrusted {
            continue;
        }
        if !o.trusted {
            if o.place == Place::Top && !trusted.contains(&o.cert.sha256) {
                out.problem(
                    &o.file,
                    format!(
                        "{}: neither trusted nor distrusted here (p11-kit reads a plain \
                         certificate at the top of a source folder as \"unspecified\"; \
                         anchors go in anchors/)",
                        o.cert.name()
                    ),
                );
            }
            continue;
        }
        let key = (o.source, o.cert.spki_sha256());
        let is_ca = token.ca.get(&key).copied().unwrap_or(o.cert.is_ca());
        if !is_ca {
            out.problem(
                &o.file,
                format!(
                    "{}: not a CA certificate; p11-kit extracts only authorities for TLS, so it is left out",
                    o.cert.name()
                ),
            );
            continue;
        }
        // A usage stapled in the same source folder replaces the
        // certificate's own.
        let refusal = match token.eku.get(&key) {
            Some(stapled) => stapled.iter().find_map(|(purposes, file)| match purposes {
                Some(p)
                    if p.iter().any(|o| {
                        o.as_slice() == OID_SERVER_AUTH || o.as_slice() == OID_ANY_EKU
                    }) =>
                {
                    None
                }
                Some(_) => Some(format!(
                    "trusted only for purposes other than TLS servers in {}",
                    file.display()
                )),
                None => Some(format!(
                    "its extended key usage in {} cannot be read",
                    file.display()
                )),
            }),
            None if !o.cert.eku_allows_tls => {
                Some("its extended key usage does not include TLS servers".to_string())
            }
            None => None,
        };
        if let Some(why) = refusal {
            out.problem(
                &o.file,
                format!("{}: {why}; p11-kit leaves it out", o.cert.name()),
            );
            continue;
        }
        anchors += 1;
        out.found_in(&label(&o.file), vec![Item::plain(o.cert.clone())]);
    }
    anchors
}

/// The content octets of a DER INTEGER.
fn integer_content(der: &[u8]) -> Option<&[u8]> {
    match decode::tlv(der) {
        Ok((0x02, content, [])) => Some(content),
        _ => None,
    }
}

/// An Extension's DER (`SEQUENCE { extnID, critical?, extnValue }`), as
/// p11-kit stores a stapled one, to the extnValue's content.
fn extension_value(der: &[u8], oid: &[u8]) -> Option<Vec<u8>> {
    let (0x30, body, []) = decode::tlv(der).ok()? else {
        return None;
    };
    let (0x06, id, mut rest) = decode::tlv(body).ok()? else {
        return None;
    };
    if id != oid {
        return None;
    }
    if let Ok((0x01, _, after)) = decode::tlv(rest) {
        rest = after;
    }
    let (0x04, value, []) = decode::tlv(rest).ok()? else {
        return None;
    };
    Some(value.to_vec())
}

/// The purposes of a stapled extendedKeyUsage extension.
fn extension_eku(der: &[u8]) -> Option<Vec<Vec<u8>>> {
    let value = extension_value(der, &[0x55, 0x1d, 0x25])?;
    let (0x30, mut list, []) = decode::tlv(&value).ok()? else {
        return None;
    };
    let mut out = Vec::new();
    while !list.is_empty() {
        let (0x06, oid, rest) = decode::tlv(list).ok()? else {
            return None;
        };
        out.push(oid.to_vec());
        list = rest;
    }
    Some(out)
}

/// Does a stapled basicConstraints extension say CA?
fn extension_ca(der: &[u8]) -> Option<bool> {
    let value = extension_value(der, &[0x55, 0x1d, 0x13])?;
    let (0x30, body, []) = decode::tlv(&value).ok()? else {
        return None;
    };
    Some(matches!(decode::tlv(body), Ok((0x01, [b], _)) if *b != 0))
}
