//! `cabundle clients`: what each runtime will trust — a JVM's cacerts and
//! a Python interpreter — judged against the bundle, and the exit status a
//! script reads. (Each tool's own config: tools_py.rs and tools_sys.rs.)

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::{self, Corp, both, venv};

/// `clients --json` in the corp home, with HOME at `home`, PATH only
/// `path` and JAVA_HOME `java_home`: the reports, and the exit code.
fn clients(s: &Corp, home: &Path, path: &str, java_home: Option<&Path>) -> (Vec<Value>, i32) {
    let mut cmd = common::cabundle(&s.home);
    cmd.args(["clients", "--json"])
        .env("HOME", home)
        .env("PATH", path);
    if let Some(j) = java_home {
        cmd.env("JAVA_HOME", j);
    }
    let out = cmd.output().unwrap();
    let reports: Vec<Value> =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", both(&out)));
    (reports, out.status.code().unwrap_or(-1))
}

fn for_program<'a>(reports: &'a [Value], tool: &str, program: &Path) -> &'a Value {
    reports
        .iter()
        .find(|r| r["tool"] == tool && r["program"].as_str() == program.to_str())
        .unwrap_or_else(|| panic!("no {tool} report for {}: {reports:#?}", program.display()))
}

#[test]
fn a_jvm_is_judged_by_the_certificates_its_cacerts_trusts() {
    let s = Corp::new();
    s.add_corp();
    let home = s.dir().join("user");
    fs::create_dir_all(&home).unwrap();
    let jvm = s.dir().join("jvm");
    fs::create_dir_all(jvm.join("bin")).unwrap();
    let cacerts = jvm.join("lib/security/cacerts");
    fs::create_dir_all(cacerts.parent().unwrap()).unwrap();
    // A JKS of the bundle as it was before the corp CA: what a JDK ships.
    let older = s.dir().join("older");
    common::sync_offline(&older, &[]);
    let out = common::cabundle(&older)
        .args(["export", "--format", "jks", "-o"])
        .arg(&cacerts)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let jvm = fs::canonicalize(&jvm).unwrap();

    let (reports, code) = clients(&s, &home, "/nonexistent", Some(&jvm));
    let r = for_program(&reports, "java", &jvm);
    assert_eq!(r["state"], "uses-other", "{r:#}");
    assert!(
        r["lacks"].as_str().unwrap().contains("no corp (added CA)"),
        "{r:#}"
    );
    assert_eq!(r["fix"], "cabundle install --java");
    assert_eq!(code, 1);

    let out = common::cabundle(&s.home)
        .args(["install", "--java", "--java-home"])
        .arg(&jvm)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let (reports, _) = clients(&s, &home, "/nonexistent", Some(&jvm));
    let r = for_program(&reports, "java", &jvm);
    assert_eq!(r["state"], "uses-bundle", "{r:#}");
}

#[test]
fn a_python_interpreter_is_judged_by_what_its_clients_read() {
    let s = Corp::new();
    s.add_corp();
    let home = s.dir().join("user");
    fs::create_dir_all(&home).unwrap();
    let python = venv::python();
    let bin = python.parent().unwrap().display().to_string();
    let (reports, code) = clients(&s, &home, &bin, None);
    let r = reports
        .iter()
        .find(|r| r["tool"] == "python")
        .unwrap_or_else(|| panic!("no python report: {reports:#?}"));
    assert_ne!(r["state"], "uses-bundle", "{r:#}");
    assert!(
        r["fix"]
            .as_str()
            .unwrap()
            .starts_with("cabundle python install"),
        "{r:#}"
    );
    assert_eq!(code, 1);
}

#[test]
fn an_nss_database_lacks_the_added_ca_until_install_nss_and_an_expired_root_in_it_is_named() {
    if !common::require(
        "certutil",
        "--build-flags",
        "Debian: apt-get install libnss3-tools",
    ) {
        return;
    }
    let s = Corp::new();
    s.add_corp();
    let home = s.dir().join("user");
    let db = home.join(".pki/nssdb");
    fs::create_dir_all(&db).unwrap();
    let certutil = |args: &[&str]| common::certutil(&db, args);
    certutil(&["-N", "--empty-password"]);
    // A root the user trusted once, long expired.
    let old = common::ca("Old Intranet Root", common::days(-800), common::days(-30));
    let old_file = common::write(&s.dir().join("old.pem"), &old.pem);
    certutil(&[
        "-A",
        "-n",
        "old intranet",
        "-t",
        "C,,",
        "-i",
        old_file.to_str().unwrap(),
    ]);
    let db = fs::canonicalize(&db).unwrap();

    let (reports, _) = clients(&s, &home, "/usr/bin:/bin", None);
    let r = for_program(&reports, "nss", &db);
    assert_eq!(r["state"], "uses-other", "{r:#}");
    let lacks = r["lacks"].as_str().unwrap();
    assert!(lacks.contains("no corp (added CA)"), "{r:#}");
    assert!(
        lacks.contains("Old Intranet Root") && lacks.contains("expired"),
        "{r:#}"
    );
    assert_eq!(r["fix"], "cabundle install --nss");

    let out = common::cabundle(&s.home)
        .args(["install", "--nss"])
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let (reports, _) = clients(&s, &home, "/usr/bin:/bin", None);
    let r = for_program(&reports, "nss", &db);
    let lacks = r["lacks"].as_str().unwrap_or("");
    assert!(!lacks.contains("corp"), "{r:#}");
    assert!(lacks.contains("Old Intranet Root"), "{r:#}");
}
