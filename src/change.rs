//! The user's own say in what is trusted: CAs added and removed,
//! certificates blocked and unblocked. The engine of `add`, `remove`,
//! `block` and `unblock`.
//!
//! Every argument is checked before anything changes, so one bad argument
//! changes nothing. The change is then made under the lock and made real
//! by a sync; if that sync fails, the change is undone, so the state and
//! the bundle always agree ([`change`]).
//!
//! Certificates are named the way `list` shows them ([`resolve`]): by
//! SHA-256 or a unique prefix of it, by the name an `add` stored them under,
//! or by CN.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cert::{Cert, Sha256};
use crate::date;
use crate::decode;
use crate::error::{Error, IoContext, Result};
use crate::sources::user::{self, Added};
use crate::state::config::Config;
use crate::state::manifest::{Manifest, Record};
use crate::state::{self, Paths};
use crate::sync::{self, Report};

/// What an id was looked for among, for errors: one, and several.
pub struct Among {
    pub one: &'static str,
    pub many: &'static str,
}

const ADDED: Among = Among {
    one: "added CA",
    many: "added CAs",
};
const SEEN: Among = Among {
    one: "certificate the last sync saw",
    many: "certificates the last sync saw",
};
const BLOCKED: Among = Among {
    one: "blocked certificate",
    many: "blocked certificates",
};

/// A prefix of a SHA-256 shorter than this names nothing: 8 hex digits
/// tell apart certificates by the billion, `list` shows 16.
pub const MIN_PREFIX: usize = 8;

/// What a change did, what the user should know about it, and the sync
/// that made it real.
#[derive(Debug)]
pub struct Changed<T> {
    pub done: Vec<T>,
    pub notes: Vec<Note>,
    pub report: Report,
}

/// Something the user should know about a change that went ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// `add`: this certificate is in the store already.
    AlreadyAdded(Cert),
    /// `add`: valid only from a later date; stored, and kept by sync with
    /// a warning until then.
    NotYetValid { file: PathBuf, cert: Cert },
    /// `block`: it was blocked already.
    AlreadyBlocked(Sha256),
    /// `block`: no certificate the last sync saw has this fingerprint. It
    /// is blocked all the same, so it stays out if a source ever brings it.
    Unseen(Sha256),
    /// `unblock`: it was not blocked, so there was nothing to undo.
    NotBlocked(Sha256),
}

/// One certificate `block` or `unblock` acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub sha256: Sha256,
    /// Its subject, when the last sync saw it.
    pub subject: Option<String>,
}

/// What `add` is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct AddRequest<'a> {
    pub files: &'a [PathBuf],
    /// Store them under this name; by default each file's own name.
    pub name: Option<&'a str>,
    /// Accept certificates that are not CAs (pinning one server).
    pub allow_leaf: bool,
}

/// Validate every file, store each new certificate, and sync.
pub fn add(paths: &Paths, req: &AddRequest<'_>, opts: &sync::Options) -> Result<Changed<Added>> {
    if let Some(name) = req.name {
        user::check_name(name)?;
    }
    let mut notes = Vec::new();
    let mut staged: Vec<(String, Cert)> = Vec::new();
    for file in req.files {
        let name = req
            .name
            .map_or_else(|| user::name_from_file(file), str::to_string);
        for cert in validate(file, req.allow_leaf, opts.at, &mut notes)? {
            staged.push((name.clone(), cert));
        }
    }
    change(paths, opts, notes, |notes| {
        for (name, _) in &staged {
            user::check_slot(&paths.cas, name)?;
        }
        let mut known: HashSet<Sha256> = user::list(&paths.cas, None)?
            .into_iter()
            .map(|a| a.cert.sha256)
            .collect();
        let mut written: Vec<Added> = Vec::new();
        for (name, cert) in staged {
            if !known.insert(cert.sha256) {
                notes.push(Note::AlreadyAdded(cert));
                continue;
            }
            let path = user::path_for(&paths.cas, &name, &cert);
            if let Err(e) = state::write_atomic(&path, cert.to_pem().as_bytes()) {
                delete(&written);
                return Err(e);
            }
            written.push(Added { name, path, cert });
        }
        let undo = written.clone();
        Ok((written, move || delete(&undo)))
    })
}

/// Take the added CAs that `ids` name out of the store, and sync.
pub fn remove(paths: &Paths, ids: &[String], opts: &sync::Options) -> Result<Changed<Added>> {
    change(paths, opts, Vec::new(), |_| {
        let added = user::list(&paths.cas, None)?;
        let known: Vec<Known> = added.iter().map(Known::from).collect();
        let mut doomed: Vec<Added> = Vec::new();
        for id in ids {
            for i in resolve(&known, id, ADDED)? {
                if !doomed.iter().any(|d| d.path == added[i].path) {
                    doomed.push(added[i].clone());
                }
            }
        }
        for (i, a) in doomed.iter().enumerate() {
            if let Err(e) = fs::remove_file(&a.path).at(&a.path) {
                restore(&doomed[..i]);
                return Err(e);
            }
            if let Some(dir) = a.path.parent() {
                // Only succeeds when empty: a name that holds other CAs stays.
                let _ = fs::remove_dir(dir);
            }
        }
        let undo = doomed.clone();
        Ok((doomed, move || restore(&undo)))
    })
}

/// Keep the certificates `ids` name out of the bundle, whatever carries
/// them, and sync. A full SHA-256 is blocked even when no source carries
/// it now; anything shorter must name what the last sync saw.
pub fn block(paths: &Paths, ids: &[String], opts: &sync::Options) -> Result<Changed<Target>> {
    change(paths, opts, Vec::new(), |notes| {
        let known: Vec<Known> = last_seen(paths)?;
        let mut targets: Vec<Target> = Vec::new();
        for id in ids {
            let hits: Vec<Sha256> = match id.parse::<Sha256>().ok() {
                Some(sha) => {
                    if !known.iter().any(|k| k.sha256 == sha) {
                        notes.push(Note::Unseen(sha));
                    }
                    vec![sha]
                }
                None => resolve(&known, id, SEEN)?
                    .into_iter()
                    .map(|i| known[i].sha256)
                    .collect(),
            };
            for sha in hits {
                if !targets.iter().any(|t| t.sha256 == sha) {
                    let subject = known.iter().find(|k| k.sha256 == sha);
                    targets.push(Target {
                        sha256: sha,
                        subject: subject.map(|k| k.subject.clone()),
                    });
                }
            }
        }
        edit_config(paths, targets, notes, |config, t| {
            match config.block(t.sha256) {
                true => Ok(()),
                false => Err(Note::AlreadyBlocked(t.sha256)),
            }
        })
    })
}

/// Undo `block` for the certificates `ids` name, and sync. What is not
/// blocked (a full SHA-256, or an id that names what the last sync saw)
/// is said so and changes nothing, as `block` of what is blocked already;
/// an id that names nothing at all is an error.
pub fn unblock(paths: &Paths, ids: &[String], opts: &sync::Options) -> Result<Changed<Target>> {
    change(paths, opts, Vec::new(), |notes| {
        let blocked: Vec<Sha256> = Config::load(&paths.config())?.blocked;
        let seen = last_seen(paths)?;
        // Each blocked fingerprint, named as the last sync saw it if it did.
        let known: Vec<Known> = blocked
            .iter()
            .map(|sha| {
                seen.iter()
                    .find(|k| k.sha256 == *sha)
                    .cloned()
                    .unwrap_or_else(|| Known::bare(*sha))
            })
            .collect();
        let mut targets: Vec<Target> = Vec::new();
        for id in ids {
            let hits: Vec<usize> = match id.parse::<Sha256>().ok() {
                Some(sha) => {
                    let hits: Vec<usize> = (0..known.len())
                        .filter(|&i| known[i].sha256 == sha)
                        .collect();
                    if hits.is_empty() {
                        notes.push(Note::NotBlocked(sha));
                    }
                    hits
                }
                None => match resolve(&known, id, BLOCKED) {
                    Ok(hits) => hits,
                    // Something the last sync saw but that is not blocked
                    // is said so, as `block` says "already blocked".
                    Err(e @ Error::NoMatch { .. }) => match resolve(&seen, id, SEEN) {
                        Ok(hits) => {
                            notes.extend(hits.iter().map(|&i| Note::NotBlocked(seen[i].sha256)));
                            Vec::new()
                        }
                        Err(_) => return Err(e),
                    },
                    Err(e) => return Err(e),
                },
            };
            for i in hits {
                if !targets.iter().any(|t| t.sha256 == known[i].sha256) {
                    targets.push(Target {
                        sha256: known[i].sha256,
                        subject: (!known[i].subject.is_empty()).then(|| known[i].subject.clone()),
                    });
                }
            }
        }
        edit_config(paths, targets, notes, |config, t| {
            match config.unblock(t.sha256) {
                true => Ok(()),
                false => Err(Note::NotBlocked(t.sha256)),
            }
        })
    })
}

/// The one sequence every change follows: under the lock, `apply` makes
/// the change (undoing its own partial work if it fails half-way) and says
/// how to undo it; then a sync makes it real, or the change is undone so
/// that nothing has changed.
fn change<T, U: FnOnce()>(
    paths: &Paths,
    opts: &sync::Options,
    mut notes: Vec<Note>,
    apply: impl FnOnce(&mut Vec<Note>) -> Result<(Vec<T>, U)>,
) -> Result<Changed<T>> {
    let _lock = paths.lock()?;
    let (done, undo) = apply(&mut notes)?;
    match sync::sync(paths, opts) {
        Ok(report) => Ok(Changed {
            done,
            notes,
            report,
        }),
        Err(e) => {
            undo();
            Err(e)
        }
    }
}

/// Apply `edit` to the config for each target (a note instead where it
/// changes nothing), save it, and say how to put it back.
fn edit_config<E: Fn(&mut Config, &Target) -> Result<(), Note>>(
    paths: &Paths,
    targets: Vec<Target>,
    notes: &mut Vec<Note>,
    edit: E,
) -> Result<(Vec<Target>, impl FnOnce() + use<E>)> {
    let path = paths.config();
    let before = Config::load(&path)?;
    let mut config = before.clone();
    let mut done = Vec::new();
    for t in targets {
        match edit(&mut config, &t) {
            Ok(()) => done.push(t),
            Err(note) => notes.push(note),
        }
    }
    if config != before {
        config.save(&path)?;
    }
    Ok((done, move || {
        // Put the config back, so that config and bundle agree.
        let _ = before.save(&path);
    }))
}

/// The certificates the last sync saw, kept or not (what `list --all`
/// shows); none before the first sync.
fn last_seen(paths: &Paths) -> Result<Vec<Known>> {
    match Manifest::read(&paths.manifest, &paths.bundle) {
        Ok(m) => Ok(m.certificates.iter().map(Known::from_record).collect()),
        Err(Error::NoBundle(_)) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// The certificates of `file`, if every one of them may be added. A
/// certificate valid only from a later date may: it is noted.
fn validate(
    file: &Path,
    allow_leaf: bool,
    at: date::Timestamp,
    notes: &mut Vec<Note>,
) -> Result<Vec<Cert>> {
    let refuse = |reason: String| Error::Refused {
        path: file.to_path_buf(),
        reason,
    };
    let decoded = decode::decode_file(file).map_err(|e| refuse(e.to_string()))?;
    if let Some(first) = decoded.errors.first() {
        return Err(refuse(first.to_string()));
    }
    if decoded.items.is_empty() {
        return Err(refuse("no certificate in it".into()));
    }
    let mut certs: Vec<Cert> = Vec::new();
    for item in decoded.items {
        let cert = item.cert;
        let who = cert.name().to_string();
        if let Some(why) = item.distrust {
            return Err(refuse(format!("{who}: {why}")));
        }
        if !cert.is_ca() && !allow_leaf {
            return Err(refuse(format!(
                "{who} is not a CA certificate (no basicConstraints CA:TRUE, not a v1 root); \
                 pass --allow-leaf to trust this one certificate anyway"
            )));
        }
        if cert.is_expired_at(at) {
            return Err(refuse(format!(
                "{who} expired on {}",
                date::instant(cert.not_after)
            )));
        }
        if cert.not_before > at {
            notes.push(Note::NotYetValid {
                file: file.to_path_buf(),
                cert: cert.clone(),
            });
        }
        if !certs.iter().any(|c| c.sha256 == cert.sha256) {
            certs.push(cert);
        }
    }
    Ok(certs)
}

/// Take stored CAs out again (a failed add).
fn delete(written: &[Added]) {
    for a in written {
        let _ = fs::remove_file(&a.path);
        if let Some(dir) = a.path.parent() {
            // Only succeeds when empty: a name that held other CAs stays.
            let _ = fs::remove_dir(dir);
        }
    }
}

/// Put removed CAs back (a failed remove).
fn restore(removed: &[Added]) {
    for a in removed {
        let _ = state::write_atomic(&a.path, a.cert.to_pem().as_bytes());
    }
}

/// One certificate as an id may name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub sha256: Sha256,
    /// The names `add` stored it under.
    pub names: Vec<String>,
    pub common_name: Option<String>,
    /// Empty when not known (a blocked fingerprint no sync has seen).
    pub subject: String,
}

impl Known {
    fn bare(sha256: Sha256) -> Known {
        Known {
            sha256,
            names: Vec::new(),
            common_name: None,
            subject: String::new(),
        }
    }

    /// How an ambiguous id's candidates are listed: as `list` shows them.
    fn describe(&self) -> String {
        let names = match self.names.as_slice() {
            [] => String::new(),
            names => format!("  (added as {})", names.join(", ")),
        };
        crate::cert::printable(&format!("{}  {}{names}", self.sha256.short(), self.subject))
    }
}

impl From<&Added> for Known {
    fn from(a: &Added) -> Known {
        Known {
            sha256: a.cert.sha256,
            names: vec![a.name.clone()],
            common_name: a.cert.common_name.clone(),
            subject: a.cert.subject.clone(),
        }
    }
}

impl Known {
    /// A record of the manifest.
    fn from_record(r: &Record) -> Known {
        Known {
            sha256: r.sha256,
            names: r
                .sources
                .iter()
                .filter_map(|s| s.strip_prefix(user::LABEL_PREFIX))
                .map(str::to_string)
                .collect(),
            common_name: common_name(&r.subject).map(str::to_string),
            subject: r.subject.clone(),
        }
    }
}

/// The CN of a subject as cabundle writes it (`C=BE, O=..., CN=Name`).
fn common_name(subject: &str) -> Option<&str> {
    subject
        .rsplit(", ")
        .find_map(|part| part.strip_prefix("CN="))
}

/// Which of `known` the id names, by the first of these that matches:
/// the full SHA-256 (any case, colons optional), the name an `add` stored
/// it under (every certificate of that name), its CN or whole subject (any
/// case), or a prefix of its SHA-256 of at least [`MIN_PREFIX`] hex digits.
/// A CN or prefix that fits several certificates is an error listing them;
/// so is one that fits none. `among` names what was searched, for errors.
pub fn resolve(known: &[Known], id: &str, among: Among) -> Result<Vec<usize>> {
    let all = |keep: &dyn Fn(&Known) -> bool| -> Vec<usize> {
        (0..known.len()).filter(|&i| keep(&known[i])).collect()
    };
    let digits: String = id
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    let hex_digits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit());
    let (hits, unique) = if let Ok(sha) = id.parse::<Sha256>() {
        (all(&|k| k.sha256 == sha), false)
    } else {
        let by_name = all(&|k| k.names.iter().any(|n| n == id));
        if !by_name.is_empty() {
            // A name groups what one `add` brought in: all of it.
            (by_name, false)
        } else {
            let by_cn = all(&|k| {
                k.common_name
                    .iter()
                    .chain([&k.subject])
                    .any(|n| !n.is_empty() && n.eq_ignore_ascii_case(id))
            });
            if !by_cn.is_empty() || !hex_digits || digits.len() < MIN_PREFIX {
                (by_cn, true)
            } else {
                (all(&|k| k.sha256.to_string().starts_with(&digits)), true)
            }
        }
    };
    if hits.is_empty() {
        return Err(Error::NoMatch {
            id: id.to_string(),
            among: among.one,
            hint: if hex_digits && digits.len() < MIN_PREFIX {
                "a SHA-256 prefix needs at least 8 hex digits"
            } else {
                "give its SHA-256 or a unique prefix of it, the name it was added under, or its CN, \
                 as `cabundle list` shows them"
            },
        });
    }
    let mut distinct: Vec<Sha256> = hits.iter().map(|&i| known[i].sha256).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if unique && distinct.len() > 1 {
        return Err(Error::Ambiguous {
            id: id.to_string(),
            among: among.many,
            candidates: hits.iter().map(|&i| known[i].describe()).collect(),
        });
    }
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(sha: [u8; 32], name: &str, subject: &str) -> Known {
        Known {
            sha256: Sha256(sha),
            names: (!name.is_empty())
                .then(|| name.to_string())
                .into_iter()
                .collect(),
            common_name: common_name(subject).map(str::to_string),
            subject: subject.to_string(),
        }
    }

    fn set() -> Vec<Known> {
        let mut a = [0u8; 32];
        a[0] = 0xab;
        a[1] = 0xcd;
        a[4] = 0x01;
        let mut b = a;
        b[4] = 0x02;
        let mut c = [0u8; 32];
        c[0] = 0x12;
        vec![
            known(a, "corp", "O=Corp, CN=Corp Root"),
            known(b, "corp", "O=Corp, CN=Corp Issuing"),
            known(c, "", "C=BE, CN=Other Root"),
        ]
    }

    #[test]
    fn ids_resolve_by_fingerprint_name_cn_and_prefix() {
        let k = set();
        let full = k[2].sha256.to_string();
        assert_eq!(resolve(&k, &full, SEEN).unwrap(), [2]);
        assert_eq!(resolve(&k, &full.to_uppercase(), SEEN).unwrap(), [2]);
        assert_eq!(resolve(&k, "corp", SEEN).unwrap(), [0, 1]);
        assert_eq!(resolve(&k, "corp root", SEEN).unwrap(), [0]);
        assert_eq!(resolve(&k, "C=BE, CN=Other Root", SEEN).unwrap(), [2]);
        // As `list` shows it (16 digits), and down to 8, colons allowed.
        assert_eq!(resolve(&k, &full[..16], SEEN).unwrap(), [2]);
        assert_eq!(resolve(&k, "12:00:00:00", SEEN).unwrap(), [2]);
        assert_eq!(resolve(&k, "abcd00000100", SEEN).unwrap(), [0]);
    }

    #[test]
    fn ambiguous_and_unknown_ids_are_errors() {
        let k = set();
        match resolve(&k, "abcd0000", SEEN) {
            Err(Error::Ambiguous { candidates, .. }) => {
                assert_eq!(candidates.len(), 2);
                assert!(candidates[0].contains("CN=Corp Root"), "{candidates:?}");
            }
            other => panic!("{other:?}"),
        }
        for (id, hint) in [
            ("abcd", "8 hex digits"),
            ("nobody", "cabundle list"),
            ("", ""),
        ] {
            match resolve(&k, id, SEEN) {
                Err(Error::NoMatch { hint: h, .. }) => assert!(h.contains(hint), "{id}: {h}"),
                other => panic!("{id}: {other:?}"),
            }
        }
        assert!(resolve(&k, &"ff".repeat(32), SEEN).is_err());
    }

    #[test]
    fn common_names_come_from_the_last_cn() {
        assert_eq!(
            common_name("C=BE, O=G nv-sa, CN=Root E46"),
            Some("Root E46")
        );
        assert_eq!(common_name("O=No CN"), None);
        assert_eq!(common_name("CN=a, CN=b"), Some("b"));
    }
}
