use crate::cli::RemoveArgs;
use cabundle::change;
use cabundle::error::Result;
use cabundle::state::Paths;

use super::{render, sync_options};

pub fn run(paths: &Paths, args: &RemoveArgs) -> Result<()> {
    let opts = sync_options(paths, &args.sync)?;
    let done = change::remove(paths, &args.what, &opts)?;
    render::changed(paths, &opts, &args.sync, &done, |a| {
        render::stored("removed", a)
    })
}
