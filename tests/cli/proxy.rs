//! `cabundle proxy detect` / `proxy trust` behind a TLS-inspection proxy
//! on 127.0.0.1: an HTTP CONNECT proxy (Python, the test venv's) that
//! terminates TLS for pypi.org, github.com... with leaves a test root
//! signed, and answers the request itself. Nothing leaves the machine:
//! cabundle and requests both send the proxy `CONNECT pypi.org:443` and
//! never resolve the name themselves (the proxy's log shows it), and a
//! name the proxy does not know gets `502`.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use rcgen::{CertificateParams, KeyPair};
use serde_json::{Value, json};

use common::server::{Https, ServerChild, launch};
use common::{
    Ca, Ran, Synced, ca_params, days, debian_drop_in, leaf_params, list_json, openssl_sha256,
    run_bounded, scrubbed_loopback, snapshot_roots, sync_fetched, valid_ca, venv, write,
};

/// The hosts `proxy detect` tries by default.
const DEFAULT_HOSTS: &[&str] = &[
    "pypi.org",
    "files.pythonhosted.org",
    "github.com",
    "registry.npmjs.org",
];

/// The proxy. argv[1] is a JSON file: `{"hosts": {NAME: {"cert": FILE,
/// "key": FILE} | {"tunnel": PORT}}}`. A `cert` host's TLS is terminated
/// here with FILE's chain (and one request answered); a `tunnel` host's
/// bytes go to 127.0.0.1:PORT untouched. Any other name: 502. Each CONNECT
/// is logged on stderr.
const PROXY: &str = r#"
import json, socket, ssl, sys, threading

hosts = json.load(open(sys.argv[1]))["hosts"]
BODY = b"hello through the inspection proxy\n"

def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass

def read_head(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        byte = sock.recv(1)
        if not byte or len(head) > 16384:
            return None
        head += byte
    return head

def handle(conn):
    try:
        conn.settimeout(20)
        head = read_head(conn)
        if head is None:
            return
        method, target = head.split(b"\r\n")[0].decode("latin-1").split(" ")[:2]
        name = target.rsplit(":", 1)[0].strip("[]").lower()
        print("CONNECT", target, file=sys.stderr, flush=True)
        entry = hosts.get(name)
        if method != "CONNECT" or entry is None:
            conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if "tunnel" in entry:
            up = socket.create_connection(("127.0.0.1", entry["tunnel"]))
            t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
            t.start()
            pipe(conn, up)
            t.join(20)
            up.close()
            return
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(entry["cert"], entry["key"])
        tls = ctx.wrap_socket(conn, server_side=True)
        if read_head(tls) is None:
            return
        tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                    + b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)
        tls.close()
    except Exception as e:
        # A client that refuses the certificate is the point of most tests.
        print("error:", type(e).__name__, e, file=sys.stderr, flush=True)
    finally:
        conn.close()

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print(srv.getsockname()[1], flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

/// How the proxy answers for one name.
enum Answer<'a> {
    /// Terminate TLS presenting this chain (PEM, leaf first) and key.
    Tls(&'a (String, String)),
    /// Pass the bytes to a server on 127.0.0.1.
    Tunnel(u16),
}

/// A running proxy: its port and log.
struct Proxy {
    _child: ServerChild,
    port: u16,
    log: PathBuf,
}

impl Proxy {
    fn start(dir: &Path, answers: &[(&str, Answer)]) -> Proxy {
        let dir = dir.join(format!("proxy-{}", fastrand()));
        let mut hosts = serde_json::Map::new();
        for (i, (name, answer)) in answers.iter().enumerate() {
            let entry = match answer {
                Answer::Tls((chain, key)) => json!({
                    "cert": write(&dir.join(format!("{i}.crt")), chain),
                    "key": write(&dir.join(format!("{i}.key")), key),
                }),
                Answer::Tunnel(port) => json!({ "tunnel": port }),
            };
            hosts.insert(name.to_string(), entry);
        }
        let config = write(
            &dir.join("config.json"),
            json!({ "hosts": hosts }).to_string(),
        );
        let log = dir.join("stderr.log");
        let (child, line) = launch(
            scrubbed_loopback(venv::python())
                .arg("-c")
                .arg(PROXY)
                .arg(&config),
            &log,
            "start the inspection proxy",
        );
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!(
                "the proxy did not start (printed {line:?}):\n{}",
                fs::read_to_string(&log).unwrap_or_default()
            )
        });
        Proxy {
            _child: child,
            port,
            log,
        }
    }

    /// Every name answered with `chain`.
    fn all(dir: &Path, names: &[&str], chain: &(String, String)) -> Proxy {
        let answers: Vec<(&str, Answer)> = names.iter().map(|n| (*n, Answer::Tls(chain))).collect();
        Proxy::start(dir, &answers)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A distinct folder name per proxy of a test.
fn fastrand() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish()
}

// ---------------------------------------------------------- certificates

/// A proxy root: CN `cn`, O `org`.
fn proxy_root(cn: &str, org: &str) -> Ca {
    let mut p = ca_params(cn, days(-365), days(3650));
    p.distinguished_name.remove(rcgen::DnType::OrganizationName);
    p.distinguished_name
        .push(rcgen::DnType::OrganizationName, org);
    Ca::made(p, None)
}

/// A leaf for `names`, as an inspection proxy mints it: signed by `by`,
/// with an Authority Key Identifier naming its key.
fn minted(by: &Ca, names: &[&str]) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut p: CertificateParams = leaf_params(names, days(-1), days(30));
    p.use_authority_key_identifier_extension = true;
    let cert = p.signed_by(&key, &by.issuer()).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// The chain a proxy sends for each of `names`: a leaf for all of them
/// (one certificate serves every name, as some products do), then the
/// root when `with_root`.
fn chain_for(by: &Ca, names: &[&str], with_root: bool) -> (String, String) {
    let (leaf, key) = minted(by, names);
    let chain = if with_root { leaf + &by.pem } else { leaf };
    (chain, key)
}

// ---------------------------------------------------------------- running

/// `cabundle proxy ARGS` in `fx`'s home with `--root ROOT`, HOME a scratch
/// folder (no NSS database of the person running the tests is read), and
/// HTTPS_PROXY pointing at `proxy`.
fn proxy_cmd(fx: &Synced, root: Option<&Path>, proxy: Option<&Proxy>, args: &[&str]) -> StdCommand {
    let mut cmd = scrubbed_loopback(env!("CARGO_BIN_EXE_cabundle"));
    cmd.env("CABUNDLE_HOME", &fx.home)
        .env("HOME", user_home(fx))
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .arg("proxy")
        .args(args)
        .args(["--timeout", "5"]);
    if let Some(root) = root {
        cmd.arg("--root").arg(root);
    }
    if let Some(p) = proxy {
        cmd.env("HTTPS_PROXY", p.url());
    }
    cmd
}

/// The HOME cabundle runs with: a scratch folder.
fn user_home(fx: &Synced) -> PathBuf {
    fx.dir().join("user")
}

fn run(fx: &Synced, root: &Path, proxy: Option<&Proxy>, args: &[&str]) -> Ran {
    run_at(fx, Some(root), proxy, args)
}

/// [`run`], with `--root` only when given.
fn run_at(fx: &Synced, root: Option<&Path>, proxy: Option<&Proxy>, args: &[&str]) -> Ran {
    let ran = run_bounded(proxy_cmd(fx, root, proxy, args));
    assert!(!ran.timed_out, "proxy hung:\n{ran}");
    eprintln!("{ran}");
    ran
}

fn run_json(fx: &Synced, root: &Path, proxy: Option<&Proxy>, args: &[&str]) -> (Ran, Value) {
    let ran = run(fx, root, proxy, &[args, &["--json"]].concat());
    let json = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("--json printed no JSON ({e}):\n{ran}"));
    (ran, json)
}

/// The fingerprints `list` keeps.
fn kept(fx: &Synced) -> Vec<String> {
    list_json(&fx.home)
        .iter()
        .filter(|r| r["status"] == "kept")
        .map(|r| r["sha256"].as_str().unwrap().to_string())
        .collect()
}

/// What Python's requests makes of `https://pypi.org/` through `proxy`,
/// run as `cabundle exec` runs it (every TLS variable at the bundle), or
/// with no TLS variable at all: the body, or the error.
fn requests_through(fx: &Synced, proxy: &Proxy, with_exec: bool) -> Result<String, String> {
    let script = "import requests, sys\n\
                  try:\n    r = requests.get('https://pypi.org/', timeout=10)\n    print(r.text, end='')\n\
                  except Exception as e:\n    print(type(e).__name__, e, file=sys.stderr)\n    sys.exit(1)\n";
    let mut cmd = if with_exec {
        let mut c = scrubbed_loopback(env!("CARGO_BIN_EXE_cabundle"));
        c.env("CABUNDLE_HOME", &fx.home)
            .arg("exec")
            .arg("--")
            .arg(venv::python());
        c
    } else {
        scrubbed_loopback(venv::python())
    };
    cmd.args(["-c", script]).env("HTTPS_PROXY", proxy.url());
    let ran = run_bounded(cmd);
    match ran.code {
        Some(0) => Ok(ran.stdout),
        _ => Err(ran.stderr),
    }
}

/// A Debian-shaped root under `dir/NAME` whose admin dropped `pems` into
/// /usr/local/share/ca-certificates (as an MDM or IT would): the root.
fn store_with(dir: &Path, name: &str, pems: &[&str]) -> PathBuf {
    let (root, drop_in) = debian_drop_in(&dir.join(name));
    for (i, pem) in pems.iter().enumerate() {
        write(&drop_in.join(format!("corp-{i}.crt")), pem);
    }
    root
}

/// An empty Debian-shaped root: a store that holds nothing.
fn empty_store(dir: &Path) -> PathBuf {
    store_with(dir, "empty", &[])
}

// ---------------------------------------------------------------- detect

/// Every default host re-signed by one root whose name says Zscaler:
/// detect names the root (subject, SHA-256, vendor) and exits 1. The proxy
/// saw `CONNECT pypi.org:443`: the name went to it, unresolved.
#[test]
fn detect_names_the_root_its_sha256_and_vendor() {
    let fx = Synced::new(&[]);
    let root = proxy_root("Zscaler Root CA", "Zscaler Inc.");
    let chain = chain_for(&root, DEFAULT_HOSTS, true);
    let proxy = Proxy::all(fx.dir(), DEFAULT_HOSTS, &chain);
    let sha = openssl_sha256(&root.pem);

    let ran = run(&fx, &empty_store(fx.dir()), Some(&proxy), &["detect"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    let out = &ran.stdout;
    assert!(
        out.contains("TLS inspection: one root re-signs 4 hosts (pypi.org, files.pythonhosted.org, github.com, registry.npmjs.org)"),
        "{ran}"
    );
    for needle in [
        "pypi.org:443 via proxy 127.0.0.1:",
        "RE-SIGNED: its certificate is issued under Zscaler Root CA, which is not a public root",
        "root      CN=Zscaler Root CA, O=Zscaler Inc.",
        &format!("sha256    {sha}"),
        "vendor    Zscaler",
        "bundle    does not trust it",
        &format!("cabundle proxy trust --fingerprint {sha}"),
    ] {
        assert!(out.contains(needle), "{needle:?} not in:\n{ran}");
    }
    assert!(
        ran.stderr
            .contains("error: TLS inspection found: 1 root the bundle does not trust"),
        "{ran}"
    );
    let log = proxy.log();
    for host in DEFAULT_HOSTS {
        assert!(log.contains(&format!("CONNECT {host}:443")), "{log}");
    }
}

/// `--json`: the shape scripts read.
#[test]
fn detect_json_shape() {
    let fx = Synced::new(&[]);
    let root = proxy_root("Zscaler Root CA", "Zscaler Inc.");
    let chain = chain_for(&root, &["pypi.org"], true);
    let proxy = Proxy::all(fx.dir(), &["pypi.org"], &chain);
    let (ran, d) = run_json(
        &fx,
        &empty_store(fx.dir()),
        Some(&proxy),
        &["detect", "pypi.org", "https://nowhere.example/"],
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&d),
        [
            "hosts",
            "inspected",
            "public_roots",
            "reached",
            "roots",
            "stores",
            "trusted"
        ]
    );
    assert_eq!(d["inspected"], true);
    assert_eq!(d["trusted"], false);
    assert_eq!(d["reached"], 1);
    let h = &d["hosts"][0];
    assert_eq!(
        keys(h),
        [
            "chain",
            "error",
            "host",
            "leaf_names_host",
            "port",
            "proxy",
            "root",
            "url",
            "verdict"
        ]
    );
    assert_eq!(h["verdict"], "re-signed");
    assert_eq!(h["host"], "pypi.org");
    assert_eq!(h["port"], 443);
    assert_eq!(h["proxy"], format!("127.0.0.1:{}", proxy.port));
    assert_eq!(h["leaf_names_host"], true);
    assert_eq!(
        keys(&h["chain"][0]),
        ["issuer", "not_after", "not_before", "sha256", "subject"]
    );
    let unreached = &d["hosts"][1];
    assert_eq!(unreached["verdict"], "unreached");
    assert!(
        unreached["error"].as_str().unwrap().contains("502"),
        "{unreached}"
    );
    let r = &d["roots"][0];
    assert_eq!(
        keys(r),
        [
            "authority_key_id",
            "held_by",
            "hosts",
            "id",
            "in_bundle",
            "leaf_only",
            "look_alikes",
            "sent",
            "sha256",
            "subject",
            "vendor"
        ]
    );
    let sha = openssl_sha256(&root.pem);
    assert_eq!(r["id"], format!("sha256:{sha}"));
    assert_eq!(h["root"], r["id"]);
    assert_eq!(r["sha256"], sha);
    assert_eq!(r["vendor"], "Zscaler");
    assert_eq!(r["hosts"], json!(["pypi.org"]));
    assert_eq!(r["sent"], true);
    assert_eq!(r["in_bundle"], false);
    assert_eq!(r["held_by"], json!([]));
    assert_eq!(keys(&d["stores"][0]), ["certificates", "error", "store"]);

    // trust's JSON: the same, and what became of each root.
    let (ran, t) = run_json(
        &fx,
        &empty_store(fx.dir()),
        Some(&proxy),
        &["trust", "pypi.org"],
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert_eq!(
        keys(&t),
        [
            "hosts",
            "inspected",
            "outcomes",
            "public_roots",
            "reached",
            "roots",
            "stores",
            "trusted",
            "unmatched_fingerprints"
        ]
    );
    let o = &t["outcomes"][0];
    assert_eq!(
        keys(o),
        [
            "confirmed_by",
            "message",
            "name",
            "root",
            "sha256",
            "state",
            "subject"
        ]
    );
    assert_eq!(o["state"], "refused");
    assert_eq!(o["root"], r["id"]);
}

/// A proxy that sends only its leaves: detect says which CA to obtain (its
/// name and key id, as openssl prints the leaf's Authority Key Identifier)
/// and where it might be. trust adds it from a file the user names, not
/// without.
#[test]
fn leaf_only_proxy_names_the_issuer_to_obtain() {
    let fx = Synced::new(&[]);
    let root = proxy_root("Corp Web Filter Root", "Corp");
    let chain = chain_for(&root, DEFAULT_HOSTS, false);
    let proxy = Proxy::all(fx.dir(), DEFAULT_HOSTS, &chain);
    let empty = empty_store(fx.dir());

    let ran = run(&fx, &empty, Some(&proxy), &["detect"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    let (_, text) = common::openssl(&["x509", "-noout", "-text"], &chain.0);
    let keyid = text
        .lines()
        .skip_while(|l| !l.contains("Authority Key Identifier"))
        .nth(1)
        .unwrap()
        .trim()
        .trim_start_matches("keyid:")
        .to_string();
    for needle in [
        "root      NOT SENT: the proxy sends only its leaf certificates, issued by CN=Corp Web Filter Root, O=Corp",
        &format!("key id    {keyid}"),
        "vendor    not recognised",
        "browser's certificate manager",
        "cabundle proxy trust --from FILE",
    ] {
        assert!(ran.stdout.contains(needle), "{needle:?} not in:\n{ran}");
    }

    let before = kept(&fx);
    let ran = run(&fx, &empty, Some(&proxy), &["trust"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert_eq!(kept(&fx), before);

    let file = write(&fx.dir().join("from-it.pem"), &root.pem);
    let ran = run(
        &fx,
        &empty,
        Some(&proxy),
        &["trust", "--from", file.to_str().unwrap()],
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    let sha = openssl_sha256(&root.pem);
    assert!(
        ran.stdout.contains(&format!(
            "added proxy-corp-web-filter-root: CN=Corp Web Filter Root, O=Corp (sha256 {sha}): the copy in the file {}",
            file.display()
        )),
        "{ran}"
    );
    assert!(kept(&fx).contains(&sha));
}

/// Two roots on different hosts (split tunnelling): each listed with its
/// hosts.
#[test]
fn split_roots_are_listed_each_with_its_hosts() {
    let fx = Synced::new(&[]);
    let a = proxy_root("caadmin.netskope.com", "Netskope Inc");
    let b = proxy_root("Branch Office Inspection CA", "Corp");
    let chain_a = chain_for(&a, &DEFAULT_HOSTS[..2], true);
    let chain_b = chain_for(&b, &DEFAULT_HOSTS[2..], true);
    let proxy = Proxy::start(
        fx.dir(),
        &[
            ("pypi.org", Answer::Tls(&chain_a)),
            ("files.pythonhosted.org", Answer::Tls(&chain_a)),
            ("github.com", Answer::Tls(&chain_b)),
            ("registry.npmjs.org", Answer::Tls(&chain_b)),
        ],
    );
    let empty = empty_store(fx.dir());
    let ran = run(&fx, &empty, Some(&proxy), &["detect"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stdout
            .contains("TLS inspection: 2 different roots re-sign these hosts (split tunnelling"),
        "{ran}"
    );
    assert!(
        ran.stdout
            .contains("vendor    Netskope\n  hosts     pypi.org, files.pythonhosted.org\n"),
        "{ran}"
    );
    assert!(
        ran.stdout
            .contains("vendor    not recognised\n  hosts     github.com, registry.npmjs.org\n"),
        "{ran}"
    );
    assert!(
        ran.stderr
            .contains("TLS inspection found: 2 roots the bundle does not trust"),
        "{ran}"
    );

    // One confirmed by IT's fingerprint, the other by nothing: one added
    // (as proxy-netskope), one refused, exit 1.
    let sha_a = openssl_sha256(&a.pem);
    let (ran, t) = run_json(
        &fx,
        &empty,
        Some(&proxy),
        &["trust", "--fingerprint", &sha_a],
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    let states: Vec<(&str, &str)> = t["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["subject"].as_str().unwrap(), o["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("CN=caadmin.netskope.com, O=Netskope Inc", "added"),
            ("CN=Branch Office Inspection CA, O=Corp", "refused")
        ]
    );
    assert_eq!(t["outcomes"][0]["name"], "proxy-netskope");
    let kept = kept(&fx);
    assert!(kept.contains(&sha_a));
    assert!(!kept.contains(&openssl_sha256(&b.pem)));
}

/// No proxy re-signs: the host's chain (through a proxy that only
/// tunnels) ends at a root of the Mozilla set in use (a test set, fetched
/// from a file): exit 0, and a host that cannot be reached is said so but
/// is not fatal. With no host reached at all, exit 1.
#[test]
fn no_proxy_re_signs_these_hosts() {
    let fx = Synced::new(&[]);
    let public = valid_ca("cabundle test Public Root");
    let mut set = String::new();
    for block in snapshot_roots().iter().chain([&public.pem]) {
        set += &format!("\n# Label: \"root\"\n{block}");
    }
    sync_fetched(&fx.home, &write(&fx.dir().join("cacert.pem"), set));
    let leaf = minted(&public, &["pypi.org"]);
    let server = Https::hello(fx.dir(), &leaf);
    let proxy = Proxy::start(fx.dir(), &[("pypi.org", Answer::Tunnel(server.port))]);
    let empty = empty_store(fx.dir());

    let ran = run(
        &fx,
        &empty,
        Some(&proxy),
        &["detect", "pypi.org", "https://unreachable.example/"],
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout
            .contains("no proxy re-signs these hosts (1 host could not be reached)"),
        "{ran}"
    );
    assert!(
        ran.stdout.contains("pypi.org:443 via proxy")
            && ran
                .stdout
                .contains("public: its chain ends at a root of Mozilla roots"),
        "{ran}"
    );
    assert!(
        ran.stdout.contains("unreachable.example:443 via proxy")
            && ran.stdout.contains("not reached: ")
            && ran.stdout.contains("502 Bad Gateway"),
        "{ran}"
    );
    let ran = run(&fx, &empty, Some(&proxy), &["trust", "pypi.org"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("nothing to add"), "{ran}");

    let ran = run(
        &fx,
        &empty,
        Some(&proxy),
        &["detect", "https://unreachable.example/"],
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stdout.contains("none of the hosts could be reached"),
        "{ran}"
    );
    assert!(ran.stderr.contains("no host could be reached"), "{ran}");
}

// ---------------------------------------------------------------- trust

/// Nothing vouches for the root: trust says what to ask IT, exits 1, and
/// adds nothing (`list` unchanged, no CA stored).
#[test]
fn trust_refuses_a_root_only_the_network_vouches_for() {
    let fx = Synced::new(&[]);
    let root = proxy_root("Zscaler Root CA", "Zscaler Inc.");
    let chain = chain_for(&root, DEFAULT_HOSTS, true);
    let proxy = Proxy::all(fx.dir(), DEFAULT_HOSTS, &chain);
    let before = kept(&fx);
    let sha = openssl_sha256(&root.pem);

    let ran = run(&fx, &empty_store(fx.dir()), Some(&proxy), &["trust"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stdout.contains(
            "NOT added: CN=Zscaler Root CA, O=Zscaler Inc.: no store here holds it, and no --fingerprint from IT names it"
        ),
        "{ran}"
    );
    assert!(
        ran.stdout.contains(&format!("if it is {sha}, run")),
        "{ran}"
    );
    assert!(
        ran.stderr.contains(
            "error: 1 TLS-inspection root not added: nothing here vouches for it (no store holds it, no --fingerprint given names it)"
        ),
        "{ran}"
    );
    assert_eq!(kept(&fx), before);
    assert!(
        !fx.home.join("cas").exists()
            || fs::read_dir(fx.home.join("cas")).unwrap().next().is_none()
    );
    assert!(requests_through(&fx, &proxy, true).is_err());
}

/// The admin (or MDM) put the same root in the OS store: trust adds that
/// copy, as `add` would (stored under proxy-zscaler, synced), and Python's
/// requests through the proxy then succeeds under `cabundle exec`; detect
/// then exits 0.
#[test]
fn trust_adds_the_os_stores_copy_and_requests_then_succeeds() {
    let fx = Synced::new(&[]);
    let root = proxy_root("Zscaler Root CA", "Zscaler Inc.");
    let chain = chain_for(&root, DEFAULT_HOSTS, true);
    let proxy = Proxy::all(fx.dir(), DEFAULT_HOSTS, &chain);
    let sha = openssl_sha256(&root.pem);
    let os = store_with(fx.dir(), "corp", &[&root.pem]);

    let refused = requests_through(&fx, &proxy, true).unwrap_err();
    assert!(refused.contains("CERTIFICATE_VERIFY_FAILED"), "{refused}");

    let ran = run(&fx, &os, Some(&proxy), &["detect"]);
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stdout.contains(&format!(
            "held by   the OS store under {} (Debian GNU/Linux 12 (bookworm)): os:/usr/local/share/ca-certificates/corp-0.crt (sha256 {sha}), the same certificate",
            os.display()
        )),
        "{ran}"
    );
    assert!(
        ran.stdout
            .contains("next      cabundle proxy trust   (adds the copy the OS store"),
        "{ran}"
    );

    let ran = run(&fx, &os, Some(&proxy), &["trust"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains(&format!(
            "added proxy-zscaler: CN=Zscaler Root CA, O=Zscaler Inc. (sha256 {sha}): the copy in the OS store under {}",
            os.display()
        )),
        "{ran}"
    );
    let records = list_json(&fx.home);
    let r = common::record(&records, &sha);
    assert_eq!(r["status"], "kept");
    assert!(
        common::sources(r).contains(&"added:proxy-zscaler".to_string()),
        "{r}"
    );
    assert!(
        fx.home
            .join("cas/proxy-zscaler")
            .join(format!("{sha}.pem"))
            .is_file()
    );

    assert_eq!(
        requests_through(&fx, &proxy, true).unwrap(),
        "hello through the inspection proxy\n"
    );
    // Without the bundle, requests still refuses: nothing else changed.
    assert!(requests_through(&fx, &proxy, false).is_err());

    let ran = run(&fx, &os, Some(&proxy), &["detect"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(ran.stdout.contains("bundle    trusts it already"), "{ran}");
    let ran = run(&fx, &os, Some(&proxy), &["trust"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains("already trusted: CN=Zscaler Root CA"),
        "{ran}"
    );
}

/// IT gave the root's SHA-256 (in openssl's colon form): the presented
/// root that has it is added, though no store holds it.
#[test]
fn trust_adds_the_presented_root_whose_fingerprint_it_gave() {
    let fx = Synced::new(&[]);
    let root = proxy_root("mitmproxy", "mitmproxy");
    let chain = chain_for(&root, DEFAULT_HOSTS, true);
    let proxy = Proxy::all(fx.dir(), DEFAULT_HOSTS, &chain);
    let sha = openssl_sha256(&root.pem);
    let colons: Vec<String> = sha
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();

    let ran = run(
        &fx,
        &empty_store(fx.dir()),
        Some(&proxy),
        &["trust", "--fingerprint", &colons.join(":")],
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains(&format!(
            "added proxy-mitmproxy: CN=mitmproxy, O=mitmproxy (sha256 {sha}): the presented root, whose SHA-256 is the one given with --fingerprint"
        )),
        "{ran}"
    );
    assert!(kept(&fx).contains(&sha));
    assert_eq!(
        requests_through(&fx, &proxy, true).unwrap(),
        "hello through the inspection proxy\n"
    );

    // A malformed fingerprint is a usage error.
    let ran = run(
        &fx,
        &empty_store(fx.dir()),
        Some(&proxy),
        &["trust", "--fingerprint", "abc"],
    );
    assert_eq!(ran.code, Some(2), "{ran}");
}

/// The OS store holds a re-issue of the proxy's root (same name and key,
/// other dates): it anchors what the proxy presents, so it confirms it,
/// and what is added is the store's copy, not the presented one.
#[test]
fn a_reissued_root_in_the_store_confirms_and_its_copy_is_added() {
    let fx = Synced::new(&[]);
    let root = proxy_root("Zscaler Root CA", "Zscaler Inc.");
    let mut renewed = ca_params("Zscaler Root CA", days(-10), days(7300));
    renewed
        .distinguished_name
        .remove(rcgen::DnType::OrganizationName);
    renewed
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Zscaler Inc.");
    let renewed_pem = renewed.self_signed(&root.key).unwrap().pem();
    let chain = chain_for(&root, DEFAULT_HOSTS, true);
    let proxy = Proxy::all(fx.dir(), DEFAULT_HOSTS, &chain);
    let os = store_with(fx.dir(), "corp", &[&renewed_pem]);
    let (presented, stored) = (openssl_sha256(&root.pem), openssl_sha256(&renewed_pem));
    assert_ne!(presented, stored);

    let ran = run(&fx, &os, Some(&proxy), &["trust"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains(&format!(
            "(sha256 {stored}), the same name and key (re-issued)"
        )),
        "{ran}"
    );
    assert!(
        ran.stdout.contains(&format!(
            "added proxy-zscaler: CN=Zscaler Root CA, O=Zscaler Inc. (sha256 {stored})"
        )),
        "{ran}"
    );
    let kept = kept(&fx);
    assert!(kept.contains(&stored) && !kept.contains(&presented));
    assert!(
        fx.home
            .join("cas/proxy-zscaler")
            .join(format!("{stored}.pem"))
            .is_file()
    );
    assert_eq!(
        requests_through(&fx, &proxy, true).unwrap(),
        "hello through the inspection proxy\n"
    );
}

/// A rogue proxy with a root of the same name as the one the admin
/// installed, but its own key: no store holds it, the store's namesake is
/// named as not it, and it is never added: not with the real root's
/// fingerprint, not with any other.
#[test]
fn a_rogue_root_is_never_added() {
    let fx = Synced::new(&[]);
    let real = proxy_root("Zscaler Root CA", "Zscaler Inc.");
    let rogue = proxy_root("Zscaler Root CA", "Zscaler Inc.");
    let chain = chain_for(&rogue, DEFAULT_HOSTS, true);
    let proxy = Proxy::all(fx.dir(), DEFAULT_HOSTS, &chain);
    let os = store_with(fx.dir(), "corp", &[&real.pem]);
    let (real_sha, rogue_sha) = (openssl_sha256(&real.pem), openssl_sha256(&rogue.pem));
    let before = kept(&fx);

    for fingerprint in [real_sha.as_str(), &"ab".repeat(32)] {
        let ran = run(
            &fx,
            &os,
            Some(&proxy),
            &["trust", "--fingerprint", fingerprint],
        );
        assert_eq!(ran.code, Some(1), "{ran}");
        assert!(
            ran.stdout.contains(&format!(
                "NOT it    the OS store under {} (Debian GNU/Linux 12 (bookworm)): CN=Zscaler Root CA, O=Zscaler Inc. (sha256 {real_sha}): same name, another key",
                os.display()
            )),
            "{ran}"
        );
        assert!(
            ran.stdout.contains(&format!(
                "NOT added: CN=Zscaler Root CA, O=Zscaler Inc.: no store here holds it, and its SHA-256 ({rogue_sha}) is not the one given with --fingerprint"
            )),
            "{ran}"
        );
        assert!(
            ran.stdout.contains(&format!(
                "holds a CA of the same name that did not sign these certificates: this is not the root installed there\n--fingerprint {fingerprint} is the SHA-256 of no root presented here"
            )),
            "{ran}"
        );
        assert_eq!(kept(&fx), before);
    }
    assert!(requests_through(&fx, &proxy, true).is_err());
}

// ---------------------------------------------------------------- stores

/// What `security trust-settings-export -d` writes, denying `sha1` for SSL.
fn denying(sha1: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<plist version=\"1.0\">\n<dict>\
         <key>trustList</key><dict><key>{sha1}</key><dict><key>trustSettings</key><array><dict>\
         <key>kSecTrustSettingsPolicy</key><data>KoZIhvdjZAED</data>\
         <key>kSecTrustSettingsPolicyName</key><string>sslServer</string>\
         <key>kSecTrustSettingsResult</key><integer>3</integer>\
         </dict></array></dict></dict><key>trustVersion</key><integer>1</integer></dict></plist>\n"
    )
}

/// A macOS keychain export holding the root confirms it, as the OS store
/// does; the same export with the admin's trust settings denying it does
/// not: a store confirms only what it trusts.
#[test]
fn a_macos_export_confirms_unless_its_trust_settings_deny_the_root() {
    let fx = Synced::new(&[]);
    let root = proxy_root("Netskope Root CA", "Netskope Inc");
    let chain = chain_for(&root, &["pypi.org"], true);
    let proxy = Proxy::all(fx.dir(), &["pypi.org"], &chain);
    let export = write(&fx.dir().join("keychain.pem"), &root.pem);
    let settings = write(
        &fx.dir().join("trust.plist"),
        denying(&common::openssl_sha1(&root.pem)),
    );
    let sha = openssl_sha256(&root.pem);

    let ran = run_at(
        &fx,
        None,
        Some(&proxy),
        &[
            "trust",
            "pypi.org",
            "--macos-export",
            export.to_str().unwrap(),
            "--macos-trust-settings",
            settings.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stdout.contains("NOT added: CN=Netskope Root CA"),
        "{ran}"
    );
    assert!(!kept(&fx).contains(&sha));
    // Nor with IT's fingerprint: the admin's denial wins, as in sync.
    let ran = run_at(
        &fx,
        None,
        Some(&proxy),
        &[
            "trust",
            "pypi.org",
            "--fingerprint",
            &sha,
            "--macos-export",
            export.to_str().unwrap(),
            "--macos-trust-settings",
            settings.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stdout
            .contains("NOT added: CN=Netskope Root CA, O=Netskope Inc: sync would leave it out: "),
        "{ran}"
    );
    assert!(!kept(&fx).contains(&sha));

    let ran = run_at(
        &fx,
        None,
        Some(&proxy),
        &[
            "trust",
            "pypi.org",
            "--macos-export",
            export.to_str().unwrap(),
        ],
    );
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains(&format!(
            "added proxy-netskope: CN=Netskope Root CA, O=Netskope Inc (sha256 {sha}): the copy in the macOS store (macOS keychain export {})",
            export.display()
        )),
        "{ran}"
    );
    assert!(kept(&fx).contains(&sha));
}

/// The user's NSS database (found as `install --nss` finds it, in the
/// scratch HOME) confirms a root it trusts as a CA for TLS servers (`C`),
/// not one it merely holds, nor one cabundle itself put there. A folder
/// named with --nss-db that holds no database is an error.
#[test]
fn an_nss_database_confirms_only_a_ca_it_trusts_for_servers() {
    if !common::require(
        "certutil",
        "--build-flags",
        "Debian: apt-get install libnss3-tools",
    ) {
        return;
    }
    let fx = Synced::new(&[]);
    let root = proxy_root("Sophos SSL CA", "Sophos");
    let chain = chain_for(&root, &["pypi.org"], true);
    let proxy = Proxy::all(fx.dir(), &["pypi.org"], &chain);
    let empty = empty_store(fx.dir());
    let db = user_home(&fx).join(".pki/nssdb");
    fs::create_dir_all(&db).unwrap();
    common::certutil(&db, &["-N", "--empty-password"]);
    let file = write(&fx.dir().join("sophos.pem"), &root.pem);
    let add = |nickname: &str, trust: &str| {
        common::certutil(
            &db,
            &[
                "-A",
                "-n",
                nickname,
                "-t",
                trust,
                "-i",
                file.to_str().unwrap(),
            ],
        )
    };
    let sha = openssl_sha256(&root.pem);

    // Held, not trusted; then trusted, but under cabundle's own nickname.
    for (nickname, trust) in [("Sophos", ",,"), ("cabundle proxy-sophos 00000000", "C,,")] {
        add(nickname, trust);
        let ran = run(&fx, &empty, Some(&proxy), &["trust", "pypi.org"]);
        assert_eq!(ran.code, Some(1), "{ran}");
        assert!(
            ran.stdout
                .contains(&format!("the NSS database {} (0 CAs)", db.display())),
            "{ran}"
        );
        common::certutil(&db, &["-D", "-n", nickname]);
    }
    assert!(!kept(&fx).contains(&sha));

    add("Sophos SSL CA (IT)", "C,,");
    let ran = run(&fx, &empty, Some(&proxy), &["trust", "pypi.org"]);
    assert_eq!(ran.code, Some(0), "{ran}");
    assert!(
        ran.stdout.contains(&format!(
            "added proxy-sophos: CN=Sophos SSL CA, O=Sophos (sha256 {sha}): the copy in the NSS database {} (nss:Sophos SSL CA (IT))",
            db.display()
        )),
        "{ran}"
    );

    let ran = run(
        &fx,
        &empty,
        Some(&proxy),
        &["detect", "pypi.org", "--nss-db", fx.dir().to_str().unwrap()],
    );
    assert_eq!(ran.code, Some(1), "{ran}");
    assert!(
        ran.stderr.contains(&format!(
            "error: --nss-db {}: holds no NSS database (cert9.db)",
            fx.dir().display()
        )),
        "{ran}"
    );
}
