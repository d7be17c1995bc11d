//! The OS trust store, read through one table of known layouts.
//!
//! Paths in the table are absolute as seen inside the system; they are read
//! under `--root`, so an image's filesystem or a test fixture works the same
//! way as `/`.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Fingerprint, Gathered};
use crate::decode;

/// The folder where admins drop CA files for Debian's or Alpine's updater.
pub struct DropIns {
    pub dir: &'static str,
    /// Only files with this extension count (Debian's updater reads `*.crt`).
    pub extension: Option<&'static str>,
    /// Debian's updater searches the folder's subfolders too (`find -L`);
    /// Alpine's `update-ca` reads its top level only.
    pub recursive: bool,
    /// Alpine's `update-ca` skips names that start with a dot.
    pub skip_dot_files: bool,
    /// The updater, for messages.
    pub updater: &'static str,
}

/// Where `install --system` puts a CA, and what makes the OS pick it up.
pub struct Install {
    pub dir: &'static str,
    pub extension: &'static str,
    pub updater: &'static [&'static str],
    /// After files were taken out. Debian's updater leaves the links to a
    /// removed drop-in behind in /etc/ssl/certs unless it runs `--fresh`.
    pub updater_after_removal: &'static [&'static str],
}

/// The systems whose trust store cabundle reads: a layout of the table
/// below each, and macOS (through `security`, or an export).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Debian and Ubuntu.
    Debian,
    Alpine,
    /// RHEL, Fedora, CentOS, Amazon Linux, Rocky, Alma, Oracle.
    Rhel,
    /// SUSE and openSUSE.
    Suse,
    Arch,
    Macos,
}

impl Family {
    pub const ALL: [Family; 6] = [
        Family::Debian,
        Family::Alpine,
        Family::Rhel,
        Family::Suse,
        Family::Arch,
        Family::Macos,
    ];

    /// As the manifest and messages write it.
    pub fn name(self) -> &'static str {
        match self {
            Family::Debian => "debian",
            Family::Alpine => "alpine",
            Family::Rhel => "rhel",
            Family::Suse => "suse",
            Family::Arch => "arch",
            Family::Macos => "macos",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Family {
    type Err = UnknownFamily;
    fn from_str(s: &str) -> Result<Family, UnknownFamily> {
        Family::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFamily(s.to_string()))
    }
}

crate::serde_as_text!(Family);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an OS family cabundle knows")]
pub struct UnknownFamily(pub String);

/// One OS family's trust store: where its updater reads and writes, and
/// how its admin says "trust this" and "do not trust this".
pub struct Layout {
    pub family: Family,
    /// `ID` / `ID_LIKE` words of os-release that mean this layout.
    pub os_ids: &'static [&'static str],
    /// Files only this family has, for when os-release is missing.
    pub markers: &'static [&'static str],
    /// Extracted bundles the distribution's updater writes, read as
    /// OpenSSL reads them (aux trust data included).
    pub bundles: &'static [&'static str],
    pub admin: Admin,
    pub install: Install,
}

/// Where the admin's own trust and distrust live: one of two designs.
pub enum Admin {
    /// Debian's and Alpine's: CA files dropped in a folder, and `!path`
    /// lines in a conf file deselecting certificates under a base folder.
    DropIns {
        drop_ins: DropIns,
        /// (the conf file, the base its paths are under).
        conf_bang: (&'static str, &'static str),
    },
    /// p11-kit's trust source folders, in p11-kit's order (see
    /// [`super::p11kit`]): anchors, blocklists and extended-format files.
    P11kit(&'static [&'static str]),
}

const DEBIAN_CONF: (&str, &str) = ("/etc/ca-certificates.conf", "/usr/share/ca-certificates");

impl Install {
    /// Installed into `dir` as `*.extension`, then `updater`, which also
    /// takes removed files out.
    const fn with(
        dir: &'static str,
        extension: &'static str,
        updater: &'static [&'static str],
    ) -> Install {
        Install {
            dir,
            extension,
            updater,
            updater_after_removal: updater,
        }
    }
}

/// The known layouts. Debian and Alpine share a bundle path: when neither
/// os-release nor a marker file tells them apart, Debian, the more common,
/// is first.
pub static LAYOUTS: &[Layout] = &[
    Layout {
        family: Family::Debian,
        os_ids: &["debian", "ubuntu"],
        markers: &["/etc/debian_version"],
        bundles: &["/etc/ssl/certs/ca-certificates.crt"],
        admin: Admin::DropIns {
            drop_ins: DropIns {
                dir: "/usr/local/share/ca-certificates",
                extension: Some("crt"),
                recursive: true,
                skip_dot_files: false,
                updater: "update-ca-certificates",
            },
            conf_bang: DEBIAN_CONF,
        },
        install: Install {
            updater_after_removal: &["update-ca-certificates", "--fresh"],
            ..Install::with(
                "/usr/local/share/ca-certificates",
                "crt",
                &["update-ca-certificates"],
            )
        },
    },
    Layout {
        family: Family::Alpine,
        os_ids: &["alpine"],
        markers: &["/etc/alpine-release"],
        bundles: &["/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"],
        admin: Admin::DropIns {
            drop_ins: DropIns {
                dir: "/usr/local/share/ca-certificates",
                extension: None,
                recursive: false,
                skip_dot_files: true,
                updater: "update-ca-certificates",
            },
            conf_bang: DEBIAN_CONF,
        },
        install: Install::with(
            "/usr/local/share/ca-certificates",
            "crt",
            &["update-ca-certificates"],
        ),
    },
    Layout {
        family: Family::Rhel,
        os_ids: &[
            "rhel",
            "fedora",
            "centos",
            "amzn",
            "rocky",
            "almalinux",
            "ol",
        ],
        markers: &[
            "/etc/redhat-release",
            "/etc/system-release",
            "/etc/pki/ca-trust",
        ],
        bundles: &[
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt",
        ],
        admin: Admin::P11kit(&["/etc/pki/ca-trust/source", "/usr/share/pki/ca-trust-source"]),
        install: Install::with(
            "/etc/pki/ca-trust/source/anchors",
            "pem",
            &["update-ca-trust", "extract"],
        ),
    },
    Layout {
        family: Family::Suse,
        os_ids: &["suse", "opensuse", "sles", "sled"],
        markers: &["/etc/SUSE-brand", "/var/lib/ca-certificates"],
        // The extracted pem/ and openssl/ folders hold the same anchors as
        // the bundle and no distrust: that comes from the source folders.
        bundles: &[
            "/var/lib/ca-certificates/ca-bundle.pem",
            "/etc/ssl/ca-bundle.pem",
        ],
        admin: Admin::P11kit(&["/etc/pki/trust", "/usr/share/pki/trust"]),
        install: Install::with("/etc/pki/trust/anchors", "pem", &["update-ca-certificates"]),
    },
    Layout {
        family: Family::Arch,
        os_ids: &["arch", "archarm", "manjaro", "endeavouros"],
        markers: &["/etc/arch-release", "/etc/ca-certificates/extracted"],
        bundles: &[
            "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
            // Arch's update-ca-trust writes this one too: it carries the
            // distrust that tls-ca-bundle.pem can only express by absence.
            "/etc/ca-certificates/extracted/ca-bundle.trust.crt",
        ],
        admin: Admin::P11kit(&[
            "/etc/ca-certificates/trust-source",
            "/usr/share/ca-certificates/trust-source",
        ]),
        install: Install::with(
            "/etc/ca-certificates/trust-source/anchors",
            "crt",
            &["trust", "extract-compat"],
        ),
    },
];

/// What `sync` found out about the system it read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OsInfo {
    pub root: PathBuf,
    /// The layout used, or `None` when no OS trust store was found.
    pub family: Option<Family>,
    /// os-release's PRETTY_NAME, where there is one.
    pub name: Option<String>,
    /// How many certificates the OS store gave (before deduplication).
    pub certificates: usize,
}

/// Drop-in folders nest rarely and shallowly; a bound keeps a symlink loop
/// between folders from recursing forever.
const MAX_DEPTH: usize = 16;

pub fn load(root: &Path, out: &mut Gathered) -> OsInfo {
    let (layout, name) = detect(root);
    let mut info = OsInfo {
        root: root.to_path_buf(),
        family: layout.map(|l| l.family),
        name,
        certificates: 0,
    };
    let Some(layout) = layout else {
        return info;
    };
    for bundle in layout.bundles {
        match under(root, bundle) {
            Ok(path) if path.exists() => {
                info.certificates += out.read_file(root, bundle.as_ref(), &format!("os:{bundle}"));
            }
            Ok(_) => {}
            Err(e) => out.problem(bundle.as_ref(), e.to_string()),
        }
    }
    match &layout.admin {
        Admin::DropIns {
            drop_ins,
            conf_bang: (conf, base),
        } => {
            info.certificates += read_drop_ins(root, drop_ins, out);
            conf_bang(root, conf, base, out);
        }
        Admin::P11kit(sources) => info.certificates += super::p11kit::load(root, sources, out),
    }
    info
}

/// Debian's and Alpine's drop-in folder, as their updaters read it: they
/// append each file to the bundle as it is, so only PEM is ever trusted
/// (a DER file becomes bytes OpenSSL skips).
fn read_drop_ins(root: &Path, d: &DropIns, out: &mut Gathered) -> usize {
    let mut wanted_files = Vec::new();
    let depth = if d.recursive {
        Depth::Deep
    } else {
        Depth::Top(&[])
    };
    for shown in list_files(root, Path::new(d.dir), depth, out) {
        let name = shown
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if d.skip_dot_files && name.starts_with('.') {
            continue;
        }
        if let Some(ext) = d.extension
            && shown.extension().is_none_or(|e| e != ext)
        {
            out.problem(
                &shown,
                format!("ignored: {} only reads *.{ext} files here", d.updater),
            );
            continue;
        }
        let label = format!("os:{}", shown.display());
        wanted_files.push((shown, label));
    }
    let results = super::decode_all(root, &wanted_files, &out.memo, out.list_only);
    let mut total = 0;
    for ((shown, label), result) in wanted_files.into_iter().zip(results) {
        match result {
            Ok((decoded, digest)) if decoded.der => {
                out.read(&shown, digest, 0);
                out.problem(
                    &shown,
                    format!(
                        "ignored: a DER certificate, and {} trusts only PEM; convert it with \
                     `openssl x509 -inform der -in {path} -out {path}.pem` and keep only the PEM",
                        d.updater,
                        path = crate::cert::shown(&shown),
                    ),
                )
            }
            Ok((decoded, digest)) => total += out.record(&shown, &label, decoded, digest),
            Err(reason) => out.problem(&shown, reason),
        }
    }
    total
}

/// The layout os-release names; failing that, the one whose marker files
/// exist; failing that, the first whose store files exist.
pub fn detect(root: &Path) -> (Option<&'static Layout>, Option<String>) {
    let release = OsRelease::read(root);
    let named = release
        .ids
        .iter()
        .find_map(|id| LAYOUTS.iter().find(|l| l.os_ids.contains(&id.as_str())));
    let exists = |p: &&str| under(root, p).is_ok_and(|p| p.exists());
    let layout = named
        .or_else(|| LAYOUTS.iter().find(|l| l.markers.iter().any(exists)))
        .or_else(|| {
            LAYOUTS.iter().find(|l| {
                l.bundles
                    .iter()
                    .chain(match &l.admin {
                        Admin::DropIns { drop_ins, .. } => Some(&drop_ins.dir),
                        Admin::P11kit(_) => None,
                    })
                    .any(exists)
            })
        });
    (layout, release.pretty_name)
}

#[derive(Default)]
struct OsRelease {
    /// ID first, then the ID_LIKE words.
    ids: Vec<String>,
    pretty_name: Option<String>,
}

impl OsRelease {
    fn read(root: &Path) -> OsRelease {
        let text = ["/etc/os-release", "/usr/lib/os-release"]
            .iter()
            .find_map(|p| read_in(root, Path::new(p)).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mut out = OsRelease::default();
        let mut like = Vec::new();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches(['"', '\'']).to_string();
            match key.trim() {
                "ID" => out.ids.insert(0, value.to_ascii_lowercase()),
                "ID_LIKE" => like.extend(value.split_whitespace().map(str::to_ascii_lowercase)),
                "PRETTY_NAME" => out.pretty_name = Some(value),
                _ => {}
            }
        }
        out.ids.extend(like);
        out
    }
}

/// How deep [`list_files`] reads.
#[derive(Clone, Copy)]
pub enum Depth<'a> {
    /// Subfolders too, to any depth.
    Deep,
    /// The top level only; a subfolder is reported as not read, unless it
    /// is one of these (read separately, as p11-kit's anchors/).
    Top(&'a [&'a str]),
}

/// The files in `dir` (a path inside the system), sorted, as system paths.
/// A missing `dir` has none. Each folder is entered once, however many
/// links lead to it, so links back up the tree cannot make the walk loop or
/// multiply.
pub fn list_files(root: &Path, dir: &Path, depth: Depth, out: &mut Gathered) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    walk_in(root, dir, 0, depth, &mut seen, &mut files, out);
    files
}

fn walk_in(
    root: &Path,
    dir: &Path,
    level: usize,
    depth: Depth,
    seen: &mut HashSet<(u64, u64)>,
    files: &mut Vec<PathBuf>,
    out: &mut Gathered,
) {
    let real = match under(root, dir) {
        Ok(real) => real,
        Err(e) => return out.problem(dir, e.to_string()),
    };
    if let Ok(m) = fs::metadata(&real)
        && !seen.insert((m.dev(), m.ino()))
    {
        return out.problem(dir, "a link back to a folder already read; skipped");
    }
    let entries = match fs::read_dir(&real) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound && level == 0 => return,
        Err(e) => return out.problem(dir, e.to_string()),
    };
    let mut names: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let shown = dir.join(&name);
        let meta = under(root, &shown).and_then(fs::metadata);
        match (meta, depth) {
            (Ok(m), Depth::Deep) if m.is_dir() && level < MAX_DEPTH => {
                walk_in(root, &shown, level + 1, depth, seen, files, out)
            }
            (Ok(m), Depth::Deep) if m.is_dir() => {
                out.problem(&shown, "folders nested too deeply; skipped")
            }
            // p11-kit's anchors/ and Alpine's drop-ins: their updaters do
            // not read subfolders, so neither does this.
            (Ok(m), Depth::Top(known)) if m.is_dir() => {
                if !known.iter().any(|k| name == *k) {
                    out.problem(
                        &shown,
                        "a folder: nothing in it is read, as this system's updater reads \
                         only the files directly in its parent",
                    )
                }
            }
            // Broken links, loops and special files are reported by the reader.
            _ => files.push(shown),
        }
    }
}

/// Debian's `/etc/ca-certificates.conf`: a line `!mozilla/X.crt` deselects
/// that certificate. The admin meant "do not trust", so it is left out
/// whichever source carries it.
fn conf_bang(root: &Path, conf: &str, base: &str, out: &mut Gathered) {
    let conf_path = match under(root, conf) {
        Ok(p) => p,
        Err(e) => return out.unapplied(conf.as_ref(), e.to_string()),
    };
    let text = match read_in(root, Path::new(conf)) {
        Ok(bytes) => {
            out.read(Path::new(conf), super::Digest::of(&bytes), 0);
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Err(_) if !conf_path.exists() => return,
        Err(reason) => {
            return out.unapplied(
                conf.as_ref(),
                format!("cannot be read ({reason}), so its ! lines cannot be applied"),
            );
        }
    };
    for line in text.lines() {
        let Some(rel) = line.trim().strip_prefix('!') else {
            continue;
        };
        let shown = Path::new(base).join(rel.trim());
        let why = format!("deselected in {conf} (!{})", rel.trim());
        let real = match under(root, &shown) {
            Ok(real) => real,
            Err(e) => {
                out.unapplied(&shown, format!("{why}, but {e}"));
                continue;
            }
        };
        // Package upgrades leave `!` lines behind for certificates the
        // package has since removed (15 of them on Debian 12): with the file
        // gone there is nothing to identify, and nothing worth a warning.
        if fs::symlink_metadata(&real).is_err() {
            continue;
        }
        let list_only = out.list_only;
        let read = read_in(root, &shown).map(|bytes| {
            out.read(&shown, super::Digest::of(&bytes), 0);
            (!list_only).then(|| decode::decode(&bytes))
        });
        let read = match read {
            Ok(None) => continue,
            Ok(Some(decoded)) => Ok(decoded),
            Err(e) => Err(e),
        };
        match read {
            Ok(decoded) if decoded.errors.is_empty() && !decoded.items.is_empty() => {
                for item in decoded.items {
                    out.distrust(Fingerprint::Sha256(item.cert.sha256), why.clone());
                }
            }
            Ok(decoded) => out.unapplied(
                &shown,
                format!(
                    "{why}, but the file cannot be read: {}",
                    decoded
                        .errors
                        .first()
                        .map_or("no certificate in it".into(), ToString::to_string)
                ),
            ),
            Err(e) => out.unapplied(&shown, format!("{why}, but the file cannot be read ({e})")),
        }
    }
}

/// `system_path` (absolute inside the system) as a path under `root`.
///
/// Symbolic links are followed as they would be inside that system: an
/// absolute target (RHEL's `ca-bundle.crt`, Debian's links into
/// /usr/share/ca-certificates) is read under `root` too, never on the host.
/// A path whose links cannot be followed inside `root` (more than 40, a
/// loop, an unreadable link) is an error: falling back to the unresolved
/// path would let the kernel follow them out of `root`.
pub fn under(root: &Path, system_path: impl AsRef<Path>) -> std::io::Result<PathBuf> {
    let path = system_path.as_ref();
    if root == Path::new("/") {
        return Ok(Path::new("/").join(path));
    }
    resolve(root, path)
}

/// Read `system_path` (a path inside the system under `root`) as that
/// system resolves it. Where the kernel has openat2 (Linux 5.6), it is
/// opened with RESOLVE_IN_ROOT: the kernel itself keeps every link inside
/// `root`, even one changed while cabundle reads. Elsewhere (or where a
/// sandbox refuses the call) [`under`] resolves it first.
pub fn read_in(root: &Path, system_path: &Path) -> Result<Vec<u8>, decode::ReadError> {
    if root == Path::new("/") {
        return decode::read_bounded(system_path);
    }
    #[cfg(target_os = "linux")]
    match open_in_root(root, system_path) {
        Ok(file) => return decode::read_open(file, decode::MAX_FILE_SIZE),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {}
        Err(e) => return Err(e.into()),
    }
    decode::read_bounded(&under(root, system_path)?)
}

/// openat2(2) of `system_path` below `root`, RESOLVE_IN_ROOT: `..` and
/// absolute links stop at `root`, as if it were `/`.
#[cfg(target_os = "linux")]
fn open_in_root(root: &Path, system_path: &Path) -> std::io::Result<fs::File> {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(root)?;
    let relative = system_path.strip_prefix("/").unwrap_or(system_path);
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    let name = CString::new(relative.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    /// The kernel's `struct open_how` (libc's is non-exhaustive).
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let how = OpenHow {
        flags: (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY) as u64,
        mode: 0,
        resolve: libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: the descriptor and both pointers are valid for the call;
    // `how`'s size is passed as the kernel expects.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.as_raw_fd(),
            name.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { fs::File::from_raw_fd(fd as i32) })
}

/// As the kernel would resolve `path` with `root` as `/`: every link is
/// followed here, so the result has none left for the kernel to follow.
fn resolve(root: &Path, path: &Path) -> std::io::Result<PathBuf> {
    // Owned parts: link targets are spliced in as they are read.
    fn parts(p: &Path) -> impl Iterator<Item = Option<OsString>> + '_ {
        p.components().filter_map(|c| match c {
            Component::Normal(n) => Some(Some(n.to_os_string())),
            Component::ParentDir => Some(None),
            _ => None,
        })
    }
    let mut todo: VecDeque<Option<OsString>> = parts(path).collect();
    let mut cur = root.to_path_buf();
    let mut depth = 0usize;
    let mut hops = 0;
    while let Some(part) = todo.pop_front() {
        let Some(name) = part else {
            if depth > 0 {
                cur.pop();
                depth -= 1;
            }
            continue;
        };
        let next = cur.join(&name);
        match fs::symlink_metadata(&next) {
            Ok(m) if m.file_type().is_symlink() => {
                hops += 1;
                if hops > 40 {
                    // ELOOP, as the kernel would say it.
                    return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = fs::read_link(&next)?;
                if target.is_absolute() {
                    cur = root.to_path_buf();
                    depth = 0;
                }
                for (i, t) in parts(&target).enumerate() {
                    todo.insert(i, t);
                }
            }
            _ => {
                cur = next;
                depth += 1;
            }
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_are_written_and_read_by_one_name() {
        for f in Family::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{f}\""));
            assert_eq!(serde_json::from_str::<Family>(&json).unwrap(), f);
        }
        assert_eq!(serde_json::to_string(&Family::Rhel).unwrap(), "\"rhel\"");
        assert!("windows".parse::<Family>().is_err());
        // Every layout is one family, and no family has two.
        let mut seen: Vec<Family> = LAYOUTS.iter().map(|l| l.family).collect();
        seen.sort_by_key(|f| f.name());
        seen.dedup();
        assert_eq!(seen.len(), LAYOUTS.len());
    }

    /// A Debian-shaped tree (bundle, drop-in, a `!` line) and a RHEL-shaped
    /// one (p11-kit anchors and blocklist): listing only notes the same
    /// files with the same digests as a full read, and decodes nothing.
    #[test]
    fn listing_notes_the_files_a_load_reads_without_decoding() {
        let roots = crate::test_support::roots();
        let pem = |i: usize| roots[i].to_pem();
        let tmp = tempfile::tempdir().unwrap();
        let put = |root: &Path, path: &str, text: &str| {
            let file = root.join(path.trim_start_matches('/'));
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, text).unwrap();
        };
        let debian = tmp.path().join("debian");
        put(&debian, "/etc/debian_version", "12\n");
        put(
            &debian,
            "/etc/ssl/certs/ca-certificates.crt",
            &(pem(0) + &pem(1)),
        );
        put(
            &debian,
            "/usr/local/share/ca-certificates/corp.crt",
            &pem(2),
        );
        put(
            &debian,
            "/usr/share/ca-certificates/mozilla/old.crt",
            &pem(3),
        );
        put(
            &debian,
            "/etc/ca-certificates.conf",
            "mozilla/old.crt\n!mozilla/old.crt\n",
        );
        let rhel = tmp.path().join("rhel");
        put(&rhel, "/etc/redhat-release", "Red Hat Enterprise Linux 9\n");
        put(
            &rhel,
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
            &pem(0),
        );
        put(&rhel, "/etc/pki/ca-trust/source/anchors/corp.pem", &pem(4));
        put(&rhel, "/etc/pki/ca-trust/source/blocklist/bad.pem", &pem(5));
        for root in [&debian, &rhel] {
            let mut full = Gathered::default();
            load(root, &mut full);
            let mut listed = Gathered {
                list_only: true,
                ..Gathered::default()
            };
            load(root, &mut listed);
            let files = |g: &Gathered| -> Vec<(PathBuf, crate::cert::Sha256)> {
                g.files
                    .iter()
                    .map(|f| (f.path.clone(), f.digest.sha256))
                    .collect()
            };
            assert!(files(&full).len() >= 3, "{:?}", files(&full));
            assert_eq!(files(&listed), files(&full), "{}", root.display());
            assert!(!full.found.is_empty() && listed.found.is_empty());
            assert!(listed.distrusted.is_empty() && !full.distrusted.is_empty());
        }
    }
}
