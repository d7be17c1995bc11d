//! Setting one key in a tool's own config file, and taking it out again.
//!
//! cabundle owns one key per tool (pip's `cert`, npm's `cafile`...). It
//! edits that key only, keeping every other line, comment and blank line
//! as it was. Each change is recorded (`clients.json` in the config
//! folder) with the file's original bytes kept beside it:
//! `uninstall --clients` puts the original back byte for byte when the
//! file is as cabundle left it, and otherwise takes out only its own key.
//! A file that is a link, or that cabundle cannot read as its format, is
//! reported and left alone; a key the user points elsewhere is left alone
//! unless `--force`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Context;
use crate::cert::Sha256;
use crate::error::{Error, IoContext, Result};
use crate::state::{self, Paths};

/// The key a tool's config file holds that cabundle sets.
pub struct Owned {
    /// Where the file is (the user's own: `~/.npmrc`, `~/.config/pip/pip.conf`).
    pub file: fn(&Context) -> PathBuf,
    pub format: Format,
    /// The value pointing the tool at the bundle.
    pub value: fn(&Context) -> String,
}

impl Owned {
    pub fn path(&self, ctx: &Context) -> PathBuf {
        (self.file)(ctx)
    }
}

/// How a config file is written, and which key is ours.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    /// INI: `key = value` lines under `[section]` headers (pip.conf, git's
    /// config, AWS's config, gcloud's properties). Keys match without
    /// regard to case, as git and configparser do.
    Ini {
        section: &'static str,
        key: &'static str,
    },
    /// `key=value` lines with no sections (.npmrc, .curlrc).
    Lines { key: &'static str },
    /// A top-level scalar key of a YAML mapping (.condarc).
    YamlTop { key: &'static str },
    /// curl's config (`.curlrc`): one option a line, as `name = "value"`,
    /// `name value`, `name: value` or `--name value`. cabundle's setting
    /// is two options: `cacert`, the value, and `capath`, the hashed folder
    /// beside it (`Paths::cert_dir`), since curl keeps its build's CA
    /// folder unless told another.
    Curlrc,
    /// A key of a TOML table (cargo's `config.toml`): read with a TOML
    /// parser, written as a quoted string under `[table]`; a result that
    /// does not parse back to exactly the old document plus our key (a
    /// dotted key, an inline table) is refused.
    Toml {
        table: &'static str,
        key: &'static str,
    },
    /// A file cabundle owns whole (systemd's `environment.d/60-cabundle.conf`):
    /// its whole text is the value, created and removed whole.
    Whole,
}

/// What a file holds for our key, in `format`.
pub fn get(format: Format, text: &str) -> std::result::Result<Option<String>, String> {
    match format {
        Format::Curlrc => Ok(curlrc_get(text)),
        Format::Toml { table, key } => toml_get(text, table, key),
        Format::Whole => Ok((!text.is_empty()).then(|| text.to_string())),
        _ => Ok(find(format, text)?.map(|(_, value)| value)),
    }
}

/// `text` with our key set to `value`, everything else as it was.
pub fn put(format: Format, text: &str, value: &str) -> std::result::Result<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let line = match format {
        Format::Ini { key, .. } => format!("{key} = {value}"),
        Format::Lines { key } => format!("{key}={value}"),
        Format::YamlTop { key } => format!("{key}: {}", yaml_scalar(value)),
        Format::Curlrc => return Ok(curlrc_put(text, value)),
        Format::Toml { table, key } => return toml_put(text, table, key, value),
        Format::Whole => return Ok(value.to_string()),
    };
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    match find(format, text)? {
        Some((at, _)) => {
            let indent: String = lines[at]
                .chars()
                .take_while(|c| c.is_whitespace())
                .collect();
            out[at] = format!("{indent}{line}");
        }
        None => match format {
            Format::Ini { section, .. } => match section_end(&lines, section)? {
                Some(end) => out.insert(end, line),
                None => {
                    if out.last().is_some_and(|l| !l.trim().is_empty()) {
                        out.push(String::new());
                    }
                    out.push(format!("[{section}]"));
                    out.push(line);
                }
            },
            _ => out.push(line),
        },
    }
    Ok(out.join("\n") + "\n")
}

/// `text` without our key, when it holds `value` there (a value the user
/// set since is theirs); `None` when there is nothing of ours to take.
pub fn take(
    format: Format,
    text: &str,
    value: &str,
) -> std::result::Result<Option<String>, String> {
    match format {
        Format::Curlrc => return Ok(curlrc_take(text, value)),
        Format::Toml { table, key } => return toml_take(text, table, key, value),
        Format::Whole => return Ok((text == value).then(String::new)),
        _ => {}
    }
    let Some((at, current)) = find(format, text)? else {
        return Ok(None);
    };
    if current != value && current != yaml_scalar(value) {
        return Ok(None);
    }
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(at);
    let mut out = lines.join("\n");
    if !out.is_empty() || text.ends_with('\n') {
        out.push('\n');
    }
    Ok(Some(out))
}

/// The line of our key and its value (unquoted), or `None`; an error
/// saying why when the text is not what its format allows.
fn find(format: Format, text: &str) -> std::result::Result<Option<(usize, String)>, String> {
    let mut section: Option<String> = None;
    let mut found = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        match format {
            Format::Ini { section: want, key } => {
                if line.starts_with('[') {
                    let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next())
                    else {
                        return Err(format!("line {n}: a section header without its ']'"));
                    };
                    if !line.contains(']') {
                        return Err(format!("line {n}: a section header without its ']'"));
                    }
                    section = Some(name.trim().to_ascii_lowercase());
                    continue;
                }
                if raw.starts_with([' ', '\t']) && !line.contains('=') {
                    // A continuation of the previous value (configparser).
                    // An indented key = value is a key, as git indents them.
                    continue;
                }
                let Some((k, v)) = line.split_once('=') else {
                    return Err(format!("line {n}: neither a [section] nor key = value"));
                };
                if section.as_deref() == Some(&want.to_ascii_lowercase())
                    && k.trim().eq_ignore_ascii_case(key)
                {
                    found = Some((i, unquote(v.trim())));
                }
            }
            Format::Lines { key } => {
                let Some((k, v)) = line.split_once('=') else {
                    return Err(format!("line {n}: not key=value"));
                };
                if k.trim() == key {
                    found = Some((i, unquote(v.trim())));
                }
            }
            Format::YamlTop { key } => {
                if raw.starts_with('\t') {
                    return Err(format!(
                        "line {n}: a tab before the text, which YAML forbids"
                    ));
                }
                if i == 0 && (line.starts_with('{') || line.starts_with('[')) {
                    return Err("a YAML document in flow style: edit it by hand".into());
                }
                if raw.starts_with(' ') || raw.starts_with('-') {
                    continue;
                }
                if line == "---" || line == "..." {
                    continue;
                }
                let Some((k, v)) = line.split_once(':') else {
                    return Err(format!("line {n}: not a top-level key: value"));
                };
                if k.trim() == key {
                    let v = v.split(" #").next().unwrap_or("").trim();
                    if v.is_empty() {
                        return Err(format!(
                            "line {n}: {key} holds a nested value: edit it by hand"
                        ));
                    }
                    found = Some((i, unquote(v)));
                }
            }
            Format::Curlrc | Format::Toml { .. } | Format::Whole => {
                unreachable!("read by their own functions")
            }
        }
    }
    Ok(found)
}

/// Where a new key of `section` goes: after its last non-blank line.
/// `None` when there is no such section.
fn section_end(lines: &[&str], section: &str) -> std::result::Result<Option<usize>, String> {
    let mut start = None;
    let mut last = None;
    for (i, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        if line.starts_with('[') {
            let name = line
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if start.is_some() {
                break;
            }
            if name == section.to_ascii_lowercase() {
                start = Some(i);
                last = Some(i);
            }
            continue;
        }
        if start.is_some() && !line.is_empty() {
            last = Some(i);
        }
    }
    Ok(last.map(|l| l + 1))
}

fn unquote(v: &str) -> String {
    let quoted = |q: char| v.len() >= 2 && v.starts_with(q) && v.ends_with(q);
    if quoted('"') || quoted('\'') {
        v[1..v.len() - 1].to_string()
    } else {
        v.to_string()
    }
}

/// A path as a YAML plain scalar where it can be one, else single-quoted.
fn yaml_scalar(value: &str) -> String {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+~".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

/// One option of a `.curlrc` line, as curl's own parser reads it: its name
/// (without the dashes, in lower case) and its value. `None` for a
/// comment, a blank line, or an option without a value.
fn curl_option(raw: &str) -> Option<(String, String)> {
    let is_space = |c: char| c == ' ' || ('\t'..='\r').contains(&c);
    let line = raw.trim_start_matches(is_space);
    if line.is_empty() || line.starts_with(['#', '/', '*']) {
        return None;
    }
    let dashed = line.starts_with('-');
    let is_sep = |c: char| !dashed && (c == '=' || c == ':');
    let end = line
        .find(|c: char| is_space(c) || is_sep(c))
        .unwrap_or(line.len());
    let name = line[..end].to_ascii_lowercase();
    let name = match name.strip_prefix("--") {
        Some(long) => long.to_string(),
        // A short option: neither of ours has one.
        None if dashed => return None,
        None => name,
    };
    let rest = line[end..].trim_start_matches(|c: char| is_space(c) || is_sep(c));
    let value = match rest.strip_prefix('"') {
        Some(quoted) => curl_unquote(quoted),
        None => rest.split(is_space).next().unwrap_or("").to_string(),
    };
    (!value.is_empty()).then_some((name, value))
}

/// A quoted `.curlrc` value after its opening quote: up to the closing
/// one, with `\\`, `\"`, `\t`, `\n`, `\r`, `\v` escapes, and a backslash
/// before any other character dropped, as curl does.
fn curl_unquote(quoted: &str) -> String {
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('v') => out.push('\u{b}'),
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    out
}

/// `value` as a quoted `.curlrc` value.
fn curl_quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{b}' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Which of our two curl options `name` is: curl takes an unambiguous
/// prefix of a long option too (`cacer`), and `cac`/`cap` are the
/// shortest ones.
fn curl_key(name: &str) -> Option<&'static str> {
    ["cacert", "capath"]
        .into_iter()
        .find(|k| name.len() >= 3 && k.starts_with(name))
}

/// The folder cabundle's `capath` names for a bundle: the hashed folder
/// beside it, as `Paths::cert_dir`.
pub fn curl_capath(bundle: &str) -> String {
    Path::new(bundle)
        .with_file_name("certs")
        .to_string_lossy()
        .into_owned()
}

/// The last line setting each of `cacert` and `capath` (the last one
/// wins), with its value.
type CurlLines = [Option<(usize, String)>; 2];

fn curlrc_find(text: &str) -> CurlLines {
    let mut found: CurlLines = [None, None];
    for (i, raw) in text.lines().enumerate() {
        if let Some((name, value)) = curl_option(raw)
            && let Some(key) = curl_key(&name)
        {
            found[usize::from(key == "capath")] = Some((i, value));
        }
    }
    found
}

/// What a `.curlrc` sets `cacert` and `capath` to, as curl reads it (the
/// last of each wins).
pub fn curlrc_settings(text: &str) -> [Option<String>; 2] {
    curlrc_find(text).map(|at| at.map(|(_, value)| value))
}

/// The `.curlrc` setting in words: the bundle alone when `capath` is its
/// folder, else what each option holds.
fn curlrc_get(text: &str) -> Option<String> {
    match curlrc_find(text) {
        [None, None] => None,
        [Some((_, file)), Some((_, dir))] if dir == curl_capath(&file) => Some(file),
        [file, dir] => Some(
            [("cacert", file), ("capath", dir)]
                .into_iter()
                .map(|(k, v)| match v {
                    Some((_, v)) => format!("{k} {v}"),
                    None => format!("no {k}"),
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

fn curlrc_put(text: &str, value: &str) -> String {
    let mut out: Vec<String> = text.lines().map(str::to_string).collect();
    let found = curlrc_find(text);
    let wanted = [
        format!("cacert = {}", curl_quote(value)),
        format!("capath = {}", curl_quote(&curl_capath(value))),
    ];
    for (line, at) in wanted.into_iter().zip(found) {
        match at {
            Some((at, _)) => {
                let indent: String = out[at].chars().take_while(|c| c.is_whitespace()).collect();
                out[at] = format!("{indent}{line}");
            }
            None => out.push(line),
        }
    }
    out.join("\n") + "\n"
}

fn curlrc_take(text: &str, value: &str) -> Option<String> {
    let [file, dir] = curlrc_find(text);
    let ours: Vec<usize> = [(file, value.to_string()), (dir, curl_capath(value))]
        .into_iter()
        .filter_map(|(at, want)| at.filter(|(_, v)| *v == want).map(|(i, _)| i))
        .collect();
    if ours.is_empty() {
        return None;
    }
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| !ours.contains(i))
        .map(|(_, l)| l)
        .collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    Some(out)
}

/// A TOML document, or why it is not one.
fn toml_doc(text: &str) -> std::result::Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| {
        format!(
            "not TOML: {}",
            e.message().lines().next().unwrap_or("a syntax error")
        )
    })
}

fn toml_get(text: &str, table: &str, key: &str) -> std::result::Result<Option<String>, String> {
    let doc = toml_doc(text)?;
    let Some(t) = doc.get(table) else {
        return Ok(None);
    };
    let Some(t) = t.as_table() else {
        return Err(format!("{table} is not a table: edit it by hand"));
    };
    match t.get(key) {
        None => Ok(None),
        Some(toml::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{table}.{key} is not a string: edit it by hand")),
    }
}

/// `value` as a TOML basic string: double quotes, with `"`, `\\` and
/// control characters escaped.
fn toml_quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The document without `table.key` (nor the table, left empty), to
/// compare before and after.
fn toml_without(mut doc: toml::Table, table: &str, key: &str) -> toml::Table {
    if let Some(toml::Value::Table(t)) = doc.get_mut(table) {
        t.remove(key);
        if t.is_empty() {
            doc.remove(table);
        }
    }
    doc
}

/// Whether a line is the header `[table]` (spaces and a comment allowed).
fn toml_header(line: &str) -> Option<String> {
    let line = line.trim();
    let inner = line.strip_prefix('[')?;
    if inner.starts_with('[') {
        return Some(String::new());
    }
    let (name, rest) = inner.split_once(']')?;
    let rest = rest.trim();
    (rest.is_empty() || rest.starts_with('#')).then(|| name.trim().to_string())
}

/// The line of `key = ...` directly under `[table]`, and the line after
/// the table's last non-blank one.
fn toml_lines(text: &str, table: &str, key: &str) -> (Option<usize>, Option<usize>) {
    let mut inside = false;
    let mut at = None;
    let mut end = None;
    for (i, raw) in text.lines().enumerate() {
        if let Some(name) = toml_header(raw) {
            inside = name == table;
            if inside {
                end = Some(i + 1);
            }
            continue;
        }
        if !inside {
            continue;
        }
        let line = raw.trim();
        if !line.is_empty() {
            end = Some(i + 1);
        }
        if let Some((k, _)) = line.split_once('=') {
            let k = k.trim();
            if k == key || k == format!("\"{key}\"") || k == format!("'{key}'") {
                at = Some(i);
            }
        }
    }
    (at, end)
}

/// `new` when it parses to `old` with only `table.key` changed to `want`.
fn toml_checked(
    old: &str,
    new: String,
    table: &str,
    key: &str,
    want: Option<&str>,
) -> std::result::Result<String, String> {
    let refused =
        || format!("{table}.{key} is set in a form cabundle does not edit: edit it by hand");
    let (before, after) = (toml_doc(old)?, toml_doc(&new).map_err(|_| refused())?);
    let value = match after.get(table).and_then(|t| t.get(key)) {
        None => None,
        Some(toml::Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(refused()),
    };
    if value != want || toml_without(before, table, key) != toml_without(after.clone(), table, key)
    {
        return Err(refused());
    }
    Ok(new)
}

fn toml_put(
    text: &str,
    table: &str,
    key: &str,
    value: &str,
) -> std::result::Result<String, String> {
    toml_get(text, table, key)?;
    let line = format!("{key} = {}", toml_quote(value));
    let mut out: Vec<String> = text.lines().map(str::to_string).collect();
    match toml_lines(text, table, key) {
        (Some(at), _) => {
            let indent: String = out[at].chars().take_while(|c| c.is_whitespace()).collect();
            out[at] = format!("{indent}{line}");
        }
        (None, Some(end)) => out.insert(end, line),
        (None, None) => {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(format!("[{table}]"));
            out.push(line);
        }
    }
    toml_checked(text, out.join("\n") + "\n", table, key, Some(value))
}

fn toml_take(
    text: &str,
    table: &str,
    key: &str,
    value: &str,
) -> std::result::Result<Option<String>, String> {
    if toml_get(text, table, key)?.as_deref() != Some(value) {
        return Ok(None);
    }
    let Some(at) = toml_lines(text, table, key).0 else {
        return Err(format!(
            "{table}.{key} is set in a form cabundle does not edit: edit it by hand"
        ));
    };
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != at)
        .map(|(_, l)| l)
        .collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    toml_checked(text, out, table, key, None).map(Some)
}

/// The record of every config file `install --clients` changed.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub files: BTreeMap<PathBuf, Change>,
}

/// One file changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub tool: String,
    /// The original's SHA-256 (its bytes are kept under that name), or
    /// `None` when there was no file.
    pub original: Option<Sha256>,
    /// What cabundle wrote.
    pub written: Sha256,
    /// The value it set.
    pub value: String,
    pub mode: u32,
}

impl Record {
    pub fn load(paths: &Paths) -> Result<Record> {
        state::load_record(&record_path(paths))
    }

    fn save(&self, paths: &Paths) -> Result<()> {
        state::save_record(&record_path(paths), self)
    }
}

fn record_path(paths: &Paths) -> PathBuf {
    paths.config_dir.join("clients.json")
}

fn backup(paths: &Paths, sha: &Sha256) -> PathBuf {
    paths
        .config_dir
        .join("clients-originals")
        .join(format!("{sha}"))
}

/// What became of one tool's config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub tool: String,
    pub path: PathBuf,
    pub done: Done,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "done", rename_all = "kebab-case")]
pub enum Done {
    /// The key now points at the bundle.
    Set { value: String },
    /// It already did.
    Unchanged,
    /// `uninstall`: the file is back as it was.
    Restored,
    /// `uninstall`: the file changed since, so only our key was taken out.
    KeyRemoved,
    /// Left alone, and why.
    Skipped { why: Why },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Why {
    /// The user points the key elsewhere (`--force` replaces it).
    SetElsewhere {
        value: String,
    },
    /// The file is a link: cabundle does not write through it.
    Link {
        target: PathBuf,
    },
    /// Not what its format allows, or not UTF-8.
    Malformed {
        reason: String,
    },
    NotWritable {
        reason: String,
    },
    /// `uninstall`: cabundle never set it.
    NotInstalled,
    /// `uninstall`: the user changed our key since; theirs now.
    ChangedSince,
}

fn outcome(tool: &str, path: &Path, done: Done) -> Outcome {
    Outcome {
        tool: tool.to_string(),
        path: path.to_path_buf(),
        done,
    }
}

fn skipped(tool: &str, path: &Path, why: Why) -> Outcome {
    outcome(tool, path, Done::Skipped { why })
}

/// The file's text, `None` when there is none; a link or unreadable text
/// is the reason it is left alone.
fn read_text(path: &Path) -> std::result::Result<Option<(String, u32)>, Why> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Why::NotWritable {
            reason: e.to_string(),
        }),
        Ok(m) if m.file_type().is_symlink() => Err(Why::Link {
            target: fs::read_link(path).unwrap_or_default(),
        }),
        Ok(m) if !m.is_file() => Err(Why::Malformed {
            reason: "not a regular file".into(),
        }),
        Ok(m) => {
            let bytes = crate::decode::read_bounded(path).map_err(|e| Why::Malformed {
                reason: e.to_string(),
            })?;
            let text = String::from_utf8(bytes).map_err(|_| Why::Malformed {
                reason: "not UTF-8 text".into(),
            })?;
            Ok(Some((text, m.permissions().mode() & 0o7777)))
        }
    }
}

/// Set `tool`'s key to the bundle (see the module's doc).
pub fn set(
    paths: &Paths,
    record: &mut Record,
    ctx: &Context,
    tool: &str,
    owned: &Owned,
    force: bool,
) -> Result<Outcome> {
    let path = owned.path(ctx);
    let value = (owned.value)(ctx);
    let (text, mode) = match read_text(&path) {
        Ok(Some((text, mode))) => (Some(text), mode),
        Ok(None) => (None, 0o644),
        Err(why) => return Ok(skipped(tool, &path, why)),
    };
    let current_text = text.clone().unwrap_or_default();
    let current = match get(owned.format, &current_text) {
        Ok(v) => v,
        Err(reason) => return Ok(skipped(tool, &path, Why::Malformed { reason })),
    };
    if current.as_deref() == Some(value.as_str()) {
        return Ok(outcome(tool, &path, Done::Unchanged));
    }
    // A value cabundle set itself, in a file nobody touched since, is not
    // the user's: replaced without --force (the bundle moved, or cabundle
    // now writes more).
    let ours = text.as_ref().is_some_and(|t| {
        record
            .files
            .get(&path)
            .is_some_and(|c| c.written == Sha256::of(t.as_bytes()))
    });
    if let Some(other) = current.filter(|_| !force && !ours) {
        return Ok(skipped(tool, &path, Why::SetElsewhere { value: other }));
    }
    let new = match put(owned.format, &current_text, &value) {
        Ok(t) => t,
        Err(reason) => return Ok(skipped(tool, &path, Why::Malformed { reason })),
    };
    let written = Sha256::of(new.as_bytes());
    // A file cabundle changed and nobody touched since keeps its first
    // original; any other file's current bytes are the original.
    let previous = record.files.get(&path).cloned();
    let original = match (&previous, &text) {
        (Some(p), Some(t)) if Sha256::of(t.as_bytes()) == p.written => p.original,
        (_, Some(t)) => {
            let sha = Sha256::of(t.as_bytes());
            let kept = backup(paths, &sha);
            if !kept.exists() {
                state::write_atomic(&kept, t.as_bytes())?;
            }
            Some(sha)
        }
        (_, None) => None,
    };
    record.files.insert(
        path.clone(),
        Change {
            tool: tool.to_string(),
            original,
            written,
            value: value.clone(),
            mode,
        },
    );
    record.save(paths)?;
    if let Err(e) = state::write_atomic_mode(&path, new.as_bytes(), mode) {
        match previous {
            Some(p) => record.files.insert(path.clone(), p),
            None => record.files.remove(&path),
        };
        record.save(paths)?;
        return Ok(skipped(
            tool,
            &path,
            Why::NotWritable {
                reason: e.to_string(),
            },
        ));
    }
    Ok(outcome(tool, &path, Done::Set { value }))
}

/// Undo `tool`'s change, if cabundle made one: the original back when the
/// file is as cabundle left it, else only our key taken out (when it still
/// holds our value). `None` when nothing was recorded for it.
pub fn unset(
    paths: &Paths,
    record: &mut Record,
    ctx: &Context,
    tool: &str,
    owned: &Owned,
) -> Result<Option<Outcome>> {
    let path = owned.path(ctx);
    let Some(change) = record.files.get(&path).cloned() else {
        return Ok(None);
    };
    let result = match read_text(&path) {
        Err(why) => Done::Skipped { why },
        Ok(None) => Done::Skipped {
            why: Why::ChangedSince,
        },
        Ok(Some((text, _))) if Sha256::of(text.as_bytes()) == change.written => {
            restore(paths, &path, &change)?;
            Done::Restored
        }
        Ok(Some((text, mode))) => match take(owned.format, &text, &change.value) {
            Ok(Some(new)) => {
                state::write_atomic_mode(&path, new.as_bytes(), mode)?;
                Done::KeyRemoved
            }
            Ok(None) => Done::Skipped {
                why: Why::ChangedSince,
            },
            Err(reason) => Done::Skipped {
                why: Why::Malformed { reason },
            },
        },
    };
    record.files.remove(&path);
    if let Some(sha) = change.original
        && !record.files.values().any(|c| c.original == Some(sha))
    {
        let _ = fs::remove_file(backup(paths, &sha));
    }
    record.save(paths)?;
    Ok(Some(outcome(tool, &path, result)))
}

fn restore(paths: &Paths, path: &Path, change: &Change) -> Result<()> {
    match change.original {
        None => fs::remove_file(path).at(path),
        Some(sha) => {
            let kept = backup(paths, &sha);
            let bytes = crate::decode::read_bounded(&kept).map_err(|source| Error::Read {
                path: kept.clone(),
                source,
            })?;
            if Sha256::of(&bytes) != sha {
                return Err(Error::Mismatch {
                    path: kept,
                    reason: "is not the original it was kept as".into(),
                });
            }
            state::write_atomic_mode(path, &bytes, change.mode)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIP: Format = Format::Ini {
        section: "global",
        key: "cert",
    };

    #[test]
    fn ini_keys_are_set_in_their_section_and_everything_else_kept() {
        let text = "# my pip\n[global]\ntimeout = 60\n\n[install]\nuser = true\n";
        let set = put(PIP, text, "/b.pem").unwrap();
        assert_eq!(
            set,
            "# my pip\n[global]\ntimeout = 60\ncert = /b.pem\n\n[install]\nuser = true\n"
        );
        assert_eq!(get(PIP, &set).unwrap().as_deref(), Some("/b.pem"));
        assert_eq!(take(PIP, &set, "/b.pem").unwrap().as_deref(), Some(text));
        // A value the user set is theirs: not taken.
        assert_eq!(
            take(PIP, &put(PIP, text, "/x.pem").unwrap(), "/b.pem").unwrap(),
            None
        );
        // No section: added at the end; no file: the section alone.
        assert_eq!(
            put(PIP, "[install]\nuser = true", "/b.pem").unwrap(),
            "[install]\nuser = true\n\n[global]\ncert = /b.pem\n"
        );
        assert_eq!(put(PIP, "", "/b.pem").unwrap(), "[global]\ncert = /b.pem\n");
        // Replaced in place, keeping its indentation.
        assert_eq!(
            put(PIP, "[global]\n  CERT=/old.pem\n", "/b.pem").unwrap(),
            "[global]\n  cert = /b.pem\n"
        );
        assert!(put(PIP, "[global\ncert = x\n", "/b.pem").is_err());
        assert!(put(PIP, "[global]\nthis is not ini\n", "/b.pem").is_err());
    }

    #[test]
    fn lines_and_yaml_keys() {
        let npm = Format::Lines { key: "cafile" };
        let text = "registry=https://r.example/\n//r.example/:_authToken=secret\n";
        let set = put(npm, text, "/b.pem").unwrap();
        assert!(set.ends_with("cafile=/b.pem\n") && set.starts_with(text));
        assert_eq!(take(npm, &set, "/b.pem").unwrap().as_deref(), Some(text));
        let conda = Format::YamlTop { key: "ssl_verify" };
        let text = "channels:\n  - conda-forge\nssl_verify: true\n";
        let set = put(conda, text, "/a b/c.pem").unwrap();
        assert_eq!(
            set,
            "channels:\n  - conda-forge\nssl_verify: '/a b/c.pem'\n"
        );
        assert_eq!(get(conda, &set).unwrap().as_deref(), Some("/a b/c.pem"));
        assert!(put(conda, "{channels: [x]}\n", "/b.pem").is_err());
        assert!(put(conda, "ssl_verify:\n  nested: 1\n", "/b.pem").is_err());
    }

    #[test]
    fn curlrc_options_in_every_form_curl_reads() {
        let rc = Format::Curlrc;
        assert_eq!(get(rc, "").unwrap(), None);
        let forms = [
            "cacert = \"/x.pem\"\n",
            "cacert=/x.pem\n",
            "  CACERT: /x.pem\n",
            "cacert /x.pem   # why\n",
            "--cacert /x.pem\n",
            "--cacert \"/x.pem\"\n",
            "cacer /x.pem\n",
        ];
        for form in forms {
            assert_eq!(
                curlrc_settings(form),
                [Some("/x.pem".to_string()), None],
                "{form:?}"
            );
            assert_eq!(
                get(rc, form).unwrap().as_deref(),
                Some("cacert /x.pem, no capath")
            );
        }
        // Comments, other options, a short option and a name too short.
        let text = "# cacert = /no.pem\n-k\nca /no.pem\nurl = \"https://x/\"\n\n";
        assert_eq!(curlrc_settings(text), [None, None]);
        // The last one wins; escapes inside quotes.
        assert_eq!(
            curlrc_settings("cacert /a.pem\ncacert \"/b \\\"c\\\\d.pem\"\n")[0].as_deref(),
            Some("/b \"c\\d.pem")
        );
        // Set: both options, everything else kept; the bundle alone reads back.
        let text = "# mine\n--silent\ncacert = /old.pem\nproxy = \"http://p:3128\"\n";
        let set = put(rc, text, "/h/ca-bundle.pem").unwrap();
        assert_eq!(
            set,
            "# mine\n--silent\ncacert = \"/h/ca-bundle.pem\"\nproxy = \"http://p:3128\"\n\
             capath = \"/h/certs\"\n"
        );
        assert_eq!(get(rc, &set).unwrap().as_deref(), Some("/h/ca-bundle.pem"));
        assert_eq!(
            take(rc, &set, "/h/ca-bundle.pem").unwrap().as_deref(),
            Some("# mine\n--silent\nproxy = \"http://p:3128\"\n")
        );
        assert_eq!(take(rc, text, "/h/ca-bundle.pem").unwrap(), None);
        // A path curl must read quoted.
        let set = put(rc, "", "/a b/\"q\"/ca-bundle.pem").unwrap();
        assert_eq!(
            curlrc_settings(&set),
            [
                Some("/a b/\"q\"/ca-bundle.pem".to_string()),
                Some("/a b/\"q\"/certs".to_string())
            ]
        );
        let paths = Paths::in_one(Path::new("/h"));
        assert_eq!(
            curl_capath(paths.bundle.to_str().unwrap()),
            paths.cert_dir().to_str().unwrap()
        );
    }

    #[test]
    fn toml_keys_are_quoted_and_checked_by_a_parser() {
        let cargo = Format::Toml {
            table: "http",
            key: "cainfo",
        };
        let text = "# mine\n[build]\njobs = 2\n\n[http]\ntimeout = 30 # s\n\n[net]\nretry = 3\n";
        let set = put(cargo, text, "/a \"b\"/c.pem").unwrap();
        assert_eq!(
            set,
            "# mine\n[build]\njobs = 2\n\n[http]\ntimeout = 30 # s\ncainfo = \"/a \\\"b\\\"/c.pem\"\n\n[net]\nretry = 3\n"
        );
        let doc: toml::Table = set.parse().unwrap();
        assert_eq!(doc["http"]["cainfo"].as_str(), Some("/a \"b\"/c.pem"));
        assert_eq!(get(cargo, &set).unwrap().as_deref(), Some("/a \"b\"/c.pem"));
        assert_eq!(
            take(cargo, &set, "/a \"b\"/c.pem").unwrap().as_deref(),
            Some(text)
        );
        for odd in ["/it's/c.pem", "/a'b\"c/\\d.pem", "/plain/c.pem"] {
            let doc: toml::Table = put(cargo, "", odd).unwrap().parse().unwrap();
            assert_eq!(doc["http"]["cainfo"].as_str(), Some(odd));
        }
        // No table: added; replaced in place.
        assert_eq!(
            put(cargo, "", "/b.pem").unwrap(),
            "[http]\ncainfo = \"/b.pem\"\n"
        );
        assert_eq!(
            put(cargo, "[http]\n  cainfo = '/old.pem'\n", "/b.pem").unwrap(),
            "[http]\n  cainfo = \"/b.pem\"\n"
        );
        // Not TOML, not a string, and forms a line edit would break: refused.
        assert!(
            put(cargo, "[http\n", "/b.pem")
                .unwrap_err()
                .starts_with("not TOML")
        );
        assert!(put(cargo, "[http]\ncainfo = 3\n", "/b.pem").is_err());
        assert!(put(cargo, "http.timeout = 30\n", "/b.pem").is_err());
        assert!(put(cargo, "http = { cainfo = \"/old.pem\" }\n", "/b.pem").is_err());
        assert!(put(cargo, "[http]\nx = \"\"\"\ncainfo = 1\n\"\"\"\n", "/b.pem").is_err());
    }

    #[test]
    fn a_whole_file_is_its_value() {
        let text = "A=1\nB=2\n";
        assert_eq!(get(Format::Whole, "").unwrap(), None);
        assert_eq!(get(Format::Whole, text).unwrap().as_deref(), Some(text));
        assert_eq!(put(Format::Whole, "old\n", text).unwrap(), text);
        assert_eq!(take(Format::Whole, "A=9\n", text).unwrap(), None);
    }

    #[test]
    fn a_value_cabundle_set_in_a_file_untouched_since_is_replaced_without_force() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::in_one(&tmp.path().join("cabundle"));
        let ctx = Context::for_test(tmp.path(), &[]);
        let file = tmp.path().join("own.conf");
        let owned = |value: fn(&Context) -> String| Owned {
            file: |c| c.home.join("own.conf"),
            format: Format::Whole,
            value,
        };
        let mut record = Record::default();
        let done = |o: Outcome| o.done;
        let first = set(
            &paths,
            &mut record,
            &ctx,
            "t",
            &owned(|_| "A=1\n".into()),
            false,
        );
        assert_eq!(
            done(first.unwrap()),
            Done::Set {
                value: "A=1\n".into()
            }
        );
        // What cabundle writes changed (a new version): its own file, so set.
        let second = set(
            &paths,
            &mut record,
            &ctx,
            "t",
            &owned(|_| "A=1\nB=2\n".into()),
            false,
        );
        assert_eq!(
            done(second.unwrap()),
            Done::Set {
                value: "A=1\nB=2\n".into()
            }
        );
        // The user edits it: theirs now.
        fs::write(&file, "A=9\n").unwrap();
        let third = set(
            &paths,
            &mut record,
            &ctx,
            "t",
            &owned(|_| "A=1\n".into()),
            false,
        );
        assert_eq!(
            done(third.unwrap()),
            Done::Skipped {
                why: Why::SetElsewhere {
                    value: "A=9\n".into()
                }
            }
        );
        // Nothing existed before the first set: uninstall removes it.
        fs::write(&file, "A=1\nB=2\n").unwrap();
        let undone = unset(&paths, &mut record, &ctx, "t", &owned(|_| String::new())).unwrap();
        assert_eq!(undone.unwrap().done, Done::Restored);
        assert!(!file.exists());
    }
}
