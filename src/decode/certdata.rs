//! Mozilla's `certdata.txt`: NSS's source of truth, which carries the trust
//! bits that a PEM bundle loses.
//!
//! Objects are runs of attributes (`CKA_NAME TYPE VALUE`, or
//! `CKA_NAME MULTILINE_OCTAL` then octal lines up to `END`), each starting at
//! its `CKA_CLASS`. A certificate is an anchor for TLS servers only when its
//! trust object (joined by issuer and serial, and checked by hash) says
//! `CKA_TRUST_SERVER_AUTH` is `CKT_NSS_TRUSTED_DELEGATOR` (or, in the PKCS#11
//! 3.2 names, `CKT_TRUST_ANCHOR`). Anything the parser does not know is an
//! error with its line number: a changed or damaged upstream file must not
//! be half-read.

use std::collections::HashMap;

use sha1::{Digest, Sha1};

use crate::cert::{Cert, CertError, Sha256};
use crate::date::Timestamp;

/// Where and why a certdata.txt cannot be read: a changed or damaged
/// upstream file is refused whole.
#[derive(Debug, thiserror::Error)]
pub enum CertdataError {
    #[error("not UTF-8 ({0})")]
    NotUtf8(std::str::Utf8Error),
    #[error("no BEGINDATA line: not a certdata.txt")]
    NoBeginData,
    #[error("line {line}: {problem}")]
    At { line: usize, problem: Problem },
}

/// What is wrong at a line. `label` is the object's CKA_LABEL.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("expected `CKA_NAME TYPE [VALUE]`, found {0:?}")]
    NotALine(String),
    #[error("expected an attribute, found {0:?}")]
    NotAnAttribute(String),
    #[error("{0} is not closed by END (truncated file?)")]
    Unclosed(String),
    #[error("bad octal escape in {0:?}")]
    BadOctal(String),
    #[error("expected a quoted string, found {0:?}")]
    NotQuoted(String),
    #[error("truncated \\x escape")]
    TruncatedHexEscape,
    #[error("bad \\x escape")]
    BadHexEscape,
    #[error("bad escape in a string")]
    BadEscape,
    #[error("{name}: expected one {kind} value")]
    NotOneValue { name: String, kind: String },
    #[error("unknown attribute type {0:?}")]
    UnknownType(String),
    #[error("{0} before any CKA_CLASS")]
    BeforeClass(String),
    #[error("{0} given twice in one object")]
    Twice(String),
    #[error("{label} has no {attribute}")]
    Missing {
        label: String,
        attribute: &'static str,
    },
    #[error("a second trust object for {0}")]
    SecondTrust(String),
    #[error("{0} has no certificate hash")]
    NoHash(String),
    #[error("{label}: unknown CKA_NAME_HASH_ALGORITHM {algorithm:?}")]
    UnknownHash {
        label: String,
        algorithm: Option<String>,
    },
    #[error("{0}: the trust object's hash does not match its certificate")]
    HashMismatch(String),
    #[error("{label}: {attribute} is not {expected}")]
    BadValue {
        label: String,
        attribute: &'static str,
        expected: &'static str,
    },
    #[error("{label}: {source}")]
    Cert { label: String, source: CertError },
}

fn at(line: usize, problem: Problem) -> CertdataError {
    CertdataError::At { line, problem }
}

/// What a certdata.txt says for TLS servers.
#[derive(Debug, Clone, Default)]
pub struct Set {
    /// `CKT_NSS_TRUSTED_DELEGATOR`: trust anchors.
    pub anchors: Vec<Anchor>,
    /// `CKT_NSS_NOT_TRUSTED`: an explicit distrust, which wins over every
    /// other source. Old files (DigiNotar, TURKTRUST, ANSSI...) carry trust
    /// objects like this, some without the certificate itself.
    pub distrusted: Vec<NotTrusted>,
}

/// A certificate Mozilla explicitly distrusts, by every name the file gives
/// it: NSS matches a trust object by issuer and serial number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotTrusted {
    pub label: String,
    /// [`crate::cert::issuer_serial_key`].
    pub issuer_serial: Sha256,
    /// The trust object's `CKA_CERT_SHA1_HASH`, where it has one.
    pub sha1: Option<[u8; 20]>,
    /// The certificate's, where the file holds it.
    pub sha256: Option<Sha256>,
}

/// A root Mozilla trusts for TLS servers.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub cert: Cert,
    pub label: String,
    /// `CKA_NSS_SERVER_DISTRUST_AFTER`: leaves issued after this time are not
    /// trusted. The root itself stays an anchor.
    pub distrust_after: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    /// CK_BBOOL, CK_OBJECT_CLASS, CK_TRUST, ...: a symbolic constant.
    Token(String),
    Text(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Default)]
struct Object {
    line: usize,
    attrs: HashMap<String, Value>,
}

impl Object {
    fn token(&self, name: &str) -> Option<&str> {
        match self.attrs.get(name) {
            Some(Value::Token(t)) => Some(t),
            _ => None,
        }
    }

    fn bytes(&self, name: &str) -> Option<&[u8]> {
        match self.attrs.get(name) {
            Some(Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    fn label(&self) -> String {
        match self.attrs.get("CKA_LABEL") {
            Some(Value::Text(t)) => t.clone(),
            _ => format!("object at line {}", self.line),
        }
    }

    fn require_bytes(&self, name: &'static str) -> Result<&[u8], CertdataError> {
        self.bytes(name).ok_or_else(|| {
            self.fails(Problem::Missing {
                label: self.label(),
                attribute: name,
            })
        })
    }

    /// A problem with this object, at its first line.
    fn fails(&self, problem: Problem) -> CertdataError {
        at(self.line, problem)
    }

    /// [`Problem::BadValue`] of this object.
    fn bad_value(&self, attribute: &'static str, expected: &'static str) -> CertdataError {
        self.fails(Problem::BadValue {
            label: self.label(),
            attribute,
            expected,
        })
    }
}

/// Does this look like a certdata.txt (rather than PEM)?
pub fn is_certdata(bytes: &[u8]) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(bytes, needle).is_some();
    has(b"BEGINDATA") && has(b"CKA_CLASS")
}

/// The TLS server anchors and explicit distrusts of a certdata.txt, in
/// file order.
pub fn parse(bytes: &[u8]) -> Result<Set, CertdataError> {
    let text = std::str::from_utf8(bytes).map_err(CertdataError::NotUtf8)?;
    let objects = objects(text)?;
    let mut trust: HashMap<(&[u8], &[u8]), &Object> = HashMap::new();
    for o in &objects {
        if matches!(o.token("CKA_CLASS"), Some("CKO_NSS_TRUST" | "CKO_TRUST")) {
            let key = (
                o.require_bytes("CKA_ISSUER")?,
                o.require_bytes("CKA_SERIAL_NUMBER")?,
            );
            if trust.insert(key, o).is_some() {
                return Err(o.fails(Problem::SecondTrust(o.label())));
            }
        }
    }
    let mut out = Set::default();
    let mut certs: HashMap<(&[u8], &[u8]), &[u8]> = HashMap::new();
    for o in objects
        .iter()
        .filter(|o| o.token("CKA_CLASS") == Some("CKO_CERTIFICATE"))
    {
        let der = o.require_bytes("CKA_VALUE")?;
        let key = (
            o.require_bytes("CKA_ISSUER")?,
            o.require_bytes("CKA_SERIAL_NUMBER")?,
        );
        certs.insert(key, der);
        let Some(t) = trust.get(&key) else {
            continue;
        };
        check_hash(t, der)?;
        match t.token("CKA_TRUST_SERVER_AUTH") {
            Some("CKT_NSS_TRUSTED_DELEGATOR" | "CKT_TRUST_ANCHOR") => {}
            // Explicit distrust: taken from the trust objects below.
            Some(_) => continue,
            None => {
                return Err(t.fails(Problem::Missing {
                    label: t.label(),
                    attribute: "CKA_TRUST_SERVER_AUTH",
                }));
            }
        }
        let cert = Cert::from_der(der).map_err(|source| {
            o.fails(Problem::Cert {
                label: o.label(),
                source,
            })
        })?;
        let distrust_after = match distrust_after(o)? {
            Some(at) => Some(at),
            None => distrust_after(t)?,
        };
        out.anchors.push(Anchor {
            cert,
            label: o.label(),
            distrust_after,
        });
    }
    // Every NOT_TRUSTED trust object, with or without its certificate, in
    // file order.
    for t in objects
        .iter()
        .filter(|o| matches!(o.token("CKA_CLASS"), Some("CKO_NSS_TRUST" | "CKO_TRUST")))
        .filter(|t| {
            matches!(
                t.token("CKA_TRUST_SERVER_AUTH"),
                Some("CKT_NSS_NOT_TRUSTED" | "CKT_NOT_TRUSTED")
            )
        })
    {
        let (issuer, serial) = (
            t.require_bytes("CKA_ISSUER")?,
            t.require_bytes("CKA_SERIAL_NUMBER")?,
        );
        let content = match crate::decode::tlv(serial) {
            Ok((0x02, content, [])) => content,
            _ => return Err(t.bad_value("CKA_SERIAL_NUMBER", "a DER INTEGER")),
        };
        let cert = certs.get(&(issuer, serial));
        if let Some(der) = cert {
            check_hash(t, der)?;
        }
        let sha1 = match t.bytes("CKA_CERT_SHA1_HASH") {
            Some(h) => Some(
                <[u8; 20]>::try_from(h)
                    .map_err(|_| t.bad_value("CKA_CERT_SHA1_HASH", "20 bytes"))?,
            ),
            None => None,
        };
        out.distrusted.push(NotTrusted {
            label: t.label(),
            issuer_serial: crate::cert::issuer_serial_key(issuer, content),
            sha1,
            sha256: cert.map(|der| Sha256::of(der)),
        });
    }
    Ok(out)
}

/// The trust object's hash of its certificate must match the certificate
/// it was joined to.
fn check_hash(t: &Object, der: &[u8]) -> Result<(), CertdataError> {
    let (want, got): (&[u8], Vec<u8>) = if let Some(sha1) = t.bytes("CKA_CERT_SHA1_HASH") {
        (sha1, Sha1::digest(der).to_vec())
    } else if let Some(hash) = t.bytes("CKA_HASH_OF_CERTIFICATE") {
        match t.token("CKA_NAME_HASH_ALGORITHM") {
            Some("CKM_SHA256") => (hash, Sha256::of(der).0.to_vec()),
            Some("CKM_SHA_1") => (hash, Sha1::digest(der).to_vec()),
            other => {
                return Err(t.fails(Problem::UnknownHash {
                    label: t.label(),
                    algorithm: other.map(String::from),
                }));
            }
        }
    } else {
        return Err(t.fails(Problem::NoHash(t.label())));
    };
    if want == got.as_slice() {
        Ok(())
    } else {
        Err(t.fails(Problem::HashMismatch(t.label())))
    }
}

fn distrust_after(o: &Object) -> Result<Option<Timestamp>, CertdataError> {
    let bad = || o.bad_value("CKA_NSS_SERVER_DISTRUST_AFTER", "a UTCTime");
    match o.attrs.get("CKA_NSS_SERVER_DISTRUST_AFTER") {
        None | Some(Value::Token(_)) => Ok(None),
        Some(Value::Bytes(b)) => utc_time(b).map(Some).ok_or_else(bad),
        Some(Value::Text(_)) => Err(bad()),
    }
}

/// ASN.1 UTCTime text, `YYMMDDHHMMSSZ`.
pub(crate) fn utc_time(b: &[u8]) -> Option<Timestamp> {
    let s = std::str::from_utf8(b).ok()?;
    let digits = s.strip_suffix('Z')?;
    if digits.len() != 12 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n = |i: usize| digits[i..i + 2].parse::<u8>().ok();
    let yy = i32::from(n(0)?);
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    let month = time::Month::try_from(n(2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, n(4)?).ok()?;
    let t = date.with_hms(n(6)?, n(8)?, n(10)?).ok()?;
    Some(Timestamp::from_unix(t.assume_utc().unix_timestamp()))
}

fn objects(text: &str) -> Result<Vec<Object>, CertdataError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    if !lines.any(|(_, l)| l.trim() == "BEGINDATA") {
        return Err(CertdataError::NoBeginData);
    }
    let mut objects: Vec<Object> = Vec::new();
    while let Some((n, line)) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, char::is_whitespace);
        let (Some(name), Some(kind)) = (parts.next(), parts.next()) else {
            return Err(at(n, Problem::NotALine(line.to_string())));
        };
        let rest = parts.next().unwrap_or("").trim();
        if !name.starts_with("CKA_") {
            return Err(at(n, Problem::NotAnAttribute(name.to_string())));
        }
        let value = match kind {
            "MULTILINE_OCTAL" => {
                let mut bytes = Vec::new();
                loop {
                    let Some((m, l)) = lines.next() else {
                        return Err(at(n, Problem::Unclosed(name.to_string())));
                    };
                    let l = l.trim();
                    if l == "END" {
                        break;
                    }
                    octal(l, &mut bytes).map_err(|e| at(m, e))?;
                }
                Value::Bytes(bytes)
            }
            "UTF8" => Value::Text(quoted(rest).map_err(|e| at(n, e))?),
            "CK_BBOOL"
            | "CK_OBJECT_CLASS"
            | "CK_CERTIFICATE_TYPE"
            | "CK_TRUST"
            | "CK_MECHANISM_TYPE"
            | "CK_ULONG" => {
                if rest.is_empty() || rest.contains(char::is_whitespace) {
                    return Err(at(
                        n,
                        Problem::NotOneValue {
                            name: name.to_string(),
                            kind: kind.to_string(),
                        },
                    ));
                }
                Value::Token(rest.to_string())
            }
            other => return Err(at(n, Problem::UnknownType(other.to_string()))),
        };
        if name == "CKA_CLASS" {
            objects.push(Object {
                line: n,
                ..Object::default()
            });
        }
        let Some(object) = objects.last_mut() else {
            return Err(at(n, Problem::BeforeClass(name.to_string())));
        };
        if object.attrs.insert(name.to_string(), value).is_some() {
            return Err(at(n, Problem::Twice(name.to_string())));
        }
    }
    Ok(objects)
}

/// One line of `\ooo` escapes.
fn octal(line: &str, out: &mut Vec<u8>) -> Result<(), Problem> {
    let mut rest = line.as_bytes();
    while !rest.is_empty() {
        match rest {
            [
                b'\\',
                a @ b'0'..=b'3',
                b @ b'0'..=b'7',
                c @ b'0'..=b'7',
                tail @ ..,
            ] => {
                out.push((a - b'0') << 6 | (b - b'0') << 3 | (c - b'0'));
                rest = tail;
            }
            _ => return Err(Problem::BadOctal(line.to_string())),
        }
    }
    Ok(())
}

/// A `"..."` value, with NSS's `\xNN` byte escapes (UTF-8 labels), `\\`
/// and `\"`.
fn quoted(s: &str) -> Result<String, Problem> {
    let inner = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| Problem::NotQuoted(s.to_string()))?;
    let mut bytes = Vec::with_capacity(inner.len());
    let mut it = inner.bytes();
    while let Some(b) = it.next() {
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        match it.next() {
            Some(b'x') => {
                let [Some(h), Some(l)] = [it.next(), it.next()] else {
                    return Err(Problem::TruncatedHexEscape);
                };
                let v = data_encoding::HEXLOWER_PERMISSIVE
                    .decode(&[h, l])
                    .map_err(|_| Problem::BadHexEscape)?;
                bytes.extend(v);
            }
            Some(c @ (b'\\' | b'"')) => bytes.push(c),
            _ => return Err(Problem::BadEscape),
        }
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An octal dump, as certdata.txt writes values.
    fn oct(bytes: &[u8]) -> String {
        bytes
            .chunks(16)
            .map(|c| c.iter().map(|b| format!("\\{b:03o}")).collect::<String>() + "\n")
            .collect()
    }

    /// A real root from the embedded snapshot, and its issuer and serial.
    fn sample(index: usize) -> (Cert, Vec<u8>, Vec<u8>) {
        use x509_parser::prelude::{FromDer, X509Certificate};
        let decoded = crate::decode::decode(crate::sources::mozilla::PEM);
        let cert = decoded.items[index].cert.clone();
        let (_, x) = X509Certificate::from_der(&cert.der).unwrap();
        let issuer = x.issuer().as_raw().to_vec();
        // DER INTEGER of the serial, as NSS stores it.
        let raw = x.tbs_certificate.raw_serial();
        let mut serial = vec![0x02, raw.len() as u8];
        serial.extend_from_slice(raw);
        (cert, issuer, serial)
    }

    fn object(
        index: usize,
        label: &str,
        trust: &str,
        extra_cert: &str,
        extra_trust: &str,
    ) -> String {
        let (cert, issuer, serial) = sample(index);
        format!(
            "CKA_CLASS CK_OBJECT_CLASS CKO_CERTIFICATE\nCKA_TOKEN CK_BBOOL CK_TRUE\n\
             CKA_LABEL UTF8 \"{label}\"\nCKA_CERTIFICATE_TYPE CK_CERTIFICATE_TYPE CKC_X_509\n\
             CKA_ISSUER MULTILINE_OCTAL\n{}END\nCKA_SERIAL_NUMBER MULTILINE_OCTAL\n{}END\n\
             CKA_VALUE MULTILINE_OCTAL\n{}END\n{extra_cert}\n\
             # Trust for \"{label}\"\nCKA_CLASS CK_OBJECT_CLASS CKO_NSS_TRUST\n\
             CKA_LABEL UTF8 \"{label}\"\nCKA_CERT_SHA1_HASH MULTILINE_OCTAL\n{}END\n\
             CKA_ISSUER MULTILINE_OCTAL\n{}END\nCKA_SERIAL_NUMBER MULTILINE_OCTAL\n{}END\n\
             CKA_TRUST_SERVER_AUTH CK_TRUST {trust}\nCKA_TRUST_STEP_UP_APPROVED CK_BBOOL CK_FALSE\n{extra_trust}\n",
            oct(&issuer),
            oct(&serial),
            oct(&cert.der),
            oct(&Sha1::digest(&cert.der)),
            oct(&issuer),
            oct(&serial),
        )
    }

    fn file(objects: &[String]) -> String {
        format!(
            "# header\nCVS_ID \"x\"\nBEGINDATA\nCKA_CLASS CK_OBJECT_CLASS CKO_NSS_BUILTIN_ROOT_LIST\n\n{}",
            objects.concat()
        )
    }

    #[test]
    fn only_trusted_delegators_are_anchors() {
        let text = file(&[
            object(0, "In", "CKT_NSS_TRUSTED_DELEGATOR", "", ""),
            object(1, "Verify", "CKT_NSS_MUST_VERIFY_TRUST", "", ""),
            object(2, "Out", "CKT_NSS_NOT_TRUSTED", "", ""),
            object(3, "New Name", "CKT_TRUST_ANCHOR", "", ""),
        ]);
        let set = parse(text.as_bytes()).unwrap();
        let labels: Vec<&str> = set.anchors.iter().map(|a| a.label.as_str()).collect();
        assert_eq!(labels, ["In", "New Name"]);
        assert_eq!(set.anchors[0].cert, sample(0).0);
        // NOT_TRUSTED is an explicit distrust, by every name; MUST_VERIFY
        // is neither anchor nor distrust.
        let (out, issuer, serial) = sample(2);
        assert_eq!(
            set.distrusted,
            [NotTrusted {
                label: "Out".into(),
                issuer_serial: crate::cert::issuer_serial_key(&issuer, &serial[2..]),
                sha1: Some(Sha1::digest(&out.der).into()),
                sha256: Some(out.sha256),
            }]
        );
        assert_eq!(out.issuer_serial(), set.distrusted[0].issuer_serial);
    }

    /// Old files distrust by trust object alone (DigiNotar's, without its
    /// certificate): still a distrust, by issuer and serial and SHA-1.
    #[test]
    fn a_not_trusted_object_without_its_certificate_still_distrusts() {
        let full = object(4, "Gone", "CKT_NSS_NOT_TRUSTED", "", "");
        let trust_only = &full[full.find("# Trust for").unwrap()..];
        let set = parse(file(&[trust_only.to_string()]).as_bytes()).unwrap();
        assert!(set.anchors.is_empty());
        let (cert, ..) = sample(4);
        assert_eq!(set.distrusted.len(), 1);
        assert_eq!(set.distrusted[0].sha256, None);
        assert_eq!(set.distrusted[0].sha1, Some(Sha1::digest(&cert.der).into()));
        assert_eq!(set.distrusted[0].issuer_serial, cert.issuer_serial());
    }

    #[test]
    fn distrust_after_decodes_to_utc_from_either_object() {
        let after = format!(
            "CKA_NSS_SERVER_DISTRUST_AFTER MULTILINE_OCTAL\n{}END\n",
            oct(b"221130000000Z")
        );
        let text = file(&[
            object(0, "Cert side", "CKT_NSS_TRUSTED_DELEGATOR", &after, ""),
            object(1, "Trust side", "CKT_NSS_TRUSTED_DELEGATOR", "", &after),
            object(
                2,
                "None",
                "CKT_NSS_TRUSTED_DELEGATOR",
                "CKA_NSS_SERVER_DISTRUST_AFTER CK_BBOOL CK_FALSE\n",
                "",
            ),
        ]);
        let anchors = parse(text.as_bytes()).unwrap().anchors;
        let nov30 = crate::date::parse_day("2022-11-30").unwrap();
        assert_eq!(anchors[0].distrust_after, Some(nov30));
        assert_eq!(anchors[1].distrust_after, Some(nov30));
        assert_eq!(anchors[2].distrust_after, None);
        assert_eq!(
            utc_time(b"491231235959Z"),
            Some(Timestamp::from_unix(2524607999))
        );
        assert_eq!(
            utc_time(b"500101000000Z"),
            Some(Timestamp::from_unix(-631152000))
        );
    }

    #[test]
    fn utf8_labels_and_escapes() {
        assert_eq!(
            quoted(r#""F\xc5\x91tan\xc3\xbas\xc3\xadtv\xc3\xa1ny""#).unwrap(),
            "Főtanúsítvány"
        );
        assert_eq!(quoted("\"Főtanúsítvány\"").unwrap(), "Főtanúsítvány");
        assert!(quoted("no quotes").is_err());
        assert!(quoted(r#""\x4""#).is_err());
        assert!(quoted(r#""\xzz""#).is_err());
        assert_eq!(quoted(r#""\x41\x6A\\\"""#).unwrap(), "Aj\\\"");
    }

    #[test]
    fn damage_is_an_error_with_a_line_number() {
        let good = file(&[object(0, "In", "CKT_NSS_TRUSTED_DELEGATOR", "", "")]);
        // Truncated in the middle of an octal value.
        let value = good.find("CKA_VALUE").unwrap();
        let cut = &good[..value + 40 + good[value + 40..].find('\n').unwrap() + 1];
        let fails = |text: &str| parse(text.as_bytes()).unwrap_err().to_string();
        let e = fails(cut);
        assert!(
            e.starts_with("line ") && e.contains("not closed by END"),
            "{e}"
        );
        // A bad octal escape.
        let e = fails(&good.replacen("\\0", "\\9", 1));
        assert!(e.starts_with("line ") && e.contains("octal"), "{e}");
        // An unknown construct.
        let odd = good.replace("CKA_TOKEN CK_BBOOL CK_TRUE", "CKA_TOKEN CK_WHATEVER 1");
        assert!(fails(&odd).contains("unknown attribute type"));
        // A trust object whose hash is not its certificate's.
        let (other, ..) = sample(5);
        let wrong = good.replace(
            &oct(&Sha1::digest(&sample(0).0.der)),
            &oct(&Sha1::digest(&other.der)),
        );
        assert!(fails(&wrong).contains("hash does not match"));
        assert!(fails("just text").contains("BEGINDATA"));
        // A distrust-after that is not a time names the object and what
        // it should be.
        let after = format!(
            "CKA_NSS_SERVER_DISTRUST_AFTER MULTILINE_OCTAL\n{}END\n",
            oct(b"soon")
        );
        let e = fails(&file(&[object(
            0,
            "Late",
            "CKT_NSS_TRUSTED_DELEGATOR",
            &after,
            "",
        )]));
        assert!(
            e.starts_with("line ")
                && e.contains("Late: CKA_NSS_SERVER_DISTRUST_AFTER is not a UTCTime"),
            "{e}"
        );
    }
}
