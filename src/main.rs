use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;

fn main() -> ExitCode {
    // Past a file-size limit (`ulimit -f`), let the write fail with EFBIG so
    // the error is reported and the temp file cleaned up, instead of dying.
    // SAFETY: setting a signal to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    // clap exits with 2 on a usage error.
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Paths in errors may hold control characters: escaped, but for
            // the line breaks some errors use to list several files.
            let text: String = e
                .to_string()
                .split('\n')
                .map(cabundle::cert::printable)
                .collect::<Vec<_>>()
                .join("\n");
            let _ = writeln!(std::io::stderr(), "cabundle: error: {text}");
            match e {
                // As a shell would say it: not found, or not runnable.
                cabundle::Error::Exec { source, .. }
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    ExitCode::from(127)
                }
                cabundle::Error::Exec { .. } => ExitCode::from(126),
                _ => ExitCode::FAILURE,
            }
        }
    }
}
