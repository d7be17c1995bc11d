//! p11-kit's persist format, the `.p11-kit` files of its trust source
//! folders (and Fedora's `ca-bundle.trust.p11-kit`):
//!
//! ```text
//! [p11-kit-object-v1]
//! class: certificate
//! label: "Corp Root"
//! x-distrusted: true
//! -----BEGIN CERTIFICATE-----
//! ...
//! ```
//!
//! Read as p11-kit's lexer and `p11_persist_read` read it: a line is a
//! section header, a `name: value` field or the start of a PEM block; `#`
//! lines and blank lines are skipped. Values are p11-kit constants
//! (`certificate`), `true`/`false`, numbers, OIDs, or quoted strings with
//! `%XX` escapes. A `CERTIFICATE` block makes the object a certificate with
//! that value and a `PUBLIC KEY` block gives it a public key, each unless a
//! field already said otherwise. Anything p11-kit would stop at (an unknown
//! attribute, a bad value, another PEM type, a field before any section)
//! fails the whole file, as it does in p11-kit.

use super::base64;

/// What the file starts an object with.
const HEADER: &str = "p11-kit-object-v1";

/// Is this a persist file? p11-kit asks the same question first: the
/// header anywhere in the file.
pub fn is_persist(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, format!("[{HEADER}]").as_bytes()).is_some()
}

/// One object: the attributes cabundle reads, each as the file gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    /// The line its section header is on.
    pub line: usize,
    pub class: Option<String>,
    pub label: Option<Vec<u8>>,
    pub trusted: Option<bool>,
    /// `x-distrusted`.
    pub distrusted: Option<bool>,
    /// `value`: a certificate's DER, or an extension's.
    pub value: Option<Vec<u8>>,
    /// `public-key-info` / `x-public-key-info`: a SubjectPublicKeyInfo.
    pub public_key_info: Option<Vec<u8>>,
    /// `object-id`, dotted.
    pub object_id: Option<String>,
    /// `issuer`: a Name's DER.
    pub issuer: Option<Vec<u8>>,
    /// `serial-number`: an INTEGER's DER.
    pub serial_number: Option<Vec<u8>>,
    /// `nss-server-distrust-after`: a UTCTime or GeneralizedTime's text.
    pub server_distrust_after: Option<Vec<u8>>,
}

/// Where and why a file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {problem}")]
pub struct Error {
    pub line: usize,
    pub problem: Problem,
}

/// What p11-kit stops at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not UTF-8 text")]
    NotUtf8,
    #[error("a PEM block with no END line")]
    NoEnd,
    #[error("a PEM block before any [p11-kit-object-v1] section")]
    PemBeforeSection,
    #[error("{0}: bad base64")]
    BadBase64(String),
    #[error("unsupported PEM block {0:?}")]
    UnsupportedPem(String),
    #[error("a section header without its closing ]")]
    Unclosed,
    #[error("{0:?} is not a `name: value` field")]
    NotAField(String),
    #[error("the field {0:?} comes before any [p11-kit-object-v1] section")]
    FieldBeforeSection(String),
    #[error("{0:?} is not an attribute p11-kit knows")]
    UnknownAttribute(String),
    #[error("{0}: invalid value")]
    InvalidValue(String),
    #[error("{name}: expected {expected}")]
    Expected {
        name: String,
        expected: &'static str,
    },
}

enum Value {
    Constant(String),
    Bytes(Vec<u8>),
    Bool(bool),
    Number,
    Oid(String),
}

/// Every object of a persist file, in file order.
pub fn parse(bytes: &[u8]) -> Result<Vec<Object>, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error {
        line: 1 + memchr::memchr_iter(b'\n', &bytes[..e.valid_up_to()]).count(),
        problem: Problem::NotUtf8,
    })?;
    let mut objects: Vec<Object> = Vec::new();
    // The object being filled, or None inside a section of another kind
    // (whose fields p11-kit skips) or before the first section.
    let mut current: Option<Object> = None;
    let mut in_other_section = false;
    let mut lines = text.split_inclusive('\n').enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let line_no = i + 1;
        let fail = |problem: Problem| Error {
            line: line_no,
            problem,
        };
        let expected = |name: &str, expected| {
            fail(Problem::Expected {
                name: name.to_string(),
                expected,
            })
        };
        if let Some(label) = raw
            .strip_prefix("-----BEGIN ")
            .and_then(|r| r.trim_end().strip_suffix("-----"))
        {
            // The block runs to its END line, as p11-kit's lexer finds it.
            let mut body = Vec::new();
            let mut ended = false;
            for (_, l) in lines.by_ref() {
                if l.starts_with("-----END ") {
                    ended = true;
                    break;
                }
                body.extend(l.bytes().filter(|b| !b.is_ascii_whitespace()));
            }
            if !ended {
                return Err(fail(Problem::NoEnd));
            }
            if in_other_section {
                continue;
            }
            let Some(object) = current.as_mut() else {
                return Err(fail(Problem::PemBeforeSection));
            };
            let der =
                base64(&mut body).ok_or_else(|| fail(Problem::BadBase64(label.to_string())))?;
            match label {
                "CERTIFICATE" => {
                    object.class.get_or_insert_with(|| "certificate".into());
                    object.value.get_or_insert(der);
                }
                "PUBLIC KEY" => {
                    object.public_key_info.get_or_insert(der);
                }
                other => return Err(fail(Problem::UnsupportedPem(other.to_string()))),
            }
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or_else(|| fail(Problem::Unclosed))?;
            objects.extend(current.take());
            in_other_section = name != HEADER;
            if !in_other_section {
                current = Some(Object {
                    line: line_no,
                    ..Object::default()
                });
            }
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| fail(Problem::NotAField(line.to_string())))?;
        let (name, value) = (name.trim_end(), value.trim_start());
        if in_other_section {
            continue;
        }
        let Some(object) = current.as_mut() else {
            return Err(fail(Problem::FieldBeforeSection(name.to_string())));
        };
        if !ATTRIBUTES.contains(&name) && !name.bytes().all(|b| b.is_ascii_digit()) {
            return Err(fail(Problem::UnknownAttribute(name.to_string())));
        }
        let value =
            parse_value(value).ok_or_else(|| fail(Problem::InvalidValue(name.to_string())))?;
        let bytes = |v: Value| match v {
            Value::Bytes(b) => Ok(b),
            _ => Err(expected(name, "a quoted string")),
        };
        match name {
            "class" => match value {
                Value::Constant(c) => object.class = Some(c),
                _ => return Err(expected(name, "a class name")),
            },
            "trusted" | "x-distrusted" => {
                let Value::Bool(b) = value else {
                    return Err(expected(name, "true or false"));
                };
                match name {
                    "trusted" => object.trusted = Some(b),
                    _ => object.distrusted = Some(b),
                }
            }
            "object-id" => match value {
                Value::Oid(oid) => object.object_id = Some(oid),
                _ => return Err(expected(name, "an OID")),
            },
            "label" => object.label = Some(bytes(value)?),
            // p11-kit writes `value: ""` for a certificate known only by
            // issuer and serial: no value.
            "value" => object.value = Some(bytes(value)?).filter(|v| !v.is_empty()),
            "public-key-info" | "x-public-key-info" => object.public_key_info = Some(bytes(value)?),
            "issuer" => object.issuer = Some(bytes(value)?),
            "serial-number" => object.serial_number = Some(bytes(value)?),
            "nss-server-distrust-after" => object.server_distrust_after = Some(bytes(value)?),
            _ => {}
        }
    }
    objects.extend(current);
    Ok(objects)
}

/// A value as p11-kit's `parse_value` tries them: constant, string,
/// boolean, number, OID.
fn parse_value(v: &str) -> Option<Value> {
    if v == "true" || v == "false" {
        // Not constants in p11-kit's tables, so its boolean parser takes them.
        return Some(Value::Bool(v == "true"));
    }
    if !v.is_empty()
        && v.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Some(Value::Constant(v.to_string()));
    }
    if let Some(inner) = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        return url_decode(inner).map(Value::Bytes);
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Value::Number);
    }
    let parts: Vec<&str> = v.split('.').collect();
    let oid = parts.len() >= 3
        && !v.starts_with('0')
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    oid.then(|| Value::Oid(v.to_string()))
}

/// `%XX` escapes; every other character stands for itself.
fn url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.extend(data_encoding::HEXLOWER_PERMISSIVE.decode(&hex).ok()?);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// The attribute names p11-kit's persist reader accepts (its
/// `p11_constant_types`); any other name fails the file there.
const ATTRIBUTES: &[&str] = &[
    "class",
    "token",
    "private",
    "label",
    "application",
    "value",
    "object-id",
    "certificate-type",
    "issuer",
    "serial-number",
    "ac-issuer",
    "owner",
    "attr-types",
    "trusted",
    "certificate-category",
    "java-midp-security-domain",
    "url",
    "hash-of-subject-public-key",
    "hash-of-issuer-public-key",
    "check-value",
    "key-type",
    "subject",
    "id",
    "sensitive",
    "encrypt",
    "decrypt",
    "wrap",
    "unwrap",
    "sign",
    "sign-recover",
    "verify",
    "recover",
    "derive",
    "start-date",
    "end-date",
    "modulus",
    "modulus-bits",
    "public-exponent",
    "public-key-info",
    "x-public-key-info",
    "extractable",
    "local",
    "never-extractable",
    "always-sensitive",
    "key-gen-mechanism",
    "modifiable",
    "ecdsa-params",
    "ec-point",
    "always-authenticate",
    "wrap-with-trusted",
    "nss-url",
    "nss-email",
    "nss-mozilla-ca-policy",
    "nss-server-distrust-after",
    "nss-email-distrust-after",
    "trust-digital-signature",
    "trust-non-repudiation",
    "trust-key-encipherment",
    "trust-data-encipherment",
    "trust-key-agreement",
    "trust-key-cert-sign",
    "trust-crl-sign",
    "trust-server-auth",
    "trust-client-auth",
    "trust-code-signing",
    "trust-email-protection",
    "trust-ipsec-end-system",
    "trust-ipsec-tunnel",
    "trust-ipsec-user",
    "trust-time-stamping",
    "trust-step-up-approved",
    "cert-sha1-hash",
    "cert-md5-hash",
    "x-assertion-type",
    "x-certificate-value",
    "x-purpose",
    "x-peer",
    "x-distrusted",
    "x-critical",
];

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n";

    #[test]
    fn objects_fields_and_blocks() {
        let text = format!(
            "# comment\n[p11-kit-object-v1]\nclass: certificate\nlabel: \"Corp%0aRoot\"\n\
             x-distrusted: true\ntrusted: false\nmodifiable: false\n{PEM}\n\
             [p11-kit-object-v1]\nclass: x-certificate-extension\nobject-id: 2.5.29.37\n\
             value: \"%30%00\"\n-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n"
        );
        assert!(is_persist(text.as_bytes()));
        let objects = parse(text.as_bytes()).unwrap();
        assert_eq!(objects.len(), 2);
        let cert = &objects[0];
        assert_eq!(cert.line, 2);
        assert_eq!(cert.class.as_deref(), Some("certificate"));
        assert_eq!(cert.label.as_deref(), Some(&b"Corp\nRoot"[..]));
        assert_eq!(cert.distrusted, Some(true));
        assert_eq!(cert.trusted, Some(false));
        assert_eq!(
            cert.value.as_deref(),
            Some(&[0x30, 0x03, 0x02, 0x01, 0x01][..])
        );
        let ext = &objects[1];
        assert_eq!(ext.class.as_deref(), Some("x-certificate-extension"));
        assert_eq!(ext.object_id.as_deref(), Some("2.5.29.37"));
        assert_eq!(ext.value.as_deref(), Some(&[0x30, 0x00][..]));
        assert_eq!(ext.public_key_info.as_deref(), Some(&[0x30, 0x00][..]));
    }

    #[test]
    fn a_pem_block_gives_a_class_only_where_none_was_given() {
        let text = format!("[p11-kit-object-v1]\nclass: x-certificate-extension\n{PEM}");
        let objects = parse(text.as_bytes()).unwrap();
        assert_eq!(objects[0].class.as_deref(), Some("x-certificate-extension"));
        let text = format!("[p11-kit-object-v1]\n{PEM}");
        assert_eq!(
            parse(text.as_bytes()).unwrap()[0].class.as_deref(),
            Some("certificate")
        );
    }

    /// p11-kit writes `value: ""` for a certificate it knows only by issuer
    /// and serial: that is no value.
    #[test]
    fn an_empty_value_is_no_value() {
        let objects =
            parse(b"[p11-kit-object-v1]\nclass: certificate\nvalue: \"\"\nissuer: \"%30%00\"\n")
                .unwrap();
        assert_eq!(objects[0].value, None);
        assert_eq!(objects[0].issuer.as_deref(), Some(&[0x30, 0x00][..]));
    }

    #[test]
    fn other_sections_are_skipped() {
        let text = format!("[other]\nwhatever: 1\n{PEM}[p11-kit-object-v1]\ntrusted: true\n");
        let objects = parse(text.as_bytes()).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0].trusted, Some(true));
    }

    /// What p11-kit stops at fails the whole file, with the line.
    #[test]
    fn what_p11_kit_refuses_fails_the_file() {
        for (text, line) in [
            ("trusted: true\n", 1),
            ("[p11-kit-object-v1]\nbogus-attribute: true\n", 2),
            ("[p11-kit-object-v1]\ntrusted: maybe!\n", 2),
            ("[p11-kit-object-v1]\ntrusted: \"yes\"\n", 2),
            ("[p11-kit-object-v1]\nlabel: \"%zz\"\n", 2),
            ("[p11-kit-object-v1]\nno colon here\n", 2),
            ("[p11-kit-object-v1\n", 1),
            (
                "[p11-kit-object-v1]\n-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
                2,
            ),
            (
                "[p11-kit-object-v1]\n-----BEGIN CERTIFICATE-----\nMAA=\n",
                2,
            ),
            (
                "[p11-kit-object-v1]\n-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
                2,
            ),
        ] {
            let err = parse(text.as_bytes()).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err}");
        }
        assert!(parse(b"[p11-kit-object-v1]\n\xff\n").is_err());
    }
}
