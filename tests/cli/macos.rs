//! `sync --macos-export`: a keychain export as the OS store, on any OS, with
//! the admin's trust settings applied.

use crate::common;

use common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

/// What `security trust-settings-export -d` writes, denying `denied` for SSL.
fn trust_settings(denied: &[&str]) -> String {
    let entries: String = denied
        .iter()
        .map(|sha1| {
            format!(
                "<key>{sha1}</key><dict><key>trustSettings</key><array><dict>\
                 <key>kSecTrustSettingsPolicy</key><data>KoZIhvdjZAED</data>\
                 <key>kSecTrustSettingsPolicyName</key><string>sslServer</string>\
                 <key>kSecTrustSettingsResult</key><integer>3</integer>\
                 </dict></array></dict>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\
         <key>trustList</key><dict>{entries}</dict><key>trustVersion</key><integer>1</integer></dict></plist>\n"
    )
}

#[test]
fn an_export_is_the_os_store_and_denied_roots_stay_out_of_every_source() {
    let dir = tempfile::tempdir().unwrap();
    let public = &public_root(0).pem;
    let admin = valid_ca("Admin Keychain CA");
    let denied = valid_ca("Denied Keychain CA");
    let export = write(
        &dir.path().join("roots.pem"),
        format!("{}{}{}", admin.pem, denied.pem, public),
    );
    let settings = write(
        &dir.path().join("trust.plist"),
        trust_settings(&[&openssl_sha1(&denied.pem), &openssl_sha1(public)]),
    );
    let home = dir.path().join("home");
    cabundle(&home)
        .args(["sync", "-v", "--macos-export"])
        .arg(&export)
        .arg("--macos-trust-settings")
        .arg(&settings)
        .assert()
        .success()
        .stderr(contains("macos"));
    let got = file_fingerprints(&home.join("ca-bundle.pem"));
    assert!(got.contains(&openssl_sha256(&admin.pem)));
    assert!(!got.contains(&openssl_sha256(&denied.pem)));
    // Denied by the admin: gone even though the Mozilla snapshot has it.
    assert!(!got.contains(&openssl_sha256(public)));
}

/// Trust settings that do not parse carry the admin's denials, which then
/// cannot be applied: the sync stops, naming the file, and writes nothing.
/// So does an export or a root that is not there.
#[test]
fn unreadable_trust_settings_or_a_missing_input_stop_the_sync() {
    let dir = tempfile::tempdir().unwrap();
    let admin = valid_ca("Admin Keychain CA");
    let export = write(&dir.path().join("roots.pem"), &admin.pem);
    let settings = write(
        &dir.path().join("trust.plist"),
        "<plist><dict><key>trustList</key>",
    );
    let home = dir.path().join("home");
    cabundle(&home)
        .args(["sync", "--macos-export"])
        .arg(&export)
        .arg("--macos-trust-settings")
        .arg(&settings)
        .assert()
        .code(1)
        .stderr(contains("trust.plist").and(contains("cannot be applied")));
    assert!(!home.join("ca-bundle.pem").exists());
    // Missing files and folders named on the command line.
    let missing = dir.path().join("nowhere");
    for args in [
        vec!["sync", "--macos-export", missing.to_str().unwrap()],
        vec![
            "sync",
            "--macos-export",
            export.to_str().unwrap(),
            "--macos-trust-settings",
            missing.to_str().unwrap(),
        ],
        vec!["sync", "--root", missing.to_str().unwrap()],
        vec!["sync", "--root", export.to_str().unwrap()],
    ] {
        cabundle(&home)
            .args(&args)
            .assert()
            .code(1)
            .stderr(contains("nothing was written"));
        assert!(!home.join("ca-bundle.pem").exists(), "{args:?}");
    }
}

#[test]
fn macos_options_that_make_no_sense_together_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    cabundle(dir.path())
        .args(["sync", "--macos-trust-settings", "x.plist"])
        .assert()
        .code(2);
    cabundle(dir.path())
        .args(["sync", "--macos-export", "x.pem", "--root", "/"])
        .assert()
        .code(2);
}
