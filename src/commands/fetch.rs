use std::time::Duration;

use crate::cli::FetchArgs;
use cabundle::error::Result;
use cabundle::refresh::{self, Request};
use cabundle::state::Paths;

use super::{render, say};

pub fn run(paths: &Paths, args: &FetchArgs) -> Result<()> {
    if args.embedded {
        let done = refresh::forget(paths)?;
        match done.removed {
            true => say!(
                "removed the fetched set from {}; `cabundle sync` uses the snapshot built in ({}) again",
                done.cache_dir.display(),
                done.embedded.version
            ),
            false => say!("no fetched set: `cabundle sync` already uses the snapshot built in"),
        }
        return Ok(());
    }
    let fetched = refresh::fetch(
        paths,
        &Request {
            from: args.from.clone(),
            timeout: Duration::from_secs(args.timeout),
            allow_removed: args.allow_removed.clone(),
            progress: &render::progress,
        },
    )?;
    render::fetched(&fetched);
    Ok(())
}
