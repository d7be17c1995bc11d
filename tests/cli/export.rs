//! `export`: every format from the one bundle, checked by the tools that
//! read it — keytool for the keystores (and p11-kit's own java-cacerts as
//! a second oracle), openssl for the hashed folder, a YAML parser and
//! trust-manager's CRD schema for the Kubernetes objects — and the same
//! bytes twice. `sync` keeps the exports config.toml lists current.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{
    self, Corp, both, extract_dir, on_path, p11_kit_trust, require, scrubbed_loopback, stderr_of,
    trust, venv, write,
};

/// `cabundle export ARGS` in the corp home (export takes no --root).
/// [`common::keytool_entries`] by the keytool on PATH, which the test
/// requires.
fn keytool_list(store: &Path, password: Option<&str>) -> Option<(Vec<String>, bool)> {
    if !require(
        "keytool",
        "-help",
        "Debian: apt-get install openjdk-17-jdk-headless",
    ) {
        return None;
    }
    Some(common::keytool_entries(
        &on_path("keytool")?,
        store,
        password,
    ))
}

fn exporting(s: &Corp, args: &[&str]) -> assert_cmd::Command {
    let mut cmd = common::cabundle(&s.home);
    cmd.arg("export").args(args);
    cmd
}

/// `export ARGS` in the corp home, which must succeed: its stdout.
fn export(s: &Corp, args: &[&str]) -> Vec<u8> {
    let out = exporting(s, args).output().unwrap();
    assert!(out.status.success(), "export {args:?}: {}", both(&out));
    out.stdout
}

#[test]
fn keystores_hold_exactly_the_bundle_as_keytool_and_p11_kit_see_it() {
    let s = Corp::new();
    s.add_corp();
    let dir = s.dir();
    let p12 = dir.join("out/truststore.p12");
    let p12_pass = dir.join("out/changeit.p12");
    let jks = dir.join("out/cacerts.jks");
    export(&s, &["--format", "pkcs12", "-o", p12.to_str().unwrap()]);
    export(
        &s,
        &[
            "--format",
            "pkcs12",
            "--password",
            "changeit",
            "-o",
            p12_pass.to_str().unwrap(),
        ],
    );
    export(&s, &["--format", "jks", "-o", jks.to_str().unwrap()]);
    let want = common::bundle_shas(&s.bundle());
    assert!(want.len() > 100);
    for (store, password) in [
        (&p12, None),
        (&p12_pass, Some("changeit")),
        (&jks, Some("changeit")),
    ] {
        let Some((shas, all_trusted)) = keytool_list(store, password) else {
            return;
        };
        assert_eq!(shas, want, "{}", store.display());
        assert!(all_trusted, "{}", store.display());
    }
    // The wrong password is refused by keytool: the JKS digest is real.
    let out = scrubbed_loopback(on_path("keytool").unwrap())
        .args(["-list", "-keystore"])
        .arg(&jks)
        .args(["-storepass", "wrong-password"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", both(&out));

    // p11-kit's own Java keystore of the same anchors holds the same set.
    let source = dir.join("p11-source");
    write(
        &source.join("anchors/bundle.pem"),
        fs::read(s.bundle()).unwrap(),
    );
    let paths = source.display().to_string();
    if p11_kit_trust(dir, &paths).is_none() {
        return;
    }
    let out_dir = extract_dir(&dir.join("p11-out"));
    let java_cacerts = out_dir.join("cacerts");
    trust(
        dir,
        &paths,
        &[
            "extract",
            "--overwrite",
            "--format=java-cacerts",
            "--filter=ca-anchors",
            "--purpose=server-auth",
            java_cacerts.to_str().unwrap(),
        ],
    );
    let (theirs, _) = keytool_list(&java_cacerts, Some("changeit")).unwrap();
    assert_eq!(theirs, want);
}

#[test]
fn every_export_is_the_same_bytes_twice_and_pem_is_the_bundle() {
    let s = Corp::new();
    s.add_corp();
    for format in [
        "pem",
        "pkcs12",
        "jks",
        "configmap",
        "secret",
        "trust-manager",
    ] {
        let mut args = vec!["--format", format];
        if format != "pem" && format != "pkcs12" && format != "jks" {
            args.push("--with-keystores");
        }
        let first = export(&s, &args);
        let second = export(&s, &args);
        assert!(!first.is_empty(), "{format}");
        assert_eq!(first, second, "{format}");
        if format == "pem" {
            assert_eq!(first, fs::read(s.bundle()).unwrap());
        }
    }
}

#[test]
fn an_openssl_dir_export_verifies_a_corp_leaf_with_openssl() {
    let s = Corp::new();
    s.add_corp();
    let dir = s.dir().join("exported-certs");
    let out = exporting(
        &s,
        &["--format", "openssl-dir", "-o", dir.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let (leaf, _) = s.corp.leaf(common::days(-1), common::days(30));
    let leaf_file = write(&s.dir().join("leaf.pem"), &leaf);
    let verified = std::process::Command::new("openssl")
        .args(["verify", "-no-CAfile", "-CApath"])
        .arg(&dir)
        .arg(&leaf_file)
        .output()
        .unwrap();
    assert!(verified.status.success(), "{}", both(&verified));
    // Without -o it is refused: a folder has nowhere to go on stdout.
    let out = exporting(&s, &["--format", "openssl-dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("-o DIR"), "{}", both(&out));
}

/// The test venv's Python, which has pyyaml and jsonschema.
fn python(script: &str, args: &[&Path]) -> (bool, String) {
    let out = scrubbed_loopback(venv::python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    (out.status.success(), both(&out))
}

/// Parse the YAML, check the PEM under the key is the bundle byte for
/// byte, and that binaryData decodes to what keytool reads.
const CHECK_KUBE: &str = r#"
import base64, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
bundle = open(sys.argv[2]).read()
out = sys.argv[3]
kinds = [d["kind"] for d in docs]
print("kinds", kinds)
for d in docs:
    if d["kind"] == "ConfigMap":
        assert d["data"]["ca-certificates.crt"] == bundle, "ConfigMap PEM differs"
        for k, v in (d.get("binaryData") or {}).items():
            open(out + "/cm-" + k, "wb").write(base64.b64decode(v))
    if d["kind"] == "Secret":
        pem = d.get("stringData", {}).get("ca-certificates.crt")
        if pem is None:
            pem = base64.b64decode(d["data"]["ca-certificates.crt"]).decode()
        assert pem == bundle, "Secret PEM differs"
        for k, v in (d.get("data") or {}).items():
            if k != "ca-certificates.crt":
                open(out + "/secret-" + k, "wb").write(base64.b64decode(v))
    ann = d["metadata"].get("annotations", {})
    print("annotations", sorted(ann))
"#;

#[test]
fn kubernetes_objects_carry_the_bundle_and_keystores_keytool_reads() {
    let s = Corp::new();
    s.add_corp();
    let out_dir = s.dir().join("kube");
    fs::create_dir_all(&out_dir).unwrap();
    for format in ["configmap", "secret"] {
        let yaml = write(
            &out_dir.join(format!("{format}.yaml")),
            export(
                &s,
                &[
                    "--format",
                    format,
                    "--with-keystores",
                    "--namespace",
                    "apps",
                ],
            ),
        );
        let (ok, said) = python(CHECK_KUBE, &[&yaml, &s.bundle(), &out_dir]);
        assert!(ok, "{format}: {said}");
    }
    let stores: Vec<PathBuf> = fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_none_or(|e| e != "yaml"))
        .collect();
    assert!(stores.len() >= 4, "{stores:?}");
    let want = common::bundle_shas(&s.bundle());
    for store in stores {
        let jks = store.to_string_lossy().ends_with(".jks");
        let password = if jks { Some("changeit") } else { None };
        let Some((shas, all_trusted)) = keytool_list(&store, password) else {
            return;
        };
        assert_eq!(shas, want, "{}", store.display());
        assert!(all_trusted);
    }
    // A name Kubernetes would refuse is refused here.
    let out = exporting(&s, &["--format", "configmap", "--name", "Not_A_Name"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", both(&out));
    assert!(stderr_of(&out).contains("Not_A_Name"), "{}", both(&out));
}

/// Validate each trust-manager resource against the vendored CRD's schema
/// for its version.
const CHECK_CRD: &str = r#"
import glob, sys, yaml, jsonschema
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
bundle = open(sys.argv[2]).read()
schemas = {}
for f in glob.glob(sys.argv[3] + "/*.yaml"):
    for crd in yaml.safe_load_all(open(f)):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        for v in crd["spec"]["versions"]:
            key = (crd["spec"]["group"] + "/" + v["name"], crd["spec"]["names"]["kind"])
            schemas[key] = v["schema"]["openAPIV3Schema"]
checked = 0
for d in docs:
    if d["kind"] == "ConfigMap":
        assert d["data"]["ca-certificates.crt"] == bundle
        continue
    schema = schemas[(d["apiVersion"], d["kind"])]
    jsonschema.validate(d, schema)
    checked += 1
assert checked == 1, checked
print("valid", [(d["apiVersion"], d["kind"]) for d in docs])
"#;

#[test]
fn trust_manager_resources_validate_against_the_crd_schema() {
    let s = Corp::new();
    s.add_corp();
    let crds = common::source_file("tests/fixtures/trust-manager");
    for api in ["bundle", "cluster-bundle"] {
        for keystores in [false, true] {
            let mut args = vec!["--format", "trust-manager", "--api", api];
            if keystores {
                args.push("--with-keystores");
            }
            let yaml = write(
                &s.dir().join(format!("tm-{api}-{keystores}.yaml")),
                export(&s, &args),
            );
            let (ok, said) = python(CHECK_CRD, &[&yaml, &s.bundle(), &crds]);
            assert!(ok, "{api} {keystores}: {said}");
        }
    }
}

#[test]
fn sync_keeps_the_exports_config_lists_current() {
    let s = Corp::new();
    let p12 = s.dir().join("exports/truststore.p12");
    let yaml = s.dir().join("exports/ca.yaml");
    write(
        &s.home.join("config.toml"),
        format!(
            "[[export]]\nformat = \"pkcs12\"\npath = \"{}\"\n\n[[export]]\nformat = \"configmap\"\npath = \"{}\"\nnamespace = \"apps\"\n",
            p12.display(),
            yaml.display()
        ),
    );
    let out = s.run(&["sync"]).output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        stderr_of(&out).contains("exported pkcs12"),
        "{}",
        both(&out)
    );
    let before = fs::read(&p12).unwrap();
    // Unchanged set: not rewritten, not said.
    let out = s.run(&["sync"]).output().unwrap();
    assert!(!stderr_of(&out).contains("exported"), "{}", both(&out));
    assert_eq!(fs::read(&p12).unwrap(), before);
    s.add_corp();
    let after = fs::read(&p12).unwrap();
    assert_ne!(after, before);
    let corp = common::sha256_hex(&common::der(&s.corp.pem));
    if let Some((shas, _)) = keytool_list(&p12, None) {
        assert!(shas.contains(&corp));
        assert_eq!(shas, common::bundle_shas(&s.bundle()));
    }
    assert!(
        fs::read_to_string(&yaml)
            .unwrap()
            .contains(&s.corp.pem.lines().nth(1).unwrap()[..20])
    );

    // An export that cannot be written: the bundle is, and sync says so.
    write(
        &s.home.join("config.toml"),
        "[[export]]\nformat = \"pem\"\npath = \"/proc/cabundle-cannot-write-here.pem\"\n",
    );
    let out = s.run(&["sync"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stderr_of(&out).contains("/proc/cabundle-cannot-write-here.pem"),
        "{}",
        both(&out)
    );

    // A relative path is refused when the config is read.
    write(
        &s.home.join("config.toml"),
        "[[export]]\nformat = \"pem\"\npath = \"rel.pem\"\n",
    );
    let out = s.run(&["sync"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr_of(&out).contains("absolute path"), "{}", both(&out));
}

#[test]
fn export_before_any_sync_says_to_sync_first() {
    let home = tempfile::tempdir().unwrap();
    let out = common::cabundle(home.path())
        .args(["export", "--format", "pem"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("cabundle sync"), "{}", both(&out));
}
