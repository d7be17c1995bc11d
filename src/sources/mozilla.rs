//! Mozilla's server-auth roots, compiled in so that `sync` needs no network.
//! `scripts/update-mozilla-snapshot.sh` refreshes the two files.

use serde::{Deserialize, Serialize};

use super::Gathered;
use crate::decode;

pub const LABEL: &str = "mozilla";
pub const PEM: &[u8] = include_bytes!("../../bundles/mozilla-roots.pem");
const PROVENANCE: &str = include_str!("../../bundles/mozilla-roots.toml");

/// Where the embedded snapshot came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Provenance {
    pub upstream: String,
    pub package: String,
    pub version: String,
    pub date: String,
    pub sha256: String,
    pub count: usize,
    pub license: String,
}

pub fn provenance() -> Provenance {
    // Checked by a unit test, so this cannot fail in a released binary.
    toml::from_str(PROVENANCE).expect("bundles/mozilla-roots.toml is valid")
}

/// Add the embedded roots to `out`; returns how many there were.
pub fn load(out: &mut Gathered) -> usize {
    let decoded = decode::decode(PEM);
    for reason in decoded.errors {
        out.problem("<embedded mozilla-roots.pem>".as_ref(), reason);
    }
    let n = decoded.items.len();
    out.found
        .extend(decoded.items.into_iter().map(|i| (LABEL.to_string(), i)));
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn snapshot_matches_its_provenance() {
        let p = provenance();
        assert_eq!(crate::cert::hex(&Sha256::digest(PEM)), p.sha256);
        let decoded = decode::decode(PEM);
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        assert_eq!(decoded.items.len(), p.count);
        assert!(decoded.items.iter().all(|i| i.cert.is_ca()));
        assert_eq!(p.license, "MPL-2.0");
    }
}
