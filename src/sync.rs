//! One sync: gather every source, merge, apply policy, write the bundle and
//! the manifest. [`run`] is the engine of the `sync` command; [`sync`] and
//! [`build`] are for callers that hold the state lock.

use std::path::{Path, PathBuf};

use std::io::Write;

use crate::date;
use crate::error::{Error, Result};
use crate::merge::{self, Entry, Policy, Status};
use crate::sources::mozilla::{Provenance, Roots};
use crate::sources::os::OsInfo;
use crate::sources::{self, Gathered, Problem};
use crate::state::config::Config;
use crate::state::manifest::Manifest;
use crate::state::{self, Paths};

#[derive(Debug, Clone)]
pub struct Options {
    /// Where the OS to read is mounted (`/` for this machine).
    pub root: PathBuf,
    /// A macOS keychain export to use as the OS store instead.
    pub macos_export: Option<PathBuf>,
    /// The admin trust settings that go with it.
    pub macos_trust_settings: Option<PathBuf>,
    /// The Windows host's stores or exports (under WSL), read beside the
    /// OS store: anchors of their own, and Disallowed as distrust.
    pub windows: sources::windows::Request,
    /// Expiry is judged as of this time.
    pub at: date::Timestamp,
}

impl Options {
    /// These options with what config.toml adds to them: `windows-host =
    /// true` reads the Windows host as `--windows-host` does.
    pub fn with_config(&self, config: &Config) -> Options {
        let mut opts = self.clone();
        if config.windows_host && opts.windows.host.is_none() {
            opts.windows.host = Some(sources::windows::Host::this_machine());
        }
        opts
    }
}

#[derive(Debug)]
pub struct Report {
    pub os: OsInfo,
    pub mozilla: usize,
    /// Where the Mozilla roots came from (the cache or the embedded set).
    pub mozilla_provenance: Provenance,
    pub added: usize,
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
    /// OS store files read.
    pub files: Vec<sources::FileRead>,
    /// The Windows stores and exports read, and as what.
    pub windows: Vec<sources::windows::StoreRead>,
    /// What `sync` did to the exports config.toml lists and the JVMs
    /// `install --java` changed, once the bundle was written.
    pub kept_current: KeptCurrent,
}

/// The outputs a sync keeps in step with the bundle, beyond the bundle:
/// each written only when its bytes change. One that cannot be written
/// is reported here; the bundle stands (it is already in place, and right).
#[derive(Debug, Default)]
pub struct KeptCurrent {
    pub exports: Vec<crate::export::Refreshed>,
    pub jvms: Vec<crate::clients::java::Outcome>,
    /// Outputs that could not be made or written, with the reason.
    pub failed: Vec<(PathBuf, String)>,
}

impl Report {
    pub fn with_status(&self, status: Status) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.status == status)
    }
}

/// What `sync` did: the fresh Mozilla set it fetched first, if asked to,
/// and the sync.
#[derive(Debug)]
pub struct Synced {
    pub refreshed: Option<crate::refresh::Refreshed>,
    pub report: Report,
}

/// Under the lock: fetch fresh Mozilla roots first when `refresh` says
/// from where, then sync.
pub fn run(
    paths: &Paths,
    opts: &Options,
    refresh: Option<&crate::refresh::Request<'_>>,
) -> Result<Synced> {
    let _lock = paths.lock()?;
    let refreshed = refresh
        .map(|req| crate::refresh::fetch_locked(paths, req))
        .transpose()?;
    let report = sync(paths, opts)?;
    Ok(Synced { refreshed, report })
}

/// What the command line names must be there: a missing `--root` or
/// export would otherwise give a bundle without the OS store (or without
/// the admin's denials), written as if nothing were wrong.
fn check_inputs(opts: &Options) -> Result<()> {
    let input = |what, path: &Path, reason: String| Error::Input {
        what,
        path: path.to_path_buf(),
        reason,
    };
    match &opts.macos_export {
        Some(export) => {
            let bytes = crate::decode::read_bounded(export)
                .map_err(|e| input("--macos-export", export, e.to_string()))?;
            if crate::decode::decode(&bytes).items.is_empty() {
                return Err(input(
                    "--macos-export",
                    export,
                    "holds no certificate".into(),
                ));
            }
            if let Some(settings) = &opts.macos_trust_settings {
                crate::decode::read_bounded(settings)
                    .map_err(|e| input("--macos-trust-settings", settings, e.to_string()))?;
            }
        }
        None => match std::fs::metadata(&opts.root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(input("--root", &opts.root, "is not a folder".into())),
            Err(e) => return Err(input("--root", &opts.root, e.to_string())),
        },
    }
    Ok(())
}

/// Gather, merge and write the bundle and manifest.
pub fn sync(paths: &Paths, opts: &Options) -> Result<Report> {
    let (mut report, config) = build(paths, opts)?;
    let blocked = config.blocked.clone();
    let manifest = Manifest {
        cabundle: env!("CARGO_PKG_VERSION").to_string(),
        as_of: opts.at.day(),
        bundle: paths.bundle.clone(),
        os: report.os.clone(),
        mozilla: report.mozilla_provenance.clone(),
        added: report.added,
        blocked,
        problems: report.problems.iter().map(ToString::to_string).collect(),
        inputs: report.files.iter().map(Into::into).collect(),
        certificates: crate::state::manifest::Records(&report.entries),
    };
    // Both files are written at once, then renamed bundle first: the
    // manifest never describes a bundle that failed to be written.
    let kept: Vec<&crate::cert::Cert> = report.with_status(Status::Kept).map(|e| &e.cert).collect();
    let (bundle, manifest, pkcs12) = std::thread::scope(|s| {
        let manifest = s.spawn(|| manifest.prepare(&paths.manifest));
        // The same set as a password-less PKCS#12, for JVMs (`env --java`).
        let pkcs12 = s.spawn(|| {
            state::prepare_atomic(&paths.pkcs12(), |f| {
                let mut w = std::io::BufWriter::new(f);
                crate::outputs::keystore::write_pkcs12_to(&kept, &mut w)?;
                w.flush()
            })
        });
        let bundle = state::prepare_atomic(&paths.bundle, |f| {
            let mut w = std::io::BufWriter::new(f);
            crate::outputs::pem::render_to(&report.entries, &mut w)?;
            w.flush()
        });
        (bundle, manifest.join(), pkcs12.join())
    });
    let joined = |path: &Path, r: std::thread::Result<Result<state::Prepared>>| {
        r.map_err(|_| Error::io(path, std::io::Error::other("its writer failed")))?
    };
    // The bundle's own failure is the one to name (a full disk fails all).
    let bundle = bundle?;
    let manifest = joined(&paths.manifest, manifest)?;
    let pkcs12 = joined(&paths.pkcs12(), pkcs12)?;
    state::commit_all(vec![bundle, manifest, pkcs12])?;
    // The hashed folder OpenSSL clients read through SSL_CERT_DIR: the same
    // certificates, swapped in whole.
    crate::outputs::hashdir::write(&paths.cert_dir(), &kept)?;
    report.kept_current = keep_current(paths, &config);
    Ok(report)
}

/// Bring the exports and the JVMs' trust stores in step with the bundle
/// just written. Only when there are any: the set is read back from the
/// bundle (checked against its manifest), as `export` reads it.
fn keep_current(paths: &Paths, config: &Config) -> KeptCurrent {
    let mut done = KeptCurrent::default();
    if config.exports.is_empty() && !crate::clients::java::recorded(paths) {
        return done;
    }
    let set = match crate::export::Set::current(paths) {
        Ok(set) => set,
        Err(e) => {
            done.failed.push((paths.bundle.clone(), e.to_string()));
            return done;
        }
    };
    for export in &config.exports {
        match crate::export::refresh(&set, export) {
            Ok(r) => done.exports.push(r),
            Err(e) => done
                .failed
                .push((export.path.clone().unwrap_or_default(), e.to_string())),
        }
    }
    match crate::clients::java::refresh(paths, &set) {
        Ok(jvms) => done.jvms = jvms,
        Err(e) => done.failed.push((paths.config_dir.clone(), e.to_string())),
    }
    done
}

/// What the OS store and Mozilla's roots hold, each gathered apart (and
/// not merged): what [`build`] merges, and what `doctor` judges a chain
/// against, one set at a time.
pub struct Gathering {
    pub os: OsInfo,
    /// The OS store's certificates, then Mozilla's, in that order.
    pub gathered: Gathered,
    /// How many of `gathered.found` are the OS store's (the first ones).
    pub from_os: usize,
    /// How many roots Mozilla's set gave.
    pub mozilla: usize,
    pub roots: Roots,
    /// The Windows stores and exports read (their certificates come after
    /// Mozilla's in `gathered`).
    pub windows: Vec<sources::windows::StoreRead>,
}

/// Gather the OS store (or a macOS export), Mozilla's roots and what
/// `opts.windows` names (read first, alone: it may wait on the Windows
/// host). Mozilla's roots decode on one core while the OS store does on
/// the other; they are joined in a fixed order, so the result does not
/// depend on which finishes first.
pub fn gather(paths: &Paths, opts: &Options) -> Result<Gathering> {
    check_inputs(opts)?;
    let mut g = Gathered::default();
    let moz_g = g.beside();
    // First: a Windows host that cannot be reached stops the sync at once.
    let mut windows_g = g.beside();
    let windows = sources::windows::load(&opts.windows, &mut windows_g)?;
    let (os, mut gathered, (roots, mozilla, moz_gathered)) = std::thread::scope(|s| {
        let moz = s.spawn(|| {
            let mut g = moz_g;
            let roots = Roots::current(&paths.cache_dir, &mut g);
            let n = roots.load(&mut g);
            (roots, n, g)
        });
        let os = match &opts.macos_export {
            Some(export) => {
                sources::macos::load_export(export, opts.macos_trust_settings.as_deref(), &mut g)
            }
            None if cfg!(target_os = "macos") && opts.root == Path::new("/") => {
                sources::macos::load_live(&mut g)
            }
            None => sources::os::load(&opts.root, &mut g),
        };
        let moz = moz.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (os, g, moz)
    });
    let from_os = gathered.found.len();
    gathered.append(moz_gathered);
    gathered.append(windows_g);
    Ok(Gathering {
        os,
        gathered,
        from_os,
        mozilla,
        roots,
        windows,
    })
}

/// Gather and merge, writing nothing; also returns the config it read.
pub fn build(paths: &Paths, opts: &Options) -> Result<(Report, Config)> {
    // Read first: a broken config stops the sync before anything is written.
    let config = Config::load(&paths.config())?;
    let opts = &opts.with_config(&config);
    let Gathering {
        os,
        mut gathered,
        mozilla,
        roots,
        windows,
        ..
    } = gather(paths, opts)?;
    if !gathered.unapplied.is_empty() {
        return Err(Error::Unapplied(std::mem::take(&mut gathered.unapplied)));
    }
    let added = sources::user::load(&paths.cas, &mut gathered)?;
    // Every certificate is parsed now; the memo's table would only add to
    // the merge's peak memory.
    gathered.memo = Default::default();
    let problems = std::mem::take(&mut gathered.problems);
    let files = std::mem::take(&mut gathered.files);

    let policy = Policy {
        at: opts.at,
        blocked: config.blocked.iter().copied().collect(),
    };
    let entries = merge::merge(gathered, &policy);
    let report = Report {
        os,
        mozilla,
        mozilla_provenance: roots.provenance,
        added,
        entries,
        problems,
        files,
        windows,
        kept_current: KeptCurrent::default(),
    };
    Ok((report, config))
}
