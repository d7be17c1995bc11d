//! What several commands show the same way: the summary every sync ends
//! with, the notes of a change, and what a fetch brought.

use crate::cli::SyncArgs;
use cabundle::cert::count;
use cabundle::change::{Changed, Note};
use cabundle::clients::java::{Result_ as JvmResult, Skip};
use cabundle::date::{self, Timestamp};
use cabundle::error::Result;
use cabundle::merge::{Entry, Status};
use cabundle::refresh::Refreshed;
use cabundle::sources::fetch::Note as FetchNote;
use cabundle::sources::os::Family;
use cabundle::sources::user::Added;
use cabundle::state::Paths;
use cabundle::sync::{KeptCurrent, Options, Report};

use super::{out, say};

/// Up to this many certificates of one kind get a line each; past that,
/// one line says how many, names a few, and where the whole list is (a
/// sync `--at 1990-01-01` finds most roots not valid yet).
const EACH_MAX: usize = 10;
const EXAMPLES: usize = 3;

/// The stderr summary every command that syncs ends with. `at_given`:
/// the date was the user's (`--at`), and is echoed as such.
pub fn summary(paths: &Paths, opts: &Options, at_given: bool, r: &Report, verbose: bool) {
    let root = opts.root.display();
    let certificates = count(r.os.certificates, "certificate");
    match (&r.os.family, &r.os.name) {
        (Some(family @ Family::Macos), name) => say!(
            "OS store: {} ({family}), {certificates}",
            name.as_deref().unwrap_or("macOS"),
        ),
        (Some(family), name) => say!(
            "OS store under {root}: {} ({family} layout), {certificates}",
            name.as_deref().unwrap_or("unknown release"),
        ),
        (None, _) => say!(
            "warning: no OS trust store found under {root}; the bundle holds Mozilla's roots and your added CAs"
        ),
    }
    if verbose {
        for f in &r.files {
            say!(
                "  read {} ({})",
                f.path.display(),
                count(f.certificates, "certificate")
            );
        }
    }
    for w in &r.windows {
        use cabundle::sources::windows::Role;
        // An empty CA or Disallowed store is worth a line only with -v.
        if w.certificates == 0 && w.role != Role::Anchors && !verbose {
            continue;
        }
        let n = count(w.certificates, "certificate");
        match w.role {
            Role::Anchors => say!("Windows: {}: {n}", w.label),
            Role::Intermediates => say!(
                "Windows: {}: {n}, intermediates: not anchors, so left out",
                w.label
            ),
            Role::Distrust => say!(
                "Windows: {}: {n} distrusted, left out whichever source carries them",
                w.label
            ),
        }
    }
    say!(
        "Mozilla roots: {} ({}, {}); added CAs: {}",
        r.mozilla,
        r.mozilla_provenance.upstream,
        r.mozilla_provenance.date,
        r.added
    );
    for p in &r.problems {
        say!("warning: {p}");
    }
    let expired: Vec<&Entry> = r.with_status(Status::Expired).collect();
    let distrusted: Vec<&Entry> = r.with_status(Status::Distrusted).collect();
    let blocked: Vec<&Entry> = r.with_status(Status::Blocked).collect();
    let kept: Vec<&Entry> = r.with_status(Status::Kept).collect();
    let day = date::day(opts.at);
    say!(
        "{} as of {day}{}: {} kept, {} expired and pruned, {} distrusted, {} blocked",
        count(r.entries.len(), "unique certificate"),
        if at_given { " (--at)" } else { "" },
        kept.len(),
        expired.len(),
        distrusted.len(),
        blocked.len()
    );
    let expired_on = |e: &&Entry| {
        format!(
            "{} (expired {})",
            e.cert.name(),
            date::day(e.cert.not_after)
        )
    };
    each_or_some(
        &expired,
        |e| format!("pruned: {}", expired_on(e)),
        expired_on,
        &format!("pruned {} expired certificates", expired.len()),
        "`cabundle list --all` lists each",
    );
    each_or_some(
        &blocked,
        |e| format!("blocked: {}", e.cert.name()),
        |e| e.cert.name().to_string(),
        &format!("blocked {} certificates", blocked.len()),
        "`cabundle list` lists each",
    );
    each_or_some(
        &distrusted,
        |e| format!("left out: {} ({})", e.cert.name(), e.reason),
        |e| e.cert.name().to_string(),
        &format!("left out {} distrusted certificates", distrusted.len()),
        "`cabundle list --all` lists each with its reason",
    );
    let retiring: Vec<(&Entry, Timestamp)> = kept
        .iter()
        .filter_map(|e| Some((*e, e.distrust_after?)))
        .collect();
    let kept_until = |after: Timestamp| date::day(cabundle::lifetime::last_valid(after));
    each_or_some(
        &retiring,
        |(e, after)| {
            format!(
                "note: {}: Mozilla distrusts TLS certificates it issues after {}; kept until {}, \
                 when the last one issued by then expires",
                e.cert.name(),
                date::day(*after),
                kept_until(*after)
            )
        },
        |(e, after)| format!("{} (kept until {})", e.cert.name(), kept_until(*after)),
        &format!(
            "note: {} roots that Mozilla distrusts for TLS certificates issued after a date are \
             kept until the last one issued by then expires",
            retiring.len()
        ),
        "`cabundle list` shows each date",
    );
    let early: Vec<&&Entry> = kept
        .iter()
        .filter(|e| e.cert.not_before > opts.at)
        .collect();
    each_or_some(
        &early,
        |e| {
            format!(
                "warning: {} is not valid until {}; kept",
                e.cert.name(),
                date::day(e.cert.not_before)
            )
        },
        |e| format!("{} (from {})", e.cert.name(), date::day(e.cert.not_before)),
        &format!(
            "warning: {} kept certificates are not valid yet on {day}",
            early.len()
        ),
        "`cabundle list` marks each",
    );
    say!(
        "wrote {} to {}",
        count(kept.len(), "certificate"),
        paths.bundle.display()
    );
    kept_current(&r.kept_current);
}

/// What became of the exports and the JVMs a sync keeps in step.
fn kept_current(k: &KeptCurrent) {
    for e in k.exports.iter().filter(|e| e.changed) {
        say!("exported {} to {}", e.format.name(), e.path.display());
    }
    for j in &k.jvms {
        let cacerts = j.cacerts.as_deref().unwrap_or(&j.jvm.home).display();
        match &j.result {
            JvmResult::Written { .. } => say!("updated the JVM trust store {cacerts}"),
            JvmResult::Skipped {
                reason: Skip::ChangedSince,
            } => say!(
                "note: {cacerts} changed since cabundle wrote it (a JDK update?); left as it is: \
                 `cabundle install --java` writes it again"
            ),
            JvmResult::Skipped { reason } => {
                say!(
                    "warning: {cacerts}: {}",
                    super::install::skip_words(reason).1
                )
            }
            _ => {}
        }
    }
    for (path, why) in &k.failed {
        say!(
            "warning: {}: {why}; the bundle is written, this output is not",
            path.display()
        );
    }
}

/// A line per item (`each`), or past [`EACH_MAX`] one line: `many`, the
/// first few items (`short`), how many more, and where they all are.
fn each_or_some<T>(
    items: &[T],
    each: impl Fn(&T) -> String,
    short: impl Fn(&T) -> String,
    many: &str,
    where_all: &str,
) {
    if items.len() <= EACH_MAX {
        for item in items {
            say!("{}", each(item));
        }
        return;
    }
    let some: Vec<String> = items.iter().take(EXAMPLES).map(short).collect();
    say!(
        "{many}, among them {}, and {} more; {where_all}",
        some.join("; "),
        items.len() - some.len()
    );
}

/// What a change did, one line each on stdout; then its notes and the
/// sync's summary on stderr.
pub fn changed<T>(
    paths: &Paths,
    opts: &Options,
    args: &SyncArgs,
    done: &Changed<T>,
    line: impl Fn(&T) -> String,
) -> Result<()> {
    let lines: String = done.done.iter().map(|t| line(t) + "\n").collect();
    out(&lines)?;
    done.notes.iter().for_each(note);
    summary(paths, opts, args.at.is_some(), &done.report, args.verbose);
    Ok(())
}

/// An added CA that `add` stored or `remove` took out.
pub fn stored(verb: &str, a: &Added) -> String {
    format!(
        "{verb} {}: {} (sha256 {})",
        a.name,
        a.cert.subject,
        a.cert.fingerprint()
    )
}

/// The bundle the settings name is not there yet: clients would ignore it
/// (Python without a word) or fail. `until` says what waits for it.
pub fn missing_bundle(bundle: &std::path::Path, until: &str) {
    say!(
        "warning: {} does not exist yet; run `cabundle sync`{until}",
        bundle.display()
    );
}

/// What the user should know about a change that went ahead.
pub fn note(n: &Note) {
    match n {
        Note::AlreadyAdded(cert) => say!(
            "already added: {} (sha256 {})",
            cert.subject,
            cert.fingerprint()
        ),
        Note::NotYetValid { file, cert } => say!(
            "warning: {}: {} is not valid until {}",
            file.display(),
            cert.name(),
            date::instant(cert.not_before)
        ),
        Note::AlreadyBlocked(sha) => say!("{sha} was already blocked"),
        Note::Unseen(sha) => say!(
            "note: no certificate the last sync saw has the SHA-256 {sha}; it is blocked all \
             the same, and stays out if a source ever brings it"
        ),
        Note::NotBlocked(sha) => say!("{sha} was not blocked; nothing to unblock"),
    }
}

/// What a fetch brought, on stderr (also after `sync --refresh`).
pub fn fetched(fetched: &Refreshed) {
    let p = &fetched.provenance;
    say!(
        "fetched {} Mozilla roots from {} ({}, {}, sha256 {}); {} with a distrust-after date, {} explicitly distrusted",
        p.count,
        p.upstream,
        p.format,
        p.version,
        p.upstream_sha256,
        p.distrust_after.len(),
        p.distrusted.len()
    );
    for fp in &p.allowed_removed {
        say!("warning: let back in by name, although Mozilla removed it: {fp}");
    }
    for note in &fetched.notes {
        match note {
            FetchNote::Older {
                date,
                current_version,
                current_date,
            } => say!(
                "warning: this set is dated {date}, older than the one it replaces ({current_version}, \
                 dated {current_date}); `cabundle fetch --embedded` returns to the snapshot built in"
            ),
        }
    }
    say!(
        "cached in {}; `cabundle sync` uses them from now on (`cabundle fetch --embedded` returns to the snapshot built in)",
        fetched.cache_dir.display()
    );
}

/// The download's progress on one line, on a terminal only.
pub fn progress(got: u64, expected: Option<u64>) {
    use std::io::{IsTerminal, Write};
    let mut err = std::io::stderr();
    if !err.is_terminal() {
        return;
    }
    let _ = match (got, expected) {
        (0, None) => writeln!(err),
        (got, expected) => {
            let total = expected
                .map(|t| format!(" of {} KiB", t / 1024))
                .unwrap_or_default();
            write!(err, "\rcabundle: downloaded {} KiB{total}", got / 1024)
        }
    };
}
