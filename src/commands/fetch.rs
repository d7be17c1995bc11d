use std::time::Duration;

use crate::bundle::Status;
use crate::cli::FetchArgs;
use crate::decode;
use crate::error::Result;
use crate::fetch::{self, Options};
use crate::sources::Gathered;
use crate::sources::mozilla::Roots;
use crate::store::Paths;
use crate::sync;

use super::say;

pub fn run(paths: &Paths, args: &FetchArgs) -> Result<()> {
    let _lock = paths.lock()?;
    refresh(paths, &args.from, Duration::from_secs(args.timeout))
}

/// Fetch, verify and cache; the caller holds the lock.
pub fn refresh(paths: &Paths, from: &str, timeout: Duration) -> Result<()> {
    let opts = Options {
        from: from.to_string(),
        timeout,
        trust: trust(paths)?,
        current_count: Roots::current(&paths.cache_dir, &mut Gathered::default())
            .provenance
            .count,
    };
    let roots = fetch::fetch(&opts)?;
    roots.store(&paths.cache_dir)?;
    let p = &roots.provenance;
    say!(
        "fetched {} Mozilla roots from {} ({}, sha256 {}); {} with a distrust-after date",
        p.count,
        p.upstream,
        p.format,
        p.upstream_sha256,
        p.distrust_after.len()
    );
    say!(
        "cached in {}; `cabundle sync` uses them from now on",
        paths.cache_dir.display()
    );
    Ok(())
}

/// What the download trusts: the merged bundle as last written, or, before
/// the first sync, the merge it would write.
fn trust(paths: &Paths) -> Result<Vec<crate::cert::Cert>> {
    if let Ok(decoded) = decode::decode_file(&paths.bundle)
        && !decoded.items.is_empty()
    {
        return Ok(decoded.items.into_iter().map(|i| i.cert).collect());
    }
    let opts = sync::Options {
        root: "/".into(),
        at: crate::date::now(),
        macos_export: None,
        macos_trust_settings: None,
    };
    let (report, _) = sync::build(paths, &opts)?;
    Ok(report
        .entries
        .into_iter()
        .filter(|e| e.status == Status::Kept)
        .map(|e| e.cert)
        .collect())
}
