//! Files: fixture OS roots, a synced CABUNDLE_HOME, before/after pictures
//! of a folder, and what `cabundle list --json` says of a home.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

use super::{cabundle, stderr_of, within_deadline};

pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
    path.to_path_buf()
}

/// A Debian-shaped root under `dir`: an os-release, an extracted bundle
/// holding `bundled`, and nothing else.
pub fn debian_root(dir: &Path, bundled: &[&str]) -> PathBuf {
    let root = dir.join("root");
    write(
        &root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
    );
    write(
        &root.join("etc/ssl/certs/ca-certificates.crt"),
        bundled.concat(),
    );
    root
}

/// The drop-in folder of a [`debian_root`] under `dir`, made: (root, drop-in
/// folder), where an admin's own CAs go before `update-ca-certificates`.
pub fn debian_drop_in(dir: &Path) -> (PathBuf, PathBuf) {
    let root = debian_root(dir, &[]);
    let drop = root.join("usr/local/share/ca-certificates");
    fs::create_dir_all(&drop).unwrap();
    (root, drop)
}

/// Every file below `dir`, with contents, for before/after comparisons.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                out.extend(snapshot(&path));
            } else if path.file_name().is_some_and(|n| n != ".lock") {
                out.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    out
}

/// A FIFO nobody writes to: opening it for reading blocks forever.
pub fn mkfifo(path: &Path) {
    super::run_ok(StdCommand::new("mkfifo").arg(path), "mkfifo");
}

/// A failed or killed writer leaves no temp file behind in `dir` (the next
/// run cleans up what a killed one left).
pub fn assert_no_temp_files(dir: &Path) {
    let temps: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(
        temps.is_empty(),
        "temp files left in {}: {temps:?}",
        dir.display()
    );
}

/// What `cabundle env` sets `var` to for `bundle`: the bundle, or for
/// SSL_CERT_DIR the hashed folder beside it.
pub fn expected_value(bundle: &Path, var: &str) -> String {
    match var {
        "SSL_CERT_DIR" => bundle.with_file_name("certs"),
        _ => bundle.to_path_buf(),
    }
    .to_str()
    .expect("test paths are UTF-8")
    .to_string()
}

/// A temp folder holding a Debian-shaped root (`root/`, [`debian_root`])
/// and a CABUNDLE_HOME synced from it: what most tests start from.
pub struct Synced {
    pub tmp: TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
}

impl Synced {
    /// The root's store holds `bundled`; the home is `home/`.
    pub fn new(bundled: &[&str]) -> Synced {
        Synced::synced_with(bundled, &[])
    }

    /// [`Synced::new`], synced as of `day` (`sync --at DAY`).
    pub fn as_of(bundled: &[&str], day: &str) -> Synced {
        Synced::synced_with(bundled, &["--at", day])
    }

    fn synced_with(bundled: &[&str], sync_args: &[&str]) -> Synced {
        let tmp = tempfile::tempdir().unwrap();
        let root = debian_root(tmp.path(), bundled);
        let home = tmp.path().join("home");
        let synced = Synced { tmp, root, home };
        synced
            .run(&[&["sync"], sync_args].concat())
            .assert()
            .success();
        synced
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn bundle(&self) -> PathBuf {
        self.home.join("ca-bundle.pem")
    }

    /// `cabundle ARGS --root ROOT` in this home.
    pub fn run(&self, args: &[&str]) -> Command {
        let mut cmd = cabundle(&self.home);
        cmd.args(args).arg("--root").arg(&self.root);
        cmd
    }

    /// `sync` again, which must succeed.
    pub fn sync(&self) {
        self.run(&["sync"]).assert().success();
    }

    /// Write `contents` to `in/NAME` below the temp folder; its path, as
    /// an argument.
    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        write(&self.dir().join("in").join(name), contents)
            .display()
            .to_string()
    }

    /// `add` the certificate(s) `pem` as NAME (from the file `NAME.pem`),
    /// which must succeed: they join the full bundle. The file's path.
    pub fn add(&self, name: &str, pem: &str) -> String {
        let file = self.file(&format!("{name}.pem"), pem);
        self.run(&["add", &file]).assert().success();
        file
    }
}

/// [`Synced`] over an empty store (so the bundle is Mozilla's roots
/// only), and a corporate TLS-inspection CA, not added yet, in a file of
/// its own.
pub struct Corp {
    pub synced: Synced,
    pub corp: super::Ca,
    pub corp_file: PathBuf,
}

impl Corp {
    pub fn new() -> Corp {
        let synced = Synced::new(&[]);
        let corp = super::valid_ca("cabundle test Corp TLS Inspection CA");
        let corp_file = write(&synced.dir().join("corp.pem"), &corp.pem);
        Corp {
            synced,
            corp,
            corp_file,
        }
    }

    /// `add` the corp CA (as `corp`): it joins the bundle.
    pub fn add_corp(&self) {
        self.run(&["add", self.corp_file.to_str().unwrap()])
            .assert()
            .success();
    }
}

impl std::ops::Deref for Corp {
    type Target = Synced;
    fn deref(&self) -> &Synced {
        &self.synced
    }
}

/// `cabundle sync --root ROOT ARGS` in `home`, within the deadline, which
/// must succeed: its stderr (the summary and every warning).
pub fn sync_ok(home: &Path, root: &Path, args: &[&str]) -> String {
    let out = within_deadline(cabundle(home).args(["sync", "--root"]).arg(root).args(args));
    let err = stderr_of(&out);
    assert!(
        out.status.success(),
        "sync --root {} {args:?}: {err}",
        root.display()
    );
    err
}

/// [`sync_ok`] `--offline` over an empty root (no OS store): the bundle is
/// the Mozilla set in use (the embedded one, or the last fetched) and the
/// added CAs.
pub fn sync_offline(home: &Path, args: &[&str]) -> String {
    let empty = tempfile::tempdir().unwrap();
    sync_ok(home, empty.path(), &[&["--offline"], args].concat())
}

/// `fetch --from FILE` (which must succeed), then [`sync_offline`]: the
/// bundle holds that Mozilla set.
pub fn sync_fetched(home: &Path, file: &Path) {
    cabundle(home)
        .args(["fetch", "--from"])
        .arg(file)
        .assert()
        .success();
    sync_offline(home, &[]);
}

/// `list --json --all` of a home: every record, kept or not.
pub fn list_json(home: &Path) -> Vec<Value> {
    let out = within_deadline(cabundle(home).args(["list", "--json", "--all"]));
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The one record for `fp`; fails if there is none or more than one.
pub fn record<'a>(records: &'a [Value], fp: &str) -> &'a Value {
    let mine: Vec<&Value> = records.iter().filter(|r| r["sha256"] == fp).collect();
    assert_eq!(mine.len(), 1, "records for {fp}: {mine:#?}");
    mine[0]
}

/// A JSON array of strings, as Rust strings.
pub fn strings<T: FromIterator<String>>(array: &Value) -> T {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Where a record's certificate came from.
pub fn sources(record: &Value) -> Vec<String> {
    strings(&record["sources"])
}

/// Every certificate of the home's bundle by openssl's SHA-256, checking
/// that none appears twice.
pub fn bundle_fingerprints(home: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(home.join("ca-bundle.pem")).unwrap();
    let list: Vec<String> = super::pem_blocks(&text)
        .iter()
        .map(|b| super::openssl_sha256(b))
        .collect();
    let set: BTreeSet<String> = list.iter().cloned().collect();
    assert_eq!(list.len(), set.len(), "a certificate appears twice");
    set
}

/// The invariant: the bundle, as Python's `ssl` (OpenSSL) loads it, holds
/// exactly the certificates `cabundle list --json` shows as kept: no
/// certificate slips in through a comment line, and none is lost. The CA
/// certificates are compared one by one (`get_ca_certs`), and the count of
/// everything loaded (`cert_store_stats`, which also counts a pinned leaf)
/// must be the kept count.
pub fn assert_bundle_is_what_list_keeps(home: &Path) {
    let bundle = home.join("ca-bundle.pem");
    let script = r#"
import hashlib, json, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(cafile=sys.argv[1])
cas = sorted(hashlib.sha256(c).hexdigest() for c in ctx.get_ca_certs(binary_form=True))
print(json.dumps({"cas": cas, "total": ctx.cert_store_stats()["x509"]}))
"#;
    let out = StdCommand::new("python3")
        .args(["-c", script])
        .arg(&bundle)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "Python's ssl cannot load {}: {}",
        bundle.display(),
        stderr_of(&out)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = cabundle(home).args(["list", "--json"]).output().unwrap();
    assert!(list.status.success());
    let kept: Vec<Value> = serde_json::from_slice(&list.stdout).unwrap();
    let loaded_cas: BTreeSet<String> = strings(&seen["cas"]);
    let kept_fps: BTreeSet<String> = kept
        .iter()
        .map(|r| r["sha256"].as_str().unwrap().to_string())
        .collect();
    assert!(
        loaded_cas.is_subset(&kept_fps),
        "Python loaded certificates list does not keep: {:?}",
        loaded_cas.difference(&kept_fps).collect::<Vec<_>>()
    );
    assert_eq!(
        seen["total"].as_u64(),
        Some(kept.len() as u64),
        "Python loaded {} certificates, list keeps {}",
        seen["total"],
        kept.len()
    );
}
