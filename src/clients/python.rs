//! Python interpreters: which ones there are, what each one's TLS clients
//! will trust, and a `cabundle.pth` that points them at the bundle at every
//! interpreter start (for Jupyter kernels, IDEs, cron jobs: anything that
//! starts Python without the user's shell settings).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clients::env::VARS;
use crate::decode;
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

/// `--python` first, then the active virtualenv and conda env, then
/// `python3`, `python` and `python3.X` on PATH; each real file once.
pub fn discover(explicit: &[PathBuf]) -> Vec<Candidate> {
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

/// Run the probe in `python`, with a time limit so a hung interpreter
/// cannot hang us.
pub fn probe(python: &Path) -> Result<Probe, String> {
    let child = Command::new(python)
        .arg("-c")
        .arg(PROBE)
        .args(probed_vars())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    let pid = child.id();
    // The pipes are drained by wait_with_output in a thread, so a chatty
    // interpreter cannot fill them and stall; the deadline is kept here.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(result) => result.map_err(|e| e.to_string())?,
        Err(_) => {
            // SAFETY: kill has no memory preconditions; pid is our child,
            // not yet reaped (the thread is still waiting on it).
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            return Err("did not answer within 20 s".into());
        }
    };
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no message");
        return Err(format!("failed ({}): {last}", out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("unexpected answer ({e})"))
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

    if let Some(version) = installed("requests") {
        let (file, via) = match (env("REQUESTS_CA_BUNDLE"), env("CURL_CA_BUNDLE")) {
            (Some(f), _) => (Some(f), "REQUESTS_CA_BUNDLE".to_string()),
            (None, Some(f)) => (Some(f), "CURL_CA_BUNDLE".to_string()),
            _ => (p.certifi.clone(), "certifi".to_string()),
        };
        out.push(judge(
            &format!("requests {version}"),
            file,
            &via,
            bundle,
            true,
        ));
    }
    if let Some(version) = installed("httpx") {
        let (file, via) = match (env("SSL_CERT_FILE"), env("SSL_CERT_DIR")) {
            (Some(f), _) => (Some(f), "SSL_CERT_FILE".to_string()),
            (None, Some(d)) => (Some(d), "SSL_CERT_DIR".to_string()),
            _ => (p.certifi.clone(), "certifi".to_string()),
        };
        out.push(judge(
            &format!("httpx {version}"),
            file,
            &via,
            bundle,
            false,
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
        format!("uses {f} via {via} ({count} certificates), not the cabundle bundle{hint}"),
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
