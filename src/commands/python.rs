use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{PythonAction, PythonArgs, PythonStatusArgs, PythonTarget};
use cabundle::clients::python::{self, Candidate, PTH_NAME, Probe, Verdict};
use cabundle::error::{Error, Result};
use cabundle::state::{self, Paths};
use cabundle::system::find_program;

use super::{out, say};

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

/// `python status --json`: one object per interpreter.
#[derive(Serialize)]
struct Status<'a> {
    bundle: &'a Path,
    bundle_exists: bool,
    interpreters: Vec<Interpreter>,
}

#[derive(Serialize)]
struct Interpreter {
    python: PathBuf,
    found_by: String,
    ok: bool,
    error: Option<String>,
    #[serde(flatten)]
    probe: Option<Probe>,
    clients: Vec<Verdict>,
}

fn status(paths: &Paths, args: &PythonStatusArgs) -> Result<()> {
    let candidates = python::discover(&args.python);
    if candidates.is_empty() {
        say!("no Python interpreter found (looked at $VIRTUAL_ENV, $CONDA_PREFIX and PATH)");
    }
    let interpreters: Vec<Interpreter> = candidates
        .into_iter()
        .map(
            |Candidate { python, found_by }| match python::probe(&python) {
                Ok(p) => Interpreter {
                    clients: python::verdicts(&p, &paths.bundle),
                    python,
                    found_by,
                    ok: true,
                    error: None,
                    probe: Some(p),
                },
                Err(e) => Interpreter {
                    python,
                    found_by,
                    ok: false,
                    error: Some(e),
                    probe: None,
                    clients: Vec::new(),
                },
            },
        )
        .collect();
    // Shims and links often lead to the same interpreter: show it once.
    let mut seen = Vec::new();
    let interpreters = interpreters
        .into_iter()
        .filter(|i| match &i.probe {
            Some(p) => {
                let key = (p.executable.clone(), p.site_packages.clone());
                let new = !seen.contains(&key);
                seen.push(key);
                new
            }
            None => true,
        })
        .collect();
    let report = Status {
        bundle: &paths.bundle,
        bundle_exists: paths.bundle.exists(),
        interpreters,
    };
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::io("<stdout>", std::io::Error::other(e)))?;
        return out(&(json + "\n"));
    }
    let mut text = format!(
        "bundle: {}{}\n",
        report.bundle.display(),
        if report.bundle_exists {
            ""
        } else {
            " (missing: run `cabundle sync`)"
        }
    );
    for i in &report.interpreters {
        text.push_str(&format!("\n{} (from {})\n", i.python.display(), i.found_by));
        match (&i.probe, &i.error) {
            (Some(p), _) => {
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
            (None, e) => text.push_str(&format!(
                "  broken: {}\n",
                e.as_deref().unwrap_or("unknown")
            )),
        }
    }
    out(&text)
}

/// The interpreter to change: --python, else the active venv's, else
/// python3 on PATH.
fn target(args: &PythonTarget) -> Result<PathBuf> {
    if let Some(p) = &args.python {
        return Ok(p.clone());
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        return Ok(Path::new(&venv).join("bin/python"));
    }
    find_program("python3").ok_or(Error::NoPython)
}

fn site_packages(python: &Path) -> Result<PathBuf> {
    python::probe(python)
        .map(|p| p.site_packages)
        .map_err(|reason| Error::Python {
            python: python.to_path_buf(),
            reason,
        })
}

fn install(paths: &Paths, args: &PythonTarget) -> Result<()> {
    let python = target(args)?;
    let site = site_packages(&python)?;
    let bundle = paths
        .bundle
        .to_str()
        .filter(|b| !b.chars().any(char::is_control))
        .ok_or_else(|| Error::UnusablePath {
            path: paths.bundle.clone(),
            reason: "the bundle's path is not plain UTF-8 text".into(),
        })?;
    let pth = site.join(PTH_NAME);
    if pth.exists() && !python::is_ours(&pth) {
        return Err(Error::Refused {
            path: pth,
            reason: "exists and was not written by cabundle".into(),
        });
    }
    let cert_dir = paths.cert_dir();
    let cert_dir = cert_dir
        .to_str()
        .filter(|d| !d.chars().any(char::is_control))
        .ok_or_else(|| Error::UnusablePath {
            path: cert_dir.clone(),
            reason: "the hashed folder's path is not plain UTF-8 text".into(),
        })?;
    state::write_atomic(&pth, python::pth_contents(bundle, cert_dir).as_bytes()).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => Error::Python {
            python: python.clone(),
            reason: format!(
                "{} is not writable; use a virtualenv (python3 -m venv), or --python with an interpreter you own",
                site.display()
            ),
        },
        e => e,
    })?;
    if !paths.bundle.exists() {
        say!(
            "warning: {} does not exist yet; run `cabundle sync` (until then the .pth sets nothing)",
            paths.bundle.display()
        );
    }
    out(&format!("installed {}\n", pth.display()))
}

fn uninstall(args: &PythonTarget) -> Result<()> {
    let python = target(args)?;
    let pth = site_packages(&python)?.join(PTH_NAME);
    if !pth.exists() {
        say!(
            "nothing to remove: no {} for {}",
            PTH_NAME,
            python.display()
        );
        return Ok(());
    }
    if !python::is_ours(&pth) {
        return Err(Error::Refused {
            path: pth,
            reason: "was not written by cabundle; leaving it".into(),
        });
    }
    fs::remove_file(&pth).map_err(|e| Error::io(&pth, e))?;
    out(&format!("removed {}\n", pth.display()))
}
