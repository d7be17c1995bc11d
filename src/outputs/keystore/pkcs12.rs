//! PKCS#12 (RFC 7292) trust stores, as the JDK writes and reads them.
//!
//! Written: PFX v3 → ContentInfo(data) → AuthenticatedSafe of one
//! ContentInfo(data) → SafeContents of certBags, each with a friendlyName
//! (the alias) and Java's trusted-key-usage attribute, without which Java
//! ignores a certificate bag that belongs to no key.

use ring::{digest, hmac};

use super::der::{self, Reader};
use super::{Existing, Format, KeystoreError};
use crate::cert::{Cert, Sha256};

// OIDs, as DER content octets.
/// 1.2.840.113549.1.7.1
const DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
/// 1.2.840.113549.1.7.2
const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
/// 1.2.840.113549.1.7.3
const ENVELOPED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03];
/// 1.2.840.113549.1.7.6
const ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
/// 1.2.840.113549.1.12.10.1.1
const KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x01,
];
/// 1.2.840.113549.1.12.10.1.2
const SHROUDED_KEY_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x02,
];
/// 1.2.840.113549.1.12.10.1.3
const CERT_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x03,
];
/// 1.2.840.113549.1.12.10.1.6
const SAFE_CONTENTS_BAG: &[u8] = &[
    0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x06,
];
/// 1.2.840.113549.1.9.22.1
const X509_CERTIFICATE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x16, 0x01];
/// 1.2.840.113549.1.9.20
const FRIENDLY_NAME: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x14];
/// 2.16.840.1.113894.746875.1.1: Oracle's "trusted key usage"; Java loads
/// a certificate bag carrying it as a trustedCertEntry.
const JAVA_TRUSTED_USAGE: &[u8] = &[
    0x60, 0x86, 0x48, 0x01, 0x86, 0xf9, 0x66, 0xad, 0xca, 0x7b, 0x01, 0x01,
];
/// 2.5.29.37.0 anyExtendedKeyUsage: trusted for every purpose, as keytool
/// marks an imported CA.
const ANY_EXTENDED_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
/// 1.3.14.3.2.26
const SHA1: &[u8] = &[0x2b, 0x0e, 0x03, 0x02, 0x1a];
/// 2.16.840.1.101.3.4.2.1 (.2 SHA-384, .3 SHA-512, .4 SHA-224, .5 and .6
/// SHA-512/224 and /256).
const SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
const SHA224: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04];
const SHA512_224: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x05];
const SHA512_256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x06];
/// 1.2.840.113549.1.5.14: PBMAC1 (RFC 9579), PBKDF2 instead of the PKCS#12 KDF.
const PBMAC1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0e];

/// The MAC's iterations. The JDK's own count (keystore.pkcs12.macIterationCount).
const ITERATIONS: u32 = 10_000;
/// The most iterations `open` computes, per password: the JDK refuses more
/// too. A hostile file could otherwise make each attempt take minutes.
const MAX_ITERATIONS: u64 = 5_000_000;
/// How deep SafeContents may nest inside safeContentsBags.
const MAX_DEPTH: usize = 8;
/// The PKCS#12 KDF's "ID" for MAC keys (RFC 7292 B.3).
const MAC_KEY_ID: u8 = 3;

/// A trust store of `entries` (alias, certificate), in that order. With a
/// password, the JDK's integrity check (MacData, HMAC-SHA256); without,
/// none, as the JDK's own password-less cacerts since JDK 18.
pub(super) fn write(entries: &[(&str, &Cert)], password: Option<&str>) -> Vec<u8> {
    // The bags are not encrypted: they hold public certificates, and a
    // password-protected store is opened with a password everyone knows.
    // (keytool encrypts them by default; Java reads either.)
    let bags: Vec<Vec<u8>> = entries
        .iter()
        .map(|(alias, cert)| cert_bag(alias, &cert.der))
        .collect();
    let safe_contents = der::tlv(der::SEQUENCE, &bags.concat());
    let auth_safe = der::seq(&[&data_content_info(&safe_contents)]);
    let mut pfx = vec![der::uint(3), data_content_info(&auth_safe)];
    if let Some(password) = password {
        // The salt is fixed by the content, so that the same certificates
        // and password give the same bytes. A salt exists to make guessing
        // a password from its MAC costlier; here no secret is protected
        // (the certificates are public, the password is "changeit" or known
        // to every client) and the MAC only detects damage and tampering by
        // someone without the password, which a fixed salt does not weaken.
        let salt = &Sha256::of(&safe_contents).0[..20];
        let key = kdf(
            &digest::SHA256,
            &bmp_password(password),
            salt,
            u64::from(ITERATIONS),
            MAC_KEY_ID,
        );
        let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), &auth_safe);
        let algorithm = der::seq(&[&der::oid(SHA256), &der::tlv(der::NULL, &[])]);
        pfx.push(der::seq(&[
            &der::seq(&[&algorithm, &der::octets(mac.as_ref())]),
            &der::octets(salt),
            &der::uint(ITERATIONS),
        ]));
    }
    let parts: Vec<&[u8]> = pfx.iter().map(Vec::as_slice).collect();
    der::seq(&parts)
}

/// [`write`] without a password, streamed into `out`: one bag is held at
/// a time, so a sync of a very large store does not hold the whole
/// keystore beside the bundle. The same bytes as `write(entries, None)`.
pub(super) fn write_unprotected_to(
    entries: &[(&str, &Cert)],
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let bags_len: usize = entries
        .iter()
        .map(|(alias, cert)| {
            let (before, after) = cert_bag_parts(alias, cert.der.len());
            before.len() + cert.der.len() + after.len()
        })
        .sum();
    let data = der::oid(DATA);
    let version = der::uint(3);
    // From the SafeContents out, each level's tag and what comes before the
    // inner element (an OID, the version), as in `write`.
    let levels: [(u8, &[u8]); 9] = [
        (der::SEQUENCE, &[]),     // SafeContents
        (der::OCTET_STRING, &[]), // its data content
        (der::EXPLICIT_0, &[]),
        (der::SEQUENCE, &data), // ContentInfo(data)
        (der::SEQUENCE, &[]),   // AuthenticatedSafe
        (der::OCTET_STRING, &[]),
        (der::EXPLICIT_0, &[]),
        (der::SEQUENCE, &data),    // ContentInfo(data)
        (der::SEQUENCE, &version), // PFX
    ];
    let mut len = bags_len;
    let mut heads = Vec::with_capacity(levels.len());
    for (tag, before) in levels {
        len += before.len();
        let mut head = der::head(tag, len);
        len += head.len();
        head.extend_from_slice(before);
        heads.push(head);
    }
    for head in heads.iter().rev() {
        out.write_all(head)?;
    }
    for (alias, cert) in entries {
        let (before, after) = cert_bag_parts(alias, cert.der.len());
        out.write_all(&before)?;
        out.write_all(&cert.der)?;
        out.write_all(&after)?;
    }
    Ok(())
}

fn data_content_info(content: &[u8]) -> Vec<u8> {
    der::seq(&[&der::oid(DATA), &der::explicit0(&der::octets(content))])
}

fn cert_bag(alias: &str, cert_der: &[u8]) -> Vec<u8> {
    let (before, after) = cert_bag_parts(alias, cert_der.len());
    [before.as_slice(), cert_der, &after].concat()
}

/// A certBag around a certificate of `der_len` bytes, as what comes before
/// the certificate's DER and what comes after it (the attributes): the
/// streamed writer then never copies a certificate.
fn cert_bag_parts(alias: &str, der_len: usize) -> (Vec<u8>, Vec<u8>) {
    let friendly_name = der::seq(&[
        &der::oid(FRIENDLY_NAME),
        &der::set(&[&der::tlv(der::BMP_STRING, &der::bmp(alias))]),
    ]);
    let trusted = der::seq(&[
        &der::oid(JAVA_TRUSTED_USAGE),
        &der::set(&[&der::oid(ANY_EXTENDED_KEY_USAGE)]),
    ]);
    let attributes = der::set(&[&friendly_name, &trusted]);
    // SafeBag { CERT_BAG, [0] CertBag { x509Certificate, [0] OCTET STRING } }
    let octets = der::tlv_len(der_len);
    let cert_value = der::tlv_len(X509_CERTIFICATE.len()) + der::tlv_len(octets);
    let bag_value = der::tlv_len(cert_value);
    let bag = der::tlv_len(CERT_BAG.len()) + der::tlv_len(bag_value) + attributes.len();
    let mut before = der::head(der::SEQUENCE, bag);
    before.extend(der::oid(CERT_BAG));
    before.extend(der::head(der::EXPLICIT_0, bag_value));
    before.extend(der::head(der::SEQUENCE, cert_value));
    before.extend(der::oid(X509_CERTIFICATE));
    before.extend(der::head(der::EXPLICIT_0, octets));
    before.extend(der::head(der::OCTET_STRING, der_len));
    (before, attributes)
}

/// A password as the PKCS#12 KDF takes it: UTF-16BE with a two-byte NUL
/// terminator (RFC 7292 B.1), as the JDK and OpenSSL both encode it.
fn bmp_password(password: &str) -> Vec<u8> {
    let mut out = der::bmp(password);
    out.extend_from_slice(&[0, 0]);
    out
}

/// The PKCS#12 key derivation (RFC 7292 appendix B.2), for a key as long
/// as the hash's output.
fn kdf(
    alg: &'static digest::Algorithm,
    password: &[u8],
    salt: &[u8],
    iterations: u64,
    id: u8,
) -> Vec<u8> {
    let v = alg.block_len();
    // Repeated to a whole number of v-byte blocks (none when empty).
    let fill = |s: &[u8]| -> Vec<u8> {
        s.iter()
            .cycle()
            .take(v * s.len().div_ceil(v))
            .copied()
            .collect()
    };
    let i = [fill(salt), fill(password)].concat();
    // One block of output is all a MAC key needs (n = u, so c = 1): the
    // step that adjusts I for a second block is never reached.
    let mut ctx = digest::Context::new(alg);
    ctx.update(&vec![id; v]);
    ctx.update(&i);
    let mut a = ctx.finish();
    for _ in 1..iterations {
        a = digest::digest(alg, a.as_ref());
    }
    a.as_ref().to_vec()
}

/// Whether `bytes` begin as a PFX: a SEQUENCE whose first element is the
/// INTEGER 3. The rest may be missing (then `open` says truncated).
pub(super) fn detect(bytes: &[u8]) -> bool {
    match der::header(bytes) {
        Ok((der::SEQUENCE, _, header)) => bytes.get(header..header + 3) == Some(&[2, 1, 3]),
        _ => false,
    }
}

pub(super) fn open(bytes: &[u8], passwords: &[&str]) -> Result<Existing, KeystoreError> {
    let mut top = Reader::new(bytes);
    let mut pfx = Reader::new(top.expect(der::SEQUENCE, "the PFX")?);
    top.finish("the keystore")?;
    pfx.expect(der::INTEGER, "the version")?;
    let auth_safe = content_info(&mut pfx, "the authenticated safe")?;
    let mac = match pfx.is_empty() {
        true => None,
        false => Some(MacData::read(pfx.expect(der::SEQUENCE, "the MAC")?)?),
    };
    pfx.finish("the MAC")?;

    let mut found = Existing {
        format: Format::Pkcs12,
        password: None,
        trusted: Vec::new(),
        private_keys: 0,
        encrypted_entries: false,
    };
    let mut safes = Reader::new(auth_safe);
    let mut list = Reader::new(safes.expect(der::SEQUENCE, "the list of contents")?);
    safes.finish("the list of contents")?;
    while !list.is_empty() {
        let mut info = Reader::new(list.expect(der::SEQUENCE, "a content")?);
        let kind = info.expect(der::OID, "a content's type")?;
        match kind {
            DATA => {
                let content = data_content(&mut info)?;
                safe_contents(content, &mut found, 0)?;
            }
            // The JDK (keytool) encrypts certificate bags by default.
            // Nothing cabundle needs is behind that: note it, do not decrypt.
            ENCRYPTED_DATA | ENVELOPED_DATA => found.encrypted_entries = true,
            other => {
                return Err(KeystoreError::Unsupported(format!(
                    "contents of type {}",
                    der::oid_text(other)
                )));
            }
        }
    }

    if let Some(mac) = mac {
        let password = passwords
            .iter()
            .find(|p| mac.verifies(p, auth_safe))
            .ok_or(KeystoreError::WrongPassword)?;
        found.password = Some(password.to_string());
    }
    Ok(found)
}

/// A ContentInfo(data)'s octets; `what` names it.
fn content_info<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a [u8], KeystoreError> {
    let mut info = Reader::new(r.expect(der::SEQUENCE, what)?);
    match info.expect(der::OID, what)? {
        DATA => data_content(&mut info),
        SIGNED_DATA => Err(KeystoreError::Unsupported(
            "public-key integrity (a signature instead of a password MAC)".into(),
        )),
        other => Err(KeystoreError::Unsupported(format!(
            "{what} of type {}",
            der::oid_text(other)
        ))),
    }
}

/// The OCTET STRING inside `[0] EXPLICIT`, after a data OID.
fn data_content<'a>(info: &mut Reader<'a>) -> Result<&'a [u8], KeystoreError> {
    let mut explicit = Reader::new(info.expect(der::EXPLICIT_0, "a content")?);
    let content = explicit.expect(der::OCTET_STRING, "a content")?;
    explicit.finish("a content")?;
    info.finish("a content")?;
    Ok(content)
}

/// Count and fingerprint the bags of one SafeContents.
fn safe_contents(bytes: &[u8], found: &mut Existing, depth: usize) -> Result<(), KeystoreError> {
    if depth > MAX_DEPTH {
        return Err(KeystoreError::Malformed(
            "its contents nest too deep".into(),
        ));
    }
    let mut outer = Reader::new(bytes);
    let mut bags = Reader::new(outer.expect(der::SEQUENCE, "a list of entries")?);
    outer.finish("a list of entries")?;
    while !bags.is_empty() {
        let mut bag = Reader::new(bags.expect(der::SEQUENCE, "an entry")?);
        let kind = bag.expect(der::OID, "an entry's type")?;
        let value = bag.expect(der::EXPLICIT_0, "an entry's value")?;
        let attributes = bag.optional(der::SET)?;
        bag.finish("an entry")?;
        match kind {
            KEY_BAG | SHROUDED_KEY_BAG => found.private_keys += 1,
            CERT_BAG => {
                let trusted = match attributes {
                    Some(set) => has_trusted_usage(set)?,
                    None => false,
                };
                let mut value = Reader::new(value);
                let mut cert = Reader::new(value.expect(der::SEQUENCE, "a certificate entry")?);
                value.finish("a certificate entry")?;
                let cert_type = cert.expect(der::OID, "a certificate's type")?;
                let mut explicit = Reader::new(cert.expect(der::EXPLICIT_0, "a certificate")?);
                let cert_der = explicit.expect(der::OCTET_STRING, "a certificate")?;
                explicit.finish("a certificate")?;
                cert.finish("a certificate")?;
                // Certificates that belong to a key's chain, or that Java
                // would not load as trust anchors, are not trusted entries.
                if trusted && cert_type == X509_CERTIFICATE {
                    found.trusted.push(Sha256::of(cert_der));
                }
            }
            // The value is itself a SafeContents.
            SAFE_CONTENTS_BAG => safe_contents(value, found, depth + 1)?,
            // CRLs, secrets (Java's secret-key entries) and kinds
            // unknown: not certificates, not private keys.
            _ => {}
        }
    }
    Ok(())
}

/// Whether a bag's attributes include Java's trusted-key-usage.
fn has_trusted_usage(set: &[u8]) -> Result<bool, KeystoreError> {
    let mut attributes = Reader::new(set);
    let mut trusted = false;
    while !attributes.is_empty() {
        let mut attribute = Reader::new(attributes.expect(der::SEQUENCE, "an attribute")?);
        trusted |= attribute.expect(der::OID, "an attribute's type")? == JAVA_TRUSTED_USAGE;
    }
    Ok(trusted)
}

/// A PFX's MacData (RFC 7292 section 4): the HMAC of the authenticated
/// safe, keyed by the PKCS#12 KDF from the password.
struct MacData<'a> {
    digest: &'static digest::Algorithm,
    hmac: hmac::Algorithm,
    mac: &'a [u8],
    salt: &'a [u8],
    iterations: u64,
}

impl<'a> MacData<'a> {
    fn read(bytes: &'a [u8]) -> Result<MacData<'a>, KeystoreError> {
        let mut mac_data = Reader::new(bytes);
        let mut digest_info = Reader::new(mac_data.expect(der::SEQUENCE, "the MAC")?);
        let mut algorithm = Reader::new(digest_info.expect(der::SEQUENCE, "the MAC's algorithm")?);
        let oid = algorithm.expect(der::OID, "the MAC's algorithm")?;
        let (digest, hmac) = match oid {
            SHA1 => (
                &digest::SHA1_FOR_LEGACY_USE_ONLY,
                hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            ),
            SHA256 => (&digest::SHA256, hmac::HMAC_SHA256),
            SHA384 => (&digest::SHA384, hmac::HMAC_SHA384),
            SHA512 => (&digest::SHA512, hmac::HMAC_SHA512),
            other => {
                return Err(KeystoreError::Unsupported(format!(
                    "a MAC by {}",
                    mac_algorithm_name(other)
                )));
            }
        };
        // Parameters: NULL, or none.
        if algorithm
            .optional(der::NULL)?
            .is_some_and(|p| !p.is_empty())
        {
            return Err(KeystoreError::Malformed(
                "the MAC's NULL is not empty".into(),
            ));
        }
        algorithm.finish("the MAC's algorithm")?;
        let mac = digest_info.expect(der::OCTET_STRING, "the MAC value")?;
        digest_info.finish("the MAC value")?;
        let salt = mac_data.expect(der::OCTET_STRING, "the MAC's salt")?;
        let iterations = match mac_data.optional(der::INTEGER)? {
            None => 1, // DEFAULT 1
            Some(n) => positive(n).ok_or_else(|| {
                KeystoreError::Malformed("the MAC's iteration count is not a count".into())
            })?,
        };
        mac_data.finish("the MAC")?;
        if iterations > MAX_ITERATIONS {
            return Err(KeystoreError::Unsupported(format!(
                "a MAC of {iterations} iterations (cabundle, like the JDK, computes at most {MAX_ITERATIONS})"
            )));
        }
        Ok(MacData {
            digest,
            hmac,
            mac,
            salt,
            iterations,
        })
    }

    /// Whether `password` gives this MAC over `auth_safe`.
    fn verifies(&self, password: &str, auth_safe: &[u8]) -> bool {
        // The empty password is ambiguous: the JDK and OpenSSL encode it
        // as the terminator alone, some tools as no bytes at all (OpenSSL
        // tries both too).
        let mut forms = vec![bmp_password(password)];
        if password.is_empty() {
            forms.push(Vec::new());
        }
        forms.iter().any(|form| {
            let key = kdf(self.digest, form, self.salt, self.iterations, MAC_KEY_ID);
            hmac::verify(&hmac::Key::new(self.hmac, &key), auth_safe, self.mac).is_ok()
        })
    }
}

/// A MAC algorithm cabundle does not compute, in words.
fn mac_algorithm_name(oid: &[u8]) -> String {
    let name = match oid {
        PBMAC1 => "PBMAC1 (RFC 9579)",
        SHA224 => "HMAC-SHA-224",
        SHA512_224 => "HMAC-SHA-512/224",
        SHA512_256 => "HMAC-SHA-512/256",
        _ => "an unknown algorithm",
    };
    format!("{name}, OID {}", der::oid_text(oid))
}

/// A positive INTEGER's value, if it fits in a u64.
fn positive(content: &[u8]) -> Option<u64> {
    let (first, _) = content.split_first()?;
    if first & 0x80 != 0 {
        return None;
    }
    let digits = match content {
        [0, rest @ ..] => rest,
        all => all,
    };
    if digits.len() > 8 {
        return None;
    }
    let n = digits.iter().fold(0u64, |acc, d| acc << 8 | u64::from(*d));
    (n > 0).then_some(n)
}
