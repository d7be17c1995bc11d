//! The bundle as Kubernetes resources: a ConfigMap, a Secret, or
//! cert-manager trust-manager's `Bundle` (or its successor `ClusterBundle`)
//! with the ConfigMap it reads. Pure functions: YAML text in, nothing
//! written; the same inputs give the same bytes.
//!
//! The YAML is written by hand (YAML 1.2, and read the same by YAML 1.1
//! parsers such as kubectl's): every string that comes from outside is
//! double-quoted, so no name, key or version is ever read as a number, a
//! boolean or null; the PEM is a literal block scalar whose chomping
//! indicator gives back exactly its bytes, and a text that a block scalar
//! cannot carry (a carriage return, a control character) is written
//! double-quoted with escapes instead.
//!
//! Size: Kubernetes takes at most 1 MiB of data in a ConfigMap or Secret,
//! checked here. A plain (client-side) `kubectl apply` also copies the
//! whole object into its last-applied-configuration annotation, and
//! annotations hold at most 256 KiB: a bundle of Mozilla's roots (about
//! 200 KB) fits, the same with its keystores does not. Past that, apply
//! with `kubectl apply --server-side -f -` (or `kubectl create -f -`).

use std::fmt::Write as _;

use crate::cert::Sha256;

/// trust-manager's trust namespace when the chart is installed with its
/// defaults (`app.trust.namespace`): the only namespace it reads sources from.
pub const TRUST_NAMESPACE: &str = "cert-manager";

/// What every resource says about itself.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    /// The resource's name (the caller's default: `ca-bundle`).
    pub name: &'a str,
    /// The namespace; without one, kubectl's current namespace (and for
    /// [`trust_manager`], [`TRUST_NAMESPACE`]).
    pub namespace: Option<&'a str>,
    /// The key the PEM is stored under (the caller's default:
    /// `ca-certificates.crt`).
    pub key: &'a str,
    /// SHA-256 of the PEM bytes.
    pub bundle_sha256: &'a Sha256,
    /// The Mozilla set's version and provenance, in words.
    pub mozilla: &'a str,
    /// cabundle's version.
    pub cabundle: &'a str,
}

/// The keystores, already rendered.
#[derive(Clone, Copy)]
pub struct Keystores<'a> {
    pub pkcs12: &'a [u8],
    pub jks: &'a [u8],
}

/// Which trust-manager API [`trust_manager`] writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `trust.cert-manager.io/v1alpha1` `Bundle`: what every trust-manager
    /// release so far serves (v0.22.1's chart installs only this CRD).
    Bundle,
    /// `trust-manager.io/v1alpha2` `ClusterBundle`, the successor, defined
    /// on trust-manager's main branch (`deploy/crds/`) ahead of the release
    /// that serves it. It has no JKS: with keystores, only PKCS#12.
    ClusterBundle,
}

/// A name, namespace or key Kubernetes would refuse, or data it would not
/// hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeError {
    #[error("{name:?} is not a valid Kubernetes name: {why}")]
    Name { name: String, why: &'static str },
    #[error("{namespace:?} is not a valid Kubernetes namespace: {why}")]
    Namespace {
        namespace: String,
        why: &'static str,
    },
    #[error("{key:?} is not a valid ConfigMap or Secret key: {why}")]
    Key { key: String, why: &'static str },
    #[error(
        "the key {key:?} is also the key {taken:?} gives the {format} keystore; \
         name the PEM key with another extension (such as .crt or .pem)"
    )]
    KeyClash {
        key: String,
        taken: String,
        format: &'static str,
    },
    #[error("the {resource} would hold {size} bytes; Kubernetes takes at most {MAX_DATA} (1 MiB)")]
    TooLarge { resource: &'static str, size: usize },
    #[error("the bundle is not UTF-8 text, which a ConfigMap's data must be")]
    NotUtf8,
}

/// The most data a ConfigMap or Secret may hold (Kubernetes' MaxSecretSize,
/// which ValidateConfigMap applies too), counting decoded bytes.
pub const MAX_DATA: usize = 1024 * 1024;

const SUBDOMAIN_WHY: &str = "at most 253 characters of a-z, 0-9, '-' and '.', \
     each dot-separated part starting and ending with a letter or digit (RFC 1123)";
const LABEL_WHY: &str = "at most 63 characters of a-z, 0-9 and '-', \
     starting and ending with a letter or digit (RFC 1123)";

/// A name Kubernetes takes for a ConfigMap, Secret or cluster-scoped
/// resource: a DNS-1123 subdomain. The render functions check their names
/// themselves; this is for checking an argument before there is a bundle.
pub fn check_name(name: &str) -> Result<(), KubeError> {
    let bad = |why| {
        Err(KubeError::Name {
            name: name.to_string(),
            why,
        })
    };
    if name.len() > 253 || !name.split('.').all(is_dns_label) {
        return bad(SUBDOMAIN_WHY);
    }
    Ok(())
}

/// A namespace: a DNS-1123 label.
pub fn check_namespace(namespace: &str) -> Result<(), KubeError> {
    if namespace.len() > 63 || !is_dns_label(namespace) {
        return Err(KubeError::Namespace {
            namespace: namespace.to_string(),
            why: LABEL_WHY,
        });
    }
    Ok(())
}

/// A key of a ConfigMap's or Secret's data (and of trust-manager's
/// targets, whose pattern is the same).
pub fn check_key(key: &str) -> Result<(), KubeError> {
    let why = if key.is_empty() || key.len() > 253 {
        "it must be 1 to 253 characters long"
    } else if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        "it may hold only A-Z, a-z, 0-9, '-', '_' and '.'"
    } else if key == "." || key == ".." {
        "it may not be '.' or '..'"
    } else {
        return Ok(());
    };
    Err(KubeError::Key {
        key: key.to_string(),
        why,
    })
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter().all(|c| edge(c) || *c == b'-')
}

/// The keys the PKCS#12 and JKS keystores go under beside the PEM's `key`:
/// its stem (the key without its last extension) with `.p12` and `.jks`;
/// `ca-certificates.crt` gives `ca-certificates.p12` and
/// `ca-certificates.jks`.
pub fn keystore_keys(key: &str) -> (String, String) {
    let stem = match key.rfind('.') {
        Some(i) if i > 0 => &key[..i],
        _ => key,
    };
    (format!("{stem}.p12"), format!("{stem}.jks"))
}

/// The name of the ConfigMap [`trust_manager`] writes for trust-manager to
/// read: `NAME-source`. It cannot be the bundle's own name, which
/// trust-manager gives its target ConfigMaps, the one in the trust
/// namespace included.
pub fn source_name(name: &str) -> String {
    format!("{name}-source")
}

/// The bundle as a ConfigMap: the PEM under `data[key]`; with keystores,
/// the PKCS#12 and JKS under `binaryData` ([`keystore_keys`]), base64.
pub fn configmap(
    pem: &[u8],
    keystores: Option<&Keystores>,
    meta: &Meta,
) -> Result<String, KubeError> {
    let text = std::str::from_utf8(pem).map_err(|_| KubeError::NotUtf8)?;
    let names = check_meta(meta, keystores.is_some())?;
    check_size("ConfigMap", pem, keystores)?;
    let mut out = String::with_capacity(pem.len() * 3);
    header(&mut out, "v1", "ConfigMap");
    metadata(&mut out, meta.name, meta.namespace, meta);
    out.push_str("data:\n");
    entry_text(&mut out, 2, meta.key, text);
    if let (Some(ks), Some((p12, jks))) = (keystores, names) {
        out.push_str("binaryData:\n");
        entry_base64(&mut out, 2, &p12, ks.pkcs12);
        entry_base64(&mut out, 2, &jks, ks.jks);
    }
    Ok(out)
}

/// The bundle as an Opaque Secret. Everything goes under `data`, base64, so
/// the PEM comes back byte for byte whatever it holds.
pub fn secret(pem: &[u8], keystores: Option<&Keystores>, meta: &Meta) -> Result<String, KubeError> {
    let names = check_meta(meta, keystores.is_some())?;
    check_size("Secret", pem, keystores)?;
    let mut out = String::with_capacity(pem.len() * 2);
    header(&mut out, "v1", "Secret");
    metadata(&mut out, meta.name, meta.namespace, meta);
    out.push_str("type: Opaque\ndata:\n");
    entry_base64(&mut out, 2, meta.key, pem);
    if let (Some(ks), Some((p12, jks))) = (keystores, names) {
        entry_base64(&mut out, 2, &p12, ks.pkcs12);
        entry_base64(&mut out, 2, &jks, ks.jks);
    }
    Ok(out)
}

/// trust-manager's resources, as one multi-document YAML that `kubectl
/// apply -f -` takes in one go (see the module's note on size): the
/// ConfigMap [`source_name`] holding the PEM under `key`, then the `Bundle`
/// or `ClusterBundle` named `meta.name` whose only source is that
/// ConfigMap's key, and whose target is a ConfigMap of that name with the
/// PEM under `key` in every namespace; with `keystores`, also the PKCS#12
/// (password-less) and, for a `Bundle`, the JKS (password `changeit`),
/// under [`keystore_keys`], as trust-manager makes them by default.
///
/// trust-manager reads sources only from its trust namespace: the source
/// ConfigMap goes into `meta.namespace`, which must be that namespace, or
/// [`TRUST_NAMESPACE`] (the chart's default) without one. Its default CAs
/// are not asked for (`useDefaultCAs`, `defaultCAs`): the bundle already
/// holds Mozilla's roots, merged and pruned as cabundle's policy says.
///
/// trust-manager labels each target with the bundle's name, so that name is
/// held to a label value's 63 characters.
pub fn trust_manager(
    pem: &[u8],
    api: Api,
    keystores: bool,
    meta: &Meta,
) -> Result<String, KubeError> {
    let text = std::str::from_utf8(pem).map_err(|_| KubeError::NotUtf8)?;
    let names = check_meta(meta, keystores)?;
    if meta.name.len() > 63 {
        return Err(KubeError::Name {
            name: meta.name.to_string(),
            why: "trust-manager labels its targets with the bundle's name, \
                  and a label value has at most 63 characters",
        });
    }
    let namespace = meta.namespace.unwrap_or(TRUST_NAMESPACE);
    check_namespace(namespace)?;
    let source = source_name(meta.name);
    check_name(&source)?;
    check_size("ConfigMap", pem, None)?;

    let mut out = String::with_capacity(pem.len() + 2048);
    header(&mut out, "v1", "ConfigMap");
    metadata(&mut out, &source, Some(namespace), meta);
    out.push_str("data:\n");
    entry_text(&mut out, 2, meta.key, text);

    out.push_str("---\n");
    match api {
        Api::Bundle => {
            header(&mut out, "trust.cert-manager.io/v1alpha1", "Bundle");
            metadata(&mut out, meta.name, None, meta);
            out.push_str("spec:\n  sources:\n  - configMap:\n");
            field(&mut out, 6, "name", &source);
            field(&mut out, 6, "key", meta.key);
            out.push_str("  target:\n    configMap:\n");
            field(&mut out, 6, "key", meta.key);
            if let Some((p12, jks)) = names {
                out.push_str("    additionalFormats:\n      jks:\n");
                field(&mut out, 8, "key", &jks);
                out.push_str("      pkcs12:\n");
                field(&mut out, 8, "key", &p12);
            }
        }
        Api::ClusterBundle => {
            header(&mut out, "trust-manager.io/v1alpha2", "ClusterBundle");
            metadata(&mut out, meta.name, None, meta);
            out.push_str("spec:\n  sourceRefs:\n  - kind: ConfigMap\n");
            field(&mut out, 4, "name", &source);
            field(&mut out, 4, "key", meta.key);
            out.push_str("  target:\n    configMap:\n      data:\n      - ");
            field(&mut out, 0, "key", meta.key);
            if let Some((p12, _)) = names {
                out.push_str("      - ");
                field(&mut out, 0, "key", &p12);
                out.push_str("        format: PKCS12\n");
            }
            // Required; empty selects every namespace, as a Bundle without
            // one does.
            out.push_str("    namespaceSelector: {}\n");
        }
    }
    Ok(out)
}

/// The checks every render makes; with keystores, their keys.
fn check_meta(meta: &Meta, keystores: bool) -> Result<Option<(String, String)>, KubeError> {
    check_name(meta.name)?;
    if let Some(ns) = meta.namespace {
        check_namespace(ns)?;
    }
    check_key(meta.key)?;
    if !keystores {
        return Ok(None);
    }
    let (p12, jks) = keystore_keys(meta.key);
    for (taken, format) in [(&p12, "PKCS#12"), (&jks, "JKS")] {
        if *taken == meta.key {
            return Err(KubeError::KeyClash {
                key: meta.key.to_string(),
                taken: taken.clone(),
                format,
            });
        }
        check_key(taken)?;
    }
    Ok(Some((p12, jks)))
}

fn check_size(
    resource: &'static str,
    pem: &[u8],
    keystores: Option<&Keystores>,
) -> Result<(), KubeError> {
    let size = pem.len() + keystores.map_or(0, |k| k.pkcs12.len() + k.jks.len());
    if size > MAX_DATA {
        return Err(KubeError::TooLarge { resource, size });
    }
    Ok(())
}

fn header(out: &mut String, api_version: &str, kind: &str) {
    let _ = writeln!(out, "apiVersion: {api_version}\nkind: {kind}");
}

/// `metadata:` with the name, the namespace if any, cabundle's label, and
/// the annotations that say what is inside. The SHA-256 is 64 characters,
/// one past a label value's limit, hence an annotation.
fn metadata(out: &mut String, name: &str, namespace: Option<&str>, meta: &Meta) {
    out.push_str("metadata:\n");
    field(out, 2, "name", name);
    if let Some(ns) = namespace {
        field(out, 2, "namespace", ns);
    }
    out.push_str("  labels:\n");
    field(out, 4, "app.kubernetes.io/managed-by", "cabundle");
    out.push_str("  annotations:\n");
    field(
        out,
        4,
        "cabundle.dev/bundle-sha256",
        &meta.bundle_sha256.to_string(),
    );
    field(out, 4, "cabundle.dev/mozilla", meta.mozilla);
    field(out, 4, "cabundle.dev/version", meta.cabundle);
}

/// `key: "value"` at `indent`, for keys that are fixed words.
fn field(out: &mut String, indent: usize, key: &str, value: &str) {
    let _ = writeln!(out, "{:indent$}{key}: {}", "", quoted(value));
}

/// `"key": "BASE64"` at `indent`.
fn entry_base64(out: &mut String, indent: usize, key: &str, bytes: &[u8]) {
    let _ = writeln!(
        out,
        "{:indent$}{}: \"{}\"",
        "",
        quoted(key),
        data_encoding::BASE64.encode(bytes)
    );
}

/// `"key": TEXT` at `indent`, the text as [`text_value`] writes it.
fn entry_text(out: &mut String, indent: usize, key: &str, text: &str) {
    let _ = write!(out, "{:indent$}{}: ", "", quoted(key));
    text_value(out, indent, text);
}

/// A text as the value of a mapping entry whose key is at `indent`: a
/// literal block scalar, its lines at `indent + 2`, when one can carry the
/// text exactly; otherwise double-quoted.
///
/// The chomping indicator says how the text ends: `|-` no line break, `|`
/// one, `|+` more (kept as trailing empty lines). The indentation is given
/// explicitly (`|2`) when a line begins with a space, which would otherwise
/// be read as more indentation.
fn text_value(out: &mut String, indent: usize, text: &str) {
    let body = text.trim_end_matches('\n');
    let breaks = text.len() - body.len();
    if body.is_empty() || !text.chars().all(block_safe) {
        out.push_str(&quoted(text));
        out.push('\n');
        return;
    }
    out.push('|');
    if body.split('\n').any(|line| line.starts_with(' ')) {
        out.push('2');
    }
    out.push_str(match breaks {
        0 => "-",
        1 => "",
        _ => "+",
    });
    out.push('\n');
    let content = indent + 2;
    for line in body.split('\n') {
        if !line.is_empty() {
            let _ = write!(out, "{:content$}{line}", "");
        }
        out.push('\n');
    }
    for _ in 1..breaks {
        out.push('\n');
    }
}

/// Can a literal block scalar carry `c` as it is? Its line breaks are `\n`
/// alone; `\r`, NEL and the Unicode line and paragraph separators would be
/// read as (other) line breaks, and YAML has no other way to write a
/// control character, a BOM or a non-character than an escape.
fn block_safe(c: char) -> bool {
    matches!(c, '\n' | '\t' | ' '..='~')
        || (c >= '\u{a0}'
            && !matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
            ))
}

/// `s` as a YAML double-quoted scalar, on one line: `"` and `\` escaped,
/// and every character [`block_safe`] refuses (line breaks and tabs
/// included) as an escape sequence.
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            c if block_safe(c) => q.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(q, "\\x{:02X}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(q, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(q, "\\U{:08X}", c as u32);
            }
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use serde_json::{Value, json};

    use super::*;
    use crate::test_support::{roots, venv_python};

    const MOZILLA: &str = "certdata 2026-10-01 (embedded)";
    const VERSION: &str = env!("CARGO_PKG_VERSION");

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/trust-manager")
            .join(name)
    }

    /// A bundle as cabundle writes one: `#` lines, then each root's PEM
    /// after its own `#` line.
    fn bundle() -> Vec<u8> {
        let certs = roots();
        let mut pem = format!(
            "# CA bundle written by cabundle: {} certificates.\n# Do not edit.\n",
            certs.len()
        );
        for c in &certs {
            pem.push_str(&format!("\n# Subject: {}\n", c.subject));
            pem.push_str(&c.to_pem());
        }
        pem.into_bytes()
    }

    /// Bytes that stand for the keystores: every byte value, in an order
    /// of its own for each.
    fn keystore_bytes(seed: u8) -> Vec<u8> {
        (0..3000u32).map(|i| (i as u8).wrapping_mul(seed)).collect()
    }

    fn meta<'a>(sha: &'a Sha256, namespace: Option<&'a str>) -> Meta<'a> {
        Meta {
            name: "ca-bundle",
            namespace,
            key: "ca-certificates.crt",
            bundle_sha256: sha,
            mozilla: MOZILLA,
            cabundle: VERSION,
        }
    }

    /// The metadata every resource carries, as JSON.
    fn metadata_json(name: &str, namespace: Option<&str>, sha: &Sha256, mozilla: &str) -> Value {
        let mut m = json!({
            "name": name,
            "labels": {"app.kubernetes.io/managed-by": "cabundle"},
            "annotations": {
                "cabundle.dev/bundle-sha256": sha.to_string(),
                "cabundle.dev/mozilla": mozilla,
                "cabundle.dev/version": VERSION,
            },
        });
        if let Some(ns) = namespace {
            m["namespace"] = json!(ns);
        }
        m
    }

    /// Runs check.py on `yaml`, with the expected `documents` (see it) and
    /// the `files` they name, all in a temporary folder: the checker's
    /// complaint, if any.
    fn check(
        python: &Path,
        yaml: &str,
        documents: Value,
        files: &[(&str, &[u8])],
    ) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
        std::fs::write(at("out.yaml"), yaml).unwrap();
        for (name, bytes) in files {
            std::fs::write(at(name), bytes).unwrap();
        }
        // File names in the expectations become paths in the folder.
        let mut documents = documents;
        for doc in documents.as_array_mut().unwrap() {
            if let Some(files) = doc.get_mut("files").and_then(Value::as_object_mut) {
                for f in files.values_mut() {
                    let path = at(f["path"].as_str().unwrap());
                    f["path"] = json!(path);
                }
            }
        }
        let spec = json!({"yaml": at("out.yaml"), "documents": documents});
        std::fs::write(at("spec.json"), spec.to_string()).unwrap();
        let out = Command::new(python)
            .arg(fixture("check.py"))
            .arg(at("spec.json"))
            .output()
            .expect("python runs");
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn python() -> Option<PathBuf> {
        venv_python(&["yaml", "jsonschema"])
    }

    /// The embedded roots' PKCS#12 (password-less) and JKS (changeit), as
    /// `export` would render them.
    fn real_keystores() -> (Vec<u8>, Vec<u8>) {
        use crate::outputs::keystore::{Format, write};
        let certs = roots();
        let refs: Vec<&crate::cert::Cert> = certs.iter().collect();
        let created = crate::date::Timestamp::from_unix(1_790_000_000);
        (
            write(Format::Pkcs12, &refs, None, created),
            write(Format::Jks, &refs, None, created),
        )
    }

    #[test]
    fn a_configmap_gives_back_the_pem_and_keystores_exactly() {
        let Some(python) = python() else { return };
        let pem = bundle();
        let sha = Sha256::of(&pem);
        // Real keystores: Mozilla's roots and both keystores fit in 1 MiB.
        let (p12, jks) = real_keystores();
        let ks = Keystores {
            pkcs12: &p12,
            jks: &jks,
        };
        let mut yaml = configmap(&pem, None, &meta(&sha, None)).unwrap();
        yaml.push_str("---\n");
        yaml.push_str(&configmap(&pem, Some(&ks), &meta(&sha, Some("team-a"))).unwrap());
        let expected = json!([
            {
                "fields": ["apiVersion", "kind", "metadata", "data"],
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": metadata_json("ca-bundle", None, &sha, MOZILLA),
                "files": {"data/ca-certificates.crt": {"path": "pem", "encoding": "text"}},
            },
            {
                "fields": ["apiVersion", "kind", "metadata", "data", "binaryData"],
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": metadata_json("ca-bundle", Some("team-a"), &sha, MOZILLA),
                "files": {
                    "data/ca-certificates.crt": {"path": "pem", "encoding": "text"},
                    "binaryData/ca-certificates.p12": {"path": "p12", "encoding": "base64"},
                    "binaryData/ca-certificates.jks": {"path": "jks", "encoding": "base64"},
                },
            },
        ]);
        let files: [(&str, &[u8]); 3] = [("pem", &pem), ("p12", &p12), ("jks", &jks)];
        check(&python, &yaml, expected, &files).unwrap();
    }

    #[test]
    fn a_secret_gives_back_the_pem_and_keystores_exactly() {
        let Some(python) = python() else { return };
        // A Secret's data is bytes: not even UTF-8 is asked of the PEM.
        let mut pem = bundle();
        pem.extend_from_slice(b"# \xff\r\n");
        let sha = Sha256::of(&pem);
        let (p12, jks) = (keystore_bytes(3), keystore_bytes(11));
        let ks = Keystores {
            pkcs12: &p12,
            jks: &jks,
        };
        let yaml = secret(&pem, Some(&ks), &meta(&sha, Some("team-a"))).unwrap();
        let expected = json!([{
            "fields": ["apiVersion", "kind", "metadata", "type", "data"],
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": metadata_json("ca-bundle", Some("team-a"), &sha, MOZILLA),
            "files": {
                "data/ca-certificates.crt": {"path": "pem", "encoding": "base64"},
                "data/ca-certificates.p12": {"path": "p12", "encoding": "base64"},
                "data/ca-certificates.jks": {"path": "jks", "encoding": "base64"},
            },
        }]);
        let files: [(&str, &[u8]); 3] = [("pem", &pem), ("p12", &p12), ("jks", &jks)];
        check(&python, &yaml, expected, &files).unwrap();
    }

    /// The source ConfigMap trust_manager writes, as check.py expects it.
    fn source_json(namespace: &str, sha: &Sha256) -> Value {
        json!({
            "fields": ["apiVersion", "kind", "metadata", "data"],
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": metadata_json("ca-bundle-source", Some(namespace), sha, MOZILLA),
            "files": {"data/ca-certificates.crt": {"path": "pem", "encoding": "text"}},
        })
    }

    #[test]
    fn a_trust_manager_bundle_is_valid_under_its_crd() {
        let Some(python) = python() else { return };
        let pem = bundle();
        let sha = Sha256::of(&pem);
        let crd = fixture("trust.cert-manager.io_bundles.yaml");
        for (keystores, namespace) in [(false, None), (true, Some("trust"))] {
            let yaml = trust_manager(&pem, Api::Bundle, keystores, &meta(&sha, namespace)).unwrap();
            let mut target = json!({"configMap": {"key": "ca-certificates.crt"}});
            if keystores {
                target["additionalFormats"] = json!({
                    "jks": {"key": "ca-certificates.jks"},
                    "pkcs12": {"key": "ca-certificates.p12"},
                });
            }
            let expected = json!([
                source_json(namespace.unwrap_or("cert-manager"), &sha),
                {
                    "fields": ["apiVersion", "kind", "metadata", "spec"],
                    "apiVersion": "trust.cert-manager.io/v1alpha1", "kind": "Bundle",
                    "metadata": metadata_json("ca-bundle", None, &sha, MOZILLA),
                    "spec": {
                        "sources": [{"configMap": {"name": "ca-bundle-source", "key": "ca-certificates.crt"}}],
                        "target": target,
                    },
                    "crd": crd,
                },
            ]);
            check(&python, &yaml, expected, &[("pem", &pem)]).unwrap();
        }
    }

    #[test]
    fn a_trust_manager_clusterbundle_is_valid_under_its_crd() {
        let Some(python) = python() else { return };
        let pem = bundle();
        let sha = Sha256::of(&pem);
        let crd = fixture("trust-manager.io_clusterbundles.yaml");
        for keystores in [false, true] {
            let yaml =
                trust_manager(&pem, Api::ClusterBundle, keystores, &meta(&sha, None)).unwrap();
            let mut data = vec![json!({"key": "ca-certificates.crt"})];
            if keystores {
                data.push(json!({"key": "ca-certificates.p12", "format": "PKCS12"}));
            }
            let expected = json!([
                source_json("cert-manager", &sha),
                {
                    "fields": ["apiVersion", "kind", "metadata", "spec"],
                    "apiVersion": "trust-manager.io/v1alpha2", "kind": "ClusterBundle",
                    "metadata": metadata_json("ca-bundle", None, &sha, MOZILLA),
                    "spec": {
                        "sourceRefs": [{"kind": "ConfigMap", "name": "ca-bundle-source", "key": "ca-certificates.crt"}],
                        "target": {"configMap": {"data": data}, "namespaceSelector": {}},
                    },
                    "crd": crd,
                },
            ]);
            check(&python, &yaml, expected, &[("pem", &pem)]).unwrap();
        }
    }

    /// The checker is no rubber stamp: a field the CRD does not name, a
    /// broken CEL rule or a wrong value each fail it.
    #[test]
    fn the_checker_refuses_what_the_api_server_would() {
        let Some(python) = python() else { return };
        let pem = b"# one\n".to_vec();
        let sha = Sha256::of(&pem);
        let cases = [
            (
                Api::Bundle,
                "    configMap:\n",
                "    configMaps:\n",
                "'configMaps' was unexpected",
            ),
            (
                Api::Bundle,
                "  - configMap:\n",
                "  - useDefaultCAs: true\n    configMap:\n",
                "exactly one of the fields in [configMap secret inLine useDefaultCAs]",
            ),
            (
                Api::ClusterBundle,
                "        format: PKCS12\n",
                "        password: x\n",
                "may only be set when format is 'PKCS12'",
            ),
            (
                Api::ClusterBundle,
                "    namespaceSelector: {}\n",
                "",
                "'namespaceSelector' is a required property",
            ),
        ];
        for (api, from, to, why) in cases {
            let yaml = trust_manager(&pem, api, true, &meta(&sha, None)).unwrap();
            assert!(yaml.contains(from), "{yaml}");
            let bad = yaml.replacen(from, to, 1);
            let crd = match api {
                Api::Bundle => fixture("trust.cert-manager.io_bundles.yaml"),
                Api::ClusterBundle => fixture("trust-manager.io_clusterbundles.yaml"),
            };
            let documents = json!([
                source_json("cert-manager", &sha),
                {"fields": ["apiVersion", "kind", "metadata", "spec"], "crd": crd},
            ]);
            let err = check(&python, &bad, documents.clone(), &[("pem", &pem)]).unwrap_err();
            assert!(
                err.contains("document 1") && err.contains(why),
                "{from:?} → {to:?}: {err}"
            );
            check(&python, &yaml, documents, &[("pem", &pem)]).unwrap();
        }
        // And the text: one byte more is not the same PEM.
        let yaml = configmap(&pem, None, &meta(&sha, None)).unwrap();
        let documents = json!([{
            "fields": ["apiVersion", "kind", "metadata", "data"],
            "files": {"data/ca-certificates.crt": {"path": "pem", "encoding": "text"}},
        }]);
        let err = check(&python, &yaml, documents, &[("pem", b"# one\n\n")]).unwrap_err();
        assert!(err.contains("differ"), "{err}");
    }

    /// Texts a block scalar gets wrong unless its header is right, and
    /// texts it cannot carry at all, each come back exactly; so do
    /// annotations YAML would misread.
    #[test]
    fn awkward_texts_and_words_come_back_exactly() {
        let Some(python) = python() else { return };
        let texts: &[&str] = &[
            "no newline at the end",
            "one\n",
            "two\n\n",
            "three\n\n\n",
            "\n\nleading empty lines\n",
            "  leading spaces\nthen none\n",
            "none\n  then spaces\n",
            "   \nonly spaces first\n",
            "trailing spaces   \nand a last line of them\n   ",
            "\ttab first\nand\tinside\n",
            "# a comment\n---\n...\nkey: value\n- item\n? q\n",
            "\"double\" 'single' \\ back \\n not a newline\n",
            "unicode: é ü 日本 😀\n",
            "carriage return\r\nline\n",
            "control \u{1} and \u{7f} and \u{9f}\n",
            "separators \u{85} \u{2028} \u{2029}\n",
            "\u{feff}byte order mark\n",
            "",
            "\n",
            "\n\n",
            " ",
        ];
        let words = [
            "yes",
            "no",
            "on",
            "off",
            "true",
            "null",
            "~",
            "1.0",
            "0x1f",
            "1e3",
            "012",
            "",
            "-",
            "a: b",
            "#x",
            "x #y",
            "[a]",
            "{a}",
            "*a",
            "&a",
            "!a",
            "%a",
            "@a",
            "`a`",
            "'a'",
            "\"a\"",
            "a\nb",
            "tab\there",
            "é\u{2028}\u{85}\u{feff}\u{1}",
        ];
        let sha = Sha256::of(b"");
        let mut yaml = String::new();
        let mut documents = Vec::new();
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            let mozilla = words[i % words.len()];
            let m = Meta {
                mozilla,
                ..meta(&sha, None)
            };
            yaml.push_str("---\n");
            yaml.push_str(&configmap(text.as_bytes(), None, &m).unwrap());
            documents.push(json!({
                "fields": ["apiVersion", "kind", "metadata", "data"],
                "metadata": metadata_json("ca-bundle", None, &sha, mozilla),
                "files": {"data/ca-certificates.crt": {"path": format!("t{i}"), "encoding": "text"}},
            }));
            files.push((format!("t{i}"), text.as_bytes().to_vec()));
        }
        for (j, word) in words.iter().enumerate().skip(texts.len()) {
            let m = Meta {
                mozilla: word,
                ..meta(&sha, None)
            };
            yaml.push_str("---\n");
            yaml.push_str(&configmap(b"x\n", None, &m).unwrap());
            documents.push(json!({
                "fields": ["apiVersion", "kind", "metadata", "data"],
                "metadata": metadata_json("ca-bundle", None, &sha, word),
                "files": {"data/ca-certificates.crt": {"path": format!("w{j}"), "encoding": "text"}},
            }));
            files.push((format!("w{j}"), b"x\n".to_vec()));
        }
        let files: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        check(&python, &yaml, Value::Array(documents), &files).unwrap();
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes() {
        let pem = bundle();
        let sha = Sha256::of(&pem);
        let (p12, jks) = (keystore_bytes(5), keystore_bytes(9));
        let ks = Keystores {
            pkcs12: &p12,
            jks: &jks,
        };
        let m = meta(&sha, Some("team-a"));
        let renders = || {
            [
                configmap(&pem, Some(&ks), &m).unwrap(),
                secret(&pem, Some(&ks), &m).unwrap(),
                trust_manager(&pem, Api::Bundle, true, &m).unwrap(),
                trust_manager(&pem, Api::ClusterBundle, true, &m).unwrap(),
            ]
        };
        assert_eq!(renders(), renders());
    }

    #[test]
    fn names_namespaces_and_keys_kubernetes_would_refuse_are_refused() {
        let pem = b"# x\n";
        let sha = Sha256::of(pem);
        let long = "a".repeat(254);
        for name in [
            "",
            "Ca-Bundle",
            "-ca",
            "ca-",
            "ca_bundle",
            "a..b",
            ".a",
            "a.",
            "ca bundle",
            "é",
            &long,
        ] {
            let m = Meta {
                name,
                ..meta(&sha, None)
            };
            assert!(
                matches!(check_name(name), Err(KubeError::Name { .. })),
                "{name:?}"
            );
            assert!(
                matches!(configmap(pem, None, &m), Err(KubeError::Name { .. })),
                "{name:?}"
            );
            assert!(
                matches!(secret(pem, None, &m), Err(KubeError::Name { .. })),
                "{name:?}"
            );
            assert!(
                matches!(
                    trust_manager(pem, Api::Bundle, false, &m),
                    Err(KubeError::Name { .. })
                ),
                "{name:?}"
            );
        }
        for name in ["a", "ca-bundle", "a.b-c.0", &"a".repeat(253)] {
            assert_eq!(check_name(name), Ok(()), "{name:?}");
        }
        // trust-manager labels targets with the bundle's name: 63 at most.
        let name = "a".repeat(64);
        let m = Meta {
            name: &name,
            ..meta(&sha, None)
        };
        assert!(configmap(pem, None, &m).is_ok());
        assert!(matches!(
            trust_manager(pem, Api::ClusterBundle, false, &m),
            Err(KubeError::Name { .. })
        ));

        let long = "a".repeat(64);
        for ns in ["", "Team", "team.a", "-a", "a-", "team_a", &long] {
            let m = meta(&sha, Some(ns));
            assert!(
                matches!(check_namespace(ns), Err(KubeError::Namespace { .. })),
                "{ns:?}"
            );
            assert!(
                matches!(configmap(pem, None, &m), Err(KubeError::Namespace { .. })),
                "{ns:?}"
            );
            assert!(
                matches!(
                    trust_manager(pem, Api::Bundle, false, &m),
                    Err(KubeError::Namespace { .. })
                ),
                "{ns:?}"
            );
        }
        assert_eq!(check_namespace(&"a".repeat(63)), Ok(()));

        let long = "a".repeat(254);
        for key in ["", ".", "..", "a/b", "a b", "é", "a:b", &long] {
            let m = Meta {
                key,
                ..meta(&sha, None)
            };
            assert!(
                matches!(check_key(key), Err(KubeError::Key { .. })),
                "{key:?}"
            );
            assert!(
                matches!(secret(pem, None, &m), Err(KubeError::Key { .. })),
                "{key:?}"
            );
        }
        for key in ["ca.crt", "CA_bundle-1.pem", ".hidden", "..x"] {
            assert_eq!(check_key(key), Ok(()), "{key:?}");
        }
    }

    #[test]
    fn keystore_keys_follow_the_pem_key_and_never_replace_it() {
        assert_eq!(
            keystore_keys("ca-certificates.crt"),
            ("ca-certificates.p12".into(), "ca-certificates.jks".into())
        );
        assert_eq!(
            keystore_keys("bundle"),
            ("bundle.p12".into(), "bundle.jks".into())
        );
        assert_eq!(
            keystore_keys(".pem"),
            (".pem.p12".into(), ".pem.jks".into())
        );
        let pem = b"# x\n";
        let sha = Sha256::of(pem);
        let ks = Keystores {
            pkcs12: b"p",
            jks: b"j",
        };
        for key in ["trust.p12", "trust.jks"] {
            let m = Meta {
                key,
                ..meta(&sha, None)
            };
            assert!(
                matches!(
                    configmap(pem, Some(&ks), &m),
                    Err(KubeError::KeyClash { .. })
                ),
                "{key}"
            );
            assert!(configmap(pem, None, &m).is_ok(), "{key}");
            assert!(matches!(
                trust_manager(pem, Api::Bundle, true, &m),
                Err(KubeError::KeyClash { .. })
            ));
        }
    }

    #[test]
    fn what_kubernetes_cannot_hold_is_refused() {
        let sha = Sha256::of(b"");
        let m = meta(&sha, None);
        let big = vec![b'#'; MAX_DATA + 1];
        assert!(
            matches!(configmap(&big, None, &m), Err(KubeError::TooLarge { size, .. }) if size == MAX_DATA + 1)
        );
        assert!(matches!(
            trust_manager(&big, Api::Bundle, false, &m),
            Err(KubeError::TooLarge { .. })
        ));
        let pem = vec![b'#'; MAX_DATA / 2];
        let half = vec![0u8; MAX_DATA / 4 + 1];
        let ks = Keystores {
            pkcs12: &half,
            jks: &half,
        };
        assert!(matches!(
            secret(&pem, Some(&ks), &m),
            Err(KubeError::TooLarge { .. })
        ));
        assert!(secret(&pem, None, &m).is_ok());
        assert_eq!(configmap(b"\xff\n", None, &m), Err(KubeError::NotUtf8));
        assert_eq!(
            trust_manager(b"\xff\n", Api::Bundle, false, &m),
            Err(KubeError::NotUtf8)
        );
    }
}
