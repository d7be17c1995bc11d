//! One sync: gather every source, merge, apply policy, write the bundle and
//! the manifest. Callers hold the state lock.

use std::path::PathBuf;

use crate::bundle::{self, Entry, Record, Status};
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
}

impl Report {
    pub fn with_status(&self, status: Status) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.status == status)
    }
}

pub fn sync(paths: &Paths, opts: &Options) -> Result<Report> {
    let mut gathered = Gathered::default();
    let os = sources::os::load(&opts.root, &mut gathered);
    let mozilla = sources::mozilla::load(&mut gathered);
    let added = sources::user::load(&paths.cas, &mut gathered)?;
    let problems = std::mem::take(&mut gathered.problems);

    let entries = bundle::merge(gathered, opts.at);
    store::write_atomic(&paths.bundle, &bundle::render(&entries))?;
    let manifest = Manifest {
        cabundle: env!("CARGO_PKG_VERSION").to_string(),
        as_of: date::day(opts.at),
        bundle: paths.bundle.clone(),
        os: os.clone(),
        mozilla: sources::mozilla::provenance(),
        added,
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
    })
}
