//! Helpers for the unit tests of several modules: the embedded Mozilla
//! roots as certificates, and the `openssl` command as an oracle.

use std::process::Command;

use crate::cert::Cert;

/// The embedded Mozilla roots.
pub(crate) fn roots() -> Vec<Cert> {
    let decoded = crate::decode::decode(crate::sources::mozilla::PEM);
    assert!(decoded.errors.is_empty(), "{:?}", decoded.errors);
    decoded.items.into_iter().map(|i| i.cert).collect()
}

/// References, as `hashdir::write` and `plan` take them.
pub(crate) fn refs(certs: &[Cert]) -> Vec<&Cert> {
    certs.iter().collect()
}

/// `openssl ARGS`, run.
pub(crate) fn openssl(args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl runs")
}

/// `openssl ARGS`, which must succeed.
#[track_caller]
pub(crate) fn openssl_ok(args: &[&str]) {
    let out = openssl(args);
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
}

/// A new P-256 key, written to `path`.
pub(crate) fn ec_key(path: &str) {
    let words = "genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out";
    let mut args: Vec<&str> = words.split(' ').collect();
    args.push(path);
    openssl_ok(&args);
}

/// The test venv's interpreter (`$CABUNDLE_TEST_VENV`, else
/// `target/test-venv`, which scripts/test.sh makes), once it is known to
/// import every one of `modules`. When it does not, the test fails naming
/// what is missing, unless `CABUNDLE_TEST_ALLOW_SKIP=1` asks to skip such
/// tests: then this says so on stderr and gives None.
pub(crate) fn venv_python(modules: &[&str]) -> Option<std::path::PathBuf> {
    let venv = std::env::var_os("CABUNDLE_TEST_VENV")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv")
        });
    let python = venv.join("bin/python");
    let imports = |module: &str| {
        Command::new(&python)
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let needs = if imports("sys") {
        let missing: Vec<&str> = modules.iter().copied().filter(|m| !imports(m)).collect();
        if missing.is_empty() {
            return Some(python);
        }
        format!(
            "{} to import {} (scripts/test.sh installs what the tests import into target/test-venv)",
            python.display(),
            missing.join(", ")
        )
    } else {
        format!(
            "{}, which does not run (scripts/test.sh makes that venv)",
            python.display()
        )
    };
    if std::env::var_os("CABUNDLE_TEST_ALLOW_SKIP").is_some_and(|v| v == "1") {
        eprintln!("skipped: this test needs {needs}");
        return None;
    }
    panic!("this test needs {needs}; set CABUNDLE_TEST_ALLOW_SKIP=1 to skip it instead");
}

/// Write `text` at `path`, making its folders.
pub(crate) fn write(path: &std::path::Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a path in a folder")).unwrap();
    std::fs::write(path, text).unwrap();
}
