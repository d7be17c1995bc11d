//! One fixture tree per OS family of the layout table (Debian/Ubuntu, Alpine,
//! RHEL/Fedora/Amazon, SUSE, Arch), built from generated certificates and
//! roots of the embedded Mozilla snapshot, then `cabundle sync --root TREE`.
//! The bundle is checked certificate by certificate against what openssl
//! says about the inputs, and `list --json --all` for how each was judged.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use common::*;
use rcgen::{BasicConstraints, IsCa};
use tempfile::TempDir;

// ---------------------------------------------------------------- helpers

/// A path inside the system, as a path under `root`.
fn at(root: &Path, system: &str) -> PathBuf {
    root.join(system.trim_start_matches('/'))
}

/// What the bundle must be: every unexpired snapshot root except those the
/// tree distrusts, plus every unexpired certificate the tree holds. Expiry
/// is openssl's (`-checkend 0`), not ours.
fn expected(tree_pems: &[String], untrusted: &[String]) -> BTreeSet<String> {
    let mut want = mozilla_unexpired();
    for fp in untrusted {
        want.remove(fp);
    }
    for pem in tree_pems {
        let (fp, unexpired) = openssl_sha256_unexpired(pem);
        if unexpired {
            want.insert(fp);
        }
    }
    want
}

fn assert_same(got: &BTreeSet<String>, want: &BTreeSet<String>, err: &str) {
    let missing: Vec<_> = want.difference(got).collect();
    let extra: Vec<_> = got.difference(want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "bundle differs: missing {missing:?}, unexpected {extra:?}\nstderr:\n{err}"
    );
}

/// A corporate chain file: a root and the issuing CA it signed, both PEM.
fn corp_chain(name: &str) -> Vec<String> {
    let root = valid_ca(&format!("{name} Root"));
    let mut p = ca_params(&format!("{name} Issuing CA"), days(-30), days(1800));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let issuing = Ca::made(p, Some(&root)).pem;
    vec![root.pem, issuing]
}

// ------------------------------------------------------- the family table

/// How the good drop-in anchor is written.
#[derive(Clone, Copy)]
enum Format {
    /// One certificate, DER.
    Der,
    /// Root and issuing CA in one PEM file, with comments around them.
    Chain,
    /// One certificate, PEM.
    Pem,
}

/// How the admin distrusts a public root, the family's way.
#[derive(Clone, Copy)]
enum Distrust {
    /// `!mozilla/NAME.crt` in /etc/ca-certificates.conf, the file under
    /// /usr/share/ca-certificates/mozilla/ (Debian and Alpine).
    ConfBang,
    /// A copy of the certificate in this p11-kit blocklist folder.
    Folder(&'static str),
}

struct Family {
    family: &'static str,
    /// (path, text) of os-release. `/usr/lib/os-release` gets the usual
    /// relative `/etc/os-release` link. `None`: detection must come from
    /// marker files.
    os_release: Option<(&'static str, &'static str)>,
    /// The PRETTY_NAME that `sync` must show.
    pretty: &'static str,
    /// Release files the distribution ships: (path, contents).
    markers: &'static [(&'static str, &'static str)],
    /// The extracted bundle the distribution's updater wrote.
    bundle: &'static str,
    /// The good drop-in anchor, which the extracted bundle does not hold
    /// yet (the updater has not run since it was dropped in).
    anchor: &'static str,
    format: Format,
    /// An anchor that expired yesterday.
    expired: &'static str,
    /// A half-copied PEM file among the anchors.
    corrupt: &'static str,
    /// A valid CA the family's updater does not read (wrong extension).
    ignored: Option<&'static str>,
    distrust: Distrust,
    /// What the distrusted root's `reason` must name.
    reason: &'static str,
    /// Put a Mozilla root rejected for serverAuth by OpenSSL aux data into
    /// /etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt.
    aux_reject: bool,
    /// Which unexpired snapshot roots to use: the duplicate is this one, the
    /// distrusted one the next, the aux-rejected one the one after.
    pick: usize,
}

const UBUNTU: Family = Family {
    family: "debian",
    os_release: Some((
        "/etc/os-release",
        "PRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"24.04\"\n\
         VERSION=\"24.04.1 LTS (Noble Numbat)\"\nVERSION_CODENAME=noble\nID=ubuntu\n\
         ID_LIKE=debian\nHOME_URL=\"https://www.ubuntu.com/\"\nUBUNTU_CODENAME=noble\n",
    )),
    pretty: "Ubuntu 24.04.1 LTS",
    markers: &[("/etc/debian_version", "trixie/sid\n")],
    bundle: "/etc/ssl/certs/ca-certificates.crt",
    anchor: "/usr/local/share/ca-certificates/corp/corp-root.crt",
    format: Format::Der,
    expired: "/usr/local/share/ca-certificates/old-proxy.crt",
    corrupt: "/usr/local/share/ca-certificates/half-copied.crt",
    ignored: Some("/usr/local/share/ca-certificates/not-read.pem"),
    distrust: Distrust::ConfBang,
    reason: "/etc/ca-certificates.conf (!mozilla/Distrusted_Public_Root.crt)",
    aux_reject: false,
    pick: 0,
};

const ALPINE: Family = Family {
    family: "alpine",
    os_release: Some((
        "/etc/os-release",
        "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n\
         PRETTY_NAME=\"Alpine Linux v3.20\"\nHOME_URL=\"https://alpinelinux.org/\"\n\
         BUG_REPORT_URL=\"https://gitlab.alpinelinux.org/alpine/aports/-/issues\"\n",
    )),
    pretty: "Alpine Linux v3.20",
    markers: &[("/etc/alpine-release", "3.20.3\n")],
    bundle: "/etc/ssl/certs/ca-certificates.crt",
    // Alpine's updater reads every file here, whatever its name.
    anchor: "/usr/local/share/ca-certificates/corp-chain.pem",
    format: Format::Chain,
    expired: "/usr/local/share/ca-certificates/old-proxy",
    corrupt: "/usr/local/share/ca-certificates/half-copied.txt",
    ignored: None,
    distrust: Distrust::ConfBang,
    reason: "/etc/ca-certificates.conf (!mozilla/Distrusted_Public_Root.crt)",
    aux_reject: false,
    pick: 3,
};

const FEDORA: Family = Family {
    family: "rhel",
    os_release: Some((
        "/usr/lib/os-release",
        "NAME=\"Fedora Linux\"\nVERSION=\"40 (Container Image)\"\nID=fedora\n\
         VERSION_ID=40\nVERSION_CODENAME=\"\"\nPLATFORM_ID=\"platform:f40\"\n\
         PRETTY_NAME=\"Fedora Linux 40 (Container Image)\"\nANSI_COLOR=\"0;38;2;60;110;180\"\n\
         CPE_NAME=\"cpe:/o:fedoraproject:fedora:40\"\nVARIANT=\"Container Image\"\n\
         VARIANT_ID=container\n",
    )),
    pretty: "Fedora Linux 40 (Container Image)",
    markers: &[
        ("/etc/fedora-release", "Fedora release 40 (Forty)\n"),
        ("/etc/redhat-release", "Fedora release 40 (Forty)\n"),
        ("/etc/system-release", "Fedora release 40 (Forty)\n"),
    ],
    bundle: "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    anchor: "/etc/pki/ca-trust/source/anchors/corp-root.pem",
    format: Format::Pem,
    expired: "/etc/pki/ca-trust/source/anchors/old-proxy.pem",
    corrupt: "/etc/pki/ca-trust/source/anchors/half-copied.pem",
    ignored: None,
    distrust: Distrust::Folder("/etc/pki/ca-trust/source/blocklist"),
    reason: "blocklist /etc/pki/ca-trust/source/blocklist/",
    aux_reject: true,
    pick: 6,
};

const AMAZON: Family = Family {
    family: "rhel",
    os_release: Some((
        "/etc/os-release",
        "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\n\
         VERSION_ID=\"2\"\nPRETTY_NAME=\"Amazon Linux 2\"\nANSI_COLOR=\"0;33\"\n\
         CPE_NAME=\"cpe:2.3:o:amazon:amazon_linux:2\"\nHOME_URL=\"https://amazonlinux.com/\"\n",
    )),
    pretty: "Amazon Linux 2",
    markers: &[("/etc/system-release", "Amazon Linux release 2 (Karoo)\n")],
    bundle: "/etc/pki/tls/certs/ca-bundle.crt",
    // The packaged anchor folder, and a DER file with a .cer name.
    anchor: "/usr/share/pki/ca-trust-source/anchors/corp-root.cer",
    format: Format::Der,
    expired: "/etc/pki/ca-trust/source/anchors/old-proxy.crt",
    corrupt: "/usr/share/pki/ca-trust-source/anchors/half-copied.pem",
    ignored: None,
    // The legacy name, from before p11-kit 0.23.
    distrust: Distrust::Folder("/etc/pki/ca-trust/source/blacklist"),
    reason: "/etc/pki/ca-trust/source/blacklist/",
    aux_reject: false,
    pick: 9,
};

const LEAP: Family = Family {
    family: "suse",
    os_release: Some((
        "/usr/lib/os-release",
        "NAME=\"openSUSE Leap\"\nVERSION=\"15.6\"\nID=\"opensuse-leap\"\n\
         ID_LIKE=\"suse opensuse\"\nVERSION_ID=\"15.6\"\nPRETTY_NAME=\"openSUSE Leap 15.6\"\n\
         ANSI_COLOR=\"0;32\"\nCPE_NAME=\"cpe:/o:opensuse:leap:15.6\"\n\
         HOME_URL=\"https://www.opensuse.org/\"\n",
    )),
    pretty: "openSUSE Leap 15.6",
    markers: &[("/etc/SUSE-brand", "openSUSE\nVERSION = 15.6\n")],
    bundle: "/var/lib/ca-certificates/ca-bundle.pem",
    anchor: "/etc/pki/trust/anchors/corp-root.pem",
    format: Format::Pem,
    expired: "/usr/share/pki/trust/anchors/old-proxy.pem",
    corrupt: "/etc/pki/trust/anchors/half-copied.pem",
    ignored: None,
    distrust: Distrust::Folder("/etc/pki/trust/blocklist"),
    reason: "blocklist /etc/pki/trust/blocklist/",
    aux_reject: false,
    pick: 12,
};

const ARCH: Family = Family {
    family: "arch",
    os_release: Some((
        "/usr/lib/os-release",
        "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\nBUILD_ID=rolling\n\
         ANSI_COLOR=\"38;2;23;147;209\"\nHOME_URL=\"https://archlinux.org/\"\nLOGO=archlinux-logo\n",
    )),
    pretty: "Arch Linux",
    markers: &[("/etc/arch-release", "")],
    bundle: "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
    anchor: "/etc/ca-certificates/trust-source/anchors/corp-root.crt",
    format: Format::Pem,
    expired: "/etc/ca-certificates/trust-source/anchors/old-proxy.crt",
    corrupt: "/etc/ca-certificates/trust-source/anchors/half-copied.crt",
    ignored: None,
    distrust: Distrust::Folder("/etc/ca-certificates/trust-source/blacklist"),
    reason: "/etc/ca-certificates/trust-source/blacklist/",
    aux_reject: false,
    pick: 15,
};

/// Debian with no os-release at all (a minimal image that dropped it).
/// Only /etc/debian_version says what it is; the bundle path alone would
/// also fit Alpine, whose updater reads every name, so the `*.crt` rule
/// shows which layout was used.
const DEBIAN_NO_OS_RELEASE: Family = Family {
    family: "debian",
    os_release: None,
    pretty: "unknown release",
    markers: &[("/etc/debian_version", "12.8\n")],
    bundle: "/etc/ssl/certs/ca-certificates.crt",
    anchor: "/usr/local/share/ca-certificates/corp-root.crt",
    format: Format::Pem,
    expired: "/usr/local/share/ca-certificates/old-proxy.crt",
    corrupt: "/usr/local/share/ca-certificates/half-copied.crt",
    ignored: Some("/usr/local/share/ca-certificates/corp-root.pem"),
    distrust: Distrust::ConfBang,
    reason: "/etc/ca-certificates.conf (!mozilla/Distrusted_Public_Root.crt)",
    aux_reject: false,
    pick: 18,
};

// ------------------------------------------------------------ the fixture

struct Tree {
    _dir: TempDir,
    root: PathBuf,
    home: PathBuf,
    /// Every certificate put into the tree, to be judged on its dates.
    pems: Vec<String>,
    /// Snapshot roots the tree says not to trust.
    untrusted: Vec<String>,
    good: Vec<String>,
    expired: String,
    dup: String,
    distrusted: String,
    rejected: Option<String>,
    ignored: Option<String>,
    der_ignored: Option<String>,
}

fn build(f: &Family) -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let home = dir.path().join("home");
    fs::create_dir_all(&root).unwrap();
    let name = f.family;

    if let Some((path, text)) = f.os_release {
        write(&at(&root, path), text);
        if path == "/usr/lib/os-release" {
            fs::create_dir_all(at(&root, "/etc")).unwrap();
            symlink("../usr/lib/os-release", at(&root, "/etc/os-release")).unwrap();
        }
    }
    for (path, text) in f.markers {
        write(&at(&root, path), text);
    }

    let dup = public_root(f.pick);
    let distrusted = public_root(f.pick + 1);
    let mut pems = Vec::new();
    let mut untrusted = vec![distrusted.fp.clone()];

    // The extracted bundle: a few roots, one of them also a public root, and
    // the root the admin has since distrusted (the updater has not run).
    let mut bundle = String::new();
    for i in 1..=3 {
        let ca = valid_ca(&format!("{name} Bundled Root {i}"));
        bundle += &format!("# {name} Bundled Root {i}\n{}", ca.pem);
        pems.push(ca.pem);
    }
    bundle += &dup.pem;
    bundle += &distrusted.pem;
    pems.push(dup.pem.clone());
    write(&at(&root, f.bundle), &bundle);
    if f.family == "alpine" {
        // As Alpine ships it: /etc/ssl/cert.pem -> certs/ca-certificates.crt.
        symlink("certs/ca-certificates.crt", at(&root, "/etc/ssl/cert.pem")).unwrap();
    }

    // The good anchor, dropped in after the last extraction.
    // Debian's and Alpine's updaters append each drop-in to the bundle as
    // it is: a DER file there is never trusted (reported instead).
    let mut der_ignored = None;
    let good: Vec<String> = match f.format {
        Format::Der if f.family == "debian" || f.family == "alpine" => {
            let ca = valid_ca(&format!("{name} Corp Root DER"));
            write(&at(&root, f.anchor), der(&ca.pem));
            der_ignored = Some(openssl_sha256(&ca.pem));
            vec![]
        }
        Format::Der => {
            let ca = valid_ca(&format!("{name} Corp Root DER"));
            write(&at(&root, f.anchor), der(&ca.pem));
            vec![ca.pem]
        }
        Format::Chain => {
            let chain = corp_chain(&format!("{name} Corp"));
            let text = format!(
                "# Corp root\n{}\n# Corp issuing CA\n{}# end\n",
                chain[0], chain[1]
            );
            write(&at(&root, f.anchor), text);
            chain
        }
        Format::Pem => {
            let ca = valid_ca(&format!("{name} Corp Root"));
            write(&at(&root, f.anchor), &ca.pem);
            vec![ca.pem]
        }
    };
    pems.extend(good.iter().cloned());

    let expired = ca(&format!("{name} Expired Anchor"), days(-400), days(-1));
    write(&at(&root, f.expired), &expired.pem);
    pems.push(expired.pem.clone());

    // A copy cut short: half of a PEM block, no END line. Its certificate
    // must not appear anywhere (it is not in `pems`).
    let half = valid_ca(&format!("{name} Half Written")).pem;
    write(&at(&root, f.corrupt), &half[..half.len() / 2]);

    let ignored = f.ignored.map(|path| {
        let ca = valid_ca(&format!("{name} Wrong Extension"));
        write(&at(&root, path), &ca.pem);
        openssl_sha256(&ca.pem)
    });

    match f.distrust {
        Distrust::ConfBang => {
            write(
                &at(
                    &root,
                    "/usr/share/ca-certificates/mozilla/Distrusted_Public_Root.crt",
                ),
                &distrusted.pem,
            );
            write(
                &at(
                    &root,
                    "/usr/share/ca-certificates/mozilla/Duplicate_Root.crt",
                ),
                &dup.pem,
            );
            write(
                &at(&root, "/etc/ca-certificates.conf"),
                "# This file lists certificates that you wish to use or to ignore to be\n\
                 # installed in /etc/ssl/certs.\n\
                 mozilla/Duplicate_Root.crt\n\
                 !mozilla/Distrusted_Public_Root.crt\n",
            );
        }
        Distrust::Folder(folder) => {
            write(
                &at(&root, &format!("{folder}/distrusted-root.pem")),
                &distrusted.pem,
            );
        }
    }

    let rejected = f.aux_reject.then(|| {
        // The openssl-bundle p11-kit extracts for OpenSSL: one public root
        // rejected for serverAuth, one local root explicitly trusted for it.
        let rejected = public_root(f.pick + 2);
        let trusted = valid_ca(&format!("{name} Aux Trusted Root"));
        let text = trusted_certificate(&rejected.pem, "-addreject")
            + &trusted_certificate(&trusted.pem, "-addtrust");
        write(
            &at(
                &root,
                "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt",
            ),
            text,
        );
        pems.push(trusted.pem);
        untrusted.push(rejected.fp.clone());
        rejected.fp.clone()
    });

    Tree {
        _dir: dir,
        root,
        home,
        pems,
        untrusted,
        good: good.iter().map(|p| openssl_sha256(p)).collect(),
        expired: openssl_sha256(&expired.pem),
        dup: dup.fp.clone(),
        distrusted: distrusted.fp.clone(),
        rejected,
        ignored,
        der_ignored,
    }
}

fn check(f: &Family) {
    let t = build(f);
    let err = sync_ok(&t.home, &t.root, &["-v"]);

    // Detection, as `sync -v` tells it.
    assert!(
        err.contains(&format!("{} ({} layout)", f.pretty, f.family)),
        "expected the {} layout ({}):\n{err}",
        f.family,
        f.pretty
    );
    assert!(err.contains(&format!("read {} (", f.bundle)), "{err}");
    // The corrupt file is named, and the sync went on.
    assert!(
        err.lines()
            .any(|l| l.contains("warning: ") && l.contains(&format!("{}: ", f.corrupt))),
        "{} not reported:\n{err}",
        f.corrupt
    );
    if let Some(path) = f.ignored {
        assert!(
            err.contains(&format!("{path}: ignored")) && err.contains("*.crt"),
            "{err}"
        );
    }

    // The bundle, by openssl's fingerprints: exactly the unexpired snapshot
    // roots minus the distrusted ones, plus the tree's unexpired certificates.
    let got = bundle_fingerprints(&t.home);
    assert_same(&got, &expected(&t.pems, &t.untrusted), &err);
    assert_bundle_is_what_list_keeps(&t.home);
    for fp in &t.good {
        assert!(got.contains(fp));
    }
    for fp in &t.untrusted {
        assert!(!got.contains(fp), "distrusted root {fp} in the bundle");
    }
    assert!(!got.contains(&t.expired));
    if let Some(fp) = &t.ignored {
        assert!(!got.contains(fp));
    }
    if let Some(fp) = &t.der_ignored {
        assert!(!got.contains(fp), "a DER drop-in was trusted");
        assert!(
            err.lines().any(
                |l| l.contains(&format!("{}: ignored: a DER certificate", f.anchor))
                    && l.contains("openssl x509 -inform der")
            ),
            "the DER drop-in is not reported with how to convert it:\n{err}"
        );
    }

    // How each was judged.
    let records = list_json(&t.home);
    let dup = record(&records, &t.dup);
    assert_eq!(dup["status"], "kept");
    let dup_sources = sources(dup);
    assert!(
        dup_sources.contains(&"mozilla".to_string())
            && dup_sources.contains(&format!("os:{}", f.bundle)),
        "{dup_sources:?}"
    );

    let distrusted = record(&records, &t.distrusted);
    assert_eq!(distrusted["status"], "distrusted", "{distrusted:#}");
    assert!(
        distrusted["reason"].as_str().unwrap().contains(f.reason),
        "reason should name {:?}: {distrusted:#}",
        f.reason
    );
    // The snapshot carries it; the tree's stale bundle too.
    assert!(sources(distrusted).contains(&"mozilla".to_string()));
    assert!(
        err.contains("left out: ") && err.contains(f.reason),
        "no `left out` line for the distrusted root:\n{err}"
    );

    if let Some(fp) = &t.rejected {
        let r = record(&records, fp);
        assert_eq!(r["status"], "distrusted", "{r:#}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.contains("/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt")
                && reason.contains("rejects serverAuth"),
            "{reason}"
        );
    }

    let expired = record(&records, &t.expired);
    assert_eq!(expired["status"], "expired", "{expired:#}");
    assert!(
        sources(expired).contains(&format!("os:{}", f.expired)),
        "{expired:#}"
    );
    assert!(err.contains(&format!("pruned: {} Expired Anchor", f.family)));

    for fp in &t.good {
        let r = record(&records, fp);
        assert_eq!(r["status"], "kept");
        assert_eq!(sources(r), [format!("os:{}", f.anchor)]);
    }
    for r in &records {
        for field in ["sha256", "subject", "not_after", "status"] {
            assert!(r[field].is_string(), "{field} missing: {r:#}");
        }
        assert!(!sources(r).is_empty());
    }
}

// ------------------------------------------------------------------ tests

#[test]
fn ubuntu_tree() {
    check(&UBUNTU);
}

#[test]
fn alpine_tree() {
    check(&ALPINE);
}

#[test]
fn fedora_tree_with_openssl_aux_rejection() {
    check(&FEDORA);
}

#[test]
fn amazon_linux_tree_with_legacy_blacklist_folder() {
    check(&AMAZON);
}

#[test]
fn opensuse_leap_tree() {
    check(&LEAP);
}

#[test]
fn arch_tree() {
    check(&ARCH);
}

#[test]
fn debian_tree_without_os_release_is_told_by_its_marker_file() {
    check(&DEBIAN_NO_OS_RELEASE);
}

/// With no os-release, each family's release file decides, even where the
/// store files alone would fit another family (Debian and Alpine share the
/// bundle path; the RHEL and SUSE bundles here are the secondary paths,
/// which are no markers).
#[test]
fn without_os_release_each_family_is_found_by_its_release_file() {
    for (family, marker, bundle) in [
        (
            "alpine",
            "/etc/alpine-release",
            "/etc/ssl/certs/ca-certificates.crt",
        ),
        (
            "debian",
            "/etc/debian_version",
            "/etc/ssl/certs/ca-certificates.crt",
        ),
        (
            "rhel",
            "/etc/redhat-release",
            "/etc/pki/tls/certs/ca-bundle.crt",
        ),
        ("suse", "/etc/SUSE-brand", "/etc/ssl/ca-bundle.pem"),
        (
            "arch",
            "/etc/arch-release",
            "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        let home = dir.path().join("home");
        write(&at(&root, marker), "");
        let ca = valid_ca(&format!("{family} Marker Root"));
        write(&at(&root, bundle), &ca.pem);
        let err = sync_ok(&home, &root, &["-v"]);
        assert!(
            err.contains(&format!("unknown release ({family} layout)")),
            "{family} from {marker}:\n{err}"
        );
        let r = record(&list_json(&home), &openssl_sha256(&ca.pem)).clone();
        assert_eq!(sources(&r), [format!("os:{bundle}")], "{family}");
        assert_eq!(r["status"], "kept");
    }
}

// ------------------------------------------- p11-kit's own openssl-bundle

/// The TLS server anchors p11-kit extracts from `paths` (as
/// `update-ca-trust` does for its pem-bundle) into `dest`: their SHA-256s,
/// by openssl.
fn trust_anchors(dir: &Path, paths: &str, dest: &Path) -> BTreeSet<String> {
    trust(
        dir,
        paths,
        &[
            "extract",
            "--overwrite",
            "--format=pem-bundle",
            "--filter=ca-anchors",
            "--purpose=server-auth",
            dest.to_str().unwrap(),
        ],
    );
    file_fingerprints(dest)
}

/// The openssl-bundle and pem-bundle as `update-ca-trust extract` makes them,
/// by p11-kit itself, from a source folder where one public root is in
/// `blocklist/`. Only the extracted files go into the tree, so the distrust
/// reaches cabundle through p11-kit's aux data alone.
#[test]
fn rhel_bundles_extracted_by_p11_kit_trust() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("p11-source");
    let corp = valid_ca("p11-kit Corp Root");
    let public = public_root(21);
    let blocked = public_root(22);
    write(&source.join("anchors/corp-root.pem"), &corp.pem);
    write(&source.join("anchors/public-root.pem"), &public.pem);
    write(&source.join("blocklist/blocked-root.pem"), &blocked.pem);
    let paths = source.display().to_string();
    let Some(_) = p11_kit_trust(dir.path(), &paths) else {
        return;
    };
    let out_dir = extract_dir(&dir.path().join("extracted"));
    let openssl_bundle = out_dir.join("ca-bundle.trust.crt");
    let pem_bundle = out_dir.join("tls-ca-bundle.pem");
    // The two commands update-ca-trust runs.
    for args in [
        vec![
            "extract",
            "--overwrite",
            "--format=openssl-bundle",
            "--filter=certificates",
            "--comment",
        ],
        vec![
            "extract",
            "--overwrite",
            "--format=pem-bundle",
            "--filter=ca-anchors",
            "--comment",
            "--purpose=server-auth",
        ],
    ] {
        let dest = if args.contains(&"--format=openssl-bundle") {
            &openssl_bundle
        } else {
            &pem_bundle
        };
        trust(
            dir.path(),
            &paths,
            &[&args[..], &[dest.to_str().unwrap()]].concat(),
        );
    }

    // What p11-kit wrote, checked with openssl before cabundle reads it.
    let trust_text = fs::read_to_string(&openssl_bundle).unwrap();
    let trust_fps: BTreeSet<String> = pem_blocks(&trust_text)
        .iter()
        .map(|b| openssl_sha256(b))
        .collect();
    assert!(trust_text.contains("BEGIN TRUSTED CERTIFICATE"));
    assert!(
        trust_fps.contains(&blocked.fp) && trust_fps.contains(&openssl_sha256(&corp.pem)),
        "p11-kit's openssl-bundle should carry every certificate, the blocked one too"
    );
    let anchors: BTreeSet<String> = pem_blocks(&fs::read_to_string(&pem_bundle).unwrap())
        .iter()
        .map(|b| openssl_sha256(b))
        .collect();
    assert!(
        !anchors.contains(&blocked.fp),
        "p11-kit left the blocked root in its pem-bundle, so this p11-kit did not read our \
         blocklist folder"
    );
    assert!(anchors.contains(&openssl_sha256(&corp.pem)));

    // A CentOS Stream tree and an Arch tree with just those two extracted
    // files: Arch's update-ca-trust writes ca-bundle.trust.crt too, and only
    // it carries the distrust (tls-ca-bundle.pem can only leave it out).
    for (family, os_release, openssl_path, pem_path) in [
        (
            "CentOS Stream 9 (rhel layout)",
            "NAME=\"CentOS Stream\"\nVERSION=\"9\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\n\
             VERSION_ID=\"9\"\nPLATFORM_ID=\"platform:el9\"\nPRETTY_NAME=\"CentOS Stream 9\"\n",
            "/etc/pki/ca-trust/extracted/openssl/ca-bundle.trust.crt",
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        ),
        (
            "Arch Linux (arch layout)",
            "NAME=\"Arch Linux\"\nPRETTY_NAME=\"Arch Linux\"\nID=arch\n",
            "/etc/ca-certificates/extracted/ca-bundle.trust.crt",
            "/etc/ca-certificates/extracted/tls-ca-bundle.pem",
        ),
    ] {
        let tree = dir.path().join(format!("tree-{}", &family[..4]));
        let root = tree.join("root");
        write(&at(&root, "/etc/os-release"), os_release);
        write(&at(&root, openssl_path), &trust_text);
        write(&at(&root, pem_path), fs::read(&pem_bundle).unwrap());
        let home = tree.join("home");
        let err = sync_ok(&home, &root, &["-v"]);
        assert!(err.contains(family), "{err}");
        assert!(!err.contains("warning"), "{err}");

        let got = bundle_fingerprints(&home);
        assert_same(
            &got,
            &expected(
                &[corp.pem.clone(), public.pem.clone()],
                std::slice::from_ref(&blocked.fp),
            ),
            &err,
        );
        let records = list_json(&home);
        let r = record(&records, &blocked.fp);
        assert_eq!(r["status"], "distrusted", "{r:#}");
        let reason = r["reason"].as_str().unwrap();
        assert!(
            reason.contains(openssl_path) && reason.contains("rejects serverAuth"),
            "{reason}"
        );
        let corp_sources = sources(record(&records, &openssl_sha256(&corp.pem)));
        assert_eq!(
            corp_sources,
            [format!("os:{openssl_path}"), format!("os:{pem_path}")]
        );
    }
}

// ------------------------------------- the distributions' tools as oracle

/// The OS store's own anchors as cabundle judged them: SHA-256s of the
/// kept certificates that an `os:` source carried.
fn os_kept(home: &Path) -> BTreeSet<String> {
    list_json(home)
        .iter()
        .filter(|r| r["status"] == "kept" && sources(r).iter().any(|s| s.starts_with("os:")))
        .map(|r| r["sha256"].as_str().unwrap().to_string())
        .collect()
}

/// p11-kit's source folders, one case of each kind p11-kit tells apart
/// (tests/scripts/p11kit-cases.sh: anchors, blocklists, extended-format
/// files at the top, `.p11-kit` objects, stapled usages, distrust by key
/// and by issuer and serial, non-CAs, v1 roots, dot-files, subfolders), in
/// each p11-kit family's two source folders. p11-kit's own
/// `trust extract --filter=ca-anchors --purpose=server-auth` over the same
/// folders is the oracle: cabundle's OS anchors are exactly p11-kit's, but
/// for the three it leaves out on purpose (a blocklisted public key, a
/// public-key object, the legacy blacklist/ folder), each with a reason
/// that says cabundle is stricter there.
#[test]
fn p11_kit_source_folders_match_trust_extract() {
    let dir = tempfile::tempdir().unwrap();
    let cases = dir.path().join("cases");
    fs::create_dir_all(&cases).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/p11kit-cases.sh");
    let made = StdCommand::new("bash")
        .arg(&script)
        .arg(&cases)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr_of(&made));
    let stricter: BTreeSet<String> = fs::read_to_string(cases.join("stricter.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(stricter.len(), 3);

    for (family, os_release, etc, usr) in [
        (
            "rhel",
            "ID=fedora\nPRETTY_NAME=\"Fedora Linux 41\"\n",
            "/etc/pki/ca-trust/source",
            "/usr/share/pki/ca-trust-source",
        ),
        (
            "suse",
            "ID=\"opensuse-tumbleweed\"\nID_LIKE=\"opensuse suse\"\nPRETTY_NAME=\"openSUSE Tumbleweed\"\n",
            "/etc/pki/trust",
            "/usr/share/pki/trust",
        ),
        (
            "arch",
            "ID=arch\nPRETTY_NAME=\"Arch Linux\"\n",
            "/etc/ca-certificates/trust-source",
            "/usr/share/ca-certificates/trust-source",
        ),
    ] {
        let tree = dir.path().join(family);
        let root = tree.join("root");
        write(&at(&root, "/etc/os-release"), os_release);
        for (from, to) in [("etc", etc), ("usr", usr)] {
            fs::create_dir_all(at(&root, to).parent().unwrap()).unwrap();
            let copied = StdCommand::new("cp")
                .arg("-a")
                .arg(cases.join(from))
                .arg(at(&root, to))
                .status()
                .unwrap();
            assert!(copied.success());
        }
        let paths = format!("{}:{}", at(&root, etc).display(), at(&root, usr).display());
        if p11_kit_trust(&tree, &paths).is_none() {
            return;
        }
        let out_dir = extract_dir(&tree.join("extracted"));
        let oracle = trust_anchors(&tree, &paths, &out_dir.join("tls-ca-bundle.pem"));

        let home = tree.join("home");
        let err = sync_ok(&home, &root, &["-v"]);
        assert!(err.contains(&format!("({family} layout)")), "{err}");
        let ours = os_kept(&home);
        let only_p11_kit: BTreeSet<String> = oracle.difference(&ours).cloned().collect();
        let only_ours: BTreeSet<String> = ours.difference(&oracle).cloned().collect();
        assert!(
            only_ours.is_empty(),
            "{family}: trusted against p11-kit: {only_ours:?}\n{err}"
        );
        assert_bundle_is_what_list_keeps(&home);
        assert_eq!(
            only_p11_kit, stricter,
            "{family}: left out against p11-kit\n{err}"
        );
        // The cases p11-kit keeps and cabundle does not say why.
        let records = list_json(&home);
        for fp in &stricter {
            let r = record(&records, fp);
            assert_eq!(r["status"], "distrusted", "{r:#}");
            let reason = r["reason"].as_str().unwrap();
            assert!(
                reason.contains("p11-kit ignores public-key entries")
                    || reason.contains("/blacklist/"),
                "{reason}"
            );
        }
        // p11-kit's own persist format, as it writes it: every object of
        // the token (certificates, stapled extensions, trust assertions,
        // NSS trust objects), dumped, then read back from one `.p11-kit`
        // file at the top of a source folder. Once more the oracle's
        // anchors and cabundle's are the same (the dump holds nothing
        // p11-kit ignored, so nothing stricter is left).
        if family == "rhel" {
            let dump = trust_dump(&tree, &paths);
            let again = tree.join("dumped");
            let source = at(&again, etc);
            write(&source.join("dumped.p11-kit"), &dump);
            write(&at(&again, "/etc/os-release"), os_release);
            let paths = source.display().to_string();
            let anchors = trust_anchors(&tree, &paths, &out_dir.join("dumped.pem"));
            let home = tree.join("home-dumped");
            let err = sync_ok(&home, &again, &["-v"]);
            assert_eq!(os_kept(&home), anchors, "{err}");
        }
        // What p11-kit ignores without a word is still pointed out.
        for (path, why) in [
            (format!("{etc}/anchors/sub"), "nothing in it is read"),
            (
                format!("{etc}/unspecified.pem"),
                "neither trusted nor distrusted",
            ),
            (format!("{etc}/anchors/leaf.pem"), "not a CA certificate"),
            (
                format!("{etc}/keyobject.p11-kit"),
                "p11-kit does not load this file",
            ),
        ] {
            assert!(
                err.lines()
                    .any(|l| l.contains(&format!("warning: {path}: ")) && l.contains(why)),
                "{path} not reported ({why}):\n{err}"
            );
        }
    }
}

/// `trust dump --filter=all` of the folders in `paths`: every object of
/// p11-kit's token, in its persist format.
fn trust_dump(dir: &Path, paths: &str) -> String {
    let text = trust(dir, paths, &["dump", "--filter=all"]);
    assert!(text.contains("[p11-kit-object-v1]") && text.contains("class: x-trust-assertion"));
    text
}

/// Debian's own `update-ca-certificates`, run with its scratch-folder flags
/// on the tree, is the oracle for the Debian layout: what OpenSSL then
/// trusts for TLS servers from the bundle it writes (`openssl verify
/// -purpose sslserver` of each certificate in it, so OpenSSL's reading of
/// `TRUSTED CERTIFICATE` aux data counts) is exactly cabundle's OS anchors.
/// Before the updater has run, the drop-ins alone must match what it will
/// take from them.
#[test]
fn debian_layout_matches_update_ca_certificates() {
    let updater = Path::new("/usr/sbin/update-ca-certificates");
    if !updater.exists()
        && !require(
            "update-ca-certificates",
            "--help",
            "Debian: apt-get install ca-certificates",
        )
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    write(
        &at(&root, "/etc/os-release"),
        "ID=debian\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n",
    );
    let share = "/usr/share/ca-certificates";
    let local = "/usr/local/share/ca-certificates";
    // The package's certificates, selected in ca-certificates.conf.
    let packaged: Vec<Ca> = (1..=3)
        .map(|i| valid_ca(&format!("Packaged Root {i}")))
        .collect();
    let mut conf = String::from("# Automatically generated by ca-certificates\n");
    for (i, ca) in packaged.iter().enumerate() {
        write(
            &at(&root, &format!("{share}/mozilla/Root_{i}.crt")),
            &ca.pem,
        );
        let bang = if i == 2 { "!" } else { "" };
        conf += &format!("{bang}mozilla/Root_{i}.crt\n");
    }
    write(&at(&root, "/etc/ca-certificates.conf"), &conf);
    // The admin's drop-ins, in every shape the updater meets.
    let pem = valid_ca("Dropped PEM");
    let nested = valid_ca("Dropped Nested");
    let hidden = valid_ca("Dropped Dot-file");
    let wrong_ext = valid_ca("Dropped Wrong Extension");
    let der_ca = valid_ca("Dropped DER");
    let (two_a, two_b) = (valid_ca("Two In One A"), valid_ca("Two In One B"));
    let rejected = valid_ca("Dropped Rejected");
    write(&at(&root, &format!("{local}/corp.crt")), &pem.pem);
    write(&at(&root, &format!("{local}/team/nested.crt")), &nested.pem);
    write(&at(&root, &format!("{local}/.hidden.crt")), &hidden.pem);
    write(&at(&root, &format!("{local}/corp.pem")), &wrong_ext.pem);
    write(&at(&root, &format!("{local}/der.crt")), der(&der_ca.pem));
    write(
        &at(&root, &format!("{local}/two.crt")),
        format!("{}{}", two_a.pem, two_b.pem),
    );
    write(
        &at(&root, &format!("{local}/rejected.crt")),
        trusted_certificate(&rejected.pem, "-addreject"),
    );
    let drop_ins: BTreeSet<String> = [
        &pem, &nested, &hidden, &wrong_ext, &der_ca, &two_a, &two_b, &rejected,
    ]
    .iter()
    .map(|c| openssl_sha256(&c.pem))
    .collect();

    // Before the updater: the drop-ins only.
    let home = dir.path().join("home-before");
    let err = sync_ok(&home, &root, &["-v"]);
    let before = os_kept(&home);

    let etc_certs = at(&root, "/etc/ssl/certs");
    let hooks = at(&root, "/etc/ca-certificates/update.d");
    fs::create_dir_all(&etc_certs).unwrap();
    fs::create_dir_all(&hooks).unwrap();
    let out = StdCommand::new(updater)
        .arg("--certsconf")
        .arg(at(&root, "/etc/ca-certificates.conf"))
        .arg("--certsdir")
        .arg(at(&root, share))
        .arg("--localcertsdir")
        .arg(at(&root, local))
        .arg("--etccertsdir")
        .arg(&etc_certs)
        .arg("--hooksdir")
        .arg(&hooks)
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "update-ca-certificates: {}",
        stderr_of(&out)
    );
    let bundle = etc_certs.join("ca-certificates.crt");
    // OpenSSL's verdict on each certificate of the bundle, for TLS servers.
    // OpenSSL's verdict, for TLS servers, on each root the tree holds: does
    // it accept a server certificate that root issued, with the bundle the
    // updater wrote as its trust store?
    let all: Vec<&Ca> = packaged
        .iter()
        .chain([
            &pem, &nested, &hidden, &wrong_ext, &der_ca, &two_a, &two_b, &rejected,
        ])
        .collect();
    let oracle: BTreeSet<String> = all
        .iter()
        .filter(|ca| {
            let leaf = dir.path().join("leaf.pem");
            fs::write(&leaf, ca.leaf(days(-1), days(30)).0).unwrap();
            StdCommand::new("openssl")
                .args(["verify", "-purpose", "sslserver", "-CAfile"])
                .arg(&bundle)
                .arg(&leaf)
                .output()
                .unwrap()
                .status
                .success()
        })
        .map(|ca| openssl_sha256(&ca.pem))
        .collect();
    let want_before: BTreeSet<String> = oracle.intersection(&drop_ins).cloned().collect();
    assert_eq!(before, want_before, "before the updater ran:\n{err}");

    let home = dir.path().join("home-after");
    let err = sync_ok(&home, &root, &["-v"]);
    assert_eq!(os_kept(&home), oracle, "after the updater ran:\n{err}");
    assert_bundle_is_what_list_keeps(&home);
    // The cases themselves, so a change in the updater cannot hollow this out.
    for (ca, trusted) in [
        (&pem, true),
        (&nested, true),
        (&hidden, true),
        (&two_b, true),
        (&packaged[0], true),
        (&wrong_ext, false),
        (&der_ca, false),
        (&rejected, false),
        (&packaged[2], false),
    ] {
        let fp = openssl_sha256(&ca.pem);
        assert_eq!(
            oracle.contains(&fp),
            trusted,
            "the updater's verdict changed"
        );
    }
}

/// Alpine's `update-ca` reads its drop-in folder as its C code does: the
/// top level only, no dot-files, any name; like Debian's, it appends each
/// file as it is, so only PEM is trusted.
#[test]
fn alpine_drop_ins_are_read_as_update_ca_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    write(
        &at(&root, "/etc/os-release"),
        "NAME=\"Alpine Linux\"\nID=alpine\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
    );
    let drop = "/usr/local/share/ca-certificates";
    let top = valid_ca("Alpine Top Level");
    let any_name = valid_ca("Alpine Any Name");
    let nested = valid_ca("Alpine Nested");
    let hidden = valid_ca("Alpine Dot-file");
    let der_ca = valid_ca("Alpine DER");
    write(&at(&root, &format!("{drop}/top.crt")), &top.pem);
    write(&at(&root, &format!("{drop}/corp-root.pem")), &any_name.pem);
    write(&at(&root, &format!("{drop}/team/nested.crt")), &nested.pem);
    write(&at(&root, &format!("{drop}/.hidden.crt")), &hidden.pem);
    write(&at(&root, &format!("{drop}/der.crt")), der(&der_ca.pem));
    let home = dir.path().join("home");
    let err = sync_ok(&home, &root, &["-v"]);
    assert!(err.contains("(alpine layout)"), "{err}");
    let got = os_kept(&home);
    assert!(got.contains(&openssl_sha256(&top.pem)));
    assert!(got.contains(&openssl_sha256(&any_name.pem)));
    for ca in [&nested, &hidden, &der_ca] {
        assert!(!got.contains(&openssl_sha256(&ca.pem)), "{err}");
    }
    assert!(
        err.contains(&format!("{drop}/team: a folder: nothing in it is read")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{drop}/der.crt: ignored: a DER certificate")),
        "{err}"
    );
    assert_bundle_is_what_list_keeps(&home);
}
