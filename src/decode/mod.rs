//! Bytes to certificates: PEM bundles (`CERTIFICATE`, `X509 CERTIFICATE`,
//! `TRUSTED CERTIFICATE`) and single DER certificates.
//!
//! Decoding never stops at a bad item: each block that cannot be read becomes
//! an error naming its number, and the rest of the file still loads.

pub mod certdata;
pub(crate) mod p11kit;
pub mod pkcs7;
pub mod sst;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use crate::cert::{Cert, CertError, Sha256};

/// No trust store file is anywhere near this; a larger one is refused rather
/// than read, so `/dev/zero` or a runaway file cannot exhaust memory.
pub const MAX_FILE_SIZE: u64 = 10 * 1024 * 1024;

/// One certificate as a file presented it.
#[derive(Debug, Clone)]
pub struct Item {
    pub cert: Cert,
    /// Set when this certificate must not be trusted for TLS servers, with
    /// the reason. The decoder sets it as OpenSSL reads the block's trust
    /// data; a reader whose tool has other rules (p11-kit) sets its own.
    pub distrust: Option<String>,
    /// What the block itself said about trust.
    pub trust_data: TrustData,
}

impl Item {
    /// A certificate that says nothing about its own trust.
    pub fn plain(cert: Cert) -> Item {
        Item {
            cert,
            distrust: None,
            trust_data: TrustData::None,
        }
    }
}

/// The trust data a block carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustData {
    /// A plain certificate: a `CERTIFICATE` block or DER.
    None,
    /// A `TRUSTED CERTIFICATE` block's OpenSSL aux data.
    Aux(Box<Aux>),
    /// A `TRUSTED CERTIFICATE` whose aux data cannot be read. OpenSSL
    /// refuses such a block; it may have meant a distrust, so every reader
    /// treats the certificate as distrusted.
    Unreadable,
}

#[derive(Debug, Default)]
pub struct Decoded {
    pub items: Vec<Item>,
    /// SHA-256 of each `PUBLIC KEY` block's SubjectPublicKeyInfo, when
    /// asked for ([`decode_keys`]); otherwise such blocks are errors.
    pub public_keys: Vec<Sha256>,
    /// Each item that could not be read ("PEM block 3: ...").
    pub errors: Vec<DecodeError>,
    /// The file was one DER certificate, not PEM.
    pub der: bool,
}

/// Why a whole file could not be read. (Which file is for the caller to
/// say.)
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("not a regular file")]
    NotAFile,
    #[error("larger than {} MiB", .0 >> 20)]
    TooLarge(u64),
    #[error("not read (a decoder thread failed)")]
    NotRead,
}

/// Why one item of a file (a PEM block, or the file as one DER
/// certificate) could not be read. The rest of the file still loads.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("empty: no certificate in it")]
    Empty,
    #[error("neither PEM nor a DER certificate: {0}")]
    NotPemOrDer(CertError),
    #[error("PEM block {number} ({label}): {problem}")]
    Block {
        number: usize,
        /// As the file has it (lossily text).
        label: String,
        problem: BlockError,
    },
    #[error("END {0} line without a BEGIN")]
    EndWithoutBegin(String),
}

impl DecodeError {
    /// The PEM label of the block at fault, if it is one.
    pub fn label(&self) -> Option<&str> {
        match self {
            DecodeError::Block { label, .. } => Some(label),
            _ => None,
        }
    }
}

/// What is wrong with one PEM block.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    #[error("no END line before the next BEGIN")]
    NoEndBeforeBegin,
    #[error("truncated, no END line")]
    Truncated,
    #[error("ends with END {0}")]
    WrongEnd(String),
    #[error("not a certificate")]
    NotACertificate,
    #[error("bad base64")]
    BadBase64,
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("{0} bytes after the public key")]
    AfterPublicKey(usize),
    #[error("not a public key (a SubjectPublicKeyInfo that cannot be read)")]
    NotAPublicKey,
    /// OpenSSL refuses such a block; it may have meant a distrust.
    #[error(
        "its trust data cannot be read, as OpenSSL cannot ({problem}); {name} is treated as \
         distrusted"
    )]
    UnreadableTrust { name: String, problem: AuxError },
}

/// Read a whole file, refusing anything that is not a regular file or is
/// larger than [`MAX_FILE_SIZE`].
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, ReadError> {
    read_bounded_max(path, MAX_FILE_SIZE)
}

/// [`read_bounded`] with another cap, for cabundle's own larger files.
pub fn read_bounded_max(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    // O_NONBLOCK so that opening a FIFO cannot hang; it does not affect reads
    // of regular files, the only kind we go on to read.
    let file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    read_open(file, max)
}

/// [`read_bounded`] of a file already open (with O_NONBLOCK).
pub fn read_open(file: File, max: u64) -> Result<Vec<u8>, ReadError> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile);
    }
    if meta.len() > max {
        return Err(ReadError::TooLarge(max));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(bytes)
}

/// Certificates already parsed, by SHA-256 of their DER. Most of what an
/// OS store holds is also in Mozilla's set, and the two are decoded at once:
/// whichever reaches a certificate first parses it, the other reuses it.
#[derive(Debug, Default)]
pub struct Memo(Mutex<HashMap<Sha256, Cert>>);

impl Memo {
    pub(crate) fn cert(&self, der: &[u8]) -> Result<Cert, CertError> {
        let sha = Sha256::of(der);
        let known = |m: &Self| m.0.lock().ok().and_then(|map| map.get(&sha).cloned());
        if let Some(cert) = known(self) {
            return Ok(cert);
        }
        let cert = Cert::from_der_hashed(der, Some(sha))?;
        if let Ok(mut map) = self.0.lock() {
            map.insert(sha, cert.clone());
        }
        Ok(cert)
    }
}

/// Read and decode one file. `Err` means the file as a whole could not be
/// read; per-item problems are in `Decoded::errors`.
pub fn decode_file(path: &Path) -> Result<Decoded, ReadError> {
    decode_file_with(path, &Memo::default())
}

/// [`decode_file`], sharing parsed certificates through `memo`.
pub fn decode_file_with(path: &Path, memo: &Memo) -> Result<Decoded, ReadError> {
    read_bounded(path).map(|bytes| decode_with(&bytes, memo))
}

/// Decode PEM (any number of blocks, text between them) or one DER
/// certificate.
pub fn decode(bytes: &[u8]) -> Decoded {
    decode_with(bytes, &Memo::default())
}

/// [`decode`], sharing parsed certificates through `memo`.
pub fn decode_with(bytes: &[u8], memo: &Memo) -> Decoded {
    decode_as(bytes, memo, false)
}

/// [`decode`], also taking `PUBLIC KEY` blocks: for files that name what
/// to distrust, where a key stands for every certificate that has it.
pub fn decode_keys(bytes: &[u8]) -> Decoded {
    decode_as(bytes, &Memo::default(), true)
}

fn decode_as(bytes: &[u8], memo: &Memo, keys: bool) -> Decoded {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if memchr::memmem::find(bytes, b"-----BEGIN ").is_some() {
        return decode_pem(bytes, memo, keys);
    }
    let mut out = Decoded::default();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        out.errors.push(DecodeError::Empty);
        return out;
    }
    out.der = true;
    match memo.cert(bytes) {
        Ok(cert) => out.items.push(Item::plain(cert)),
        Err(e) => out.errors.push(DecodeError::NotPemOrDer(e)),
    }
    out
}

const CERT_LABELS: [&[u8]; 3] = [b"CERTIFICATE", b"X509 CERTIFICATE", b"TRUSTED CERTIFICATE"];

fn decode_pem(bytes: &[u8], memo: &Memo, keys: bool) -> Decoded {
    let mut out = Decoded::default();
    // (block number, label) of the block being read; its base64 collects in
    // `body`, without line ends, one buffer reused for every block.
    let mut open: Option<(usize, Label)> = None;
    let mut body: Vec<u8> = Vec::new();
    let mut blocks = 0;
    let block = |number: usize, label: Label, problem: BlockError| DecodeError::Block {
        number,
        label: label.to_string(),
        problem,
    };
    for line in memchr::memchr_iter(b'\n', bytes)
        .chain(std::iter::once(bytes.len()))
        .scan(0, |start, end| {
            let line = &bytes[*start..end];
            *start = end + 1;
            Some(line)
        })
    {
        let line = line.trim_ascii();
        if let Some(label) = marker(line, b"-----BEGIN ") {
            if let Some((n, label)) = open.take() {
                out.errors
                    .push(block(n, label, BlockError::NoEndBeforeBegin));
            }
            blocks += 1;
            open = Some((blocks, label));
            body.clear();
        } else if let Some(end) = marker(line, b"-----END ") {
            match open.take() {
                Some((n, label)) if label == end && keys && label.0 == b"PUBLIC KEY" => {
                    match public_key(&mut body) {
                        Ok(sha) => out.public_keys.push(sha),
                        Err(e) => out.errors.push(block(n, label, e)),
                    }
                }
                Some((n, label)) if label == end => match decode_block(label, &mut body, memo) {
                    Ok((item, unreadable)) => {
                        if let Some(problem) = unreadable {
                            out.errors.push(block(
                                n,
                                label,
                                BlockError::UnreadableTrust {
                                    name: item.cert.name().to_string(),
                                    problem,
                                },
                            ));
                        }
                        out.items.push(item)
                    }
                    Err(e) => out.errors.push(block(n, label, e)),
                },
                Some((n, label)) => {
                    out.errors
                        .push(block(n, label, BlockError::WrongEnd(end.to_string())))
                }
                None => out
                    .errors
                    .push(DecodeError::EndWithoutBegin(end.to_string())),
            }
        } else if open.is_some() {
            body.extend_from_slice(line);
            if body.len() as u64 > MAX_FILE_SIZE {
                return out;
            }
        }
    }
    if let Some((n, label)) = open {
        out.errors.push(block(n, label, BlockError::Truncated));
    }
    out
}

/// The label of a `-----BEGIN LABEL-----` or `-----END LABEL-----` line.
fn marker<'a>(line: &'a [u8], prefix: &[u8]) -> Option<Label<'a>> {
    Some(Label(line.strip_prefix(prefix)?.strip_suffix(b"-----")?))
}

/// A PEM label as the file has it; made text only for messages.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Label<'a>(&'a [u8]);

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.0))
    }
}

/// `body` is the block's base64, its lines joined. With the item, why its
/// trust data cannot be read, when it cannot (the item is then distrusted).
fn decode_block(
    label: Label,
    body: &mut Vec<u8>,
    memo: &Memo,
) -> Result<(Item, Option<AuxError>), BlockError> {
    if !CERT_LABELS.contains(&label.0) {
        return Err(BlockError::NotACertificate);
    }
    let der = base64(body).ok_or(BlockError::BadBase64)?;
    if label.0 != b"TRUSTED CERTIFICATE" {
        return Ok((Item::plain(memo.cert(&der)?), None));
    }
    let (cert, aux) = Cert::parse_prefix(&der)?;
    Ok(match Aux::parse(aux) {
        Ok(aux) => (
            Item {
                cert,
                distrust: aux.openssl_distrust().map(String::from),
                trust_data: TrustData::Aux(Box::new(aux)),
            },
            None,
        ),
        Err(e) => (
            Item {
                cert,
                distrust: Some(format!("its OpenSSL trust data cannot be read ({e})")),
                trust_data: TrustData::Unreadable,
            },
            Some(e),
        ),
    })
}

/// A `PUBLIC KEY` block: the SHA-256 of its SubjectPublicKeyInfo.
fn public_key(body: &mut Vec<u8>) -> Result<Sha256, BlockError> {
    use x509_parser::prelude::FromDer;
    let der = base64(body).ok_or(BlockError::BadBase64)?;
    match x509_parser::x509::SubjectPublicKeyInfo::from_der(&der) {
        Ok(([], _)) => Ok(Sha256::of(&der)),
        Ok((rest, _)) => Err(BlockError::AfterPublicKey(rest.len())),
        Err(_) => Err(BlockError::NotAPublicKey),
    }
}

/// Standard base64 with the leniency PEM readers have (rustls-pki-types'
/// among them, which this matches; see the tests): whitespace anywhere,
/// padding optional, unused trailing bits ignored. Certificates are public,
/// so this is data-encoding's fast decoder, not rustls-pki-types'
/// `PemObject`, whose decoder is built for private keys (constant time, a
/// copy per line) and was a fifth of a whole sync.
pub(crate) fn base64(body: &mut Vec<u8>) -> Option<Vec<u8>> {
    // Whitespace inside a line is rare: looked for only when decoding fails,
    // which it always does with whitespace left in.
    if let Some(der) = base64_compact(body) {
        return Some(der);
    }
    if !body.iter().any(|b| is_pem_space(*b)) {
        return None;
    }
    body.retain(|b| !is_pem_space(*b));
    base64_compact(body)
}

/// [`base64`] of a body with no whitespace.
fn base64_compact(body: &[u8]) -> Option<Vec<u8>> {
    static NOPAD: LazyLock<data_encoding::Encoding> = LazyLock::new(|| {
        let mut spec = data_encoding::BASE64_NOPAD.specification();
        spec.check_trailing_bits = false;
        spec.encoding().expect("a valid base64 specification")
    });
    // `=` only as padding: up to two, completing the last group of four.
    let pad = body.iter().rev().take_while(|b| **b == b'=').count();
    if pad > 0 && (pad > 2 || !body.len().is_multiple_of(4)) {
        return None;
    }
    NOPAD.decode(&body[..body.len() - pad]).ok()
}

/// What PEM readers skip inside base64: space, and `\t` to `\r`.
fn is_pem_space(b: u8) -> bool {
    b == b' ' || (b'\t'..=b'\r').contains(&b)
}

pub const OID_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
pub const OID_ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

/// OpenSSL's X509_CERT_AUX, as `openssl x509 -trustout` writes it:
///
/// ```text
/// SEQUENCE { trust SEQUENCE OF OID OPTIONAL, reject [0] SEQUENCE OF OID OPTIONAL,
///            alias UTF8String OPTIONAL, keyid OCTET STRING OPTIONAL,
///            other [1] SEQUENCE OF AlgorithmIdentifier OPTIONAL }
/// ```
///
/// Each list holds OIDs as their DER content octets. `None` is a missing
/// field, which differs from an empty list: OpenSSL rejects every purpose
/// for a certificate whose trust list is present and empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aux {
    pub trust: Option<Vec<Vec<u8>>>,
    pub reject: Option<Vec<Vec<u8>>>,
}

impl Aux {
    /// Read as OpenSSL's template reads it: each field at most once and in
    /// that order, so a repeated field (a second, empty reject list meant to
    /// cancel the first) is refused, as OpenSSL refuses it.
    pub fn parse(aux: &[u8]) -> Result<Aux, AuxError> {
        let mut out = Aux {
            trust: None,
            reject: None,
        };
        if aux.is_empty() {
            return Ok(out);
        }
        let (tag, seq, rest) = tlv(aux)?;
        if tag != 0x30 || !rest.is_empty() {
            return Err(AuxError::NotASequence);
        }
        // The template's fields, in order: each may be absent.
        const FIELDS: [(u8, &str); 5] = [
            (0x30, "trust"),
            (0xa0, "reject"),
            (0x0c, "alias"),
            (0x04, "keyid"),
            (0xa1, "other"),
        ];
        let mut next = 0;
        let mut fields = seq;
        while !fields.is_empty() {
            let (tag, value, rest) = tlv(fields)?;
            let Some(at) = FIELDS[next..].iter().position(|(t, _)| *t == tag) else {
                return Err(match FIELDS.iter().find(|(t, _)| *t == tag) {
                    Some((_, name)) => AuxError::RepeatedField(name),
                    None => AuxError::UnknownField(tag),
                });
            };
            next += at + 1;
            match tag {
                0x30 => out.trust = Some(oids(value)?),
                0xa0 => out.reject = Some(oids(value)?),
                _ => {}
            }
            fields = rest;
        }
        Ok(out)
    }

    /// OpenSSL's trust check for TLS servers (`X509_check_trust` with
    /// `X509_TRUST_SSL_SERVER`): a reject entry for serverAuth (or
    /// anyExtendedKeyUsage) rejects, and a trust list that names neither
    /// rejects too. `Some(reason)` when rejected.
    pub fn openssl_distrust(&self) -> Option<&'static str> {
        let server = |list: &Vec<Vec<u8>>| {
            list.iter()
                .any(|o| o.as_slice() == OID_SERVER_AUTH || o.as_slice() == OID_ANY_EKU)
        };
        if self.reject.as_ref().is_some_and(server) {
            return Some("its OpenSSL trust data rejects serverAuth");
        }
        if self.trust.as_ref().is_some_and(|t| !server(t)) {
            return Some("its OpenSSL trust data does not list serverAuth");
        }
        None
    }
}

fn oids(mut list: &[u8]) -> Result<Vec<Vec<u8>>, AuxError> {
    let mut out = Vec::new();
    while !list.is_empty() {
        let (tag, oid, rest) = tlv(list)?;
        if tag != 0x06 || oid.is_empty() {
            return Err(AuxError::NotAnOid);
        }
        out.push(oid.to_vec());
        list = rest;
    }
    Ok(out)
}

/// Why OpenSSL's aux data (after a TRUSTED CERTIFICATE) cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuxError {
    #[error(transparent)]
    Der(#[from] DerError),
    #[error("not a single SEQUENCE")]
    NotASequence,
    #[error("the {0} field is repeated or out of order")]
    RepeatedField(&'static str),
    #[error("an unknown field (tag {0:#04x})")]
    UnknownField(u8),
    #[error("expected an OID")]
    NotAnOid,
}

/// DER that cannot be split into tag, length and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DerError {
    #[error("truncated DER")]
    Truncated,
    #[error("multi-byte DER tag")]
    MultiByteTag,
    #[error("bad DER length")]
    BadLength,
}

/// One DER tag-length-value: (tag, value, what follows).
pub fn tlv(bytes: &[u8]) -> Result<(u8, &[u8], &[u8]), DerError> {
    let (&tag, rest) = bytes.split_first().ok_or(DerError::Truncated)?;
    if tag & 0x1f == 0x1f {
        return Err(DerError::MultiByteTag);
    }
    let (&first, mut rest) = rest.split_first().ok_or(DerError::Truncated)?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err(DerError::BadLength);
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(DerError::Truncated);
    }
    Ok((tag, &rest[..len], &rest[len..]))
}

/// An OID's content octets in dotted form ("1.2.840.113549.1.5.14"), for
/// messages; content that is no OID is shown as hex.
pub(crate) fn oid_text(content: &[u8]) -> String {
    if content.is_empty() {
        return "(empty)".into();
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in content.iter().enumerate() {
        if value > u64::MAX >> 7 {
            return hex_of(content);
        }
        value = value << 7 | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == content.len() {
            return hex_of(content);
        }
    }
    let text: Vec<String> = arcs.iter().map(u64::to_string).collect();
    text.join(".")
}

fn hex_of(bytes: &[u8]) -> String {
    format!("bytes {}", data_encoding::HEXLOWER.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The base64 of a block, as rustls-pki-types' PEM reader decodes it.
    fn rustls_base64(text: &[u8]) -> Option<Vec<u8>> {
        use rustls::pki_types::pem::PemObject;
        let pem = [
            b"-----BEGIN CERTIFICATE-----\n".as_slice(),
            text,
            b"\n-----END CERTIFICATE-----\n",
        ]
        .concat();
        rustls::pki_types::CertificateDer::from_pem_slice(&pem)
            .ok()
            .map(|d| d.to_vec())
    }

    /// The base64 of a block, as decode_pem collects and decodes it.
    fn our_base64(text: &[u8]) -> Option<Vec<u8>> {
        let mut body: Vec<u8> = text
            .split(|b| *b == b'\n')
            .flat_map(|l| l.trim_ascii().iter().copied())
            .collect();
        base64(&mut body)
    }

    /// Differential: thousands of variants of real certificates' base64
    /// (line widths, stray whitespace, padding taken off or added, trailing
    /// bits set, characters swapped, truncation) are accepted or refused as
    /// rustls-pki-types does, with the same bytes out.
    #[test]
    fn base64_reads_as_rustls_reads_it() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let ders: Vec<Vec<u8>> = decode(crate::sources::mozilla::PEM)
            .items
            .iter()
            .take(20)
            .map(|i| i.cert.der.clone())
            .collect();
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for (i, der) in ders.iter().enumerate() {
            // Lengths with each remainder mod 3, so every padding case occurs.
            let der = &der[..der.len() - i % 3];
            let b64 = data_encoding::BASE64.encode(der).into_bytes();
            for width in [64, 76, 1, 3, 1000] {
                variants.push(b64.chunks(width).collect::<Vec<_>>().join(&b"\n"[..]));
            }
            let unpadded: Vec<u8> = b64.iter().copied().filter(|b| *b != b'=').collect();
            variants.push(unpadded.clone());
            variants.push([b64.as_slice(), b"="].concat());
            variants.push([unpadded.as_slice(), b"==="].concat());
            variants.push([unpadded.as_slice(), b"=A"].concat());
            variants.push([&b64[..b64.len() / 4 * 4], b"A==="].concat());
            variants.push([&b64[..b64.len() / 4 * 4], b"===="].concat());
            for _ in 0..40 {
                let mut v = b64.clone();
                match rand(6) {
                    0 => {
                        let at = rand(v.len());
                        v.insert(at, b" \t\x0b\x0c\r"[rand(5)]);
                    }
                    1 => {
                        let cut = 1 + rand(4);
                        v.truncate(v.len() - cut);
                    }
                    2 => {
                        let at = rand(v.len());
                        v[at] = b"=-_.:*A/+"[rand(9)];
                    }
                    3 => {
                        // Set the unused low bits of the last character.
                        let last = v.iter().rposition(|b| *b != b'=').unwrap();
                        let sym =
                            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                        let at = sym.iter().position(|s| *s == v[last]).unwrap();
                        v[last] = sym[(at | (1 + rand(3))) & 63];
                    }
                    4 => {
                        let at = rand(v.len());
                        v.insert(at, b'=');
                    }
                    _ => {
                        let at = rand(v.len());
                        v.truncate(at);
                    }
                }
                variants.push(v);
            }
        }
        let mut accepted = 0;
        for v in &variants {
            let theirs = rustls_base64(v);
            assert_eq!(our_base64(v), theirs, "{}", String::from_utf8_lossy(v));
            accepted += usize::from(theirs.is_some());
        }
        // Both kinds of case were exercised.
        assert!(
            accepted > variants.len() / 4,
            "{accepted} of {}",
            variants.len()
        );
        assert!(
            accepted < variants.len() * 3 / 4,
            "{accepted} of {}",
            variants.len()
        );
    }

    fn seq(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut out = vec![tag, body.len() as u8];
        out.extend(body);
        out
    }

    fn oid(bytes: &[u8]) -> Vec<u8> {
        seq(0x06, &[bytes])
    }

    #[test]
    fn aux_trust_is_judged_like_openssl() {
        let server = oid(OID_SERVER_AUTH);
        let client = oid(&[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02]);
        let trusted = seq(0x30, &[&seq(0x30, &[&server])]);
        let rejected = seq(0x30, &[&seq(0xa0, &[&server])]);
        let client_only = seq(0x30, &[&seq(0x30, &[&client])]);
        let alias_only = seq(0x30, &[&seq(0x0c, &[b"corp"])]);
        let verdict = |aux: &[u8]| Aux::parse(aux).map(|a| a.openssl_distrust());
        assert_eq!(verdict(&[]), Ok(None));
        assert_eq!(verdict(&trusted), Ok(None));
        assert_eq!(verdict(&alias_only), Ok(None));
        assert!(verdict(&rejected).unwrap().is_some());
        assert!(verdict(&client_only).unwrap().is_some());
        // A present but empty trust list trusts nothing.
        assert!(verdict(&seq(0x30, &[&seq(0x30, &[])])).unwrap().is_some());
        assert!(verdict(&[0x30, 0x05, 0x30]).is_err());
        assert!(verdict(&[0xff; 8]).is_err());
    }

    /// OpenSSL's template takes each field once, in order: a second reject
    /// list (an empty one, to cancel the first) or a trust list after the
    /// reject list is refused, not read as "the last one wins".
    #[test]
    fn repeated_or_reordered_aux_fields_are_refused() {
        let server = oid(OID_SERVER_AUTH);
        let trust = seq(0x30, &[&server]);
        let reject = seq(0xa0, &[&server]);
        let empty_reject = seq(0xa0, &[]);
        let alias = seq(0x0c, &[b"x"]);
        for bad in [
            seq(0x30, &[&reject, &empty_reject]),
            seq(0x30, &[&trust, &trust]),
            seq(0x30, &[&reject, &trust]),
            seq(0x30, &[&alias, &reject]),
            seq(0x30, &[&alias, &alias]),
            seq(0x30, &[&seq(0x02, &[&[1]])]),
        ] {
            assert!(Aux::parse(&bad).is_err(), "{bad:02x?}");
        }
        let all = seq(
            0x30,
            &[
                &trust,
                &reject,
                &alias,
                &seq(0x04, &[&[1]]),
                &seq(0xa1, &[]),
            ],
        );
        assert_eq!(
            Aux::parse(&all).unwrap(),
            Aux {
                trust: Some(vec![OID_SERVER_AUTH.to_vec()]),
                reject: Some(vec![OID_SERVER_AUTH.to_vec()]),
            }
        );
    }

    #[test]
    fn pem_problems_are_numbered_and_do_not_stop_the_rest() {
        let text = b"# comment\n-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n\
                     -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n\
                     -----BEGIN CERTIFICATE-----\nAAAA\n";
        let out = decode(text);
        assert!(out.items.is_empty());
        assert_eq!(out.errors.len(), 3, "{:?}", out.errors);
        let text: Vec<String> = out.errors.iter().map(ToString::to_string).collect();
        assert!(text[0].starts_with("PEM block 1 (CERTIFICATE)"));
        assert!(text[1].contains("block 2 (PRIVATE KEY): not a certificate"));
        assert!(text[2].contains("block 3 (CERTIFICATE): truncated"));
        assert_eq!(out.errors[1].label(), Some("PRIVATE KEY"));
    }

    #[test]
    fn empty_and_binary_input_are_errors() {
        assert_eq!(decode(b"").errors.len(), 1);
        assert_eq!(decode(b" \n").errors.len(), 1);
        assert_eq!(decode(&[0u8, 1, 2, 3]).errors.len(), 1);
        assert_eq!(decode(b"\xEF\xBB\xBF").errors.len(), 1);
    }

    #[test]
    fn tlv_rejects_lengths_past_the_end() {
        assert!(tlv(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(tlv(&[0x30]).is_err());
        assert_eq!(
            tlv(&[0x04, 0x01, 0xaa, 0xbb]),
            Ok((0x04, &[0xaa][..], &[0xbb][..]))
        );
    }
}
