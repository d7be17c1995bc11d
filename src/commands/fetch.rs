use std::time::Duration;

use crate::cli::FetchArgs;
use cabundle::decode;
use cabundle::error::Result;
use cabundle::merge::Status;
use cabundle::sources::Gathered;
use cabundle::sources::fetch::{self, Options};
use cabundle::sources::mozilla::Roots;
use cabundle::state::Paths;
use cabundle::sync;

use super::say;

pub fn run(paths: &Paths, args: &FetchArgs) -> Result<()> {
    let _lock = paths.lock()?;
    if args.embedded {
        return match Roots::forget_cache(&paths.cache_dir)? {
            true => {
                say!(
                    "removed the fetched set from {}; `cabundle sync` uses the snapshot built in ({}) again",
                    paths.cache_dir.display(),
                    Roots::embedded().provenance.version
                );
                Ok(())
            }
            false => {
                say!("no fetched set: `cabundle sync` already uses the snapshot built in");
                Ok(())
            }
        };
    }
    refresh(
        paths,
        &args.from,
        Duration::from_secs(args.timeout),
        &args.allow_removed,
    )
}

/// Fetch, verify and cache; the caller holds the lock.
pub fn refresh(
    paths: &Paths,
    from: &str,
    timeout: Duration,
    allow_removed: &[cabundle::cert::Sha256],
) -> Result<()> {
    let opts = Options {
        from: from.to_string(),
        timeout,
        trust: trust(paths)?,
        current: Roots::current(&paths.cache_dir, &mut Gathered::default()).provenance,
        allow_removed: allow_removed.to_vec(),
        progress: &show_progress,
    };
    let fetched = fetch::fetch(&opts)?;
    fetched.roots.store(&paths.cache_dir)?;
    let p = &fetched.roots.provenance;
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
        say!("note: {note}");
    }
    say!(
        "cached in {}; `cabundle sync` uses them from now on (`cabundle fetch --embedded` returns to the snapshot built in)",
        paths.cache_dir.display()
    );
    Ok(())
}

/// The download's progress on one line, on a terminal only.
fn show_progress(got: u64, expected: Option<u64>) {
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

/// What the download trusts: the merged bundle as last written, or, before
/// the first sync, the merge it would write.
fn trust(paths: &Paths) -> Result<Vec<cabundle::cert::Cert>> {
    // CA certificates only: a server certificate pinned with
    // `add --allow-leaf` must not vouch for a download server.
    if let Ok(decoded) = decode::decode_file(&paths.bundle)
        && !decoded.items.is_empty()
    {
        return Ok(decoded
            .items
            .into_iter()
            .map(|i| i.cert)
            .filter(|c| c.is_ca())
            .collect());
    }
    let opts = sync::Options {
        root: "/".into(),
        at: cabundle::date::now(),
        macos_export: None,
        macos_trust_settings: None,
    };
    let (report, _) = sync::build(paths, &opts)?;
    Ok(report
        .entries
        .into_iter()
        .filter(|e| e.status == Status::Kept && e.cert.is_ca())
        .map(|e| e.cert)
        .collect())
}
