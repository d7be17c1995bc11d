//! A real certdata.txt (Debian's ca-certificates 20230311+deb12u1, file
//! mozilla/certdata.txt, sha256 90c470e705b4b5f36f09684dc50e2b79c8b86989a848b62cd1a7bd6460ee65f6)
//! through `cabundle fetch --from FILE`, checked against an independent
//! reading of the same file in Python.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::process::Command;

use common::*;

const CERTDATA: &str = "tests/data/certdata-debian-20230311.txt";

/// fingerprint -> server distrust-after (UTCTime text, or "") of every
/// certificate whose trust object says CKT_NSS_TRUSTED_DELEGATOR for
/// server auth, joined by issuer and serial.
const ORACLE: &str = r##"
import hashlib, re, sys
objs, cur, field = [], None, None
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
data = False
i = 0
while i < len(lines):
    line = lines[i].strip(); i += 1
    if not data:
        data = line == "BEGINDATA"; continue
    if not line or line.startswith("#"): continue
    parts = line.split(" ", 2)
    if parts[1] == "MULTILINE_OCTAL":
        buf = bytearray()
        while lines[i].strip() != "END":
            buf += bytes(int(o, 8) for o in re.findall(r"\\([0-7]{3})", lines[i])); i += 1
        i += 1
        value = bytes(buf)
    else:
        value = parts[2] if len(parts) > 2 else ""
    if parts[0] == "CKA_CLASS":
        cur = {}; objs.append(cur)
    cur[parts[0]] = value
trusted = {(o["CKA_ISSUER"], o["CKA_SERIAL_NUMBER"]): o for o in objs
           if o["CKA_CLASS"] == "CKO_NSS_TRUST" and o.get("CKA_TRUST_SERVER_AUTH") == "CKT_NSS_TRUSTED_DELEGATOR"}
for o in objs:
    if o["CKA_CLASS"] != "CKO_CERTIFICATE": continue
    t = trusted.get((o["CKA_ISSUER"], o["CKA_SERIAL_NUMBER"]))
    if t is None: continue
    after = o.get("CKA_NSS_SERVER_DISTRUST_AFTER")
    if not isinstance(after, bytes): after = t.get("CKA_NSS_SERVER_DISTRUST_AFTER")
    print(hashlib.sha256(o["CKA_VALUE"]).hexdigest(), after.decode() if isinstance(after, bytes) else "")
"##;

#[test]
fn the_kept_set_is_exactly_the_trusted_delegators_of_a_real_certdata() {
    let out = Command::new("python3")
        .arg("-c")
        .arg(ORACLE)
        .arg(CERTDATA)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let oracle: BTreeMap<String, String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (fp, after) = l.split_once(' ').unwrap();
            (fp.to_string(), after.to_string())
        })
        .collect();
    assert!(
        oracle.len() > 100,
        "the oracle found {} anchors",
        oracle.len()
    );

    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // A 2023 file: it holds roots Mozilla has removed since, which fetch
    // refuses unless each is named. Here every one is, to compare the whole
    // file with the oracle.
    let ledger = removed_ledger();
    let removed: Vec<&String> = ledger.keys().filter(|k| oracle.contains_key(*k)).collect();
    assert!(!removed.is_empty(), "the 2023 file has roots removed since");
    cabundle(&home)
        .args(["fetch", "--from", CERTDATA])
        .assert()
        .failure()
        .stderr(predicates::str::contains("Mozilla has removed"));
    let mut fetch = cabundle(&home);
    fetch.args(["fetch", "--from", CERTDATA]);
    for fp in &removed {
        fetch.args(["--allow-removed", fp]);
    }
    fetch.assert().success();

    // The cached set, read by openssl.
    let cache = home.join("cache");
    let pem = fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pem"))
        .unwrap();
    let cached = file_fingerprints(&pem);
    assert_eq!(cached, oracle.keys().cloned().collect::<BTreeSet<_>>());

    // After sync (no OS store, offline): the same, minus expired roots.
    sync_offline(&home, &[]);
    let bundle = fs::read_to_string(home.join("ca-bundle.pem")).unwrap();
    let mut expected = BTreeSet::new();
    let view: Vec<(String, bool)> = pem_blocks(&bundle)
        .iter()
        .map(|b| openssl_sha256_unexpired(b))
        .collect();
    assert!(
        view.iter().all(|(_, ok)| *ok),
        "an expired root in the bundle"
    );
    let got: BTreeSet<String> = view.into_iter().map(|(fp, _)| fp).collect();
    let records = list_json(&home);
    for r in &records {
        let fp = r["sha256"].as_str().unwrap().to_string();
        assert!(oracle.contains_key(&fp), "{fp} is not a trusted delegator");
        if r["status"] == "kept" {
            expected.insert(fp.clone());
        } else if r["status"] == "distrusted" {
            // Past its distrust-after date by as long as any certificate
            // it issued before then can live.
            let reason = r["reason"].as_str().unwrap();
            assert!(
                reason.contains("distrusts TLS certificates it issued after"),
                "{r}"
            );
        } else {
            assert_eq!(r["status"], "expired", "{r}");
        }
        // Distrust-after dates, as the oracle read them (UTCTime YYMMDD...).
        let after = &oracle[&fp];
        match r["distrust_after"].as_str() {
            Some(when) => {
                assert!(!after.is_empty(), "{fp}: no distrust-after upstream");
                let ymd = format!("20{}-{}-{}", &after[0..2], &after[2..4], &after[4..6]);
                assert!(when.starts_with(&ymd), "{when} vs {after}");
            }
            None => assert!(after.is_empty(), "{fp}: distrust-after {after} lost"),
        }
    }
    assert_eq!(records.len(), oracle.len());
    assert_eq!(got, expected);
    assert!(
        oracle.values().any(|a| !a.is_empty()),
        "the file has distrust-after dates to check"
    );
}
