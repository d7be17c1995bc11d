use crate::cli::{PythonAction, PythonArgs, PythonStatusArgs, PythonTarget};
use cabundle::clients::python::{self, Interpreter, PTH_NAME, Status, Uninstalled};
use cabundle::error::Result;
use cabundle::state::Paths;

use super::{out, out_json, render, say};

pub fn run(paths: &Paths, args: PythonArgs) -> Result<()> {
    match args
        .action
        .unwrap_or(PythonAction::Status(PythonStatusArgs::default()))
    {
        PythonAction::Status(a) => status(paths, &a),
        PythonAction::Install(a) => install(paths, &a),
        PythonAction::Uninstall(a) => uninstall(&a),
    }
}

fn status(paths: &Paths, args: &PythonStatusArgs) -> Result<()> {
    let report = python::status(&args.python, &paths.bundle)?;
    if report.interpreters.is_empty() {
        say!("no Python interpreter found (looked at $VIRTUAL_ENV, $CONDA_PREFIX and PATH)");
    }
    if args.json {
        return out_json(&report);
    }
    out(&text(&report))
}

/// Each interpreter once; the broken ones after them, a line each.
fn text(report: &Status) -> String {
    let mut text = format!(
        "bundle: {}{}\n",
        report.bundle.display(),
        if report.bundle_exists {
            ""
        } else {
            " (missing: run `cabundle sync`)"
        }
    );
    let found = |i: &Interpreter| match i.same_as.as_slice() {
        [] => format!("from {}", i.found_by),
        same => format!("from {}; also {}", i.found_by, same.join(", ")),
    };
    let mut broken = String::new();
    for i in &report.interpreters {
        let Some(p) = &i.probe else {
            let why = i.error.as_deref().unwrap_or("did not answer");
            broken.push_str(&format!(
                "BROKEN {} ({}): {why}\n",
                i.python.display(),
                found(i)
            ));
            continue;
        };
        text.push_str(&format!("\n{} ({})\n", i.python.display(), found(i)));
        text.push_str(&format!("  Python {}, {}\n", p.version, p.openssl));
        text.push_str(&format!(
            "  certifi: {}\n",
            p.certifi.as_deref().unwrap_or("not installed")
        ));
        text.push_str(&format!(
            "  cabundle.pth: {}\n",
            if p.pth_installed {
                "installed"
            } else {
                "not installed"
            }
        ));
        for (k, v) in p.env.iter().filter_map(|(k, v)| Some((k, v.as_ref()?))) {
            text.push_str(&format!("  {k}={v}\n"));
        }
        for v in &i.clients {
            let mark = if v.uses_bundle { "ok  " } else { "NO  " };
            text.push_str(&format!("  {mark}{}: {}\n", v.client, v.detail));
        }
    }
    if !broken.is_empty() {
        text.push('\n');
        text.push_str(&broken);
    }
    text
}

fn install(paths: &Paths, args: &PythonTarget) -> Result<()> {
    let done = python::install(paths, args.python.as_deref())?;
    if let Some(bundle) = &done.missing_bundle {
        render::missing_bundle(bundle, " (until then the .pth sets nothing)");
    }
    out(&format!("installed {}\n", done.pth.display()))
}

fn uninstall(args: &PythonTarget) -> Result<()> {
    match python::uninstall(args.python.as_deref())? {
        Uninstalled::Removed(pth) => out(&format!("removed {}\n", pth.display())),
        Uninstalled::Nothing { python } => {
            say!("nothing to remove: no {PTH_NAME} for {}", python.display());
            Ok(())
        }
    }
}
