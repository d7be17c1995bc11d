//! macOS: the system roots and the admin keychain, exported with `security`,
//! less what the admin's trust settings deny. An export made on a Mac can be
//! given with `--macos-export` on any OS, so a bundle for a Mac (and this
//! code) can be built and tested anywhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::os::{Family, OsInfo};
use super::{Distrust, Fingerprint, Gathered};
use crate::decode;
use crate::system::find_program;

const KEYCHAINS: &[&str] = &[
    "/System/Library/Keychains/SystemRootCertificates.keychain",
    "/Library/Keychains/System.keychain",
];

/// An export (`security find-certificate -a -p ... > FILE`) and, optionally,
/// the admin trust settings (`security trust-settings-export -d FILE`).
pub fn load_export(export: &Path, trust_settings: Option<&Path>, out: &mut Gathered) -> OsInfo {
    let n = out.read_file(
        Path::new("/"),
        export,
        &format!("macos:{}", export.display()),
    );
    if let Some(settings) = trust_settings {
        match decode::read_bounded(settings) {
            Ok(bytes) => apply_trust_settings(&bytes, settings, out),
            Err(e) => out.unapplied(settings, e),
        }
    }
    info(n, format!("macOS keychain export {}", export.display()))
}

/// This Mac's keychains, through `security`.
pub fn load_live(out: &mut Gathered) -> OsInfo {
    let Some(security) = find_program("security") else {
        out.problem(
            Path::new("security"),
            "not found on PATH; the macOS keychains cannot be read",
        );
        return info(0, "macOS".into());
    };
    let mut n = 0;
    for keychain in KEYCHAINS {
        let result = Command::new(&security)
            .args(["find-certificate", "-a", "-p", keychain])
            .output();
        match result {
            Ok(o) if o.status.success() => {
                let decoded = decode::decode(&o.stdout);
                for e in decoded.errors {
                    out.problem(keychain.as_ref(), e);
                }
                n += decoded.items.len();
                out.read(
                    Path::new(keychain),
                    super::Digest::of(&o.stdout),
                    decoded.items.len(),
                );
                out.found_in(&format!("macos:{keychain}"), decoded.items);
            }
            Ok(o) => out.problem(
                keychain.as_ref(),
                String::from_utf8_lossy(&o.stderr).trim().to_string(),
            ),
            Err(e) => out.problem(&security, e.to_string()),
        }
    }
    // With no admin trust settings, `security` fails and there is nothing to apply.
    if let Ok(dir) = tempfile::tempdir() {
        let file = dir.path().join("trust.plist");
        let exported = Command::new(&security)
            .args(["trust-settings-export", "-d"])
            .arg(&file)
            .output()
            .is_ok_and(|o| o.status.success());
        if let (true, Ok(bytes)) = (exported, decode::read_bounded(&file)) {
            apply_trust_settings(&bytes, Path::new("admin trust settings"), out);
        }
    }
    info(n, "macOS".into())
}

fn info(certificates: usize, name: String) -> OsInfo {
    OsInfo {
        root: PathBuf::from("/"),
        family: Some(Family::Macos),
        name: Some(name),
        certificates,
    }
}

fn apply_trust_settings(bytes: &[u8], shown: &Path, out: &mut Gathered) {
    match denied_for_tls(bytes) {
        Ok(denied) => out
            .distrusted
            .extend(denied.into_iter().map(|sha1| Distrust {
                by: Fingerprint::Sha1(sha1),
                reason: format!(
                    "denied for SSL by the admin trust settings ({})",
                    shown.display()
                ),
            })),
        // The admin's denials cannot be applied: the sync stops.
        Err(e) => out.unapplied(shown, format!("unreadable trust settings: {e}")),
    }
}

/// macOS's SSL policy OID, 1.2.840.113635.100.1.3, as DER content.
const SSL_POLICY: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x63, 0x64, 0x01, 0x03];
const RESULT_DENY: i64 = 3;
/// kSecTrustSettingsResultTrustRoot: what a setting without a result means.
const RESULT_TRUST_ROOT: i64 = 1;

/// Why trust settings cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum TrustSettingsError {
    /// plist's own message is its internal error kind, not for people.
    #[error("{}", if .0.is_eof() {
        "not a whole property list: it ends early"
    } else {
        "not a well-formed property list (XML or binary)"
    })]
    Plist(#[from] plist::Error),
    #[error("nested more than {MAX_DEPTH} levels deep, which trust settings never are")]
    TooDeep,
    #[error(
        "expands to more than {MAX_EVENTS} values or {} MiB (a binary plist can name one \
         object many times), which trust settings never do",
        MAX_PAYLOAD >> 20
    )]
    TooLarge,
    #[error("no trustList dictionary in it")]
    NoTrustList,
}

/// Trust settings nest four levels; a plist's values are dropped
/// recursively, so a deeper one could exhaust the stack.
const MAX_DEPTH: usize = 32;
/// A binary plist can refer to one object from many places, and each
/// reference becomes a copy: these bound what reading one can cost.
const MAX_EVENTS: usize = 1 << 20;
const MAX_PAYLOAD: usize = 64 << 20;

/// A property list, XML or binary (`security trust-settings-export` writes
/// either), once its shape is known to be safe to build.
fn read_plist(bytes: &[u8]) -> Result<plist::Value, TrustSettingsError> {
    use plist::stream::Event;
    let (mut depth, mut events, mut payload) = (0usize, 0usize, 0usize);
    for event in plist::stream::Reader::new(std::io::Cursor::new(bytes)) {
        match event? {
            Event::StartArray(_) | Event::StartDictionary(_) => depth += 1,
            Event::EndCollection => depth = depth.saturating_sub(1),
            Event::Data(d) => payload += d.len(),
            Event::String(s) => payload += s.len(),
            _ => {}
        }
        events += 1;
        if depth > MAX_DEPTH {
            return Err(TrustSettingsError::TooDeep);
        }
        if events > MAX_EVENTS || payload > MAX_PAYLOAD {
            return Err(TrustSettingsError::TooLarge);
        }
    }
    Ok(plist::Value::from_reader(std::io::Cursor::new(bytes))?)
}

/// SHA-1s of the certificates whose trust settings deny them for TLS:
/// a `kSecTrustSettingsResult` of Deny in an entry that applies to every
/// policy or to the SSL one.
fn denied_for_tls(bytes: &[u8]) -> Result<Vec<[u8; 20]>, TrustSettingsError> {
    let root = read_plist(bytes)?;
    let entries = root
        .as_dictionary()
        .and_then(|d| d.get("trustList"))
        .and_then(plist::Value::as_dictionary)
        .ok_or(TrustSettingsError::NoTrustList)?;
    let mut denied = Vec::new();
    for (key, entry) in entries {
        // Keys are the certificates' SHA-1s; others (none today) name no
        // certificate.
        let Some(sha1) = data_encoding::HEXLOWER_PERMISSIVE
            .decode(key.as_bytes())
            .ok()
            .and_then(|b| <[u8; 20]>::try_from(b).ok())
        else {
            continue;
        };
        let Some(settings) = entry
            .as_dictionary()
            .and_then(|e| e.get("trustSettings"))
            .and_then(plist::Value::as_array)
        else {
            continue;
        };
        let deny = settings
            .iter()
            .filter_map(plist::Value::as_dictionary)
            .any(|s| {
                let result = s
                    .get("kSecTrustSettingsResult")
                    .and_then(plist::Value::as_signed_integer)
                    .unwrap_or(RESULT_TRUST_ROOT);
                let for_tls = match (
                    s.get("kSecTrustSettingsPolicy"),
                    s.get("kSecTrustSettingsPolicyName"),
                ) {
                    (Some(plist::Value::Data(oid)), _) => oid == SSL_POLICY,
                    (_, Some(plist::Value::String(name))) => name == "sslServer",
                    (None, None) => true,
                    _ => false,
                };
                result == RESULT_DENY && for_tls
            });
        if deny {
            denied.push(sha1);
        }
    }
    Ok(denied)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>trustList</key>
	<dict>
		<key>0563B8630D62D75ABBC8AB1E4BDFB5A899B24D43</key>
		<dict>
			<key>issuerName</key>
			<data>MBUxEzARBgNVBAMMCkRlbmllZCBDQQ==</data>
			<key>trustSettings</key>
			<array>
				<dict>
					<key>kSecTrustSettingsPolicy</key>
					<data>KoZIhvdjZAED</data>
					<key>kSecTrustSettingsPolicyName</key>
					<string>sslServer</string>
					<key>kSecTrustSettingsResult</key>
					<integer>3</integer>
				</dict>
			</array>
		</dict>
		<key>1111111111111111111111111111111111111111</key>
		<dict>
			<key>trustSettings</key>
			<array/>
		</dict>
		<key>2222222222222222222222222222222222222222</key>
		<dict><key>trustSettings</key><array><dict>
			<key>kSecTrustSettingsPolicyName</key><string>smime</string>
			<key>kSecTrustSettingsResult</key><integer>3</integer>
		</dict></array></dict>
		<key>3333333333333333333333333333333333333333</key>
		<dict><key>trustSettings</key><array><dict>
			<key>kSecTrustSettingsResult</key><integer>3</integer>
		</dict></array></dict>
	</dict>
	<key>trustVersion</key>
	<integer>1</integer>
</dict>
</plist>
"#;

    #[test]
    fn deny_for_ssl_or_for_everything_is_distrust() {
        let denied = denied_for_tls(SETTINGS.as_bytes()).unwrap();
        let first = data_encoding::HEXUPPER
            .decode(b"0563B8630D62D75ABBC8AB1E4BDFB5A899B24D43")
            .unwrap();
        assert_eq!(denied, [first.try_into().unwrap(), [0x33; 20]]);
    }

    /// `security trust-settings-export` may write a binary plist: the same
    /// settings, written in that form, deny the same certificates.
    #[test]
    fn binary_trust_settings_are_read_too() {
        let value = plist::Value::from_reader_xml(SETTINGS.as_bytes()).unwrap();
        let mut binary = Vec::new();
        value.to_writer_binary(&mut binary).unwrap();
        assert!(binary.starts_with(b"bplist00"));
        assert_eq!(
            denied_for_tls(&binary).unwrap(),
            denied_for_tls(SETTINGS.as_bytes()).unwrap()
        );
        assert_eq!(denied_for_tls(&binary).unwrap().len(), 2);
        // Cut short, it is refused rather than half-read.
        assert!(denied_for_tls(&binary[..binary.len() - 8]).is_err());
    }

    /// Far deeper than trust settings nest, in either form: refused, not a
    /// stack overflow (a plist's values are dropped recursively).
    #[test]
    fn deep_plists_are_refused() {
        let n = 200_000;
        let xml = format!(
            "<plist>{}{}</plist>",
            "<array>".repeat(n),
            "</array>".repeat(n)
        );
        assert!(matches!(
            denied_for_tls(xml.as_bytes()),
            Err(TrustSettingsError::TooDeep)
        ));
        // And a deep one followed by a second root, which plist's own
        // builder would drop whole.
        let xml = format!(
            "<plist>{}{}<string/></plist>",
            "<array>".repeat(n),
            "</array>".repeat(n)
        );
        assert!(denied_for_tls(xml.as_bytes()).is_err());
    }

    /// One binary object named from everywhere: each reference is a copy,
    /// so the file expands far beyond its size. Refused once the copies
    /// pass the bound, not built.
    #[test]
    fn binary_plists_that_expand_are_refused() {
        // bplist00: object 0 a data blob of 64 KiB, objects 1..=16 arrays
        // each holding 255 references to the previous one.
        let blob = 64 * 1024;
        let mut objects: Vec<Vec<u8>> = vec![
            [
                &[0x4f, 0x12][..],
                &(blob as u32).to_be_bytes(),
                &vec![0u8; blob],
            ]
            .concat(),
        ];
        for level in 1..=16u8 {
            let mut a = vec![0xaf, 0x10, 0xff];
            a.extend(std::iter::repeat_n(level - 1, 255));
            objects.push(a);
        }
        let mut file = b"bplist00".to_vec();
        let mut offsets = Vec::new();
        for o in &objects {
            offsets.push(file.len() as u32);
            file.extend(o);
        }
        let table = file.len() as u64;
        for o in &offsets {
            file.extend(o.to_be_bytes());
        }
        file.extend([0u8; 6]);
        file.extend([4, 1]); // offset size, reference size
        file.extend((objects.len() as u64).to_be_bytes());
        file.extend((objects.len() as u64 - 1).to_be_bytes()); // the root
        file.extend(table.to_be_bytes());
        assert!(matches!(
            denied_for_tls(&file),
            Err(TrustSettingsError::TooLarge)
        ));
    }

    #[test]
    fn broken_plists_are_errors_not_panics() {
        for bad in [
            "",
            "<plist>",
            "<plist><dict><key>a</key>",
            "<plist><dict><string>x</string></dict></plist>",
            "<plist><integer>x</integer></plist>",
            "<plist><array/></plist>",
            "<plist><dict><key>trustList</key><string>x</string></dict></plist>",
            "bplist00",
            &"<plist>".repeat(3),
            &format!("<plist>{}", "<array>".repeat(100)),
        ] {
            assert!(denied_for_tls(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
