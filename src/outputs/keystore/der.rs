//! Just enough DER for PKCS#12: writing the few shapes a trust store needs,
//! and a bounds-checked reader for someone else's keystore. Reading is
//! strict DER with single-byte tags; BER's indefinite lengths and chunked
//! strings (which some old tools write) are refused as unsupported rather
//! than half-read.

use super::KeystoreError;

pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const NULL: u8 = 0x05;
pub const OID: u8 = 0x06;
pub const BMP_STRING: u8 = 0x1e;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
/// `[0] EXPLICIT`, as ContentInfo and SafeBag wrap their values.
pub const EXPLICIT_0: u8 = 0xa0;

/// One element: `tag`, its length, `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = head(tag, content.len());
    out.extend_from_slice(content);
    out
}

/// How long an element with `len` bytes of content is, whole.
pub fn tlv_len(len: usize) -> usize {
    let len_of_len = if len < 0x80 {
        1
    } else {
        1 + (usize::BITS - len.leading_zeros()).div_ceil(8) as usize
    };
    1 + len_of_len + len
}

/// An element's tag and length, for content of `len` bytes written after
/// it (a streamed writer's nesting).
pub fn head(tag: u8, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out
}

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// A SET OF: DER orders the members by their encodings.
pub fn set(parts: &[&[u8]]) -> Vec<u8> {
    let mut sorted = parts.to_vec();
    sorted.sort();
    tlv(SET, &sorted.concat())
}

pub fn oid(encoded: &[u8]) -> Vec<u8> {
    tlv(OID, encoded)
}

pub fn octets(content: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, content)
}

pub fn explicit0(inner: &[u8]) -> Vec<u8> {
    tlv(EXPLICIT_0, inner)
}

/// A non-negative INTEGER, in the fewest octets.
pub fn uint(n: u32) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(3);
    let mut content = bytes[skip..].to_vec();
    if content[0] & 0x80 != 0 {
        // Would read as negative.
        content.insert(0, 0);
    }
    tlv(INTEGER, &content)
}

/// A BMPString's content: UTF-16BE.
pub fn bmp(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// Elements read one after another from a slice that never goes out of
/// bounds: every length is checked against what is left.
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next element, whatever its tag.
    pub fn any(&mut self) -> Result<(u8, &'a [u8]), KeystoreError> {
        let (tag, len, header) = header(self.rest)?;
        let end = header.checked_add(len).ok_or(KeystoreError::Truncated)?;
        let content = self.rest.get(header..end).ok_or(KeystoreError::Truncated)?;
        self.rest = &self.rest[end..];
        Ok((tag, content))
    }

    /// The next element, which must have `tag`; `what` names it for people.
    pub fn expect(&mut self, tag: u8, what: &str) -> Result<&'a [u8], KeystoreError> {
        match self.peek_tag() {
            None => Err(KeystoreError::Truncated),
            Some(t) if t == tag => Ok(self.any()?.1),
            // A constructed OCTET STRING: BER's chunked form.
            Some(0x24) if tag == OCTET_STRING => Err(KeystoreError::Unsupported(
                "BER encoding (a string in chunks), not DER".into(),
            )),
            Some(_) => Err(malformed(format!("{what} is missing or out of place"))),
        }
    }

    /// The next element if it has `tag`.
    pub fn optional(&mut self, tag: u8) -> Result<Option<&'a [u8]>, KeystoreError> {
        match self.peek_tag() {
            Some(t) if t == tag => Ok(Some(self.any()?.1)),
            _ => Ok(None),
        }
    }

    /// Nothing may follow: `what` is what was just read.
    pub fn finish(&self, what: &str) -> Result<(), KeystoreError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(malformed(format!("{n} unexpected bytes follow {what}"))),
        }
    }
}

/// The tag, the content length and the header's length of the element at
/// the front of `bytes`; the content itself may be missing (a truncated
/// file is still recognised by its first bytes).
pub fn header(bytes: &[u8]) -> Result<(u8, usize, usize), KeystoreError> {
    let (&tag, rest) = bytes.split_first().ok_or(KeystoreError::Truncated)?;
    if tag & 0x1f == 0x1f {
        return Err(malformed("an element has a multi-byte tag".into()));
    }
    let (&first, rest) = rest.split_first().ok_or(KeystoreError::Truncated)?;
    match first {
        0..=0x7f => Ok((tag, usize::from(first), 2)),
        0x80 => Err(KeystoreError::Unsupported(
            "BER encoding (indefinite lengths), not DER".into(),
        )),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let digits = rest.get(..n).ok_or(KeystoreError::Truncated)?;
            let len = digits
                .iter()
                .fold(0usize, |acc, d| acc << 8 | usize::from(*d));
            Ok((tag, len, 2 + n))
        }
        _ => Err(malformed("an element claims to be over 4 GiB".into())),
    }
}

fn malformed(what: String) -> KeystoreError {
    KeystoreError::Malformed(what)
}

pub(crate) use crate::decode::oid_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_len_is_the_encoded_length() {
        for n in [0, 1, 127, 128, 255, 256, 65_535, 65_536, 1 << 24] {
            assert_eq!(tlv_len(n), tlv(OCTET_STRING, &vec![0; n]).len(), "{n}");
        }
    }

    #[test]
    fn lengths_and_integers_encode_as_der() {
        assert_eq!(tlv(OCTET_STRING, &[7; 3]), [4, 3, 7, 7, 7]);
        assert_eq!(&tlv(OCTET_STRING, &[0; 200])[..3], [4, 0x81, 200]);
        assert_eq!(&tlv(OCTET_STRING, &[0; 300])[..4], [4, 0x82, 1, 44]);
        assert_eq!(uint(3), [2, 1, 3]);
        assert_eq!(uint(0), [2, 1, 0]);
        assert_eq!(uint(128), [2, 2, 0, 128]);
        assert_eq!(uint(10_000), [2, 2, 0x27, 0x10]);
    }

    #[test]
    fn reader_checks_every_length() {
        let mut r = Reader::new(&[4, 3, 1, 2]);
        assert!(matches!(r.any(), Err(KeystoreError::Truncated)));
        let mut r = Reader::new(&[4, 0x84, 0xff, 0xff, 0xff, 0xff]);
        assert!(matches!(r.any(), Err(KeystoreError::Truncated)));
        let mut r = Reader::new(&[4, 0x88, 1, 1, 1, 1, 1, 1, 1, 1]);
        assert!(matches!(r.any(), Err(KeystoreError::Malformed(_))));
        let mut r = Reader::new(&[0x30, 0x80, 0, 0]);
        assert!(matches!(r.any(), Err(KeystoreError::Unsupported(_))));
        let bytes = seq(&[&octets(b"ab"), &uint(3)]);
        let mut r = Reader::new(&bytes);
        let mut inner = Reader::new(r.expect(SEQUENCE, "x").unwrap());
        assert_eq!(inner.expect(OCTET_STRING, "x").unwrap(), b"ab");
        assert!(inner.expect(OCTET_STRING, "x").is_err());
        assert_eq!(inner.expect(INTEGER, "x").unwrap(), [3]);
        inner.finish("x").unwrap();
        r.finish("x").unwrap();
    }

    #[test]
    fn oids_read_as_dotted_text() {
        let pbmac1 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0e];
        assert_eq!(oid_text(&pbmac1), "1.2.840.113549.1.5.14");
        assert_eq!(oid_text(&[0x55, 0x1d, 0x25, 0x00]), "2.5.29.37.0");
        assert_eq!(oid_text(&[0x2a, 0x86]), "bytes 2a86");
        assert_eq!(oid_text(&[]), "(empty)");
        assert_eq!(oid_text(&[0xff; 12]), "bytes ffffffffffffffffffffffff");
    }
}
