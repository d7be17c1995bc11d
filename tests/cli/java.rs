//! Java: `install --java` / `uninstall --java` on scratch copies of the
//! real JDK, checked with a real Java client (`java Fetch.java`) against a
//! server signed by an added corp CA, and with keytool; `env --java`'s
//! JAVA_TOOL_OPTIONS; and the hostile cases (a corrupt cacerts, a link out
//! of the JVM, no lib/security, a read-only JVM). The machine's own JDK is
//! only ever read.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use crate::common::server::Https;

use crate::common::{
    self, Corp, both, days, on_path, require, require_that, scrubbed_loopback, stderr_of, text,
};

/// A JDK to copy: the one `java` on PATH belongs to (Debian's
/// openjdk-17-jdk-headless in CI).
fn system_jdk() -> Option<PathBuf> {
    if !require(
        "java",
        "-version",
        "Debian: apt-get install openjdk-17-jdk-headless",
    ) {
        return None;
    }
    let java = fs::canonicalize(on_path("java")?).ok()?;
    Some(java.parent()?.parent()?.to_path_buf())
}

/// A private copy of the JDK in `dir`: what the JVM runs from (bin, conf,
/// lib, release), hard-linked where the file system allows, else copied.
/// Links keep pointing where they did: its cacerts is still the
/// distribution's link. Writes replace files (rename), so the real JDK's
/// files are never written through the hard links.
fn jdk_copy(jdk: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join("jdk");
    fs::create_dir_all(&copy).unwrap();
    for part in ["bin", "conf", "lib", "release"] {
        let from = jdk.join(part);
        if fs::symlink_metadata(&from).is_err() {
            continue;
        }
        let linked = StdCommand::new("cp")
            .args(["-a", "--link"])
            .arg(&from)
            .arg(&copy)
            .status()
            .is_ok_and(|s| s.success());
        if !linked {
            let _ = fs::remove_dir_all(copy.join(part));
            let ok = StdCommand::new("cp")
                .arg("-a")
                .arg(&from)
                .arg(&copy)
                .status()
                .unwrap();
            assert!(ok.success(), "cp -a {}", from.display());
        }
    }
    copy
}

/// The copy's cacerts, made a file of its own (the bytes it linked to).
fn own_cacerts(jdk: &Path) -> PathBuf {
    let cacerts = jdk.join("lib/security/cacerts");
    let bytes = fs::read(&cacerts).unwrap();
    fs::remove_file(&cacerts).unwrap();
    fs::write(&cacerts, bytes).unwrap();
    cacerts
}

const FETCH: &str = r#"
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Fetch {
    public static void main(String[] args) throws Exception {
        try {
            HttpClient client = HttpClient.newHttpClient();
            HttpRequest request = HttpRequest.newBuilder(URI.create(args[0])).build();
            System.out.print(client.send(request, HttpResponse.BodyHandlers.ofString()).body());
        } catch (javax.net.ssl.SSLException e) {
            System.out.println("FAIL " + e);
            System.exit(1);
        }
    }
}
"#;

/// `java Fetch.java URL` with the JDK at `jdk`, nothing inherited but
/// `extra` (JAVA_TOOL_OPTIONS): its output, and whether it succeeded.
/// [`common::keytool_entries`] by the JDK at `jdk`.
fn keytool_list(jdk: &Path, store: &Path, password: Option<&str>) -> (Vec<String>, bool) {
    common::keytool_entries(&jdk.join("bin/keytool"), store, password)
}

fn fetch(jdk: &Path, dir: &Path, url: &str, extra: &[(&str, &str)]) -> (bool, String) {
    let src = dir.join("Fetch.java");
    if !src.exists() {
        fs::write(&src, FETCH).unwrap();
    }
    let out = scrubbed_loopback(jdk.join("bin/java"))
        .env("HOME", dir)
        .envs(extra.iter().copied())
        .arg(&src)
        .arg(url)
        .output()
        .unwrap();
    (out.status.success(), both(&out))
}

#[test]
fn install_java_makes_a_jdk_trust_the_corp_ca_and_uninstall_restores_it_byte_for_byte() {
    let Some(jdk) = system_jdk() else {
        return;
    };
    let s = Corp::new();
    let server = Https::hello(s.dir(), &s.corp.leaf(days(-1), days(30)));
    let url = server.url("");
    let copy = jdk_copy(&jdk, s.dir());

    // The distribution's link is left alone, and said to be.
    let home = copy.to_str().unwrap();
    s.add_corp();
    let out = s
        .run(&["install", "--java", "--java-home", home])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        stderr_of(&out).contains("the distribution's store"),
        "{}",
        both(&out)
    );
    assert!(
        fs::symlink_metadata(copy.join("lib/security/cacerts"))
            .unwrap()
            .file_type()
            .is_symlink()
    );

    // A cacerts of its own: the JDK's roots, without the corp CA.
    let cacerts = own_cacerts(&copy);
    let original = fs::read(&cacerts).unwrap();
    let (ok, said) = fetch(&copy, s.dir(), &url, &[]);
    assert!(!ok && said.contains("FAIL"), "{said}");

    let out = s
        .run(&["install", "--java", "--java-home", home])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stdout).contains(&format!("installed {}", cacerts.display())),
        "{}",
        both(&out)
    );
    // JKS with changeit, as it was; exactly the bundle, all trusted.
    let (shas, all_trusted) = keytool_list(&copy, &cacerts, Some("changeit"));
    assert_eq!(shas, common::bundle_shas(&s.bundle()));
    assert!(all_trusted);
    assert_eq!(&fs::read(&cacerts).unwrap()[..4], &[0xfe, 0xed, 0xfe, 0xed]);
    let (ok, said) = fetch(&copy, s.dir(), &url, &[]);
    assert!(ok, "{said}");
    assert!(
        said.contains("hello from the cabundle test server"),
        "{said}"
    );

    // Installing again changes nothing.
    let out = s
        .run(&["install", "--java", "--java-home", home])
        .output()
        .unwrap();
    assert!(
        stderr_of(&out).contains("already holds the bundle"),
        "{}",
        both(&out)
    );

    let out = s
        .run(&["uninstall", "--java", "--java-home", home])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(fs::read(&cacerts).unwrap(), original);
    let (ok, said) = fetch(&copy, s.dir(), &url, &[]);
    assert!(!ok, "{said}");
    drop(server);
}

#[test]
fn force_replaces_the_distribution_link_and_uninstall_puts_the_link_back() {
    let Some(jdk) = system_jdk() else {
        return;
    };
    let s = Corp::new();
    s.add_corp();
    let copy = jdk_copy(&jdk, s.dir());
    let cacerts = copy.join("lib/security/cacerts");
    let link = fs::read_link(&cacerts).unwrap();
    let home = copy.to_str().unwrap();
    let out = s
        .run(&["install", "--java", "--force", "--java-home", home])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert!(fs::symlink_metadata(&cacerts).unwrap().is_file());
    // The distribution's file itself is untouched (it is only read).
    let (shas, _) = keytool_list(&copy, &cacerts, Some("changeit"));
    assert_eq!(shas, common::bundle_shas(&s.bundle()));
    s.run(&["uninstall", "--java"]).assert().success();
    assert_eq!(fs::read_link(&cacerts).unwrap(), link);
}

#[test]
fn env_java_points_a_jvm_at_the_pkcs12_beside_the_bundle() {
    let Some(jdk) = system_jdk() else {
        return;
    };
    let s = Corp::new();
    let server = Https::hello(s.dir(), &s.corp.leaf(days(-1), days(30)));
    let url = server.url("");
    s.add_corp();
    let out = common::cabundle(&s.home)
        .args([
            "env",
            "--java",
            "--shell",
            "json",
            "--only",
            "SSL_CERT_FILE",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    let vars: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let options = vars["JAVA_TOOL_OPTIONS"].as_str().unwrap().to_string();
    let p12 = s.home.join("ca-bundle.p12");
    assert!(options.contains(p12.to_str().unwrap()), "{options}");
    let (shas, all_trusted) = keytool_list(&jdk, &p12, Some(""));
    assert_eq!(shas, common::bundle_shas(&s.bundle()));
    assert!(all_trusted);

    let (ok, said) = fetch(&jdk, s.dir(), &url, &[]);
    assert!(!ok, "the JDK's own cacerts lacks the corp CA: {said}");
    let (ok, said) = fetch(&jdk, s.dir(), &url, &[("JAVA_TOOL_OPTIONS", &options)]);
    assert!(ok, "{said}");
    assert!(
        said.contains("hello from the cabundle test server"),
        "{said}"
    );
    drop(server);
}

/// A JVM-shaped folder with `cacerts` holding `bytes` (none: no
/// lib/security at all).
fn fake_jvm(dir: &Path, name: &str, bytes: Option<&[u8]>) -> PathBuf {
    let home = dir.join(name);
    fs::create_dir_all(home.join("bin")).unwrap();
    if let Some(bytes) = bytes {
        common::write(&home.join("lib/security/cacerts"), bytes);
    }
    home
}

#[test]
fn hostile_jvms_are_reported_and_left_exactly_as_they_were() {
    let s = Corp::new();
    s.add_corp();
    let garbage = b"this is no keystore\n".repeat(40);
    let corrupt = fake_jvm(s.dir(), "corrupt", Some(&garbage));
    let empty = fake_jvm(s.dir(), "no-security", None);
    // A link out of the JVM to a file that is no distribution store.
    let elsewhere = common::write(&s.dir().join("elsewhere/cacerts"), b"\xfe\xed\xfe\xed");
    let out_link = fake_jvm(s.dir(), "link-out", None);
    fs::create_dir_all(out_link.join("lib/security")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out_link.join("lib/security/cacerts")).unwrap();
    // A PKCS#12 with a password other than changeit (keytool's own).
    let before = common::snapshot(s.dir());
    let args: Vec<String> = [&corrupt, &empty, &out_link]
        .iter()
        .flat_map(|h| ["--java-home".to_string(), h.display().to_string()])
        .collect();
    let mut cmd = s.run(&["install", "--java"]);
    cmd.args(&args);
    let out = cmd.output().unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        err.contains("not a Java keystore: neither JKS nor PKCS#12; left as it is"),
        "{err}"
    );
    assert!(err.contains("no lib/security/cacerts"), "{err}");
    assert!(err.contains("links out of the JVM"), "{err}");
    assert!(err.contains("2 JVM trust stores left unchanged"), "{err}");
    // Nothing outside cabundle's home changed.
    let after = common::snapshot(s.dir());
    let outside = |snap: &[(PathBuf, Vec<u8>)]| -> Vec<(PathBuf, Vec<u8>)> {
        snap.iter()
            .filter(|(p, _)| !p.starts_with(&s.home))
            .cloned()
            .collect()
    };
    assert_eq!(outside(&before), outside(&after));
}

#[test]
fn a_read_only_jvm_is_reported_and_left_alone() {
    let Some(jdk) = system_jdk() else {
        return;
    };
    let s = Corp::new();
    s.add_corp();
    let copy = jdk_copy(&jdk, s.dir());
    let cacerts = own_cacerts(&copy);
    let original = fs::read(&cacerts).unwrap();
    let home = copy.display().to_string();
    // Root writes through permission bits: a read-only bind mount in a
    // private mount namespace stops it, as a read-only file system would.
    let out = if cabundle::system::is_root() {
        if !require_that(on_path("unshare").is_some(), "unshare (util-linux)") {
            return;
        }
        let security = copy.join("lib/security");
        let script = format!(
            "mount --bind {0} {0} && mount -o remount,bind,ro {0} && exec \"$0\" \"$@\"",
            security.display()
        );
        let bin = assert_cmd::cargo::cargo_bin("cabundle");
        scrubbed_loopback("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .arg(bin)
            .args(["install", "--java", "--java-home", &home])
            .env("CABUNDLE_HOME", &s.home)
            .output()
            .unwrap()
    } else {
        let security = copy.join("lib/security");
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&security, fs::Permissions::from_mode(0o555)).unwrap();
        let out = s
            .run(&["install", "--java", "--java-home", &home])
            .output()
            .unwrap();
        fs::set_permissions(&security, fs::Permissions::from_mode(0o755)).unwrap();
        out
    };
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        stderr_of(&out).contains("cannot be written"),
        "{}",
        both(&out)
    );
    assert_eq!(fs::read(&cacerts).unwrap(), original);
    // Nothing is recorded for it: uninstall has nothing to restore.
    let out = s.run(&["uninstall", "--java"]).output().unwrap();
    assert!(
        stderr_of(&out).contains("nothing to restore"),
        "{}",
        both(&out)
    );
}

#[test]
fn sync_keeps_an_installed_jvm_current_and_leaves_a_replaced_one_alone() {
    let Some(jdk) = system_jdk() else {
        return;
    };
    let s = Corp::new();
    let copy = jdk_copy(&jdk, s.dir());
    let cacerts = own_cacerts(&copy);
    let home = copy.display().to_string();
    s.run(&["install", "--java", "--java-home", &home])
        .assert()
        .success();
    let corp_sha = common::sha256_hex(&common::der(&s.corp.pem));
    let (shas, _) = keytool_list(&copy, &cacerts, Some("changeit"));
    assert!(!shas.contains(&corp_sha));
    // add re-syncs, and the sync carries the corp CA into the JVM.
    let out = s
        .run(&["add", s.corp_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        stderr_of(&out).contains("updated the JVM trust store"),
        "{}",
        both(&out)
    );
    let (shas, _) = keytool_list(&copy, &cacerts, Some("changeit"));
    assert!(shas.contains(&corp_sha));
    // A JDK update puts its own cacerts back: sync leaves it alone.
    fs::write(&cacerts, b"a JDK update's cacerts").unwrap();
    let out = s.run(&["sync"]).output().unwrap();
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        stderr_of(&out).contains("changed since cabundle wrote it"),
        "{}",
        both(&out)
    );
    assert_eq!(fs::read(&cacerts).unwrap(), b"a JDK update's cacerts");
}
