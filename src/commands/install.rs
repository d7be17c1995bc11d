use crate::cli::InstallArgs;
use cabundle::clients::java::{self, Outcome, Result_, Skip};
use cabundle::clients::nss;
use cabundle::clients::tools::{
    self,
    edit::{self, Done as Edited, Why},
};
use cabundle::error::{Error, Result};
use cabundle::outputs::os_store::{self, Done, System, Update};
use cabundle::state::Paths;

use super::{out, say};

fn system(args: &InstallArgs) -> System<'_> {
    System {
        root: &args.root,
        no_update: args.no_update,
    }
}

/// `--system` first: the distribution's updater may rebuild the Java store
/// that some JVMs link to.
pub fn install(paths: &Paths, args: &InstallArgs) -> Result<()> {
    if args.system {
        os_store::install(paths, &system(args), &mut |done| {
            show(paths, done, "installed")
        })?;
    }
    if args.java {
        let jvms = jvms(args)?;
        let outcomes = java::install(paths, &jvms, args.force)?;
        show_java(&outcomes, "installed")?;
    }
    if let Some(names) = &args.clients {
        let ctx = tools::Context::from_process(paths);
        let outcomes = tools::install(paths, &ctx, names, args.force)?;
        if outcomes.is_empty() {
            say!("no tool with a config cabundle sets was found on PATH");
        }
        show_clients(&outcomes)?;
    }
    if args.nss {
        let installed = nss::install(paths, &nss::Env::from_process()?)?;
        for l in &installed.left_out {
            say!(
                "not adding {} ({}, {}): {}",
                l.name,
                l.sha256.short(),
                cabundle::cert::printable(&l.subject),
                l.why
            );
        }
        show_nss(&installed.outcomes, true)?;
    }
    Ok(())
}

pub fn uninstall(paths: &Paths, args: &InstallArgs) -> Result<()> {
    if args.system {
        os_store::uninstall(paths, &system(args), &mut |done| {
            if !done.recorded {
                say!("nothing was installed under {}", done.root.display());
            }
            show(paths, done, "removed")
        })?;
    }
    if args.java {
        // Every JVM recorded, unless some are named.
        let named = if args.java_home.is_empty() {
            Vec::new()
        } else {
            jvms(args)?
        };
        let outcomes = java::uninstall(paths, &named)?;
        if outcomes.is_empty() {
            say!("no JVM's cacerts was changed by cabundle; nothing to restore");
        }
        show_java(&outcomes, "restored")?;
    }
    if let Some(names) = &args.clients {
        let ctx = tools::Context::from_process(paths);
        let outcomes = tools::uninstall(paths, &ctx, names)?;
        if outcomes.is_empty() {
            say!("no tool's config was changed by cabundle; nothing to undo");
        }
        show_clients(&outcomes)?;
    }
    if args.nss {
        let outcomes = nss::uninstall(paths)?;
        if outcomes.is_empty() {
            say!("no NSS database was changed by cabundle; nothing to take out");
        }
        show_nss(&outcomes, false)?;
    }
    Ok(())
}

/// Each config file changed, on stdout; what was left alone, on stderr.
/// One that could not be changed makes the exit status 1, once all are done.
fn show_clients(outcomes: &[edit::Outcome]) -> Result<()> {
    let mut lines = String::new();
    let mut failed = 0;
    for o in outcomes {
        let path = o.path.display();
        match &o.done {
            // A file cabundle owns whole: its text is the value.
            Edited::Set { value } if value.contains('\n') => {
                lines += &format!("{}: wrote {path}\n", o.tool);
            }
            Edited::Set { value } => {
                lines += &format!("{}: set {path} to {value}\n", o.tool);
            }
            Edited::Restored => lines += &format!("{}: restored {path}\n", o.tool),
            Edited::KeyRemoved => {
                lines += &format!(
                    "{}: took cabundle's setting out of {path} (the rest changed since, and is kept)\n",
                    o.tool
                );
            }
            Edited::Unchanged => say!("{}: {path} already points at the bundle", o.tool),
            Edited::Skipped { why } => {
                let (failure, words) = match why {
                    Why::SetElsewhere { value } if value.contains('\n') => (
                        true,
                        "holds other settings; left alone (--force replaces it)".into(),
                    ),
                    Why::SetElsewhere { value } => (
                        true,
                        format!("already set to {value}; left alone (--force replaces it)"),
                    ),
                    Why::Link { target } => (
                        true,
                        format!(
                            "is a link (to {}); not written through, left alone",
                            target.display()
                        ),
                    ),
                    Why::Malformed { reason } => (
                        true,
                        format!("cannot be edited safely ({reason}); left as it is"),
                    ),
                    Why::NotWritable { reason } => {
                        (true, format!("cannot be written ({reason}); left as it is"))
                    }
                    Why::NotInstalled => (false, "cabundle never set it".into()),
                    Why::ChangedSince => (
                        false,
                        "its setting was changed since cabundle set it; left as the user has it"
                            .into(),
                    ),
                };
                failed += usize::from(failure);
                say!(
                    "{}{}: {path} {words}",
                    if failure { "warning: " } else { "" },
                    o.tool
                );
            }
        }
    }
    let _ = out(&lines);
    match failed {
        0 => Ok(()),
        n => Err(Error::ClientsLeft(n)),
    }
}

/// One line on stdout per database changed (what was added to it, what
/// taken out); on stderr, what was there already, what was left alone and
/// why. A database that could not be changed makes the exit status 1 once
/// every other is done.
fn show_nss(outcomes: &[nss::Outcome], installing: bool) -> Result<()> {
    use nss::Change;
    let mut lines = String::new();
    let mut failed = 0;
    let quoted = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{:?}", cabundle::cert::printable(n)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for o in outcomes {
        let db = format!(
            "{} ({})",
            cabundle::cert::shown(&o.database.path),
            o.database.kind.describe()
        );
        if installing && o.created {
            say!("{db}: there was no NSS database; made one, as Chromium would");
        }
        let mut added = Vec::new();
        let mut removed = Vec::new();
        for change in &o.changes {
            match change {
                Change::Added { nickname, .. } => added.push(nickname.as_str()),
                Change::Removed { nickname, .. } => removed.push(nickname.as_str()),
                Change::Present { nickname, .. } => {
                    say!("{db}: already holds {}", quoted(&[nickname]))
                }
                Change::UsersOwn { nickname, sha256 } => say!(
                    "{db}: already holds {} as {} (yours: not added twice, never removed)",
                    sha256.short(),
                    quoted(&[nickname])
                ),
                Change::NicknameTaken { nickname, sha256 } => {
                    failed += 1;
                    say!(
                        "warning: {db}: {} is another certificate's nickname there; {} not added",
                        quoted(&[nickname]),
                        sha256.short()
                    )
                }
                Change::Gone { nickname, .. } => {
                    say!("{db}: {} is no longer there", quoted(&[nickname]))
                }
                Change::Replaced { nickname, .. } => say!(
                    "{db}: {} now names a certificate cabundle did not add; left alone",
                    quoted(&[nickname])
                ),
                Change::AlsoLost { sha256, nicknames } => {
                    failed += 1;
                    say!(
                        "warning: {db}: NSS also dropped {} ({}), which shares a subject with \
                         what cabundle took out: add it back with the browser's certificate manager",
                        sha256.short(),
                        quoted(&nicknames.iter().map(String::as_str).collect::<Vec<_>>())
                    )
                }
            }
        }
        if !added.is_empty() {
            lines += &format!("added to {db}: {}\n", quoted(&added));
        }
        if !removed.is_empty() {
            lines += &format!("removed from {db}: {}\n", quoted(&removed));
        }
        if let Some(skip) = &o.skipped {
            failed += usize::from(skip.is_failure());
            let warning = if skip.is_failure() { "warning: " } else { "" };
            say!("{warning}{db}: {}", nss_skip_words(skip, &o.database.path));
        }
    }
    let _ = out(&lines);
    if failed > 0 {
        return Err(Error::NssLeft(failed));
    }
    Ok(())
}

/// What to say of a database left alone, at `db`.
fn nss_skip_words(skip: &nss::Skip, db: &std::path::Path) -> String {
    use nss::Skip;
    match skip {
        Skip::Link { path, target } => format!(
            "{} a symbolic link (to {}); cabundle does not change a database through a link; \
             left alone",
            if path == db {
                "is".to_string()
            } else {
                format!("{} is", cabundle::cert::shown(path))
            },
            cabundle::cert::shown(target)
        ),
        Skip::NotAFolder => "not a folder; left alone".into(),
        Skip::NotAFile { file } => format!(
            "{} is not a regular file; left alone",
            cabundle::cert::shown(file)
        ),
        Skip::OtherUser { uid } => format!(
            "belongs to uid {uid}, not to the user running cabundle; left alone (run \
             `cabundle install --nss` as that user, without sudo)"
        ),
        Skip::DbmOnly => "only a legacy cert8.db (DBM), which cabundle does not write \
                          (Firefox converts it to cert9.db at its next start); skipped"
            .into(),
        Skip::Unreadable { reason } => {
            format!("certutil cannot read it ({reason}); left as it is")
        }
        Skip::NotWritable { reason } => {
            format!("certutil cannot change it ({reason}); left as it is")
        }
        Skip::Password => "it has a primary password, without which NSS will not set trust; \
                           left as it is (add the CA in the browser's certificate manager)"
            .into(),
        Skip::Missing => "no longer there; nothing to take out".into(),
    }
}

fn jvms(args: &InstallArgs) -> Result<Vec<java::Jvm>> {
    let jvms = java::discover(&java::Env::from_process(), &args.java_home);
    if jvms.is_empty() {
        return Err(Error::NoJvm);
    }
    Ok(jvms)
}

/// Each JVM's trust store changed, on stdout; what was left alone and why,
/// on stderr. A JVM that could not be changed makes the exit status 1
/// once every other is done.
fn show_java(outcomes: &[Outcome], verb: &str) -> Result<()> {
    let mut lines = String::new();
    let mut failed = 0;
    for o in outcomes {
        let cacerts = o
            .cacerts
            .as_deref()
            .unwrap_or(o.jvm.home.as_path())
            .display();
        match &o.result {
            Result_::Written {
                format,
                password,
                certificates,
            } => {
                let password = match password {
                    Some(p) => format!("password {p:?}"),
                    None => "no password".into(),
                };
                lines += &format!(
                    "{verb} {cacerts} ({}, {password}, {})\n",
                    format.name(),
                    cabundle::cert::count(*certificates, "certificate")
                );
            }
            Result_::Restored => lines += &format!("{verb} {cacerts}\n"),
            Result_::Unchanged => say!("{cacerts}: already holds the bundle"),
            Result_::Skipped { reason } => {
                let (failure, why) = skip_words(reason);
                failed += usize::from(failure);
                say!("{}{cacerts}: {why}", if failure { "warning: " } else { "" });
            }
        }
    }
    let _ = out(&lines);
    if failed > 0 {
        return Err(Error::JvmsLeft(failed));
    }
    Ok(())
}

/// Whether a skip is a failure, and what to say of it.
pub(super) fn skip_words(skip: &Skip) -> (bool, String) {
    match skip {
        Skip::NoTrustStore => (
            false,
            "no lib/security/cacerts (nor jre/lib/security/cacerts): not a JVM with a trust store; skipped".into(),
        ),
        Skip::Distribution { target, by } => (
            false,
            format!(
                "links to {}, the distribution's store, which {by} rebuilds; left alone. \
                 `sudo cabundle install --system` puts your CAs where it picks them up \
                 (--force replaces the link with a file instead)",
                target.display()
            ),
        ),
        Skip::LinkOut { target: Some(t) } => (
            true,
            format!(
                "links out of the JVM, to {}, which is no store cabundle knows; left alone",
                t.display()
            ),
        ),
        Skip::LinkOut { target: None } => {
            (true, "a link that leads to no file; left alone".into())
        }
        Skip::Unreadable { reason } => (
            true,
            format!("{reason}; left as it is"),
        ),
        Skip::OtherPassword => (
            true,
            "its password is neither changeit nor empty, so its format's integrity check \
             cannot be written; left as it is"
                .into(),
        ),
        Skip::PrivateKeys { count } => (
            true,
            format!(
                "holds {}, which a trust store rewrite would lose; left as it is",
                cabundle::cert::count(*count, "private key")
            ),
        ),
        Skip::NotWritable { reason } => (
            true,
            format!("cannot be written ({reason}); left as it is (run with sudo?)"),
        ),
        Skip::ChangedSince => (
            false,
            "changed since cabundle wrote it (a JDK update?); left as it is".into(),
        ),
        Skip::NotInstalled => (false, "cabundle never changed it; nothing to restore".into()),
    }
}

/// The files, on stdout; what was left alone and what becomes of the
/// updater, on stderr. Shown before the updater runs, so that its own
/// output comes after.
fn show(paths: &Paths, done: &Done, verb: &str) {
    let lines: String = done
        .files
        .iter()
        .map(|f| format!("{verb} {}\n", f.display()))
        .collect();
    // A closed stdout is no reason not to run the updater.
    let _ = out(&lines);
    for real in &done.left.changed {
        say!(
            "warning: left {} in place: it changed since cabundle wrote it",
            real.display()
        );
    }
    for (path, why) in &done.left.refused {
        say!(
            // Quoted and escaped: the record may have been edited by hand.
            "warning: refused to remove {path:?} (named in {}): {why}; left alone",
            paths.installed().display()
        );
    }
    match &done.update {
        Update::Runs(updater) => say!("running `{updater}`"),
        Update::Skipped(updater) => {
            say!("skipped `{updater}` (--no-update): run it for the OS to pick up the change")
        }
        Update::Elsewhere(updater) => say!(
            "not running `{updater}` for {}: run it inside that system",
            done.root.display()
        ),
        Update::Unneeded => {}
    }
}
