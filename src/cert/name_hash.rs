//! OpenSSL's name hash (`X509_NAME_hash_ex`): what the hashed folder
//! names files by, and a test of whether OpenSSL can read a certificate's
//! names at all, so the decoder computes it for every certificate.

use sha1::{Digest, Sha1};

/// OpenSSL's subject hash (`X509_NAME_hash_ex`, what `openssl x509
/// -subject_hash` prints as `%08x`): the first 4 bytes, little-endian, of
/// the SHA-1 of the subject's canonical encoding.
///
/// `Err` when OpenSSL itself cannot read the subject (a value type its
/// name decoder refuses, text that is not what its type says): no OpenSSL
/// client can load such a certificate, from a folder or from a bundle.
#[cfg(test)]
pub(crate) fn subject_hash(cert: &super::Cert) -> Result<u32, String> {
    name_hash(subject_of(&cert.der)?)
}

/// The subject Name, as the bytes of its whole DER element, found without
/// x509-parser: the tests' own way to it.
#[cfg(test)]
pub(crate) fn subject_of(der: &[u8]) -> Result<&[u8], String> {
    let (cert, _) = Tlv::read_tagged(der, SEQUENCE, "certificate")?;
    let (tbs, _) = Tlv::read_tagged(cert.content, SEQUENCE, "tbsCertificate")?;
    let mut rest = tbs.content;
    // version [0] EXPLICIT, absent in a v1 certificate.
    if rest.first() == Some(&0xa0) {
        rest = Tlv::read(rest)?.1;
    }
    // serialNumber, signature, issuer, validity.
    for _ in 0..4 {
        rest = Tlv::read(rest)?.1;
    }
    Ok(Tlv::read_tagged(rest, SEQUENCE, "subject")?.0.raw)
}

pub(crate) fn name_hash(name: &[u8]) -> Result<u32, String> {
    let digest = Sha1::digest(canonical_name(name)?);
    Ok(u32::from_le_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;

/// OpenSSL's canonical encoding of a Name (`x509_name_canon` in
/// crypto/x509/x_name.c): each RDN as a DER `SET OF` its canonical
/// AttributeTypeAndValues, concatenated with no outer SEQUENCE. Empty RDNs
/// vanish, as they do in OpenSSL's flattened entry list, and a name with
/// no entries encodes as nothing.
pub(crate) fn canonical_name(name: &[u8]) -> Result<Vec<u8>, String> {
    let (seq, rest) = Tlv::read_tagged(name, SEQUENCE, "Name")?;
    if !rest.is_empty() {
        return Err("trailing bytes after the Name".into());
    }
    let mut out = Vec::with_capacity(name.len());
    let mut rdns = seq.content;
    while !rdns.is_empty() {
        let (set, rest) = Tlv::read_tagged(rdns, SET, "RDN")?;
        rdns = rest;
        let mut avas = Vec::new();
        let mut items = set.content;
        while !items.is_empty() {
            let (ava, rest) = Tlv::read_tagged(items, SEQUENCE, "AttributeTypeAndValue")?;
            items = rest;
            avas.push(canonical_ava(ava.content)?);
        }
        if avas.is_empty() {
            continue;
        }
        // DER's SET OF order, which OpenSSL's encoder applies: by encoding,
        // bytewise, a prefix before what it prefixes (slice order).
        avas.sort_unstable();
        put_tlv(&mut out, SET, &avas.concat());
    }
    Ok(out)
}

fn canonical_ava(content: &[u8]) -> Result<Vec<u8>, String> {
    let (oid, rest) = Tlv::read_tagged(content, OID, "attribute type")?;
    // c2i_ASN1_OBJECT's checks: an OID OpenSSL refuses fails the name.
    let o = oid.content;
    if o.is_empty()
        || o[o.len() - 1] & 0x80 != 0
        || o.iter()
            .enumerate()
            .any(|(i, &b)| b == 0x80 && (i == 0 || o[i - 1] & 0x80 == 0))
    {
        return Err("a badly encoded attribute type".into());
    }
    let (value, rest) = Tlv::read(rest)?;
    if !rest.is_empty() {
        return Err("an AttributeTypeAndValue with more than two parts".into());
    }
    let mut body = Vec::with_capacity(content.len() + 8);
    put_tlv(&mut body, OID, o);
    canonical_value(&value, &mut body)?;
    let mut out = Vec::with_capacity(body.len() + 4);
    put_tlv(&mut out, SEQUENCE, &body);
    Ok(out)
}

/// One attribute value, canonical, appended to `out`.
///
/// OpenSSL decodes a value as `ASN1_PRINTABLE`: universal class, and only
/// the types in `B_ASN1_PRINTABLE` (VisibleString, OCTET STRING,
/// GeneralString and VideotexString, among others, are refused, so the
/// certificate does not load at all). The text types among them become
/// UTF8String, trimmed, whitespace runs collapsed and ASCII lowercased
/// (`asn1_string_canon`); the rest are re-encoded as OpenSSL holds them.
fn canonical_value(value: &Tlv, out: &mut Vec<u8>) -> Result<(), String> {
    if value.tag & 0xc0 != 0 {
        return Err("a name value that is not of a universal type".into());
    }
    let constructed = value.tag & 0x20 != 0;
    let number = value.tag & 0x1f;
    match number {
        // SEQUENCE: kept as it came, header and all.
        16 if constructed => {
            out.extend_from_slice(value.raw);
            return Ok(());
        }
        // NumericString, BIT STRING, UTF8String, PrintableString,
        // T61String, IA5String, UniversalString, BMPString, and the types
        // OpenSSL files as "unknown" (ObjectDescriptor, EXTERNAL, REAL,
        // EMBEDDED PDV, RELATIVE-OID, TIME, 15, CHARACTER STRING).
        3 | 7 | 8 | 9 | 11 | 12 | 13 | 14 | 15 | 18 | 19 | 20 | 22 | 28 | 29 | 30 => {}
        _ => {
            return Err(format!(
                "a name value of type {number}, which OpenSSL refuses"
            ));
        }
    }
    // A constructed (BER) string: OpenSSL joins its pieces.
    let mut joined = Vec::new();
    let bytes = if constructed {
        collect(value.content, 0, &mut joined)?;
        &joined[..]
    } else {
        value.content
    };
    match number {
        3 => {
            // c2i_ASN1_BIT_STRING keeps the unused-bit count and clears
            // those bits; with no bits at all it writes the count as 0.
            let (&unused, bits) = bytes.split_first().ok_or("an empty BIT STRING")?;
            if unused > 7 {
                return Err("a BIT STRING with more than 7 unused bits".into());
            }
            let mut content = Vec::with_capacity(bytes.len());
            content.push(if bits.is_empty() { 0 } else { unused });
            content.extend_from_slice(bits);
            if let Some(last) = content.last_mut().filter(|_| !bits.is_empty()) {
                *last &= 0xff << unused;
            }
            put_tlv(out, 0x03, &content);
        }
        12 | 19 | 20 | 22 | 28 | 30 => put_tlv(out, UTF8_STRING, &canonical_text(number, bytes)?),
        _ => put_tlv(out, number, bytes),
    }
    Ok(())
}

/// `asn1_collect`: the contents of the primitive pieces of a constructed
/// string, at most 5 levels deep, whatever their tags.
fn collect(mut content: &[u8], depth: u8, out: &mut Vec<u8>) -> Result<(), String> {
    while !content.is_empty() {
        let (piece, rest) = Tlv::read(content)?;
        content = rest;
        if piece.tag & 0x20 != 0 {
            if depth >= 5 {
                return Err("a string nested too deep".into());
            }
            collect(piece.content, depth + 1, out)?;
        } else {
            out.extend_from_slice(piece.content);
        }
    }
    Ok(())
}

/// The value as UTF-8 (`ASN1_STRING_to_UTF8`: one-byte types are read as
/// Latin-1, BMPString as UCS-2, UniversalString as UCS-4), then
/// `asn1_string_canon`'s folding.
fn canonical_text(number: u8, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let utf8: Vec<u8> = match number {
        12 => {
            std::str::from_utf8(bytes).map_err(|_| "a UTF8String that is not UTF-8")?;
            bytes.to_vec()
        }
        30 => {
            if !bytes.len().is_multiple_of(2) {
                return Err("a BMPString of odd length".into());
            }
            let chars = bytes.chunks_exact(2).map(|c| {
                char::from_u32(u16::from_be_bytes([c[0], c[1]]).into())
                    .ok_or("a BMPString holding a surrogate")
            });
            chars.collect::<Result<String, _>>()?.into_bytes()
        }
        28 => {
            if !bytes.len().is_multiple_of(4) {
                return Err("a UniversalString whose length is not a multiple of 4".into());
            }
            let chars = bytes.chunks_exact(4).map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .ok_or("a UniversalString holding a non-character")
            });
            chars.collect::<Result<String, _>>()?.into_bytes()
        }
        _ => bytes
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into_bytes(),
    };
    // ossl_isspace: space, \t, \n, \v, \f, \r; never a byte above 0x7f.
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = utf8.iter().position(|b| !space(b)).unwrap_or(utf8.len());
    let end = utf8
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(end - start);
    let mut in_space = false;
    for &b in &utf8[start..end] {
        if space(&b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b.to_ascii_lowercase());
            in_space = false;
        }
    }
    Ok(out)
}

/// One DER element: its first identifier byte, its contents, and the whole
/// element as it was read.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// One element from the front of `input`, and what follows it. Long
    /// lengths need not be minimal (OpenSSL reads BER lengths and writes
    /// DER); indefinite lengths and multi-byte tags are refused.
    fn read(input: &'a [u8]) -> Result<(Tlv<'a>, &'a [u8]), String> {
        let truncated = || "a truncated DER element".to_string();
        let (&tag, rest) = input.split_first().ok_or_else(truncated)?;
        if tag & 0x1f == 0x1f {
            return Err("a multi-byte DER tag".into());
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(truncated)?;
        let len = match first {
            0..=0x7f => usize::from(first),
            0x80 => return Err("an indefinite DER length".into()),
            0x81..=0x84 => {
                let n = usize::from(first & 0x7f);
                if rest.len() < n {
                    return Err(truncated());
                }
                let (bytes, after) = rest.split_at(n);
                rest = after;
                bytes
                    .iter()
                    .fold(0usize, |acc, &b| acc << 8 | usize::from(b))
            }
            _ => return Err("a DER length over 4 GiB".into()),
        };
        if rest.len() < len {
            return Err(truncated());
        }
        let header = input.len() - rest.len();
        let (content, after) = rest.split_at(len);
        let tlv = Tlv {
            tag,
            content,
            raw: &input[..header + len],
        };
        Ok((tlv, after))
    }

    fn read_tagged(input: &'a [u8], tag: u8, what: &str) -> Result<(Tlv<'a>, &'a [u8]), String> {
        let (tlv, rest) = Tlv::read(input).map_err(|e| format!("{what}: {e}"))?;
        if tlv.tag != tag {
            return Err(format!("{what}: tag {:#04x}, not {tag:#04x}", tlv.tag));
        }
        Ok((tlv, rest))
    }
}

/// Append a DER element with a minimal length.
fn put_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cert::Cert;
    use crate::test_support::{ec_key, openssl, roots};
    use std::fs;

    /// `openssl x509 -subject_hash` of a DER certificate; `None` when
    /// OpenSSL cannot load it.
    fn openssl_hash(der: &[u8]) -> Option<u32> {
        let file = tempfile::NamedTempFile::new().unwrap();
        fs::write(file.path(), der).unwrap();
        let path = file.path().to_str().unwrap();
        let out = openssl(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            path,
            "-noout",
            "-subject_hash",
        ]);
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).unwrap();
        Some(u32::from_str_radix(text.trim(), 16).expect("8 hex digits"))
    }

    /// `f` over every item, on 4 threads: most of the time is waiting for
    /// openssl processes.
    fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
        let chunk = items.len().div_ceil(4).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        })
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_tlv(&mut out, tag, content);
        out
    }

    /// The elements inside a constructed element's contents.
    fn elements(mut content: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while !content.is_empty() {
            let (t, rest) = Tlv::read(content).unwrap();
            out.push(t.raw);
            content = rest;
        }
        out
    }

    /// `template` with its subject replaced by the DER `name`. The
    /// signature no longer matches, which neither a subject hash nor a
    /// hashed folder looks at.
    pub(crate) fn with_subject(template: &[u8], name: &[u8]) -> Vec<u8> {
        let (cert, _) = Tlv::read(template).unwrap();
        let mut parts = elements(cert.content);
        let (tbs, _) = Tlv::read(parts[0]).unwrap();
        let mut fields = elements(tbs.content);
        let subject = if fields[0][0] == 0xa0 { 5 } else { 4 };
        fields[subject] = name;
        let tbs = tlv(SEQUENCE, &fields.concat());
        parts[0] = &tbs;
        tlv(SEQUENCE, &parts.concat())
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const OU: &[u8] = &[0x55, 0x04, 0x0b];
    const C: &[u8] = &[0x55, 0x04, 0x06];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    const PRIVATE: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01];

    fn ava(oid: &[u8], value: Vec<u8>) -> Vec<u8> {
        tlv(SEQUENCE, &[tlv(OID, oid), value].concat())
    }

    /// An RDN with its AVAs in the order given, sorted or not.
    fn rdn(avas: &[Vec<u8>]) -> Vec<u8> {
        tlv(SET, &avas.concat())
    }

    fn name(rdns: &[Vec<u8>]) -> Vec<u8> {
        tlv(SEQUENCE, &rdns.concat())
    }

    fn cn(value: Vec<u8>) -> Vec<u8> {
        name(&[rdn(&[ava(CN, value)])])
    }

    /// `text` as the bytes of string type `tag`: one-byte types get
    /// Latin-1 when it fits and UTF-8 (which OpenSSL reads as Latin-1)
    /// when not; BMPString UTF-16 (surrogates and all); UniversalString
    /// UCS-4.
    fn encode(tag: u8, text: &str) -> Vec<u8> {
        let bytes = match tag {
            0x0c => text.as_bytes().to_vec(),
            0x1e => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            0x1c => text
                .chars()
                .flat_map(|c| (c as u32).to_be_bytes())
                .collect(),
            _ if text.chars().all(|c| (c as u32) < 0x100) => {
                text.chars().map(|c| c as u32 as u8).collect()
            }
            _ => text.as_bytes().to_vec(),
        };
        tlv(tag, &bytes)
    }

    /// Names covering what canonicalisation does and what OpenSSL refuses.
    fn subjects() -> Vec<(String, Vec<u8>)> {
        let texts = [
            "Hello World",
            "hello world",
            "HELLO WORLD",
            "  Leading",
            "Trailing   ",
            "  both ends  ",
            "inner   runs   of  spaces",
            "tab\there",
            "\t\n\x0b\x0c\r all six kinds \r\n\t\x0b",
            "new\nline\r\ncrlf",
            "",
            " ",
            "\t\t",
            "x",
            "Ünïcödé Straße",
            "ÀÉÎÕÜ àéîõü ÿ",
            "日本語 テスト",
            "Ελληνικά ΑΒΓ",
            "Кириллица ABC",
            "emoji 😀 X",
            "nbsp\u{a0}and\u{85}nel",
            "ǅungla İstanbul",
            "NUL\0inside",
            "DEL\x7f and ~",
            "100% (Sure) +x=y, 'q' \"r\" \\s",
            "1234 5678",
        ];
        let read = [0x0c, 0x13, 0x14, 0x16, 0x1e, 0x1c];
        let kept_or_refused = [0x12, 0x1a, 0x04, 0x1b, 0x15, 0x19, 0x0e, 0x1d, 0x0d];
        let mut out = Vec::new();
        for tag in read {
            for text in texts {
                out.push((format!("type {tag:#04x} {text:?}"), cn(encode(tag, text))));
            }
        }
        for tag in kept_or_refused {
            for text in ["Hello  World", " 1234 ", "Ünï"] {
                out.push((format!("type {tag:#04x} {text:?}"), cn(encode(tag, text))));
            }
        }
        // A value of type tag with these contents, which the type may not
        // allow.
        let primitive: &[(&str, u8, &[u8])] = &[
            ("T61 high bytes", 0x14, b"Caf\xe9 \xc0\xff"),
            ("Printable high bytes", 0x13, b"CAF\xc9"),
            ("IA5 high bytes", 0x16, b"\x80\x9f\xa0"),
            ("UTF8 overlong", 0x0c, b"\xc0\xaf"),
            ("UTF8 surrogate", 0x0c, b"\xed\xa0\x80"),
            ("UTF8 above U+10FFFF", 0x0c, b"\xf4\x90\x80\x80"),
            ("UTF8 truncated", 0x0c, b"ab\xe6\x97"),
            ("UTF8 Latin-1", 0x0c, b"Caf\xe9"),
            ("BMP odd length", 0x1e, b"\x00A\x00"),
            ("BMP lone surrogate", 0x1e, b"\xd8\x00\x00A"),
            ("BMP U+FFFF", 0x1e, b"\xff\xff"),
            ("Universal length 6", 0x1c, b"\x00\x00\x00A\x00\x00"),
            ("Universal surrogate", 0x1c, b"\x00\x00\xdc\x00"),
            ("Universal above U+10FFFF", 0x1c, b"\x00\x11\x00\x00"),
            ("BIT STRING", 0x03, b"\x00\xa5"),
            ("BIT STRING unused bits set", 0x03, b"\x03\xff"),
            ("BIT STRING 7 unused", 0x03, b"\x07\xff\x81"),
            ("BIT STRING no bits", 0x03, b"\x05"),
            ("BIT STRING 8 unused", 0x03, b"\x08\xff"),
            ("BIT STRING empty", 0x03, b""),
            ("empty SEQUENCE", 0x30, b""),
            ("ObjectDescriptor", 0x07, b"Desc  X"),
            ("EXTERNAL primitive", 0x08, b"ab"),
            ("REAL", 0x09, b"\x03\x31"),
            ("EMBEDDED PDV", 0x0b, b"Q"),
            ("constructed PrintableString, empty", 0x33, b""),
            ("INTEGER", 0x02, b"\x05"),
            ("NULL", 0x05, b""),
            ("BOOLEAN", 0x01, b"\xff"),
            ("OID", 0x06, b"\x2a\x03"),
            ("ENUMERATED", 0x0a, b"\x01"),
            ("UTCTime", 0x17, b"250101000000Z"),
            ("context [0]", 0x80, b"x"),
            ("application 1", 0x41, b"x"),
            ("primitive SEQUENCE tag", 0x10, b"x"),
        ];
        for (label, tag, contents) in primitive {
            out.push((label.to_string(), cn(tlv(*tag, contents))));
        }
        // Values with values inside, long ones, and BER's lengths.
        let built: Vec<(&str, Vec<u8>)> = vec![
            ("SEQUENCE", tlv(0x30, &tlv(0x0c, b"Inner  VALUE"))),
            ("SET", tlv(0x31, &tlv(0x0c, b"x"))),
            ("EXTERNAL constructed", tlv(0x28, &tlv(0x06, b"\x2a\x03"))),
            ("private constructed", tlv(0xe0, &tlv(0x0c, b"x"))),
            (
                "constructed UTF8String",
                tlv(0x2c, &[tlv(0x0c, b"  Ab"), tlv(0x0c, b"  C ")].concat()),
            ),
            (
                "constructed BMPString split mid-character",
                tlv(0x3e, &[tlv(0x04, b"\x00A\x00"), tlv(0x04, b"b")].concat()),
            ),
            (
                "long UTF8 (long length)",
                tlv(0x0c, "Ab  ".repeat(50).as_bytes()),
            ),
            (
                "longer UTF8 (two length bytes)",
                tlv(0x0c, "Ab\t".repeat(120).as_bytes()),
            ),
            (
                "BER length on the value",
                vec![0x0c, 0x81, 0x03, b'A', b' ', b'B'],
            ),
            (
                "BER length 4 bytes",
                vec![0x13, 0x84, 0, 0, 0, 2, b'A', b'b'],
            ),
        ];
        for (label, value) in built {
            out.push((label.to_string(), cn(value)));
        }
        let utf8 = |s: &str| tlv(0x0c, s.as_bytes());
        let printable = |s: &str| tlv(0x13, s.as_bytes());
        let structured: Vec<(&str, Vec<u8>)> = vec![
            ("empty name", name(&[])),
            ("one empty RDN", name(&[rdn(&[])])),
            (
                "empty RDN between others",
                name(&[
                    rdn(&[ava(C, printable("DE"))]),
                    rdn(&[]),
                    rdn(&[ava(CN, utf8("X"))]),
                ]),
            ),
            (
                "typical",
                name(&[
                    rdn(&[ava(C, printable("US"))]),
                    rdn(&[ava(O, printable("Example, Inc."))]),
                    rdn(&[ava(OU, printable("www.example.com"))]),
                    rdn(&[ava(CN, printable("Example Root CA R1"))]),
                ]),
            ),
            (
                "multi-valued, unsorted",
                name(&[rdn(&[ava(O, utf8("Zed")), ava(CN, printable("Alpha"))])]),
            ),
            (
                "multi-valued, sorted only after folding",
                name(&[rdn(&[ava(CN, printable("B")), ava(CN, utf8("a"))])]),
            ),
            (
                "multi-valued, three, folding to equal",
                name(&[rdn(&[
                    ava(CN, utf8(" SAME ")),
                    ava(CN, tlv(0x1e, b"\x00s\x00a\x00m\x00e")),
                    ava(CN, printable("same")),
                ])]),
            ),
            (
                "multi-valued, prefix lengths",
                name(&[rdn(&[
                    ava(CN, utf8(&"a".repeat(130))),
                    ava(CN, utf8(&"a".repeat(20))),
                    ava(O, tlv(0x12, b"1")),
                ])]),
            ),
            (
                "multi-valued then single",
                name(&[
                    rdn(&[ava(OU, utf8("Two")), ava(OU, utf8("one"))]),
                    rdn(&[ava(CN, utf8("Leaf"))]),
                ]),
            ),
            (
                "emailAddress and DC (IA5)",
                name(&[
                    rdn(&[ava(DC, tlv(0x16, b"COM"))]),
                    rdn(&[ava(DC, tlv(0x16, b"Example"))]),
                    rdn(&[ava(EMAIL, tlv(0x16, b"Root@Example.COM"))]),
                ]),
            ),
            (
                "private OID",
                name(&[rdn(&[ava(PRIVATE, utf8("Private  Value"))])]),
            ),
            ("OID, empty", name(&[rdn(&[ava(&[], utf8("x"))])])),
            (
                "OID, last byte continues",
                name(&[rdn(&[ava(&[0x55, 0x84], utf8("x"))])]),
            ),
            (
                "OID, padded subidentifier",
                name(&[rdn(&[ava(&[0x55, 0x80, 0x03], utf8("x"))])]),
            ),
            (
                "OID, padded first",
                name(&[rdn(&[ava(&[0x80, 0x55], utf8("x"))])]),
            ),
            (
                "AVA with three parts",
                name(&[rdn(&[tlv(
                    SEQUENCE,
                    &[tlv(OID, CN), utf8("x"), utf8("y")].concat(),
                )])]),
            ),
            (
                "AVA with one part",
                name(&[rdn(&[tlv(SEQUENCE, &tlv(OID, CN))])]),
            ),
            (
                "RDN as SEQUENCE",
                name(&[tlv(SEQUENCE, &ava(CN, utf8("x")))]),
            ),
            (
                "BER lengths on the Name, RDN and AVA",
                [
                    &[0x30, 0x81, 0x0e, 0x31, 0x82, 0x00, 0x0a, 0x30, 0x81, 0x07][..],
                    &tlv(OID, CN),
                    &utf8("Q"),
                ]
                .concat(),
            ),
        ];
        for (label, der) in structured {
            out.push((label.to_string(), der));
        }
        out
    }

    #[test]
    fn mozilla_roots_hash_as_openssl_does() {
        let roots = roots();
        assert!(roots.len() > 100, "{}", roots.len());
        let theirs = par_map(&roots, |c| openssl_hash(&c.der));
        for (cert, theirs) in roots.iter().zip(theirs) {
            let theirs = theirs.unwrap_or_else(|| panic!("openssl cannot load {}", cert.subject));
            assert_eq!(subject_hash(cert), Ok(theirs), "{}", cert.subject);
        }
    }

    /// Each name put into a real certificate, hashed by us and by
    /// `openssl x509 -subject_hash`: the same hash, or both refuse.
    #[test]
    fn crafted_subjects_hash_as_openssl_does() {
        let template = roots()[0].der.clone();
        let cases = subjects();
        let results = par_map(&cases, |(label, name_der)| {
            let der = with_subject(&template, name_der);
            let theirs = openssl_hash(&der);
            let ours = name_hash(name_der);
            // Where x509-parser takes the certificate, `subject_hash` on it
            // must agree with the hash of the raw name.
            if let Ok(cert) = Cert::from_der(&der) {
                assert_eq!(subject_hash(&cert), ours, "{label}");
            }
            (label.clone(), ours, theirs)
        });
        let wrong: Vec<String> = results
            .iter()
            .filter(|(_, ours, theirs)| ours.as_ref().ok() != theirs.as_ref())
            .map(|(label, ours, theirs)| format!("{label}: ours {ours:x?}, openssl {theirs:x?}"))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        let hashed = results.iter().filter(|r| r.2.is_some()).count();
        assert!(cases.len() >= 240, "{}", cases.len());
        eprintln!(
            "{} names, {} hashed",
            cases.len(),
            results.iter().filter(|r| r.2.is_some()).count()
        );
        assert!(
            hashed >= 180 && hashed < cases.len(),
            "{hashed} of {}",
            cases.len()
        );
        // The empty name is SHA-1 of nothing.
        assert_eq!(name_hash(&name(&[])), Ok(0xeea339da));
    }

    /// Certificates as `openssl req` makes them, from `-subj` strings,
    /// under each string mask: PrintableString, T61String (Latin-1),
    /// BMPString, UTF8String.
    #[test]
    fn openssl_made_subjects_hash_as_openssl_does() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let key = key.to_str().unwrap();
        ec_key(key);
        let subjects = [
            "/",
            "/CN=Simple",
            "/C=DE/O=Müller & Söhne GmbH/CN=Ärger Ltd",
            "/CN=  spaced   out  ",
            "/CN=Tab\there\t/OU=\tlead",
            "/CN=MiXeD CaSe/OU=UPPER CASE",
            "/CN=日本語 ルート",
            "/CN=café/O=Ÿ€",
            "/CN=😀 Emoji",
            "/O=Zed+CN=alpha+OU=Mid",
            "/CN=B+CN=a/O=Org",
            "/DC=com/DC=Example/CN=Root",
            "/emailAddress=Root@Example.COM/CN=Mail",
            "/serialNumber=12345/CN=With Serial",
            "/street=1  Main   St/L=Springfield",
            "/CN=a\\/b \\+ c",
        ];
        let masks = [
            "utf8only",
            "default",
            "pkix",
            "nombstr",
            "MASK:0x0800",
            "MASK:0x0004",
        ];
        let jobs: Vec<(usize, &str, &str)> = masks
            .iter()
            .flat_map(|m| subjects.iter().map(move |s| (*m, *s)))
            .enumerate()
            .map(|(i, (m, s))| (i, m, s))
            .collect();
        let results = par_map(&jobs, |&(i, mask, subj)| {
            let config = dir.path().join(format!("{i}.cnf"));
            fs::write(
                &config,
                format!("[req]\ndistinguished_name = dn\nstring_mask = {mask}\nutf8 = yes\n[dn]\n"),
            )
            .unwrap();
            let cert = dir.path().join(format!("{i}.der"));
            let [config, cert] = [&config, &cert].map(|p| p.to_str().unwrap());
            let made = openssl(&[
                "req",
                "-x509",
                "-config",
                config,
                "-key",
                key,
                "-subj",
                subj,
                "-utf8",
                "-multivalue-rdn",
                "-days",
                "1",
                "-outform",
                "DER",
                "-out",
                cert,
            ]);
            if !made.status.success() {
                // Characters the mask has no type for (nombstr and T61
                // only take Latin-1).
                return None;
            }
            let der = fs::read(cert).unwrap();
            Some((mask, subj, der.clone(), openssl_hash(&der)))
        });
        let mut made = 0;
        for (mask, subj, der, theirs) in results.into_iter().flatten() {
            made += 1;
            let theirs = theirs.expect("openssl loads what it made");
            let raw = subject_of(&der).unwrap();
            assert_eq!(name_hash(raw), Ok(theirs), "{mask} {subj}");
            // x509-parser refuses a T61String that is not UTF-8.
            if let Ok(cert) = Cert::from_der(&der) {
                assert_eq!(subject_hash(&cert), Ok(theirs), "{mask} {subj}");
            }
        }
        assert!(made >= 80, "{made}");
    }
}
