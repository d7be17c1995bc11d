//! Java trust stores: PKCS#12 and JKS, written and read without a JDK.
//!
//! [`write`] makes a store of trusted-certificate entries that `keytool`
//! and every JVM load as trust anchors; [`open`] says what an existing
//! keystore is (format, password, entries), so that a JVM's own cacerts can
//! be rewritten in the type and password it already has.

use std::collections::HashMap;

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::cert::{Cert, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pkcs12,
    Jks,
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
    let mut names: Vec<String> = cert.common_name.iter().cloned().collect();
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::test_support::{refs, roots};

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
}
