use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cli::AddArgs;
use cabundle::cert::Cert;
use cabundle::date;
use cabundle::decode;
use cabundle::error::{Error, Result};
use cabundle::sources::user;
use cabundle::state::{self, Paths};
use cabundle::sync;

use super::{out, say, sync::summarize, sync_options};

pub fn run(paths: &Paths, args: &AddArgs) -> Result<()> {
    let opts = sync_options(&args.sync);
    if let Some(name) = &args.name {
        user::check_name(name)?;
    }
    // Every file is checked before anything is written: one bad file
    // refuses the whole command.
    let mut staged: Vec<(String, Cert)> = Vec::new();
    for file in &args.files {
        let name = args
            .name
            .clone()
            .unwrap_or_else(|| user::name_from_file(file));
        for cert in validate(file, args.allow_leaf, opts.at)? {
            staged.push((name.clone(), cert));
        }
    }

    let _lock = paths.lock()?;
    for (name, _) in &staged {
        user::check_slot(&paths.cas, name)?;
    }
    let mut known: HashSet<cabundle::cert::Sha256> = user::list(&paths.cas, None)?
        .into_iter()
        .map(|a| a.cert.sha256)
        .collect();
    let mut written: Vec<PathBuf> = Vec::new();
    let mut lines = String::new();
    for (name, cert) in &staged {
        if !known.insert(cert.sha256) {
            say!(
                "already added: {} (sha256 {})",
                cert.subject,
                cert.fingerprint()
            );
            continue;
        }
        let path = user::path_for(&paths.cas, name, cert);
        if let Err(e) = state::write_atomic(&path, cert.to_pem().as_bytes()) {
            undo(&written);
            return Err(e);
        }
        written.push(path);
        lines.push_str(&format!(
            "added {name}: {} (sha256 {})\n",
            cert.subject,
            cert.fingerprint()
        ));
    }
    match sync::sync(paths, &opts) {
        Ok(report) => {
            out(&lines)?;
            summarize(paths, &opts, &report, args.sync.verbose);
            Ok(())
        }
        Err(e) => {
            // Without a bundle that holds them, the new CAs would be stored
            // but not trusted: take them out again so nothing has changed.
            undo(&written);
            Err(e)
        }
    }
}

/// The certificates of `file`, if every one of them may be added.
fn validate(file: &Path, allow_leaf: bool, at: date::Timestamp) -> Result<Vec<Cert>> {
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
            say!(
                "warning: {}: {who} is not valid until {}",
                file.display(),
                date::instant(cert.not_before)
            );
        }
        if !certs.iter().any(|c| c.sha256 == cert.sha256) {
            certs.push(cert);
        }
    }
    Ok(certs)
}

fn undo(written: &[PathBuf]) {
    for path in written {
        let _ = fs::remove_file(path);
        if let Some(dir) = path.parent() {
            // Only succeeds when empty: a name that held other CAs stays.
            let _ = fs::remove_dir(dir);
        }
    }
}
