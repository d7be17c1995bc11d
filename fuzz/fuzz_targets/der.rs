//! Any bytes as one DER certificate.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = cabundle::cert::Cert::from_der(data) {
        // What the bundle writes for it must read back as the same certificate.
        let again = cabundle::decode::decode(cert.to_pem().as_bytes());
        assert_eq!(again.items.len(), 1);
        assert_eq!(again.items[0].cert, cert);
    }
});
