//! Helpers for the unit tests of several modules: the embedded Mozilla
//! roots as certificates, and the `openssl` command as an oracle.

use std::process::Command;

use crate::cert::Cert;

/// The embedded Mozilla roots.
pub(crate) fn roots() -> Vec<Cert> {
    let decoded = crate::decode::decode(crate::sources::mozilla::PEM);
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    decoded.items.into_iter().map(|i| i.cert).collect()
}

/// References, as `hashdir::write` and `plan` take them.
pub(crate) fn refs(certs: &[Cert]) -> Vec<&Cert> {
    certs.iter().collect()
}

/// `openssl ARGS`, run.
pub(crate) fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs")
}

/// `openssl ARGS`, which must succeed.
#[track_caller]
pub(crate) fn openssl_ok(args: &[&str]) {
    let out = openssl(args);
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A new P-256 key, written to `path`.
pub(crate) fn ec_key(path: &str) {
    let words = "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out";
    let mut args: Vec<&str> = words.split(' ').collect();
    args.push(path);
    openssl_ok(&args);
}
