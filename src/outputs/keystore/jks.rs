//! JKS, the JDK's own keystore format (sun.security.provider.JavaKeyStore):
//! big-endian integers, aliases in Java's modified UTF-8, and a SHA-1 digest
//! keyed by the password at the end. JKS was the JDK's default cacerts type
//! up to JDK 17, and Debian's ca-certificates-java still writes one.

use sha1::{Digest, Sha1};

use super::{Existing, Format, KeystoreError};
use crate::cert::{Cert, Sha256};
use crate::date::Timestamp;

pub(super) const MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];
/// JCEKS, the JDK's other proprietary format (adds secret keys).
pub(super) const JCEKS_MAGIC: [u8; 4] = [0xce, 0xce, 0xce, 0xce];
const VERSION: u32 = 2;
const PRIVATE_KEY: u32 = 1;
const TRUSTED_CERT: u32 = 2;
/// The JDK's salt for the integrity digest: a literal, from its source.
const WHITENER: &[u8] = b"Mighty Aphrodite";
const DIGEST_LEN: usize = 20;

/// A JKS of trusted-certificate `entries` (alias, certificate), in that
/// order, each dated `created`.
pub(super) fn write(entries: &[(&str, &Cert)], password: &str, created: Timestamp) -> Vec<u8> {
    let size: usize = entries
        .iter()
        .map(|(a, c)| 30 + a.len() + c.der.len())
        .sum();
    let mut out = Vec::with_capacity(12 + size + DIGEST_LEN);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    // Far fewer than 2^32 certificates fit in memory.
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    let millis = created.unix().saturating_mul(1000);
    for (alias, cert) in entries {
        out.extend_from_slice(&TRUSTED_CERT.to_be_bytes());
        java_utf(&mut out, alias);
        out.extend_from_slice(&millis.to_be_bytes());
        java_utf(&mut out, "X.509");
        // A Cert is at most MAX_CERT_SIZE (64 KiB).
        out.extend_from_slice(&(cert.der.len() as u32).to_be_bytes());
        out.extend_from_slice(&cert.der);
    }
    let digest = integrity(password, &out);
    out.extend_from_slice(&digest);
    out
}

/// `DataOutput.writeUTF`: a two-byte length, then modified UTF-8 (NUL as
/// two bytes, characters beyond the BMP as two three-byte surrogates).
/// Only short text (aliases) is written, far below its 65535-byte limit.
fn java_utf(out: &mut Vec<u8>, text: &str) {
    let mut bytes = Vec::with_capacity(text.len());
    for unit in text.encode_utf16() {
        match unit {
            0x01..=0x7f => bytes.push(unit as u8),
            0x00 | 0x80..=0x7ff => {
                bytes.push(0xc0 | (unit >> 6) as u8);
                bytes.push(0x80 | (unit & 0x3f) as u8);
            }
            _ => {
                bytes.push(0xe0 | (unit >> 12) as u8);
                bytes.push(0x80 | ((unit >> 6) & 0x3f) as u8);
                bytes.push(0x80 | (unit & 0x3f) as u8);
            }
        }
    }
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(&bytes);
}

/// SHA-1 over the password (UTF-16BE), the whitener and the store.
fn integrity(password: &str, store: &[u8]) -> [u8; DIGEST_LEN] {
    let mut h = Sha1::new();
    for unit in password.encode_utf16() {
        h.update(unit.to_be_bytes());
    }
    h.update(WHITENER);
    h.update(store);
    h.finalize().into()
}

/// Read a JKS (which starts with [`MAGIC`]): its entries, then which of
/// `passwords` its digest was made with.
pub(super) fn open(bytes: &[u8], passwords: &[&str]) -> Result<Existing, KeystoreError> {
    let mut r = Input { rest: bytes };
    r.take(4)?; // the magic
    let version = r.u32()?;
    if version != 1 && version != 2 {
        return Err(KeystoreError::Unsupported(format!("JKS version {version}")));
    }
    let mut found = Existing {
        format: Format::Jks,
        password: None,
        trusted: Vec::new(),
        private_keys: 0,
        encrypted_entries: false,
    };
    // Each entry takes bytes, so a false count runs out of input, soon.
    let count = r.u32()?;
    for _ in 0..count {
        let tag = r.u32()?;
        r.utf()?; // the alias
        r.take(8)?; // the date
        match tag {
            PRIVATE_KEY => {
                let key_len = r.u32()?;
                r.take(key_len)?;
                for _ in 0..r.u32()? {
                    if version == 2 {
                        r.utf()?;
                    }
                    let len = r.u32()?;
                    r.take(len)?;
                }
                found.private_keys += 1;
            }
            TRUSTED_CERT => {
                // Version 1 has no type: X.509 only.
                let x509 = version == 1 || r.utf()? == b"X.509";
                let len = r.u32()?;
                let cert = r.take(len)?;
                if x509 {
                    found.trusted.push(Sha256::of(cert));
                }
            }
            _ => {
                return Err(KeystoreError::Malformed(format!(
                    "an entry of unknown kind {tag}"
                )));
            }
        }
    }
    let body_len = bytes.len() - r.rest.len();
    let digest = r.take(DIGEST_LEN as u32)?;
    if !r.rest.is_empty() {
        return Err(KeystoreError::Malformed(format!(
            "{} unexpected bytes follow the integrity digest",
            r.rest.len()
        )));
    }
    let body = &bytes[..body_len];
    let password = passwords
        .iter()
        .find(|p| integrity(p, body) == digest)
        .ok_or(KeystoreError::WrongPassword)?;
    found.password = Some(password.to_string());
    Ok(found)
}

/// Big-endian fields read from what is left, bounds checked.
struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    fn take(&mut self, n: u32) -> Result<&'a [u8], KeystoreError> {
        let n = usize::try_from(n).map_err(|_| KeystoreError::Truncated)?;
        if n > self.rest.len() {
            return Err(KeystoreError::Truncated);
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, KeystoreError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A `writeUTF` string's bytes.
    fn utf(&mut self) -> Result<&'a [u8], KeystoreError> {
        let b = self.take(2)?;
        let len = u16::from_be_bytes([b[0], b[1]]);
        self.take(u32::from(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modified_utf8_as_java_writes_it() {
        let utf = |s: &str| {
            let mut out = Vec::new();
            java_utf(&mut out, s);
            out
        };
        assert_eq!(utf("ab"), [0, 2, b'a', b'b']);
        assert_eq!(utf("\0"), [0, 2, 0xc0, 0x80]);
        assert_eq!(utf("é"), [0, 2, 0xc3, 0xa9]);
        assert_eq!(utf("€"), [0, 3, 0xe2, 0x82, 0xac]);
        // U+1F600 as two surrogates, three bytes each.
        assert_eq!(utf("😀"), [0, 6, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]);
    }
}
