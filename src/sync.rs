//! One sync: gather every source, merge, apply policy, write the bundle and
//! the manifest. Callers hold the state lock.

use std::path::{Path, PathBuf};

use crate::bundle::{self, Entry, Policy, Record, Status};
use crate::config::Config;
use crate::date;
use crate::error::Result;
use crate::manifest::Manifest;
use crate::sources::os::OsInfo;
use crate::sources::{self, Gathered, Problem};
use crate::store::{self, Paths};

#[derive(Debug, Clone)]
pub struct Options {
    /// Where the OS to read is mounted (`/` for this machine).
    pub root: PathBuf,
    /// A macOS keychain export to use as the OS store instead.
    pub macos_export: Option<PathBuf>,
    /// The admin trust settings that go with it.
    pub macos_trust_settings: Option<PathBuf>,
    /// Expiry is judged as of this Unix time.
    pub at: i64,
}

#[derive(Debug)]
pub struct Report {
    pub os: OsInfo,
    pub mozilla: usize,
    pub added: usize,
    pub entries: Vec<Entry>,
    pub problems: Vec<Problem>,
    /// OS store files read, with their counts.
    pub files: Vec<(PathBuf, usize)>,
}

impl Report {
    pub fn with_status(&self, status: Status) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.status == status)
    }
}

pub fn sync(paths: &Paths, opts: &Options) -> Result<Report> {
    // Read first: a broken config stops the sync before anything is written.
    let config = Config::load(&paths.config())?;
    let mut gathered = Gathered::default();
    let os = match &opts.macos_export {
        Some(export) => {
            sources::macos::load_export(export, opts.macos_trust_settings.as_deref(), &mut gathered)
        }
        None if cfg!(target_os = "macos") && opts.root == Path::new("/") => {
            sources::macos::load_live(&mut gathered)
        }
        None => sources::os::load(&opts.root, &mut gathered),
    };
    let mozilla = sources::mozilla::load(&mut gathered);
    let added = sources::user::load(&paths.cas, &mut gathered)?;
    let problems = std::mem::take(&mut gathered.problems);
    let files = std::mem::take(&mut gathered.files);

    let policy = Policy {
        at: opts.at,
        blocked: config.blocked().collect(),
    };
    let entries = bundle::merge(gathered, &policy);
    store::write_atomic(&paths.bundle, &bundle::render(&entries))?;
    let manifest = Manifest {
        cabundle: env!("CARGO_PKG_VERSION").to_string(),
        as_of: date::day(opts.at),
        bundle: paths.bundle.clone(),
        os: os.clone(),
        mozilla: sources::mozilla::provenance(),
        added,
        blocked: config.blocked.clone(),
        problems: problems.iter().map(ToString::to_string).collect(),
        certificates: entries.iter().map(Record::from).collect(),
    };
    manifest.write(&paths.manifest)?;
    Ok(Report {
        os,
        mozilla,
        added,
        entries,
        problems,
        files,
    })
}
