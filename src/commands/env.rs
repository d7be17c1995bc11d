use crate::cli::EnvArgs;
use crate::env::{self, Shell, VARS};
use crate::error::{Error, Result};
use crate::store::Paths;

use super::{out, say};

pub fn run(args: &EnvArgs) -> Result<()> {
    let paths = Paths::discover()?;
    let bundle = paths.bundle.to_str().ok_or_else(|| Error::Config {
        path: paths.bundle.clone(),
        reason: "the bundle's path is not UTF-8, so no shell setting can name it".into(),
    })?;
    let vars: Vec<&str> = if args.only.is_empty() {
        VARS.to_vec()
    } else {
        args.only.iter().map(String::as_str).collect()
    };
    if !paths.bundle.exists() {
        // Python ignores a missing SSL_CERT_FILE without a word: say it here.
        say!("warning: {bundle} does not exist yet; run `cabundle sync`");
    }
    out(&env::render(
        args.shell.unwrap_or_else(Shell::from_env),
        &vars,
        bundle,
    ))
}
