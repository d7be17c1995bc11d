//! `cabundle fetch --from https://...` against loopback servers: a Python
//! HTTPS server whose certificate a corporate CA signed (trusted only once
//! `cabundle add` put that CA in the merged bundle), serving the embedded PEM
//! snapshot, the real certdata.txt and broken variants of them; a plain TCP
//! listener that accepts and never answers; and a CONNECT proxy.
//!
//! Every refused fetch must exit 1, name the URL and a reason on stderr, and
//! leave the cache folder and the bundle byte for byte as they were. A good
//! fetch must be what `sync --offline` then uses, checked certificate by
//! certificate with openssl. Nothing leaves 127.0.0.1: proxy variables are
//! cleared for every command (the proxy test sets its own) and the test
//! proxy only connects to loopback.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::certdata::{Root, certdata};
use common::server::{ServerChild, launch};
use common::*;
use serde_json::{Value, json};

/// Three listeners on 127.0.0.1, ports chosen by the OS and printed on one
/// line as `HTTPS PLAIN PROXY`:
///
/// - HTTPS (`http.server` + `ssl`, a thread per connection; the handshake
///   runs in that thread, so a client refusing the certificate cannot wedge
///   the server) serving the routes of a JSON file. A route may give a
///   `status`, a body (`file` or `text`, grown to `repeat_to` bytes by
///   repetition), a `location`, a lying `declare`d Content-Length, `send`
///   only so many bytes then close (`close_notify`: a clean TLS close),
///   `no_length` (close-delimited body),
///   `stall` seconds before the status line, `stall_body` seconds after the
///   headers, or `drip` one byte every so many seconds after `drip_after`
///   bytes. Anything else is a 404. `{https}` and `{plain}` in a location
///   are the ports.
/// - PLAIN: plain TCP that accepts, logs `PLAIN accept`, and never sends a
///   byte.
/// - PROXY: an HTTP CONNECT proxy to loopback only, logging `PROXY <request
///   line>`.
///
/// Requests are logged as `GET <path>`, one a line, in the log file.
const SERVER: &str = r#"
import http.server, json, socket, ssl, sys, threading, time

cert, key, routes_file, log_file = sys.argv[1:5]
ROUTES = json.load(open(routes_file))
LOCK = threading.Lock()
PORTS = {}
HELD = []

def log(line):
    with LOCK:
        with open(log_file, "a") as f:
            f.write(line + "\n")

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        log("GET " + self.path)
        try:
            self.respond(ROUTES.get(self.path))
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def respond(self, r):
        if r is None:
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if "stall" in r:
            time.sleep(r["stall"])
            self.close_connection = True
            return
        body = b""
        if "file" in r:
            with open(r["file"], "rb") as f:
                body = f.read()
        if "text" in r:
            body = r["text"].encode()
        if "repeat_to" in r:
            body = body * (-(-r["repeat_to"] // len(body)))
        self.send_response(r.get("status", 200))
        if "location" in r:
            self.send_header("Location", r["location"].format(**PORTS))
        if r.get("no_length"):
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(r.get("declare", len(body))))
        self.end_headers()
        if "stall_body" in r:
            time.sleep(r["stall_body"])
            self.close_connection = True
            return
        if "send" in r:
            body = body[: r["send"]]
            self.close_connection = True
        if "drip" in r:
            head = r.get("drip_after", 0)
            self.wfile.write(body[:head])
            for i in range(head, len(body)):
                time.sleep(r["drip"])
                self.wfile.write(body[i : i + 1])
        else:
            self.wfile.write(body)
        if r.get("close_notify"):
            # End TLS cleanly, so the client sees a well-formed end of stream.
            self.request.unwrap()

class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients that refuse us or hang up early are what the tests are about.
        pass

def plain(listener):
    while True:
        conn, _ = listener.accept()
        log("PLAIN accept")
        HELD.append(conn)

def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

def tunnel(conn):
    try:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        line = head.split(b"\r\n")[0].decode("latin-1")
        log("PROXY " + line)
        method, target = line.split(" ")[:2]
        host, port = target.rsplit(":", 1)
        if method != "CONNECT" or host not in ("127.0.0.1", "localhost"):
            conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            conn.close()
            return
        upstream = socket.create_connection(("127.0.0.1", int(port)))
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()
        pipe(conn, upstream)
    except OSError:
        pass

def proxy(listener):
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=tunnel, args=(conn,), daemon=True).start()

def listen():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    return s

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = Server(("127.0.0.1", 0), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
plain_listener = listen()
proxy_listener = listen()
PORTS["https"] = srv.server_address[1]
PORTS["plain"] = plain_listener.getsockname()[1]
threading.Thread(target=plain, args=(plain_listener,), daemon=True).start()
threading.Thread(target=proxy, args=(proxy_listener,), daemon=True).start()
print(PORTS["https"], PORTS["plain"], proxy_listener.getsockname()[1], flush=True)
srv.serve_forever()
"#;

/// The servers; killed and reaped however the test ends.
struct Server {
    _child: ServerChild,
    https: u16,
    plain: u16,
    proxy: u16,
    log: PathBuf,
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https)
    }

    /// What the listeners logged so far, one line each.
    fn log(&self) -> Vec<String> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn saw(&self, line: &str) -> bool {
        self.log().iter().any(|l| l == line)
    }

    fn plain_accepts(&self) -> usize {
        self.log().iter().filter(|l| *l == "PLAIN accept").count()
    }
}

fn start_server(dir: &Path, (cert, key): &(String, String), routes: &Value) -> Server {
    let dir = tempfile::tempdir_in(dir).unwrap().keep();
    let cert = write(&dir.join("cert.pem"), cert);
    let key = write(&dir.join("key.pem"), key);
    let routes = write(&dir.join("routes.json"), routes.to_string());
    let log = dir.join("requests.log");
    let stderr = dir.join("stderr.log");
    let (child, line) = launch(
        scrubbed("python3")
            .arg("-c")
            .arg(SERVER)
            .arg(&cert)
            .arg(&key)
            .arg(&routes)
            .arg(&log),
        &stderr,
        "python3 is required for this test: start the loopback HTTPS server",
    );
    let mut server = Server {
        _child: child,
        https: 0,
        plain: 0,
        proxy: 0,
        log,
    };
    let ports: Vec<u16> = line
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    assert_eq!(
        ports.len(),
        3,
        "the test servers did not start (printed {line:?}):\n{}",
        fs::read_to_string(&stderr).unwrap_or_default()
    );
    (server.https, server.plain, server.proxy) = (ports[0], ports[1], ports[2]);
    server
}

/// A state folder after `sync` of an empty Debian store and `add` of a corp
/// CA: the merged bundle (the only thing fetch trusts) holds the embedded
/// Mozilla roots and the corp CA.
struct Fx(Corp);

impl std::ops::Deref for Fx {
    type Target = Corp;
    fn deref(&self) -> &Corp {
        &self.0
    }
}

fn setup() -> Fx {
    let corp = Corp::new();
    corp.add_corp();
    assert!(bundle_holds(&corp.bundle(), &corp.corp.pem));
    Fx(corp)
}

impl Fx {
    fn cache(&self) -> PathBuf {
        self.home.join("cache")
    }

    /// A server with a valid leaf the corp CA signed.
    fn serve(&self, routes: Value) -> Server {
        start_server(self.dir(), &self.corp.leaf(days(-1), days(30)), &routes)
    }

    /// Put a previously fetched set in the cache (certdata.txt from a file,
    /// no network), so that "unchanged" is about real files.
    fn prime_cache(&self) {
        cabundle(&self.home)
            .arg("fetch")
            .arg("--from")
            .arg(common::certdata::current_certdata(self.dir()))
            .assert()
            .success();
        assert_eq!(snapshot(&self.cache()).len(), 2, "toml + pem cached");
    }
}

/// `cabundle fetch --from FROM --timeout SECS`, killed after `limit`;
/// (output, how long it took).
fn fetch_with(
    mut cmd: assert_cmd::Command,
    from: &str,
    secs: u64,
    limit: Duration,
) -> (Output, Duration) {
    let start = Instant::now();
    let out = cmd
        .args(["fetch", "--from", from, "--timeout", &secs.to_string()])
        .timeout(limit)
        .output()
        .unwrap();
    (out, start.elapsed())
}

fn fetch(home: &Path, from: &str, secs: u64) -> (Output, Duration) {
    fetch_with(cabundle(home), from, secs, Duration::from_secs(25))
}

fn fetch_ok(home: &Path, from: &str) -> String {
    let (out, took) = fetch(home, from, 10);
    let stderr = stderr_of(&out);
    assert!(
        out.status.success(),
        "fetch {from} failed ({:?} after {took:?}):\n{stderr}",
        out.status.code()
    );
    stderr
}

/// Run a fetch that must be refused: exit 1, the URL and one of `reasons`
/// (case-insensitive) on stderr, nothing on stdout, and the cache folder,
/// bundle and manifest exactly as before. Returns stderr.
fn assert_refused(fx: &Fx, from: &str, secs: u64, reasons: &[&str]) -> String {
    let cache = snapshot(&fx.cache());
    let bundle = fs::read(fx.home.join("ca-bundle.pem")).unwrap();
    let manifest = fs::read(fx.home.join("manifest.json")).unwrap();
    let (out, took) = fetch(&fx.home, from, secs);
    let stderr = stderr_of(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "fetch {from} should have failed with exit 1 (took {took:?}):\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("fetch from {from}: ")),
        "stderr does not name {from}:\n{stderr}"
    );
    let lower = stderr.to_lowercase();
    assert!(
        reasons.iter().any(|r| lower.contains(&r.to_lowercase())),
        "stderr gives none of the reasons {reasons:?}:\n{stderr}"
    );
    assert!(out.stdout.is_empty(), "fetch wrote to stdout");
    assert!(
        snapshot(&fx.cache()) == cache,
        "a refused fetch of {from} changed the cache folder"
    );
    assert!(
        fs::read(fx.home.join("ca-bundle.pem")).unwrap() == bundle,
        "a refused fetch changed the bundle"
    );
    assert!(
        fs::read(fx.home.join("manifest.json")).unwrap() == manifest,
        "a refused fetch changed the manifest"
    );
    eprintln!("refused {from} in {took:?}: {}", stderr.trim());
    stderr
}

/// What openssl says of certificates: base64 body of the DER ->
/// (SHA-256 by `openssl x509 -fingerprint -sha256`, unexpired by
/// `-checkend 0`). One openssl run per distinct certificate, a few at a time:
/// with its start-up cost, one run per block of every bundle compared would
/// take most of the time budget.
#[derive(Default)]
struct Openssl(BTreeMap<String, (String, bool)>);

impl Openssl {
    /// Ask openssl about the blocks it has not seen yet.
    fn learn<S: AsRef<str>>(&mut self, blocks: &[S]) {
        let mut todo: Vec<(String, &str)> = Vec::new();
        for b in blocks {
            let body = pem_body(b.as_ref());
            if !self.0.contains_key(&body) && !todo.iter().any(|(k, _)| *k == body) {
                todo.push((body, b.as_ref()));
            }
        }
        let chunk = todo.len().div_ceil(3).max(1);
        let learned: Vec<(String, (String, bool))> = std::thread::scope(|scope| {
            let handles: Vec<_> = todo
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|(body, pem)| (body.clone(), openssl_sha256_unexpired(pem)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect()
        });
        self.0.extend(learned);
    }

    /// (fingerprint, unexpired) of each block, in order.
    fn view<S: AsRef<str>>(&mut self, blocks: &[S]) -> Vec<(String, bool)> {
        self.learn(blocks);
        blocks
            .iter()
            .map(|b| self.0[&pem_body(b.as_ref())].clone())
            .collect()
    }

    /// fingerprint -> unexpired.
    fn set<S: AsRef<str>>(&mut self, blocks: &[S]) -> BTreeMap<String, bool> {
        self.view(blocks).into_iter().collect()
    }
}

/// An independent reading of certdata.txt: the certificates whose trust
/// object (joined by issuer and serial) says CKA_TRUST_SERVER_AUTH is
/// CKT_NSS_TRUSTED_DELEGATOR, each as (PEM, has a server distrust-after
/// date).
fn certdata_server_anchors(text: &str) -> Vec<(String, bool)> {
    let mut objects: Vec<BTreeMap<String, String>> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(name), Some(kind)) = (words.next(), words.next()) else {
            continue;
        };
        if !name.starts_with("CKA_") {
            continue;
        }
        if name == "CKA_CLASS" {
            objects.push(BTreeMap::new());
        }
        let value = if kind == "MULTILINE_OCTAL" {
            let mut octal = String::new();
            for l in lines.by_ref() {
                if l.trim() == "END" {
                    break;
                }
                octal.push_str(l.trim());
            }
            octal
        } else {
            words.collect::<Vec<_>>().join(" ")
        };
        if let Some(o) = objects.last_mut() {
            o.insert(name.to_string(), value);
        }
    }
    let key = |o: &BTreeMap<String, String>| {
        (
            o.get("CKA_ISSUER").cloned().unwrap_or_default(),
            o.get("CKA_SERIAL_NUMBER").cloned().unwrap_or_default(),
        )
    };
    let trust: BTreeMap<_, _> = objects
        .iter()
        .filter(|o| o["CKA_CLASS"] == "CKO_NSS_TRUST")
        .map(|o| (key(o), o.get("CKA_TRUST_SERVER_AUTH").cloned()))
        .collect();
    objects
        .iter()
        .filter(|o| o["CKA_CLASS"] == "CKO_CERTIFICATE")
        .filter(|o| {
            trust.get(&key(o)).cloned().flatten().as_deref() == Some("CKT_NSS_TRUSTED_DELEGATOR")
        })
        .map(|o| {
            let der: Vec<u8> = o["CKA_VALUE"]
                .split('\\')
                .filter(|s| !s.is_empty())
                .map(|s| u8::from_str_radix(s, 8).unwrap())
                .collect();
            // A date is octal bytes; "no date" is `CK_BBOOL CK_FALSE`.
            let distrust_after = o
                .get("CKA_NSS_SERVER_DISTRUST_AFTER")
                .is_some_and(|v| v.starts_with('\\'));
            (der_to_pem(&der), distrust_after)
        })
        .collect()
}

/// The cached provenance, as written by the fetch.
fn cached_provenance(fx: &Fx) -> toml::Table {
    let text = fs::read_to_string(fx.cache().join("mozilla-roots.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

/// After a good fetch: `sync --root <empty dir> --offline` must give exactly
/// the fetched roots (`fetched`: fingerprint -> unexpired) that are not
/// expired, plus the corp CA, and record the new provenance.
fn assert_sync_uses(
    fx: &Fx,
    openssl: &mut Openssl,
    fetched: &BTreeMap<String, bool>,
    url: &str,
    format: &str,
) {
    let stderr = sync_offline(&fx.home, &[]);
    assert_bundle_is_what_list_keeps(&fx.home);
    assert!(
        stderr.contains(&format!("({url}, ")),
        "sync does not say the Mozilla roots came from {url}:\n{stderr}"
    );

    // The bundle, by openssl: no duplicate, nothing expired, exactly the set.
    let corp_fp = openssl.view(&[&fx.corp.pem])[0].0.clone();
    let text = fs::read_to_string(fx.home.join("ca-bundle.pem")).unwrap();
    let blocks = pem_blocks(&text);
    let view = openssl.view(&blocks);
    let got: BTreeSet<String> = view.iter().map(|(f, _)| f.clone()).collect();
    assert_eq!(got.len(), view.len(), "a certificate appears twice");
    for (fp, unexpired) in &view {
        assert!(unexpired, "expired certificate in the bundle: {fp}");
    }
    let mut want: BTreeSet<String> = fetched
        .iter()
        .filter(|(_, ok)| **ok)
        .map(|(f, _)| f.clone())
        .collect();
    want.insert(corp_fp.clone());
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "bundle != fetched unexpired roots + corp CA\nmissing: {missing:?}\nextra: {extra:?}"
    );

    // The manifest names the fetched set.
    let manifest: Value =
        serde_json::from_slice(&fs::read(fx.home.join("manifest.json")).unwrap()).unwrap();
    let cached = cached_provenance(fx);
    assert_eq!(manifest["mozilla"]["upstream"], url);
    assert_eq!(manifest["mozilla"]["format"], format);
    assert_eq!(
        manifest["mozilla"]["upstream_sha256"].as_str(),
        cached["upstream_sha256"].as_str()
    );
    assert_eq!(
        manifest["mozilla"]["count"].as_u64(),
        Some(fetched.len() as u64)
    );

    // `list --json --all`: every fetched root under "mozilla", expired ones
    // marked so, and the corp CA as added.
    let records = list_json(&fx.home);
    let mozilla: BTreeMap<String, String> = records
        .iter()
        .filter(|r| {
            r["sources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == "mozilla")
        })
        .map(|r| {
            (
                r["sha256"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = fetched
        .iter()
        .map(|(f, ok)| (f.clone(), if *ok { "kept" } else { "expired" }.to_string()))
        .collect();
    assert_eq!(mozilla, expected, "list --json --all vs the fetched set");
    let corp: Vec<_> = records.iter().filter(|r| r["sha256"] == corp_fp).collect();
    assert!(
        corp.len() == 1 && corp[0]["status"] == "kept",
        "corp CA in list: {corp:?}"
    );
    assert_eq!(records.len(), fetched.len() + 1, "nothing else is listed");

    // The human list says which Mozilla set it is.
    let out = cabundle(&fx.home).arg("list").output().unwrap();
    assert!(out.status.success());
    assert!(
        stderr_of(&out).contains("Mozilla fetched "),
        "list does not show the fetched set:\n{}",
        stderr_of(&out)
    );
}

#[test]
fn pem_bundle_with_correct_published_sha256_is_fetched_and_then_used_by_sync() {
    let fx = setup();
    fx.prime_cache();
    let old_pem: Vec<PathBuf> = snapshot(&fx.cache())
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.extension().is_some_and(|e| e == "pem"))
        .collect();

    let bytes = fs::read(snapshot_pem()).unwrap();
    let hex = sha256_hex(&bytes);
    let server = fx.serve(json!({
        "/ca/cacert.pem": {"file": snapshot_pem()},
        "/ca/cacert.pem.sha256": {"text": format!("{hex}  cacert.pem\n")},
    }));
    let url = server.url("/ca/cacert.pem");
    let served = pem_blocks(&String::from_utf8(bytes).unwrap());
    let stderr = fetch_ok(&fx.home, &url);
    assert!(
        stderr.contains(&format!(
            "fetched {} Mozilla roots from {url}",
            served.len()
        )),
        "{stderr}"
    );
    assert!(server.saw("GET /ca/cacert.pem"));
    assert!(
        server.saw("GET /ca/cacert.pem.sha256"),
        "the published SHA-256 was not even asked for: {:?}",
        server.log()
    );

    // The cache: the new provenance and its PEM; the old set is gone.
    let p = cached_provenance(&fx);
    assert_eq!(p["upstream"].as_str(), Some(url.as_str()));
    assert_eq!(p["format"].as_str(), Some("cacert.pem"));
    assert_eq!(p["upstream_sha256"].as_str(), Some(hex.as_str()));
    assert_eq!(p["count"].as_integer(), Some(served.len() as i64));
    let file = fx.cache().join(p["file"].as_str().unwrap());
    let files: BTreeSet<PathBuf> = snapshot(&fx.cache()).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        files,
        BTreeSet::from([fx.cache().join("mozilla-roots.toml"), file.clone()])
    );
    assert!(!old_pem.contains(&file));
    let cached: BTreeSet<String> = pem_blocks(&fs::read_to_string(&file).unwrap())
        .iter()
        .map(|b| pem_body(b))
        .collect();
    let want: BTreeSet<String> = served.iter().map(|b| pem_body(b)).collect();
    assert_eq!(cached, want, "the cached PEM is not what was served");

    let mut openssl = Openssl::default();
    let fetched = openssl.set(&served);
    assert_sync_uses(&fx, &mut openssl, &fetched, &url, "cacert.pem");
}

#[test]
fn certdata_txt_without_published_sha256_gives_exactly_the_server_auth_anchors() {
    let fx = setup();
    let file = common::certdata::current_certdata(fx.dir());
    let text = fs::read_to_string(&file).unwrap();
    let anchors = certdata_server_anchors(&text);
    assert!(anchors.len() > 100, "the oracle found {}", anchors.len());
    let server = fx.serve(json!({"/certdata.txt": {"file": file}}));
    let url = server.url("/certdata.txt");

    let stderr = fetch_ok(&fx.home, &url);
    assert!(
        stderr.contains(&format!(
            "fetched {} Mozilla roots from {url}",
            anchors.len()
        )),
        "{stderr}"
    );
    assert!(server.saw("GET /certdata.txt"));

    let pems: Vec<&String> = anchors.iter().map(|(p, _)| p).collect();
    let mut openssl = Openssl::default();
    let fetched = openssl.set(&pems);
    assert_eq!(
        fetched.len(),
        anchors.len(),
        "duplicate anchors in certdata"
    );
    assert!(
        fetched.values().any(|ok| !ok),
        "the certdata.txt should hold an expired root"
    );
    let distrusted: BTreeSet<String> = anchors
        .iter()
        .filter(|(_, d)| *d)
        .map(|(p, _)| openssl.view(&[p])[0].0.clone())
        .collect();
    assert!(!distrusted.is_empty());

    let p = cached_provenance(&fx);
    assert_eq!(p["upstream"].as_str(), Some(url.as_str()));
    assert_eq!(p["format"].as_str(), Some("certdata.txt"));
    assert_eq!(
        p["upstream_sha256"].as_str(),
        Some(sha256_hex(text.as_bytes()).as_str())
    );
    assert_eq!(p["count"].as_integer(), Some(anchors.len() as i64));
    let cached_distrust: BTreeSet<String> = p["distrust_after"]
        .as_table()
        .map(|t| {
            t.keys()
                .map(|k| k.replace(':', "").to_lowercase())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        cached_distrust, distrusted,
        "distrust-after dates recorded vs certdata.txt"
    );

    assert_sync_uses(&fx, &mut openssl, &fetched, &url, "certdata.txt");
}

#[test]
fn wrong_published_sha256_is_refused() {
    let fx = setup();
    fx.prime_cache();
    let bytes = fs::read(snapshot_pem()).unwrap();
    let real = sha256_hex(&bytes);
    let wrong = sha256_hex(b"some other cacert.pem");
    let server = fx.serve(json!({
        "/cacert.pem": {"file": snapshot_pem()},
        "/cacert.pem.sha256": {"text": format!("{wrong}  cacert.pem\n")},
    }));
    let stderr = assert_refused(&fx, &server.url("/cacert.pem"), 10, &["published"]);
    assert!(
        stderr.contains(&real) && stderr.contains(&wrong),
        "{stderr}"
    );
}

/// Cut after a whole certificate and with no published SHA-256, so only the
/// Content-Length tells that the body is short: what arrived would parse as
/// a good set of 100 roots.
#[test]
fn truncated_body_is_refused() {
    let fx = setup();
    fx.prime_cache();
    let text = fs::read_to_string(snapshot_pem()).unwrap();
    let end = "-----END CERTIFICATE-----\n";
    let cut = text.match_indices(end).nth(99).unwrap().0 + end.len();
    let server = fx.serve(json!({
        "/abrupt.pem": {"file": snapshot_pem(), "send": cut},
        "/clean.pem": {"file": snapshot_pem(), "send": cut, "close_notify": true},
    }));
    for path in ["/abrupt.pem", "/clean.pem"] {
        assert_refused(
            &fx,
            &server.url(path),
            10,
            &["body", "cut short", "eof", "incomplete"],
        );
        assert!(server.saw(&format!("GET {path}")));
    }
}

#[test]
fn not_found_is_refused() {
    let fx = setup();
    fx.prime_cache();
    let server = fx.serve(json!({}));
    assert_refused(&fx, &server.url("/nothing/cacert.pem"), 10, &["404"]);
    assert!(server.saw("GET /nothing/cacert.pem"));
}

#[test]
fn server_with_an_expired_certificate_fails_verification() {
    let fx = setup();
    fx.prime_cache();
    let routes = json!({
        "/cacert.pem": {"file": snapshot_pem()},
        "/cacert.pem.sha256": {"text": format!("{}  cacert.pem\n", sha256_hex(&fs::read(snapshot_pem()).unwrap()))},
    });
    let server = start_server(fx.dir(), &fx.corp.leaf(days(-60), days(-1)), &routes);
    let stderr = assert_refused(&fx, &server.url("/cacert.pem"), 10, &["expired"]);
    // In words and dates, not rustls's "verification time N (UNIX)".
    assert!(
        stderr.contains("the server's certificate expired on ") && !stderr.contains("UNIX"),
        "{stderr}"
    );
    assert_no_request(&server);
}

/// The server logged no request: the TLS handshake was refused first.
fn assert_no_request(server: &Server) {
    assert!(
        server.log().is_empty(),
        "a request got through: {:?}",
        server.log()
    );
}

#[test]
fn server_signed_by_a_ca_not_in_the_bundle_fails_verification() {
    let fx = setup();
    fx.prime_cache();
    let other = valid_ca("cabundle fetch test CA nobody added");
    let routes = json!({"/cacert.pem": {"file": snapshot_pem()}});
    let server = start_server(fx.dir(), &other.leaf(days(-1), days(30)), &routes);
    assert_refused(
        &fx,
        &server.url("/cacert.pem"),
        10,
        &["unknownissuer", "unknown issuer"],
    );
    assert_no_request(&server);
}

#[test]
fn plain_http_url_is_refused_before_any_connection() {
    let fx = setup();
    fx.prime_cache();
    let server = fx.serve(json!({"/cacert.pem": {"file": snapshot_pem()}}));
    for url in [
        format!("http://127.0.0.1:{}/cacert.pem", server.plain),
        format!("http://127.0.0.1:{}/cacert.pem", server.https),
    ] {
        assert_refused(&fx, &url, 10, &["only https://"]);
    }
    assert_eq!(server.plain_accepts(), 0, "something connected");
    assert!(
        server.log().is_empty(),
        "something connected: {:?}",
        server.log()
    );
}

#[test]
fn redirect_from_https_to_http_is_refused_and_https_to_https_followed() {
    let fx = setup();
    fx.prime_cache();
    let server = fx.serve(json!({
        "/to-http.pem": {"status": 302, "location": "http://127.0.0.1:{plain}/cacert.pem"},
        "/to-https.pem": {"status": 302, "location": "https://127.0.0.1:{https}/cacert.pem"},
        "/cacert.pem": {"file": snapshot_pem()},
    }));
    let stderr = assert_refused(
        &fx,
        &server.url("/to-http.pem"),
        10,
        &["not https", "redirect"],
    );
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{}/cacert.pem", server.plain)),
        "the error does not say where it was sent:\n{stderr}"
    );
    assert!(server.saw("GET /to-http.pem"));
    assert_eq!(
        server.plain_accepts(),
        0,
        "the http:// target was connected to"
    );

    // Control: the same server's https redirect is followed.
    let url = server.url("/to-https.pem");
    fetch_ok(&fx.home, &url);
    assert!(server.saw("GET /cacert.pem"));
    assert_eq!(
        cached_provenance(&fx)["upstream"].as_str(),
        Some(url.as_str())
    );
}

#[test]
fn oversized_body_is_refused_with_and_without_content_length() {
    let fx = setup();
    fx.prime_cache();
    // Copies of a valid PEM bundle: without the size limit it would be accepted.
    let size = 11 * 1024 * 1024;
    let server = fx.serve(json!({
        "/big.pem": {"file": snapshot_pem(), "repeat_to": size},
        "/big-chunked.pem": {"file": snapshot_pem(), "repeat_to": size, "no_length": true},
    }));
    for path in ["/big.pem", "/big-chunked.pem"] {
        assert_refused(&fx, &server.url(path), 10, &["larger than 10 mib"]);
        assert!(server.saw(&format!("GET {path}")));
    }
}

#[test]
fn stalled_server_times_out_within_bounded_time() {
    let fx = setup();
    fx.prime_cache();
    let server = fx.serve(json!({
        "/no-response.pem": {"stall": 60},
        "/no-body.pem": {"file": snapshot_pem(), "stall_body": 60},
    }));
    // Accepts the connection, then never says a word (not even TLS).
    let silent = format!("https://127.0.0.1:{}/cacert.pem", server.plain);
    for url in [
        silent,
        server.url("/no-response.pem"),
        server.url("/no-body.pem"),
    ] {
        let start = Instant::now();
        assert_refused(&fx, &url, 2, &["timed out", "timeout", "time out"]);
        let took = start.elapsed();
        assert!(
            took < Duration::from_secs(20),
            "{url}: --timeout 2 took {took:?}"
        );
        assert!(took >= Duration::from_millis(1500), "{url}: {took:?}");
    }
    assert!(server.plain_accepts() >= 1);
}

/// `--timeout SECS` says "give up on the download after this many seconds":
/// a server sending a byte now and then must be cut off too. (Written as a
/// regression test: `reqwest::blocking::ClientBuilder::timeout` bounds each
/// read of the body, not the whole download, so src/fetch.rs's `download`
/// needs a deadline of its own.)
#[test]
fn slow_drip_body_is_cut_off_by_the_timeout() {
    let fx = setup();
    fx.prime_cache();
    let server = fx.serve(json!({
        "/drip.pem": {"file": snapshot_pem(), "drip": 0.25, "drip_after": 1024},
    }));
    let url = server.url("/drip.pem");
    let cache = snapshot(&fx.cache());
    // Killed after 10 s: enough for a 2 s timeout, and a bounded cost while
    // the bug is there.
    let (out, took) = fetch_with(cabundle(&fx.home), &url, 2, Duration::from_secs(10));
    let stderr = stderr_of(&out);
    assert!(
        out.status.code() == Some(1) && took < Duration::from_secs(8),
        "fetch --timeout 2 of a body sent a byte every 0.25 s was still running after \
         {took:?} (killed: {}); the whole body would take {} hours:\n{stderr}",
        out.status.code().is_none(),
        fs::metadata(snapshot_pem()).unwrap().len() / 4 / 3600
    );
    assert!(stderr.contains(&format!("fetch from {url}: ")), "{stderr}");
    assert!(snapshot(&fx.cache()) == cache);
}

#[test]
fn much_smaller_set_is_refused() {
    let fx = setup();
    fx.prime_cache();
    let current = cached_provenance(&fx)["count"].as_integer().unwrap();
    // curl's header, so only its size is wrong.
    let three = format!(
        "##\n## Bundle of CA Root Certificates\n##\n{}",
        pem_blocks(&fs::read_to_string(snapshot_pem()).unwrap())[..3].concat()
    );
    let small = write(&fx.dir().join("three.pem"), &three);
    let server = fx.serve(json!({
        "/cacert.pem": {"file": small},
        "/cacert.pem.sha256": {"text": format!("{}  cacert.pem\n", sha256_hex(three.as_bytes()))},
    }));
    let stderr = assert_refused(
        &fx,
        &server.url("/cacert.pem"),
        10,
        &["too small", "that small"],
    );
    assert!(
        stderr.contains(&format!("only 3 roots, against {current}")),
        "{stderr}"
    );
    assert!(
        server.saw("GET /cacert.pem.sha256"),
        "refused for size, not hash"
    );
}

#[test]
fn fetch_goes_through_an_https_proxy_when_one_is_set() {
    let fx = setup();
    let bytes = fs::read(snapshot_pem()).unwrap();
    let server = fx.serve(json!({
        "/cacert.pem": {"file": snapshot_pem()},
        "/cacert.pem.sha256": {"text": format!("{}  cacert.pem\n", sha256_hex(&bytes))},
    }));
    let url = server.url("/cacert.pem");
    let mut with_proxy = cabundle(&fx.home);
    with_proxy.env("HTTPS_PROXY", format!("http://127.0.0.1:{}", server.proxy));
    let (out, took) = fetch_with(with_proxy, &url, 10, Duration::from_secs(25));
    let stderr = stderr_of(&out);
    assert!(
        out.status.success(),
        "fetch through the proxy failed ({took:?}):\n{stderr}"
    );
    let connect = format!("PROXY CONNECT 127.0.0.1:{} HTTP/1.1", server.https);
    assert!(
        server.saw(&connect),
        "the proxy saw no {connect:?}: {:?}",
        server.log()
    );
    assert!(server.saw("GET /cacert.pem") && server.saw("GET /cacert.pem.sha256"));
    assert_eq!(
        cached_provenance(&fx)["upstream"].as_str(),
        Some(url.as_str())
    );
    assert_eq!(
        cached_provenance(&fx)["upstream_sha256"].as_str(),
        Some(sha256_hex(&bytes).as_str())
    );
}

/// The snapshot's roots, each a trusted delegator of a certdata.txt.
fn snapshot_delegators(pems: &[String]) -> Vec<Root<'_>> {
    pems.iter()
        .map(|pem| Root::delegator(pem, "Snapshot Root"))
        .collect()
}

// ------------------------------------------------ no rollback, no imposter

fn data(name: &str) -> PathBuf {
    source_file("tests/data").join(name)
}

/// Old root sets (certifi 2017 and 2021, as PyPI shipped them) hold roots
/// Mozilla has removed since (WoSign, StartCom, CNNIC, DST Root CA X3...):
/// fetch refuses them, names some, says how to let one back in by name, and
/// changes nothing. Named one by one, they are let in, and recorded so.
#[test]
fn an_older_set_that_brings_back_removed_roots_is_refused() {
    let fx = setup();
    fx.prime_cache();
    let removed = removed_ledger();
    for file in [
        "certifi-2017.7.27.1-cacert.pem",
        "certifi-2021.5.30-cacert.pem",
    ] {
        let from = data(file);
        let n = file_fingerprints(&from)
            .iter()
            .filter(|fp| removed.contains_key(*fp))
            .count();
        assert!(n > 10, "{file}: {n}");
        let stderr = assert_refused(&fx, from.to_str().unwrap(), 10, &["Mozilla has removed"]);
        assert!(
            stderr.contains(&format!("holds {n} root(s)")) && stderr.contains("--allow-removed"),
            "{stderr}"
        );
        // Named by the whole SHA-256, which is what --allow-removed takes.
        assert!(
            removed.keys().any(|fp| stderr.contains(fp.as_str())),
            "{stderr}"
        );
    }
    // Every removed root of the 2021 set named: accepted, and the names kept.
    let old = file_fingerprints(&data("certifi-2021.5.30-cacert.pem"));
    let back: Vec<&String> = removed.keys().filter(|k| old.contains(*k)).collect();
    let mut fetch = cabundle(&fx.home);
    fetch
        .args(["fetch", "--from"])
        .arg(data("certifi-2021.5.30-cacert.pem"));
    for fp in &back {
        fetch.args(["--allow-removed", fp]);
    }
    let out = fetch.output().unwrap();
    let stderr = stderr_of(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("although Mozilla removed it"), "{stderr}");
    let p = cached_provenance(&fx);
    let allowed: BTreeSet<&str> = p["allowed_removed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(allowed, back.iter().map(|s| s.as_str()).collect());
    // certifi's file carries no date: the version says the date is the
    // day it was fetched.
    assert!(
        p["version"].as_str().unwrap().contains("carries no date"),
        "{p}"
    );

    // Back to the snapshot built in.
    cabundle(&fx.home)
        .args(["fetch", "--embedded"])
        .assert()
        .success()
        .stderr(predicates::str::contains("snapshot built in"));
    assert!(snapshot(&fx.cache()).is_empty(), "the cache is emptied");
    let stderr = sync_ok(&fx.home, &fx.root, &[]);
    assert!(stderr.contains("certifi"), "{stderr}");
}

/// What is plainly not a Mozilla set is refused: an OS bundle (PEM with no
/// curl header and no certifi labels), and a certifi-style file that holds
/// a server certificate.
#[test]
fn what_is_not_a_mozilla_set_is_refused() {
    let fx = setup();
    fx.prime_cache();
    let snapshot_roots = snapshot_roots();
    let os_bundle = write(
        &fx.dir().join("ca-certificates.crt"),
        snapshot_roots.concat(),
    );
    assert_refused(
        &fx,
        os_bundle.to_str().unwrap(),
        10,
        &["neither curl's nor certifi's"],
    );

    let server = fx.corp.leaf(days(-1), days(30)).0;
    let mut labelled = String::new();
    for pem in snapshot_roots.iter().chain([&server]) {
        labelled += &format!("\n# Label: \"x\"\n{pem}");
    }
    let file = write(&fx.dir().join("labelled.pem"), labelled);
    assert_refused(
        &fx,
        file.to_str().unwrap(),
        10,
        &["not a trusted CA certificate"],
    );
}

/// A server certificate pinned with `add --allow-leaf` is trusted by the
/// bundle, but it is no CA: it must not vouch for a download server.
#[test]
fn a_pinned_leaf_does_not_vouch_for_a_download_server() {
    let s = Synced::new(&[]);
    let ca = valid_ca("Pinned Server's Private CA");
    let leaf = ca.leaf(days(-1), days(30));
    let pinned = s.file("server.pem", &leaf.0);
    s.run(&["add", "--allow-leaf", &pinned]).assert().success();
    let server = start_server(
        s.dir(),
        &leaf,
        &json!({"/cacert.pem": {"file": snapshot_pem()}}),
    );
    let (out, _) = fetch(&s.home, &server.url("/cacert.pem"), 10);
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("certificate") && !server.saw("GET /cacert.pem"),
        "{stderr}"
    );
}

/// The cache is checked each time it is used: a provenance naming another
/// file, a set with a certificate that is no CA, one whose count is not the
/// recorded one, or one holding a removed root, is passed over (with a
/// warning) for the snapshot built in.
#[test]
fn a_doctored_cache_is_passed_over_for_the_embedded_snapshot() {
    let fx = setup();
    fx.prime_cache();
    let p = cached_provenance(&fx);
    let file = fx.cache().join(p["file"].as_str().unwrap());
    let good = fs::read_to_string(&file).unwrap();
    let removed_root = {
        // A removed root from the 2017 certifi set.
        let removed = removed_ledger();
        pem_blocks(&fs::read_to_string(data("certifi-2017.7.27.1-cacert.pem")).unwrap())
            .into_iter()
            .find(|b| removed.contains_key(&openssl_sha256(b)))
            .unwrap()
    };
    let leaf = fx.corp.leaf(days(-1), days(30)).0;
    let cases: Vec<(&str, String, Option<i64>)> = vec![
        ("not a file fetch writes", good.clone(), None),
        ("is not a CA certificate", format!("{good}{leaf}"), Some(1)),
        (
            "its provenance says",
            format!("{good}{}", pem_blocks(&good)[0]),
            None,
        ),
        ("Mozilla removed", format!("{good}{removed_root}"), Some(1)),
    ];
    for (why, pem, extra) in cases {
        let mut table = p.clone();
        if why == "not a file fetch writes" {
            table.insert("file".into(), "../../etc/passwd".into());
        } else {
            fs::write(&file, &pem).unwrap();
            table.insert("sha256".into(), sha256_hex(pem.as_bytes()).into());
            let count = p["count"].as_integer().unwrap() + extra.unwrap_or(0);
            table.insert("count".into(), count.into());
        }
        fs::write(
            fx.cache().join("mozilla-roots.toml"),
            toml::to_string(&table).unwrap(),
        )
        .unwrap();
        let stderr = sync_ok(&fx.home, &fx.root, &[]);
        assert!(
            stderr.contains("warning:")
                && stderr.contains(why)
                && stderr.contains("embedded snapshot"),
            "{why}: {stderr}"
        );
        assert!(
            stderr.contains("certifi"),
            "{why}: not the embedded set:\n{stderr}"
        );
        fs::write(&file, &good).unwrap();
    }
}

/// Mozilla's explicit distrust (CKT_NSS_NOT_TRUSTED) wins over every
/// source, like a block: an OS drop-in of the same CA stays out. Old files
/// distrust by trust object alone; that works too (by issuer and serial).
#[test]
fn mozilla_not_trusted_wins_over_the_os_store() {
    let fx = setup();
    let with_cert = valid_ca("Explicitly Distrusted With Certificate");
    let trust_only = valid_ca("Explicitly Distrusted Trust Object Only");
    let snapshot_roots = snapshot_roots();
    let mut roots = snapshot_delegators(&snapshot_roots);
    for (ca, with_certificate) in [(&with_cert, true), (&trust_only, false)] {
        roots.push(Root {
            trust: "CKT_NSS_NOT_TRUSTED",
            with_certificate,
            ..Root::delegator(&ca.pem, "Explicitly Distrusted")
        });
    }
    let file = write(&fx.dir().join("certdata-distrust.txt"), certdata(&roots));
    let stderr = fetch_ok(&fx.home, file.to_str().unwrap());
    assert!(
        stderr.contains("2 explicitly distrusted") || stderr.contains("explicitly distrusted"),
        "{stderr}"
    );

    // One drop-in each, by index: named by PEM length (as before), the
    // two collided whenever their (random) signatures made them the same
    // length, and the trust-object-only CA was then in no source at all.
    for (i, ca) in [&with_cert, &trust_only].into_iter().enumerate() {
        write(
            &fx.root
                .join(format!("usr/local/share/ca-certificates/os-{i}.crt")),
            &ca.pem,
        );
    }
    sync_ok(&fx.home, &fx.root, &[]);
    let got = file_fingerprints(&fx.bundle());
    let records = list_json(&fx.home);
    for ca in [&with_cert, &trust_only] {
        let fp = openssl_sha256(&ca.pem);
        assert!(
            !got.contains(&fp),
            "an explicitly distrusted CA is in the bundle"
        );
        let r = record(&records, &fp);
        assert_eq!(r["status"], "distrusted", "{r}");
        assert!(
            r["reason"]
                .as_str()
                .unwrap()
                .contains("CKT_NSS_NOT_TRUSTED"),
            "{r}"
        );
    }
}

/// A root with a distrust-after date D stays while a TLS certificate it
/// issued by D can still be valid (the CA/Browser Forum's maximum lifetime
/// at the time: 47 days for a D in 2035), and leaves the bundle the second
/// after, with that reason; meanwhile sync, list and the manifest show when.
#[test]
fn a_distrust_after_root_is_kept_until_its_last_leaf_can_expire() {
    let fx = setup();
    // Valid until 2040, issued in 2020.
    let retiring = ca(
        "Retiring Root",
        time::OffsetDateTime::from_unix_timestamp(1_577_836_800).unwrap(),
        time::OffsetDateTime::from_unix_timestamp(2_208_988_800).unwrap(),
    );
    let snapshot_roots = snapshot_roots();
    let mut roots = snapshot_delegators(&snapshot_roots);
    roots.push(Root {
        // 2035-01-01T00:00:00Z: +47 days is 2035-02-17T00:00:00Z.
        distrust_after: Some("350101000000Z"),
        ..Root::delegator(&retiring.pem, "Retiring Root")
    });
    let file = write(&fx.dir().join("certdata-after.txt"), certdata(&roots));
    fetch_ok(&fx.home, file.to_str().unwrap());
    let fp = openssl_sha256(&retiring.pem);
    let sync_at = |day: &str| {
        let stderr = sync_offline(&fx.home, &["--at", day]);
        let r = record(&list_json(&fx.home), &fp).clone();
        (stderr, r, file_fingerprints(&fx.bundle()))
    };
    // Midnight of 2035-02-17 is the last second a leaf can be valid.
    let (stderr, r, got) = sync_at("2035-02-17");
    assert_eq!(r["status"], "kept", "{r}");
    assert!(got.contains(&fp));
    assert_eq!(r["kept_until"], "2035-02-17T00:00:00Z", "{r}");
    assert!(
        stderr.contains("Retiring Root: Mozilla distrusts TLS certificates it issues after 2035-01-01; kept until 2035-02-17"),
        "{stderr}"
    );
    let text = cabundle(&fx.home).arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("kept until 2035-02-17"));
    let (_, r, got) = sync_at("2035-02-18");
    assert_eq!(r["status"], "distrusted", "{r}");
    assert!(!got.contains(&fp));
    let reason = r["reason"].as_str().unwrap();
    assert!(
        reason.contains("issued after 2035-01-01T00:00:00Z")
            && reason.contains("2035-02-17T00:00:00Z"),
        "{reason}"
    );
}

/// curl's cacert.pem with its header dated `day` (as curl writes it), over
/// the embedded snapshot's roots.
fn curl_set(dir: &Path, day: &str) -> PathBuf {
    let header = format!(
        "##\n## Bundle of CA Root Certificates\n##\n## Certificate data from Mozilla as of: {day} GMT\n##\n\n"
    );
    write(
        &dir.join(format!("cacert-{}.pem", day.replace(' ', "-"))),
        header + &fs::read_to_string(snapshot_pem()).unwrap(),
    )
}

/// A set older than the one it replaces, by the sets' own dates (curl's
/// header; the snapshot's), is taken with a warning that says so and how
/// to return to the snapshot built in; a newer one, or one that carries no
/// date, without.
#[test]
fn a_set_older_than_the_one_in_use_is_said_to_be() {
    let fx = setup();
    let embedded: toml::Table =
        toml::from_str(&fs::read_to_string(source_file("bundles/mozilla-roots.toml")).unwrap())
            .unwrap();
    let embedded_date = embedded["date"].as_str().unwrap();
    let old = curl_set(fx.dir(), "Tue Jul  2 03:12:04 2024");
    let new = curl_set(fx.dir(), "Fri Jan  1 00:00:00 2100");

    let stderr = fetch_ok(&fx.home, old.to_str().unwrap());
    assert!(
        stderr.contains("warning: this set is dated 2024-07-02, older than the one it replaces")
            && stderr.contains(&format!("dated {embedded_date})"))
            && stderr.contains("`cabundle fetch --embedded` returns to the snapshot built in"),
        "{stderr}"
    );
    let stderr = fetch_ok(&fx.home, new.to_str().unwrap());
    assert!(!stderr.contains("older"), "{stderr}");
    let stderr = fetch_ok(&fx.home, old.to_str().unwrap());
    assert!(
        stderr.contains("older than the one it replaces (Mozilla data as of 2100-01-01"),
        "{stderr}"
    );
    // certdata.txt carries no date of its own: nothing to compare.
    let stderr = fetch_ok(
        &fx.home,
        common::certdata::current_certdata(fx.dir())
            .to_str()
            .unwrap(),
    );
    assert!(!stderr.contains("older"), "{stderr}");
}
