use crate::cli::BlockArgs;
use cabundle::change::{self, Target};
use cabundle::error::Result;
use cabundle::state::Paths;

use super::{render, sync_options};

pub fn block(paths: &Paths, args: &BlockArgs) -> Result<()> {
    let opts = sync_options(paths, &args.sync)?;
    let done = change::block(paths, &args.ids, &opts)?;
    render::changed(paths, &opts, &args.sync, &done, |t| line("blocked", t))
}

pub fn unblock(paths: &Paths, args: &BlockArgs) -> Result<()> {
    let opts = sync_options(paths, &args.sync)?;
    let done = change::unblock(paths, &args.ids, &opts)?;
    render::changed(paths, &opts, &args.sync, &done, |t| line("unblocked", t))
}

fn line(verb: &str, t: &Target) -> String {
    let subject = t.subject.as_deref().unwrap_or("(no source carries it now)");
    format!("{verb} {}  {subject}", t.sha256)
}
