//! The certificates of a PKCS#7 (CMS) SignedData: what `Export-Certificate
//! -Type P7B`, Windows' certificate export wizard (.p7b) and `openssl
//! crl2pkcs7 -nocrl` write. Only the `certificates` field is read; there
//! is no signature to check in such a "certs-only" message.
//!
//! ```text
//! ContentInfo ::= SEQUENCE { contentType OID signedData, content [0] EXPLICIT SignedData }
//! SignedData  ::= SEQUENCE { version INTEGER, digestAlgorithms SET,
//!                            encapContentInfo SEQUENCE,
//!                            certificates [0] IMPLICIT SET OF CertificateChoices OPTIONAL,
//!                            crls [1] IMPLICIT ... OPTIONAL, signerInfos SET }
//! ```
//! (RFC 5652 5.1.) Not part of [`super::decode`]: no OS trust store reads
//! PKCS#7 files, so a `.p7b` dropped into one must not be trusted by
//! cabundle either. Windows exports are read with it.

use super::{DerError, tlv};

/// 1.2.840.113549.1.7.2, as DER content.
const SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const INTEGER: u8 = 0x02;
const CONTEXT_0: u8 = 0xa0;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Pkcs7Error {
    #[error("{what}: {problem}")]
    Der {
        what: &'static str,
        problem: DerError,
    },
    #[error("{what}: expected tag {expected:#04x}, found {found:#04x}")]
    Tag {
        what: &'static str,
        expected: u8,
        found: u8,
    },
    #[error("a PKCS#7 {0}, not SignedData: it carries no certificates")]
    NotSignedData(String),
    #[error("{0} bytes after the PKCS#7 structure")]
    Trailing(usize),
}

/// Does this look like DER PKCS#7: a SEQUENCE that starts with an OID of
/// PKCS#7's arc (1.2.840.113549.1.7)?
pub fn is_pkcs7(bytes: &[u8]) -> bool {
    let Ok((SEQUENCE, inner, _)) = tlv(bytes) else {
        return false;
    };
    matches!(tlv(inner), Ok((OID, oid, _)) if oid.len() == SIGNED_DATA.len()
        && oid.starts_with(&SIGNED_DATA[..SIGNED_DATA.len() - 1]))
}

/// `what`'s tag-length-value, which must have tag `expected`: its value
/// and what follows it.
fn expect<'a>(
    bytes: &'a [u8],
    expected: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), Pkcs7Error> {
    let (tag, value, rest) = tlv(bytes).map_err(|problem| Pkcs7Error::Der { what, problem })?;
    if tag != expected {
        return Err(Pkcs7Error::Tag {
            what,
            expected,
            found: tag,
        });
    }
    Ok((value, rest))
}

/// The DER of each certificate in a DER PKCS#7 SignedData, in order.
/// Other kinds of `CertificateChoices` (attribute certificates, tagged
/// [1] to [3]) are not X.509 certificates and are skipped.
pub fn certificates(bytes: &[u8]) -> Result<Vec<&[u8]>, Pkcs7Error> {
    let (content_info, rest) = expect(bytes, SEQUENCE, "ContentInfo")?;
    // A file may end with a newline or the NULs some tools pad with.
    let trailing = rest
        .iter()
        .filter(|b| !b.is_ascii_whitespace() && **b != 0)
        .count();
    if trailing > 0 {
        return Err(Pkcs7Error::Trailing(rest.len()));
    }
    let (oid, rest) = expect(content_info, OID, "contentType")?;
    if oid != SIGNED_DATA {
        return Err(Pkcs7Error::NotSignedData(super::oid_text(oid)));
    }
    let (explicit, _) = expect(rest, CONTEXT_0, "content")?;
    let (signed_data, _) = expect(explicit, SEQUENCE, "SignedData")?;
    let (_, rest) = expect(signed_data, INTEGER, "SignedData version")?;
    let (_, rest) = expect(rest, SET, "digestAlgorithms")?;
    let (_, rest) = expect(rest, SEQUENCE, "encapContentInfo")?;
    if rest.first() != Some(&CONTEXT_0) {
        // No certificates field: a message without certificates.
        return Ok(Vec::new());
    }
    let (mut set, _) = expect(rest, CONTEXT_0, "certificates")?;
    let mut certs = Vec::new();
    while !set.is_empty() {
        let (tag, _, rest) = tlv(set).map_err(|problem| Pkcs7Error::Der {
            what: "a certificate",
            problem,
        })?;
        if tag == SEQUENCE {
            certs.push(&set[..set.len() - rest.len()]);
        }
        set = rest;
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv_of(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let body = parts.concat();
        let mut out = vec![tag];
        match body.len() {
            n @ 0..0x80 => out.push(n as u8),
            n @ 0x80..0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend(body);
        out
    }

    fn signed_data(certs: &[&[u8]]) -> Vec<u8> {
        let mut fields = vec![
            tlv_of(INTEGER, &[&[1]]),
            tlv_of(SET, &[]),
            tlv_of(
                SEQUENCE,
                &[&tlv_of(
                    OID,
                    &[&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, 1]],
                )],
            ),
        ];
        if !certs.is_empty() {
            fields.push(tlv_of(CONTEXT_0, certs));
        }
        fields.push(tlv_of(SET, &[]));
        let fields: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        tlv_of(
            SEQUENCE,
            &[
                &tlv_of(OID, &[SIGNED_DATA]),
                &tlv_of(CONTEXT_0, &[&tlv_of(SEQUENCE, &fields)]),
            ],
        )
    }

    #[test]
    fn certificates_come_out_in_order_and_other_choices_are_skipped() {
        let a = tlv_of(SEQUENCE, &[b"first"]);
        let attr = tlv_of(0xa2, &[b"an attribute certificate"]);
        let b = tlv_of(SEQUENCE, &[&[7u8; 300]]);
        let p7 = signed_data(&[&a, &attr, &b]);
        assert!(is_pkcs7(&p7));
        assert_eq!(certificates(&p7).unwrap(), [a.as_slice(), b.as_slice()]);
        let mut newline = p7.clone();
        newline.extend(b"\r\n");
        assert_eq!(certificates(&newline).unwrap().len(), 2);
        assert!(certificates(&signed_data(&[])).unwrap().is_empty());
    }

    #[test]
    fn broken_pkcs7_is_an_error_not_a_panic() {
        let p7 = signed_data(&[&tlv_of(SEQUENCE, &[b"c"]), &tlv_of(SEQUENCE, &[b"d"])]);
        for cut in 0..p7.len() {
            assert!(certificates(&p7[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..p7.len() {
            for v in [0x00, 0x80, 0x84, 0xff] {
                let mut bad = p7.clone();
                bad[i] = v;
                let _ = certificates(&bad);
                let _ = is_pkcs7(&bad);
            }
        }
        let mut data = p7.clone();
        let at = p7
            .windows(SIGNED_DATA.len())
            .position(|w| w == SIGNED_DATA)
            .unwrap();
        data[at + SIGNED_DATA.len() - 1] = 1; // id-data instead of id-signedData
        assert!(matches!(
            certificates(&data),
            Err(Pkcs7Error::NotSignedData(oid)) if oid == "1.2.840.113549.1.7.1"
        ));
        let mut trailing = p7.clone();
        trailing.extend(b"junk");
        assert_eq!(certificates(&trailing), Err(Pkcs7Error::Trailing(4)));
    }
}
