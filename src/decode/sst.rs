//! Microsoft's serialized certificate store: what `Export-Certificate -Type
//! SST` and `certmgr` write as `.sst`. Not PKCS#7, but CryptoAPI's own
//! layout, published in [MS-OSHARED] 2.3.9.1 (DocSigSerializedCertStore)
//! and 2.3.2.5 (its elements); Wine's crypt32 (serialize.c) reads and
//! writes the same:
//!
//! ```text
//! version     u32 LE   0
//! fileType    u32 LE   0x54524543 ("CERT")
//! then, for each certificate (CertStoreCertificateGroup):
//!   zero or more property elements    id u32 LE, encodingType u32 LE,
//!                                     length u32 LE, value[length]
//!   the certificate element           id 0x20, encodingType 1,
//!                                     length, the certificate's DER
//! end marker  12 bytes: id 0, then 8 zero bytes
//! ```
//!
//! A store may also hold CRLs (id 0x21) and CTLs (id 0x22); they are
//! elements like the others and skipped. Nothing is trusted about a
//! length: each is checked against what is left before it is used.

/// `version` 0 and `fileType` "CERT", as the file's first 8 bytes.
pub const HEADER: &[u8; 8] = b"\0\0\0\0CERT";

/// CERT_CERT_PROP_ID: the element that carries the certificate itself.
const CERTIFICATE: u32 = 0x20;
/// wincrypt's X509_ASN_ENCODING, in the low word (CERT_ENCODING_TYPE_MASK)
/// of a certificate element's encodingType.
const X509_ASN_ENCODING: u32 = 1;
const ELEMENT_HEADER: usize = 12;

/// Is this a serialized store (by its header)?
pub fn is_sst(bytes: &[u8]) -> bool {
    bytes.starts_with(HEADER)
}

/// What is wrong with a serialized store, and where (a byte offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SstError {
    #[error("not a serialized certificate store: no version 0 and \"CERT\" header")]
    NotSst,
    #[error("cut short at byte {at}: an element header needs {ELEMENT_HEADER} bytes, {left} left")]
    TruncatedHeader { at: usize, left: usize },
    #[error(
        "the element at byte {at} (id {id:#x}) says it is {length} bytes long, but only {left} \
         are left"
    )]
    TooLong {
        at: usize,
        id: u32,
        length: u32,
        left: usize,
    },
    #[error("ends at byte {at} without the end marker (12 bytes: id 0, then zeros)")]
    NoEndMarker { at: usize },
    #[error("the end marker at byte {at} is not id 0 followed by 8 zero bytes")]
    BadEndMarker { at: usize },
    #[error("{count} bytes after the end marker at byte {at}")]
    AfterEnd { at: usize, count: usize },
    #[error(
        "the certificate at byte {at} has encoding type {encoding:#x}, not X.509 (1); left out"
    )]
    NotX509 { at: usize, encoding: u32 },
    #[error("the certificate element at byte {at} is empty; left out")]
    EmptyCertificate { at: usize },
}

/// The certificates of a store, in order, as DER, and what was wrong.
/// After a fault in the layout (a length that does not fit, no end
/// marker) nothing further can be read: `errors` ends with it, and
/// `certificates` holds what came before.
#[derive(Debug, Default)]
pub struct Store<'a> {
    pub certificates: Vec<&'a [u8]>,
    pub errors: Vec<SstError>,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

/// Read a serialized store.
pub fn read(bytes: &[u8]) -> Store<'_> {
    let mut store = Store::default();
    if !is_sst(bytes) {
        store.errors.push(SstError::NotSst);
        return store;
    }
    let mut at = HEADER.len();
    loop {
        let left = bytes.len() - at;
        if left == 0 {
            store.errors.push(SstError::NoEndMarker { at });
            return store;
        }
        if left < ELEMENT_HEADER {
            store.errors.push(SstError::TruncatedHeader { at, left });
            return store;
        }
        let id = u32_at(bytes, at);
        let encoding = u32_at(bytes, at + 4);
        let length = u32_at(bytes, at + 8);
        if id == 0 {
            // The end marker is exactly 12 bytes: an element header would
            // read its 8 zero bytes as encodingType 0 and length 0.
            if encoding != 0 || length != 0 {
                store.errors.push(SstError::BadEndMarker { at });
                return store;
            }
            let end = at + ELEMENT_HEADER;
            if end < bytes.len() {
                store.errors.push(SstError::AfterEnd {
                    at,
                    count: bytes.len() - end,
                });
            }
            return store;
        }
        let value_at = at + ELEMENT_HEADER;
        let left = bytes.len() - value_at;
        // u32 to usize never truncates on the 32- and 64-bit targets built.
        let len = length as usize;
        if len > left {
            store.errors.push(SstError::TooLong {
                at,
                id,
                length,
                left,
            });
            return store;
        }
        let value = &bytes[value_at..value_at + len];
        if id == CERTIFICATE {
            if encoding & 0xffff != X509_ASN_ENCODING {
                store.errors.push(SstError::NotX509 { at, encoding });
            } else if value.is_empty() {
                store.errors.push(SstError::EmptyCertificate { at });
            } else {
                store.certificates.push(value);
            }
        }
        // Any other element is a property of the certificate that follows
        // (its hashes, friendly name, key provider...), or a CRL or CTL:
        // none of it says what to trust here, so each is stepped over.
        at = value_at + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(id: u32, encoding: u32, value: &[u8]) -> Vec<u8> {
        [
            &id.to_le_bytes()[..],
            &encoding.to_le_bytes(),
            &(value.len() as u32).to_le_bytes(),
            value,
        ]
        .concat()
    }

    const END: [u8; 12] = [0; 12];

    /// Two certificates, each after properties as Windows writes them
    /// (SHA-1 hash 0x03, friendly name 0x0b, key identifier 0x14), and a
    /// CRL element between them.
    fn store() -> Vec<u8> {
        [
            &HEADER[..],
            &element(0x03, 1, &[0xaa; 20]),
            &element(0x0b, 1, "R\0o\0o\0t\0\0\0".as_bytes()),
            &element(CERTIFICATE, 1, b"first"),
            &element(0x21, 1, b"a crl"),
            &element(0x14, 1, &[0xbb; 20]),
            &element(CERTIFICATE, 0x0001_0001, b"second"),
            &END,
        ]
        .concat()
    }

    #[test]
    fn certificates_are_read_past_their_properties() {
        let bytes = store();
        let s = read(&bytes);
        assert_eq!(s.certificates, [&b"first"[..], b"second"]);
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        // The header and end marker alone: an empty store.
        let empty = [&HEADER[..], &END].concat();
        let s = read(&empty);
        assert!(s.certificates.is_empty() && s.errors.is_empty());
    }

    /// Every prefix of a store, and every length field set to every
    /// troublesome value: an error, never a panic or a read past the end.
    #[test]
    fn hostile_stores_are_errors_not_panics() {
        let bytes = store();
        for cut in 0..bytes.len() {
            let s = read(&bytes[..cut]);
            assert!(!s.errors.is_empty(), "cut at {cut}");
            assert!(s.certificates.len() <= 2);
        }
        // Each element's length field: 8 + 12k + 8 for the first ones.
        let mut at = HEADER.len();
        while at + 12 <= bytes.len() && u32_at(&bytes, at) != 0 {
            let real = u32_at(&bytes, at + 8);
            for lie in [real + 1, u32::MAX, u32::MAX - 11, 0x8000_0000, 1 << 24] {
                let mut bad = bytes.clone();
                bad[at + 8..at + 12].copy_from_slice(&lie.to_le_bytes());
                let s = read(&bad);
                assert!(!s.errors.is_empty(), "length {lie} at {at}");
            }
            at += 12 + real as usize;
        }
    }

    #[test]
    fn faults_are_named_with_their_offset() {
        let s = read(b"\x30\x82\x01\x00");
        assert_eq!(s.errors, [SstError::NotSst]);
        let no_end = [&HEADER[..], &element(CERTIFICATE, 1, b"c")].concat();
        let s = read(&no_end);
        assert_eq!(s.certificates, [&b"c"[..]]);
        assert_eq!(s.errors, [SstError::NoEndMarker { at: 21 }]);
        let lying = [&HEADER[..], &element(CERTIFICATE, 1, b"c")[..11], &[9, 9]].concat();
        let s = read(&lying);
        assert!(
            matches!(
                s.errors[..],
                [SstError::TooLong {
                    at: 8,
                    id: 0x20,
                    ..
                }]
            ),
            "{:?}",
            s.errors
        );
        let bad_end = [&HEADER[..], &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]].concat();
        assert_eq!(read(&bad_end).errors, [SstError::BadEndMarker { at: 8 }]);
        let after = [&HEADER[..], &END, b"xyz"].concat();
        assert_eq!(
            read(&after).errors,
            [SstError::AfterEnd { at: 8, count: 3 }]
        );
        let other = [
            &HEADER[..],
            &element(CERTIFICATE, 2, b"c"),
            &element(CERTIFICATE, 1, b""),
            &END,
        ]
        .concat();
        let s = read(&other);
        assert!(s.certificates.is_empty());
        assert_eq!(
            s.errors,
            [
                SstError::NotX509 { at: 8, encoding: 2 },
                SstError::EmptyCertificate { at: 21 }
            ]
        );
    }
}
