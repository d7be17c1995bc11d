//! The OpenSSL hashed certificate folder (what `SSL_CERT_DIR` points at),
//! written without OpenSSL.
//!
//! OpenSSL clients look a certificate up in such a folder by a hash of its
//! subject: `<hash>.0`, `<hash>.1`, ... until one is missing. Pointing them
//! at the OS's folder would trust roots cabundle pruned or blocked, so
//! cabundle writes its own, holding exactly the bundle's certificates.
//!
//! The folder is swapped whole: `link` is a symlink to a sibling folder
//! named from its content, filled and made durable before the link is
//! renamed over. A client (or a `kill -9`) sees the old set or the new
//! set, never a mix or a half.

use std::collections::{HashMap, HashSet};
use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::cert::Cert;
use crate::error::{Error, IoContext, Result};
use crate::state;

/// OpenSSL's subject hash (`X509_NAME_hash_ex`, what `openssl x509
/// -subject_hash` prints as `%08x`): the first 4 bytes, little-endian, of
/// the SHA-1 of the subject's canonical encoding.
///
/// `Err` when OpenSSL itself cannot read the subject (a value type its
/// name decoder refuses, text that is not what its type says): no OpenSSL
/// client can load such a certificate, from a folder or from a bundle.
pub fn subject_hash(cert: &Cert) -> Result<u32, String> {
    name_hash(subject_of(&cert.der)?)
}

/// The subject Name, as the bytes of its whole DER element.
fn subject_of(der: &[u8]) -> Result<&[u8], String> {
    let (cert, _) = Tlv::read_tagged(der, SEQUENCE, "certificate")?;
    let (tbs, _) = Tlv::read_tagged(cert.content, SEQUENCE, "tbsCertificate")?;
    let mut rest = tbs.content;
    // version [0] EXPLICIT, absent in a v1 certificate.
    if rest.first() == Some(&0xa0) {
        rest = Tlv::read(rest)?.1;
    }
    // serialNumber, signature, issuer, validity.
    for _ in 0..4 {
        rest = Tlv::read(rest)?.1;
    }
    Ok(Tlv::read_tagged(rest, SEQUENCE, "subject")?.0.raw)
}

pub(crate) fn name_hash(name: &[u8]) -> Result<u32, String> {
    let digest = Sha1::digest(canonical_name(name)?);
    Ok(u32::from_le_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;

/// OpenSSL's canonical encoding of a Name (`x509_name_canon` in
/// crypto/x509/x_name.c): each RDN as a DER `SET OF` its canonical
/// AttributeTypeAndValues, concatenated with no outer SEQUENCE. Empty RDNs
/// vanish, as they do in OpenSSL's flattened entry list, and a name with
/// no entries encodes as nothing.
pub(crate) fn canonical_name(name: &[u8]) -> Result<Vec<u8>, String> {
    let (seq, rest) = Tlv::read_tagged(name, SEQUENCE, "Name")?;
    if !rest.is_empty() {
        return Err("trailing bytes after the Name".into());
    }
    let mut out = Vec::with_capacity(name.len());
    let mut rdns = seq.content;
    while !rdns.is_empty() {
        let (set, rest) = Tlv::read_tagged(rdns, SET, "RDN")?;
        rdns = rest;
        let mut avas = Vec::new();
        let mut items = set.content;
        while !items.is_empty() {
            let (ava, rest) = Tlv::read_tagged(items, SEQUENCE, "AttributeTypeAndValue")?;
            items = rest;
            avas.push(canonical_ava(ava.content)?);
        }
        if avas.is_empty() {
            continue;
        }
        // DER's SET OF order, which OpenSSL's encoder applies: by encoding,
        // bytewise, a prefix before what it prefixes (slice order).
        avas.sort_unstable();
        put_tlv(&mut out, SET, &avas.concat());
    }
    Ok(out)
}

fn canonical_ava(content: &[u8]) -> Result<Vec<u8>, String> {
    let (oid, rest) = Tlv::read_tagged(content, OID, "attribute type")?;
    // c2i_ASN1_OBJECT's checks: an OID OpenSSL refuses fails the name.
    let o = oid.content;
    if o.is_empty()
        || o[o.len() - 1] & 0x80 != 0
        || o.iter()
            .enumerate()
            .any(|(i, &b)| b == 0x80 && (i == 0 || o[i - 1] & 0x80 == 0))
    {
        return Err("a badly encoded attribute type".into());
    }
    let (value, rest) = Tlv::read(rest)?;
    if !rest.is_empty() {
        return Err("an AttributeTypeAndValue with more than two parts".into());
    }
    let mut body = Vec::with_capacity(content.len() + 8);
    put_tlv(&mut body, OID, o);
    canonical_value(&value, &mut body)?;
    let mut out = Vec::with_capacity(body.len() + 4);
    put_tlv(&mut out, SEQUENCE, &body);
    Ok(out)
}

/// One attribute value, canonical, appended to `out`.
///
/// OpenSSL decodes a value as `ASN1_PRINTABLE`: universal class, and only
/// the types in `B_ASN1_PRINTABLE` (VisibleString, OCTET STRING,
/// GeneralString and VideotexString, among others, are refused, so the
/// certificate does not load at all). The text types among them become
/// UTF8String, trimmed, whitespace runs collapsed and ASCII lowercased
/// (`asn1_string_canon`); the rest are re-encoded as OpenSSL holds them.
fn canonical_value(value: &Tlv, out: &mut Vec<u8>) -> Result<(), String> {
    if value.tag & 0xc0 != 0 {
        return Err("a name value that is not of a universal type".into());
    }
    let constructed = value.tag & 0x20 != 0;
    let number = value.tag & 0x1f;
    match number {
        // SEQUENCE: kept as it came, header and all.
        16 if constructed => {
            out.extend_from_slice(value.raw);
            return Ok(());
        }
        // NumericString, BIT STRING, UTF8String, PrintableString,
        // T61String, IA5String, UniversalString, BMPString, and the types
        // OpenSSL files as "unknown" (ObjectDescriptor, EXTERNAL, REAL,
        // EMBEDDED PDV, RELATIVE-OID, TIME, 15, CHARACTER STRING).
        3 | 7 | 8 | 9 | 11 | 12 | 13 | 14 | 15 | 18 | 19 | 20 | 22 | 28 | 29 | 30 => {}
        _ => {
            return Err(format!(
                "a name value of type {number}, which OpenSSL refuses"
            ));
        }
    }
    // A constructed (BER) string: OpenSSL joins its pieces.
    let mut joined = Vec::new();
    let bytes = if constructed {
        collect(value.content, 0, &mut joined)?;
        &joined[..]
    } else {
        value.content
    };
    match number {
        3 => {
            // c2i_ASN1_BIT_STRING keeps the unused-bit count and clears
            // those bits; with no bits at all it writes the count as 0.
            let (&unused, bits) = bytes.split_first().ok_or("an empty BIT STRING")?;
            if unused > 7 {
                return Err("a BIT STRING with more than 7 unused bits".into());
            }
            let mut content = Vec::with_capacity(bytes.len());
            content.push(if bits.is_empty() { 0 } else { unused });
            content.extend_from_slice(bits);
            if let Some(last) = content.last_mut().filter(|_| !bits.is_empty()) {
                *last &= 0xff << unused;
            }
            put_tlv(out, 0x03, &content);
        }
        12 | 19 | 20 | 22 | 28 | 30 => put_tlv(out, UTF8_STRING, &canonical_text(number, bytes)?),
        _ => put_tlv(out, number, bytes),
    }
    Ok(())
}

/// `asn1_collect`: the contents of the primitive pieces of a constructed
/// string, at most 5 levels deep, whatever their tags.
fn collect(mut content: &[u8], depth: u8, out: &mut Vec<u8>) -> Result<(), String> {
    while !content.is_empty() {
        let (piece, rest) = Tlv::read(content)?;
        content = rest;
        if piece.tag & 0x20 != 0 {
            if depth >= 5 {
                return Err("a string nested too deep".into());
            }
            collect(piece.content, depth + 1, out)?;
        } else {
            out.extend_from_slice(piece.content);
        }
    }
    Ok(())
}

/// The value as UTF-8 (`ASN1_STRING_to_UTF8`: one-byte types are read as
/// Latin-1, BMPString as UCS-2, UniversalString as UCS-4), then
/// `asn1_string_canon`'s folding.
fn canonical_text(number: u8, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let utf8: Vec<u8> = match number {
        12 => {
            std::str::from_utf8(bytes).map_err(|_| "a UTF8String that is not UTF-8")?;
            bytes.to_vec()
        }
        30 => {
            if !bytes.len().is_multiple_of(2) {
                return Err("a BMPString of odd length".into());
            }
            let chars = bytes.chunks_exact(2).map(|c| {
                char::from_u32(u16::from_be_bytes([c[0], c[1]]).into())
                    .ok_or("a BMPString holding a surrogate")
            });
            chars.collect::<Result<String, _>>()?.into_bytes()
        }
        28 => {
            if !bytes.len().is_multiple_of(4) {
                return Err("a UniversalString whose length is not a multiple of 4".into());
            }
            let chars = bytes.chunks_exact(4).map(|c| {
                char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .ok_or("a UniversalString holding a non-character")
            });
            chars.collect::<Result<String, _>>()?.into_bytes()
        }
        _ => bytes
            .iter()
            .map(|&b| char::from(b))
            .collect::<String>()
            .into_bytes(),
    };
    // ossl_isspace: space, \t, \n, \v, \f, \r; never a byte above 0x7f.
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = utf8.iter().position(|b| !space(b)).unwrap_or(utf8.len());
    let end = utf8
        .iter()
        .rposition(|b| !space(b))
        .map_or(start, |i| i + 1);
    let mut out = Vec::with_capacity(end - start);
    let mut in_space = false;
    for &b in &utf8[start..end] {
        if space(&b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b.to_ascii_lowercase());
            in_space = false;
        }
    }
    Ok(out)
}

/// One DER element: its first identifier byte, its contents, and the whole
/// element as it was read.
struct Tlv<'a> {
    tag: u8,
    content: &'a [u8],
    raw: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// One element from the front of `input`, and what follows it. Long
    /// lengths need not be minimal (OpenSSL reads BER lengths and writes
    /// DER); indefinite lengths and multi-byte tags are refused.
    fn read(input: &'a [u8]) -> Result<(Tlv<'a>, &'a [u8]), String> {
        let truncated = || "a truncated DER element".to_string();
        let (&tag, rest) = input.split_first().ok_or_else(truncated)?;
        if tag & 0x1f == 0x1f {
            return Err("a multi-byte DER tag".into());
        }
        let (&first, mut rest) = rest.split_first().ok_or_else(truncated)?;
        let len = match first {
            0..=0x7f => usize::from(first),
            0x80 => return Err("an indefinite DER length".into()),
            0x81..=0x84 => {
                let n = usize::from(first & 0x7f);
                if rest.len() < n {
                    return Err(truncated());
                }
                let (bytes, after) = rest.split_at(n);
                rest = after;
                bytes
                    .iter()
                    .fold(0usize, |acc, &b| acc << 8 | usize::from(b))
            }
            _ => return Err("a DER length over 4 GiB".into()),
        };
        if rest.len() < len {
            return Err(truncated());
        }
        let header = input.len() - rest.len();
        let (content, after) = rest.split_at(len);
        let tlv = Tlv {
            tag,
            content,
            raw: &input[..header + len],
        };
        Ok((tlv, after))
    }

    fn read_tagged(input: &'a [u8], tag: u8, what: &str) -> Result<(Tlv<'a>, &'a [u8]), String> {
        let (tlv, rest) = Tlv::read(input).map_err(|e| format!("{what}: {e}"))?;
        if tlv.tag != tag {
            return Err(format!("{what}: tag {:#04x}, not {tag:#04x}", tlv.tag));
        }
        Ok((tlv, rest))
    }
}

/// Append a DER element with a minimal length.
fn put_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

/// The folder's files: `<hash>.<n>` as `openssl rehash` names them (`n`
/// counts certificates with the same subject hash, from 0, in the order
/// given; a certificate given twice is there once) and each one's PEM.
///
/// A certificate whose names OpenSSL cannot read (which `openssl rehash`
/// would leave out) never reaches here: the decoder refuses it.
pub fn plan(certs: &[&Cert]) -> Vec<(String, Vec<u8>)> {
    entries(certs)
        .into_iter()
        .map(|e| (e.name, e.cert.to_pem().into_bytes()))
        .collect()
}

/// One file of the folder: its name and the certificate it holds, whose
/// PEM is made only as it is written, so a large set is never all in
/// memory as text at once.
pub struct Entry<'a> {
    pub name: String,
    cert: &'a Cert,
}

impl Entry<'_> {
    fn pem(&self) -> Vec<u8> {
        self.cert.to_pem().into_bytes()
    }

    fn len(&self) -> u64 {
        crate::cert::pem_len(self.cert.der.len()) as u64
    }
}

/// [`plan`], the contents left to make.
pub fn entries<'a>(certs: &[&'a Cert]) -> Vec<Entry<'a>> {
    let mut seen = HashSet::with_capacity(certs.len());
    let mut next: HashMap<u32, u32> = HashMap::with_capacity(certs.len());
    let mut files = Vec::with_capacity(certs.len());
    for cert in certs {
        if !seen.insert(cert.sha256) {
            continue;
        }
        // Computed when the certificate was parsed: a certificate whose
        // names OpenSSL cannot read never gets this far.
        let hash = cert.subject_hash;
        let n = next.entry(hash).or_default();
        files.push(Entry {
            name: format!("{hash:08x}.{n}"),
            cert,
        });
        *n += 1;
    }
    files
}

/// How the new folder's files are made durable before the link moves to
/// it: an fsync per file (then the folder and its parent), or one
/// `syncfs(2)` for the whole filesystem.
///
/// `write` on this project's build VM (ext4 on a shared virtual disk, 2
/// cores, other builds writing at the time; 3 runs each, two sessions):
///
/// | files | fsync each file | one syncfs  |
/// |-------|-----------------|-------------|
/// | 117   | 48-147 ms       | 27-266 ms   |
/// | 1k    | 1.1-2.4 s       | 0.9 s       |
/// | 10k   | 3.7-24 s        | 3.5-4.6 s   |
///
/// For a bundle-sized set the two cost the same within the noise, and an
/// fsync per file pays only for what cabundle wrote, where syncfs also
/// flushes everything else dirty on the filesystem (up to the kernel's
/// dirty limit, gigabytes on a busy host or inside a `docker build` step),
/// which is where its 266 ms came from. With thousands of files a journal
/// commit per file costs more than that, up to 5 times syncfs, so from
/// [`SYNCFS_FROM`] files on syncfs is used (on Linux; since 5.8 it reports
/// the filesystem's writeback errors, so a failed write is not missed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    SyncFs,
    EachFile,
}

const SYNCFS_FROM: usize = 1000;

fn durability_for(files: usize) -> Durability {
    if cfg!(any(target_os = "linux", target_os = "android")) && files >= SYNCFS_FROM {
        Durability::SyncFs
    } else {
        Durability::EachFile
    }
}

/// Make `link` a symlink to a complete folder holding exactly
/// [`plan`]`(certs)`. Returns whether anything changed: an unchanged set
/// writes nothing.
///
/// Callers hold the state lock, so anything of cabundle's beside `link`
/// that `link` does not point at (a temp link, a folder half made or half
/// removed) is from a dead run, and is removed. Anything at `link` that
/// cabundle did not make (a real folder, a file, a link elsewhere) is
/// refused, never deleted.
pub fn write(link: &Path, certs: &[&Cert]) -> Result<bool> {
    let files = entries(certs);
    write_files(link, &files, durability_for(files.len()))
}

fn write_files(link: &Path, files: &[Entry], durability: Durability) -> Result<bool> {
    let (parent, name) = split(link)?;
    state::create_dir(parent)?;
    // Two names for the same content, so that a damaged folder for this
    // content, which the link points at, is replaced whole, not repaired
    // in place.
    let id = content_id(files);
    let names = [
        format!(".{name}-{id:016x}"),
        format!(".{name}-{:016x}", !id),
    ];
    let current = current_target(link, name)?;
    if let Some(current) = &current
        && names.contains(current)
        && holds(&parent.join(current), files)
    {
        remove_leftovers(parent, name, current);
        return Ok(false);
    }
    let new = if current.as_deref() == Some(&names[0]) {
        &names[1]
    } else {
        &names[0]
    };
    remove_leftovers(parent, name, current.as_deref().unwrap_or(""));
    let dir = parent.join(new);
    let previous = current.as_ref().map(|c| parent.join(c));
    let written = fill(&dir, files, previous.as_deref())?;
    make_durable(parent, &dir, &written, durability)?;
    // The new link is made beside `link` and renamed over it: rename(2)
    // replaces it in one step, so a reader resolves the old folder or the
    // new one.
    let tmp = parent.join(temp_link_name(name));
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(Error::io(&tmp, e)),
        _ => {}
    }
    std::os::unix::fs::symlink(new, &tmp).at(&tmp)?;
    fs::rename(&tmp, link).at(link)?;
    sync_dir(parent).at(parent)?;
    // Only once the new link is durable can the old folder go.
    remove_leftovers(parent, name, new);
    Ok(true)
}

fn split(link: &Path) -> Result<(&Path, &str)> {
    let name = link
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::UnusablePath {
            path: link.to_path_buf(),
            reason: "the hashed folder's link needs a UTF-8 file name".into(),
        })?;
    let parent = match link.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((parent, name))
}

/// A stable name for the planned content: the first 8 bytes of a SHA-256
/// over every file's name and bytes.
fn content_id(files: &[Entry]) -> u64 {
    // A file's PEM is a function of the DER: hashing the DER names it.
    let mut sha = Sha256::new();
    for e in files {
        sha.update(e.name.as_bytes());
        sha.update([0]);
        sha.update((e.cert.der.len() as u64).to_le_bytes());
        sha.update(&e.cert.der);
    }
    let digest = sha.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

fn temp_link_name(name: &str) -> String {
    format!(".{name}.tmp")
}

/// Is `entry` one of the content folders cabundle makes for `name`?
fn is_content_folder(entry: &str, name: &str) -> bool {
    entry
        .strip_prefix('.')
        .and_then(|e| e.strip_prefix(name))
        .and_then(|e| e.strip_prefix('-'))
        .is_some_and(|id| {
            id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

/// The content folder `link` points at, `None` when there is no `link`;
/// refused when `link` is something cabundle did not make.
fn current_target(link: &Path, name: &str) -> Result<Option<String>> {
    let meta = match fs::symlink_metadata(link) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        other => other.at(link)?,
    };
    let refuse = |what: String| Error::Refused {
        path: link.to_path_buf(),
        reason: format!(
            "{what}, which cabundle did not make; it puts a link to its own folder \
             of certificates there, so move that away first"
        ),
    };
    if meta.file_type().is_symlink() {
        let target = fs::read_link(link).at(link)?;
        return match target.to_str() {
            Some(t) if is_content_folder(t, name) => Ok(Some(t.to_string())),
            _ => Err(refuse(format!("a link to {}", target.display()))),
        };
    }
    Err(refuse(if meta.is_dir() {
        "a folder".to_string()
    } else {
        "a file".to_string()
    }))
}

/// Does `dir` hold exactly `files`: those names, as regular files of those
/// sizes, and nothing else? The content is not read: a folder only ever
/// becomes a link's target once complete, and its name is its content's.
fn holds(dir: &Path, files: &[Entry]) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    let want: HashMap<&str, u64> = files.iter().map(|e| (e.name.as_str(), e.len())).collect();
    let mut found = 0;
    for entry in entries {
        let Ok(entry) = entry else { return false };
        let size = entry
            .file_name()
            .to_str()
            .and_then(|n| want.get(n).copied());
        match (size, entry.metadata()) {
            (Some(size), Ok(m)) if m.is_file() && m.len() == size => found += 1,
            _ => return false,
        }
    }
    found == want.len()
}

/// Remove what earlier runs left beside the link: the temp link and every
/// content folder but `keep`. Failures are left for the next run: nothing
/// points at these.
fn remove_leftovers(parent: &Path, name: &str, keep: &str) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    let tmp = temp_link_name(name);
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let Some(entry_name) = entry_name.to_str() else {
            continue;
        };
        if entry_name == keep {
            continue;
        }
        let path = entry.path();
        if entry_name == tmp {
            let _ = fs::remove_file(&path);
        } else if is_content_folder(entry_name, name) {
            match entry.file_type() {
                Ok(t) if t.is_dir() => {
                    let _ = fs::remove_dir_all(&path);
                }
                _ => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
}

/// Make `dir` (0755) and write each file into it (0644, whatever the
/// umask). A file the folder in use (`previous`) already holds, byte for
/// byte, is hard-linked from it instead: it is on disk already, so a sync
/// that adds or removes one CA writes and syncs one file, not all of them.
/// (Files are never changed once written, so sharing them is safe.)
/// Returns the files written, which are the ones still to make durable.
fn fill<'a, 'c>(
    dir: &Path,
    files: &'a [Entry<'c>],
    previous: Option<&Path>,
) -> Result<Vec<&'a Entry<'c>>> {
    DirBuilder::new().mode(0o755).create(dir).at(dir)?;
    fs::set_permissions(dir, Permissions::from_mode(0o755)).at(dir)?;
    let mut written = Vec::new();
    for file in files {
        let (name, bytes) = (&file.name, file.pem());
        let path = dir.join(name);
        if let Some(old) = previous.map(|p| p.join(name))
            && fs::symlink_metadata(&old)
                .is_ok_and(|m| m.file_type().is_file() && m.len() == bytes.len() as u64)
            && fs::read(&old).is_ok_and(|b| b == bytes)
            && fs::hard_link(&old, &path).is_ok()
        {
            continue;
        }
        written.push(file);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
            .at(&path)?;
        file.set_permissions(Permissions::from_mode(0o644))
            .and_then(|()| file.write_all(&bytes))
            .at(&path)?;
    }
    Ok(written)
}

/// Make the filled folder durable: its files, itself and its entry in
/// `parent`. See [`Durability`].
fn make_durable(parent: &Path, dir: &Path, files: &[&Entry], durability: Durability) -> Result<()> {
    if durability == Durability::SyncFs {
        match sync_fs(dir) {
            Ok(()) => return Ok(()),
            // Not on this system, or refused by a sandbox's syscall filter.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {}
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
    for e in files {
        let path = dir.join(&e.name);
        File::open(&path).and_then(|f| f.sync_all()).at(&path)?;
    }
    sync_dir(dir).at(dir)?;
    sync_dir(parent).at(parent)
}

/// One `syncfs(2)` for the filesystem `dir` is on, which covers the
/// files, the folder and its entry in the parent.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sync_fs(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let folder = File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `folder` keeps open.
    if unsafe { libc::syncfs(folder.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sync_fs(_dir: &Path) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;
    use std::process::Command;

    fn roots() -> Vec<Cert> {
        let decoded = crate::decode::decode(crate::sources::mozilla::PEM);
        assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
        decoded.items.into_iter().map(|i| i.cert).collect()
    }

    fn refs(certs: &[Cert]) -> Vec<&Cert> {
        certs.iter().collect()
    }

    fn openssl(args: &[&str]) -> std::process::Output {
        Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs")
    }

    #[track_caller]
    fn openssl_ok(args: &[&str]) {
        let out = openssl(args);
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    }

    /// A new P-256 key, written to `path`.
    fn ec_key(path: &str) {
        let words = "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out";
        let mut args: Vec<&str> = words.split(' ').collect();
        args.push(path);
        openssl_ok(&args);
    }

    /// An empty folder, and the path in it where tests put the link.
    fn home() -> (tempfile::TempDir, PathBuf) {
        let home = tempfile::tempdir().unwrap();
        let link = home.path().join("certs");
        (home, link)
    }

    /// `openssl x509 -subject_hash` of a DER certificate; `None` when
    /// OpenSSL cannot load it.
    fn openssl_hash(der: &[u8]) -> Option<u32> {
        let file = tempfile::NamedTempFile::new().unwrap();
        fs::write(file.path(), der).unwrap();
        let path = file.path().to_str().unwrap();
        let out = openssl(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            path,
            "-noout",
            "-subject_hash",
        ]);
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8(out.stdout).unwrap();
        Some(u32::from_str_radix(text.trim(), 16).expect("8 hex digits"))
    }

    /// `f` over every item, on 4 threads: most of the time is waiting for
    /// openssl processes.
    fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
        let chunk = items.len().div_ceil(4).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .map(|c| s.spawn(|| c.iter().map(&f).collect::<Vec<R>>()))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        })
    }

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        put_tlv(&mut out, tag, content);
        out
    }

    /// The elements inside a constructed element's contents.
    fn elements(mut content: &[u8]) -> Vec<&[u8]> {
        let mut out = Vec::new();
        while !content.is_empty() {
            let (t, rest) = Tlv::read(content).unwrap();
            out.push(t.raw);
            content = rest;
        }
        out
    }

    /// `template` with its subject replaced by the DER `name`. The
    /// signature no longer matches, which neither a subject hash nor a
    /// hashed folder looks at.
    fn with_subject(template: &[u8], name: &[u8]) -> Vec<u8> {
        let (cert, _) = Tlv::read(template).unwrap();
        let mut parts = elements(cert.content);
        let (tbs, _) = Tlv::read(parts[0]).unwrap();
        let mut fields = elements(tbs.content);
        let subject = if fields[0][0] == 0xa0 { 5 } else { 4 };
        fields[subject] = name;
        let tbs = tlv(SEQUENCE, &fields.concat());
        parts[0] = &tbs;
        tlv(SEQUENCE, &parts.concat())
    }

    const CN: &[u8] = &[0x55, 0x04, 0x03];
    const O: &[u8] = &[0x55, 0x04, 0x0a];
    const OU: &[u8] = &[0x55, 0x04, 0x0b];
    const C: &[u8] = &[0x55, 0x04, 0x06];
    const EMAIL: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01];
    const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    const PRIVATE: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01];

    fn ava(oid: &[u8], value: Vec<u8>) -> Vec<u8> {
        tlv(SEQUENCE, &[tlv(OID, oid), value].concat())
    }

    /// An RDN with its AVAs in the order given, sorted or not.
    fn rdn(avas: &[Vec<u8>]) -> Vec<u8> {
        tlv(SET, &avas.concat())
    }

    fn name(rdns: &[Vec<u8>]) -> Vec<u8> {
        tlv(SEQUENCE, &rdns.concat())
    }

    fn cn(value: Vec<u8>) -> Vec<u8> {
        name(&[rdn(&[ava(CN, value)])])
    }

    /// `text` as the bytes of string type `tag`: one-byte types get
    /// Latin-1 when it fits and UTF-8 (which OpenSSL reads as Latin-1)
    /// when not; BMPString UTF-16 (surrogates and all); UniversalString
    /// UCS-4.
    fn encode(tag: u8, text: &str) -> Vec<u8> {
        let bytes = match tag {
            0x0c => text.as_bytes().to_vec(),
            0x1e => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
            0x1c => text
                .chars()
                .flat_map(|c| (c as u32).to_be_bytes())
                .collect(),
            _ if text.chars().all(|c| (c as u32) < 0x100) => {
                text.chars().map(|c| c as u32 as u8).collect()
            }
            _ => text.as_bytes().to_vec(),
        };
        tlv(tag, &bytes)
    }

    /// Names covering what canonicalisation does and what OpenSSL refuses.
    fn subjects() -> Vec<(String, Vec<u8>)> {
        let texts = [
            "Hello World",
            "hello world",
            "HELLO WORLD",
            "  Leading",
            "Trailing   ",
            "  both ends  ",
            "inner   runs   of  spaces",
            "tab\there",
            "\t\n\x0b\x0c\r all six kinds \r\n\t\x0b",
            "new\nline\r\ncrlf",
            "",
            " ",
            "\t\t",
            "x",
            "Ünïcödé Straße",
            "ÀÉÎÕÜ àéîõü ÿ",
            "日本語 テスト",
            "Ελληνικά ΑΒΓ",
            "Кириллица ABC",
            "emoji 😀 X",
            "nbsp\u{a0}and\u{85}nel",
            "ǅungla İstanbul",
            "NUL\0inside",
            "DEL\x7f and ~",
            "100% (Sure) +x=y, 'q' \"r\" \\s",
            "1234 5678",
        ];
        let read = [0x0c, 0x13, 0x14, 0x16, 0x1e, 0x1c];
        let kept_or_refused = [0x12, 0x1a, 0x04, 0x1b, 0x15, 0x19, 0x0e, 0x1d, 0x0d];
        let mut out = Vec::new();
        for tag in read {
            for text in texts {
                out.push((format!("type {tag:#04x} {text:?}"), cn(encode(tag, text))));
            }
        }
        for tag in kept_or_refused {
            for text in ["Hello  World", " 1234 ", "Ünï"] {
                out.push((format!("type {tag:#04x} {text:?}"), cn(encode(tag, text))));
            }
        }
        // A value of type tag with these contents, which the type may not
        // allow.
        let primitive: &[(&str, u8, &[u8])] = &[
            ("T61 high bytes", 0x14, b"Caf\xe9 \xc0\xff"),
            ("Printable high bytes", 0x13, b"CAF\xc9"),
            ("IA5 high bytes", 0x16, b"\x80\x9f\xa0"),
            ("UTF8 overlong", 0x0c, b"\xc0\xaf"),
            ("UTF8 surrogate", 0x0c, b"\xed\xa0\x80"),
            ("UTF8 above U+10FFFF", 0x0c, b"\xf4\x90\x80\x80"),
            ("UTF8 truncated", 0x0c, b"ab\xe6\x97"),
            ("UTF8 Latin-1", 0x0c, b"Caf\xe9"),
            ("BMP odd length", 0x1e, b"\x00A\x00"),
            ("BMP lone surrogate", 0x1e, b"\xd8\x00\x00A"),
            ("BMP U+FFFF", 0x1e, b"\xff\xff"),
            ("Universal length 6", 0x1c, b"\x00\x00\x00A\x00\x00"),
            ("Universal surrogate", 0x1c, b"\x00\x00\xdc\x00"),
            ("Universal above U+10FFFF", 0x1c, b"\x00\x11\x00\x00"),
            ("BIT STRING", 0x03, b"\x00\xa5"),
            ("BIT STRING unused bits set", 0x03, b"\x03\xff"),
            ("BIT STRING 7 unused", 0x03, b"\x07\xff\x81"),
            ("BIT STRING no bits", 0x03, b"\x05"),
            ("BIT STRING 8 unused", 0x03, b"\x08\xff"),
            ("BIT STRING empty", 0x03, b""),
            ("empty SEQUENCE", 0x30, b""),
            ("ObjectDescriptor", 0x07, b"Desc  X"),
            ("EXTERNAL primitive", 0x08, b"ab"),
            ("REAL", 0x09, b"\x03\x31"),
            ("EMBEDDED PDV", 0x0b, b"Q"),
            ("constructed PrintableString, empty", 0x33, b""),
            ("INTEGER", 0x02, b"\x05"),
            ("NULL", 0x05, b""),
            ("BOOLEAN", 0x01, b"\xff"),
            ("OID", 0x06, b"\x2a\x03"),
            ("ENUMERATED", 0x0a, b"\x01"),
            ("UTCTime", 0x17, b"250101000000Z"),
            ("context [0]", 0x80, b"x"),
            ("application 1", 0x41, b"x"),
            ("primitive SEQUENCE tag", 0x10, b"x"),
        ];
        for (label, tag, contents) in primitive {
            out.push((label.to_string(), cn(tlv(*tag, contents))));
        }
        // Values with values inside, long ones, and BER's lengths.
        let built: Vec<(&str, Vec<u8>)> = vec![
            ("SEQUENCE", tlv(0x30, &tlv(0x0c, b"Inner  VALUE"))),
            ("SET", tlv(0x31, &tlv(0x0c, b"x"))),
            ("EXTERNAL constructed", tlv(0x28, &tlv(0x06, b"\x2a\x03"))),
            ("private constructed", tlv(0xe0, &tlv(0x0c, b"x"))),
            (
                "constructed UTF8String",
                tlv(0x2c, &[tlv(0x0c, b"  Ab"), tlv(0x0c, b"  C ")].concat()),
            ),
            (
                "constructed BMPString split mid-character",
                tlv(0x3e, &[tlv(0x04, b"\x00A\x00"), tlv(0x04, b"b")].concat()),
            ),
            (
                "long UTF8 (long length)",
                tlv(0x0c, "Ab  ".repeat(50).as_bytes()),
            ),
            (
                "longer UTF8 (two length bytes)",
                tlv(0x0c, "Ab\t".repeat(120).as_bytes()),
            ),
            (
                "BER length on the value",
                vec![0x0c, 0x81, 0x03, b'A', b' ', b'B'],
            ),
            (
                "BER length 4 bytes",
                vec![0x13, 0x84, 0, 0, 0, 2, b'A', b'b'],
            ),
        ];
        for (label, value) in built {
            out.push((label.to_string(), cn(value)));
        }
        let utf8 = |s: &str| tlv(0x0c, s.as_bytes());
        let printable = |s: &str| tlv(0x13, s.as_bytes());
        let structured: Vec<(&str, Vec<u8>)> = vec![
            ("empty name", name(&[])),
            ("one empty RDN", name(&[rdn(&[])])),
            (
                "empty RDN between others",
                name(&[
                    rdn(&[ava(C, printable("DE"))]),
                    rdn(&[]),
                    rdn(&[ava(CN, utf8("X"))]),
                ]),
            ),
            (
                "typical",
                name(&[
                    rdn(&[ava(C, printable("US"))]),
                    rdn(&[ava(O, printable("Example, Inc."))]),
                    rdn(&[ava(OU, printable("www.example.com"))]),
                    rdn(&[ava(CN, printable("Example Root CA R1"))]),
                ]),
            ),
            (
                "multi-valued, unsorted",
                name(&[rdn(&[ava(O, utf8("Zed")), ava(CN, printable("Alpha"))])]),
            ),
            (
                "multi-valued, sorted only after folding",
                name(&[rdn(&[ava(CN, printable("B")), ava(CN, utf8("a"))])]),
            ),
            (
                "multi-valued, three, folding to equal",
                name(&[rdn(&[
                    ava(CN, utf8(" SAME ")),
                    ava(CN, tlv(0x1e, b"\x00s\x00a\x00m\x00e")),
                    ava(CN, printable("same")),
                ])]),
            ),
            (
                "multi-valued, prefix lengths",
                name(&[rdn(&[
                    ava(CN, utf8(&"a".repeat(130))),
                    ava(CN, utf8(&"a".repeat(20))),
                    ava(O, tlv(0x12, b"1")),
                ])]),
            ),
            (
                "multi-valued then single",
                name(&[
                    rdn(&[ava(OU, utf8("Two")), ava(OU, utf8("one"))]),
                    rdn(&[ava(CN, utf8("Leaf"))]),
                ]),
            ),
            (
                "emailAddress and DC (IA5)",
                name(&[
                    rdn(&[ava(DC, tlv(0x16, b"COM"))]),
                    rdn(&[ava(DC, tlv(0x16, b"Example"))]),
                    rdn(&[ava(EMAIL, tlv(0x16, b"Root@Example.COM"))]),
                ]),
            ),
            (
                "private OID",
                name(&[rdn(&[ava(PRIVATE, utf8("Private  Value"))])]),
            ),
            ("OID, empty", name(&[rdn(&[ava(&[], utf8("x"))])])),
            (
                "OID, last byte continues",
                name(&[rdn(&[ava(&[0x55, 0x84], utf8("x"))])]),
            ),
            (
                "OID, padded subidentifier",
                name(&[rdn(&[ava(&[0x55, 0x80, 0x03], utf8("x"))])]),
            ),
            (
                "OID, padded first",
                name(&[rdn(&[ava(&[0x80, 0x55], utf8("x"))])]),
            ),
            (
                "AVA with three parts",
                name(&[rdn(&[tlv(
                    SEQUENCE,
                    &[tlv(OID, CN), utf8("x"), utf8("y")].concat(),
                )])]),
            ),
            (
                "AVA with one part",
                name(&[rdn(&[tlv(SEQUENCE, &tlv(OID, CN))])]),
            ),
            (
                "RDN as SEQUENCE",
                name(&[tlv(SEQUENCE, &ava(CN, utf8("x")))]),
            ),
            (
                "BER lengths on the Name, RDN and AVA",
                [
                    &[0x30, 0x81, 0x0e, 0x31, 0x82, 0x00, 0x0a, 0x30, 0x81, 0x07][..],
                    &tlv(OID, CN),
                    &utf8("Q"),
                ]
                .concat(),
            ),
        ];
        for (label, der) in structured {
            out.push((label.to_string(), der));
        }
        out
    }

    #[test]
    fn mozilla_roots_hash_as_openssl_does() {
        let roots = roots();
        assert!(roots.len() > 100, "{}", roots.len());
        let theirs = par_map(&roots, |c| openssl_hash(&c.der));
        for (cert, theirs) in roots.iter().zip(theirs) {
            let theirs = theirs.unwrap_or_else(|| panic!("openssl cannot load {}", cert.subject));
            assert_eq!(subject_hash(cert), Ok(theirs), "{}", cert.subject);
        }
    }

    /// Each name put into a real certificate, hashed by us and by
    /// `openssl x509 -subject_hash`: the same hash, or both refuse.
    #[test]
    fn crafted_subjects_hash_as_openssl_does() {
        let template = roots()[0].der.clone();
        let cases = subjects();
        let results = par_map(&cases, |(label, name_der)| {
            let der = with_subject(&template, name_der);
            let theirs = openssl_hash(&der);
            let ours = name_hash(name_der);
            // Where x509-parser takes the certificate, `subject_hash` on it
            // must agree with the hash of the raw name.
            if let Ok(cert) = Cert::from_der(&der) {
                assert_eq!(subject_hash(&cert), ours, "{label}");
            }
            (label.clone(), ours, theirs)
        });
        let wrong: Vec<String> = results
            .iter()
            .filter(|(_, ours, theirs)| ours.as_ref().ok() != theirs.as_ref())
            .map(|(label, ours, theirs)| format!("{label}: ours {ours:x?}, openssl {theirs:x?}"))
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        let hashed = results.iter().filter(|r| r.2.is_some()).count();
        assert!(cases.len() >= 240, "{}", cases.len());
        eprintln!(
            "{} names, {} hashed",
            cases.len(),
            results.iter().filter(|r| r.2.is_some()).count()
        );
        assert!(
            hashed >= 180 && hashed < cases.len(),
            "{hashed} of {}",
            cases.len()
        );
        // The empty name is SHA-1 of nothing.
        assert_eq!(name_hash(&name(&[])), Ok(0xeea339da));
    }

    /// Certificates as `openssl req` makes them, from `-subj` strings,
    /// under each string mask: PrintableString, T61String (Latin-1),
    /// BMPString, UTF8String.
    #[test]
    fn openssl_made_subjects_hash_as_openssl_does() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let key = key.to_str().unwrap();
        ec_key(key);
        let subjects = [
            "/",
            "/CN=Simple",
            "/C=DE/O=Müller & Söhne GmbH/CN=Ärger Ltd",
            "/CN=  spaced   out  ",
            "/CN=Tab\there\t/OU=\tlead",
            "/CN=MiXeD CaSe/OU=UPPER CASE",
            "/CN=日本語 ルート",
            "/CN=café/O=Ÿ€",
            "/CN=😀 Emoji",
            "/O=Zed+CN=alpha+OU=Mid",
            "/CN=B+CN=a/O=Org",
            "/DC=com/DC=Example/CN=Root",
            "/emailAddress=Root@Example.COM/CN=Mail",
            "/serialNumber=12345/CN=With Serial",
            "/street=1  Main   St/L=Springfield",
            "/CN=a\\/b \\+ c",
        ];
        let masks = [
            "utf8only",
            "default",
            "pkix",
            "nombstr",
            "MASK:0x0800",
            "MASK:0x0004",
        ];
        let jobs: Vec<(usize, &str, &str)> = masks
            .iter()
            .flat_map(|m| subjects.iter().map(move |s| (*m, *s)))
            .enumerate()
            .map(|(i, (m, s))| (i, m, s))
            .collect();
        let results = par_map(&jobs, |&(i, mask, subj)| {
            let config = dir.path().join(format!("{i}.cnf"));
            fs::write(
                &config,
                format!("[req]\ndistinguished_name = dn\nstring_mask = {mask}\nutf8 = yes\n[dn]\n"),
            )
            .unwrap();
            let cert = dir.path().join(format!("{i}.der"));
            let [config, cert] = [&config, &cert].map(|p| p.to_str().unwrap());
            let made = openssl(&[
                "req",
                "-x509",
                "-config",
                config,
                "-key",
                key,
                "-subj",
                subj,
                "-utf8",
                "-multivalue-rdn",
                "-days",
                "1",
                "-outform",
                "DER",
                "-out",
                cert,
            ]);
            if !made.status.success() {
                // Characters the mask has no type for (nombstr and T61
                // only take Latin-1).
                return None;
            }
            let der = fs::read(cert).unwrap();
            Some((mask, subj, der.clone(), openssl_hash(&der)))
        });
        let mut made = 0;
        for (mask, subj, der, theirs) in results.into_iter().flatten() {
            made += 1;
            let theirs = theirs.expect("openssl loads what it made");
            let raw = subject_of(&der).unwrap();
            assert_eq!(name_hash(raw), Ok(theirs), "{mask} {subj}");
            // x509-parser refuses a T61String that is not UTF-8.
            if let Ok(cert) = Cert::from_der(&der) {
                assert_eq!(subject_hash(&cert), Ok(theirs), "{mask} {subj}");
            }
        }
        assert!(made >= 80, "{made}");
    }

    /// The names and contents in a folder, following links.
    fn folder(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                let name = e.file_name().into_string().unwrap();
                (name, fs::read(e.path()).unwrap())
            })
            .collect()
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// Roots, plus four certificates sharing the first root's subject (so
    /// five share a hash), plus one root given twice.
    fn colliding_set() -> Vec<Cert> {
        let roots = roots();
        let first_subject = subject_of(&roots[0].der).unwrap().to_vec();
        let mut certs = roots.clone();
        for other in &roots[1..5] {
            certs.push(Cert::from_der(&with_subject(&other.der, &first_subject)).unwrap());
        }
        certs.push(roots[7].clone());
        certs
    }

    #[test]
    fn plan_names_the_files_as_openssl_rehash_does() {
        let certs = colliding_set();
        let files = plan(&refs(&certs));
        assert_eq!(files.len(), certs.len() - 1, "the repeated root once");
        let first = format!("{:08x}", subject_hash(&certs[0]).unwrap());
        for n in 0..5 {
            assert!(
                files
                    .iter()
                    .any(|(name, _)| *name == format!("{first}.{n}"))
            );
        }

        let theirs = tempfile::tempdir().unwrap();
        for (i, cert) in certs.iter().enumerate() {
            fs::write(theirs.path().join(format!("{i:04}.pem")), cert.to_pem()).unwrap();
        }
        openssl_ok(&["rehash", theirs.path().to_str().unwrap()]);
        let rehashed: std::collections::BTreeMap<String, Vec<u8>> = folder(theirs.path())
            .into_iter()
            .filter(|(name, _)| !name.ends_with(".pem"))
            .collect();

        let (_home, link) = home();
        assert!(write(&link, &refs(&certs)).unwrap());
        let ours = folder(&link);

        let planned: std::collections::BTreeMap<String, Vec<u8>> = files.into_iter().collect();
        assert_eq!(ours, planned);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            rehashed.keys().collect::<Vec<_>>()
        );
        // Within one hash, which certificate gets which number is
        // rehash's business; each hash must hold the same certificates.
        fn by_hash(
            files: &std::collections::BTreeMap<String, Vec<u8>>,
        ) -> std::collections::BTreeMap<&str, Vec<&[u8]>> {
            let mut map: std::collections::BTreeMap<&str, Vec<&[u8]>> = Default::default();
            for (name, pem) in files {
                map.entry(&name[..8]).or_default().push(pem);
            }
            map.values_mut().for_each(|v| v.sort());
            map
        }
        assert_eq!(by_hash(&ours), by_hash(&rehashed));
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// What a write leaves beside the link: the link and its folder.
    fn assert_only_link_and_folder(link: &Path) {
        let target = fs::read_link(link)
            .unwrap()
            .into_os_string()
            .into_string()
            .unwrap();
        let mut want = vec![target, "certs".to_string()];
        want.sort();
        assert_eq!(names_in(link.parent().unwrap()), want);
    }

    #[test]
    fn a_second_write_of_the_same_set_changes_nothing() {
        let roots = roots();
        let (home, link) = home();
        assert!(write(&link, &refs(&roots)).unwrap());
        assert_eq!(mode(&link), 0o755);
        for name in names_in(&link) {
            assert_eq!(mode(&link.join(name)), 0o644);
        }
        let stamp = |p: &Path| {
            let m = fs::symlink_metadata(p).unwrap();
            (m.ino(), m.mtime(), m.mtime_nsec(), m.ctime_nsec())
        };
        let files = |dir: &Path| -> Vec<_> {
            names_in(dir)
                .into_iter()
                .map(|n| stamp(&dir.join(n)))
                .collect()
        };
        let before = (
            stamp(home.path()),
            stamp(&link),
            stamp(&link.join(".")),
            files(&link),
        );
        assert!(!write(&link, &refs(&roots)).unwrap());
        let after = (
            stamp(home.path()),
            stamp(&link),
            stamp(&link.join(".")),
            files(&link),
        );
        assert_eq!(before, after);
        assert_only_link_and_folder(&link);
    }

    #[test]
    fn a_changed_set_swaps_the_link_and_removes_the_old_folder() {
        let roots = roots();
        let (home, link) = home();
        assert!(write(&link, &refs(&roots)).unwrap());
        let old = fs::read_link(&link).unwrap();
        let fewer = refs(&roots[..50]);
        assert!(write(&link, &fewer).unwrap());
        let new = fs::read_link(&link).unwrap();
        assert_ne!(old, new);
        assert!(!home.path().join(&old).exists());
        assert_eq!(folder(&link), plan(&fewer).into_iter().collect());
        assert_only_link_and_folder(&link);
        // And back; an empty set is a folder with nothing in it.
        assert!(write(&link, &refs(&roots)).unwrap());
        assert_eq!(fs::read_link(&link).unwrap(), old);
        assert!(write(&link, &[]).unwrap());
        assert!(names_in(&link).is_empty());
        assert_only_link_and_folder(&link);
    }

    #[test]
    fn what_a_killed_run_left_is_cleaned_at_the_next_write() {
        let roots = roots();
        let all = refs(&roots);
        let (home, link) = home();
        // Killed while filling the folder for this very set, with the
        // temp link made: the half folder is not trusted.
        let id = content_id(&entries(&all));
        let half = home.path().join(format!(".certs-{id:016x}"));
        fs::create_dir(&half).unwrap();
        fs::write(half.join("00000000.0"), b"half a cert").unwrap();
        std::os::unix::fs::symlink(&half, home.path().join(".certs.tmp")).unwrap();
        assert!(write(&link, &all).unwrap());
        assert_eq!(folder(&link), plan(&all).into_iter().collect());
        assert_only_link_and_folder(&link);
        // Killed after the swap, before the old folder was removed: an
        // unchanged write still removes it, and changes nothing else.
        let stale = home.path().join(".certs-0123456789abcdef");
        fs::create_dir(&stale).unwrap();
        fs::write(stale.join("00000000.0"), b"old").unwrap();
        assert!(!write(&link, &all).unwrap());
        assert_only_link_and_folder(&link);
        // Others' names beside the link are not touched.
        for other in [
            ".certs-notours",
            ".certs-0123456789ABCDEF",
            "certs.bak",
            ".other-0123456789abcdef",
        ] {
            fs::create_dir(home.path().join(other)).unwrap();
        }
        assert!(write(&link, &all[..3]).unwrap());
        assert_eq!(names_in(home.path()).len(), 6);
    }

    #[test]
    fn a_damaged_folder_is_replaced_whole() {
        let roots = roots();
        let all = refs(&roots);
        let (_home, link) = home();
        assert!(write(&link, &all).unwrap());
        let first = fs::read_link(&link).unwrap();
        let victim = names_in(&link).pop().unwrap();
        fs::remove_file(link.join(&victim)).unwrap();
        assert!(write(&link, &all).unwrap());
        assert_ne!(fs::read_link(&link).unwrap(), first);
        assert_eq!(folder(&link), plan(&all).into_iter().collect());
        assert_only_link_and_folder(&link);
        // Truncated this time, and the second name is the one damaged.
        fs::write(link.join(&victim), b"").unwrap();
        assert!(write(&link, &all).unwrap());
        assert_eq!(fs::read_link(&link).unwrap(), first);
        assert!(!write(&link, &all).unwrap());
    }

    #[test]
    fn what_cabundle_did_not_make_is_refused_and_left_alone() {
        let roots = roots();
        let (home, link) = home();
        fs::create_dir(&link).unwrap();
        fs::write(link.join("mine.pem"), b"precious").unwrap();
        let err = write(&link, &refs(&roots)).unwrap_err().to_string();
        assert!(
            err.contains(&*link.to_string_lossy()) && err.contains("a folder"),
            "{err}"
        );
        assert_eq!(fs::read(link.join("mine.pem")).unwrap(), b"precious");
        assert_eq!(names_in(home.path()), ["certs"]);

        fs::remove_dir_all(&link).unwrap();
        fs::write(&link, b"a file").unwrap();
        let err = write(&link, &refs(&roots)).unwrap_err().to_string();
        assert!(err.contains("a file"), "{err}");
        assert_eq!(fs::read(&link).unwrap(), b"a file");

        fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("/etc/ssl/certs", &link).unwrap();
        let err = write(&link, &refs(&roots)).unwrap_err().to_string();
        assert!(err.contains("a link to /etc/ssl/certs"), "{err}");
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("/etc/ssl/certs"));
        assert_eq!(names_in(home.path()), ["certs"]);
    }

    #[test]
    fn each_file_fsynced_gives_the_same_folder() {
        let roots = roots();
        let home = tempfile::tempdir().unwrap();
        let (a, b) = (home.path().join("a/certs"), home.path().join("b/certs"));
        let refs = refs(&roots);
        let files = entries(&refs);
        assert!(write_files(&a, &files, Durability::EachFile).unwrap());
        assert!(write_files(&b, &files, Durability::SyncFs).unwrap());
        assert_eq!(folder(&a), folder(&b));
        assert_eq!(fs::read_link(&a).unwrap(), fs::read_link(&b).unwrap());
    }

    fn verify(capath: &Path, cert: &Path) -> (bool, String) {
        let out = openssl(&[
            "verify",
            "-no-CAfile",
            "-no-CAstore",
            "-CApath",
            capath.to_str().unwrap(),
            cert.to_str().unwrap(),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    #[test]
    fn openssl_verify_finds_roots_through_the_folder() {
        let work = tempfile::tempdir().unwrap();
        let w = work.path();
        let [ca_key, ca, leaf_key, csr, leaf] =
            ["ca.key", "ca.pem", "leaf.key", "leaf.csr", "leaf.pem"]
                .map(|name| w.join(name).into_os_string().into_string().unwrap());
        ec_key(&ca_key);
        ec_key(&leaf_key);
        let ca_subject = "/O=Test  Org/CN=Test Root CA";
        openssl_ok(&[
            "req",
            "-x509",
            "-key",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            ca_subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        openssl_ok(&[
            "req",
            "-new",
            "-key",
            &leaf_key,
            "-out",
            &csr,
            "-subj",
            "/CN=leaf.test",
        ]);
        openssl_ok(&[
            "x509", "-req", "-in", &csr, "-CA", &ca, "-CAkey", &ca_key, "-days", "1", "-out", &leaf,
        ]);
        let ca = crate::decode::decode(&fs::read(&ca).unwrap()).items[0]
            .cert
            .clone();
        let roots = roots();
        let root_pem = w.join("root.pem");
        fs::write(&root_pem, roots[3].to_pem()).unwrap();

        let link = w.join("home/certs");
        let mut with_ca = refs(&roots);
        with_ca.push(&ca);
        assert!(write(&link, &with_ca).unwrap());
        let (ok, text) = verify(&link, Path::new(&leaf));
        assert!(ok && text.contains(": OK"), "{text}");
        let (ok, text) = verify(&link, &root_pem);
        assert!(ok && text.contains(": OK"), "{text}");

        // Pruned from the set, it is gone from the folder too.
        assert!(write(&link, &refs(&roots)).unwrap());
        let (ok, text) = verify(&link, Path::new(&leaf));
        assert!(!ok, "{text}");
        assert!(write(&link, &refs(&roots[4..])).unwrap());
        let (ok, text) = verify(&link, &root_pem);
        assert!(!ok, "{text}");
    }

    /// The two sets the killed writer alternates between.
    fn kill_sets(roots: &[Cert]) -> [Vec<&Cert>; 2] {
        [refs(roots), refs(&roots[10..])]
    }

    /// Not a test by itself: the writer that
    /// `a_kill_at_any_moment_leaves_a_whole_folder` runs and kills.
    #[test]
    #[ignore = "run by a_kill_at_any_moment_leaves_a_whole_folder"]
    fn killed_writer() {
        let Some(link) = std::env::var_os("CABUNDLE_HASHDIR_KILL_LINK") else {
            return;
        };
        // A umask that would make the folder private, which write undoes.
        // SAFETY: umask only sets this process's file mode mask.
        unsafe { libc::umask(0o077) };
        let roots = roots();
        let sets = kill_sets(&roots);
        // Bounded, should the test that kills it die first.
        let start = std::time::Instant::now();
        println!("writing");
        for i in 0.. {
            if start.elapsed().as_secs() > 20 {
                break;
            }
            write(Path::new(&link), &sets[i % 2]).unwrap();
            println!("wrote {i}");
        }
    }

    #[test]
    fn a_kill_at_any_moment_leaves_a_whole_folder() {
        let roots = roots();
        let sets = kill_sets(&roots);
        let whole: Vec<std::collections::BTreeMap<String, Vec<u8>>> =
            sets.iter().map(|s| plan(s).into_iter().collect()).collect();
        let (_home, link) = home();
        let mut seen = [false; 2];
        for round in 0..24u64 {
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "outputs::hashdir::tests::killed_writer",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("CABUNDLE_HASHDIR_KILL_LINK", &link)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // The first round kills after a whole write, so that there is
            // a folder to keep whole; the others at uneven times after
            // the writer starts, landing in every step of a write.
            let wait_for = if round == 0 { "wrote" } else { "writing" };
            // The harness prints the marker after the test's name.
            // `stdout` stays open until the kill: a writer whose pipe
            // closed would die at its next line, not at a random moment.
            let mut stdout = io::BufRead::lines(io::BufReader::new(child.stdout.take().unwrap()));
            let started = stdout
                .by_ref()
                .map_while(|l| l.ok())
                .any(|l| l.contains(wait_for));
            assert!(started, "round {round}: the writer stopped");
            std::thread::sleep(std::time::Duration::from_millis(round * 37 % 250));
            child.kill().unwrap();
            child.wait().unwrap();
            if fs::symlink_metadata(&link).is_err() {
                continue;
            }
            let found = folder(&link);
            let which = whole.iter().position(|w| *w == found);
            let which = which.unwrap_or_else(|| panic!("round {round}: {} files", found.len()));
            seen[which] = true;
            assert_eq!(mode(&link), 0o755);
            for name in found.keys() {
                assert_eq!(mode(&link.join(name)), 0o644);
            }
        }
        assert!(seen[0] || seen[1], "the writer never finished a write");
        write(&link, &sets[0]).unwrap();
        assert_eq!(folder(&link), whole[0]);
        assert_only_link_and_folder(&link);
    }

    /// Timings for the report: `cargo test --lib hashdir::tests::timings
    /// -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement, not a check"]
    fn timings() {
        use std::time::Instant;
        let roots = roots();
        let key = rcgen::KeyPair::generate().unwrap();
        let made = Instant::now();
        let generated: Vec<Cert> = (0..10_000)
            .map(|i| {
                let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
                params
                    .distinguished_name
                    .push(rcgen::DnType::CommonName, format!("Generated CA {i}"));
                let cert = params.self_signed(&key).unwrap();
                Cert::from_der(cert.der()).unwrap()
            })
            .collect();
        eprintln!("generated 10k EC certificates in {:?}", made.elapsed());
        let home = tempfile::tempdir().unwrap();
        let sets = [
            ("117 roots", refs(&roots)),
            ("1k EC", refs(&generated[..1000])),
            ("10k EC", refs(&generated)),
        ];
        for (label, certs) in sets {
            for durability in [Durability::SyncFs, Durability::EachFile] {
                for round in 0..3 {
                    let link = home.path().join(format!("{durability:?}-{round}/certs"));
                    let t = Instant::now();
                    assert!(write_files(&link, &entries(&certs), durability).unwrap());
                    let fresh = t.elapsed();
                    let t = Instant::now();
                    assert!(!write_files(&link, &entries(&certs), durability).unwrap());
                    let unchanged = t.elapsed();
                    let t = Instant::now();
                    let files = plan(&certs);
                    let planning = t.elapsed();
                    eprintln!(
                        "{label:9} {durability:?}: fresh {fresh:?}, unchanged {unchanged:?} (plan alone {planning:?}, {} files)",
                        files.len()
                    );
                    fs::remove_dir_all(link.parent().unwrap()).unwrap();
                }
            }
        }
    }
}
