//! Java trust stores: PKCS#12 and JKS, written and read without a JDK.
//!
//! [`write`] makes a store of trusted-certificate entries that `keytool`
//! and every JVM load as trust anchors; [`open`] says what an existing
//! keystore is (format, password, entries), so that a JVM's own cacerts can
//! be rewritten in the type and password it already has.

mod der;
mod jks;
mod pkcs12;

use std::collections::HashMap;

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::cert::{Cert, Sha256};
use crate::date::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Pkcs12,
    Jks,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pkcs12 => "pkcs12",
            Format::Jks => "jks",
        }
    }
}

/// The password every JDK's cacerts has had, and what JKS is written with
/// when none is given.
pub const DEFAULT_PASSWORD: &str = "changeit";

/// The longest slug in an alias, before the fingerprint.
const MAX_SLUG: usize = 40;
/// Hex digits of the fingerprint in an alias, unless more are needed to
/// tell two certificates with the same slug apart.
const MIN_HEX: usize = 8;

/// Stable, unique, readable aliases, one per certificate, in the same
/// order: a lowercase ASCII slug of the CN (else the O, else the subject),
/// at most 40 characters, then `-` and the first 8 hex digits of the
/// SHA-256 ("digicert-global-root-g2-cb3ccbb7"). Two certificates with the
/// same slug and the same 8 digits get as many more digits as tell them
/// apart; the same certificate given twice gets `-2`, `-3`... after its
/// alias. An alias depends on its certificate alone, save those rare clashes.
pub fn aliases(certs: &[&Cert]) -> Vec<String> {
    let slugs: Vec<String> = certs.iter().map(|c| cert_slug(c)).collect();
    let fingerprints: Vec<Sha256> = certs.iter().map(|c| c.sha256).collect();
    assign(&slugs, &fingerprints)
}

/// Aliases from slugs and fingerprints; see [`aliases`].
fn assign(slugs: &[String], fingerprints: &[Sha256]) -> Vec<String> {
    let hex: Vec<String> = fingerprints.iter().map(Sha256::to_string).collect();
    // How many digits each fingerprint needs: one more than it shares with
    // the closest other fingerprint under the same slug. Sorted, the
    // closest is a neighbour.
    let mut groups: HashMap<&str, Vec<&str>> = HashMap::new();
    for (slug, hex) in slugs.iter().zip(&hex) {
        groups.entry(slug).or_default().push(hex);
    }
    let mut digits: HashMap<(&str, &str), usize> = HashMap::new();
    for (slug, mut hexes) in groups {
        hexes.sort_unstable();
        hexes.dedup();
        for hex in &hexes {
            digits.insert((slug, hex), MIN_HEX);
        }
        for pair in hexes.windows(2) {
            let shared = pair[0]
                .bytes()
                .zip(pair[1].bytes())
                .take_while(|(a, b)| a == b)
                .count();
            for hex in pair {
                let n = digits.entry((slug, hex)).or_default();
                *n = (*n).max(shared + 1);
            }
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    slugs
        .iter()
        .zip(&hex)
        .map(|(slug, hex)| {
            let n = digits.get(&(slug.as_str(), hex.as_str())).copied();
            let n = n.unwrap_or(MIN_HEX).min(hex.len());
            let alias = format!("{slug}-{}", &hex[..n]);
            // The same certificate given again.
            let times = seen.entry(alias.clone()).or_insert(0);
            *times += 1;
            match *times {
                1 => alias,
                n => format!("{alias}-{n}"),
            }
        })
        .collect()
}

/// The readable part of a certificate's alias: from its CN, else its O,
/// else the other values of its subject, whichever gives a slug.
fn cert_slug(cert: &Cert) -> String {
    // Most certificates have a CN that gives a slug: the subject is parsed
    // again only for those that do not.
    if let Some(s) = cert
        .common_name
        .as_deref()
        .map(slug)
        .filter(|s| !s.is_empty())
    {
        return s;
    }
    let mut names: Vec<String> = Vec::new();
    if let Ok((_, x509)) = X509Certificate::from_der(&cert.der) {
        let subject = x509.subject();
        let text = |v: &x509_parser::x509::AttributeTypeAndValue| v.as_str().ok().map(String::from);
        names.extend(subject.iter_organization().filter_map(text));
        let values: Vec<String> = subject.iter_attributes().filter_map(text).collect();
        names.push(values.join(" "));
    }
    names
        .iter()
        .map(|name| slug(name))
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "cert".into())
}

/// Lowercase ASCII letters and digits, runs of anything else one `-`;
/// Latin letters lose their accents; at most [`MAX_SLUG`] characters,
/// cut at a word where one ends late enough.
fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in name.chars().flat_map(fold) {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
        if out.len() > MAX_SLUG {
            break;
        }
    }
    if out.len() > MAX_SLUG {
        // Cut mid-word: back to the last word's end, unless that loses half.
        let cut = match out[..=MAX_SLUG].rfind('-') {
            Some(dash) if dash >= MAX_SLUG / 2 => dash,
            _ => MAX_SLUG,
        };
        out.truncate(cut);
    }
    out.trim_end_matches('-').to_string()
}

/// A character as ASCII where it is a Latin letter with marks (as in
/// "Főtanúsítvány", "Kök Sertifikası"); others are kept, and end a word.
fn fold(c: char) -> impl Iterator<Item = char> {
    const TABLE: &[(&str, &str)] = &[
        ("ÀÁÂÃÄÅàáâãäåĀāĂăĄą", "a"),
        ("ÇçĆćĈĉĊċČč", "c"),
        ("ĎďĐđÐð", "d"),
        ("ÈÉÊËèéêëĒēĔĕĖėĘęĚě", "e"),
        ("ĜĝĞğĠġĢģ", "g"),
        ("ĤĥĦħ", "h"),
        ("ÌÍÎÏìíîïĨĩĪīĬĭĮįİı", "i"),
        ("Ĵĵ", "j"),
        ("Ķķ", "k"),
        ("ĹĺĻļĽľĿŀŁł", "l"),
        ("ÑñŃńŅņŇň", "n"),
        ("ÒÓÔÕÖØòóôõöøŌōŎŏŐő", "o"),
        ("ŔŕŖŗŘř", "r"),
        ("ŚśŜŝŞşŠšȘș", "s"),
        ("ŢţŤťŦŧȚț", "t"),
        ("ÙÚÛÜùúûüŨũŪūŬŭŮůŰűŲų", "u"),
        ("Ŵŵ", "w"),
        ("ÝýÿŶŷŸ", "y"),
        ("ŹźŻżŽž", "z"),
        ("ß", "ss"),
        ("Ææ", "ae"),
        ("Œœ", "oe"),
        ("Þþ", "th"),
    ];
    let mut buf = [c, '\0'];
    let mut len = 1;
    if !c.is_ascii()
        && let Some((_, ascii)) = TABLE.iter().find(|(from, _)| from.contains(c))
    {
        len = 0;
        for (i, a) in ascii.chars().enumerate() {
            buf[i] = a;
            len += 1;
        }
    }
    buf.into_iter().take(len)
}

/// A trust store holding every certificate as a trusted-certificate entry
/// named by [`aliases`], sorted by alias: the same certificates (in any
/// order), password and `created` give the same bytes.
///
/// PKCS#12: with a password, an HMAC-SHA256 integrity MAC; with `None`,
/// none (as the JDK's own cacerts since JDK 18). PKCS#12 keeps no dates,
/// so `created` is unused.
///
/// JKS: always has an integrity digest, so `None` means
/// [`DEFAULT_PASSWORD`] ("changeit"). Each entry is dated `created`.
pub fn write(
    format: Format,
    certs: &[&Cert],
    password: Option<&str>,
    created: Timestamp,
) -> Vec<u8> {
    let names = aliases(certs);
    let entries = by_alias(&names, certs);
    match format {
        // Without a password, the streamed writer: the same bytes, with
        // no copy of each level of nesting.
        Format::Pkcs12 if password.is_none() => {
            let mut out = Vec::new();
            let _ = pkcs12::write_unprotected_to(&entries, &mut out);
            out
        }
        Format::Pkcs12 => pkcs12::write(&entries, password),
        Format::Jks => jks::write(&entries, password.unwrap_or(DEFAULT_PASSWORD), created),
    }
}

/// [`write`] of a password-less PKCS#12, streamed into `out` (what `sync`
/// writes beside the bundle, whatever the store's size).
pub fn write_pkcs12_to(certs: &[&Cert], out: &mut impl std::io::Write) -> std::io::Result<()> {
    let names = aliases(certs);
    pkcs12::write_unprotected_to(&by_alias(&names, certs), out)
}

/// Each certificate with its alias, sorted by alias: the order entries
/// are written in, whatever order the certificates came in.
fn by_alias<'a>(names: &'a [String], certs: &[&'a Cert]) -> Vec<(&'a str, &'a Cert)> {
    let mut entries: Vec<(&str, &Cert)> = names
        .iter()
        .map(String::as_str)
        .zip(certs.iter().copied())
        .collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

/// What an existing keystore holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub format: Format,
    /// Which of the passwords tried opens it; `None` when it has no
    /// integrity check at all (a password-less PKCS#12, as JDK 18+ cacerts).
    pub password: Option<String>,
    /// The SHA-256 of each trusted-certificate entry's certificate, in the
    /// file's order: the entries Java loads as trust anchors (in PKCS#12,
    /// certificate bags with Java's trusted-key-usage attribute; a private
    /// key's chain is not one). Encrypted entries are not counted.
    pub trusted: Vec<Sha256>,
    /// Private-key entries (in PKCS#12, key bags, encrypted or not).
    pub private_keys: usize,
    /// Some entries are encrypted (keytool encrypts a PKCS#12's
    /// certificates under its password); they are not read, so `trusted`
    /// may be short of what Java sees.
    pub encrypted_entries: bool,
}

/// Why a file is not a keystore cabundle can read.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum KeystoreError {
    #[error("not a Java keystore: neither JKS nor PKCS#12")]
    NotAKeystore,
    #[error("the keystore is cut short: the file ends before the keystore does")]
    Truncated,
    #[error("the keystore is damaged: {0}")]
    Malformed(String),
    #[error(
        "the keystore's integrity check fails with every password tried: \
         its password is another one, or the file was altered"
    )]
    WrongPassword,
    #[error("the keystore uses {0}, which cabundle cannot read")]
    Unsupported(String),
}

/// What `bytes` are as a keystore (read, never changed): its format, which
/// of `passwords` opens it (tried in order), and its entries.
pub fn open(bytes: &[u8], passwords: &[&str]) -> Result<Existing, KeystoreError> {
    if bytes.starts_with(&jks::MAGIC) {
        jks::open(bytes, passwords)
    } else if bytes.starts_with(&jks::JCEKS_MAGIC) {
        Err(KeystoreError::Unsupported(
            "JCEKS, an old JDK-only format".into(),
        ))
    } else if pkcs12::detect(bytes) {
        pkcs12::open(bytes, passwords)
    } else {
        Err(KeystoreError::NotAKeystore)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_streamed_pkcs12_is_the_same_bytes_as_the_written_one() {
        let roots = crate::test_support::roots();
        let certs = crate::test_support::refs(&roots);
        let mut streamed = Vec::new();
        super::write_pkcs12_to(&certs, &mut streamed).unwrap();
        let written = super::write(super::Format::Pkcs12, &certs, None, crate::date::now());
        assert_eq!(streamed, written);
        let mut one = Vec::new();
        super::write_pkcs12_to(&certs[..1], &mut one).unwrap();
        assert_eq!(
            one,
            super::write(super::Format::Pkcs12, &certs[..1], None, crate::date::now())
        );
    }

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};
    use std::process::{Command, Output, Stdio};

    use super::*;
    use crate::test_support::{openssl, refs, roots};

    /// Debian's shared cacerts, which the JDKs here link to (JKS).
    const JDK_CACERTS: [&str; 2] = [
        "/usr/lib/jvm/java-17-openjdk-amd64/lib/security/cacerts",
        "/usr/lib/jvm/temurin-25-jdk-amd64/lib/security/cacerts",
    ];
    const OTHER_KEYTOOL: &str = "/usr/lib/jvm/temurin-25-jdk-amd64/bin/keytool";

    fn created() -> Timestamp {
        Timestamp::from_unix(1_750_000_000)
    }

    /// A tool the test needs is missing: fail, naming it, unless the
    /// environment allows skipping.
    fn missing(what: &str) {
        assert!(
            std::env::var("CABUNDLE_TEST_ALLOW_SKIP").as_deref() == Ok("1"),
            "{what} is needed by this test: install it, or set CABUNDLE_TEST_ALLOW_SKIP=1 to skip"
        );
        eprintln!("skipped: no {what}");
    }

    /// keytool on PATH, then any other JDK's: each is an oracle.
    fn keytools() -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = which::which("keytool").into_iter().collect();
        if Path::new(OTHER_KEYTOOL).exists() {
            found.push(OTHER_KEYTOOL.into());
        }
        if found.is_empty() {
            missing("keytool (from a JDK)");
        }
        found
    }

    fn keytool(tool: &Path, args: &[&str]) -> Output {
        Command::new(tool)
            .args(["-J-Duser.language=en", "-J-Duser.country=US"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("keytool runs")
    }

    #[track_caller]
    fn keytool_ok(tool: &Path, args: &[&str]) -> String {
        let out = keytool(tool, args);
        assert!(out.status.success(), "{tool:?} {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// alias → (entry type, SHA-256 of its first certificate), as
    /// `keytool -list -v` shows them.
    fn listing(
        tool: &Path,
        path: &Path,
        password: Option<&str>,
    ) -> BTreeMap<String, (String, Sha256)> {
        let mut args = vec!["-list", "-v", "-keystore", path.to_str().unwrap()];
        if let Some(password) = password {
            args.extend(["-storepass", password]);
        }
        let text = keytool_ok(tool, &args);
        let mut entries = BTreeMap::new();
        let (mut alias, mut kind) = (None, None);
        for line in text.lines().map(str::trim) {
            if let Some(a) = line.strip_prefix("Alias name: ") {
                alias = Some(a.to_string());
            } else if let Some(k) = line.strip_prefix("Entry type: ") {
                kind = Some(k.to_string());
            } else if let Some(sha) = line.strip_prefix("SHA256: ")
                && let (Some(a), Some(k)) = (alias.take(), kind.take())
            {
                entries.insert(a, (k, sha.parse().unwrap()));
            }
        }
        entries
    }

    fn store_type(format: Format) -> &'static str {
        match format {
            Format::Pkcs12 => "PKCS12",
            Format::Jks => "JKS",
        }
    }

    /// What this module writes, one of each kind.
    const KINDS: [(Format, Option<&str>); 4] = [
        (Format::Pkcs12, Some("changeit")),
        (Format::Pkcs12, None),
        (Format::Jks, Some("changeit")),
        (Format::Jks, None),
    ];

    #[test]
    fn keytool_and_openssl_load_every_root_as_a_trusted_entry() {
        let roots = roots();
        let certs = refs(&roots);
        let expected: BTreeMap<String, (String, Sha256)> = aliases(&certs)
            .into_iter()
            .zip(&certs)
            .map(|(a, c)| (a, ("trustedCertEntry".to_string(), c.sha256)))
            .collect();
        assert_eq!(expected.len(), certs.len());
        let dir = tempfile::tempdir().unwrap();
        for (i, (format, password)) in KINDS.into_iter().enumerate() {
            let path = dir.path().join(format!("{i}.{}", store_type(format)));
            std::fs::write(&path, write(format, &certs, password, created())).unwrap();
            // What a JVM opens it with: JKS always needs its password.
            let store_password = match format {
                Format::Jks => Some(DEFAULT_PASSWORD),
                Format::Pkcs12 => password,
            };
            for tool in keytools() {
                let listed = listing(&tool, &path, store_password);
                assert_eq!(listed, expected, "{tool:?} {format:?} {password:?}");
                if store_password.is_some() {
                    // The integrity check is real: another password fails.
                    let file = path.to_str().unwrap();
                    let args = ["-list", "-keystore", file, "-storepass", "wrong-pass"];
                    let out = keytool(&tool, &args);
                    assert!(!out.status.success(), "{tool:?} {format:?}: {out:?}");
                }
            }
            if format == Format::Pkcs12 {
                let file = path.to_str().unwrap();
                let pass = format!("pass:{}", password.unwrap_or(""));
                let args = ["pkcs12", "-info", "-nokeys", "-in", file, "-passin", &pass];
                let out = openssl(&args);
                assert!(out.status.success(), "{out:?}");
                let pem = String::from_utf8(out.stdout).unwrap();
                let count = pem.matches("-----BEGIN CERTIFICATE-----").count();
                assert_eq!(count, certs.len());
                let info = String::from_utf8(out.stderr).unwrap();
                match password {
                    Some(_) => assert!(info.contains("MAC: sha256, Iteration 10000"), "{info}"),
                    None => assert!(info.contains("MAC is absent"), "{info}"),
                }
                if password.is_some() {
                    let args = [
                        "pkcs12", "-info", "-nokeys", "-in", file, "-passin", "pass:no",
                    ];
                    assert!(!openssl(&args).status.success());
                }
            }
        }
    }

    #[test]
    fn writes_are_deterministic_and_sorted_by_alias() {
        let roots = roots();
        let certs = refs(&roots);
        let reversed: Vec<&Cert> = certs.iter().rev().copied().collect();
        for (format, password) in KINDS {
            let first = write(format, &certs, password, created());
            assert_eq!(first, write(format, &certs, password, created()));
            assert_eq!(first, write(format, &reversed, password, created()));
            let later = write(format, &certs, password, created().plus_days(1));
            // Only JKS records when entries were made.
            assert_eq!(first == later, format == Format::Pkcs12);
            let mut by_alias: Vec<(String, Sha256)> = aliases(&certs)
                .into_iter()
                .zip(certs.iter().map(|c| c.sha256))
                .collect();
            by_alias.sort();
            let opened = open(&first, &[DEFAULT_PASSWORD]).unwrap();
            let order: Vec<Sha256> = by_alias.into_iter().map(|(_, sha)| sha).collect();
            assert_eq!(opened.trusted, order);
        }
    }

    #[test]
    fn our_stores_open_as_written() {
        let roots = roots();
        let certs = refs(&roots);
        let fingerprints: BTreeSet<Sha256> = certs.iter().map(|c| c.sha256).collect();
        for (format, password) in KINDS {
            let bytes = write(format, &certs, password, created());
            let opened = open(&bytes, &["wrong", DEFAULT_PASSWORD]).unwrap();
            let expected_password = match (format, password) {
                (Format::Pkcs12, None) => None,
                _ => Some(DEFAULT_PASSWORD.to_string()),
            };
            assert_eq!(opened.format, format);
            assert_eq!(opened.password, expected_password);
            assert_eq!(opened.private_keys, 0);
            assert!(!opened.encrypted_entries);
            assert_eq!(
                opened.trusted.iter().copied().collect::<BTreeSet<_>>(),
                fingerprints
            );
            let wrong = open(&bytes, &["wrong"]);
            match expected_password {
                Some(_) => assert_eq!(wrong, Err(KeystoreError::WrongPassword)),
                // Nothing to check a password against: any opens it.
                None => assert_eq!(wrong.unwrap().password, None),
            }
            assert_eq!(
                open(&bytes, &[]).map(|e| e.password),
                match expected_password {
                    Some(_) => Err(KeystoreError::WrongPassword),
                    None => Ok(None),
                }
            );
        }
        // Another password, and the empty one, are the MAC's key.
        for password in ["s3cret pass", ""] {
            let bytes = write(Format::Pkcs12, &certs[..2], Some(password), created());
            let opened = open(&bytes, &[DEFAULT_PASSWORD, password]).unwrap();
            assert_eq!(opened.password.as_deref(), Some(password));
            assert_eq!(
                open(&bytes, &[DEFAULT_PASSWORD]),
                Err(KeystoreError::WrongPassword)
            );
        }
    }

    #[test]
    fn the_jdk_cacerts_opens() {
        let present: Vec<&str> = JDK_CACERTS
            .into_iter()
            .filter(|p| Path::new(p).exists())
            .collect();
        if present.is_empty() {
            return missing("a JDK's lib/security/cacerts");
        }
        let tools = keytools();
        for path in present {
            let bytes = std::fs::read(path).unwrap();
            let opened = open(&bytes, &["wrong", DEFAULT_PASSWORD]).unwrap();
            assert_eq!(opened.private_keys, 0, "{path}");
            assert!(!opened.encrypted_entries, "{path}");
            assert!(opened.trusted.len() > 50, "{path}: {opened:?}");
            for tool in &tools {
                let listed = listing(tool, Path::new(path), opened.password.as_deref());
                let fingerprints: BTreeSet<Sha256> = listed.values().map(|(_, sha)| *sha).collect();
                assert!(listed.values().all(|(kind, _)| kind == "trustedCertEntry"));
                assert_eq!(opened.trusted.len(), listed.len(), "{path}");
                assert_eq!(
                    opened.trusted.iter().copied().collect::<BTreeSet<_>>(),
                    fingerprints,
                    "{path}"
                );
            }
        }
    }

    #[test]
    fn keytool_made_stores_open() {
        let Some(tool) = keytools().into_iter().next() else {
            return;
        };
        let roots = roots();
        let dir = tempfile::tempdir().unwrap();
        let pems: Vec<PathBuf> = roots[..3]
            .iter()
            .enumerate()
            .map(|(i, cert)| {
                let path = dir.path().join(format!("{i}.pem"));
                std::fs::write(&path, cert.to_pem()).unwrap();
                path
            })
            .collect();
        let fingerprints: Vec<Sha256> = roots[..3].iter().map(|c| c.sha256).collect();
        let sorted = |v: &[Sha256]| v.iter().copied().collect::<BTreeSet<_>>();
        // (store type, password, extra keytool options)
        let kinds: [(&str, &str, &[&str]); 5] = [
            ("JKS", "changeit", &[]),
            ("PKCS12", "changeit", &[]),
            ("JKS", "an0ther-pass", &[]),
            ("PKCS12", "an0ther-pass", &[]),
            // Password-less, as the JDK builds its own cacerts since 18.
            (
                "PKCS12",
                "changeit",
                &[
                    "-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE",
                    "-J-Dkeystore.pkcs12.macAlgorithm=NONE",
                ],
            ),
        ];
        for (i, (store_type, password, options)) in kinds.into_iter().enumerate() {
            let store = dir.path().join(format!("made-{i}"));
            for (n, pem) in pems.iter().enumerate() {
                let alias = format!("ca{n}");
                let mut args = vec!["-importcert", "-noprompt", "-alias", &alias];
                let (file, keystore) = (pem.to_str().unwrap(), store.to_str().unwrap());
                args.extend(["-file", file, "-keystore", keystore]);
                args.extend(["-storetype", store_type, "-storepass", password]);
                args.extend(options);
                keytool_ok(&tool, &args);
            }
            let bytes = std::fs::read(&store).unwrap();
            let format = match store_type {
                "JKS" => Format::Jks,
                _ => Format::Pkcs12,
            };
            let password_less = !options.is_empty();
            let opened = open(&bytes, &[DEFAULT_PASSWORD]);
            if password != DEFAULT_PASSWORD {
                assert_eq!(opened, Err(KeystoreError::WrongPassword), "{store_type}");
            } else {
                let opened = opened.unwrap();
                assert_eq!(opened.format, format);
                assert_eq!(opened.private_keys, 0);
                if password_less {
                    assert_eq!(opened.password, None);
                } else {
                    assert_eq!(opened.password.as_deref(), Some(password));
                }
                // keytool encrypts a PKCS#12's certificates under the
                // password, unless told not to.
                let encrypted = format == Format::Pkcs12 && !password_less;
                assert_eq!(opened.encrypted_entries, encrypted, "{store_type} {i}");
                match encrypted {
                    true => assert!(opened.trusted.is_empty()),
                    false => assert_eq!(sorted(&opened.trusted), sorted(&fingerprints)),
                }
            }
            let both = open(&bytes, &[DEFAULT_PASSWORD, "an0ther-pass"]).unwrap();
            let expected = (!password_less).then(|| password.to_string());
            assert_eq!(both.password, expected, "{store_type} {i}");
        }
        // A private-key entry: counted; its own certificate is no trust anchor.
        for store_type in ["JKS", "PKCS12"] {
            let store = dir.path().join(format!("key.{store_type}"));
            let keystore = store.to_str().unwrap();
            keytool_ok(
                &tool,
                &[
                    "-genkeypair",
                    "-keyalg",
                    "EC",
                    "-groupname",
                    "secp256r1",
                    "-alias",
                    "key",
                    "-dname",
                    "CN=Test Key",
                    "-keystore",
                    keystore,
                    "-storetype",
                    store_type,
                    "-storepass",
                    "changeit",
                    "-keypass",
                    "changeit",
                ],
            );
            let import = ["-importcert", "-noprompt", "-alias", "ca", "-file"];
            let rest = ["-keystore", keystore, "-storepass", "changeit"];
            keytool_ok(
                &tool,
                &[&import[..], &[pems[0].to_str().unwrap()], &rest].concat(),
            );
            let opened = open(&std::fs::read(&store).unwrap(), &[DEFAULT_PASSWORD]).unwrap();
            assert_eq!(opened.private_keys, 1, "{store_type}");
            if store_type == "JKS" {
                assert_eq!(opened.trusted, fingerprints[..1]);
            }
        }
    }

    #[test]
    fn openssl_made_stores_open_with_each_mac() {
        let roots = roots();
        let dir = tempfile::tempdir().unwrap();
        let pem = dir.path().join("in.pem");
        let text: String = roots[..2].iter().map(Cert::to_pem).collect();
        std::fs::write(&pem, text).unwrap();
        for (digest, password) in [
            ("sha1", "changeit"),
            ("sha256", "changeit"),
            ("sha384", "changeit"),
            ("sha512", "changeit"),
            ("sha256", ""),
        ] {
            let out = dir.path().join(format!("{digest}.p12"));
            let pass = format!("pass:{password}");
            let args = [
                "pkcs12",
                "-export",
                "-nokeys",
                "-in",
                pem.to_str().unwrap(),
                "-out",
                out.to_str().unwrap(),
                "-passout",
                &pass,
                "-macalg",
                digest,
                "-certpbe",
                "NONE",
            ];
            let made = openssl(&args);
            assert!(made.status.success(), "{made:?}");
            let bytes = std::fs::read(&out).unwrap();
            let opened = open(&bytes, &["wrong", password]).unwrap();
            assert_eq!(opened.password.as_deref(), Some(password), "{digest}");
            // OpenSSL does not mark certificates trusted for Java.
            assert!(opened.trusted.is_empty());
            assert!(!opened.encrypted_entries);
            assert_eq!(open(&bytes, &["wrong"]), Err(KeystoreError::WrongPassword));
        }
    }

    /// Every error, and no panic, for what is not a whole keystore.
    #[test]
    fn damaged_and_foreign_input_is_an_error_never_a_panic() {
        let roots = roots();
        let mut small = refs(&roots);
        small.sort_by_key(|c| c.der.len());
        small.truncate(2);
        for junk in [
            &b""[..],
            b"\xfe\xed",
            b"hello, world",
            crate::sources::mozilla::PEM,
            &roots[0].der,
            &[0x30, 0x03, 0x02, 0x01, 0x02],
        ] {
            assert_eq!(
                open(junk, &[DEFAULT_PASSWORD]),
                Err(KeystoreError::NotAKeystore)
            );
        }
        let jceks = [0xce, 0xce, 0xce, 0xce, 0, 0, 0, 2];
        assert!(matches!(
            open(&jceks, &[]),
            Err(KeystoreError::Unsupported(_))
        ));

        for (format, password) in KINDS {
            let whole = write(format, &small, password, created());
            for len in 0..whole.len() {
                let cut = open(&whole[..len], &[DEFAULT_PASSWORD]);
                assert!(cut.is_err(), "{format:?} {password:?} cut at {len}");
            }
            // Every bit where it is cheap; with a PKCS#12 MAC (10000 hash
            // iterations a try), a spread of bits and all of the MAC's.
            let macs = format == Format::Pkcs12 && password.is_some();
            let bits: Vec<usize> = match macs {
                false => (0..whole.len() * 8).collect(),
                true => (0..whole.len() * 8)
                    .filter(|b| b % 61 == 0 || *b >= (whole.len() - 80) * 8)
                    .collect(),
            };
            for bit in bits {
                let mut flipped = whole.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                let opened = open(&flipped, &[DEFAULT_PASSWORD]);
                // Without an integrity check, a flip inside a certificate
                // still reads (as another fingerprint).
                if !(format == Format::Pkcs12 && password.is_none()) {
                    assert!(opened.is_err(), "{format:?} bit {bit}: {opened:?}");
                }
            }
        }
        // The real cacerts: truncations and flips, spread out.
        for path in JDK_CACERTS.iter().filter(|p| Path::new(p).exists()) {
            let whole = std::fs::read(path).unwrap();
            for i in (0..whole.len()).step_by(whole.len() / 300 + 1) {
                assert!(open(&whole[..i], &[DEFAULT_PASSWORD]).is_err());
                let mut flipped = whole.clone();
                flipped[i] ^= 1 << (i % 8);
                assert!(open(&flipped, &[DEFAULT_PASSWORD]).is_err());
            }
        }
    }

    #[test]
    fn hostile_structures_are_refused() {
        use der::{explicit0, octets, oid, seq, tlv, uint};
        let data = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
        let content_info = |c: &[u8]| seq(&[&oid(&data), &explicit0(&octets(c))]);
        let auth_safe = seq(&[&content_info(&seq(&[]))]);
        let pfx = |mac: &[u8]| seq(&[&uint(3), &content_info(&auth_safe), mac]);
        let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
        let pbmac1 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0e];
        let mac_data = |alg: &[u8], iterations: &[u8]| {
            let algorithm = seq(&[&oid(alg), &tlv(der::NULL, &[])]);
            let digest_info = seq(&[&algorithm, &octets(&[0; 32])]);
            seq(&[&digest_info, &octets(&[1; 20]), iterations])
        };
        // An empty store, without a MAC: fine.
        let empty = open(&pfx(&[]), &[]).unwrap();
        assert_eq!((empty.trusted.len(), empty.password), (0, None));
        let Err(KeystoreError::Unsupported(why)) =
            open(&pfx(&mac_data(&pbmac1, &uint(1000))), &["x"])
        else {
            panic!("PBMAC1 is not refused")
        };
        assert!(
            why.contains("PBMAC1") && why.contains("1.2.840.113549.1.5.14"),
            "{why}"
        );
        let huge = tlv(der::INTEGER, &[0x7f, 0xff, 0xff, 0xff, 0xff]);
        let refused = open(&pfx(&mac_data(&sha256, &huge)), &["x"]);
        assert!(
            matches!(refused, Err(KeystoreError::Unsupported(_))),
            "{refused:?}"
        );
        let zero = open(&pfx(&mac_data(&sha256, &uint(0))), &["x"]);
        assert!(matches!(zero, Err(KeystoreError::Malformed(_))), "{zero:?}");
        // Bags in bags in bags...
        let safe_contents_bag = [
            0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01, 0x06,
        ];
        let mut nested = seq(&[]);
        for _ in 0..50 {
            nested = seq(&[&seq(&[&oid(&safe_contents_bag), &explicit0(&nested)])]);
        }
        let deep = seq(&[&uint(3), &content_info(&seq(&[&content_info(&nested)]))]);
        assert!(matches!(open(&deep, &[]), Err(KeystoreError::Malformed(_))));
        // A JKS claiming four billion entries and holding none.
        let mut jks = jks::MAGIC.to_vec();
        jks.extend([0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(open(&jks, &[]), Err(KeystoreError::Truncated));
        jks.truncate(8);
        jks.extend([0, 0, 0, 0]);
        jks.extend([0; 20]);
        assert_eq!(open(&jks, &[]), Err(KeystoreError::WrongPassword));
        jks.push(0);
        assert!(matches!(open(&jks, &[]), Err(KeystoreError::Malformed(_))));
    }

    #[test]
    fn aliases_are_readable_unique_and_stable() {
        let roots = roots();
        let certs = refs(&roots);
        let names = aliases(&certs);
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len());
        for (name, cert) in names.iter().zip(&certs) {
            let (slug, hex) = name.rsplit_once('-').unwrap();
            assert_eq!(hex, &cert.fingerprint()[..8], "{name}");
            assert!(slug.len() <= MAX_SLUG, "{name}");
            assert!(
                slug.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name}"
            );
            assert!(!slug.starts_with('-') && !slug.ends_with('-') && !slug.contains("--"));
        }
        assert!(names.contains(&"digicert-global-root-g2-cb3ccbb7".to_string()));
        let reversed: Vec<&Cert> = certs.iter().rev().copied().collect();
        let mut again = aliases(&reversed);
        again.reverse();
        assert_eq!(again, names);

        // Two CAs with the same name; one whose name is no Latin text.
        let make = |dn: &[(rcgen::DnType, &str)]| {
            let key = rcgen::KeyPair::generate().unwrap();
            let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
            for (kind, value) in dn {
                params.distinguished_name.push(kind.clone(), *value);
            }
            Cert::from_der(params.self_signed(&key).unwrap().der()).unwrap()
        };
        let cn = rcgen::DnType::CommonName;
        let o = rcgen::DnType::OrganizationName;
        let a = make(&[(cn.clone(), "Example Root CA")]);
        let b = make(&[(cn.clone(), "Example Root CA")]);
        let c = make(&[(cn.clone(), "中文根证书"), (o.clone(), "Ünïcode Örg")]);
        let d = make(&[(cn, "中文根证书")]);
        let names = aliases(&[&a, &b, &c, &d, &a]);
        assert_eq!(
            names[0],
            format!("example-root-ca-{}", &a.fingerprint()[..8])
        );
        assert_eq!(
            names[1],
            format!("example-root-ca-{}", &b.fingerprint()[..8])
        );
        assert_eq!(names[2], format!("unicode-org-{}", &c.fingerprint()[..8]));
        // No CN, O or other subject value as Latin text.
        assert_eq!(names[3], format!("cert-{}", &d.fingerprint()[..8]));
        assert_eq!(names[4], format!("{}-2", names[0]));
    }

    #[test]
    fn clashing_prefixes_get_longer() {
        let sha = |hex: &str| format!("{hex:0<64}").parse::<Sha256>().unwrap();
        let slugs = ["root", "root", "root", "other", "root"].map(String::from);
        let fingerprints = [
            sha("abcdef0123"),
            sha("abcdef0124"),
            sha("abcdef0f"),
            sha("abcdef0123"),
            sha("12345678"),
        ];
        assert_eq!(
            assign(&slugs, &fingerprints),
            [
                "root-abcdef0123",
                "root-abcdef0124",
                "root-abcdef0f",
                "other-abcdef01",
                "root-12345678",
            ]
        );
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("DigiCert Global Root G2"), "digicert-global-root-g2");
        assert_eq!(slug("  --Hello,  World!--  "), "hello-world");
        assert_eq!(
            slug("NetLock Arany (Class Gold) Főtanúsítvány"),
            "netlock-arany-class-gold-fotanusitvany"
        );
        assert_eq!(slug("TÜBİTAK Kök Sertifikası"), "tubitak-kok-sertifikasi");
        assert_eq!(slug("Straße"), "strasse");
        assert_eq!(slug("中文"), "");
        // Long names end at a word.
        assert_eq!(
            slug("Autoridad de Certificacion Firmaprofesional CIF A62634068"),
            "autoridad-de-certificacion"
        );
        assert_eq!(slug(&"x".repeat(100)), "x".repeat(MAX_SLUG));
    }

    /// Timings for the report: `cargo test --lib keystore::tests::timings
    /// -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement, not a check"]
    fn timings() {
        use std::time::Instant;
        let roots = roots();
        let certs = refs(&roots);
        for (format, password) in KINDS {
            let t = Instant::now();
            let bytes = write(format, &certs, password, created());
            let written = t.elapsed();
            let t = Instant::now();
            open(&bytes, &[DEFAULT_PASSWORD]).unwrap();
            eprintln!(
                "{format:?} {password:?}: {} roots, {} bytes, written in {written:?}, opened in {:?}",
                certs.len(),
                bytes.len(),
                t.elapsed()
            );
        }
    }
}
