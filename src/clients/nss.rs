//! `install --nss` / `uninstall --nss`: the user's added CAs into every NSS
//! database found, as CAs trusted for TLS servers. Chromium, Chrome,
//! Electron apps and Firefox have Mozilla's roots built in; what they lack
//! is the company's own CA, which they read from these databases.
//!
//! Every database is changed through NSS's own `certutil` (as mkcert
//! does), never by writing its files. Each certificate added is recorded
//! by nickname (`nss.json` in the config folder), so `uninstall --nss`
//! takes out exactly that: a certificate the user had already, under any
//! nickname, is neither added twice nor removed.
//!
//! What certutil does that shapes this module (NSS 3.87):
//! - `-A` of a certificate the database holds already, under another
//!   nickname, succeeds and *replaces that entry's trust*: so what a
//!   database holds is read first, and such a certificate left alone.
//! - A nickname with a `:` is read as `token:nickname`, so ours have none.
//! - `-L -n NICK` prints every certificate that shares NICK's subject, and
//!   `-D -n NICK` deletes the one labelled NICK.
//! - On a database with a primary password, `-A` adds the certificate
//!   without trust and then fails: the half-added entry is taken out.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wait_timeout::ChildExt;

use crate::cert::{Cert, Sha256};
use crate::date::{self, Timestamp};
use crate::error::{Error, Result};
use crate::merge::Status;
use crate::sources::user;
use crate::state::config::Config;
use crate::state::manifest::Manifest;
use crate::state::{self, Paths};

/// Every nickname cabundle gives starts so: `cabundle NAME 3f2a9c0d`.
pub const NICKNAME_PREFIX: &str = "cabundle ";

/// The trust an added CA gets: a CA trusted to issue TLS server
/// certificates, and nothing else (no e-mail, no code signing).
const TRUST: &str = "C,,";

/// No certutil run may take longer than this (a database another program
/// holds locked, a stuck file system).
const CERTUTIL_TIMEOUT: Duration = Duration::from_secs(60);

/// What finding the databases reads from the environment, passed in so
/// that tests need not change the process's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    pub home: PathBuf,
    /// `$XDG_DATA_HOME`, which Chromium honours for its database (default
    /// `~/.local/share`).
    pub xdg_data_home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`, where Firefox 147+ keeps new profiles (default
    /// `~/.config`).
    pub xdg_config_home: Option<PathBuf>,
}

impl Env {
    /// `$HOME` and the XDG folders (each only when absolute, as the XDG
    /// specification says).
    pub fn from_process() -> Result<Env> {
        let absolute = |var| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let home = absolute("HOME").ok_or(Error::NssNoHome)?;
        Ok(Env {
            home,
            xdg_data_home: absolute("XDG_DATA_HOME"),
            xdg_config_home: absolute("XDG_CONFIG_HOME"),
        })
    }

    /// This home, with the XDG folders at their defaults.
    pub fn at(home: &Path) -> Env {
        Env {
            home: home.to_path_buf(),
            xdg_data_home: None,
            xdg_config_home: None,
        }
    }
}

/// Which program reads a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The user's shared database: Chromium, Chrome, Edge, Brave and
    /// Electron apps (VS Code, Slack, ...).
    Chromium,
    ChromiumSnap,
    Firefox,
    FirefoxSnap,
    FirefoxFlatpak,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Chromium => "Chromium, Chrome and Electron apps",
            Kind::ChromiumSnap => "Chromium (snap)",
            Kind::Firefox => "Firefox profile",
            Kind::FirefoxSnap => "Firefox (snap) profile",
            Kind::FirefoxFlatpak => "Firefox (Flatpak) profile",
        }
    }
}

/// An NSS database, or where one would be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Database {
    /// The folder (what `certutil -d sql:` names).
    pub path: PathBuf,
    pub kind: Kind,
    /// It holds an SQL database (`cert9.db`).
    pub exists: bool,
    /// It holds only a legacy DBM database (`cert8.db`), which cabundle
    /// does not write (Firefox converts it at its next start).
    pub dbm_only: bool,
}

impl Database {
    fn at(path: PathBuf, kind: Kind) -> Database {
        let has = |file| fs::symlink_metadata(path.join(file)).is_ok();
        let exists = has("cert9.db");
        let dbm_only = !exists && has("cert8.db");
        Database {
            path,
            kind,
            exists,
            dbm_only,
        }
    }
}

/// [`discover`] in `home`, the XDG folders at their defaults.
pub fn databases(home: &Path) -> Vec<Database> {
    discover(&Env::at(home))
}

/// Every NSS database of the user, and where Chromium's would be:
/// - `~/.pki/nssdb` and `$XDG_DATA_HOME/pki/nssdb` (`~/.local/share/...`),
///   whether they exist or not: Chromium M146+ uses the second when the
///   first folder does not exist, older Chromium and Electron the first;
/// - the snap Chromium's (`~/snap/chromium/current/`, the same two), when
///   there;
/// - each Firefox profile holding a database: `~/.mozilla/firefox/*/`,
///   `$XDG_CONFIG_HOME/mozilla/firefox/*/` (Firefox 147+), the snap's
///   (`~/snap/firefox/common/.mozilla/firefox/*/`) and the Flatpak's
///   (`~/.var/app/org.mozilla.firefox/.mozilla/firefox/*/`).
pub fn discover(env: &Env) -> Vec<Database> {
    let home = &env.home;
    let data = env
        .xdg_data_home
        .clone()
        .unwrap_or_else(|| home.join(".local/share"));
    let config = env
        .xdg_config_home
        .clone()
        .unwrap_or_else(|| home.join(".config"));
    let mut dbs = vec![
        Database::at(home.join(".pki/nssdb"), Kind::Chromium),
        Database::at(data.join("pki/nssdb"), Kind::Chromium),
    ];
    let snap = home.join("snap/chromium/current");
    for path in [snap.join(".pki/nssdb"), snap.join(".local/share/pki/nssdb")] {
        let db = Database::at(path, Kind::ChromiumSnap);
        if db.exists || db.dbm_only {
            dbs.push(db);
        }
    }
    let profiles = [
        (home.join(".mozilla/firefox"), Kind::Firefox),
        (config.join("mozilla/firefox"), Kind::Firefox),
        (
            home.join("snap/firefox/common/.mozilla/firefox"),
            Kind::FirefoxSnap,
        ),
        (
            home.join(".var/app/org.mozilla.firefox/.mozilla/firefox"),
            Kind::FirefoxFlatpak,
        ),
    ];
    for (dir, kind) in profiles {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<Database> = entries
            .flatten()
            .map(|e| Database::at(e.path(), kind))
            .filter(|db| db.exists || db.dbm_only)
            .collect();
        found.sort_by(|a, b| a.path.cmp(&b.path));
        dbs.extend(found);
    }
    let mut seen = std::collections::HashSet::new();
    dbs.retain(|db| seen.insert(db.path.clone()));
    dbs
}

/// The databases `install --nss` writes, each with whether to make it
/// first. Chromium's shared one: `~/.pki/nssdb` when that folder exists
/// (every Chromium then uses it), and the XDG one when it holds a
/// database; when neither, the one Chromium would make: the XDG one if its
/// folder is there, else `~/.pki/nssdb`, which every Chromium and Electron
/// reads. Every other database found is written as it is.
fn targets(dbs: &[Database]) -> Vec<(Database, bool)> {
    let there = |db: &Database| fs::symlink_metadata(&db.path).is_ok();
    let mut out = Vec::new();
    let mut chromium = dbs.iter().filter(|d| d.kind == Kind::Chromium);
    if let (Some(legacy), Some(xdg)) = (chromium.next(), chromium.next()) {
        if there(legacy) {
            out.push((legacy.clone(), !legacy.exists && !legacy.dbm_only));
        }
        if xdg.exists || xdg.dbm_only {
            out.push((xdg.clone(), false));
        }
        if out.is_empty() {
            let make = if there(xdg) { xdg } else { legacy };
            out.push((make.clone(), true));
        }
    }
    for db in dbs.iter().filter(|d| d.kind != Kind::Chromium) {
        out.push((db.clone(), false));
    }
    out
}

/// Why a database was left alone (in whole, or from the point it
/// happened on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Skip {
    /// The folder, or a database file in it, is a symbolic link: writing
    /// through it would change a database elsewhere (another user's, the
    /// system's).
    Link {
        path: PathBuf,
        target: PathBuf,
    },
    /// Something other than a folder (or, for `file`, a regular file).
    NotAFolder,
    NotAFile {
        file: PathBuf,
    },
    /// Another user's: changing it as this one would leave it unusable to
    /// its owner (`sudo` with the user's HOME).
    OtherUser {
        uid: u32,
    },
    /// Only a legacy `cert8.db`.
    DbmOnly,
    /// certutil cannot read it (a damaged database).
    Unreadable {
        reason: String,
    },
    /// certutil cannot change it (read-only).
    NotWritable {
        reason: String,
    },
    /// It has a primary password, without which trust cannot be set.
    Password,
    /// `uninstall`: the database is not there any more.
    Missing,
}

impl Skip {
    /// Whether it leaves the user without what they asked for (exit 1);
    /// the rest are facts to report.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Skip::DbmOnly | Skip::Missing)
    }
}

/// What happened to one certificate in one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    /// Added as a CA trusted for TLS servers.
    Added { nickname: String, sha256: Sha256 },
    /// `install`: cabundle's, there already.
    Present { nickname: String, sha256: Sha256 },
    /// `install`: the database holds it already, under the user's own
    /// nickname: not added twice, and never removed.
    UsersOwn { nickname: String, sha256: Sha256 },
    /// `install`: another certificate holds the nickname cabundle would
    /// give this one; not added.
    NicknameTaken { nickname: String, sha256: Sha256 },
    /// Taken out: `uninstall`, or `install` of a CA no longer added (or no
    /// longer in the bundle).
    Removed { nickname: String, sha256: Sha256 },
    /// Taking out: no longer there (the user removed it).
    Gone { nickname: String, sha256: Sha256 },
    /// Taking out: what holds the nickname now is not what cabundle added;
    /// left alone.
    Replaced { nickname: String, sha256: Sha256 },
    /// Taking out ours, NSS also dropped another certificate of the same
    /// subject (never seen; checked because certutil names by subject).
    AlsoLost {
        sha256: Sha256,
        nicknames: Vec<String>,
    },
}

/// What became of one database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub database: Database,
    /// `install`: there was none, and cabundle made it (as Chromium would).
    pub created: bool,
    pub changes: Vec<Change>,
    /// Left alone, in whole or from some point, and why.
    pub skipped: Option<Skip>,
}

impl Outcome {
    fn new(database: Database) -> Outcome {
        Outcome {
            database,
            created: false,
            changes: Vec::new(),
            skipped: None,
        }
    }

    fn skip(mut self, why: Skip) -> Outcome {
        self.skipped = Some(why);
        self
    }
}

/// An added CA `install --nss` did not add: not in the bundle (expired,
/// blocked, distrusted), or added since the last sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub name: String,
    pub sha256: Sha256,
    pub subject: String,
    pub why: String,
}

/// What `install --nss` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    pub outcomes: Vec<Outcome>,
    pub left_out: Vec<LeftOut>,
}

/// The record of what `install --nss` added, by database folder.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub databases: BTreeMap<PathBuf, Recorded>,
}

/// One database cabundle changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub kind: Kind,
    /// cabundle made it (no browser had yet). `uninstall` leaves it, empty
    /// of what cabundle added, where Chromium would have made it.
    #[serde(default)]
    pub created: bool,
    /// What cabundle added: each nickname, and the certificate it names.
    pub certificates: BTreeMap<String, Sha256>,
}

impl Record {
    pub fn load(path: &Path) -> Result<Record> {
        state::load_record(path)
    }

    fn save(&self, path: &Path) -> Result<()> {
        state::save_record(path, self)
    }
}

fn record_path(paths: &Paths) -> PathBuf {
    paths.config_dir.join("nss.json")
}

/// Whether `install --nss` changed any database.
pub fn recorded(paths: &Paths) -> Result<bool> {
    Ok(!Record::load(&record_path(paths))?.databases.is_empty())
}

/// The nickname a CA added under `name` gets: stable (the same CA, the
/// same name), recognisable, and free of `:`, which NSS reads as a token
/// name.
pub fn nickname(name: &str, cert: &Cert) -> String {
    format!("{NICKNAME_PREFIX}{name} {}", &cert.fingerprint()[..8])
}

/// One CA to put in.
struct Wanted {
    nickname: String,
    cert: Cert,
}

/// The added CAs the last sync kept in the bundle, and those it did not
/// (with why). Public roots are not among them: NSS has Mozilla's built in.
fn wanted(paths: &Paths) -> Result<(Vec<Wanted>, Vec<LeftOut>)> {
    let added = user::list(&paths.cas, None)?;
    let manifest = if added.is_empty() {
        None
    } else {
        Some(Manifest::read(&paths.manifest, &paths.bundle)?)
    };
    let status = |sha: &Sha256| {
        manifest.as_ref().and_then(|m| {
            m.certificates
                .iter()
                .find(|r| r.sha256 == *sha)
                .map(|r| (r.status.clone(), r.reason.clone()))
        })
    };
    let mut want = Vec::new();
    let mut left_out = Vec::new();
    for a in added {
        let why = match status(&a.cert.sha256) {
            Some((Status::Kept, _)) => {
                want.push(Wanted {
                    nickname: nickname(&a.name, &a.cert),
                    cert: a.cert,
                });
                continue;
            }
            Some((_, reason)) if !reason.is_empty() => format!("not in the bundle: {reason}"),
            Some((status, _)) => format!("not in the bundle ({status:?})").to_lowercase(),
            None => "not in the bundle yet: run `cabundle sync`".into(),
        };
        left_out.push(LeftOut {
            name: a.name,
            sha256: a.cert.sha256,
            subject: a.cert.subject.clone(),
            why,
        });
    }
    Ok((want, left_out))
}

/// The engine of `install --nss`: the added CAs the bundle holds into every
/// database of the user (see [`targets`]), each recorded before it is
/// added. A CA cabundle added before that is no longer among them (removed,
/// blocked, expired) is taken out. Only certutil missing, the record and
/// the state failing are errors: a database that cannot be changed is an
/// outcome, reported.
pub fn install(paths: &Paths, env: &Env) -> Result<Installed> {
    let certutil = Certutil::find()?;
    let _lock = paths.lock()?;
    let (want, left_out) = wanted(paths)?;
    let path = record_path(paths);
    let mut record = Record::load(&path)?;
    if want.is_empty() && left_out.is_empty() && record.databases.is_empty() {
        return Err(Error::NoAddedCas {
            cas: paths.cas.clone(),
            sudo_user: None,
        });
    }
    let mut outcomes = Vec::new();
    for (db, create) in targets(&discover(env)) {
        // Nothing to add: no database is made for it.
        if create && want.is_empty() {
            continue;
        }
        outcomes.push(install_one(
            &certutil,
            &mut record,
            &path,
            db,
            create,
            &want,
        )?);
    }
    // Databases cabundle wrote before that were not found this time (a
    // HOME given differently): what is no longer wanted still comes out.
    let found: Vec<PathBuf> = outcomes.iter().map(|o| o.database.path.clone()).collect();
    let others: Vec<PathBuf> = record
        .databases
        .keys()
        .filter(|p| !found.contains(p))
        .cloned()
        .collect();
    for db in others {
        let stale = record.databases[&db]
            .certificates
            .iter()
            .any(|(n, s)| !want.iter().any(|w| w.nickname == *n && w.cert.sha256 == *s));
        if stale {
            outcomes.push(uninstall_one(&certutil, &mut record, &path, &db, &want)?);
        }
    }
    Ok(Installed { outcomes, left_out })
}

/// One database: look at it, read what it holds, take out what is ours and
/// no longer wanted, then add what is wanted and not there.
fn install_one(
    certutil: &Certutil,
    record: &mut Record,
    path: &Path,
    db: Database,
    create: bool,
    want: &[Wanted],
) -> Result<Outcome> {
    let dir = db.path.clone();
    let mut out = Outcome::new(db);
    match inspect(&dir) {
        Err(skip) => return Ok(out.skip(skip)),
        Ok(Found::Sql) => {}
        Ok(Found::DbmOnly) => return Ok(out.skip(Skip::DbmOnly)),
        Ok(Found::Nothing) if create => {
            if let Err(reason) = make(certutil, &dir) {
                return Ok(out.skip(Skip::NotWritable { reason }));
            }
            out.created = true;
        }
        // Not a target then (the folders changed while this ran).
        Ok(Found::Nothing) => return Ok(out.skip(Skip::Missing)),
    }
    let mut contents = match certutil.contents(&dir) {
        Ok(c) => c,
        Err(reason) => return Ok(out.skip(Skip::Unreadable { reason })),
    };
    let ours = record
        .databases
        .get(&dir)
        .map(|r| r.certificates.clone())
        .unwrap_or_default();
    // What is ours and no longer wanted comes out first.
    for (nick, sha) in &ours {
        if want
            .iter()
            .any(|w| w.nickname == *nick && w.cert.sha256 == *sha)
        {
            continue;
        }
        match take_out(certutil, &dir, &mut contents, nick, *sha) {
            Ok(changes) => out.changes.extend(changes),
            Err(skip) => return finish(record, path, &dir, out.skip(skip)),
        }
        forget(record, &dir, nick);
    }
    for w in want {
        let sha = w.cert.sha256;
        let nickname = w.nickname.clone();
        if contents.holds(&w.nickname, sha) {
            // Ours (a record lost since is rebuilt).
            remember(record, &out, &w.nickname, sha);
            out.changes.push(Change::Present {
                nickname,
                sha256: sha,
            });
        } else if let Some(theirs) = contents.nickname_of(sha) {
            out.changes.push(Change::UsersOwn {
                nickname: theirs.to_string(),
                sha256: sha,
            });
        } else if contents.has(&w.nickname) {
            out.changes.push(Change::NicknameTaken {
                nickname,
                sha256: sha,
            });
        } else {
            // Recorded before it is added: a crash between the two leaves
            // a record uninstall can act on, never a change without one.
            remember(record, &out, &w.nickname, sha);
            record.save(path)?;
            if let Err(reason) = certutil.add(&dir, &w.nickname, &w.cert.der) {
                // Added without trust, then failed (a primary password):
                // the half-added entry comes out again.
                if certutil
                    .list(&dir)
                    .is_ok_and(|l| l.iter().any(|e| e.nickname == w.nickname))
                {
                    let _ = certutil.delete(&dir, &w.nickname);
                }
                forget(record, &dir, &w.nickname);
                let skip = if reason.contains("SEC_ERROR_BAD_PASSWORD") {
                    Skip::Password
                } else {
                    Skip::NotWritable { reason }
                };
                return finish(record, path, &dir, out.skip(skip));
            }
            out.changes.push(Change::Added {
                nickname,
                sha256: sha,
            });
        }
    }
    finish(record, path, &dir, out)
}

/// Record that the database of `out` holds `nickname`, cabundle's.
fn remember(record: &mut Record, out: &Outcome, nickname: &str, sha: Sha256) {
    let db = &out.database;
    let entry = record.databases.entry(db.path.clone()).or_insert(Recorded {
        kind: db.kind,
        created: false,
        certificates: BTreeMap::new(),
    });
    entry.created |= out.created;
    entry.certificates.insert(nickname.to_string(), sha);
}

fn forget(record: &mut Record, dir: &Path, nickname: &str) {
    if let Some(r) = record.databases.get_mut(dir) {
        r.certificates.remove(nickname);
    }
}

/// Drop a database that holds nothing of ours from the record, and save.
/// (One cabundle made stays where Chromium would have made it: what is
/// there from then on is the user's.)
fn finish(record: &mut Record, path: &Path, dir: &Path, out: Outcome) -> Result<Outcome> {
    if record
        .databases
        .get(dir)
        .is_some_and(|r| r.certificates.is_empty())
    {
        record.databases.remove(dir);
    }
    record.save(path)?;
    Ok(out)
}

/// Make a database where Chromium would: the folder (0700, as Chromium
/// makes it) and an empty one without a password.
fn make(certutil: &Certutil, dir: &Path) -> Result<(), String> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| e.to_string())?;
    certutil.create(dir)
}

/// What a database folder holds, once it is one cabundle may change.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Sql,
    DbmOnly,
    /// No folder, or no database in it.
    Nothing,
}

/// Look at a database folder without following links: it, and the files
/// of a database in it, must be this user's and no links.
fn inspect(dir: &Path) -> std::result::Result<Found, Skip> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Nothing),
        Err(e) => {
            return Err(Skip::Unreadable {
                reason: e.to_string(),
            });
        }
    };
    let link = |path: &Path| Skip::Link {
        path: path.to_path_buf(),
        target: fs::read_link(path).unwrap_or_default(),
    };
    if meta.file_type().is_symlink() {
        return Err(link(dir));
    }
    if !meta.is_dir() {
        return Err(Skip::NotAFolder);
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Skip::OtherUser { uid: meta.uid() });
    }
    let mut found = Found::Nothing;
    for name in ["cert9.db", "key4.db", "pkcs11.txt", "cert8.db", "key3.db"] {
        let file = dir.join(name);
        let Ok(m) = fs::symlink_metadata(&file) else {
            continue;
        };
        if m.file_type().is_symlink() {
            return Err(link(&file));
        }
        if !m.is_file() {
            return Err(Skip::NotAFile { file });
        }
        match name {
            "cert9.db" => found = Found::Sql,
            "cert8.db" if found == Found::Nothing => found = Found::DbmOnly,
            _ => {}
        }
    }
    Ok(found)
}

/// Take out one certificate cabundle added, if it is still what cabundle
/// added, and keep `contents` up to date. certutil deletes by nickname;
/// when others share the certificate's subject (and so its `-L -n`), they
/// are checked to be there still after.
fn take_out(
    certutil: &Certutil,
    dir: &Path,
    contents: &mut Contents,
    nickname: &str,
    sha: Sha256,
) -> std::result::Result<Vec<Change>, Skip> {
    let nickname_ = nickname.to_string();
    if !contents.has(nickname) {
        return Ok(vec![Change::Gone {
            nickname: nickname_,
            sha256: sha,
        }]);
    }
    if !contents.holds(nickname, sha) {
        return Ok(vec![Change::Replaced {
            nickname: nickname_,
            sha256: sha,
        }]);
    }
    let siblings: Vec<Sha256> = contents
        .certs(nickname)
        .iter()
        .map(|c| c.sha256)
        .filter(|s| *s != sha)
        .collect();
    certutil
        .delete(dir, nickname)
        .map_err(|reason| Skip::NotWritable { reason })?;
    let mut changes = vec![Change::Removed {
        nickname: nickname_,
        sha256: sha,
    }];
    if siblings.is_empty() {
        contents.0.retain(|(l, _)| l.nickname != nickname);
        return Ok(changes);
    }
    let after = certutil
        .contents(dir)
        .map_err(|reason| Skip::Unreadable { reason })?;
    for lost in siblings.into_iter().filter(|s| !after.has_sha(*s)) {
        changes.push(Change::AlsoLost {
            sha256: lost,
            nicknames: contents.nicknames_of(lost),
        });
    }
    *contents = after;
    Ok(changes)
}

/// The engine of `uninstall --nss`: every certificate the record names is
/// taken out of its database, if it is still what cabundle added.
/// Certificates the user added, under any nickname, are never touched.
pub fn uninstall(paths: &Paths) -> Result<Vec<Outcome>> {
    let _lock = paths.lock()?;
    let path = record_path(paths);
    let mut record = Record::load(&path)?;
    if record.databases.is_empty() {
        return Ok(Vec::new());
    }
    let certutil = Certutil::find()?;
    let dbs: Vec<PathBuf> = record.databases.keys().cloned().collect();
    let mut out = Vec::new();
    for db in dbs {
        out.push(uninstall_one(&certutil, &mut record, &path, &db, &[])?);
    }
    Ok(out)
}

/// Take out of one recorded database what cabundle added and `keep` does
/// not hold.
fn uninstall_one(
    certutil: &Certutil,
    record: &mut Record,
    path: &Path,
    dir: &Path,
    keep: &[Wanted],
) -> Result<Outcome> {
    let recorded = record.databases[dir].clone();
    let mut out = Outcome::new(Database::at(dir.to_path_buf(), recorded.kind));
    out.created = recorded.created;
    match inspect(dir) {
        Err(skip) => return Ok(out.skip(skip)),
        Ok(Found::Sql) => {}
        Ok(_) => {
            // Gone (or replaced by a legacy one): nothing of ours is left.
            record.databases.remove(dir);
            record.save(path)?;
            return Ok(out.skip(Skip::Missing));
        }
    }
    let mut contents = match certutil.contents(dir) {
        Ok(c) => c,
        Err(reason) => return Ok(out.skip(Skip::Unreadable { reason })),
    };
    for (nick, sha) in &recorded.certificates {
        if keep
            .iter()
            .any(|w| w.nickname == *nick && w.cert.sha256 == *sha)
        {
            continue;
        }
        match take_out(certutil, dir, &mut contents, nick, *sha) {
            Ok(changes) => out.changes.extend(changes),
            Err(skip) => {
                out.skipped = Some(skip);
                break;
            }
        }
        forget(record, dir, nick);
    }
    finish(record, path, dir, out)
}

/// One entry of a database, as `certutil -L` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub nickname: String,
    /// NSS's trust flags, `SSL,S/MIME,JAR/XPI` (`C,,`, `CT,C,C`, `u,u,u`).
    pub trust: String,
}

impl Listed {
    /// Trusted to issue TLS server certificates (`C`), or trusted as a
    /// server itself (`P`).
    pub fn trusted_for_servers(&self) -> bool {
        let ssl = self.trust.split(',').next().unwrap_or("");
        ssl.contains('C') || ssl.contains('P')
    }
}

/// What a database holds: each entry, and the certificates its nickname
/// names (one, unless others share its subject).
#[derive(Debug, Default)]
struct Contents(Vec<(Listed, Vec<Cert>)>);

impl Contents {
    fn has(&self, nickname: &str) -> bool {
        self.0.iter().any(|(l, _)| l.nickname == nickname)
    }

    fn certs(&self, nickname: &str) -> &[Cert] {
        self.0
            .iter()
            .find(|(l, _)| l.nickname == nickname)
            .map_or(&[], |(_, c)| c.as_slice())
    }

    fn holds(&self, nickname: &str, sha: Sha256) -> bool {
        self.certs(nickname).iter().any(|c| c.sha256 == sha)
    }

    fn has_sha(&self, sha: Sha256) -> bool {
        self.0
            .iter()
            .any(|(_, c)| c.iter().any(|c| c.sha256 == sha))
    }

    fn nicknames_of(&self, sha: Sha256) -> Vec<String> {
        self.0
            .iter()
            .filter(|(_, c)| c.iter().any(|c| c.sha256 == sha))
            .map(|(l, _)| l.nickname.clone())
            .collect()
    }

    /// The nickname the database holds `sha` under: the one that names it
    /// alone, else one of those that name it with others of its subject.
    fn nickname_of(&self, sha: Sha256) -> Option<&str> {
        let naming = || {
            self.0
                .iter()
                .filter(move |(_, c)| c.iter().any(|c| c.sha256 == sha))
        };
        naming()
            .find(|(_, c)| c.len() == 1)
            .or_else(|| naming().next())
            .map(|(l, _)| l.nickname.as_str())
    }
}

/// NSS's `certutil`, run with nothing to prompt on: stdin is the
/// certificate or nothing, and the password file is empty, so a database
/// with a password fails instead of asking.
pub struct Certutil {
    program: PathBuf,
}

impl Certutil {
    /// certutil on PATH, or the error naming the package to install.
    pub fn find() -> Result<Certutil> {
        crate::system::find_program("certutil")
            .map(|program| Certutil { program })
            .ok_or(Error::NoCertutil)
    }

    /// `-d sql:DIR`.
    fn db(dir: &Path) -> OsString {
        let mut arg = OsString::from("sql:");
        arg.push(dir);
        arg
    }

    /// Run certutil on `dir` with `args` (and `input` on stdin): its
    /// stdout, or what it said went wrong.
    fn run(&self, dir: &Path, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let mut cmd = Command::new(&self.program);
        cmd.args(args)
            .arg("-d")
            .arg(Certutil::db(dir))
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            // A certificate is far smaller than a pipe's buffer.
            let _ = stdin.write_all(bytes);
        }
        let drain = |r: Option<Box<dyn Read + Send>>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut v);
                }
                v
            })
        };
        let stdout = drain(child.stdout.take().map(|s| Box::new(s) as _));
        let stderr = drain(child.stderr.take().map(|s| Box::new(s) as _));
        let status = match child.wait_timeout(CERTUTIL_TIMEOUT) {
            Ok(Some(status)) => status,
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "certutil did not finish within {} s",
                    CERTUTIL_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot wait for certutil: {e}")),
        };
        let stdout = stdout.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        if status.success() {
            return Ok(stdout);
        }
        // certutil's last line names the NSS error; earlier ones repeat it.
        let said = String::from_utf8_lossy(&stderr);
        let last = said
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(|l| l.strip_prefix("certutil: ").unwrap_or(l).to_string());
        Err(crate::cert::printable(
            &last.unwrap_or_else(|| format!("certutil failed ({status})")),
        ))
    }

    /// `certutil -N --empty-password`: a new database, as Chromium makes.
    fn create(&self, dir: &Path) -> Result<(), String> {
        self.run(dir, &["-N", "--empty-password"], None).map(drop)
    }

    /// `certutil -L`: every entry, by nickname.
    pub fn list(&self, dir: &Path) -> Result<Vec<Listed>, String> {
        let out = self.run(dir, &["-L"], None)?;
        Ok(parse_list(&String::from_utf8_lossy(&out)))
    }

    /// `certutil -L -n NICK -a`: the certificates NICK names.
    pub fn certs(&self, dir: &Path, nickname: &str) -> Result<Vec<Cert>, String> {
        let out = self.run(dir, &["-L", "-a", "-n", nickname], None)?;
        Ok(crate::decode::decode(&out)
            .items
            .into_iter()
            .map(|i| i.cert)
            .collect())
    }

    /// Every entry and its certificates.
    fn contents(&self, dir: &Path) -> Result<Contents, String> {
        let mut all = Vec::new();
        for listed in self.list(dir)? {
            let certs = self
                .certs(dir, &listed.nickname)
                .map_err(|e| format!("{:?}: {e}", listed.nickname))?;
            all.push((listed, certs));
        }
        Ok(Contents(all))
    }

    /// `certutil -A -t C,,`, the DER on stdin.
    fn add(&self, dir: &Path, nickname: &str, der: &[u8]) -> Result<(), String> {
        let args = ["-A", "-n", nickname, "-t", TRUST, "-f", "/dev/null"];
        self.run(dir, &args, Some(der)).map(drop)
    }

    /// `certutil -D`: the entry labelled `nickname`.
    fn delete(&self, dir: &Path, nickname: &str) -> Result<(), String> {
        self.run(dir, &["-D", "-n", nickname, "-f", "/dev/null"], None)
            .map(drop)
    }
}

/// `certutil -L`'s table: after the header (which ends with the
/// `SSL,S/MIME,JAR/XPI` line), each line is a nickname (which may hold
/// spaces) padded to a column, then the trust flags (which hold none).
fn parse_list(text: &str) -> Vec<Listed> {
    let mut lines = text.lines();
    for line in lines.by_ref() {
        if line.contains("SSL,S/MIME,JAR/XPI") {
            break;
        }
    }
    lines
        .filter_map(|line| {
            let line = line.trim_end();
            let (nickname, trust) = line.rsplit_once(char::is_whitespace)?;
            let nickname = nickname.trim_end();
            (!nickname.is_empty() && trust.contains(',')).then(|| Listed {
                nickname: nickname.to_string(),
                trust: trust.to_string(),
            })
        })
        .collect()
}

/// One certificate of a database, judged against cabundle's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertFacts {
    pub sha256: Sha256,
    pub subject: String,
    pub not_after: Timestamp,
    pub expired: bool,
    /// Its SHA-256 is in config.toml's `blocked`.
    pub blocked: bool,
    /// The bundle holds it; `None` when there is no bundle yet.
    pub in_bundle: Option<bool>,
}

/// One entry of a database, and what its nickname names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub listed: Listed,
    pub trusted_for_servers: bool,
    /// cabundle added it (`install --nss`).
    pub ours: bool,
    /// Usually one; several when others share its subject (certutil
    /// cannot say which of them the nickname labels).
    pub certificates: Vec<CertFacts>,
}

/// What one database holds, for `cabundle clients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DbReport {
    pub database: Database,
    pub entries: Vec<Entry>,
    /// Why it could not be read, if it could not.
    pub skipped: Option<Skip>,
}

impl DbReport {
    /// Entries trusted for TLS servers that are expired or blocked: what
    /// the user should take out of the database.
    pub fn stale(&self) -> impl Iterator<Item = (&Entry, &CertFacts)> {
        self.entries
            .iter()
            .filter(|e| e.trusted_for_servers)
            .flat_map(|e| e.certificates.iter().map(move |c| (e, c)))
            .filter(|(_, c)| c.expired || c.blocked)
    }
}

/// What `db` holds (`certutil -L`, then `-L -n NICK -a` for each entry),
/// each certificate judged: in the bundle, expired (now), blocked. A
/// database that cannot be read is reported, not an error.
pub fn report(paths: &Paths, db: &Database) -> Result<DbReport> {
    let mut out = DbReport {
        database: db.clone(),
        entries: Vec::new(),
        skipped: None,
    };
    match inspect(&db.path) {
        Err(skip) => out.skipped = Some(skip),
        Ok(Found::Sql) => {}
        Ok(Found::DbmOnly) => out.skipped = Some(Skip::DbmOnly),
        Ok(Found::Nothing) => out.skipped = Some(Skip::Missing),
    }
    if out.skipped.is_some() {
        return Ok(out);
    }
    let certutil = Certutil::find()?;
    let contents = match certutil.contents(&db.path) {
        Ok(c) => c,
        Err(reason) => {
            out.skipped = Some(Skip::Unreadable { reason });
            return Ok(out);
        }
    };
    let kept: Option<std::collections::HashSet<Sha256>> =
        match Manifest::read(&paths.manifest, &paths.bundle) {
            Ok(m) => Some(
                m.certificates
                    .iter()
                    .filter(|r| r.status == Status::Kept)
                    .map(|r| r.sha256)
                    .collect(),
            ),
            Err(Error::NoBundle(_)) => None,
            Err(e) => return Err(e),
        };
    let blocked = Config::load(&paths.config())?.blocked;
    let record = Record::load(&record_path(paths))?;
    let ours = record.databases.get(&db.path);
    let now = date::now();
    for (listed, certs) in contents.0 {
        let certificates = certs
            .iter()
            .map(|c| CertFacts {
                sha256: c.sha256,
                subject: c.subject.clone(),
                not_after: c.not_after,
                expired: c.is_expired_at(now),
                blocked: blocked.contains(&c.sha256),
                in_bundle: kept.as_ref().map(|k| k.contains(&c.sha256)),
            })
            .collect();
        out.entries.push(Entry {
            trusted_for_servers: listed.trusted_for_servers(),
            ours: ours.is_some_and(|r| r.certificates.contains_key(&listed.nickname)),
            listed,
            certificates,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certutil_listings_are_parsed_with_spaces_in_nicknames() {
        let text = "\nCertificate Nickname                                         Trust Attributes\n\
                    \x20                                                            SSL,S/MIME,JAR/XPI\n\n\
                    cabundle corp 3f2a9c0d                                       C,,  \n\
                    My Corp Root (2019)                                          CT,C,C\n\
                    NSS Certificate DB:odd: name                                 ,,   \n\
                    a-nickname-longer-than-the-sixty-columns-certutil-pads-nicknames-to p,p,p\n";
        let listed = parse_list(text);
        let got: Vec<(&str, &str)> = listed
            .iter()
            .map(|l| (l.nickname.as_str(), l.trust.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("cabundle corp 3f2a9c0d", "C,,"),
                ("My Corp Root (2019)", "CT,C,C"),
                ("NSS Certificate DB:odd: name", ",,"),
                (
                    "a-nickname-longer-than-the-sixty-columns-certutil-pads-nicknames-to",
                    "p,p,p"
                ),
            ]
        );
        let trusted: Vec<bool> = listed.iter().map(Listed::trusted_for_servers).collect();
        assert_eq!(trusted, [true, true, false, false]);
        assert!(parse_list("").is_empty());
    }

    fn db(dir: &Path, rel: &str, file: Option<&str>) -> PathBuf {
        let path = dir.join(rel);
        fs::create_dir_all(&path).unwrap();
        if let Some(f) = file {
            fs::write(path.join(f), "").unwrap();
        }
        path
    }

    #[test]
    fn databases_are_found_where_browsers_keep_them() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        let p1 = db(
            home,
            ".mozilla/firefox/abc.default-release",
            Some("cert9.db"),
        );
        let old = db(home, ".mozilla/firefox/old.default", Some("cert8.db"));
        db(home, ".mozilla/firefox/Crash Reports", None);
        let xdg = db(home, ".config/mozilla/firefox/x.default", Some("cert9.db"));
        let snap = db(
            home,
            "snap/firefox/common/.mozilla/firefox/s.default",
            Some("cert9.db"),
        );
        let flat = db(
            home,
            ".var/app/org.mozilla.firefox/.mozilla/firefox/f.default",
            Some("cert9.db"),
        );
        let chromium_snap = db(home, "snap/chromium/current/.pki/nssdb", Some("cert9.db"));
        let found = databases(home);
        let got: Vec<(PathBuf, Kind, bool, bool)> = found
            .iter()
            .map(|d| (d.path.clone(), d.kind, d.exists, d.dbm_only))
            .collect();
        assert_eq!(
            got,
            [
                (home.join(".pki/nssdb"), Kind::Chromium, false, false),
                (
                    home.join(".local/share/pki/nssdb"),
                    Kind::Chromium,
                    false,
                    false
                ),
                (chromium_snap, Kind::ChromiumSnap, true, false),
                (p1, Kind::Firefox, true, false),
                (old, Kind::Firefox, false, true),
                (xdg, Kind::Firefox, true, false),
                (snap, Kind::FirefoxSnap, true, false),
                (flat, Kind::FirefoxFlatpak, true, false),
            ]
        );
        // XDG_DATA_HOME moves Chromium's second database, as Chromium does.
        let env = Env {
            xdg_data_home: Some(home.join("data")),
            ..Env::at(home)
        };
        assert_eq!(discover(&env)[1].path, home.join("data/pki/nssdb"));
    }

    #[test]
    fn chromium_gets_the_database_it_would_use_or_make() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        let chosen = || -> Vec<(PathBuf, bool)> {
            targets(&databases(home))
                .into_iter()
                .map(|(d, create)| (d.path, create))
                .collect()
        };
        let legacy = home.join(".pki/nssdb");
        let xdg = home.join(".local/share/pki/nssdb");
        // Neither: ~/.pki/nssdb, made (every Chromium and Electron reads it).
        assert_eq!(chosen(), [(legacy.clone(), true)]);
        // Only the XDG folder: that one, made (Chromium M146+ would).
        fs::create_dir_all(&xdg).unwrap();
        assert_eq!(chosen(), [(xdg.clone(), true)]);
        // An XDG database: that one alone.
        fs::write(xdg.join("cert9.db"), "").unwrap();
        assert_eq!(chosen(), [(xdg.clone(), false)]);
        // An empty ~/.pki/nssdb folder makes every Chromium use it: it is
        // made there, and the XDG database is written too.
        fs::create_dir_all(&legacy).unwrap();
        assert_eq!(chosen(), [(legacy.clone(), true), (xdg.clone(), false)]);
        fs::write(legacy.join("cert9.db"), "").unwrap();
        assert_eq!(chosen(), [(legacy, false), (xdg, false)]);
    }

    #[test]
    fn nicknames_are_stable_and_hold_no_token_separator() {
        let roots = crate::test_support::roots();
        let cert = &roots[0];
        let n = nickname("corp-ca_1", cert);
        assert_eq!(
            n,
            format!("cabundle corp-ca_1 {}", &cert.fingerprint()[..8])
        );
        assert!(!n.contains(':'));
        assert_eq!(n, nickname("corp-ca_1", cert));
    }
}
