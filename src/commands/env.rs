use crate::cli::EnvArgs;
use cabundle::clients::env::{self, Shell};
use cabundle::error::Result;
use cabundle::state::Paths;

use super::{out, render};

pub fn run(args: &EnvArgs) -> Result<()> {
    let settings = env::settings(&Paths::discover()?, &args.only, args.java)?;
    if let Some(bundle) = &settings.missing_bundle {
        render::missing_bundle(bundle, "");
    }
    let vars: Vec<(&str, &str)> = settings
        .vars
        .iter()
        .map(|(var, value)| (*var, value.as_str()))
        .collect();
    out(&env::render(
        args.shell.unwrap_or_else(Shell::from_env),
        &vars,
    ))
}
