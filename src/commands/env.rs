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
    if bundle.chars().any(char::is_control) {
        return Err(Error::Config {
            path: paths.bundle.clone(),
            reason: "the bundle's path holds a control character, which no shell setting can carry safely".into(),
        });
    }
    // In the table's order, each once, whatever order --only gave.
    let vars: Vec<&str> = VARS
        .iter()
        .copied()
        .filter(|v| args.only.is_empty() || args.only.iter().any(|o| o == v))
        .collect();
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
