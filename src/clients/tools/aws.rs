//! The AWS CLI and boto3, both botocore inside: the CA file they verify
//! with, and `ca_bundle` in `~/.aws/config`.
//!
//! Its precedence (botocore 1.x `configprovider.py`, `session.py`,
//! `configloader.py`, `httpsession.py`; the AWS CLI v1 and v2 alike):
//!
//! 1. `--ca-bundle` on an `aws` command line, `verify=` in code (per
//!    command: not reported).
//! 2. `AWS_CA_BUNDLE`.
//! 3. `ca_bundle` in the profile's settings. The profile is
//!    `AWS_DEFAULT_PROFILE`, else `AWS_PROFILE`, else `default` (one named
//!    that is in neither file stops botocore: `ProfileNotFound`). Its
//!    settings are its section in the config file (`AWS_CONFIG_FILE`, else
//!    `~/.aws/config`; `[default]` or `[profile NAME]`, the last such
//!    section when there are two), overridden key by key by its section
//!    in the credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
//!    `~/.aws/credentials`; `[NAME]`). Both are read with Python's
//!    configparser: keys in any case, `=` or `:`, whole-line `#`/`;`
//!    comments, and a `[DEFAULT]` section gives its keys to every section.
//!    A file configparser refuses stops botocore (`ConfigParseError`).
//! 4. Else certifi's `cacert.pem` when certifi is installed beside it,
//!    else botocore's own `botocore/cacert.pem`: a copy of Mozilla's roots
//!    with none of the user's CAs.
//!
//! cabundle sets `ca_bundle` under `[default]` in the config file; a
//! profile of another name is pointed at the bundle by hand (or by
//! `AWS_CA_BUNDLE`, which `cabundle env` sets).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::edit::{Format, Owned};
use super::{Context, Report, State, Tool, fix, pointed_at};

pub static AWS: Tool = Tool {
    name: "aws",
    programs: &["aws"],
    report,
    config: Some(Owned {
        file: config_file,
        format: Format::Ini {
            section: "default",
            key: "ca_bundle",
        },
        value: bundle,
    }),
};

fn bundle(ctx: &Context) -> String {
    ctx.bundle.display().to_string()
}

/// `AWS_CONFIG_FILE`, else `~/.aws/config`.
fn config_file(ctx: &Context) -> PathBuf {
    ctx.var("AWS_CONFIG_FILE")
        .map(|p| expand_home(ctx, p))
        .unwrap_or_else(|| ctx.in_home(".aws/config"))
}

/// `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
fn credentials_file(ctx: &Context) -> PathBuf {
    ctx.var("AWS_SHARED_CREDENTIALS_FILE")
        .map(|p| expand_home(ctx, p))
        .unwrap_or_else(|| ctx.in_home(".aws/credentials"))
}

/// A leading `~` as the home folder (botocore expands it).
fn expand_home(ctx: &Context, path: &str) -> PathBuf {
    match path.strip_prefix('~') {
        Some("") => ctx.home.clone(),
        Some(rest) if rest.starts_with('/') => ctx.home.join(&rest[1..]),
        _ => PathBuf::from(path),
    }
}

/// The profile botocore uses, and whether it was named.
fn profile(ctx: &Context) -> (String, bool) {
    match ctx
        .var("AWS_DEFAULT_PROFILE")
        .or_else(|| ctx.var("AWS_PROFILE"))
    {
        Some(p) => (p.to_string(), true),
        None => ("default".to_string(), false),
    }
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    if let Some(file) = ctx.var("AWS_CA_BUNDLE") {
        return pointed_at(ctx, "aws", program, Path::new(file), "AWS_CA_BUNDLE".into());
    }
    let (name, named) = profile(ctx);
    let config = config_file(ctx);
    let credentials = credentials_file(ctx);
    let stopped = |uses: String, why: String| Report {
        tool: "aws",
        program: program.clone(),
        state: State::UsesOther,
        uses,
        from: "nothing: botocore stops".into(),
        lacks: Some(why),
        fix: Some(fix("aws")),
    };
    let mut profiles: BTreeMap<String, BTreeMap<String, (String, PathBuf)>> = BTreeMap::new();
    for (file, is_config) in [(&config, true), (&credentials, false)] {
        let Some(text) = read(file) else { continue };
        let parsed = match ConfigParser::parse(&text) {
            Ok(p) => p,
            Err(e) => {
                return stopped(
                    format!("nothing: {} cannot be read", file.display()),
                    format!("{}: {e}; botocore refuses every command", file.display()),
                );
            }
        };
        for (section, keys) in parsed.sections {
            let Some(profile) = profile_of(&section, is_config) else {
                continue;
            };
            let keys = keys.into_iter().map(|(k, v)| (k, (v, file.clone())));
            let entry = profiles.entry(profile).or_default();
            if is_config {
                // A later section of the same profile replaces it whole.
                *entry = keys.collect();
            } else {
                entry.extend(keys);
            }
        }
    }
    match profiles.get(&name) {
        None if named => {
            return stopped(
                "nothing".into(),
                format!(
                    "profile {name} is in neither {} nor {}: botocore stops (ProfileNotFound)",
                    config.display(),
                    credentials.display()
                ),
            );
        }
        Some(keys) => {
            if let Some((value, file)) = keys.get("ca_bundle").filter(|(v, _)| !v.is_empty()) {
                let section = match (file == &config, name.as_str()) {
                    (true, "default") => "[default]".to_string(),
                    (true, _) => format!("[profile {name}]"),
                    (false, _) => format!("[{name}]"),
                };
                return pointed_at(
                    ctx,
                    "aws",
                    program,
                    &expand_home(ctx, value),
                    format!("{} {section}: ca_bundle", file.display()),
                );
            }
        }
        None => {}
    }
    Report {
        tool: "aws",
        program,
        state: State::NotSetUp,
        uses: "its default: certifi's cacert.pem, else botocore's own".into(),
        from: "nothing set".into(),
        lacks: None,
        fix: Some(if name == "default" {
            fix("aws")
        } else {
            format!(
                "set ca_bundle in [profile {name}] of {}, or AWS_CA_BUNDLE (cabundle env)",
                config.display()
            )
        }),
    }
}

fn read(path: &Path) -> Option<String> {
    let bytes = crate::decode::read_bounded(path).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The profile a section holds, as botocore maps them: in the config file
/// `[default]`, and `[profile NAME]` (any section starting with "profile"
/// that splits, shell-like, into two words); in the credentials file every
/// section by its own name.
fn profile_of(section: &str, in_config: bool) -> Option<String> {
    if !in_config {
        return Some(section.to_string());
    }
    if section.starts_with("profile") {
        let words = shell_words(section)?;
        return (words.len() == 2).then(|| words[1].clone());
    }
    (section == "default").then(|| section.to_string())
}

/// Words split as Python's `shlex.split` does for what a section name
/// holds: at white space, with single and double quotes; `None` when a
/// quote is not closed.
fn shell_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' | '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        q if q == c => break,
                        '\\' if c == '"' => w.push(chars.next()?),
                        other => w.push(other),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Some(words)
}

/// An INI file as Python's configparser reads it (botocore's
/// `RawConfigParser`, gcloud's `ConfigParser`): sections in file order by
/// their exact name, each with its keys in lower case (and those of
/// `[DEFAULT]` it does not set); `=` or `:` between key and value;
/// whole-line `#` and `;` comments; an indented line continues the value
/// above. What configparser refuses is an error naming its line: a key
/// before any section, a line with neither `=` nor `:`, a section or a
/// key of a section twice.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ConfigParser {
    pub sections: Vec<(String, BTreeMap<String, String>)>,
}

impl ConfigParser {
    pub fn parse(text: &str) -> Result<ConfigParser, String> {
        const DEFAULT: &str = "DEFAULT";
        let mut sections: Vec<(String, BTreeMap<String, Vec<String>>)> = Vec::new();
        let mut defaults: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current: Option<Option<usize>> = None; // Some(None): DEFAULT
        let mut key: Option<String> = None;
        let mut indent = 0;
        let mut seen_default = false;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let trimmed = raw.trim();
            let comment = trimmed.starts_with('#') || trimmed.starts_with(';');
            let value = if comment { "" } else { trimmed };
            let keys = match current {
                None => None,
                Some(None) => Some(&mut defaults),
                Some(Some(at)) => Some(&mut sections[at].1),
            };
            if value.is_empty() {
                if !comment
                    && let (Some(keys), Some(k)) = (keys, &key)
                    && let Some(v) = keys.get_mut(k)
                {
                    v.push(String::new());
                }
                continue;
            }
            let level = raw.len() - raw.trim_start().len();
            if let (Some(keys), Some(k)) = (keys, &key)
                && level > indent
            {
                if let Some(v) = keys.get_mut(k) {
                    v.push(value.to_string());
                }
                continue;
            }
            indent = level;
            if let Some(inner) = value.strip_prefix('[')
                && let Some(end) = inner.rfind(']')
                && end > 0
            {
                let name = &inner[..end];
                key = None;
                if name == DEFAULT {
                    if seen_default {
                        return Err(format!("line {n}: section [{name}] a second time"));
                    }
                    seen_default = true;
                    current = Some(None);
                } else {
                    if sections.iter().any(|(s, _)| s == name) {
                        return Err(format!("line {n}: section [{name}] a second time"));
                    }
                    sections.push((name.to_string(), BTreeMap::new()));
                    current = Some(Some(sections.len() - 1));
                }
                continue;
            }
            let keys = match current {
                None => return Err(format!("line {n}: a setting before any [section]")),
                Some(None) => &mut defaults,
                Some(Some(at)) => &mut sections[at].1,
            };
            let Some(at) = value.find(['=', ':']) else {
                return Err(format!("line {n}: neither a [section] nor key = value"));
            };
            let name = value[..at].trim_end().to_lowercase();
            if name.is_empty() {
                return Err(format!("line {n}: a value without its key"));
            }
            if keys.contains_key(&name) {
                return Err(format!("line {n}: {name} a second time in its section"));
            }
            keys.insert(name.clone(), vec![value[at + 1..].trim().to_string()]);
            key = Some(name);
        }
        let join = |v: Vec<String>| v.join("\n").trim_end().to_string();
        let defaults: BTreeMap<String, String> =
            defaults.into_iter().map(|(k, v)| (k, join(v))).collect();
        Ok(ConfigParser {
            sections: sections
                .into_iter()
                .map(|(name, keys)| {
                    let mut all = defaults.clone();
                    all.extend(keys.into_iter().map(|(k, v)| (k, join(v))));
                    (name, all)
                })
                .collect(),
        })
    }

    /// A key of a section (or `[DEFAULT]`'s), when the section exists.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .iter()
            .find(|(s, _)| s == section)
            .and_then(|(_, keys)| keys.get(key))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(home: &Path, env: &[(&str, &str)]) -> Context {
        Context::for_test(home, env)
    }
    use crate::test_support::write;

    #[test]
    fn configparser_reads_what_python_reads() {
        let text = "# top\n[DEFAULT]\nregion = eu-west-1\n\n[default]\nCA_BUNDLE: /a.pem\n\
                    s3 =\n  max_concurrent_requests = 20\n\n  addressing_style = path\n; c\n\
                    [profile work]\nregion=us-east-1\n";
        let p = ConfigParser::parse(text).unwrap();
        assert_eq!(p.get("default", "ca_bundle"), Some("/a.pem"));
        assert_eq!(p.get("default", "region"), Some("eu-west-1"));
        assert_eq!(
            p.get("default", "s3"),
            Some("\nmax_concurrent_requests = 20\n\naddressing_style = path")
        );
        assert_eq!(p.get("profile work", "region"), Some("us-east-1"));
        assert_eq!(p.get("DEFAULT", "region"), None, "not a section of its own");
        for (bad, line) in [
            ("ca_bundle = /a.pem\n", 1),
            ("[default]\nthis is not ini\n", 2),
            ("[default]\nx = 1\n[default]\n", 3),
            ("[default]\nx = 1\nX = 2\n", 3),
            ("[default]\n= 1\n", 2),
        ] {
            let e = ConfigParser::parse(bad).unwrap_err();
            assert!(e.starts_with(&format!("line {line}:")), "{bad:?}: {e}");
        }
        assert_eq!(
            shell_words("profile \"my team\"").unwrap(),
            ["profile", "my team"]
        );
        assert_eq!(profile_of("profile  work", true).as_deref(), Some("work"));
        assert_eq!(profile_of("profile", true), None);
        assert_eq!(profile_of("preview", true), None);
        assert_eq!(profile_of("work", false).as_deref(), Some("work"));
    }

    #[test]
    fn aws_ca_bundle_then_the_profile_credentials_over_config() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        write(
            &home.join(".aws/config"),
            "[default]\nca_bundle = /config-default.pem\n[profile work]\nca_bundle = ~/work.pem\n",
        );
        let c = ctx(home, &[]);
        let r = report(&c, None);
        assert_eq!(r.uses, "/config-default.pem");
        assert!(
            r.from.ends_with(".aws/config [default]: ca_bundle"),
            "{}",
            r.from
        );
        // A variable beats the file.
        let c = ctx(home, &[("AWS_CA_BUNDLE", "/env.pem")]);
        assert_eq!(report(&c, None).from, "AWS_CA_BUNDLE");
        // The profile: AWS_DEFAULT_PROFILE over AWS_PROFILE; ~ expanded.
        let c = ctx(
            home,
            &[("AWS_DEFAULT_PROFILE", "work"), ("AWS_PROFILE", "nope")],
        );
        let r = report(&c, None);
        assert_eq!(r.uses, home.join("work.pem").display().to_string());
        assert!(r.from.ends_with("[profile work]: ca_bundle"));
        // The credentials file overrides the config file's key.
        write(
            &home.join(".aws/credentials"),
            "[work]\naws_access_key_id = x\nca_bundle = /creds.pem\n",
        );
        let c = ctx(home, &[("AWS_PROFILE", "work")]);
        assert_eq!(report(&c, None).uses, "/creds.pem");
        // A profile in neither file stops botocore.
        let c = ctx(home, &[("AWS_PROFILE", "gone")]);
        let r = report(&c, None);
        assert_eq!(r.state, State::UsesOther);
        assert!(r.lacks.unwrap().contains("ProfileNotFound"));
        // AWS_CONFIG_FILE elsewhere, with nothing set: botocore's default.
        let other = home.join("elsewhere/config");
        write(&other, "[default]\nregion = eu-west-1\n");
        let c = ctx(home, &[("AWS_CONFIG_FILE", other.to_str().unwrap())]);
        assert_eq!(config_file(&c), other);
        let r = report(&c, None);
        assert_eq!(r.state, State::NotSetUp);
        assert_eq!(r.fix.as_deref(), Some("cabundle install --clients aws"));
        // A file configparser refuses: botocore stops, and says where.
        write(&other, "[default]\nnot ini\n");
        let r = report(&c, None);
        assert_eq!(r.state, State::UsesOther);
        assert!(r.lacks.unwrap().contains("line 2"));
    }
}
