use std::os::unix::process::CommandExt;

use crate::cli::ExecArgs;
use cabundle::clients::env;
use cabundle::error::{Error, Result};
use cabundle::state::Paths;

use super::render;

/// Replace this process with the command, every TLS variable set to the
/// bundle. Being the same process, the command's exit code and signals
/// reach the caller unchanged.
pub fn run(paths: &Paths, args: &ExecArgs) -> Result<()> {
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let mut prepared = env::prepare(paths, program, rest);
    if let Some(bundle) = &prepared.missing_bundle {
        render::missing_bundle(bundle, "");
    }
    let err = prepared.command.exec();
    Err(Error::Exec {
        program: program.to_string_lossy().into_owned(),
        source: err,
    })
}
