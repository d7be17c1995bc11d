use crate::cli::BlockArgs;
use cabundle::error::{Error, Result};
use cabundle::state::Paths;
use cabundle::state::config::Config;
use cabundle::sync;

use super::{say, sync::summarize, sync_options};

/// `block` (when `block` is true) or `unblock`, then re-sync.
pub fn run(paths: &Paths, args: &BlockArgs, block: bool) -> Result<()> {
    let opts = sync_options(&args.sync);
    let _lock = paths.lock()?;
    let path = paths.config();
    let before = Config::load(&path)?;
    let mut config = before.clone();
    for sha in &args.fingerprints {
        let fp = sha.to_string();
        if block {
            if !config.block(*sha) {
                say!("{fp} was already blocked");
            }
        } else if !config.unblock(*sha) {
            return Err(Error::NotBlocked(fp));
        }
    }
    config.save(&path)?;
    match sync::sync(paths, &opts) {
        Ok(report) => {
            summarize(paths, &opts, &report, args.sync.verbose);
            Ok(())
        }
        Err(e) => {
            // Put the config back, so that config and bundle agree.
            let _ = before.save(&path);
            Err(e)
        }
    }
}
