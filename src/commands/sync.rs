use std::time::Duration;

use crate::cli::SyncArgs;
use cabundle::error::{Error, Result};
use cabundle::refresh::Request;
use cabundle::sources::fetch::DEFAULT_URL;
use cabundle::state::Paths;
use cabundle::sync;

use super::{render, sync_options};

pub fn run(paths: &Paths, args: &SyncArgs) -> Result<()> {
    let opts = sync_options(paths, args)?;
    let refresh = args.refresh.then(|| Request {
        from: DEFAULT_URL.to_string(),
        timeout: Duration::from_secs(30),
        allow_removed: Vec::new(),
        progress: &render::progress,
    });
    let done = sync::run(paths, &opts, refresh.as_ref())?;
    if let Some(fetched) = &done.refreshed {
        render::fetched(fetched);
    }
    render::summary(paths, &opts, args.at.is_some(), &done.report, args.verbose);
    // Said above, one by one; the exit status tells a script.
    match done.report.kept_current.failed.len() {
        0 => Ok(()),
        n => Err(Error::OutputsLeft(n)),
    }
}
