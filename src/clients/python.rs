//! Python interpreters: which ones there are, what each one's TLS clients
//! will trust, and a `cabundle.pth` that points them at the bundle at every
//! interpreter start (for Jupyter kernels, IDEs, cron jobs: anything that
//! starts Python without the user's shell settings).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use wait_timeout::ChildExt;

use crate::clients::env::VARS;
use crate::decode;
use crate::error::Error;
use crate::state::{self, Paths};
use crate::system::find_program;

pub const PTH_NAME: &str = "cabundle.pth";
/// Marks a `.pth` as ours, so uninstall never removes someone else's file.
const PTH_MARKER: &str = "# cabundle:";

/// Asks an interpreter what it will trust. Prints one JSON object.
const PROBE: &str = r#"
import json, os, ssl, sys, sysconfig
def version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None
try:
    import certifi
    where = certifi.where()
except Exception:
    where = None
p = ssl.get_default_verify_paths()
purelib = sysconfig.get_paths()["purelib"]
print(json.dumps({
    "executable": sys.executable,
    "version": "%d.%d.%d" % sys.version_info[:3],
    "openssl": ssl.OPENSSL_VERSION,
    "verify_paths": {"cafile": p.cafile, "capath": p.capath,
                     "openssl_cafile_env": p.openssl_cafile_env, "openssl_cafile": p.openssl_cafile,
                     "openssl_capath_env": p.openssl_capath_env, "openssl_capath": p.openssl_capath},
    "certifi": where,
    "packages": {n: version(n) for n in ("requests", "httpx", "pip", "certifi")},
    "site_packages": purelib,
    "pth_installed": os.path.exists(os.path.join(purelib, "cabundle.pth")),
    "env": {k: os.environ.get(k) for k in sys.argv[1:]},
}))
"#;

/// An interpreter to look at, and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub python: PathBuf,
    pub found_by: String,
}

/// How [`discover`] names the venv cabundle itself was installed into.
pub const OWN_VENV: &str = "cabundle's venv";

/// `--python` first; then the venv this cabundle was installed into
/// (`pip install cabundle` in a project's venv: [`own_venv_python`]); then
/// the active virtualenv and conda env, then `python3`, `python` and
/// `python3.X` on PATH; each real file once.
pub fn discover(explicit: &[PathBuf]) -> Vec<Candidate> {
    let exe = std::env::current_exe().ok();
    discover_with(explicit, exe.as_deref())
}

/// [`discover`], for the cabundle executable at `exe`.
fn discover_with(explicit: &[PathBuf], exe: Option<&Path>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = explicit
        .iter()
        .map(|p| Candidate {
            python: p.clone(),
            found_by: "--python".into(),
        })
        .collect();
    if !explicit.is_empty() {
        return out;
    }
    if let Some(python) = exe.and_then(own_venv_python) {
        out.push(Candidate {
            python,
            found_by: OWN_VENV.into(),
        });
    }
    for var in ["VIRTUAL_ENV", "CONDA_PREFIX"] {
        if let Some(prefix) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            let python = Path::new(&prefix).join("bin/python");
            if python.exists() {
                out.push(Candidate {
                    python,
                    found_by: format!("${var}"),
                });
            }
        }
    }
    let names = ["python3".to_string(), "python".to_string()]
        .into_iter()
        .chain((6..=15).map(|minor| format!("python3.{minor}")));
    for name in names {
        if let Some(python) = find_program(&name) {
            out.push(Candidate {
                python,
                found_by: "PATH".into(),
            });
        }
    }
    let mut seen = Vec::new();
    out.retain(|c| {
        let real = std::fs::canonicalize(&c.python).unwrap_or_else(|_| c.python.clone());
        // A venv's python links to the base one but is a different
        // environment: tell them apart by the link's own folder too.
        let key = (real, c.python.parent().map(Path::to_path_buf));
        let new = !seen.contains(&key);
        seen.push(key);
        new
    });
    out
}

/// The interpreter of the venv the cabundle executable `exe` sits in:
/// `VENV/bin/python3` (else `python`) when `exe` is `VENV/bin/cabundle` and
/// `VENV/pyvenv.cfg` marks VENV as a venv, which is where `pip install
/// cabundle` puts it. Not a venv pipx or `uv tool install` made for
/// cabundle alone (`pipx_metadata.json`, `uv-receipt.toml` beside
/// pyvenv.cfg): nothing of the user's runs in those.
pub fn own_venv_python(exe: &Path) -> Option<PathBuf> {
    let bin = exe.parent()?;
    let venv = bin.parent()?;
    if bin.file_name()? != "bin" || !venv.join("pyvenv.cfg").is_file() {
        return None;
    }
    if ["pipx_metadata.json", "uv-receipt.toml"]
        .iter()
        .any(|tool| venv.join(tool).exists())
    {
        return None;
    }
    ["python3", "python"]
        .iter()
        .map(|name| bin.join(name))
        .find(|python| python.exists())
}

/// What an interpreter said about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Probe {
    pub executable: String,
    pub version: String,
    pub openssl: String,
    pub verify_paths: BTreeMap<String, Option<String>>,
    pub certifi: Option<String>,
    pub packages: BTreeMap<String, Option<String>>,
    pub site_packages: PathBuf,
    pub pth_installed: bool,
    pub env: BTreeMap<String, Option<String>>,
}

/// The variables the probe reports: ours (SSL_CERT_DIR among them).
fn probed_vars() -> Vec<&'static str> {
    VARS.to_vec()
}

/// How long an interpreter gets to answer the probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// Run the probe in `python`, with a time limit so a hung interpreter
/// cannot hang us. Its stderr is not read: what a broken interpreter or
/// shim prints there is its own business, and the exit status says enough.
pub fn probe(python: &Path) -> Result<Probe, String> {
    let mut child = Command::new(python)
        .arg("-c")
        .arg(PROBE)
        .args(probed_vars())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    // Drained in a thread, so a chatty interpreter cannot fill the pipe
    // and stall while the deadline is kept here.
    let mut stdout = child.stdout.take().ok_or("cannot read its output")?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let status = match child.wait_timeout(PROBE_TIMEOUT) {
        Ok(Some(status)) => status,
        Ok(None) => {
            // Child::kill acts on this child, never on a reused pid: the
            // child is not reaped until the wait below.
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "did not answer within {} s",
                PROBE_TIMEOUT.as_secs()
            ));
        }
        Err(e) => return Err(format!("cannot wait for it: {e}")),
    };
    if !status.success() {
        // 127 is the shell's "command not found": what a pyenv or asdf
        // shim ends with when the version it names is not installed.
        let hint = match status.code() {
            Some(127) => ": a shim or link to an interpreter that is not installed?",
            _ => "",
        };
        return Err(format!(
            "does not run: it ended ({status}) without answering{hint}"
        ));
    }
    let out = reader
        .join()
        .map_err(|_| "cannot read its output".to_string())?
        .map_err(|e| format!("cannot read its output: {e}"))?;
    serde_json::from_slice(&out)
        .map_err(|_| "ran, but its answer is not the probe's (is it Python 3?)".to_string())
}

/// One interpreter, as `python status` reports it.
#[derive(Debug, Serialize)]
pub struct Interpreter {
    pub python: PathBuf,
    pub found_by: String,
    /// Other paths that lead to the same interpreter and environment
    /// (links, shims, several PATH entries), each as "PATH (found by)".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub same_as: Vec<String>,
    pub ok: bool,
    pub error: Option<String>,
    #[serde(flatten)]
    pub probe: Option<Probe>,
    pub clients: Vec<Verdict>,
}

/// What `python status` reports (its `--json` shape).
#[derive(Debug, Serialize)]
pub struct Status {
    pub bundle: PathBuf,
    pub bundle_exists: bool,
    pub interpreters: Vec<Interpreter>,
}

/// The engine of `python status`: every interpreter [`discover`] finds (or
/// those given), each once, with the verdict for each of its clients. An
/// interpreter given by path that is not there is an error.
pub fn status(explicit: &[PathBuf], bundle: &Path) -> Result<Status, Error> {
    if let Some(missing) = explicit.iter().find(|p| !p.exists()) {
        return Err(Error::Python {
            python: missing.clone(),
            reason: "no such file (--python)".into(),
        });
    }
    let mut interpreters: Vec<Interpreter> = Vec::new();
    for Candidate { python, found_by } in discover(explicit) {
        let (probe, error) = match probe(&python) {
            Ok(p) => (Some(p), None),
            Err(e) => (None, Some(e)),
        };
        // Shims, links and venvs often lead to the same interpreter and
        // environment: the real executable and its site-packages say which.
        let same = probe.as_ref().and_then(|p| {
            interpreters
                .iter_mut()
                .find(|i| i.probe.as_ref().is_some_and(|q| same_interpreter(p, q)))
        });
        if let Some(first) = same {
            first
                .same_as
                .push(format!("{} ({found_by})", python.display()));
            continue;
        }
        interpreters.push(Interpreter {
            clients: probe
                .as_ref()
                .map(|p| verdicts(p, bundle))
                .unwrap_or_default(),
            ok: probe.is_some(),
            python,
            found_by,
            same_as: Vec::new(),
            error,
            probe,
        });
    }
    Ok(Status {
        bundle: bundle.to_path_buf(),
        bundle_exists: bundle.exists(),
        interpreters,
    })
}

fn same_interpreter(a: &Probe, b: &Probe) -> bool {
    let real = |p: &Probe| {
        std::fs::canonicalize(&p.executable).unwrap_or_else(|_| PathBuf::from(&p.executable))
    };
    a.site_packages == b.site_packages && real(a) == real(b)
}

/// The interpreter to change: `python`, else the active venv's, else
/// python3 on PATH.
fn target(python: Option<&Path>) -> Result<PathBuf, Error> {
    if let Some(p) = python {
        return Ok(p.to_path_buf());
    }
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        return Ok(Path::new(&venv).join("bin/python"));
    }
    find_program("python3").ok_or(Error::NoPython)
}

fn site_packages(python: &Path) -> Result<PathBuf, Error> {
    probe(python)
        .map(|p| p.site_packages)
        .map_err(|reason| Error::Python {
            python: python.to_path_buf(),
            reason,
        })
}

/// What `python install` wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub pth: PathBuf,
    /// The bundle, when it does not exist yet: until it does, the `.pth`
    /// sets nothing.
    pub missing_bundle: Option<PathBuf>,
}

/// The engine of `python install`: `cabundle.pth` into the interpreter's
/// site-packages, pointing at the bundle in `paths`.
pub fn install(paths: &Paths, python: Option<&Path>) -> Result<Installed, Error> {
    let python = target(python)?;
    let site = site_packages(&python)?;
    let bundle = crate::clients::env::text(&paths.bundle, "the bundle's")?;
    let cert_dir = paths.cert_dir();
    let cert_dir = crate::clients::env::text(&cert_dir, "the hashed folder's")?;
    let pth = site.join(PTH_NAME);
    if pth.exists() && !is_ours(&pth) {
        return Err(Error::Refused {
            path: pth,
            reason: "exists and was not written by cabundle".into(),
        });
    }
    state::write_atomic(&pth, pth_contents(bundle, cert_dir).as_bytes()).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
            Error::Python {
                python: python.clone(),
                reason: format!(
                    "{} is not writable; use a virtualenv (python3 -m venv), or --python with an \
                     interpreter you own",
                    site.display()
                ),
            }
        }
        e => e,
    })?;
    Ok(Installed {
        pth,
        missing_bundle: (!paths.bundle.exists()).then(|| paths.bundle.clone()),
    })
}

/// What `python uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uninstalled {
    Removed(PathBuf),
    /// There was no `cabundle.pth` for this interpreter.
    Nothing {
        python: PathBuf,
    },
}

/// The engine of `python uninstall`: the `cabundle.pth` that install wrote,
/// and nothing else.
pub fn uninstall(python: Option<&Path>) -> Result<Uninstalled, Error> {
    let python = target(python)?;
    let pth = site_packages(&python)?.join(PTH_NAME);
    if !pth.exists() {
        return Ok(Uninstalled::Nothing { python });
    }
    if !is_ours(&pth) {
        return Err(Error::Refused {
            path: pth,
            reason: "was not written by cabundle; leaving it".into(),
        });
    }
    std::fs::remove_file(&pth).map_err(|e| Error::io(&pth, e))?;
    Ok(Uninstalled::Removed(pth))
}

/// Will one client use the bundle, and if not, why not.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verdict {
    pub client: String,
    pub uses_bundle: bool,
    /// The CA file it will read, if it reads one.
    pub ca_file: Option<String>,
    pub detail: String,
}

/// The verdict for each TLS client of an interpreter, as each client's own
/// code picks its CA file.
pub fn verdicts(p: &Probe, bundle: &Path) -> Vec<Verdict> {
    let env = |k: &str| p.env.get(k).cloned().flatten().filter(|v| !v.is_empty());
    let installed = |k: &str| p.packages.get(k).cloned().flatten();
    let mut out = Vec::new();

    // ssl/urllib: SSL_CERT_FILE, else OpenSSL's default file.
    let (file, via) = match env("SSL_CERT_FILE") {
        Some(f) => (Some(f), "SSL_CERT_FILE".to_string()),
        None => (
            p.verify_paths.get("openssl_cafile").cloned().flatten(),
            "OpenSSL's default CA file".to_string(),
        ),
    };
    let mut v = judge("urllib/ssl", file, &via, bundle, false);
    if let Some(dir) = env("SSL_CERT_DIR") {
        v.detail.push_str(&format!(
            "; it also trusts every certificate in SSL_CERT_DIR={dir}"
        ));
    }
    out.push(v);

    // requests: REQUESTS_CA_BUNDLE, then CURL_CA_BUNDLE, else certifi;
    // httpx: SSL_CERT_FILE, then SSL_CERT_DIR, else certifi. `true`: the
    // client fails when the file is missing (httpx goes on without it).
    for (package, first, second, missing_is_error) in [
        ("requests", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", true),
        ("httpx", "SSL_CERT_FILE", "SSL_CERT_DIR", false),
    ] {
        let Some(version) = installed(package) else {
            continue;
        };
        let (file, via) = match (env(first), env(second)) {
            (Some(f), _) => (Some(f), first),
            (None, Some(f)) => (Some(f), second),
            _ => (p.certifi.clone(), "certifi"),
        };
        out.push(judge(
            &format!("{package} {version}"),
            file,
            via,
            bundle,
            missing_is_error,
        ));
    }
    if let Some(version) = installed("pip") {
        let v = match env("PIP_CERT") {
            Some(f) => judge(&format!("pip {version}"), Some(f), "PIP_CERT", bundle, true),
            None if version_at_least(&version, &[24, 2]) => Verdict {
                client: format!("pip {version}"),
                uses_bundle: false,
                ca_file: None,
                detail: "uses the OS trust store (truststore), not the bundle: PIP_CERT is not set"
                    .into(),
            },
            None => judge(
                &format!("pip {version}"),
                p.certifi.clone(),
                "pip's vendored certifi",
                bundle,
                true,
            ),
        };
        out.push(v);
    }
    out
}

fn judge(
    client: &str,
    file: Option<String>,
    via: &str,
    bundle: &Path,
    missing_is_error: bool,
) -> Verdict {
    let verdict = |uses_bundle, detail: String| Verdict {
        client: client.to_string(),
        uses_bundle,
        ca_file: file.clone(),
        detail,
    };
    let Some(f) = file.as_deref() else {
        return verdict(false, format!("has no CA file ({via} is not set)"));
    };
    let path = Path::new(f);
    if !path.exists() {
        let what = if missing_is_error {
            "so it fails every HTTPS request"
        } else {
            "which Python ignores silently"
        };
        return verdict(false, format!("{via} points to a missing file {f}, {what}"));
    }
    if same_file(path, bundle) {
        return verdict(true, format!("uses the cabundle bundle (via {via})"));
    }
    let count = if path.is_file() {
        decode::decode_file(path)
            .map(|d| d.items.len())
            .unwrap_or(0)
    } else {
        0
    };
    if path.is_file() && count < 10 {
        return verdict(
            false,
            format!(
                "{via} points to a {count}-certificate file {f}, which replaces all public roots"
            ),
        );
    }
    let hint = if via == "certifi" || via.contains("certifi") {
        "; it lacks your added CAs and the OS store: run `cabundle python install`"
    } else {
        ""
    };
    verdict(
        false,
        format!(
            "uses {f} via {via} ({}), not the cabundle bundle{hint}",
            crate::cert::count(count, "certificate")
        ),
    )
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn version_at_least(version: &str, want: &[u32]) -> bool {
    let have: Vec<u32> = version
        .split('.')
        .map(|p| {
            p.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .map(|p| p.parse().unwrap_or(0))
        .collect();
    have.as_slice() >= want
}

/// The `.pth` line: at interpreter start, each variable the user did not
/// set is pointed at the bundle (SSL_CERT_DIR at the hashed folder beside
/// it), if the bundle exists. Nothing in it can stop Python from starting.
pub fn pth_contents(bundle: &str, cert_dir: &str) -> String {
    let vars: Vec<String> = VARS
        .iter()
        .filter(|v| **v != crate::clients::env::CERT_DIR)
        .map(|v| py_str(v))
        .collect();
    let code = format!(
        "try:\n p = {}\n d = {}\n if os.path.isfile(p):\n  for k in ({},): os.environ.setdefault(k, p)\n  if os.path.isdir(d): os.environ.setdefault({}, d)\nexcept Exception:\n pass",
        py_str(bundle),
        py_str(cert_dir),
        vars.join(", "),
        py_str(crate::clients::env::CERT_DIR),
    );
    format!(
        "{PTH_MARKER} points TLS clients at the cabundle bundle unless already set; `cabundle python uninstall` removes this file\n\
         import os; exec({})\n",
        py_str(&code)
    )
}

/// A Python string literal for `s`: everything outside printable ASCII is
/// escaped, so the `.pth` line stays one line whatever the path holds.
fn py_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Is the file at `path` a `.pth` that cabundle wrote?
pub fn is_ours(path: &Path) -> bool {
    decode::read_bounded(path).is_ok_and(|b| b.starts_with(PTH_MARKER.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A venv as `python -m venv` lays it out, with cabundle in its bin/.
    fn venv_with_cabundle(dir: &Path) -> PathBuf {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(dir.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        std::fs::write(bin.join("python3"), "").unwrap();
        std::os::unix::fs::symlink("python3", bin.join("python")).unwrap();
        std::fs::write(bin.join("cabundle"), "").unwrap();
        bin.join("cabundle")
    }

    #[test]
    fn the_venv_cabundle_sits_in_is_found_first() {
        let tmp = tempfile::tempdir().unwrap();
        let venv = tmp.path().join("venv");
        let exe = venv_with_cabundle(&venv);
        assert_eq!(own_venv_python(&exe), Some(venv.join("bin/python3")));
        let found = discover_with(&[], Some(&exe));
        assert_eq!(
            found.first(),
            Some(&Candidate {
                python: venv.join("bin/python3"),
                found_by: OWN_VENV.into()
            }),
            "{found:?}"
        );
        // Its `python` is the same file, in the same folder: listed once.
        assert_eq!(
            found.iter().filter(|c| c.python.starts_with(&venv)).count(),
            1
        );
        // `--python` alone, when given.
        let given = [PathBuf::from("/opt/py/bin/python")];
        assert_eq!(discover_with(&given, Some(&exe)).len(), 1);
    }

    #[test]
    fn only_a_venv_of_the_users_counts_as_cabundles_own() {
        let tmp = tempfile::tempdir().unwrap();
        // No pyvenv.cfg: /usr/local/bin, ~/.cargo/bin.
        let plain = tmp.path().join("plain");
        let exe = venv_with_cabundle(&plain);
        std::fs::remove_file(plain.join("pyvenv.cfg")).unwrap();
        assert_eq!(own_venv_python(&exe), None);
        // Not in a bin/ folder.
        let odd = tmp.path().join("odd");
        std::fs::create_dir_all(&odd).unwrap();
        std::fs::write(odd.join("pyvenv.cfg"), "").unwrap();
        assert_eq!(own_venv_python(&odd.join("cabundle")), None);
        // pipx's and uv's venvs for cabundle alone.
        for marker in ["pipx_metadata.json", "uv-receipt.toml"] {
            let venv = tmp.path().join(marker);
            let exe = venv_with_cabundle(&venv);
            std::fs::write(venv.join(marker), "").unwrap();
            assert_eq!(own_venv_python(&exe), None, "{marker}");
        }
        // A venv with no interpreter left in it.
        let empty = tmp.path().join("empty");
        let exe = venv_with_cabundle(&empty);
        std::fs::remove_file(empty.join("bin/python")).unwrap();
        std::fs::remove_file(empty.join("bin/python3")).unwrap();
        assert_eq!(own_venv_python(&exe), None);
    }

    #[test]
    fn versions_compare_by_number() {
        assert!(version_at_least("24.2", &[24, 2]));
        assert!(version_at_least("25.0.1", &[24, 2]));
        assert!(!version_at_least("23.2.1", &[24, 2]));
        assert!(!version_at_least("24.1b1", &[24, 2]));
    }

    #[test]
    fn python_strings_escape_everything_odd() {
        assert_eq!(py_str("a\"b\\c\nd é"), r#""a\"b\\c\x0ad \xe9""#);
    }

    #[test]
    fn pth_is_one_import_line_that_names_every_variable() {
        let pth = pth_contents("/x/it's \"here\".pem", "/x/certs");
        let lines: Vec<&str> = pth.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(PTH_MARKER));
        assert!(lines[1].starts_with("import os; exec("));
        for var in VARS {
            assert!(lines[1].contains(var));
        }
    }
}
