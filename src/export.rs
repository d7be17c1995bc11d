//! `cabundle export`: the bundle in the forms other programs read (Java
//! keystores, an OpenSSL hashed folder, Kubernetes objects), made from the
//! one merged set, so a workstation, an image and a cluster trust the same
//! roots. `sync` also keeps the exports listed in `config.toml` current.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::cert::{Cert, Sha256};
use crate::date::Timestamp;
use crate::error::{Error, Result};
use crate::merge::{Entry, Status};
use crate::outputs::{hashdir, keystore, kube};
use crate::state::manifest::Manifest;
use crate::state::{self, Paths};

/// Every form `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    Pem,
    OpensslDir,
    Pkcs12,
    Jks,
    Configmap,
    Secret,
    TrustManager,
}

impl Format {
    /// Their names on the command line and in `config.toml`.
    pub const NAMES: [&'static str; 7] = [
        "pem",
        "openssl-dir",
        "pkcs12",
        "jks",
        "configmap",
        "secret",
        "trust-manager",
    ];
    const ALL: [Format; 7] = [
        Format::Pem,
        Format::OpensslDir,
        Format::Pkcs12,
        Format::Jks,
        Format::Configmap,
        Format::Secret,
        Format::TrustManager,
    ];

    pub fn name(self) -> &'static str {
        Format::NAMES[Format::ALL.iter().position(|f| *f == self).unwrap_or(0)]
    }

    /// Bytes a terminal should not be sent.
    pub fn is_binary(self) -> bool {
        matches!(self, Format::Pkcs12 | Format::Jks)
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Format, String> {
        Format::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Format::ALL[i])
            .ok_or_else(|| format!("expected one of: {}", Format::NAMES.join(", ")))
    }
}

/// trust-manager's resource kinds (see [`kube::Api`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// `Bundle`, trust.cert-manager.io/v1alpha1: what deployed releases read.
    #[default]
    Bundle,
    ClusterBundle,
}

/// One export: its form, where it goes, and the form's settings. The same
/// shape on the command line and as an `[[export]]` table in config.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Export {
    pub format: Format,
    /// The file (or, for `openssl-dir`, the folder link). `export` without
    /// one prints to stdout; in config.toml it is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The keystore password: PKCS#12 has none unless given (as JDK 18+'s
    /// cacerts and trust-manager's); JKS always has one, `changeit` unless
    /// given. A trust store's password protects no secret: it only keys
    /// the integrity check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Kubernetes: the object's name (default `ca-bundle`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Kubernetes: its namespace (trust-manager's source: its trust
    /// namespace, `cert-manager` by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Kubernetes: the key the PEM is under (default `ca-certificates.crt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Kubernetes: also PKCS#12 and JKS (in `binaryData`, or as
    /// trust-manager's additional formats).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub with_keystores: bool,
    #[serde(default)]
    pub api: Api,
}

impl Export {
    pub fn new(format: Format) -> Export {
        Export {
            format,
            path: None,
            password: None,
            name: None,
            namespace: None,
            key: None,
            with_keystores: false,
            api: Api::default(),
        }
    }
}

pub const DEFAULT_NAME: &str = "ca-bundle";
pub const DEFAULT_KEY: &str = "ca-certificates.crt";
/// What JKS trust stores (the JDK's cacerts up to 17, trust-manager's)
/// use: Java tools assume it.
pub const JKS_PASSWORD: &str = "changeit";

/// The set every export is made from: the bundle's bytes, its
/// certificates, and what describes it.
pub struct Set {
    pub pem: Vec<u8>,
    pub certs: Vec<Cert>,
    /// The day the set was judged as of: keystore entries carry it as their
    /// creation time, so the same set on the same day gives the same bytes.
    pub as_of: Timestamp,
    /// The Mozilla set's version, in words.
    pub mozilla: String,
}

impl Set {
    /// The bundle as the last sync wrote it, checked against its manifest:
    /// a certificate the manifest does not keep (a bundle edited by hand)
    /// stops the export rather than reach a keystore.
    pub fn current(paths: &Paths) -> Result<Set> {
        let pem =
            crate::decode::read_bounded_max(&paths.bundle, 1 << 30).map_err(
                |source| match source {
                    crate::decode::ReadError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Error::NoBundle(paths.bundle.clone())
                    }
                    source => Error::Read {
                        path: paths.bundle.clone(),
                        source,
                    },
                },
            )?;
        // Decoding is most of an export: each half of the bundle on a core
        // of its own, the manifest parsed beside them. The halves split at a
        // certificate's first line, so no block is cut.
        let cut = memchr::memmem::find(&pem[pem.len() / 2..], b"-----BEGIN CERTIFICATE-----")
            .map_or(pem.len(), |at| pem.len() / 2 + at);
        let (manifest, mut decoded, second) = std::thread::scope(|s| {
            let first = s.spawn(|| crate::decode::decode(&pem[..cut]));
            let manifest = s.spawn(|| Manifest::read(&paths.manifest, &paths.bundle));
            let second = crate::decode::decode(&pem[cut..]);
            (
                manifest
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                first
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
                second,
            )
        });
        let manifest = manifest?;
        decoded.items.extend(second.items);
        decoded.errors.extend(second.errors);
        let kept: std::collections::HashSet<Sha256> = manifest
            .certificates
            .iter()
            .filter(|r| r.status == Status::Kept)
            .map(|r| r.sha256)
            .collect();
        let certs: Vec<Cert> = decoded.items.into_iter().map(|i| i.cert).collect();
        let strays = certs.iter().filter(|c| !kept.contains(&c.sha256)).count();
        if strays > 0 || certs.len() != kept.len() || !decoded.errors.is_empty() {
            return Err(Error::Mismatch {
                path: paths.bundle.clone(),
                reason: format!(
                    "holds {} certificates, {} of them not kept by {}, and {} unreadable blocks",
                    certs.len(),
                    strays,
                    paths.manifest.display(),
                    decoded.errors.len()
                ),
            });
        }
        Ok(Set {
            pem,
            certs,
            as_of: manifest.as_of.midnight(),
            mozilla: mozilla_words(&manifest.mozilla),
        })
    }

    /// The set a sync just merged, with the bundle it rendered.
    pub fn from_entries(
        entries: &[Entry],
        pem: Vec<u8>,
        as_of: Timestamp,
        mozilla: &crate::sources::mozilla::Provenance,
    ) -> Set {
        Set {
            pem,
            certs: entries
                .iter()
                .filter(|e| e.status == Status::Kept)
                .map(|e| e.cert.clone())
                .collect(),
            as_of: as_of.day().midnight(),
            mozilla: mozilla_words(mozilla),
        }
    }

    fn refs(&self) -> Vec<&Cert> {
        self.certs.iter().collect()
    }

    /// A keystore of the whole set.
    pub fn keystore(&self, format: keystore::Format, password: Option<&str>) -> Vec<u8> {
        keystore::write(format, &self.refs(), password, self.as_of)
    }
}

fn mozilla_words(p: &crate::sources::mozilla::Provenance) -> String {
    format!("{} {} ({})", p.format, p.version, p.date)
}

/// An export, made: bytes for a file or stdout, or the certificates of a
/// hashed folder.
pub enum Made {
    Bytes(Vec<u8>),
    Folder(Vec<Cert>),
}

/// Make `export` from `set`. Names are checked here, so a bad one is an
/// error before anything is written.
pub fn make(set: &Set, export: &Export) -> Result<Made> {
    let keystores = || {
        (
            set.keystore(keystore::Format::Pkcs12, None),
            set.keystore(keystore::Format::Jks, Some(JKS_PASSWORD)),
        )
    };
    let bytes = match export.format {
        Format::Pem => set.pem.clone(),
        Format::OpensslDir => return Ok(Made::Folder(set.certs.clone())),
        Format::Pkcs12 => set.keystore(keystore::Format::Pkcs12, export.password.as_deref()),
        Format::Jks => set.keystore(
            keystore::Format::Jks,
            Some(export.password.as_deref().unwrap_or(JKS_PASSWORD)),
        ),
        Format::Configmap | Format::Secret | Format::TrustManager => {
            let sha = Sha256::of(&set.pem);
            let meta = kube::Meta {
                name: export.name.as_deref().unwrap_or(DEFAULT_NAME),
                namespace: export.namespace.as_deref(),
                key: export.key.as_deref().unwrap_or(DEFAULT_KEY),
                bundle_sha256: &sha,
                mozilla: &set.mozilla,
                cabundle: env!("CARGO_PKG_VERSION"),
            };
            let text = match export.format {
                Format::TrustManager => {
                    let api = match export.api {
                        Api::Bundle => kube::Api::Bundle,
                        Api::ClusterBundle => kube::Api::ClusterBundle,
                    };
                    kube::trust_manager(&set.pem, api, export.with_keystores, &meta)
                }
                format => {
                    let stores = export.with_keystores.then(keystores);
                    let stores = stores
                        .as_ref()
                        .map(|(pkcs12, jks)| kube::Keystores { pkcs12, jks });
                    if format == Format::Configmap {
                        kube::configmap(&set.pem, stores.as_ref(), &meta)
                    } else {
                        kube::secret(&set.pem, stores.as_ref(), &meta)
                    }
                }
            };
            text.map_err(|e| Error::BadExport(e.to_string()))?
                .into_bytes()
        }
    };
    Ok(Made::Bytes(bytes))
}

/// Write a made export at `path`, atomically (a folder: swapped whole).
/// True when its bytes changed.
pub fn write(path: &Path, made: &Made) -> Result<bool> {
    match made {
        Made::Bytes(bytes) => {
            let before = std::fs::read(path).ok();
            if before.as_deref() == Some(bytes.as_slice()) {
                return Ok(false);
            }
            state::write_atomic(path, bytes)?;
            Ok(true)
        }
        Made::Folder(certs) => {
            let refs: Vec<&Cert> = certs.iter().collect();
            hashdir::write(path, &refs)
        }
    }
}

/// One export `sync` brought up to date.
#[derive(Debug)]
pub struct Refreshed {
    pub path: PathBuf,
    pub format: Format,
    /// False when it already held these bytes.
    pub changed: bool,
}

/// One export config.toml lists, written only when its bytes change.
pub fn refresh(set: &Set, export: &Export) -> Result<Refreshed> {
    let path = export.path.clone().ok_or_else(|| {
        Error::BadExport(format!(
            "an [[export]] of format {} has no path",
            export.format.name()
        ))
    })?;
    let made = make(set, export)?;
    let changed = write(&path, &made)?;
    Ok(Refreshed {
        path,
        format: export.format,
        changed,
    })
}
