//! certdata.txt written at test time, in the shape NSS ships it: a
//! certificate object and a trust object per root. The current one is the
//! embedded snapshot's roots as trusted delegators (tests/data holds only a
//! 2023 file, which now holds roots Mozilla has removed since).

use std::path::PathBuf;

use sha1::{Digest, Sha1};

/// One root's objects.
pub struct Root<'a> {
    pub pem: &'a str,
    pub label: &'a str,
    /// `CKT_NSS_TRUSTED_DELEGATOR`, `CKT_NSS_NOT_TRUSTED`, ...
    pub trust: &'a str,
    /// `CKA_NSS_SERVER_DISTRUST_AFTER` as UTCTime text (`YYMMDDhhmmssZ`).
    pub distrust_after: Option<&'a str>,
    /// Write the certificate object too (old files distrust by trust
    /// object alone).
    pub with_certificate: bool,
}

impl<'a> Root<'a> {
    /// A root trusted for servers, with its certificate object.
    pub fn delegator(pem: &'a str, label: &'a str) -> Root<'a> {
        Root {
            pem,
            label,
            trust: "CKT_NSS_TRUSTED_DELEGATOR",
            distrust_after: None,
            with_certificate: true,
        }
    }
}

/// `(tag, start of content, end)` of the DER element at `i`.
fn tlv(b: &[u8], i: usize) -> (u8, usize, usize) {
    let (tag, first) = (b[i], b[i + 1]);
    let (len, start) = if first < 0x80 {
        (first as usize, i + 2)
    } else {
        let n = (first & 0x7f) as usize;
        let len = b[i + 2..i + 2 + n]
            .iter()
            .fold(0usize, |a, x| (a << 8) | *x as usize);
        (len, i + 2 + n)
    };
    (tag, start, start + len)
}

/// The issuer Name's and the serial INTEGER's DER, as NSS stores them.
fn issuer_and_serial(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let (_, cert, _) = tlv(der, 0);
    let (_, tbs, _) = tlv(der, cert);
    let mut i = tbs;
    if der[i] == 0xa0 {
        i = tlv(der, i).2;
    }
    let serial_end = tlv(der, i).2;
    let serial = der[i..serial_end].to_vec();
    let issuer_at = tlv(der, serial_end).2;
    let issuer = der[issuer_at..tlv(der, issuer_at).2].to_vec();
    (issuer, serial)
}

fn octal(bytes: &[u8]) -> String {
    bytes
        .chunks(16)
        .map(|c| c.iter().map(|b| format!("\\{b:03o}")).collect::<String>() + "\n")
        .collect()
}

/// A whole certdata.txt of these roots.
pub fn certdata(roots: &[Root]) -> String {
    let mut out = String::from(
        "# Written by cabundle's tests\nBEGINDATA\n\
         CKA_CLASS CK_OBJECT_CLASS CKO_NSS_BUILTIN_ROOT_LIST\nCKA_TOKEN CK_BBOOL CK_TRUE\n\
         CKA_LABEL UTF8 \"Mozilla Builtin Roots\"\n",
    );
    for r in roots {
        let der = super::der(r.pem);
        let (issuer, serial) = issuer_and_serial(&der);
        let after = r.distrust_after.map_or_else(
            || "CKA_NSS_SERVER_DISTRUST_AFTER CK_BBOOL CK_FALSE\n".to_string(),
            |t| {
                format!(
                    "CKA_NSS_SERVER_DISTRUST_AFTER MULTILINE_OCTAL\n{}END\n",
                    octal(t.as_bytes())
                )
            },
        );
        if r.with_certificate {
            out += &format!(
                "\n# Certificate \"{label}\"\nCKA_CLASS CK_OBJECT_CLASS CKO_CERTIFICATE\n\
                 CKA_TOKEN CK_BBOOL CK_TRUE\nCKA_PRIVATE CK_BBOOL CK_FALSE\n\
                 CKA_MODIFIABLE CK_BBOOL CK_FALSE\nCKA_LABEL UTF8 \"{label}\"\n\
                 CKA_CERTIFICATE_TYPE CK_CERTIFICATE_TYPE CKC_X_509\n\
                 CKA_SUBJECT MULTILINE_OCTAL\n{issuer}END\nCKA_ID UTF8 \"0\"\n\
                 CKA_ISSUER MULTILINE_OCTAL\n{issuer}END\nCKA_SERIAL_NUMBER MULTILINE_OCTAL\n{serial}END\n\
                 CKA_VALUE MULTILINE_OCTAL\n{value}END\n{after}\
                 CKA_NSS_EMAIL_DISTRUST_AFTER CK_BBOOL CK_FALSE\n",
                label = r.label,
                issuer = octal(&issuer),
                serial = octal(&serial),
                value = octal(&der),
            );
        }
        out += &format!(
            "\n# Trust for \"{label}\"\nCKA_CLASS CK_OBJECT_CLASS CKO_NSS_TRUST\n\
             CKA_TOKEN CK_BBOOL CK_TRUE\nCKA_PRIVATE CK_BBOOL CK_FALSE\n\
             CKA_MODIFIABLE CK_BBOOL CK_FALSE\nCKA_LABEL UTF8 \"{label}\"\n\
             CKA_CERT_SHA1_HASH MULTILINE_OCTAL\n{sha1}END\n\
             CKA_ISSUER MULTILINE_OCTAL\n{issuer}END\nCKA_SERIAL_NUMBER MULTILINE_OCTAL\n{serial}END\n\
             CKA_TRUST_SERVER_AUTH CK_TRUST {trust}\n\
             CKA_TRUST_EMAIL_PROTECTION CK_TRUST CKT_NSS_MUST_VERIFY_TRUST\n\
             CKA_TRUST_CODE_SIGNING CK_TRUST CKT_NSS_MUST_VERIFY_TRUST\n\
             CKA_TRUST_STEP_UP_APPROVED CK_BBOOL CK_FALSE\n",
            label = r.label,
            sha1 = octal(&Sha1::digest(&der)),
            issuer = octal(&issuer),
            serial = octal(&serial),
            trust = r.trust,
        );
    }
    out
}

/// A current certdata.txt in `dir`: the embedded snapshot's roots, each a
/// trusted delegator, plus two roots made now, as real files have them: one
/// expired, and one with a distrust-after date years ahead.
pub fn current_certdata(dir: &std::path::Path) -> PathBuf {
    let mut pems = super::snapshot_roots();
    let expired = super::ca("Test Expired Root", super::days(-800), super::days(-2)).pem;
    let retiring = super::valid_ca("Test Retiring Root").pem;
    pems.push(expired);
    pems.push(retiring.clone());
    let labels: Vec<String> = (0..pems.len()).map(|i| format!("Root {i}")).collect();
    let roots: Vec<Root> = pems
        .iter()
        .zip(&labels)
        .map(|(pem, label)| Root {
            distrust_after: (*pem == retiring).then_some("350101000000Z"),
            ..Root::delegator(pem, label)
        })
        .collect();
    super::write(&dir.join("certdata.txt"), certdata(&roots))
}
