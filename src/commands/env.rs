use crate::cli::EnvArgs;
use cabundle::clients::env::{self, Shell, VARS};
use cabundle::error::{Error, Result};
use cabundle::state::Paths;

use super::{out, say};

pub fn run(args: &EnvArgs) -> Result<()> {
    let paths = Paths::discover()?;
    let cert_dir = paths.cert_dir();
    fn text(path: &std::path::Path) -> Result<&str> {
        match path.to_str() {
            None => Err(Error::UnusablePath {
                path: path.to_path_buf(),
                reason: "this path is not UTF-8, so no shell setting can name it".into(),
            }),
            Some(s) if s.chars().any(char::is_control) => Err(Error::UnusablePath {
                path: path.to_path_buf(),
                reason:
                    "this path holds a control character, which no shell setting can carry safely"
                        .into(),
            }),
            Some(s) => Ok(s),
        }
    }
    let bundle = text(&paths.bundle)?;
    let cert_dir = text(&cert_dir)?;
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
    let settings: Vec<(&str, &str)> = vars
        .iter()
        .map(|v| (*v, env::value(v, bundle, cert_dir)))
        .collect();
    out(&env::render(
        args.shell.unwrap_or_else(Shell::from_env),
        &settings,
    ))
}
