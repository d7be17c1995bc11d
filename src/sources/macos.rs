//! macOS: the system roots and the admin keychain, exported with `security`,
//! less what the admin's trust settings deny. An export made on a Mac can be
//! given with `--macos-export` on any OS, so a bundle for a Mac (and this
//! code) can be built and tested anywhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::os::OsInfo;
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
        family: Some("macos".into()),
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

/// SHA-1s of the certificates whose trust settings deny them for TLS:
/// a `kSecTrustSettingsResult` of Deny in an entry that applies to every
/// policy or to the SSL one.
fn denied_for_tls(bytes: &[u8]) -> Result<Vec<[u8; 20]>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 XML (a binary plist?)")?;
    let root = plist::parse(text)?;
    let Some(list) = root.get("trustList") else {
        return Err("no trustList".into());
    };
    let plist::Value::Dict(entries) = list else {
        return Err("trustList is not a dict".into());
    };
    let mut denied = Vec::new();
    for (key, entry) in entries {
        let Some(sha1) = parse_sha1(key) else {
            continue;
        };
        let Some(plist::Value::Array(settings)) = entry.get("trustSettings") else {
            continue;
        };
        let deny = settings.iter().any(|s| {
            let result = match s.get("kSecTrustSettingsResult") {
                Some(plist::Value::Integer(i)) => *i,
                _ => 1, // kSecTrustSettingsResultTrustRoot
            };
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

fn parse_sha1(hex: &str) -> Option<[u8; 20]> {
    if hex.len() != 40 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Just enough of Apple's XML property lists for trust settings.
mod plist {
    #[derive(Debug, PartialEq)]
    pub enum Value {
        Dict(Vec<(String, Value)>),
        Array(Vec<Value>),
        String(String),
        Data(Vec<u8>),
        Integer(i64),
        Other,
    }

    impl Value {
        pub fn get(&self, key: &str) -> Option<&Value> {
            match self {
                Value::Dict(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
                _ => None,
            }
        }
    }

    #[derive(Debug, PartialEq)]
    enum Token<'a> {
        Open(&'a str),
        Close(&'a str),
        Empty(&'a str),
        Text(&'a str),
    }

    /// Plists nest a few levels; a bound keeps hostile input from
    /// exhausting the stack.
    const MAX_DEPTH: usize = 32;

    pub fn parse(text: &str) -> Result<Value, String> {
        let tokens = tokenize(text)?;
        let mut pos = 0;
        // Skip to the root element inside <plist>.
        while let Some(t) = tokens.get(pos) {
            pos += 1;
            if *t == Token::Open("plist") {
                return value(&tokens, &mut pos, 0);
            }
        }
        Err("no <plist> element".into())
    }

    fn tokenize<'a>(text: &'a str) -> Result<Vec<Token<'a>>, String> {
        let mut tokens = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('<') {
            let between = rest[..start].trim();
            if !between.is_empty() {
                tokens.push(Token::Text(between));
            }
            let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if tag.starts_with('?') || tag.starts_with('!') {
                continue;
            }
            let name = |t: &'a str| -> &'a str { t.split_whitespace().next().unwrap_or("") };
            if let Some(t) = tag.strip_prefix('/') {
                tokens.push(Token::Close(name(t)));
            } else if let Some(t) = tag.strip_suffix('/') {
                tokens.push(Token::Empty(name(t)));
            } else {
                tokens.push(Token::Open(name(tag)));
            }
        }
        Ok(tokens)
    }

    fn value(tokens: &[Token], pos: &mut usize, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        let token = tokens.get(*pos).ok_or("ends early")?;
        *pos += 1;
        match token {
            Token::Empty("dict") => Ok(Value::Dict(Vec::new())),
            Token::Empty("array") => Ok(Value::Array(Vec::new())),
            Token::Empty(_) => Ok(Value::Other),
            Token::Open("dict") => {
                let mut entries = Vec::new();
                loop {
                    match tokens.get(*pos) {
                        Some(Token::Close("dict")) => {
                            *pos += 1;
                            return Ok(Value::Dict(entries));
                        }
                        Some(Token::Open("key")) => {
                            *pos += 1;
                            let key = text(tokens, pos, "key")?;
                            entries.push((key, value(tokens, pos, depth + 1)?));
                        }
                        _ => return Err("expected <key> in <dict>".into()),
                    }
                }
            }
            Token::Open("array") => {
                let mut items = Vec::new();
                loop {
                    if tokens.get(*pos) == Some(&Token::Close("array")) {
                        *pos += 1;
                        return Ok(Value::Array(items));
                    }
                    items.push(value(tokens, pos, depth + 1)?);
                }
            }
            Token::Open(kind @ ("string" | "data" | "integer" | "date" | "real")) => {
                let t = text(tokens, pos, kind)?;
                Ok(match *kind {
                    "string" => Value::String(t),
                    "integer" => {
                        Value::Integer(t.parse().map_err(|_| format!("bad integer {t:?}"))?)
                    }
                    "data" => {
                        let b64: String = t.chars().filter(|c| !c.is_whitespace()).collect();
                        Value::Data(
                            data_encoding::BASE64
                                .decode(b64.as_bytes())
                                .map_err(|e| format!("bad <data>: {e}"))?,
                        )
                    }
                    _ => Value::Other,
                })
            }
            t => Err(format!("unexpected {t:?}")),
        }
    }

    /// The text of an element whose open tag was just read, and its close.
    fn text(tokens: &[Token], pos: &mut usize, kind: &str) -> Result<String, String> {
        let mut out = String::new();
        if let Some(Token::Text(t)) = tokens.get(*pos) {
            out = t
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&");
            *pos += 1;
        }
        match tokens.get(*pos) {
            Some(Token::Close(k)) if *k == kind => {
                *pos += 1;
                Ok(out)
            }
            _ => Err(format!("<{kind}> not closed")),
        }
    }
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
		<dict>
			<key>trustSettings</key>
			<array>
				<dict>
					<key>kSecTrustSettingsPolicyName</key>
					<string>smime</string>
					<key>kSecTrustSettingsResult</key>
					<integer>3</integer>
				</dict>
			</array>
		</dict>
		<key>3333333333333333333333333333333333333333</key>
		<dict>
			<key>trustSettings</key>
			<array><dict><key>kSecTrustSettingsResult</key><integer>3</integer></dict></array>
		</dict>
	</dict>
	<key>trustVersion</key>
	<integer>1</integer>
</dict>
</plist>
"#;

    #[test]
    fn deny_for_ssl_or_for_everything_is_distrust() {
        let denied = denied_for_tls(SETTINGS.as_bytes()).unwrap();
        assert_eq!(
            denied,
            [
                parse_sha1("0563B8630D62D75ABBC8AB1E4BDFB5A899B24D43").unwrap(),
                [0x33; 20]
            ]
        );
    }

    #[test]
    fn broken_plists_are_errors_not_panics() {
        for bad in [
            "",
            "<plist>",
            "<plist><dict><key>a</key>",
            "<plist><dict><string>x</string></dict></plist>",
            "<plist><integer>x</integer></plist>",
            &"<plist>".repeat(3),
            &format!("<plist>{}", "<array>".repeat(100)),
        ] {
            assert!(denied_for_tls(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
