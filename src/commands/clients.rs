use crate::cli::ClientsArgs;
use cabundle::clients::tools::{self, Context, State};
use cabundle::error::{Error, Result};
use cabundle::state::Paths;

use super::{out, out_json};

/// What each tool found will trust; exit 1 when any does not use the
/// bundle, so a script can tell.
pub fn run(paths: &Paths, args: &ClientsArgs) -> Result<()> {
    let ctx = Context::from_process(paths);
    let reports = tools::reports(&ctx, &args.tools)?;
    if args.json {
        out_json(&reports)?;
    } else {
        let mut text = String::new();
        for r in &reports {
            let state = match r.state {
                State::UsesBundle => "uses the bundle",
                State::UsesOther => "uses something else",
                State::NotSetUp => "not set up",
            };
            // Runtimes are one line each: which one.
            let who = match (&r.program, r.tool) {
                (Some(p), "python" | "java" | "nss") => format!("{} {}", r.tool, p.display()),
                _ => r.tool.to_string(),
            };
            text += &format!("{who:<8} {state}: {} (from {})\n", r.uses, r.from);
            if let Some(lacks) = &r.lacks {
                text += &format!("         lacks: {lacks}\n");
            }
            if let Some(fix) = &r.fix {
                text += &format!("         fix: {fix}\n");
            }
        }
        if reports.is_empty() {
            text += "no tool cabundle knows was found on PATH\n";
        }
        out(&text)?;
    }
    match reports
        .iter()
        .filter(|r| r.state != State::UsesBundle)
        .count()
    {
        0 => Ok(()),
        n => Err(Error::ClientsElsewhere(n)),
    }
}
