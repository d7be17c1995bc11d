//! Python servers on 127.0.0.1 for the TLS tests: HTTPS server scripts,
//! and the launcher every server shares (spawn, guard, first line).

use std::fs;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Stdio};

use super::{scrubbed_loopback, venv, write};

/// A Python script serving `handler` over TLS on 127.0.0.1, port chosen by
/// the OS and printed. `handler` is Python source defining a request handler
/// class `Handler`, after `import http.server, ssl, sys` and a base class
/// `Quiet` (a `BaseHTTPRequestHandler` that logs nothing); the certificate
/// and key are argv[1] and argv[2]. A thread per connection, and the
/// handshake runs in that thread (not in accept), so a client that refuses
/// the certificate cannot wedge the server.
pub fn https_server(handler: &str) -> String {
    format!("{QUIET}{handler}{SERVE}")
}

const QUIET: &str = r#"
import http.server, ssl, sys

class Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
"#;

const SERVE: &str = r#"
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client refusing our certificate is the point of the test.
        pass

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = Server(("127.0.0.1", 0), Handler)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// A minimal HTTPS server ([`https_server`]) answering every GET with
/// [`HELLO_BODY`].
pub fn hello_server() -> String {
    https_server(
        r#"
class Handler(Quiet):
    def do_GET(self):
        body = b"hello from the cabundle test server\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
"#,
    )
}

/// What [`hello_server`] answers, trimmed.
pub const HELLO_BODY: &str = "hello from the cabundle test server";

/// A server process; killed and reaped however the test ends.
pub struct ServerChild(pub Child);

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawn `cmd` (program, script and arguments already given) with stdin
/// closed, stdout piped and stderr into `log`; `expect` is the panic message
/// if it cannot start. Returns the guard, which exists before anything can
/// panic, and the first line the server printed (its ports).
pub fn launch(cmd: &mut StdCommand, log: &Path, expect: &str) -> (ServerChild, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(File::create(log).unwrap())
        .spawn()
        .expect(expect);
    let mut guard = ServerChild(child);
    let mut line = String::new();
    let stdout = guard.0.stdout.take().unwrap();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    (guard, line)
}

/// Start `script` (an [`https_server`]) with `python` (the interpreter, its
/// environment already set): the certificate and key are written to
/// `dir/server/`, `args` follow them, stderr goes to `dir/server/stderr.log`.
/// Returns the guard, the port it printed and the log's path.
pub fn start_https(
    python: &mut StdCommand,
    dir: &Path,
    script: &str,
    (cert_pem, key_pem): (&str, &str),
    args: &[&Path],
    expect: &str,
) -> (ServerChild, u16, PathBuf) {
    let cert = write(&dir.join("server/cert.pem"), cert_pem);
    let key = write(&dir.join("server/key.pem"), key_pem);
    let log = dir.join("server/stderr.log");
    let (child, line) = launch(
        python.arg("-c").arg(script).arg(&cert).arg(&key).args(args),
        &log,
        expect,
    );
    let port = line.trim().parse().unwrap_or_else(|_| {
        panic!(
            "the HTTPS server did not start (printed {line:?}):\n{}",
            fs::read_to_string(&log).unwrap_or_default()
        )
    });
    (child, port, log)
}

/// An [`https_server`] script run by the shared venv's Python in `dir`
/// (with nothing inherited, [`scrubbed_loopback`]), presenting `leaf`
/// (cert PEM, key PEM); `args` follow the certificate and key.
pub struct Https {
    _child: ServerChild,
    pub port: u16,
    log: PathBuf,
}

impl Https {
    pub fn start(dir: &Path, script: &str, (cert, key): (&str, &str), args: &[&Path]) -> Https {
        let (child, port, log) = start_https(
            scrubbed_loopback(venv::python()).current_dir(dir),
            dir,
            script,
            (cert, key),
            args,
            "start the HTTPS server",
        );
        Https {
            _child: child,
            port,
            log,
        }
    }

    /// A [`hello_server`] presenting `leaf`.
    pub fn hello(dir: &Path, (cert, key): &(String, String)) -> Https {
        Https::start(dir, &hello_server(), (cert, key), &[])
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}/{path}", self.port)
    }

    /// What the server wrote on stderr so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}
