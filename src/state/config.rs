//! `config.toml`: the user's settings that outlive one command.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cert::Sha256;
use crate::decode;
use crate::error::{ConfigError, Error, Result};
use crate::state;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// SHA-256 fingerprints that never reach the bundle, whichever source
    /// carries them; sorted, each once.
    #[serde(default)]
    pub blocked: Vec<Sha256>,
    /// Every sync also reads the Windows host's stores, as `sync
    /// --windows-host` (`windows-host = true`, under WSL).
    #[serde(
        default,
        rename = "windows-host",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub windows_host: bool,
    /// Exports every sync keeps current (`[[export]]` tables: format, path,
    /// and the format's settings, as `cabundle export` takes them).
    #[serde(default, rename = "export", skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<crate::export::Export>,
}

impl Config {
    /// The config, or the default when there is no file yet.
    pub fn load(path: &Path) -> Result<Config> {
        if !path.exists() {
            return Ok(Config::default());
        }
        let bad = |reason: ConfigError| Error::BadConfig {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = decode::read_bounded(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| bad(ConfigError::NotUtf8))?;
        let mut config: Config = toml::from_str(&text).map_err(|e| bad(e.into()))?;
        for export in &config.exports {
            match &export.path {
                Some(p) if p.is_absolute() => {}
                _ => {
                    return Err(bad(ConfigError::Export(format!(
                        "an [[export]] of format {} needs an absolute path",
                        export.format.name()
                    ))));
                }
            }
        }
        // A hand-edited file may list them in any order, or twice.
        config.blocked.sort_unstable();
        config.blocked.dedup();
        Ok(config)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string(self).map_err(|e| Error::encode(path, e))?;
        let text =
            format!("# cabundle settings; `cabundle block` and `unblock` edit this.\n{text}");
        state::write_atomic(path, text.as_bytes())
    }

    /// Add; false if it was already there.
    pub fn block(&mut self, sha: Sha256) -> bool {
        match self.blocked.binary_search(&sha) {
            Ok(_) => false,
            Err(at) => {
                self.blocked.insert(at, sha);
                true
            }
        }
    }

    /// False if it was not blocked.
    pub fn unblock(&mut self, sha: Sha256) -> bool {
        let before = self.blocked.len();
        self.blocked.retain(|f| *f != sha);
        self.blocked.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_config_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "blocked = [").unwrap();
        let err = Config::load(&path).unwrap_err().to_string();
        assert!(err.contains("config.toml"), "{err}");
        std::fs::write(&path, "blocked = [\"nope\"]").unwrap();
        assert!(
            Config::load(&path)
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
        std::fs::write(&path, "colour = true").unwrap();
        assert!(Config::load(&path).is_err());
    }

    #[test]
    fn block_and_unblock_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut c = Config::load(&path).unwrap();
        assert!(c.block(Sha256([0xab; 32])));
        assert!(!c.block(Sha256([0xab; 32])));
        assert!(c.block(Sha256([0x01; 32])));
        c.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(&"ab".repeat(32)), "{text}");
        let mut c = Config::load(&path).unwrap();
        assert_eq!(c.blocked, [Sha256([0x01; 32]), Sha256([0xab; 32])]);
        assert!(c.unblock(Sha256([0xab; 32])));
        assert!(!c.unblock(Sha256([0xab; 32])));
    }
}
