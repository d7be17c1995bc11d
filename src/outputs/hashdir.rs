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

use sha2::{Digest, Sha256};

use crate::cert::Cert;
use crate::error::{Error, IoContext, Result};
use crate::state;

/// The folder's files: `<hash>.<n>` as `openssl rehash` names them (`n`
/// counts certificates with the same subject hash, from 0, in the order
/// given; a certificate given twice is there once) and each one's PEM.
///
/// A certificate whose names OpenSSL cannot read (which `openssl rehash`
/// would leave out) never reaches here: the decoder refuses it.
#[cfg(test)]
pub(crate) fn plan(certs: &[&Cert]) -> Vec<(String, Vec<u8>)> {
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
    use crate::cert::name_hash::tests::with_subject;
    use crate::cert::name_hash::{subject_hash, subject_of};
    use crate::test_support::{ec_key, openssl, openssl_ok, refs, roots};
    use std::os::unix::fs::MetadataExt;
    use std::path::PathBuf;
    use std::process::Command;

    /// An empty folder, and the path in it where tests put the link.
    fn home() -> (tempfile::TempDir, PathBuf) {
        let home = tempfile::tempdir().unwrap();
        let link = home.path().join("certs");
        (home, link)
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
