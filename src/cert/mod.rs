//! `Cert`: one certificate's DER and the few parsed fields cabundle uses.

pub(crate) mod name_hash;

use std::fmt;
use std::ops::{Deref, Range};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use sha2::Digest;
use x509_parser::prelude::{FromDer, X509Certificate, X509Version};

use crate::date::Timestamp;

/// The largest certificate accepted. Mozilla's largest root is under 3 KiB;
/// one far larger is padding or an attack on whoever parses it next.
pub const MAX_CERT_SIZE: usize = 64 * 1024;

/// Cheap to clone: the same certificate reaches a sync from several
/// sources, and is parsed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert(Arc<Parsed>);

#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub der: Vec<u8>,
    pub sha256: Sha256,
    pub subject: String,
    pub issuer: String,
    pub common_name: Option<String>,
    /// Hex, as OpenSSL prints it with colons removed.
    pub serial: String,
    pub not_before: Timestamp,
    pub not_after: Timestamp,
    /// basicConstraints CA:TRUE.
    pub ca_flag: bool,
    /// X.509 version 1 with issuer == subject: an old-style root, which has
    /// no extensions and so cannot say CA:TRUE.
    pub v1_root: bool,
    /// OpenSSL's subject hash: the `<hash>.N` name in a hashed folder.
    pub subject_hash: u32,
    /// Its own extendedKeyUsage allows TLS servers: it has none, or it
    /// lists serverAuth or anyExtendedKeyUsage. (p11-kit leaves a root
    /// without it out of what it extracts for TLS.)
    pub eku_allows_tls: bool,
    /// Where in `der` the SubjectPublicKeyInfo, the issuer Name and the
    /// serial number's content octets are. p11-kit and NSS distrust by key
    /// and by issuer and serial, not only by the whole certificate; the
    /// keys are hashed only when such a distrust exists.
    spki: Range<usize>,
    issuer_name: Range<usize>,
    serial_number: Range<usize>,
}

/// Why bytes are not a certificate cabundle will use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("not an X.509 certificate ({0})")]
    NotX509(Malformed),
    #[error("a {0} KiB certificate; real CA certificates are a few KiB, so this one is refused")]
    TooLarge(usize),
    #[error("bad basicConstraints extension ({0})")]
    BadBasicConstraints(Malformed),
    /// A name OpenSSL's decoder refuses: one such certificate makes
    /// OpenSSL refuse a whole bundle.
    #[error("OpenSSL cannot read its {which} name ({reason}), so no OpenSSL client can load it")]
    UnreadableName { which: &'static str, reason: String },
    #[error("{0} bytes of trailing data after the certificate")]
    TrailingData(usize),
}

/// What x509-parser found wrong, in words a person can act on: its own
/// messages name its internals (`Der(UnexpectedTag { .. })`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(String);

impl Malformed {
    fn from_x509(e: &x509_parser::nom::Err<x509_parser::error::X509Error>) -> Malformed {
        use x509_parser::asn1_rs::Error as Der;
        use x509_parser::error::X509Error;
        use x509_parser::nom::{Err, error::ErrorKind};
        const EOF: X509Error = X509Error::NomError(ErrorKind::Eof);
        Malformed(match e {
            Err::Incomplete(_)
            | Err::Error(X509Error::Der(Der::Incomplete(_)) | EOF)
            | Err::Failure(X509Error::Der(Der::Incomplete(_)) | EOF) => {
                "the data ends before the certificate does".into()
            }
            Err::Error(X509Error::Der(_) | X509Error::NomError(_))
            | Err::Failure(X509Error::Der(_) | X509Error::NomError(_)) => {
                "its DER encoding is malformed".into()
            }
            // The rest say which part is wrong ("invalid serial").
            Err::Error(e) | Err::Failure(e) => e.to_string(),
        })
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Deref for Cert {
    type Target = Parsed;
    fn deref(&self) -> &Parsed {
        &self.0
    }
}

impl Cert {
    /// Parse one DER certificate from the front of `bytes`, returning what
    /// follows it (OpenSSL's aux data in a TRUSTED CERTIFICATE).
    pub fn parse_prefix(bytes: &[u8]) -> Result<(Cert, &[u8]), CertError> {
        Cert::parse(bytes, None)
    }

    /// `sha256`, when given, is that of all of `bytes`, already computed.
    fn parse(bytes: &[u8], sha256: Option<Sha256>) -> Result<(Cert, &[u8]), CertError> {
        let (rest, x509) = X509Certificate::from_der(bytes)
            .map_err(|e| CertError::NotX509(Malformed::from_x509(&e)))?;
        let der = &bytes[..bytes.len() - rest.len()];
        if der.len() > MAX_CERT_SIZE {
            return Err(CertError::TooLarge(der.len() / 1024));
        }
        let basic = x509.basic_constraints().map_err(|e| {
            CertError::BadBasicConstraints(Malformed::from_x509(&x509_parser::nom::Err::Error(e)))
        })?;
        let common_name = x509
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(printable);
        // A name that cannot be read (bytes that are not the string type
        // they claim) is a damaged or hostile certificate, not one to trust.
        // OpenSSL is the judge of whether a name can be read: a certificate
        // whose subject or issuer its name decoder refuses cannot be loaded
        // by any OpenSSL client, and one such certificate makes OpenSSL
        // refuse a whole bundle (Python's `load_verify_locations` fails on
        // the file). The check is the subject hash's canonical encoding,
        // which follows that decoder.
        let unreadable = |which| move |reason| CertError::UnreadableName { which, reason };
        let subject_hash =
            name_hash::name_hash(x509.subject().as_raw()).map_err(unreadable("subject"))?;
        name_hash::name_hash(x509.issuer().as_raw()).map_err(unreadable("issuer"))?;
        // For people: x509-parser's rendering, or, where it wants UTF-8 in
        // a string type OpenSSL reads as Latin-1, each value as Latin-1.
        let name = |n: &x509_parser::x509::X509Name| {
            n.to_string_with_registry(x509_parser::objects::oid_registry())
                .unwrap_or_else(|_| latin1_name(n))
        };
        // Positions of parts of `der`, which x509-parser's fields borrow.
        let at = |part: &[u8]| {
            let start = part.as_ptr() as usize - der.as_ptr() as usize;
            start..start + part.len()
        };
        let eku_allows_tls = match x509.extended_key_usage() {
            Ok(None) => true,
            Ok(Some(eku)) => eku.value.server_auth || eku.value.any,
            // Two of them, or one that cannot be read: no purpose is certain.
            Err(_) => false,
        };
        let cert = Parsed {
            eku_allows_tls,
            spki: at(x509.public_key().raw),
            issuer_name: at(x509.issuer().as_raw()),
            serial_number: at(x509.tbs_certificate.raw_serial()),
            sha256: match sha256 {
                Some(sha) if rest.is_empty() => sha,
                _ => Sha256::of(der),
            },
            subject: printable(&name(x509.subject())),
            issuer: printable(&name(x509.issuer())),
            subject_hash,
            common_name,
            serial: hex(x509.tbs_certificate.raw_serial()),
            not_before: Timestamp::from_unix(x509.validity().not_before.timestamp()),
            not_after: Timestamp::from_unix(x509.validity().not_after.timestamp()),
            ca_flag: basic.is_some_and(|b| b.value.ca),
            v1_root: x509.version() == X509Version::V1
                && x509.subject().as_raw() == x509.issuer().as_raw(),
            der: der.to_vec(),
        };
        Ok((Cert(Arc::new(cert)), rest))
    }

    /// Parse exactly one DER certificate.
    pub fn from_der(bytes: &[u8]) -> Result<Cert, CertError> {
        Cert::from_der_hashed(bytes, None)
    }

    /// [`Cert::from_der`] when the SHA-256 of `bytes` is already known.
    pub fn from_der_hashed(bytes: &[u8], sha256: Option<Sha256>) -> Result<Cert, CertError> {
        match Cert::parse(bytes, sha256)? {
            (cert, []) => Ok(cert),
            (_, rest) => Err(CertError::TrailingData(rest.len())),
        }
    }

    /// The SubjectPublicKeyInfo, as DER.
    pub fn spki(&self) -> &[u8] {
        &self.der[self.spki.clone()]
    }

    /// SHA-256 of the SubjectPublicKeyInfo: what a public-key distrust names.
    pub fn spki_sha256(&self) -> Sha256 {
        Sha256::of(self.spki())
    }

    /// What a distrust by issuer and serial number names (NSS trust
    /// objects, p11-kit): [`issuer_serial_key`] of this certificate.
    pub fn issuer_serial(&self) -> Sha256 {
        issuer_serial_key(
            &self.der[self.issuer_name.clone()],
            &self.der[self.serial_number.clone()],
        )
    }

    /// Lowercase hex SHA-256 of the DER, no colons.
    pub fn fingerprint(&self) -> String {
        self.sha256.to_string()
    }

    /// May this certificate act as a trust anchor for others?
    pub fn is_ca(&self) -> bool {
        self.ca_flag || self.v1_root
    }

    /// A short name for people: the CN, else the whole subject.
    pub fn name(&self) -> &str {
        self.common_name.as_deref().unwrap_or(&self.subject)
    }

    pub fn is_expired_at(&self, at: Timestamp) -> bool {
        self.not_after < at
    }

    /// The certificate as a PEM block, 64 columns, `\n` line ends.
    pub fn to_pem(&self) -> String {
        static WRAPPED: LazyLock<data_encoding::Encoding> = LazyLock::new(|| {
            let mut spec = data_encoding::BASE64.specification();
            spec.wrap.width = 64;
            spec.wrap.separator.push('\n');
            spec.encoding().expect("a valid base64 specification")
        });
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----\n";
        const END: &str = "-----END CERTIFICATE-----\n";
        let mut out =
            String::with_capacity(BEGIN.len() + WRAPPED.encode_len(self.der.len()) + END.len());
        out.push_str(BEGIN);
        WRAPPED.encode_append(&self.der, &mut out);
        out.push_str(END);
        out
    }
}

/// One value for an issuer Name (its whole DER) and a serial number (the
/// INTEGER's content octets): a Name is self-delimiting, so the two can be
/// hashed end to end.
pub fn issuer_serial_key(issuer_name: &[u8], serial_content: &[u8]) -> Sha256 {
    let mut h = sha2::Sha256::new();
    h.update(issuer_name);
    h.update(serial_content);
    Sha256(h.finalize().into())
}

/// How long [`Cert::to_pem`] of a DER of `der_len` bytes is: its header,
/// the base64 in lines of 64 each ending in `\n`, and its footer.
pub fn pem_len(der_len: usize) -> usize {
    let b64 = der_len.div_ceil(3) * 4;
    "-----BEGIN CERTIFICATE-----\n".len()
        + b64
        + b64.div_ceil(64)
        + "-----END CERTIFICATE-----\n".len()
}

pub fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// A SHA-256: a certificate's fingerprint (of its DER), a key's, a file's.
/// Written as lowercase hex; read as people paste it: any case, with or
/// without colons.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(sha2::Sha256::digest(bytes).into())
    }

    /// The first 16 hex digits: enough to tell certificates apart on a
    /// line meant for people.
    pub fn short(&self) -> String {
        hex(&self.0[..8])
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// Text that is not a SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a SHA-256 fingerprint (64 hex digits, colons optional)")]
pub struct NotASha256(pub String);

impl FromStr for Sha256 {
    type Err = NotASha256;
    fn from_str(s: &str) -> Result<Sha256, NotASha256> {
        let digits: Vec<u8> = s.bytes().filter(|b| *b != b':').collect();
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(&digits)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .map(Sha256)
            .ok_or_else(|| NotASha256(s.to_string()))
    }
}

crate::serde_as_text!(Sha256);

/// A name whose values x509-parser will not take as text (Latin-1 in a
/// PrintableString, which OpenSSL reads): `short=value` pairs, each value's
/// bytes as Latin-1.
fn latin1_name(n: &x509_parser::x509::X509Name) -> String {
    let registry = x509_parser::objects::oid_registry();
    let mut parts = Vec::new();
    for rdn in n.iter() {
        for attr in rdn.iter() {
            let key = x509_parser::objects::oid2sn(attr.attr_type(), registry)
                .map(str::to_string)
                .unwrap_or_else(|_| attr.attr_type().to_id_string());
            let value: String = match attr.as_str() {
                Ok(s) => s.to_string(),
                Err(_) => attr
                    .attr_value()
                    .data
                    .iter()
                    .map(|b| char::from(*b))
                    .collect(),
            };
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join(", ")
}

/// A path as [`printable`] text.
pub fn shown(path: &std::path::Path) -> String {
    printable(&path.to_string_lossy())
}

/// A count for people: "1 certificate", "2 certificates".
pub fn count(n: usize, word: &str) -> String {
    match n {
        1 => format!("1 {word}"),
        n => format!("{n} {word}s"),
    }
}

/// Names, labels and paths end up in `#` comment lines of the bundle and on
/// terminals: none of them may start a new line or send escapes there.
pub fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_any_form() {
        let parse = |s: &str| s.parse::<Sha256>().ok();
        let hex64 = "AB".repeat(32);
        let colons = vec!["ab"; 32].join(":");
        assert_eq!(parse(&hex64), Some(Sha256([0xab; 32])));
        assert_eq!(parse(&colons), Some(Sha256([0xab; 32])));
        assert_eq!(parse("abcd"), None);
        assert_eq!(parse(&"ab".repeat(33)), None);
        assert_eq!(parse(&"zz".repeat(32)), None);
        assert_eq!(parse(""), None);
        assert_eq!(Sha256([0xab; 32]).to_string(), "ab".repeat(32));
        assert_eq!(Sha256([0xab; 32]).short(), "ab".repeat(8));
        let json = serde_json::to_string(&Sha256([0xab; 32])).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(
            serde_json::from_str::<Sha256>(&format!("\"{hex64}\"")).unwrap(),
            Sha256([0xab; 32])
        );
        let err = serde_json::from_str::<Sha256>("\"nope\"").unwrap_err();
        assert!(
            err.to_string().contains("\"nope\" is not a SHA-256"),
            "{err}"
        );
    }

    #[test]
    fn control_characters_cannot_break_a_comment_line() {
        assert_eq!(printable("a\nb\x1b"), "a\\nb\\u{1b}");
    }

    /// Errors say what is wrong in words, not x509-parser's internals.
    #[test]
    fn garbage_is_an_error_in_words_not_a_panic() {
        let der = crate::decode::decode(crate::sources::mozilla::PEM).items[0]
            .cert
            .der
            .clone();
        let mut wrong_tag = der.clone();
        wrong_tag[0] = 0x31;
        let mut trailing = der.clone();
        trailing.push(0);
        for (bytes, want) in [
            (&b""[..], "ends before the certificate does"),
            (
                &[0x30, 0x82, 0xff, 0xff][..],
                "ends before the certificate does",
            ),
            (&der[..der.len() / 2], "ends before the certificate does"),
            (&wrong_tag, "its DER encoding is malformed"),
            (&b"\x02\x01\x00"[..], "its DER encoding is malformed"),
            (&trailing, "1 bytes of trailing data"),
        ] {
            let e = Cert::from_der(bytes).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
            for internal in ["Der(", "Tag", "{", "nom", "BER"] {
                assert!(!e.contains(internal), "{e}");
            }
        }
    }

    /// 64-column lines, the last one short or full but never empty, for
    /// every length mod 48 (a 64-character line holds 48 bytes).
    #[test]
    fn pem_lines_are_64_columns() {
        let der = crate::decode::decode(crate::sources::mozilla::PEM).items[0]
            .cert
            .der
            .clone();
        for cut in 0..48 {
            let cert = Cert(Arc::new(Parsed {
                der: der[..der.len() - cut].to_vec(),
                sha256: Sha256::default(),
                subject: String::new(),
                issuer: String::new(),
                common_name: None,
                serial: String::new(),
                not_before: Timestamp::from_unix(0),
                not_after: Timestamp::from_unix(0),
                ca_flag: false,
                v1_root: false,
                subject_hash: 0,
                eku_allows_tls: true,
                spki: 0..0,
                issuer_name: 0..0,
                serial_number: 0..0,
            }));
            let pem = cert.to_pem();
            assert_eq!(pem.len(), pem_len(cert.der.len()), "{cut}");
            let lines: Vec<&str> = pem.lines().collect();
            assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
            assert_eq!(lines[lines.len() - 1], "-----END CERTIFICATE-----");
            assert!(pem.ends_with("-----END CERTIFICATE-----\n"));
            let body = &lines[1..lines.len() - 1];
            assert!(
                body[..body.len() - 1].iter().all(|l| l.len() == 64),
                "{cut}"
            );
            assert!((1..=64).contains(&body[body.len() - 1].len()), "{cut}");
            let joined: String = body.concat();
            assert_eq!(
                data_encoding::BASE64.decode(joined.as_bytes()).unwrap(),
                cert.der
            );
        }
    }
}
