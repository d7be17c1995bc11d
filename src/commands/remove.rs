use std::fs;

use crate::cli::RemoveArgs;
use cabundle::cert::Sha256;
use cabundle::error::{Error, IoContext, Result};
use cabundle::sources::user::{self, Added};
use cabundle::state::{self, Paths};
use cabundle::sync;

use super::{out, sync::summarize, sync_options};

pub fn run(paths: &Paths, args: &RemoveArgs) -> Result<()> {
    let opts = sync_options(&args.sync);
    let _lock = paths.lock()?;
    let added = user::list(&paths.cas, None)?;
    // Resolve every argument first: an unknown one changes nothing.
    let mut doomed: Vec<&Added> = Vec::new();
    for what in &args.what {
        for a in resolve(&added, what)? {
            if !doomed.iter().any(|d| d.path == a.path) {
                doomed.push(a);
            }
        }
    }
    let mut lines = String::new();
    for (i, a) in doomed.iter().enumerate() {
        if let Err(e) = fs::remove_file(&a.path).at(&a.path) {
            restore(&doomed[..i]);
            return Err(e);
        }
        if let Some(dir) = a.path.parent() {
            let _ = fs::remove_dir(dir);
        }
        lines.push_str(&format!(
            "removed {}: {} (sha256 {})\n",
            a.name,
            a.cert.subject,
            a.cert.fingerprint()
        ));
    }
    match sync::sync(paths, &opts) {
        Ok(report) => {
            out(&lines)?;
            summarize(paths, &opts, &report, args.sync.verbose);
            Ok(())
        }
        Err(e) => {
            restore(&doomed);
            Err(e)
        }
    }
}

/// An added CA by fingerprint, by the name it was added under, or by CN.
fn resolve<'a>(added: &'a [Added], what: &str) -> Result<Vec<&'a Added>> {
    if let Ok(sha) = what.parse::<Sha256>() {
        let hits: Vec<_> = added.iter().filter(|a| a.cert.sha256 == sha).collect();
        return if hits.is_empty() {
            Err(Error::UnknownCa(what.to_string()))
        } else {
            Ok(hits)
        };
    }
    let by_name: Vec<_> = added.iter().filter(|a| a.name == what).collect();
    if !by_name.is_empty() {
        return Ok(by_name);
    }
    let by_cn: Vec<_> = added
        .iter()
        .filter(|a| {
            a.cert
                .common_name
                .as_deref()
                .is_some_and(|cn| cn.eq_ignore_ascii_case(what))
        })
        .collect();
    match by_cn.len() {
        0 => Err(Error::UnknownCa(what.to_string())),
        1 => Ok(by_cn),
        _ => Err(Error::AmbiguousCa(
            what.to_string(),
            by_cn
                .iter()
                .map(|a| format!("{} {}", a.name, a.cert.sha256.short()))
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// Put removed CAs back, so a failed sync leaves the store as it was.
fn restore(removed: &[&Added]) {
    for a in removed {
        let _ = state::write_atomic(&a.path, a.cert.to_pem().as_bytes());
    }
}
