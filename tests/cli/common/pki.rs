//! Certificates made at test time (rcgen), with any dates: CAs, chains
//! and TLS server certificates for 127.0.0.1.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// `now + days`, for certificates whose validity is relative to today.
pub fn days(n: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(n)
}

/// A CA: its certificate, key and the parameters it was made from (what
/// another certificate needs to name it as issuer).
pub struct Ca {
    pub pem: String,
    pub key: KeyPair,
    pub params: CertificateParams,
}

impl Ca {
    /// `params` made into a certificate with a new key, signed by `by`, or
    /// by itself.
    pub fn made(params: CertificateParams, by: Option<&Ca>) -> Ca {
        let key = KeyPair::generate().unwrap();
        let cert = match by {
            Some(by) => params.signed_by(&key, &by.issuer()),
            None => params.self_signed(&key),
        };
        let pem = cert.unwrap().pem();
        Ca { pem, key, params }
    }

    pub fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    /// A TLS server certificate for 127.0.0.1 / localhost: (cert PEM, key PEM).
    pub fn leaf(&self, not_before: OffsetDateTime, not_after: OffsetDateTime) -> (String, String) {
        leaf_from(self, LOOPBACK_SANS, vec![], not_before, not_after)
    }
}

/// A CA's parameters: basicConstraints CA:TRUE, keyCertSign and cRLSign,
/// CN `cn`, O "cabundle tests".
pub fn ca_params(
    cn: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "cabundle tests");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = not_before;
    p.not_after = not_after;
    p
}

/// A self-signed CA.
pub fn ca(cn: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Ca {
    Ca::made(ca_params(cn, not_before, not_after), None)
}

/// A CA valid from a year ago for ten years.
pub fn valid_ca(cn: &str) -> Ca {
    ca(cn, days(-365), days(3650))
}

/// A CA certificate signed by `parent`.
pub fn intermediate(parent: &Ca, cn: &str, nb: OffsetDateTime, na: OffsetDateTime) -> Ca {
    Ca::made(ca_params(cn, nb, na), Some(parent))
}

/// The names a server on this machine answers to.
pub const LOOPBACK_SANS: &[&str] = &["localhost", "127.0.0.1"];

/// A server certificate's parameters: CN localhost, these SANs.
pub fn leaf_params(sans: &[&str], nb: OffsetDateTime, na: OffsetDateTime) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(sans).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.not_before = nb;
    p.not_after = na;
    p
}

/// A server certificate from `issuer`: (cert PEM, key PEM).
pub fn leaf_from(
    issuer: &Ca,
    sans: &[&str],
    extensions: Vec<CustomExtension>,
    nb: OffsetDateTime,
    na: OffsetDateTime,
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p = leaf_params(sans, nb, na);
    p.custom_extensions = extensions;
    let cert = p.signed_by(&key, &issuer.issuer()).unwrap();
    (cert.pem(), key.serialize_pem())
}
