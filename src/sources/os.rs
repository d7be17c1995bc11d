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

use super::{Distrust, Fingerprint, Gathered};
use crate::decode;

/// A folder where admins drop CA files for the distribution's updater.
pub struct Anchors {
    pub dir: &'static str,
    /// Only files with this extension count (Debian's updater reads `*.crt`).
    pub extension: Option<&'static str>,
}

/// How the admin says "do not trust this one".
pub enum DistrustRule {
    /// `!relative/path.crt` lines in `conf`, paths relative to `base`.
    ConfBang {
        conf: &'static str,
        base: &'static str,
    },
    /// Every certificate in every file below this folder (p11-kit's
    /// `blocklist/`, and `blacklist/` on older p11-kit and on Arch).
    Folder(&'static str),
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

pub struct Layout {
    pub family: &'static str,
    /// `ID` / `ID_LIKE` words of os-release that mean this layout.
    pub os_ids: &'static [&'static str],
    /// Files only this family has, for when os-release is missing.
    pub markers: &'static [&'static str],
    /// Extracted bundles the distribution's updater writes.
    pub bundles: &'static [&'static str],
    pub anchors: &'static [Anchors],
    pub distrust: &'static [DistrustRule],
    pub install: Install,
}

const DEBIAN_CONF: DistrustRule = DistrustRule::ConfBang {
    conf: "/etc/ca-certificates.conf",
    base: "/usr/share/ca-certificates",
};

/// The known layouts. Debian and Alpine share a bundle path: when neither
/// os-release nor a marker file tells them apart, Debian, the more common,
/// is first.
pub static LAYOUTS: &[Layout] = &[
    Layout {
        family: "debian",
        os_ids: &["debian", "ubuntu"],
        markers: &["/etc/debian_version"],
        bundles: &["/etc/ssl/certs/ca-certificates.crt"],
        anchors: &[Anchors {
            dir: "/usr/local/share/ca-certificates",
            extension: Some("crt"),
        }],
        distrust: &[DEBIAN_CONF],
        install: Install {
            dir: "/usr/local/share/ca-certificates",
            extension: "crt",
            updater: &["update-ca-certificates"],
            updater_after_removal: &["update-ca-certificates", "--fresh"],
        },
    },
    Layout {
        family: "alpine",
        os_ids: &["alpine"],
        markers: &["/etc/alpine-release"],
        bundles: &["/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"],
        anchors: &[Anchors {
            dir: "/usr/local/share/ca-certificates",
            extension: None,
        }],
        distrust: &[DEBIAN_CONF],
        install: Install {
            dir: "/usr/local/share/ca-certificates",
            extension: "crt",
            updater: &["update-ca-certificates"],
            updater_after_removal: &["update-ca-certificates"],
        },
    },
    Layout {
        family: "rhel",
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
        anchors: &[
            Anchors {
                dir: "/etc/pki/ca-trust/source/anchors",
                extension: None,
            },
            Anchors {
                dir: "/usr/share/pki/ca-trust-source/anchors",
                extension: None,
            },
        ],
        distrust: &[
            DistrustRule::Folder("/etc/pki/ca-trust/source/blocklist"),
            DistrustRule::Folder("/etc/pki/ca-trust/source/blacklist"),
            DistrustRule::Folder("/usr/share/pki/ca-trust-source/blocklist"),
            DistrustRule::Folder("/usr/share/pki/ca-trust-source/blacklist"),
        ],
        install: Install {
            dir: "/etc/pki/ca-trust/source/anchors",
            extension: "pem",
            updater: &["update-ca-trust", "extract"],
            updater_after_removal: &["update-ca-trust", "extract"],
        },
    },
    Layout {
        family: "suse",
        os_ids: &["suse", "opensuse", "sles", "sled"],
        markers: &["/etc/SUSE-brand", "/var/lib/ca-certificates"],
        bundles: &[
            "/var/lib/ca-certificates/ca-bundle.pem",
            "/etc/ssl/ca-bundle.pem",
        ],
        anchors: &[
            Anchors {
                dir: "/etc/pki/trust/anchors",
                extension: None,
            },
            Anchors {
                dir: "/usr/share/pki/trust/anchors",
                extension: None,
            },
        ],
        distrust: &[
            DistrustRule::Folder("/etc/pki/trust/blocklist"),
            DistrustRule::Folder("/etc/pki/trust/blacklist"),
            DistrustRule::Folder("/usr/share/pki/trust/blocklist"),
            DistrustRule::Folder("/usr/share/pki/trust/blacklist"),
        ],
        install: Install {
            dir: "/etc/pki/trust/anchors",
            extension: "pem",
            updater: &["update-ca-certificates"],
            updater_after_removal: &["update-ca-certificates"],
        },
    },
    Layout {
        family: "arch",
        os_ids: &["arch", "archarm", "manjaro", "endeavouros"],
        markers: &["/etc/arch-release", "/etc/ca-certificates/extracted"],
        bundles: &["/etc/ca-certificates/extracted/tls-ca-bundle.pem"],
        anchors: &[
            Anchors {
                dir: "/etc/ca-certificates/trust-source/anchors",
                extension: None,
            },
            Anchors {
                dir: "/usr/share/ca-certificates/trust-source/anchors",
                extension: None,
            },
        ],
        distrust: &[
            DistrustRule::Folder("/etc/ca-certificates/trust-source/blocklist"),
            DistrustRule::Folder("/etc/ca-certificates/trust-source/blacklist"),
            DistrustRule::Folder("/usr/share/ca-certificates/trust-source/blocklist"),
            DistrustRule::Folder("/usr/share/ca-certificates/trust-source/blacklist"),
        ],
        install: Install {
            dir: "/etc/ca-certificates/trust-source/anchors",
            extension: "crt",
            updater: &["trust", "extract-compat"],
            updater_after_removal: &["trust", "extract-compat"],
        },
    },
];

/// What `sync` found out about the system it read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OsInfo {
    pub root: PathBuf,
    /// The layout used, or `None` when no OS trust store was found.
    pub family: Option<String>,
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
        family: layout.map(|l| l.family.to_string()),
        name,
        certificates: 0,
    };
    let Some(layout) = layout else {
        return info;
    };
    for bundle in layout.bundles {
        let path = under(root, bundle);
        if path.exists() {
            info.certificates += out.read_file(&path, bundle.as_ref(), &format!("os:{bundle}"));
        }
    }
    for anchors in layout.anchors {
        let mut files = Vec::new();
        walk(root, Path::new(anchors.dir), &mut files, out);
        let mut wanted_files = Vec::new();
        for shown in files {
            let wanted = anchors
                .extension
                .is_none_or(|ext| shown.extension().is_some_and(|e| e == ext));
            if wanted {
                let label = format!("os:{}", shown.display());
                wanted_files.push((under(root, &shown), shown, label));
            } else if let Some(ext) = anchors.extension {
                out.problem(
                    &shown,
                    format!("ignored: this system's updater only reads *.{ext} files here"),
                );
            }
        }
        info.certificates += out.read_files(wanted_files);
    }
    for rule in layout.distrust {
        match rule {
            DistrustRule::ConfBang { conf, base } => conf_bang(root, conf, base, out),
            DistrustRule::Folder(dir) => folder(root, dir, out),
        }
    }
    info
}

/// The layout os-release names; failing that, the one whose marker files
/// exist; failing that, the first whose store files exist.
pub fn detect(root: &Path) -> (Option<&'static Layout>, Option<String>) {
    let release = OsRelease::read(root);
    let named = release
        .ids
        .iter()
        .find_map(|id| LAYOUTS.iter().find(|l| l.os_ids.contains(&id.as_str())));
    let exists = |p: &&str| under(root, p).exists();
    let layout = named
        .or_else(|| LAYOUTS.iter().find(|l| l.markers.iter().any(exists)))
        .or_else(|| {
            LAYOUTS.iter().find(|l| {
                l.bundles
                    .iter()
                    .chain(l.anchors.iter().map(|a| &a.dir))
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
            .find_map(|p| decode::read_bounded(&under(root, p)).ok())
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

/// Files below `dir` (a path inside the system), sorted, as system paths.
/// Each folder is entered once, however many links lead to it, so links
/// back up the tree cannot make the walk loop or multiply.
fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>, out: &mut Gathered) {
    let mut seen = HashSet::new();
    walk_in(root, dir, 0, &mut seen, files, out);
}

fn walk_in(
    root: &Path,
    dir: &Path,
    depth: usize,
    seen: &mut HashSet<(u64, u64)>,
    files: &mut Vec<PathBuf>,
    out: &mut Gathered,
) {
    let real = under(root, dir);
    if let Ok(m) = fs::metadata(&real)
        && !seen.insert((m.dev(), m.ino()))
    {
        return out.problem(dir, "a link back to a folder already read; skipped");
    }
    let entries = match fs::read_dir(&real) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound && depth == 0 => return,
        Err(e) => return out.problem(dir, e.to_string()),
    };
    let mut names: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let shown = dir.join(&name);
        match fs::metadata(under(root, &shown)) {
            Ok(m) if m.is_dir() && depth < MAX_DEPTH => {
                walk_in(root, &shown, depth + 1, seen, files, out)
            }
            Ok(m) if m.is_dir() => out.problem(&shown, "folders nested too deeply; skipped"),
            // Broken links, loops and special files are reported by the reader.
            _ => files.push(shown),
        }
    }
}

/// Debian's `/etc/ca-certificates.conf`: a line `!mozilla/X.crt` deselects
/// that certificate. The admin meant "do not trust", so it is left out
/// whichever source carries it.
fn conf_bang(root: &Path, conf: &str, base: &str, out: &mut Gathered) {
    let text = match decode::read_bounded(&under(root, conf)) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) if !under(root, conf).exists() => return,
        Err(reason) => return out.problem(conf.as_ref(), reason),
    };
    for line in text.lines() {
        let Some(rel) = line.trim().strip_prefix('!') else {
            continue;
        };
        let shown = Path::new(base).join(rel.trim());
        // Package upgrades leave `!` lines behind for certificates the
        // package has since removed (15 of them on Debian 12): with the file
        // gone there is nothing to identify, and nothing worth a warning.
        if !under(root, &shown).exists() {
            continue;
        }
        distrust_file(
            root,
            &shown,
            &format!("deselected in {conf} (!{})", rel.trim()),
            out,
        );
    }
}

/// p11-kit's blocklist folders: every certificate in them is distrusted.
fn folder(root: &Path, dir: &str, out: &mut Gathered) {
    let mut files = Vec::new();
    walk(root, Path::new(dir), &mut files, out);
    for shown in files {
        distrust_file(
            root,
            &shown,
            &format!("in the blocklist {}", shown.display()),
            out,
        );
    }
}

fn distrust_file(root: &Path, shown: &Path, reason: &str, out: &mut Gathered) {
    match decode::decode_file(&under(root, shown)) {
        Ok(decoded) => {
            for e in decoded.errors {
                out.problem(shown, format!("distrusted file: {e}"));
            }
            out.distrusted
                .extend(decoded.items.into_iter().map(|i| Distrust {
                    by: Fingerprint::Sha256(i.cert.sha256),
                    reason: reason.to_string(),
                }));
        }
        Err(e) => out.problem(
            shown,
            format!("cannot be read ({e}), so the certificate it distrusts cannot be left out"),
        ),
    }
}

/// `system_path` (absolute inside the system) as a path under `root`.
///
/// Symbolic links are followed as they would be inside that system: an
/// absolute target (RHEL's `ca-bundle.crt`, Debian's links into
/// /usr/share/ca-certificates) is read under `root` too, never on the host.
pub fn under(root: &Path, system_path: impl AsRef<Path>) -> PathBuf {
    let path = system_path.as_ref();
    if root == Path::new("/") {
        return Path::new("/").join(path);
    }
    resolve(root, path).unwrap_or_else(|| root.join(path.strip_prefix("/").unwrap_or(path)))
}

/// As the kernel would resolve `path` with `root` as `/`; `None` for a
/// loop of links (the caller's read then reports it).
fn resolve(root: &Path, path: &Path) -> Option<PathBuf> {
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
                    return None;
                }
                let target = fs::read_link(&next).ok()?;
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
    Some(cur)
}
