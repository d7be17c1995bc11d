//! gcloud (the Google Cloud CLI): the CA file it verifies with, and
//! `custom_ca_certs_file` in its active configuration.
//!
//! Its precedence (the Cloud SDK's `googlecloudsdk/core/properties.py`,
//! `configurations/named_configs.py` and `properties_file.py`, as of
//! release 528):
//!
//! 1. `CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE`.
//! 2. `[core] custom_ca_certs_file` in the active configuration's
//!    properties file: `configurations/config_NAME` in its config folder
//!    (`CLOUDSDK_CONFIG`, else `~/.config/gcloud`), NAME from
//!    `CLOUDSDK_ACTIVE_CONFIG_NAME`, else the folder's `active_config`
//!    file, else `default` (`NONE` names no configuration). Read with
//!    Python's configparser (see [`super::aws::ConfigParser`]); one it
//!    refuses stops gcloud.
//! 3. The same key in the installation's `properties` file, at the root of
//!    the SDK that the `gcloud` found belongs to.
//! 4. Else the certifi it bundles (`lib/third_party/certifi/cacert.pem`):
//!    its requests and httplib2 transports both use it.
//!
//! The value must name an existing file by its absolute path (gcloud's
//! validator). gcloud takes a second to start, so it is not asked: its
//! files are read. cabundle sets the key in the active configuration's
//! file (`config_default` when there is none).

use std::path::{Path, PathBuf};

use super::aws::ConfigParser;
use super::edit::{Format, Owned};
use super::{Context, Report, State, Tool, fix, judge, pointed_at};

pub static GCLOUD: Tool = Tool {
    name: "gcloud",
    programs: &["gcloud"],
    report,
    config: Some(Owned {
        file: active_file,
        format: Format::Ini {
            section: "core",
            key: "custom_ca_certs_file",
        },
        value: bundle,
    }),
};

const VAR: &str = "CLOUDSDK_CORE_CUSTOM_CA_CERTS_FILE";

fn bundle(ctx: &Context) -> String {
    ctx.bundle.display().to_string()
}

/// `CLOUDSDK_CONFIG`, else `~/.config/gcloud` (the home folder's, whatever
/// `XDG_CONFIG_HOME` says).
fn config_dir(ctx: &Context) -> PathBuf {
    ctx.var("CLOUDSDK_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| ctx.in_home(".config/gcloud"))
}

/// The active configuration's name, as gcloud picks it.
fn active_name(ctx: &Context) -> String {
    if let Some(name) = ctx.var("CLOUDSDK_ACTIVE_CONFIG_NAME") {
        return name.to_string();
    }
    let file = config_dir(ctx).join("active_config");
    match std::fs::read_to_string(file) {
        Ok(name) if valid_name(&name) => name,
        _ => "default".into(),
    }
}

/// A name gcloud accepts from `active_config`: `NONE`, or a lower-case
/// letter then lower-case letters, digits and hyphens.
fn valid_name(name: &str) -> bool {
    name == "NONE"
        || name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The active configuration's properties file (`NONE`: none).
fn active(ctx: &Context) -> Option<PathBuf> {
    let name = active_name(ctx);
    (name != "NONE").then(|| {
        config_dir(ctx)
            .join("configurations")
            .join(format!("config_{name}"))
    })
}

/// The file cabundle sets: the active configuration's, else
/// `config_default`.
fn active_file(ctx: &Context) -> PathBuf {
    active(ctx).unwrap_or_else(|| config_dir(ctx).join("configurations/config_default"))
}

/// The SDK's root, from the `gcloud` found (`ROOT/bin/gcloud`, often
/// through a link).
fn sdk_root(program: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(program).ok()?;
    Some(real.parent()?.parent()?.to_path_buf())
}

/// `[core] custom_ca_certs_file` of a properties file: `Ok(None)` when
/// the file or the key is not there, `Err` when configparser refuses it.
fn property(file: &Path) -> Result<Option<String>, String> {
    let Ok(bytes) = crate::decode::read_bounded(file) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let parsed = ConfigParser::parse(&text)?;
    // ConfigParser's interpolation: `%%` is a `%`.
    Ok(parsed
        .get("core", "custom_ca_certs_file")
        .filter(|v| !v.is_empty())
        .map(|v| v.replace("%%", "%")))
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    if let Some(file) = ctx.var(VAR) {
        return pointed_at(ctx, "gcloud", program, Path::new(file), VAR.into());
    }
    let root = program.as_deref().and_then(sdk_root);
    let files = active(ctx)
        .into_iter()
        .chain(root.as_ref().map(|r| r.join("properties")));
    for file in files {
        match property(&file) {
            Ok(Some(value)) => {
                return pointed_at(
                    ctx,
                    "gcloud",
                    program,
                    Path::new(&value),
                    format!("{} [core]: custom_ca_certs_file", file.display()),
                );
            }
            Ok(None) => {}
            Err(e) => {
                return Report {
                    tool: "gcloud",
                    program,
                    state: State::UsesOther,
                    uses: format!("nothing: {} cannot be read", file.display()),
                    from: "nothing: gcloud stops".into(),
                    lacks: Some(format!(
                        "{}: {e}; gcloud refuses every command",
                        file.display()
                    )),
                    fix: Some(fix("gcloud")),
                };
            }
        }
    }
    let certifi = root
        .map(|r| r.join("lib/third_party/certifi/cacert.pem"))
        .filter(|p| p.is_file());
    let (state, lacks) = match &certifi {
        Some(file) => match judge(ctx, file) {
            (State::UsesBundle, _) => (State::UsesBundle, None),
            (_, lacks) => (State::NotSetUp, lacks),
        },
        None => (State::NotSetUp, None),
    };
    Report {
        tool: "gcloud",
        program,
        state,
        uses: match &certifi {
            Some(file) => file.display().to_string(),
            None => "the certifi it bundles".into(),
        },
        from: "nothing set".into(),
        lacks,
        fix: (state != State::UsesBundle).then(|| fix("gcloud")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(home: &Path, env: &[(&str, &str)]) -> Context {
        Context::for_test(home, env)
    }
    use crate::test_support::write;

    #[test]
    fn the_variable_then_the_active_configuration_then_the_installation() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path();
        let dir = home.join(".config/gcloud");
        // An SDK of its own: ROOT/bin/gcloud and ROOT/properties.
        let root = home.join("sdk");
        write(&root.join("bin/gcloud"), "");
        write(
            &root.join("properties"),
            "[core]\ncustom_ca_certs_file = /installation.pem\n",
        );
        let gcloud = Some(root.join("bin/gcloud"));
        let c = ctx(home, &[]);
        assert_eq!(active_file(&c), dir.join("configurations/config_default"));
        let r = report(&c, gcloud.clone());
        assert_eq!(r.uses, "/installation.pem");
        assert!(r.from.starts_with(&root.display().to_string()));
        write(
            &dir.join("configurations/config_default"),
            "[core]\naccount = me@example.com\ncustom_ca_certs_file = /default.pem\n",
        );
        assert_eq!(report(&c, gcloud.clone()).uses, "/default.pem");
        // active_config names another configuration; a bad name is ignored.
        write(
            &dir.join("configurations/config_work"),
            "[core]\ncustom_ca_certs_file = /work%%1.pem\n",
        );
        write(&dir.join("active_config"), "work");
        assert_eq!(active_file(&c), dir.join("configurations/config_work"));
        assert_eq!(report(&c, gcloud.clone()).uses, "/work%1.pem");
        write(&dir.join("active_config"), "Work Config");
        assert_eq!(report(&c, gcloud.clone()).uses, "/default.pem");
        // CLOUDSDK_ACTIVE_CONFIG_NAME over the file; CLOUDSDK_CONFIG moves
        // the folder; the variable wins over everything.
        let c = ctx(home, &[("CLOUDSDK_ACTIVE_CONFIG_NAME", "work")]);
        assert_eq!(report(&c, gcloud.clone()).uses, "/work%1.pem");
        let other = home.join("other");
        let c = ctx(home, &[("CLOUDSDK_CONFIG", other.to_str().unwrap())]);
        assert_eq!(active_file(&c), other.join("configurations/config_default"));
        assert_eq!(report(&c, gcloud.clone()).uses, "/installation.pem");
        let c = ctx(home, &[(VAR, "/env.pem")]);
        assert_eq!(report(&c, gcloud.clone()).from, VAR);
        // None set anywhere: its certifi; a file it refuses stops it.
        std::fs::remove_file(root.join("properties")).unwrap();
        let c = ctx(home, &[("CLOUDSDK_CONFIG", other.to_str().unwrap())]);
        assert_eq!(report(&c, gcloud.clone()).state, State::NotSetUp);
        write(&other.join("configurations/config_default"), "core\n");
        let r = report(&c, gcloud);
        assert_eq!(r.state, State::UsesOther);
        assert!(r.lacks.unwrap().contains("line 1"));
        assert!(valid_name("NONE") && valid_name("a-1") && !valid_name("1a"));
        assert!(!valid_name("work\n") && !valid_name(""));
    }
}
