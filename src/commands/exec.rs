use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::cli::ExecArgs;
use cabundle::clients::env::VARS;
use cabundle::error::{Error, Result};
use cabundle::state::Paths;

use super::say;

/// Replace this process with the command, every TLS variable set to the
/// bundle. Being the same process, the command's exit code and signals
/// reach the caller unchanged.
pub fn run(paths: &Paths, args: &ExecArgs) -> Result<()> {
    if !paths.bundle.exists() {
        say!(
            "warning: {} does not exist yet; run `cabundle sync`",
            paths.bundle.display()
        );
    }
    let (program, rest) = args.command.split_first().expect("clap requires a command");
    let cert_dir = paths.cert_dir();
    let err = Command::new(program)
        .args(rest)
        .envs(VARS.iter().map(|v| {
            (
                v,
                cabundle::clients::env::value(v, paths.bundle.as_path(), cert_dir.as_path()),
            )
        }))
        .exec();
    Err(Error::Exec {
        program: program.to_string_lossy().into_owned(),
        source: err,
    })
}
