//! git: `GIT_SSL_CAINFO` wins, then `http.sslCAInfo` from its config
//! files (asked of git itself, which knows their order and includes);
//! else its libcurl's built-in default, the OS store's bundle. cabundle
//! sets `http.sslCAInfo` in the user's global config.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::edit::{Format, Owned};
use super::{Context, Report, State, Tool, fix, pointed_at};

pub static GIT: Tool = Tool {
    name: "git",
    programs: &["git"],
    report,
    config: Some(Owned {
        file: global_config,
        format: Format::Ini {
            section: "http",
            key: "sslCAInfo",
        },
        value: bundle,
    }),
};

fn bundle(ctx: &Context) -> String {
    ctx.bundle.display().to_string()
}

/// The global config git writes with `git config --global`: `~/.gitconfig`
/// when it exists or the XDG one does not.
fn global_config(ctx: &Context) -> PathBuf {
    let home = ctx.in_home(".gitconfig");
    let xdg = ctx.in_config("git/config");
    if !home.exists() && xdg.exists() {
        xdg
    } else {
        home
    }
}

fn report(ctx: &Context, program: Option<PathBuf>) -> Report {
    if let Some(file) = ctx.var("GIT_SSL_CAINFO") {
        return pointed_at(
            ctx,
            "git",
            program,
            Path::new(file),
            "GIT_SSL_CAINFO".into(),
        );
    }
    if let Some((file, origin)) = program.as_deref().and_then(|git| configured(ctx, git)) {
        return pointed_at(
            ctx,
            "git",
            program,
            Path::new(&file),
            format!("{origin}: http.sslCAInfo"),
        );
    }
    Report {
        tool: "git",
        program,
        state: State::NotSetUp,
        uses: "its built-in default (the OS store's bundle)".into(),
        from: "nothing set".into(),
        lacks: None,
        fix: Some(fix("git")),
    }
}

/// `http.sslCAInfo` as git resolves it, with the file that sets it:
/// `git config --show-origin --get`, run in the home folder with the
/// context's environment.
fn configured(ctx: &Context, git: &Path) -> Option<(String, String)> {
    let out = Command::new(git)
        .args(["config", "--show-origin", "--get", "http.sslCAInfo"])
        .current_dir(&ctx.home)
        .env_clear()
        .envs(&ctx.env)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8(out.stdout).ok()?;
    let (origin, value) = line.trim_end_matches('\n').split_once('\t')?;
    let origin = origin.strip_prefix("file:").unwrap_or(origin).to_string();
    Some((value.to_string(), origin))
}
