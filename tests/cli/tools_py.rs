//! `clients` and `install --clients` / `uninstall --clients` for pip, npm
//! and conda (src/clients/tools/{pip,npm,conda}.rs), checked with the
//! real clients where the machine has them: npm (`npm ping`) and pip
//! (`pip download`, the shared venv's) against a loopback HTTPS server
//! signed by an added corp CA, with a scratch HOME, no TLS variable, and a
//! PATH that holds only the programs under test. conda is not packaged for
//! Debian: the `.condarc` cabundle writes is read back with a YAML parser
//! (the venv's PyYAML), against conda's documented key, `ssl_verify`.
//!
//! npm is required (Debian: `npm`; nodesource's `nodejs` carries it), as
//! are the venv's pip and PyYAML (scripts/test.sh makes the venv): a test
//! that lacks one fails naming it, unless CABUNDLE_TEST_ALLOW_SKIP=1.
//! Nothing is written outside the temp folders (no bytecode in the venv:
//! PYTHONDONTWRITEBYTECODE).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};

use serde_json::Value;

use crate::common::server::{Https, https_server};
use crate::common::{
    self, Corp, Ran, both, days, on_path, require, require_that, run_bounded, snapshot, text, venv,
    within_deadline, write,
};

/// A corp CA added to the bundle, a user's HOME, and a PATH of links to
/// the programs under test only.
struct Scene {
    s: Corp,
    home: PathBuf,
    bin: PathBuf,
}

impl Scene {
    /// `programs`: (name on PATH, the real program).
    fn new(programs: &[(&str, PathBuf)]) -> Scene {
        let s = Corp::new();
        s.add_corp();
        let home = s.dir().join("user");
        let bin = s.dir().join("bin");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&bin).unwrap();
        for (name, program) in programs {
            std::os::unix::fs::symlink(program, bin.join(name)).unwrap();
        }
        Scene { s, home, bin }
    }

    fn bundle(&self) -> String {
        self.s.bundle().display().to_string()
    }

    /// The whole environment of every command: nothing from outside.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("PATH", self.bin.display().to_string()),
            ("HOME", self.home.display().to_string()),
            (
                "XDG_CONFIG_HOME",
                self.home.join(".config").display().to_string(),
            ),
            ("NO_PROXY", "127.0.0.1,localhost".into()),
            ("no_proxy", "127.0.0.1,localhost".into()),
            ("PYTHONDONTWRITEBYTECODE", "1".into()),
            ("LANG", "C.UTF-8".into()),
        ]
    }

    /// `cabundle ARGS` with [`Scene::env`] and `extra`.
    fn cabundle(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let mut cmd = common::cabundle(&self.s.home);
        cmd.env_clear()
            .env("CABUNDLE_HOME", &self.s.home)
            .envs(self.env())
            .envs(extra.iter().copied())
            .args(args);
        within_deadline(&mut cmd)
    }

    /// `clients --json`: the exit code, and each tool's report by name.
    fn clients(&self, extra: &[(&str, &str)]) -> (Option<i32>, Vec<Value>) {
        let out = self.cabundle(
            &[&["clients", "--json"][..], &common::CONFIG_TOOLS].concat(),
            extra,
        );
        let reports: Vec<Value> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("clients --json: {e}\n{}", both(&out)));
        (out.status.code(), reports)
    }

    /// The report of `tool`, which must be there.
    fn report(&self, tool: &str, extra: &[(&str, &str)]) -> Value {
        let (_, reports) = self.clients(extra);
        reports
            .into_iter()
            .find(|r| r["tool"] == tool)
            .unwrap_or_else(|| panic!("no report for {tool}"))
    }

    /// `program ARGS` from the scene's PATH, in HOME, with [`Scene::env`]
    /// and `extra`, within the deadline.
    fn run(&self, program: &str, args: &[&str], extra: &[(&str, &str)]) -> Ran {
        let mut cmd = StdCommand::new(self.bin.join(program));
        cmd.env_clear()
            .envs(self.env())
            .envs(extra.iter().copied())
            .current_dir(&self.home)
            .args(args);
        run_bounded(cmd)
    }
}

fn ok(out: &Output) -> bool {
    out.status.success()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `npm` and the `node` it runs on, or a failure naming the package.
fn npm_programs() -> Option<Vec<(&'static str, PathBuf)>> {
    if !require(
        "npm",
        "--version",
        "Debian: apt-get install npm (nodesource's nodejs carries it)",
    ) {
        return None;
    }
    Some(vec![("npm", on_path("npm")?), ("node", on_path("node")?)])
}

/// The shared venv's pip (and its PyYAML, which reads .condarc back).
fn venv_pip() -> Option<PathBuf> {
    let pip = venv::venv().join("bin/pip");
    require_that(
        pip.is_file(),
        "pip in the test venv (scripts/test.sh makes target/test-venv)",
    )
    .then_some(pip)
}

fn pyyaml() -> bool {
    let ok = StdCommand::new(venv::python())
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    require_that(
        ok,
        "PyYAML in the test venv (scripts/test.sh installs pyyaml)",
    )
}

// ---------------------------------------------------------------------------
// Servers

/// An npm registry that answers `npm ping` (`/-/ping`: `{}`), nothing more.
fn npm_registry() -> String {
    https_server(
        r#"
class Handler(Quiet):
    def do_GET(self):
        if not self.path.startswith("/-/ping"):
            self.send_error(404)
            return
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
"#,
    )
}

/// A package index (PEP 503) with one tiny wheel, made at start.
fn package_index() -> String {
    https_server(
        r#"
import hashlib, io, zipfile

NAME = "cabundle_probe-0.1-py3-none-any.whl"
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("cabundle_probe/__init__.py", "")
    z.writestr("cabundle_probe-0.1.dist-info/METADATA",
               "Metadata-Version: 2.1\nName: cabundle-probe\nVersion: 0.1\n")
    z.writestr("cabundle_probe-0.1.dist-info/WHEEL",
               "Wheel-Version: 1.0\nGenerator: cabundle-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("cabundle_probe-0.1.dist-info/RECORD", "")
WHEEL = buf.getvalue()

class Handler(Quiet):
    def do_GET(self):
        if self.path.rstrip("/") == "/simple/cabundle-probe":
            digest = hashlib.sha256(WHEEL).hexdigest()
            body = ('<html><body><a href="/files/%s#sha256=%s">%s</a></body></html>'
                    % (NAME, digest, NAME)).encode()
            kind = "text/html"
        elif self.path == "/files/" + NAME:
            body, kind = WHEEL, "application/octet-stream"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
"#,
    )
}

fn serve(sc: &Scene, script: &str) -> Https {
    let (cert, key) = sc.s.corp.leaf(days(-1), days(30));
    Https::start(sc.s.dir(), script, (&cert, &key), &[])
}

/// `npm ping` against `server`: (succeeded, what it said).
fn npm_ping(sc: &Scene, server: &Https, extra: &[(&str, &str)]) -> (bool, String) {
    let url = format!("https://localhost:{}/", server.port);
    let ran = sc.run(
        "npm",
        &[
            "ping",
            "--registry",
            &url,
            "--fetch-retries",
            "0",
            "--no-update-notifier",
        ],
        extra,
    );
    assert!(!ran.timed_out, "{ran}");
    (ran.code == Some(0), format!("{ran}"))
}

/// `pip download` of the index's one wheel into a fresh folder: (whether
/// the wheel arrived, what pip said).
fn pip_download(sc: &Scene, server: &Https, extra: &[(&str, &str)]) -> (bool, String) {
    let dest = tempfile::tempdir_in(sc.s.dir()).unwrap();
    let index = format!("https://localhost:{}/simple/", server.port);
    let ran = sc.run(
        "pip",
        &[
            "download",
            "--no-deps",
            "--no-cache-dir",
            "--disable-pip-version-check",
            "--retries",
            "0",
            "--index-url",
            &index,
            "cabundle-probe",
            "-d",
            dest.path().to_str().unwrap(),
        ],
        extra,
    );
    assert!(!ran.timed_out, "{ran}");
    let arrived = dest
        .path()
        .join("cabundle_probe-0.1-py3-none-any.whl")
        .is_file();
    (arrived && ran.code == Some(0), format!("{ran}"))
}

/// A CA file that is not the bundle and lacks the corp CA.
fn other_ca(sc: &Scene) -> String {
    let other = common::valid_ca("cabundle test Other CA");
    write(&sc.s.dir().join("other.pem"), other.pem)
        .display()
        .to_string()
}

// ---------------------------------------------------------------------------
// npm

#[test]
fn install_clients_npm_makes_npm_trust_the_bundle_and_uninstall_restores_npmrc() {
    let Some(programs) = npm_programs() else {
        return;
    };
    let sc = Scene::new(&programs);
    let server = serve(&sc, &npm_registry());
    let npmrc = sc.home.join(".npmrc");
    let original =
        "# my npm settings\n//registry.example/:_authToken=secret-token\n; a comment\nfund=false\n";
    write(&npmrc, original);
    fs::set_permissions(&npmrc, fs::Permissions::from_mode(0o600)).unwrap();

    let (pinged, said) = npm_ping(&sc, &server, &[]);
    assert!(
        !pinged,
        "npm trusted the corp server before install:\n{said}"
    );
    assert!(
        said.contains("UNABLE_TO_VERIFY") || said.contains("certificate"),
        "{said}"
    );
    let (code, reports) = sc.clients(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(reports.len(), 1, "only npm is on PATH: {reports:#?}");
    assert_ne!(reports[0]["state"], "uses-bundle", "{reports:#?}");

    let out = sc.cabundle(&["install", "--clients", "npm"], &[]);
    assert!(ok(&out), "{}", both(&out));
    assert!(
        text(&out.stdout).contains(&format!("npm: set {} to {}", npmrc.display(), sc.bundle())),
        "{}",
        both(&out)
    );
    let now = fs::read_to_string(&npmrc).unwrap();
    assert_eq!(now, format!("{original}cafile={}\n", sc.bundle()));
    assert_eq!(mode(&npmrc), 0o600, "the token's file kept its mode");

    let (pinged, said) = npm_ping(&sc, &server, &[]);
    assert!(
        pinged,
        "npm did not trust the corp server after install:\n{said}"
    );
    let (code, reports) = sc.clients(&[]);
    assert_eq!(code, Some(0), "{reports:#?}");
    let npm = &reports[0];
    assert_eq!(npm["state"], "uses-bundle", "{npm:#}");
    assert_eq!(npm["uses"], sc.bundle().as_str());
    assert!(
        npm["from"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} (user config): cafile", npmrc.display())),
        "{npm:#}"
    );

    // npm's own precedence, as the report says it: the environment's
    // cafile beats ~/.npmrc, and NODE_EXTRA_CA_CERTS does not add to it.
    let other = other_ca(&sc);
    let env = [
        ("npm_config_cafile", other.as_str()),
        ("NODE_EXTRA_CA_CERTS", sc.s.corp_file.to_str().unwrap()),
    ];
    let (pinged, said) = npm_ping(&sc, &server, &env);
    assert!(!pinged, "{said}");
    let r = sc.report("npm", &env);
    assert_eq!(r["state"], "uses-other", "{r:#}");
    assert!(
        r["from"].as_str().unwrap().starts_with("npm_config_cafile"),
        "{r:#}"
    );
    assert!(
        r["fix"].as_str().unwrap().contains("change it there"),
        "{r:#}"
    );

    let out = sc.cabundle(&["uninstall", "--clients", "npm"], &[]);
    assert!(ok(&out), "{}", both(&out));
    assert!(
        text(&out.stdout).contains(&format!("npm: restored {}", npmrc.display())),
        "{}",
        both(&out)
    );
    assert_eq!(fs::read_to_string(&npmrc).unwrap(), original);
    assert_eq!(mode(&npmrc), 0o600);
    let (pinged, said) = npm_ping(&sc, &server, &[]);
    assert!(
        !pinged,
        "npm still trusted the corp server after uninstall:\n{said}"
    );
    drop(server);
}

// ---------------------------------------------------------------------------
// pip

#[test]
fn install_clients_pip_makes_pip_download_over_the_bundle_and_uninstall_restores_pip_conf() {
    let Some(pip) = venv_pip() else {
        return;
    };
    let sc = Scene::new(&[("pip", pip)]);
    let server = serve(&sc, &package_index());
    let conf = sc.home.join(".config/pip/pip.conf");
    let original = "# my pip\n[global]\ntimeout = 30\n\n[download]\nprogress-bar = off\n";
    write(&conf, original);

    let (got, said) = pip_download(&sc, &server, &[]);
    assert!(!got, "pip trusted the corp index before install:\n{said}");
    assert!(said.contains("CERTIFICATE_VERIFY_FAILED"), "{said}");
    let (code, reports) = sc.clients(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(reports.len(), 1, "only pip is on PATH: {reports:#?}");
    assert_ne!(reports[0]["state"], "uses-bundle", "{reports:#?}");

    let out = sc.cabundle(&["install", "--clients", "pip"], &[]);
    assert!(ok(&out), "{}", both(&out));
    assert_eq!(
        fs::read_to_string(&conf).unwrap(),
        format!(
            "# my pip\n[global]\ntimeout = 30\ncert = {}\n\n[download]\nprogress-bar = off\n",
            sc.bundle()
        )
    );
    let (got, said) = pip_download(&sc, &server, &[]);
    assert!(
        got,
        "pip did not download over the bundle after install:\n{said}"
    );
    let (code, reports) = sc.clients(&[]);
    assert_eq!(code, Some(0), "{reports:#?}");
    assert_eq!(reports[0]["state"], "uses-bundle", "{reports:#?}");
    assert_eq!(
        reports[0]["from"],
        format!("{} [global] cert", conf.display()).as_str()
    );

    // pip's precedence, as the report says it, against pip itself:
    // PIP_CERT beats the file, REQUESTS_CA_BUNDLE beats PIP_CERT.
    let other = other_ca(&sc);
    let bundle = sc.bundle();
    for (env, from) in [
        (vec![("PIP_CERT", other.as_str())], "PIP_CERT"),
        (
            vec![
                ("PIP_CERT", bundle.as_str()),
                ("REQUESTS_CA_BUNDLE", other.as_str()),
            ],
            "REQUESTS_CA_BUNDLE",
        ),
        (vec![("CURL_CA_BUNDLE", other.as_str())], "CURL_CA_BUNDLE"),
    ] {
        let (got, said) = pip_download(&sc, &server, &env);
        assert!(!got, "{env:?}: pip used the bundle:\n{said}");
        let r = sc.report("pip", &env);
        assert_eq!(r["state"], "uses-other", "{env:?}: {r:#}");
        assert!(
            r["from"].as_str().unwrap().starts_with(from),
            "{env:?}: {r:#}"
        );
    }
    let env = [
        ("REQUESTS_CA_BUNDLE", bundle.as_str()),
        ("PIP_CERT", other.as_str()),
    ];
    let (got, said) = pip_download(&sc, &server, &env);
    assert!(got, "{said}");
    assert_eq!(sc.report("pip", &env)["state"], "uses-bundle");

    let out = sc.cabundle(&["uninstall", "--clients", "pip"], &[]);
    assert!(ok(&out), "{}", both(&out));
    assert_eq!(fs::read_to_string(&conf).unwrap(), original);
    let (got, said) = pip_download(&sc, &server, &[]);
    assert!(
        !got,
        "pip still trusted the corp index after uninstall:\n{said}"
    );
    drop(server);
}

// ---------------------------------------------------------------------------
// conda

/// `.condarc` as PyYAML reads it.
fn yaml(path: &Path) -> Value {
    let out = StdCommand::new(venv::python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn install_clients_conda_writes_ssl_verify_that_yaml_reads_and_uninstall_restores_condarc() {
    if !pyyaml() {
        return;
    }
    // No conda on PATH: ~/.condarc alone makes the report.
    let sc = Scene::new(&[]);
    let condarc = sc.home.join(".condarc");
    let original =
        "# conda settings\nchannels:\n  - conda-forge\n  - defaults\nauto_activate_base: false\n";
    write(&condarc, original);
    let (code, reports) = sc.clients(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(reports[0]["tool"], "conda");
    assert_eq!(reports[0]["state"], "not-set-up", "{reports:#?}");

    let out = sc.cabundle(&["install", "--clients", "conda"], &[]);
    assert!(ok(&out), "{}", both(&out));
    let read = yaml(&condarc);
    assert_eq!(read["ssl_verify"], sc.bundle().as_str(), "{read:#}");
    assert_eq!(
        read["channels"],
        serde_json::json!(["conda-forge", "defaults"])
    );
    assert_eq!(read["auto_activate_base"], false);
    let (code, reports) = sc.clients(&[]);
    assert_eq!(code, Some(0), "{reports:#?}");
    assert_eq!(reports[0]["state"], "uses-bundle", "{reports:#?}");

    // REQUESTS_CA_BUNDLE beats ssl_verify (conda downloads with requests).
    let other = other_ca(&sc);
    let r = sc.report("conda", &[("REQUESTS_CA_BUNDLE", &other)]);
    assert_eq!(r["state"], "uses-other", "{r:#}");
    assert!(
        r["from"]
            .as_str()
            .unwrap()
            .starts_with("REQUESTS_CA_BUNDLE"),
        "{r:#}"
    );

    let out = sc.cabundle(&["uninstall", "--clients", "conda"], &[]);
    assert!(ok(&out), "{}", both(&out));
    assert_eq!(fs::read_to_string(&condarc).unwrap(), original);
}

#[test]
fn ssl_verify_false_is_reported_loudly_left_alone_and_force_is_undone_by_uninstall() {
    if !pyyaml() {
        return;
    }
    let sc = Scene::new(&[]);
    let condarc = sc.home.join(".condarc");
    let original = "channels:\n  - defaults\nssl_verify: false  # the proxy broke it\n";
    write(&condarc, original);
    let r = sc.report("conda", &[]);
    assert_eq!(r["state"], "uses-other", "{r:#}");
    assert!(
        r["uses"].as_str().unwrap().starts_with("NO VERIFICATION"),
        "{r:#}"
    );

    let out = sc.cabundle(&["install", "--clients", "conda"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("already set to false; left alone (--force replaces it)"),
        "{}",
        both(&out)
    );
    assert_eq!(fs::read_to_string(&condarc).unwrap(), original);

    let out = sc.cabundle(&["install", "--clients", "conda", "--force"], &[]);
    assert!(ok(&out), "{}", both(&out));
    assert_eq!(yaml(&condarc)["ssl_verify"], sc.bundle().as_str());
    assert_eq!(sc.report("conda", &[])["state"], "uses-bundle");
    let out = sc.cabundle(&["uninstall", "--clients", "conda"], &[]);
    assert!(ok(&out), "{}", both(&out));
    assert_eq!(fs::read_to_string(&condarc).unwrap(), original);
}

// ---------------------------------------------------------------------------
// All of them at once

#[test]
fn clients_exits_1_before_install_and_0_after_and_uninstall_undoes_every_one() {
    let (Some(mut programs), Some(pip)) = (npm_programs(), venv_pip()) else {
        return;
    };
    programs.push(("pip", pip));
    let sc = Scene::new(&programs);
    write(&sc.home.join(".condarc"), "channels:\n  - conda-forge\n");
    let before = snapshot(&sc.home);

    let (code, reports) = sc.clients(&[]);
    assert_eq!(code, Some(1));
    let tools: Vec<&str> = reports
        .iter()
        .map(|r| r["tool"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["pip", "conda", "npm"], "{reports:#?}");
    assert!(
        reports.iter().all(|r| r["state"] != "uses-bundle"),
        "{reports:#?}"
    );
    assert!(
        reports.iter().all(|r| r["fix"]
            .as_str()
            .unwrap()
            .starts_with("cabundle install --clients")),
        "{reports:#?}"
    );

    // No names: every tool found.
    let out = sc.cabundle(&["install", "--clients"], &[]);
    assert!(ok(&out), "{}", both(&out));
    let (code, reports) = sc.clients(&[]);
    assert_eq!(code, Some(0), "{reports:#?}");
    for r in &reports {
        assert_eq!(r["state"], "uses-bundle", "{r:#}");
        assert_eq!(r["uses"], sc.bundle().as_str(), "{r:#}");
        assert!(r.get("fix").is_none(), "{r:#}");
    }
    let out = sc.cabundle(&[&["clients"][..], &common::CONFIG_TOOLS].concat(), &[]);
    assert!(ok(&out), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("pip      uses the bundle"),
        "{}",
        both(&out)
    );

    let out = sc.cabundle(&["uninstall", "--clients"], &[]);
    assert!(ok(&out), "{}", both(&out));
    // npm and pip leave their caches and logs in HOME: compare the rest.
    let after: Vec<_> = snapshot(&sc.home)
        .into_iter()
        .filter(|(p, _)| {
            !p.starts_with(sc.home.join(".npm")) && !p.starts_with(sc.home.join(".cache"))
        })
        .collect();
    assert_eq!(after, before, "uninstall left HOME otherwise than it was");
    assert_eq!(sc.clients(&[]).0, Some(1));
}

// ---------------------------------------------------------------------------
// Hostile configs

/// `install --clients TOOL` on a file that must be left as it is: exit 1,
/// `words` on stderr, HOME and the record unchanged.
fn refused(sc: &Scene, tool: &str, words: &str) {
    let before = snapshot(&sc.home);
    let out = sc.cabundle(&["install", "--clients", tool], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(text(&out.stderr).contains(words), "{}", both(&out));
    assert_eq!(snapshot(&sc.home), before, "{tool}: HOME changed");
    assert!(
        !sc.s.home.join("clients.json").exists()
            || !fs::read_to_string(sc.s.home.join("clients.json"))
                .unwrap()
                .contains(tool),
        "{tool}: recorded a change it did not make"
    );
    let out = sc.cabundle(&["uninstall", "--clients", tool], &[]);
    assert!(ok(&out), "{}", both(&out));
    assert_eq!(snapshot(&sc.home), before, "{tool}: uninstall changed HOME");
}

#[test]
fn malformed_npmrc_pip_conf_and_condarc_are_reported_and_left_whole() {
    let Some(pip) = venv_pip() else {
        return;
    };
    let sc = Scene::new(&[("pip", pip)]);
    write(
        &sc.home.join(".npmrc"),
        "//r.example/:_authToken=t\nthis line is no setting\n",
    );
    refused(
        &sc,
        "npm",
        "cannot be edited safely (line 2: not key=value)",
    );

    let conf = write(
        &sc.home.join(".config/pip/pip.conf"),
        "[global\ncert = /somewhere.pem\n",
    );
    refused(&sc, "pip", "cannot be edited safely");
    // pip itself refuses to run with it, and the report says so in pip's words.
    let r = sc.report("pip", &[]);
    assert_eq!(r["state"], "uses-other", "{r:#}");
    assert!(r["uses"].as_str().unwrap().contains("pip stops"), "{r:#}");
    assert!(
        r["from"].as_str().unwrap().contains(conf.to_str().unwrap()),
        "{r:#}"
    );

    write(
        &sc.home.join(".condarc"),
        "{ssl_verify: true, channels: [defaults]}\n",
    );
    refused(&sc, "conda", "flow style");
    write(&sc.home.join(".condarc"), "channels:\n\t- defaults\n");
    refused(&sc, "conda", "a tab");
}

#[test]
fn a_config_that_is_a_link_is_not_written_through() {
    let sc = Scene::new(&[]);
    let dotfiles = write(&sc.home.join("dotfiles/npmrc"), "fund=false\n");
    std::os::unix::fs::symlink(&dotfiles, sc.home.join(".npmrc")).unwrap();
    refused(&sc, "npm", "is a link");
    let condarc = write(
        &sc.home.join("dotfiles/condarc"),
        "channels:\n  - defaults\n",
    );
    std::os::unix::fs::symlink(&condarc, sc.home.join(".condarc")).unwrap();
    refused(&sc, "conda", "is a link");
    assert_eq!(fs::read_to_string(&dotfiles).unwrap(), "fund=false\n");
}

#[test]
fn a_key_pointing_elsewhere_is_left_unless_force_and_uninstall_restores_it() {
    let Some(pip) = venv_pip() else {
        return;
    };
    let sc = Scene::new(&[("pip", pip)]);
    let other = other_ca(&sc);
    let npmrc = write(
        &sc.home.join(".npmrc"),
        format!("//r.example/:_authToken=t\ncafile={other}\n"),
    );
    let conf = write(
        &sc.home.join(".config/pip/pip.conf"),
        format!("[global]\ncert = {other}\n"),
    );
    for (tool, file) in [("npm", &npmrc), ("pip", &conf)] {
        let original = fs::read(file).unwrap();
        refused(
            &sc,
            tool,
            &format!("already set to {other}; left alone (--force replaces it)"),
        );
        let out = sc.cabundle(&["install", "--clients", tool, "--force"], &[]);
        assert!(ok(&out), "{}", both(&out));
        let now = fs::read_to_string(file).unwrap();
        assert!(now.contains(&sc.bundle()) && !now.contains(&other), "{now}");
        let out = sc.cabundle(&["uninstall", "--clients", tool], &[]);
        assert!(ok(&out), "{}", both(&out));
        assert_eq!(fs::read(file).unwrap(), original, "{tool}");
    }
    // pip's own reading of the file agrees with the report.
    let r = sc.report("pip", &[]);
    assert_eq!(r["uses"], other.as_str(), "{r:#}");
    assert!(r["lacks"].as_str().unwrap().contains("no corp"), "{r:#}");
}
