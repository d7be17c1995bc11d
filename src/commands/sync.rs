use crate::cli::SyncArgs;
use cabundle::date;
use cabundle::error::Result;
use cabundle::merge::Status;
use cabundle::sources::os::Family;
use cabundle::state::Paths;
use cabundle::sync::{self, Options, Report};

use super::{say, sync_options};

pub fn run(paths: &Paths, args: &SyncArgs) -> Result<()> {
    let opts = sync_options(args);
    let _lock = paths.lock()?;
    if args.refresh {
        super::fetch::refresh(
            paths,
            cabundle::sources::fetch::DEFAULT_URL,
            std::time::Duration::from_secs(30),
            &[],
        )?;
    }
    let report = sync::sync(paths, &opts)?;
    summarize(paths, &opts, &report, args.verbose);
    Ok(())
}

/// The stderr summary every command that syncs ends with.
pub fn summarize(paths: &Paths, opts: &Options, r: &Report, verbose: bool) {
    let root = opts.root.display();
    match (&r.os.family, &r.os.name) {
        (Some(family @ Family::Macos), name) => say!(
            "OS store: {} ({family}), {} certificates",
            name.as_deref().unwrap_or("macOS"),
            r.os.certificates
        ),
        (Some(family), name) => say!(
            "OS store under {root}: {} ({family} layout), {} certificates",
            name.as_deref().unwrap_or("unknown release"),
            r.os.certificates
        ),
        (None, _) => say!(
            "warning: no OS trust store found under {root}; the bundle holds Mozilla's roots and your added CAs"
        ),
    }
    if verbose {
        for f in &r.files {
            say!(
                "  read {} ({} certificates)",
                f.path.display(),
                f.certificates
            );
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
    let expired: Vec<_> = r.with_status(Status::Expired).collect();
    let distrusted: Vec<_> = r.with_status(Status::Distrusted).collect();
    let blocked: Vec<_> = r.with_status(Status::Blocked).collect();
    let kept: Vec<_> = r.with_status(Status::Kept).collect();
    say!(
        "{} unique certificates as of {}: {} kept, {} expired and pruned, {} distrusted, {} blocked",
        r.entries.len(),
        date::day(opts.at),
        kept.len(),
        expired.len(),
        distrusted.len(),
        blocked.len()
    );
    for e in expired {
        say!(
            "pruned: {} (expired {})",
            e.cert.name(),
            date::day(e.cert.not_after)
        );
    }
    for e in blocked {
        say!("blocked: {}", e.cert.name());
    }
    for e in distrusted {
        say!("left out: {} ({})", e.cert.name(), e.reason);
    }
    for e in &kept {
        if let Some(after) = e.distrust_after {
            say!(
                "note: {}: Mozilla distrusts TLS certificates it issues after {}; kept until {}, \
                 when the last one issued by then expires",
                e.cert.name(),
                date::day(after),
                date::day(cabundle::lifetime::last_valid(after))
            );
        }
    }
    for e in kept.iter().filter(|e| e.cert.not_before > opts.at) {
        say!(
            "warning: {} is not valid until {}; kept",
            e.cert.name(),
            date::day(e.cert.not_before)
        );
    }
    say!(
        "wrote {} certificates to {}",
        kept.len(),
        paths.bundle.display()
    );
}
