//! `install --clients` / `uninstall --clients` and `clients` for git, curl,
//! the AWS CLI (botocore), gcloud, cargo and systemd user services, each
//! proven by the tool itself: real git over smart HTTP, real curl reading
//! `~/.curlrc`, botocore's own `get_config_variable`, `gcloud config get`,
//! and real cargo fetching a sparse index, against loopback HTTPS servers
//! signed by an added corp CA: refused before, trusted after, refused
//! again after uninstall, with the user's file back byte for byte. Then
//! what `clients --json` says before and after, and the hostile cases (a
//! file its tool would refuse, a link, a key the user points elsewhere).
//!
//! HOME, every tool's config and CABUNDLE_HOME are temp folders; the
//! tools' own variables are removed, and PATH holds only the tools under
//! test. git, curl, gcloud, cargo and botocore (in the test venv) are
//! required: a test fails naming what it lacks unless
//! CABUNDLE_TEST_ALLOW_SKIP=1.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};

use assert_cmd::Command;
use serde_json::Value;

use crate::common::server::{HELLO_BODY, Https};
use crate::common::{
    self, Corp, assert_no_temp_files, both, days, expected_value, on_path, require, require_that,
    run_bounded, scrubbed, scrubbed_loopback, snapshot, stderr_of, text, venv, write,
};

/// Where each tool looks for its config, besides HOME: removed from every
/// command here, so only the temp folders count.
const LOCATION_VARS: &[&str] = &[
    "XDG_CONFIG_HOME",
    "CURL_HOME",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "CLOUDSDK_CONFIG",
    "CLOUDSDK_ACTIVE_CONFIG_NAME",
    "CARGO_HOME",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
];

/// A synced CABUNDLE_HOME whose bundle holds the corp CA, a user's HOME,
/// and a PATH of links to the tools under test, all in one temp folder.
struct Scene {
    corp: Corp,
    user: PathBuf,
    bin: PathBuf,
}

impl Scene {
    /// `tools`: (name on PATH, the program it runs).
    fn new(tools: &[(&str, PathBuf)]) -> Scene {
        let corp = Corp::new();
        corp.add_corp();
        let user = corp.dir().join("user");
        let bin = corp.dir().join("bin");
        fs::create_dir_all(&user).unwrap();
        fs::create_dir_all(&bin).unwrap();
        for (name, program) in tools {
            std::os::unix::fs::symlink(program, bin.join(name)).unwrap();
        }
        Scene { corp, user, bin }
    }

    fn bundle(&self) -> String {
        self.corp.bundle().display().to_string()
    }

    /// `cabundle ARGS` for this user, with PATH the tools under test.
    fn cabundle(&self, args: &[&str]) -> Command {
        let mut cmd = common::cabundle(&self.corp.home);
        for var in LOCATION_VARS {
            cmd.env_remove(var);
        }
        cmd.env("HOME", &self.user)
            .env("PATH", &self.bin)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        common::within_deadline(&mut self.cabundle(args))
    }

    /// `clients --json`, by tool.
    fn clients(&self) -> BTreeMap<String, Value> {
        let out = self.run(&[&["clients", "--json"][..], &common::CONFIG_TOOLS].concat());
        let reports: Vec<Value> = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("clients --json: {e}\n{}", both(&out)));
        reports
            .into_iter()
            .map(|r| (r["tool"].as_str().unwrap().to_string(), r))
            .collect()
    }

    /// The state `clients` gives `tool`.
    fn state(&self, tool: &str) -> String {
        let all = self.clients();
        let r = all
            .get(tool)
            .unwrap_or_else(|| panic!("clients does not list {tool}: {all:#?}"));
        r["state"].as_str().unwrap().to_string()
    }

    /// `install --clients TOOL...` (or uninstall), which must succeed.
    fn ok(&self, verb: &str, tools: &[&str]) -> String {
        let args: Vec<&str> = [verb, "--clients"].iter().chain(tools).copied().collect();
        let out = self.run(&args);
        assert!(out.status.success(), "{args:?}:\n{}", both(&out));
        text(&out.stdout)
    }

    /// A command of a tool under test, as the user runs it: this HOME, no
    /// TLS variable, no config but the user's.
    fn user_command(&self, program: impl AsRef<std::ffi::OsStr>) -> StdCommand {
        let mut cmd = scrubbed_loopback(program);
        for var in LOCATION_VARS {
            cmd.env_remove(var);
        }
        cmd.env("HOME", &self.user).current_dir(&self.user);
        cmd
    }
}

/// `program` on PATH, or a failure naming the package ([`require`]).
fn required(program: &str, package: &str) -> Option<PathBuf> {
    require(
        program,
        "--version",
        &format!("Debian: apt-get install {package}"),
    )
    .then(|| on_path(program))
    .flatten()
}

/// gcloud, found without running it (with the real HOME, it would write
/// its logs there). It comes from Google's own apt repository, not
/// Debian's, so a fresh CI machine has none: then the test reads the
/// properties file with Python's configparser, which is what gcloud reads
/// it with.
fn gcloud() -> Option<PathBuf> {
    on_path("gcloud")
}

/// The cargo running these tests (the real binary, not rustup's proxy).
fn cargo() -> Option<PathBuf> {
    let found = std::env::var_os("CARGO").map(PathBuf::from);
    require_that(
        found.as_ref().is_some_and(|c| c.is_file()),
        "cargo ($CARGO, set by cargo test)",
    )
    .then_some(found)
    .flatten()
}

/// The test venv's Python when botocore imports there.
fn botocore() -> Option<&'static Path> {
    let python = venv::python();
    let ok = scrubbed(python)
        .args(["-c", "import botocore"])
        .output()
        .is_ok_and(|o| o.status.success());
    require_that(
        ok,
        "botocore in the test venv (scripts/test.sh installs it; or `pip install botocore` there)",
    )
    .then_some(python)
}

/// A stand-in program: the reports of the AWS CLI and systemd only look
/// for it on PATH.
fn stub(dir: &Path, name: &str) -> PathBuf {
    let path = write(&dir.join("stubs").join(name), "#!/bin/sh\nexit 0\n");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

// ---------------------------------------------------------------------------
// git

const GITCONFIG: &str = "# my own settings\n[user]\n\tname = A User\n\temail = user@example.com\n\
                         \n; the editor\n[core]\n\teditor = vi\n";

#[test]
fn git_trusts_the_bundle_through_its_global_config() {
    let Some(git) = required("git", "git") else {
        return;
    };
    let s = Scene::new(&[("git", git.clone())]);
    let dir = s.corp.dir();
    crate::exec::bare_repo(dir, "served by git http-backend\n");
    let (cert, key) = s.corp.corp.leaf(days(-1), days(30));
    let server = Https::start(
        dir,
        &crate::exec::git_server(),
        (&cert, &key),
        &[&dir.join("srv")],
    );
    let url = server.url("repo.git");
    let gitconfig = write(&s.user.join(".gitconfig"), GITCONFIG);
    let ls_remote = || {
        run_bounded({
            let mut cmd = s.user_command(&git);
            cmd.args(["ls-remote", &url]);
            cmd
        })
    };

    let before = ls_remote();
    assert_eq!(before.code, Some(128), "{before}");
    assert!(
        before.stderr.to_lowercase().contains("certificate"),
        "{before}"
    );
    assert_eq!(s.state("git"), "not-set-up");

    let said = s.ok("install", &["git"]);
    assert!(
        said.contains(&format!("set {}", gitconfig.display())),
        "{said}"
    );
    let after = ls_remote();
    assert_eq!(after.code, Some(0), "{after}\nserver:\n{}", server.log());
    assert!(after.stdout.contains("refs/heads/main"), "{after}");
    let report = &s.clients()["git"];
    assert_eq!(report["state"], "uses-bundle", "{report}");
    assert_eq!(report["uses"], s.bundle());
    // The user's lines are all still there.
    let written = fs::read_to_string(&gitconfig).unwrap();
    assert!(written.starts_with(GITCONFIG), "{written}");

    s.ok("uninstall", &["git"]);
    assert_eq!(fs::read_to_string(&gitconfig).unwrap(), GITCONFIG);
    let again = ls_remote();
    assert_eq!(again.code, Some(128), "{again}");
    assert_eq!(s.state("git"), "not-set-up");
    drop(server);
}

// ---------------------------------------------------------------------------
// curl

#[test]
fn curl_reads_the_bundle_and_its_folder_from_curlrc() {
    let Some(curl) = required("curl", "curl") else {
        return;
    };
    let s = Scene::new(&[("curl", curl.clone())]);
    let server = Https::hello(s.corp.dir(), &s.corp.corp.leaf(days(-1), days(30)));
    let url = server.url("");
    let mine = "# my curl\n--compressed\nuser-agent = \"me/1.0\"\n";
    let curlrc = write(&s.user.join(".curlrc"), mine);
    // No -q: curl reads ~/.curlrc.
    let fetch = || {
        run_bounded({
            let mut cmd = s.user_command(&curl);
            cmd.args(["-sS", "--max-time", "30", &url]);
            cmd
        })
    };

    let before = fetch();
    assert_eq!(before.code, Some(60), "{before}");
    assert_eq!(s.state("curl"), "not-set-up");

    s.ok("install", &["curl"]);
    let written = fs::read_to_string(&curlrc).unwrap();
    let certs = s.corp.bundle().with_file_name("certs");
    assert_eq!(
        written,
        format!(
            "{mine}cacert = \"{}\"\ncapath = \"{}\"\n",
            s.bundle(),
            certs.display()
        )
    );
    let after = fetch();
    assert_eq!(after.code, Some(0), "{after}");
    assert_eq!(after.stdout.trim(), HELLO_BODY);
    let report = &s.clients()["curl"];
    assert_eq!(report["state"], "uses-bundle", "{report}");
    assert_eq!(
        report["from"],
        format!("{}: cacert", curlrc.display()),
        "{report}"
    );

    s.ok("uninstall", &["curl"]);
    assert_eq!(fs::read_to_string(&curlrc).unwrap(), mine);
    let again = fetch();
    assert_eq!(again.code, Some(60), "{again}");
    drop(server);
}

/// The report follows curl's own precedence: the variables count only
/// while the config file sets neither option, and CURL_CA_BUNDLE leaves
/// curl's build folder in use, which cabundle's `capath` replaces.
#[test]
fn curl_reports_follow_its_precedence() {
    let Some(curl) = required("curl", "curl") else {
        return;
    };
    let s = Scene::new(&[("curl", curl)]);
    let bundle = s.bundle();
    let report = |env: &[(&str, &str)]| {
        let mut cmd = s.cabundle(&[&["clients", "--json"][..], &common::CONFIG_TOOLS].concat());
        cmd.envs(env.iter().copied());
        let out = common::within_deadline(&mut cmd);
        let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        all.into_iter().find(|r| r["tool"] == "curl").unwrap()
    };
    let r = report(&[("CURL_CA_BUNDLE", bundle.as_str())]);
    assert_eq!(
        (r["uses"].as_str(), r["from"].as_str()),
        (Some(&*bundle), Some("CURL_CA_BUNDLE"))
    );
    let certs = s.corp.bundle().with_file_name("certs");
    let r = report(&[
        ("SSL_CERT_FILE", bundle.as_str()),
        ("SSL_CERT_DIR", certs.to_str().unwrap()),
    ]);
    // curl 7.x takes SSL_CERT_DIR alone when both are set; 8.x both.
    assert!(
        ["SSL_CERT_FILE", "SSL_CERT_DIR"].contains(&r["from"].as_str().unwrap()),
        "{r}"
    );
    s.ok("install", &["curl"]);
    let r = report(&[("CURL_CA_BUNDLE", "/elsewhere.pem")]);
    assert_eq!(r["state"], "uses-bundle", "the config file wins: {r}");
    assert!(
        r["from"].as_str().unwrap().ends_with(".curlrc: cacert"),
        "{r}"
    );
}

// ---------------------------------------------------------------------------
// The AWS CLI and boto3 (botocore)

/// What botocore resolves `ca_bundle` to for this user.
const GET_CA_BUNDLE: &str =
    "import botocore.session; print(botocore.session.Session().get_config_variable('ca_bundle'))";

#[test]
fn botocore_reads_ca_bundle_from_the_default_profile() {
    let Some(python) = botocore() else {
        return;
    };
    let s = Scene::new(&[]);
    let botocore_says = || {
        let mut cmd = s.user_command(python);
        cmd.args(["-c", GET_CA_BUNDLE]);
        let ran = run_bounded(cmd);
        assert_eq!(ran.code, Some(0), "{ran}");
        ran.stdout.trim().to_string()
    };
    assert_eq!(botocore_says(), "None");
    // No program on PATH and no config: the AWS CLI is not found, so name it.
    s.ok("install", &["aws"]);
    let config = s.user.join(".aws/config");
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        format!("[default]\nca_bundle = {}\n", s.bundle())
    );
    assert_eq!(botocore_says(), s.bundle());
    assert_eq!(s.state("aws"), "uses-bundle");
    s.ok("uninstall", &["aws"]);
    assert!(!config.exists(), "the file cabundle made is removed");
    assert_eq!(botocore_says(), "None");

    // A config of the user's: every line kept, and back byte for byte.
    let mine = "[default]\nregion = eu-west-1\n# work\n[profile work]\nregion = us-east-1\nca_bundle = /work.pem\n";
    write(&config, mine);
    s.ok("install", &["aws"]);
    assert_eq!(botocore_says(), s.bundle());
    let written = fs::read_to_string(&config).unwrap();
    assert!(written.contains("ca_bundle = /work.pem"), "{written}");
    s.ok("uninstall", &["aws"]);
    assert_eq!(fs::read_to_string(&config).unwrap(), mine);
}

// ---------------------------------------------------------------------------
// gcloud

#[test]
fn gcloud_reads_custom_ca_certs_file_from_its_active_configuration() {
    let gcloud = gcloud();
    let s = Scene::new(
        &gcloud
            .iter()
            .map(|g| ("gcloud", g.clone()))
            .collect::<Vec<_>>(),
    );
    let config = s.corp.dir().join("gcloud-config");
    let gcloud_says = || {
        let Some(gcloud) = &gcloud else {
            // configparser, as gcloud reads its properties.
            let file = config.join("configurations/config_default");
            let out = common::scrubbed(common::venv::python())
                .arg("-c")
                .arg(
                    "import configparser, sys; c = configparser.ConfigParser(); c.read(sys.argv[1]); \
                     print(c.get('core', 'custom_ca_certs_file', fallback=''))",
                )
                .arg(&file)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", both(&out));
            return text(&out.stdout).trim().to_string();
        };
        let mut cmd = s.user_command(gcloud);
        cmd.env("CLOUDSDK_CONFIG", &config)
            .args(["config", "get", "core/custom_ca_certs_file"]);
        let ran = run_bounded(cmd);
        assert_eq!(ran.code, Some(0), "{ran}");
        ran.stdout.trim().to_string()
    };
    if gcloud.is_none() {
        fs::create_dir_all(config.join("configurations")).unwrap();
    }
    let cabundle = |verb: &str| {
        let out = common::within_deadline(
            s.cabundle(&[verb, "--clients", "gcloud"])
                .env("CLOUDSDK_CONFIG", &config),
        );
        assert!(out.status.success(), "{verb}: {}", both(&out));
        text(&out.stdout)
    };
    assert_eq!(gcloud_says(), "");
    // gcloud made its folder on that first run; what it wrote comes back.
    let before = snapshot(&config.join("configurations"));
    let said = cabundle("install");
    assert!(said.contains("config_default"), "{said}");
    assert_eq!(gcloud_says(), s.bundle());
    let out = common::within_deadline(
        s.cabundle(&[&["clients", "--json"][..], &common::CONFIG_TOOLS].concat())
            .env("CLOUDSDK_CONFIG", &config),
    );
    let reports: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let r = reports.iter().find(|r| r["tool"] == "gcloud").unwrap();
    assert_eq!(r["state"], "uses-bundle", "{r}");
    cabundle("uninstall");
    assert_eq!(gcloud_says(), "");
    assert_eq!(snapshot(&config.join("configurations")), before);
}

// ---------------------------------------------------------------------------
// cargo

#[test]
fn cargo_fetches_over_the_bundle_from_its_config_toml() {
    let Some(cargo) = cargo() else {
        return;
    };
    let s = Scene::new(&[("cargo", cargo.clone())]);
    let server = Https::hello(s.corp.dir(), &s.corp.corp.leaf(days(-1), days(30)));
    let index = format!("sparse+{}", server.url(""));
    let config = s.user.join(".cargo/config.toml");
    let mine = "# mine\n[net]\nretry = 0\n\n[http]\ntimeout = 30\n";
    write(&config, mine);
    // A sparse index asks for config.json first: what fails is TLS, or
    // (trusted) the hello server's answer, which is not JSON.
    let search = || {
        run_bounded({
            let mut cmd = s.user_command(&cargo);
            cmd.args(["search", "serde", "--limit", "1", "--index", &index]);
            cmd
        })
    };
    let tls_refused = |ran: &common::Ran| ran.stderr.contains("SSL certificate problem");

    let before = search();
    assert!(tls_refused(&before), "{before}");
    assert_eq!(s.state("cargo"), "not-set-up");

    s.ok("install", &["cargo"]);
    let doc: toml::Table = fs::read_to_string(&config).unwrap().parse().unwrap();
    assert_eq!(doc["http"]["cainfo"].as_str(), Some(s.bundle().as_str()));
    assert_eq!(doc["http"]["timeout"].as_integer(), Some(30));
    assert_eq!(doc["net"]["retry"].as_integer(), Some(0));
    let after = search();
    assert!(!tls_refused(&after), "{after}");
    assert!(after.stderr.contains("expected value"), "{after}");
    assert_eq!(s.state("cargo"), "uses-bundle");

    s.ok("uninstall", &["cargo"]);
    assert_eq!(fs::read_to_string(&config).unwrap(), mine);
    assert!(tls_refused(&search()));
    drop(server);
}

// ---------------------------------------------------------------------------
// systemd user services

#[test]
fn systemd_gets_every_variable_in_a_file_of_its_own() {
    let s = Scene::new(&[]);
    let file = s.user.join(".config/environment.d/60-cabundle.conf");
    let said = s.ok("install", &["systemd"]);
    assert_eq!(said, format!("systemd: wrote {}\n", file.display()));
    let written = fs::read_to_string(&file).unwrap();
    let mut seen = BTreeMap::new();
    for line in written.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not KEY=VALUE: {line:?}"));
        assert!(
            key.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{key}"
        );
        seen.insert(key.to_string(), value.to_string());
    }
    let want: BTreeMap<String, String> = cabundle::clients::env::VARS
        .iter()
        .map(|v| (v.to_string(), expected_value(&s.corp.bundle(), v)))
        .collect();
    assert_eq!(seen, want);
    assert_eq!(s.state("systemd"), "uses-bundle");
    // Installed again: nothing to do.
    let out = s.run(&["install", "--clients", "systemd"]);
    assert!(out.status.success());
    assert!(stderr_of(&out).contains("already points at the bundle"));
    s.ok("uninstall", &["systemd"]);
    assert!(!file.exists());
}

// ---------------------------------------------------------------------------
// Every tool at once

#[test]
fn clients_reports_each_tool_before_and_after() {
    let (Some(git), Some(curl), Some(gcloud), Some(cargo)) = (
        required("git", "git"),
        required("curl", "curl"),
        gcloud(),
        cargo(),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let s = Scene::new(&[
        ("git", git),
        ("curl", curl),
        ("aws", stub(tmp.path(), "aws")),
        ("gcloud", gcloud),
        ("cargo", cargo),
        ("systemctl", stub(tmp.path(), "systemctl")),
    ]);
    let tools = ["aws", "cargo", "curl", "gcloud", "git", "systemd"];
    let states = || -> BTreeMap<String, String> {
        s.clients()
            .into_iter()
            .map(|(t, r)| (t, r["state"].as_str().unwrap().to_string()))
            .collect()
    };
    let all = |state: &str| -> BTreeMap<String, String> {
        tools
            .iter()
            .map(|t| (t.to_string(), state.into()))
            .collect()
    };
    let home_before = snapshot(&s.user);
    assert_eq!(states(), all("not-set-up"));
    let out = s.run(&[&["clients"][..], &common::CONFIG_TOOLS].concat());
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));

    // Every tool found, none named.
    let said = s.ok("install", &[]);
    for tool in tools {
        assert!(said.contains(&format!("{tool}: ")), "{said}");
    }
    assert_eq!(states(), all("uses-bundle"));
    let out = s.run(&[&["clients"][..], &common::CONFIG_TOOLS].concat());
    assert!(out.status.success(), "{}", both(&out));

    s.ok("uninstall", &[]);
    assert_eq!(states(), all("not-set-up"));
    assert_eq!(snapshot(&s.user), home_before);
}

// ---------------------------------------------------------------------------
// Hostile files

#[test]
fn a_file_its_tool_would_refuse_a_link_and_a_key_set_elsewhere_are_left_alone() {
    let s = Scene::new(&[]);
    let refused = |tools: &[&str], force: bool, says: &str| {
        let mut args = vec!["install", "--clients"];
        args.extend(tools);
        if force {
            args.push("--force");
        }
        let out = s.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", both(&out));
        assert!(stderr_of(&out).contains(says), "{args:?}: {}", both(&out));
    };

    // A config botocore itself would refuse: reported, not touched.
    let aws = "[default]\nregion = eu-west-1\nthis line is not ini\n";
    let aws_config = write(&s.user.join(".aws/config"), aws);
    refused(&["aws"], false, "cannot be edited safely (line 3");
    assert_eq!(fs::read_to_string(&aws_config).unwrap(), aws);
    let r = &s.clients()["aws"];
    assert_eq!(r["state"], "uses-other", "{r}");
    assert!(r["lacks"].as_str().unwrap().contains("line 3"), "{r}");

    // A .gitconfig that is a link (dotfiles): not written through.
    let dotfiles = write(&s.corp.dir().join("dotfiles/gitconfig"), GITCONFIG);
    std::os::unix::fs::symlink(&dotfiles, s.user.join(".gitconfig")).unwrap();
    refused(&["git"], false, "is a link");
    assert_eq!(fs::read_to_string(&dotfiles).unwrap(), GITCONFIG);
    assert!(s.user.join(".gitconfig").is_symlink());

    // A key the user points elsewhere: left alone unless --force, and
    // their file comes back at uninstall.
    let corp_only = write(&s.corp.dir().join("corp-only.pem"), &s.corp.corp.pem);
    let mine = format!("# mine\ncacert = {}\n--compressed\n", corp_only.display());
    let curlrc = write(&s.user.join(".curlrc"), &mine);
    refused(&["curl"], false, "already set to cacert");
    assert_eq!(fs::read_to_string(&curlrc).unwrap(), mine);
    s.ok("install", &["curl", "--force"]);
    let forced = fs::read_to_string(&curlrc).unwrap();
    assert!(forced.starts_with("# mine\ncacert = \""), "{forced}");
    assert!(forced.contains("--compressed\n"), "{forced}");
    s.ok("uninstall", &["curl"]);
    assert_eq!(fs::read_to_string(&curlrc).unwrap(), mine);

    // TOML that a line edit would get wrong: refused, untouched.
    let cargo = "http.timeout = 30\n";
    let cargo_config = write(&s.user.join(".cargo/config.toml"), cargo);
    refused(&["cargo"], false, "edit it by hand");
    assert_eq!(fs::read_to_string(&cargo_config).unwrap(), cargo);

    // A file of the user's where cabundle's own would go.
    let env_d = write(
        &s.user.join(".config/environment.d/60-cabundle.conf"),
        "SSL_CERT_FILE=/mine.pem\n",
    );
    refused(&["systemd"], false, "holds other settings");
    assert_eq!(
        fs::read_to_string(&env_d).unwrap(),
        "SSL_CERT_FILE=/mine.pem\n"
    );

    // Nothing half-written anywhere, and nothing recorded to undo.
    for dir in [".aws", ".cargo", ".config/environment.d", ""] {
        assert_no_temp_files(&s.user.join(dir));
    }
    let out = s.run(&["uninstall", "--clients"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        stderr_of(&out).contains("nothing to undo"),
        "{}",
        both(&out)
    );
}
