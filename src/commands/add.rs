use crate::cli::AddArgs;
use cabundle::change::{self, AddRequest};
use cabundle::error::Result;
use cabundle::state::Paths;

use super::{render, sync_options};

pub fn run(paths: &Paths, args: &AddArgs) -> Result<()> {
    let opts = sync_options(paths, &args.sync)?;
    let req = AddRequest {
        files: &args.files,
        name: args.name.as_deref(),
        allow_leaf: args.allow_leaf,
    };
    let done = change::add(paths, &req, &opts)?;
    render::changed(paths, &opts, &args.sync, &done, |a| {
        render::stored("added", a)
    })
}
