use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // clap exits with 2 on a usage error.
    let cli = cabundle::cli::Cli::parse();
    match cabundle::commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cabundle: error: {e}");
            ExitCode::FAILURE
        }
    }
}
