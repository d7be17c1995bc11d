//! What a server presents in its TLS handshake, and whether a trust set
//! accepts it.
//!
//! For `doctor`, [`capture`] reads the chain during the handshake and then
//! abandons it, so no data ever flows over a connection that was not
//! verified. Two attempts, each on a fresh connection:
//!
//! 1. rustls (TLS 1.3 and 1.2, ECDHE with AEAD suites), with a verifier that
//!    records the chain and refuses it. TLS 1.3 sends the certificate
//!    encrypted, so only a real handshake can read it.
//! 2. When rustls fails on the handshake itself (an alert, a protocol it does
//!    not speak, a connection closed on its ClientHello), a hand-written TLS
//!    1.2 ClientHello offering what OpenSSL clients may negotiate: ECDHE, DHE
//!    and static RSA key exchange; AES-GCM, ChaCha20, AES-CBC, 3DES and the
//!    rest; SHA-1 signatures. The server's first flight is read up to its
//!    Certificate message and the connection closed: nothing is sent after
//!    the ClientHello. A server that refuses TLS 1.2 with a
//!    `protocol_version` alert is asked again offering TLS 1.1, then 1.0.
//!
//! One deadline ([`Target::timeout`]) bounds the whole capture: resolving,
//! connecting, the proxy's CONNECT, and every attempt.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use serde::{Serialize, Serializer};

use crate::cert::Cert;

// ------------------------------------------------------------ what we learn

/// A protocol version as the server chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl Protocol {
    /// From the version field of a ServerHello (or supported_versions).
    pub fn from_wire(v: u16) -> Option<Protocol> {
        Some(match v {
            0x0300 => Protocol::Ssl3,
            0x0301 => Protocol::Tls10,
            0x0302 => Protocol::Tls11,
            0x0303 => Protocol::Tls12,
            0x0304 => Protocol::Tls13,
            _ => return None,
        })
    }

    pub fn wire(self) -> u16 {
        match self {
            Protocol::Ssl3 => 0x0300,
            Protocol::Tls10 => 0x0301,
            Protocol::Tls11 => 0x0302,
            Protocol::Tls12 => 0x0303,
            Protocol::Tls13 => 0x0304,
        }
    }

    /// "TLS 1.2", as people write it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Ssl3 => "SSL 3.0",
            Protocol::Tls10 => "TLS 1.0",
            Protocol::Tls11 => "TLS 1.1",
            Protocol::Tls12 => "TLS 1.2",
            Protocol::Tls13 => "TLS 1.3",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Protocol {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A cipher suite by its IANA number, named as IANA names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Suite {
    pub id: u16,
}

impl Suite {
    /// The IANA name (`TLS_RSA_WITH_AES_128_CBC_SHA`), for every suite the
    /// raw ClientHello offers and the TLS 1.3 ones; `None` for others.
    pub fn name(self) -> Option<&'static str> {
        OFFERED
            .iter()
            .chain(TLS13_SUITES)
            .find(|(id, _)| *id == self.id)
            .map(|(_, n)| *n)
    }

    fn named(self, test: impl Fn(&str) -> bool) -> bool {
        self.name().is_some_and(test)
    }

    /// Block cipher in CBC mode (AES, 3DES, Camellia...): Lucky13 and
    /// padding-oracle territory; refused by rustls.
    pub fn is_cbc(self) -> bool {
        self.named(|n| n.contains("_CBC_"))
    }

    /// Finite-field Diffie-Hellman key exchange (DHE_RSA, DHE_DSS): refused
    /// by rustls, and by browsers, which dropped it.
    pub fn is_dhe(self) -> bool {
        self.named(|n| n.starts_with("TLS_DHE_"))
    }

    /// RSA key transport (no forward secrecy): refused by rustls.
    pub fn is_static_rsa(self) -> bool {
        self.named(|n| n.starts_with("TLS_RSA_WITH_"))
    }

    /// A TLS 1.2 ECDHE suite with an AEAD cipher (GCM, ChaCha20-Poly1305,
    /// CCM): the only TLS 1.2 kind rustls speaks (it has no CCM). False for
    /// TLS 1.3 suites, which say nothing of the key exchange; see
    /// [`Suite::is_tls13`].
    pub fn is_aead_ecdhe(self) -> bool {
        self.named(|n| {
            n.starts_with("TLS_ECDHE_")
                && (n.contains("_GCM_") || n.contains("_CHACHA20_POLY1305_") || n.contains("_CCM"))
        })
    }

    /// A TLS 1.3 suite (TLS_AES_128_GCM_SHA256...).
    pub fn is_tls13(self) -> bool {
        TLS13_SUITES.iter().any(|(id, _)| *id == self.id)
    }

    /// Triple DES (Sweet32).
    pub fn is_3des(self) -> bool {
        self.named(|n| n.contains("_3DES_"))
    }

    /// RC4, prohibited by RFC 7465.
    pub fn is_rc4(self) -> bool {
        self.named(|n| n.contains("_RC4_"))
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:04X}", self.id),
        }
    }
}

impl Serialize for Suite {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Suite", 2)?;
        st.serialize_field("id", &format!("0x{:04X}", self.id))?;
        st.serialize_field("name", &self.to_string())?;
        st.end()
    }
}

/// Which attempt read the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// rustls's handshake (TLS 1.3, or TLS 1.2 with ECDHE and AEAD).
    Rustls,
    /// The hand-written TLS ≤ 1.2 ClientHello, after rustls failed.
    RawHello,
}

/// What the server presented, and how it spoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The DER certificates in the order sent, leaf first.
    pub chain: Vec<Vec<u8>>,
    pub protocol: Protocol,
    /// The suite the server chose; `None` only when rustls did not say.
    pub cipher: Option<Suite>,
    pub via: Via,
    /// Why rustls could not read the chain, when it could not (and so
    /// neither can rustls clients: uv, cargo...).
    pub rustls_error: Option<String>,
}

/// A TLS alert by its number, named as RFC 8446 (and RFC 5246 before it)
/// names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alert(pub u8);

impl Alert {
    pub const CLOSE_NOTIFY: Alert = Alert(0);
    pub const HANDSHAKE_FAILURE: Alert = Alert(40);
    pub const PROTOCOL_VERSION: Alert = Alert(70);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            21 => "decryption_failed",
            22 => "record_overflow",
            30 => "decompression_failure",
            40 => "handshake_failure",
            41 => "no_certificate",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            60 => "export_restriction",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            100 => "no_renegotiation",
            109 => "missing_extension",
            110 => "unsupported_extension",
            111 => "certificate_unobtainable",
            112 => "unrecognized_name",
            113 => "bad_certificate_status_response",
            114 => "bad_certificate_hash_value",
            115 => "unknown_psk_identity",
            116 => "certificate_required",
            120 => "no_application_protocol",
            _ => return None,
        })
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "alert {}", self.0),
        }
    }
}

/// Why no chain was captured. Every variant's message names the address
/// and says what happened in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The name did not resolve, or the TCP connection was refused or
    /// unreachable.
    #[error("{0}")]
    Connect(String),
    /// The HTTPS proxy could not be reached, refused the CONNECT, or did not
    /// answer it in time.
    #[error("{0}")]
    Proxy(String),
    /// The deadline passed: no TCP connection, or no (complete) answer.
    #[error("{0}")]
    Timeout(String),
    /// The server answered, but not in TLS (plain HTTP, SSH...).
    #[error("{0}")]
    NotTls(String),
    /// The server refused the handshake with a fatal alert.
    #[error("{message}")]
    Alert { alert: Alert, message: String },
    /// The handshake broke otherwise: the connection closed or reset, or the
    /// server sent something TLS does not allow.
    #[error("{0}")]
    Handshake(String),
    /// The server completed its part without presenting a certificate.
    #[error("{0}")]
    NoCertificate(String),
}

impl CaptureError {
    /// A stable word for scripts: connect, proxy, timeout, not-tls, alert,
    /// handshake, no-certificate.
    pub fn kind(&self) -> &'static str {
        match self {
            CaptureError::Connect(_) => "connect",
            CaptureError::Proxy(_) => "proxy",
            CaptureError::Timeout(_) => "timeout",
            CaptureError::NotTls(_) => "not-tls",
            CaptureError::Alert { .. } => "alert",
            CaptureError::Handshake(_) => "handshake",
            CaptureError::NoCertificate(_) => "no-certificate",
        }
    }

    fn message_mut(&mut self) -> &mut String {
        match self {
            CaptureError::Connect(m)
            | CaptureError::Proxy(m)
            | CaptureError::Timeout(m)
            | CaptureError::NotTls(m)
            | CaptureError::Alert { message: m, .. }
            | CaptureError::Handshake(m)
            | CaptureError::NoCertificate(m) => m,
        }
    }
}

/// Where to connect and how: straight, or through an HTTP CONNECT proxy.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub proxy: Option<(String, u16)>,
    /// Bounds the whole capture, both attempts and the proxy included.
    pub timeout: Duration,
}

impl Target {
    fn at(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// The DER certificates the server presents, leaf first: [`capture`]'s
/// chain, and its error in words.
pub fn presented_chain(t: &Target) -> Result<Vec<Vec<u8>>, String> {
    capture(t).map(|c| c.chain).map_err(|e| e.to_string())
}

/// Capture the chain the server presents, with the protocol and suite it
/// chose: through rustls first, then with a raw TLS ≤ 1.2 ClientHello when
/// rustls fails on the handshake (not on the connection or the clock).
pub fn capture(t: &Target) -> Result<Captured, CaptureError> {
    let deadline = Deadline::new(t.timeout);
    let failed = match via_rustls(t, &deadline) {
        Ok(c) => return Ok(c),
        Err(f) if !f.retry => return Err(f.error),
        Err(f) => f,
    };
    let mut last = None;
    for version in [Protocol::Tls12, Protocol::Tls11, Protocol::Tls10] {
        match via_raw_hello(t, &deadline, version) {
            Ok(mut c) => {
                c.rustls_error = Some(failed.detail);
                return Ok(c);
            }
            Err(e) => {
                let refused_version = matches!(
                    e,
                    CaptureError::Alert {
                        alert: Alert::PROTOCOL_VERSION,
                        ..
                    }
                );
                last = Some(e);
                if !refused_version {
                    break;
                }
            }
        }
    }
    let mut error = last.unwrap_or_else(|| failed.error.clone());
    // Say what rustls met too, unless it met the same thing.
    if !same_cause(&error, &failed.error) {
        let note = format!("; before that, rustls failed: {}", failed.detail);
        error.message_mut().push_str(&note);
    }
    Err(error)
}

fn same_cause(a: &CaptureError, b: &CaptureError) -> bool {
    match (a, b) {
        (CaptureError::Alert { alert: x, .. }, CaptureError::Alert { alert: y, .. }) => x == y,
        _ => a == b,
    }
}

// ------------------------------------------------------------ the clock

/// One clock for the whole capture.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    /// `None` when the timeout is too large to add to the clock: then each
    /// wait is bounded by the timeout itself.
    at: Option<Instant>,
    total: Duration,
}

impl Deadline {
    fn new(total: Duration) -> Deadline {
        Deadline {
            at: Instant::now().checked_add(total),
            total,
        }
    }

    fn left(&self) -> Duration {
        self.at
            .map_or(self.total, |d| d.saturating_duration_since(Instant::now()))
    }

    fn secs(&self) -> u64 {
        self.total.as_secs()
    }
}

fn timed_out(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Write all of `bytes`, within the deadline.
fn send(s: &mut TcpStream, bytes: &[u8], d: &Deadline) -> std::io::Result<()> {
    send_prepare(s, d)?;
    s.write_all(bytes)
}

/// Set the write timeout to what is left of the deadline.
fn send_prepare(s: &TcpStream, d: &Deadline) -> std::io::Result<()> {
    let left = d.left();
    if left.is_zero() {
        return Err(ErrorKind::TimedOut.into());
    }
    s.set_write_timeout(Some(left))
}

/// Set the read timeout to what is left; an error of kind `TimedOut` when
/// nothing is.
fn arm(s: &TcpStream, d: &Deadline) -> std::io::Result<()> {
    let left = d.left();
    if left.is_zero() {
        return Err(ErrorKind::TimedOut.into());
    }
    s.set_read_timeout(Some(left))
}

// ------------------------------------------------------------ connections

/// A TCP connection to the target, through the proxy's tunnel if there is
/// one.
fn open(t: &Target, d: &Deadline) -> Result<TcpStream, CaptureError> {
    let Some((host, port)) = &t.proxy else {
        return connect(&t.host, t.port, d);
    };
    let proxy = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(_)) => format!("proxy [{host}]:{port}"),
        _ => format!("proxy {host}:{port}"),
    };
    let mut s =
        connect(host, *port, d).map_err(|e| CaptureError::Proxy(format!("{proxy}: {e}")))?;
    tunnel(&mut s, t, d).map_err(|e| CaptureError::Proxy(format!("{proxy}: {e}")))?;
    Ok(s)
}

fn connect(host: &str, port: u16, d: &Deadline) -> Result<TcpStream, CaptureError> {
    let secs = d.secs();
    let addrs = resolve(host, port, d)?;
    let mut last = CaptureError::Connect(format!("no address for {host}"));
    for addr in addrs {
        let left = d.left();
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => return Ok(s),
            Err(e) if timed_out(&e) => {
                last = CaptureError::Timeout(format!(
                    "cannot connect to {addr}: no answer, timed out after {secs} s"
                ));
            }
            Err(e) => last = CaptureError::Connect(format!("cannot connect to {addr}: {e}")),
        }
    }
    if d.left().is_zero() && !matches!(last, CaptureError::Timeout(_)) {
        last = CaptureError::Timeout(format!(
            "cannot connect to {host} port {port}: timed out after {secs} s"
        ));
    }
    Err(last)
}

/// The addresses of `host`, within the deadline. getaddrinfo cannot be
/// interrupted, so it runs on a thread of its own, left behind if the
/// deadline passes first (the process ends soon after).
fn resolve(host: &str, port: u16, d: &Deadline) -> Result<Vec<SocketAddr>, CaptureError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = mpsc::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("cabundle-resolve".into())
        .spawn(move || {
            let found = (name.as_str(), port)
                .to_socket_addrs()
                .map(Iterator::collect::<Vec<_>>);
            let _ = tx.send(found);
        })
        .map_err(|e| CaptureError::Connect(format!("cannot resolve {host}: {e}")))?;
    match rx.recv_timeout(d.left()) {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(CaptureError::Connect(format!("cannot resolve {host}: {e}"))),
        Err(_) => Err(CaptureError::Timeout(format!(
            "cannot resolve {host}: no answer, timed out after {} s",
            d.secs()
        ))),
    }
}

/// The longest answer to CONNECT we read.
const MAX_PROXY_ANSWER: usize = 16 * 1024;

/// `CONNECT host:port` through the proxy on `s`, and its 2xx answer. The
/// answer is read a byte at a time (what follows its header is the
/// server's), each read bounded by the deadline, so a proxy trickling its
/// answer cannot hold us past it.
fn tunnel(s: &mut TcpStream, t: &Target, d: &Deadline) -> Result<(), String> {
    let at = t.at();
    let secs = d.secs();
    let late = || format!("no complete answer to CONNECT {at}: timed out after {secs} s");
    let request = format!("CONNECT {at} HTTP/1.1\r\nHost: {at}\r\n\r\n");
    send(s, request.as_bytes(), d).map_err(|e| {
        if timed_out(&e) {
            late()
        } else {
            format!("cannot send CONNECT: {e}")
        }
    })?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !(head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n")) {
        if head.len() >= MAX_PROXY_ANSWER {
            return Err(format!(
                "its answer to CONNECT is longer than {MAX_PROXY_ANSWER} bytes"
            ));
        }
        let read = arm(s, d).and_then(|()| s.read(&mut byte));
        match read {
            Ok(0) => {
                return Err(format!(
                    "closed the connection before answering CONNECT {at}{}",
                    if head.is_empty() {
                        String::new()
                    } else {
                        format!(" (it had sent {})", preview(&head))
                    }
                ));
            }
            Ok(_) => head.push(byte[0]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if timed_out(&e) => return Err(late()),
            Err(e) => return Err(format!("CONNECT {at} failed: {e}")),
        }
    }
    let status = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let status = String::from_utf8_lossy(status);
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if status.starts_with("HTTP/") && code.len() == 3 && code.starts_with('2') {
        Ok(())
    } else {
        Err(format!(
            "CONNECT {at} refused: {}",
            preview(status.trim_end().as_bytes())
        ))
    }
}

/// The first bytes of an answer, for a message: up to the first line end,
/// quoted, anything but printable ASCII escaped.
fn preview(bytes: &[u8]) -> String {
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut out = String::from("\"");
    for &b in line.iter().take(80) {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    if line.len() > 80 {
        out.push_str("...");
    }
    out
}

/// Could these be the first bytes of TLS records? (Nothing received yet
/// counts as yes: there is nothing to judge.)
fn looks_like_tls(first: &[u8]) -> bool {
    first.first().is_none_or(|t| (20..=24).contains(t)) && first.get(1).is_none_or(|v| *v == 3)
}

fn not_tls(at: &str, first: &[u8]) -> CaptureError {
    let what = if first.first().is_some_and(|b| b & 0x80 != 0) && first.get(2) == Some(&4) {
        " (an SSL 2.0 ServerHello)".to_string()
    } else {
        String::new()
    };
    CaptureError::NotTls(format!(
        "{at} does not speak TLS: it answered {}{what}",
        preview(first)
    ))
}

/// The bytes a connection received first, kept for the message when they
/// are not TLS.
const PREVIEW: usize = 64;

/// A socket that remembers the first bytes it read.
struct Recording {
    sock: TcpStream,
    first: Vec<u8>,
}

impl Read for Recording {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.sock.read(buf)?;
        let keep = n.min(PREVIEW.saturating_sub(self.first.len()));
        self.first.extend_from_slice(&buf[..keep]);
        Ok(n)
    }
}

impl Write for Recording {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.sock.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.sock.flush()
    }
}

/// The error for an I/O failure during a handshake with `at`.
fn io_failure(at: &str, e: &std::io::Error, received: bool, secs: u64) -> CaptureError {
    match e.kind() {
        _ if timed_out(e) && !received => CaptureError::Timeout(format!(
            "{at} accepted the connection but gave no TLS answer: timed out after {secs} s"
        )),
        _ if timed_out(e) => CaptureError::Timeout(format!(
            "{at} did not finish its part of the TLS handshake: timed out after {secs} s"
        )),
        ErrorKind::UnexpectedEof => closed(at),
        ErrorKind::ConnectionReset => CaptureError::Handshake(format!(
            "{at} reset the connection during the TLS handshake"
        )),
        _ => CaptureError::Handshake(format!("TLS handshake with {at} failed: {e}")),
    }
}

fn closed(at: &str) -> CaptureError {
    CaptureError::Handshake(format!(
        "{at} closed the connection during the TLS handshake"
    ))
}

// ------------------------------------------------------------ 1: rustls

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Records the presented chain, then refuses it: the handshake stops there.
#[derive(Debug)]
struct Capture {
    provider: Arc<CryptoProvider>,
    chain: Mutex<Vec<Vec<u8>>>,
}

const CAPTURED: &str = "cabundle: chain captured";

type Der<'a> = CertificateDer<'a>;
type Dss = DigitallySignedStruct;
type SignatureResult = Result<HandshakeSignatureValid, rustls::Error>;

impl Capture {
    fn algorithms(&self) -> &rustls::crypto::WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

impl ServerCertVerifier for Capture {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.to_vec()];
        chain.extend(intermediates.iter().map(|c| c.to_vec()));
        if let Ok(mut slot) = self.chain.lock() {
            *slot = chain;
        }
        Err(rustls::Error::General(CAPTURED.into()))
    }

    // The chain is refused above, before any handshake signature: these
    // two only keep the trait whole, with rustls's own checks.
    fn verify_tls12_signature(&self, m: &[u8], c: &Der, d: &Dss) -> SignatureResult {
        rustls::crypto::verify_tls12_signature(m, c, d, self.algorithms())
    }

    fn verify_tls13_signature(&self, m: &[u8], c: &Der, d: &Dss) -> SignatureResult {
        rustls::crypto::verify_tls13_signature(m, c, d, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Why rustls read no chain, and whether the raw ClientHello may.
struct Failed {
    error: CaptureError,
    /// A handshake failure, not the connection's or the clock's.
    retry: bool,
    /// rustls's failure in a few words, for [`Captured::rustls_error`].
    detail: String,
}

fn via_rustls(t: &Target, d: &Deadline) -> Result<Captured, Failed> {
    let at = t.at();
    let handshake = |detail: String| Failed {
        error: CaptureError::Handshake(format!("TLS handshake with {at} failed: {detail}")),
        retry: true,
        detail,
    };
    let name = ServerName::try_from(t.host.clone())
        .map_err(|e| handshake(format!("rustls cannot use the name {}: {e}", t.host)))?;
    let capture = Arc::new(Capture {
        provider: provider(),
        chain: Mutex::new(Vec::new()),
    });
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| handshake(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let mut conn =
        ClientConnection::new(Arc::new(config), name).map_err(|e| handshake(e.to_string()))?;
    let sock = open(t, d).map_err(|error| Failed {
        error,
        retry: false,
        detail: String::new(),
    })?;
    let mut sock = Recording {
        sock,
        first: Vec::new(),
    };
    let secs = d.secs();
    // The I/O is driven here, not by complete_io, so the deadline is
    // checked before every read and write.
    let failure: std::io::Result<rustls::Error> = loop {
        if !conn.is_handshaking() {
            break Ok(rustls::Error::General(
                "the handshake finished without a certificate".into(),
            ));
        }
        if conn.wants_write() {
            let wrote = send_prepare(&sock.sock, d).and_then(|()| conn.write_tls(&mut sock));
            if let Err(e) = wrote {
                break Err(e);
            }
            continue;
        }
        match arm(&sock.sock, d).and_then(|()| conn.read_tls(&mut sock)) {
            Ok(0) => break Err(ErrorKind::UnexpectedEof.into()),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
        // On an error, rustls queues an alert; it is not sent. The server
        // gets nothing from us but the ClientHello (and, in TLS 1.3, the
        // empty ChangeCipherSpec of middlebox compatibility).
        if let Err(e) = conn.process_new_packets() {
            break Ok(e);
        }
    };
    let chain = capture.chain.lock().map(|c| c.clone()).unwrap_or_default();
    if !chain.is_empty() {
        let _ = sock.sock.shutdown(Shutdown::Both);
        let protocol = conn
            .protocol_version()
            .and_then(|v| Protocol::from_wire(u16::from(v)))
            .unwrap_or(Protocol::Tls12);
        let cipher = conn.negotiated_cipher_suite().map(|s| Suite {
            id: u16::from(s.suite()),
        });
        return Ok(Captured {
            chain,
            protocol,
            cipher,
            via: Via::Rustls,
            rustls_error: None,
        });
    }
    if !looks_like_tls(&sock.first) {
        return Err(Failed {
            error: not_tls(&at, &sock.first),
            retry: false,
            detail: String::new(),
        });
    }
    Err(match failure {
        Ok(rustls::Error::AlertReceived(a)) => {
            let alert = Alert(u8::from(a));
            let detail = format!("the server sent the alert {alert}");
            Failed {
                error: CaptureError::Alert {
                    alert,
                    message: format!("TLS handshake with {at} failed: {detail}"),
                },
                retry: true,
                detail,
            }
        }
        Ok(rustls::Error::NoCertificatesPresented) => Failed {
            error: CaptureError::NoCertificate(format!("{at} presented no certificate")),
            retry: true,
            detail: "the server presented no certificate".into(),
        },
        Ok(e) => handshake(e.to_string()),
        Err(e) => {
            let error = io_failure(&at, &e, !sock.first.is_empty(), secs);
            let retry = !matches!(error, CaptureError::Timeout(_));
            let detail = match e.kind() {
                ErrorKind::UnexpectedEof => "the server closed the connection".into(),
                ErrorKind::ConnectionReset => "the server reset the connection".into(),
                _ => e.to_string(),
            };
            Failed {
                error,
                retry,
                detail,
            }
        }
    })
}

// ------------------------------------------------------------ 2: raw hello

/// Every TLS ≤ 1.2 suite the raw ClientHello offers, in its order of
/// preference: forward-secret AEAD first, then CBC, static RSA, and the
/// ciphers OpenSSL 3 only allows at `@SECLEVEL=0` or not at all (3DES,
/// RC4). Offering a weak suite costs nothing here: no key is ever derived,
/// and a server that only speaks it is what doctor must name.
/// Never anonymous, export, NULL or PSK suites: they present no certificate.
const OFFERED: &[(u16, &str)] = &[
    (0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"),
    (0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"),
    (0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"),
    (0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"),
    (0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"),
    (0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"),
    (0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"),
    (0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"),
    (0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256"),
    (0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384"),
    (0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"),
    (0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"),
    (0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"),
    (0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    (0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    (0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    (0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"),
    (0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"),
    (0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    (0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    (0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256"),
    (0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256"),
    (0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    (0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    (0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"),
    (0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"),
    (0xC09C, "TLS_RSA_WITH_AES_128_CCM"),
    (0xC09D, "TLS_RSA_WITH_AES_256_CCM"),
    (0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"),
    (0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"),
    (0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    (0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    (0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
    (0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
];

/// The TLS 1.3 suites, for naming what rustls negotiated.
const TLS13_SUITES: &[(u16, &str)] = &[
    (0x1301, "TLS_AES_128_GCM_SHA256"),
    (0x1302, "TLS_AES_256_GCM_SHA384"),
    (0x1303, "TLS_CHACHA20_POLY1305_SHA256"),
    (0x1304, "TLS_AES_128_CCM_SHA256"),
    (0x1305, "TLS_AES_128_CCM_8_SHA256"),
];

/// supported_groups: the curves OpenSSL offers, then brainpool. No FFDHE
/// group: naming one would bind an RFC 7919 server to those groups, and a
/// DHE server with its own parameters could then not choose DHE at all.
const GROUPS: &[u16] = &[
    29, // x25519
    23, // secp256r1
    30, // x448
    24, // secp384r1
    25, // secp521r1
    26, // brainpoolP256r1
    27, // brainpoolP384r1
    28, // brainpoolP512r1
];

/// signature_algorithms (TLS 1.2 only): every scheme a server may sign its
/// key exchange with, SHA-1 and PKCS#1 v1.5 included, so none is refused
/// for want of one.
const SIGNATURE_SCHEMES: &[u16] = &[
    0x0403, // ecdsa_secp256r1_sha256
    0x0503, // ecdsa_secp384r1_sha384
    0x0603, // ecdsa_secp521r1_sha512
    0x0807, // ed25519
    0x0808, // ed448
    0x0804, // rsa_pss_rsae_sha256
    0x0805, // rsa_pss_rsae_sha384
    0x0806, // rsa_pss_rsae_sha512
    0x0809, // rsa_pss_pss_sha256
    0x080A, // rsa_pss_pss_sha384
    0x080B, // rsa_pss_pss_sha512
    0x0401, // rsa_pkcs1_sha256
    0x0501, // rsa_pkcs1_sha384
    0x0601, // rsa_pkcs1_sha512
    0x0303, // ecdsa_sha224
    0x0301, // rsa_pkcs1_sha224
    0x0402, // dsa_sha256
    0x0302, // dsa_sha224
    0x0203, // ecdsa_sha1
    0x0201, // rsa_pkcs1_sha1
    0x0202, // dsa_sha1
];

fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// `bytes`, after their length in two bytes. Every list here is far
/// shorter than 64 KiB.
fn put_vec16(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u16(out, bytes.len() as u16);
    out.extend_from_slice(bytes);
}

fn put_extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    put_u16(out, kind);
    put_vec16(out, data);
}

fn u16_list(values: &[u16]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// The name to send in SNI: a DNS name, never an IP literal (RFC 6066).
fn sni_name(host: &str) -> Option<&str> {
    let name = host.strip_suffix('.').unwrap_or(host);
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.parse::<IpAddr>().is_err()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    ok.then_some(name)
}

/// A ClientHello record offering `max` as the highest version
/// (client_version), every suite in [`OFFERED`], no session to resume.
fn client_hello(host: &str, max: Protocol, random: &[u8; 32]) -> Vec<u8> {
    let mut body = Vec::with_capacity(512);
    put_u16(&mut body, max.wire());
    body.extend_from_slice(random);
    body.push(0); // no session id: nothing to resume
    let suites: Vec<u16> = OFFERED.iter().map(|(id, _)| *id).collect();
    put_vec16(&mut body, &u16_list(&suites));
    body.extend_from_slice(&[1, 0]); // compression: null only

    let mut ext = Vec::new();
    if let Some(name) = sni_name(host) {
        let mut entry = vec![0]; // host_name
        put_vec16(&mut entry, name.as_bytes());
        let mut list = Vec::new();
        put_vec16(&mut list, &entry);
        put_extension(&mut ext, 0, &list);
    }
    let mut groups = Vec::new();
    put_vec16(&mut groups, &u16_list(GROUPS));
    put_extension(&mut ext, 10, &groups);
    put_extension(&mut ext, 11, &[1, 0]); // ec_point_formats: uncompressed
    if max >= Protocol::Tls12 {
        // RFC 5246: not to be sent when offering less than TLS 1.2.
        let mut schemes = Vec::new();
        put_vec16(&mut schemes, &u16_list(SIGNATURE_SCHEMES));
        put_extension(&mut ext, 13, &schemes);
    }
    // extended_master_secret: FIPS-mode servers (RHEL 9) refuse TLS 1.2
    // without it.
    put_extension(&mut ext, 23, &[]);
    put_extension(&mut ext, 0xFF01, &[0]); // renegotiation_info, initial

    // Some load balancers (F5 BIG-IP) hang on a ClientHello of 256 to 511
    // bytes; pad it to 512 as browsers and OpenSSL do (RFC 7685).
    let unpadded = 4 + body.len() + 2 + ext.len();
    if (0x100..0x200).contains(&unpadded) {
        let pad = 0x200 - unpadded;
        let len = if pad >= 5 { pad - 4 } else { 1 };
        put_extension(&mut ext, 21, &vec![0; len]);
    }
    put_vec16(&mut body, &ext);

    let mut msg = vec![1]; // client_hello
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    // The record says TLS 1.0, as OpenSSL's first ClientHello does: old
    // servers drop records with a version they do not know.
    let mut record = vec![22, 3, 1];
    put_vec16(&mut record, &msg);
    record
}

fn offered_words(max: Protocol) -> String {
    let versions = match max {
        Protocol::Tls12 | Protocol::Tls13 => "TLS 1.0 to 1.2",
        Protocol::Tls11 => "TLS 1.0 and 1.1",
        Protocol::Tls10 | Protocol::Ssl3 => "TLS 1.0",
    };
    format!(
        "to a ClientHello offering {versions} and {} cipher suites (ECDHE, DHE and RSA key exchange; GCM, ChaCha20, CBC, 3DES, RC4)",
        OFFERED.len()
    )
}

fn via_raw_hello(t: &Target, d: &Deadline, max: Protocol) -> Result<Captured, CaptureError> {
    let at = t.at();
    let secs = d.secs();
    let mut random = [0u8; 32];
    // The random only matters to a handshake that completes; this one never
    // does, but it costs nothing to make it a real one.
    let _ = provider().secure_random.fill(&mut random);
    let hello = client_hello(&t.host, max, &random);
    let mut sock = open(t, d)?;
    send(&mut sock, &hello, d).map_err(|e| io_failure(&at, &e, false, secs))?;
    let mut flight = ServerFlight::default();
    let mut buf = vec![0u8; 16 * 1024];
    let found = loop {
        let read = arm(&sock, d).and_then(|()| sock.read(&mut buf));
        let n = match read {
            // (Bytes that are not TLS have been named by `feed` already.)
            Ok(0) => break Err(closed(&at)),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => break Err(io_failure(&at, &e, !flight.first.is_empty(), secs)),
        };
        match flight.feed(&buf[..n]) {
            Ok(None) => {}
            Ok(Some(f)) => break Ok(f),
            Err(e) => {
                let failed = |why: String| format!("TLS handshake with {at} failed: {why}");
                break Err(match e {
                    FlightError::NotTls => not_tls(&at, &flight.first),
                    FlightError::Alert(alert) => CaptureError::Alert {
                        alert,
                        message: failed(format!(
                            "the server sent the alert {alert} {}",
                            offered_words(max)
                        )),
                    },
                    FlightError::CloseNotify => closed(&at),
                    FlightError::Malformed(why) => CaptureError::Handshake(failed(why)),
                    FlightError::NoCertificate(why) => {
                        CaptureError::NoCertificate(format!("{at} presented no certificate: {why}"))
                    }
                });
            }
        }
    };
    // Stop here: no key exchange, no Finished, nothing after the
    // ClientHello.
    let _ = sock.shutdown(Shutdown::Both);
    let f = found?;
    Ok(Captured {
        chain: f.chain,
        protocol: f.protocol,
        cipher: Some(f.suite),
        via: Via::RawHello,
        rustls_error: None,
    })
}

// ------------------------------------------------------------ the server's flight

/// The largest handshake message read: real chains are tens of KiB.
const MAX_MESSAGE: usize = 1 << 20;
/// A record is at most 2^14 bytes of plaintext, 2^14 + 2048 protected.
const MAX_RECORD: usize = (1 << 14) + 2048;

/// What the server's first flight says, up to its Certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Flight {
    protocol: Protocol,
    suite: Suite,
    chain: Vec<Vec<u8>>,
}

#[derive(Debug, PartialEq, Eq)]
enum FlightError {
    /// The first bytes are no TLS record.
    NotTls,
    /// A fatal alert (warnings are passed over).
    Alert(Alert),
    CloseNotify,
    /// Something TLS does not allow here.
    Malformed(String),
    NoCertificate(String),
}

/// Reads the server's answer to the raw ClientHello as it arrives, in any
/// pieces: records, handshake messages spanning records, several messages
/// in one record. Never panics on any input; holds at most one handshake
/// message of [`MAX_MESSAGE`] bytes and one record.
#[derive(Debug, Default)]
struct ServerFlight {
    /// Received bytes not yet a whole record.
    pending: Vec<u8>,
    /// Handshake bytes not yet a whole message.
    handshake: Vec<u8>,
    hello: Option<(Protocol, Suite)>,
    records: usize,
    /// The first bytes received, for a message when they are not TLS.
    first: Vec<u8>,
}

fn message_name(kind: u8) -> String {
    match kind {
        0 => "HelloRequest".into(),
        1 => "ClientHello".into(),
        2 => "ServerHello".into(),
        4 => "NewSessionTicket".into(),
        8 => "EncryptedExtensions".into(),
        11 => "Certificate".into(),
        12 => "ServerKeyExchange".into(),
        13 => "CertificateRequest".into(),
        14 => "ServerHelloDone".into(),
        22 => "CertificateStatus".into(),
        _ => format!("a handshake message of type {kind}"),
    }
}

impl ServerFlight {
    fn feed(&mut self, data: &[u8]) -> Result<Option<Flight>, FlightError> {
        let keep = data.len().min(PREVIEW.saturating_sub(self.first.len()));
        self.first.extend_from_slice(&data[..keep]);
        self.pending.extend_from_slice(data);
        loop {
            let head = &self.pending;
            if self.records == 0 && !looks_like_tls(head) {
                return Err(FlightError::NotTls);
            }
            if head.len() < 5 {
                return Ok(None);
            }
            let kind = head[0];
            let len = usize::from(u16::from_be_bytes([head[3], head[4]]));
            if !(20..=24).contains(&kind) || head[1] != 3 {
                return Err(FlightError::Malformed(format!(
                    "a record of unknown type {kind} or version {}.{}",
                    head[1], head[2]
                )));
            }
            if len > MAX_RECORD {
                return Err(FlightError::Malformed(format!(
                    "a record of {len} bytes, more than TLS allows"
                )));
            }
            if head.len() < 5 + len {
                return Ok(None);
            }
            let fragment: Vec<u8> = self.pending.drain(..5 + len).skip(5).collect();
            self.records += 1;
            match kind {
                21 => match fragment[..] {
                    [_, 0] => return Err(FlightError::CloseNotify),
                    // A warning (unrecognized_name, most often) is not the end.
                    [1, _] => {}
                    [_, alert] => return Err(FlightError::Alert(Alert(alert))),
                    _ => {
                        return Err(FlightError::Malformed(format!(
                            "an alert record of {} bytes",
                            fragment.len()
                        )));
                    }
                },
                22 => {
                    self.handshake.extend_from_slice(&fragment);
                    if let Some(f) = self.messages()? {
                        return Ok(Some(f));
                    }
                }
                20 => {
                    return Err(FlightError::Malformed(
                        "ChangeCipherSpec before any certificate".into(),
                    ));
                }
                23 => {
                    return Err(FlightError::Malformed(
                        "application data during the handshake".into(),
                    ));
                }
                _ => {
                    return Err(FlightError::Malformed(format!(
                        "a record of type {kind} during the handshake"
                    )));
                }
            }
        }
    }

    /// The whole handshake messages received so far, up to Certificate.
    fn messages(&mut self) -> Result<Option<Flight>, FlightError> {
        loop {
            let h = &self.handshake;
            if h.len() < 4 {
                return Ok(None);
            }
            let kind = h[0];
            let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
            if len > MAX_MESSAGE {
                return Err(FlightError::Malformed(format!(
                    "{} of {len} bytes (at most {MAX_MESSAGE} are read)",
                    message_name(kind)
                )));
            }
            if h.len() < 4 + len {
                return Ok(None);
            }
            let body: Vec<u8> = self.handshake.drain(..4 + len).skip(4).collect();
            match (kind, self.hello) {
                (0, _) => {}
                (2, None) => self.hello = Some(server_hello(&body)?),
                (11, Some((protocol, suite))) => {
                    return Ok(Some(Flight {
                        protocol,
                        suite,
                        chain: certificate_list(&body)?,
                    }));
                }
                (12 | 14, Some((_, suite))) => {
                    return Err(FlightError::NoCertificate(format!(
                        "its {} came where the Certificate belongs (suite {suite})",
                        message_name(kind)
                    )));
                }
                (_, None) => {
                    return Err(FlightError::Malformed(format!(
                        "{} where the ServerHello belongs",
                        message_name(kind)
                    )));
                }
                (_, Some(_)) => {
                    return Err(FlightError::Malformed(format!(
                        "{} where the Certificate belongs",
                        message_name(kind)
                    )));
                }
            }
        }
    }
}

/// Reads big-endian fields off a slice; running short is malformed.
struct Fields<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FlightError> {
        if self.rest.len() < n {
            return Err(FlightError::Malformed(format!("a truncated {}", self.what)));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, FlightError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, FlightError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u24(&mut self) -> Result<usize, FlightError> {
        let b = self.take(3)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize)
    }
}

/// The version and suite of a ServerHello body.
fn server_hello(body: &[u8]) -> Result<(Protocol, Suite), FlightError> {
    let mut f = Fields {
        rest: body,
        what: "ServerHello",
    };
    let mut version = f.u16()?;
    f.take(32)?; // random
    let session = usize::from(f.u8()?);
    if session > 32 {
        return Err(FlightError::Malformed(format!(
            "a ServerHello with a session id of {session} bytes"
        )));
    }
    f.take(session)?;
    let suite = Suite { id: f.u16()? };
    f.u8()?; // compression
    if !f.rest.is_empty() {
        let len = usize::from(f.u16()?);
        let mut ext = Fields {
            rest: f.take(len)?,
            what: "ServerHello extension",
        };
        while !ext.rest.is_empty() {
            let kind = ext.u16()?;
            let len = usize::from(ext.u16()?);
            let data = ext.take(len)?;
            if kind == 43 {
                // supported_versions: only ever chosen with TLS 1.3.
                version = Fields {
                    rest: data,
                    what: "supported_versions",
                }
                .u16()?;
            }
        }
    }
    match Protocol::from_wire(version) {
        Some(Protocol::Tls13) => Err(FlightError::Malformed(
            "the server chose TLS 1.3, which this ClientHello does not offer".into(),
        )),
        Some(p) => Ok((p, suite)),
        None => Err(FlightError::Malformed(format!(
            "the server chose version 0x{version:04x}, which is no TLS version"
        ))),
    }
}

/// The DER certificates of a (TLS ≤ 1.2) Certificate body.
fn certificate_list(body: &[u8]) -> Result<Vec<Vec<u8>>, FlightError> {
    let mut f = Fields {
        rest: body,
        what: "Certificate message",
    };
    let total = f.u24()?;
    if total != f.rest.len() {
        return Err(FlightError::Malformed(format!(
            "a Certificate message whose list says {total} bytes and holds {}",
            f.rest.len()
        )));
    }
    let mut chain = Vec::new();
    while !f.rest.is_empty() {
        let len = f.u24()?;
        if len == 0 {
            return Err(FlightError::Malformed(
                "an empty certificate in the Certificate message".into(),
            ));
        }
        chain.push(f.take(len)?.to_vec());
    }
    if chain.is_empty() {
        return Err(FlightError::NoCertificate(
            "its Certificate message lists none".into(),
        ));
    }
    Ok(chain)
}

// ------------------------------------------------------------ proxies and verification

/// The proxy for `host` from HTTPS_PROXY / https_proxy, unless NO_PROXY
/// names it.
pub fn proxy_for(host: &str) -> Option<(String, u16)> {
    proxy_in(host, |k| std::env::var(k).ok())
}

/// [`proxy_for`] in the environment `env` gives: the proxy's host and
/// port, unless NO_PROXY (comma-separated names, `.suffix`es or `*`) names
/// `host`. A proxy given without a scheme (`proxy.corp:3128`, as many set
/// it) is read as http://.
fn proxy_in(host: &str, env: impl Fn(&str) -> Option<String>) -> Option<(String, u16)> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    let proxy = var("HTTPS_PROXY").or_else(|| var("https_proxy"))?;
    let no_proxy = var("NO_PROXY")
        .or_else(|| var("no_proxy"))
        .unwrap_or_default();
    let excluded = no_proxy.split(',').map(str::trim).any(|n| {
        let n = n.trim_start_matches('.');
        n == "*"
            || (!n.is_empty()
                && (host == n || host.strip_suffix(n).is_some_and(|rest| rest.ends_with('.'))))
    });
    if excluded {
        return None;
    }
    let url = if proxy.contains("://") {
        url::Url::parse(&proxy)
    } else {
        url::Url::parse(&format!("http://{proxy}"))
    }
    .ok()?;
    // IPv6 literals come bracketed; this connects to the bare address.
    let host = url.host_str()?.trim_matches(['[', ']']).to_string();
    Some((host, url.port_or_known_default().unwrap_or(80)))
}

/// Does `roots` accept `chain` for `host` at `now` (Unix seconds)? The
/// error is rustls's, to be classified by the caller.
pub fn verify(
    chain: &[Vec<u8>],
    roots: &[Cert],
    host: &str,
    now: i64,
) -> Result<(), rustls::Error> {
    let mut store = RootCertStore::empty();
    for r in roots {
        let _ = store.add(CertificateDer::from(r.der.clone()));
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
    let (leaf, rest) = chain
        .split_first()
        .ok_or(rustls::Error::NoCertificatesPresented)?;
    let intermediates: Vec<CertificateDer> = rest
        .iter()
        .map(|c| CertificateDer::from(c.as_slice()))
        .collect();
    let name = ServerName::try_from(host).map_err(|e| rustls::Error::General(e.to_string()))?;
    let secs = u64::try_from(now).unwrap_or(0);
    let at = UnixTime::since_unix_epoch(Duration::from_secs(secs));
    verifier
        .verify_server_cert(
            &CertificateDer::from(leaf.as_slice()),
            &intermediates,
            &name,
            &[],
            at,
        )
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Read from an environment given, not the process's: a test that set
    /// the variables would race every other test of the binary.
    #[test]
    fn proxies_follow_no_proxy() {
        let via = |host: &str, proxy: &str, no_proxy: &str| {
            proxy_in(host, |k| match k {
                "HTTPS_PROXY" => Some(proxy.to_string()),
                "NO_PROXY" => Some(no_proxy.to_string()),
                _ => None,
            })
        };
        let no_proxy = "localhost, .internal,corp.example";
        for (host, proxy, want) in [
            (
                "example.com",
                "http://user:pw@proxy.corp:3128/",
                Some(("proxy.corp", 3128)),
            ),
            ("example.com", "proxy.corp:3128", Some(("proxy.corp", 3128))),
            (
                "example.com",
                "HTTP://Proxy.Corp:3128",
                Some(("proxy.corp", 3128)),
            ),
            ("example.com", "http://proxy.corp", Some(("proxy.corp", 80))),
            (
                "example.com",
                "https://proxy.corp",
                Some(("proxy.corp", 443)),
            ),
            ("example.com", "http://[::1]:8080", Some(("::1", 8080))),
            ("example.com", "10.0.0.1:3128", Some(("10.0.0.1", 3128))),
            ("example.com", "http://proxy.corp:99999", None),
            ("git.internal", "proxy.corp:3128", None),
            ("internal", "proxy.corp:3128", None),
            ("localhost", "proxy.corp:3128", None),
            ("www.corp.example", "proxy.corp:3128", None),
            // A name that only ends with the same letters is not in the domain.
            (
                "notcorp.example",
                "proxy.corp:3128",
                Some(("proxy.corp", 3128)),
            ),
        ] {
            let want = want.map(|(h, p)| (h.to_string(), p));
            assert_eq!(via(host, proxy, no_proxy), want, "{host} via {proxy}");
        }
        assert_eq!(via("example.com", "proxy.corp:3128", "*"), None);
        let lower = |k: &str| (k == "https_proxy").then(|| "proxy.lower:8080".to_string());
        assert_eq!(
            proxy_in("example.com", lower),
            Some(("proxy.lower".into(), 8080))
        );
        assert_eq!(proxy_in("example.com", |_| None), None);
    }

    // ------------------------------------------------------- the ClientHello

    /// Extensions by type, in the order sent.
    type Extensions = Vec<(u16, Vec<u8>)>;

    /// The version, suites and extensions of a ClientHello record, after
    /// checking every length in it adds up.
    fn hello_parts(record: &[u8]) -> (u16, Vec<u16>, Extensions) {
        assert_eq!(&record[..3], &[22, 3, 1]);
        let len = usize::from(u16::from_be_bytes([record[3], record[4]]));
        assert_eq!(record.len(), 5 + len, "record length");
        let msg = &record[5..];
        assert_eq!(msg[0], 1, "client_hello");
        let body_len = u32::from_be_bytes([0, msg[1], msg[2], msg[3]]) as usize;
        assert_eq!(msg.len(), 4 + body_len, "handshake length");
        let mut f = Fields {
            rest: &msg[4..],
            what: "test",
        };
        let version = f.u16().unwrap();
        f.take(32).unwrap();
        let sid = usize::from(f.u8().unwrap());
        f.take(sid).unwrap();
        let n = usize::from(f.u16().unwrap());
        let suites = f
            .take(n)
            .unwrap()
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        let n = usize::from(f.u8().unwrap());
        assert_eq!(f.take(n).unwrap(), &[0]);
        let n = usize::from(f.u16().unwrap());
        let mut e = Fields {
            rest: f.take(n).unwrap(),
            what: "test",
        };
        assert!(f.rest.is_empty(), "bytes after the extensions");
        let mut exts = Vec::new();
        while !e.rest.is_empty() {
            let kind = e.u16().unwrap();
            let n = usize::from(e.u16().unwrap());
            exts.push((kind, e.take(n).unwrap().to_vec()));
        }
        (version, suites, exts)
    }

    fn ext(exts: &[(u16, Vec<u8>)], kind: u16) -> Option<&[u8]> {
        exts.iter().find(|(k, _)| *k == kind).map(|(_, d)| &d[..])
    }

    #[test]
    fn client_hello_offers_what_openssl_clients_may_negotiate() {
        let record = client_hello("example.com", Protocol::Tls12, &[7; 32]);
        let (version, suites, exts) = hello_parts(&record);
        assert_eq!(version, 0x0303);
        // Each key exchange and cipher family, by its IANA number.
        for id in [
            0xC02F, 0xCCA8, 0x009E, 0xC013, 0xC028, 0x0033, 0x009C, 0x002F, 0x000A, 0x0005,
        ] {
            assert!(suites.contains(&id), "0x{id:04X} offered");
        }
        let mut unique = suites.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), suites.len(), "no suite twice");
        assert!(suites.iter().all(|id| Suite { id: *id }.name().is_some()));
        let mut sni = vec![0, 14, 0, 0, 11];
        sni.extend_from_slice(b"example.com");
        assert_eq!(ext(&exts, 0), Some(&sni[..]));
        let schemes = ext(&exts, 13).expect("signature_algorithms");
        for scheme in [0x0201u16, 0x0401, 0x0804, 0x0403] {
            assert!(schemes.chunks(2).skip(1).any(|c| c == scheme.to_be_bytes()));
        }
        assert!(ext(&exts, 10).is_some() && ext(&exts, 11) == Some(&[1, 0][..]));
        assert_eq!(ext(&exts, 0xFF01), Some(&[0][..]));
        assert_eq!(ext(&exts, 23), Some(&[][..]));
        // Padded out of the 256..511 range that hangs some load balancers.
        for host in [
            "example.com",
            "a-rather-long-host-name.in.a.subdomain.example.com",
        ] {
            let msg_len = client_hello(host, Protocol::Tls12, &[7; 32]).len() - 5;
            assert!(!(0x100..0x200).contains(&msg_len), "{host}: {msg_len}");
        }
        let long = client_hello(
            "a-rather-long-host-name.example.com",
            Protocol::Tls12,
            &[0; 32],
        );
        let (_, _, exts) = hello_parts(&long);
        assert!(ext(&exts, 21).is_some_and(|pad| pad.iter().all(|b| *b == 0)));
        assert_eq!(long.len() - 5, 0x200);
    }

    #[test]
    fn client_hello_sends_no_sni_for_an_ip_and_no_schemes_below_tls_1_2() {
        for host in ["127.0.0.1", "::1", ""] {
            let (_, _, exts) = hello_parts(&client_hello(host, Protocol::Tls12, &[0; 32]));
            assert_eq!(ext(&exts, 0), None, "{host}");
        }
        let (version, _, exts) =
            hello_parts(&client_hello("a.example.", Protocol::Tls10, &[0; 32]));
        assert_eq!(version, 0x0301);
        assert_eq!(ext(&exts, 13), None);
        assert!(ext(&exts, 0).unwrap().ends_with(b"\x00\x09a.example"));
    }

    #[test]
    fn suites_are_named_and_sorted_into_kinds() {
        let s = |id| Suite { id };
        assert_eq!(s(0x002F).to_string(), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert!(s(0x002F).is_cbc() && s(0x002F).is_static_rsa() && !s(0x002F).is_dhe());
        assert!(s(0x009E).is_dhe() && !s(0x009E).is_cbc() && !s(0x009E).is_aead_ecdhe());
        assert!(s(0xC02F).is_aead_ecdhe() && s(0xCCA8).is_aead_ecdhe());
        assert!(s(0xC013).is_cbc() && !s(0xC013).is_aead_ecdhe());
        assert!(s(0x000A).is_3des() && s(0x000A).is_cbc() && s(0x0005).is_rc4());
        assert!(s(0x1302).is_tls13() && !s(0x1302).is_aead_ecdhe());
        assert_eq!(s(0x1301).to_string(), "TLS_AES_128_GCM_SHA256");
        assert_eq!(s(0xABCD).to_string(), "0xABCD");
        assert!(!s(0xABCD).is_cbc() && !s(0xABCD).is_static_rsa());
        assert_eq!(Alert(70).to_string(), "protocol_version");
        assert_eq!(Alert(200).to_string(), "alert 200");
        assert_eq!(Protocol::from_wire(0x0301), Some(Protocol::Tls10));
        assert_eq!(Protocol::Tls11.to_string(), "TLS 1.1");
    }

    // ---------------------------------------------------- the server's flight

    fn record(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut r = vec![kind, 3, 3];
        put_vec16(&mut r, data);
        r
    }

    fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        m.extend_from_slice(body);
        m
    }

    fn hello_body(version: u16, suite: u16, extensions: Option<&[u8]>) -> Vec<u8> {
        let mut b = version.to_be_bytes().to_vec();
        b.extend_from_slice(&[9; 32]);
        b.push(32);
        b.extend_from_slice(&[5; 32]);
        b.extend_from_slice(&suite.to_be_bytes());
        b.push(0);
        if let Some(e) = extensions {
            put_vec16(&mut b, e);
        }
        b
    }

    fn certificate_body(chain: &[Vec<u8>]) -> Vec<u8> {
        let mut list = Vec::new();
        for c in chain {
            list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(c);
        }
        let mut b = (list.len() as u32).to_be_bytes()[1..].to_vec();
        b.extend_from_slice(&list);
        b
    }

    fn fake_chain() -> Vec<Vec<u8>> {
        vec![vec![0x30; 1500], (0..=255u8).cycle().take(40_000).collect()]
    }

    /// ServerHello, Certificate, ServerKeyExchange, ServerHelloDone: the
    /// handshake bytes of a TLS 1.2 flight.
    fn flight_messages(version: u16, suite: u16, chain: &[Vec<u8>]) -> Vec<u8> {
        let mut m = handshake(2, &hello_body(version, suite, Some(&[0xFF, 0x01, 0, 1, 0])));
        m.extend(handshake(11, &certificate_body(chain)));
        m.extend(handshake(12, &[1; 300]));
        m.extend(handshake(14, &[]));
        m
    }

    /// `messages` cut into records of at most `size` bytes.
    fn in_records(messages: &[u8], size: usize) -> Vec<u8> {
        messages.chunks(size).flat_map(|c| record(22, c)).collect()
    }

    fn feed_all(bytes: &[u8], chunk: usize) -> Result<Option<Flight>, FlightError> {
        let mut f = ServerFlight::default();
        for c in bytes.chunks(chunk.max(1)) {
            if let Some(done) = f.feed(c)? {
                return Ok(Some(done));
            }
        }
        Ok(None)
    }

    #[test]
    fn flight_is_read_in_any_pieces() {
        let chain = fake_chain();
        let messages = flight_messages(0x0303, 0xC013, &chain);
        let want = Flight {
            protocol: Protocol::Tls12,
            suite: Suite { id: 0xC013 },
            chain: chain.clone(),
        };
        // Several messages in one record, one message over many records,
        // records one byte long, and the bytes arriving one at a time.
        for size in [16_384, 1000, 7, 1] {
            let bytes = in_records(&messages, size);
            for chunk in [bytes.len(), 4096, 5, 1] {
                if size == 1 && chunk == 1 {
                    continue; // slow and says nothing more
                }
                assert_eq!(
                    feed_all(&bytes, chunk),
                    Ok(Some(want.clone())),
                    "records of {size}, fed {chunk} at a time"
                );
            }
        }
    }

    #[test]
    fn flight_alerts_and_oddities() {
        let hello = handshake(2, &hello_body(0x0301, 0x002F, None));
        let cert = handshake(11, &certificate_body(&[vec![1, 2, 3]]));
        // A warning is passed over; a fatal alert is the answer.
        let mut bytes = record(21, &[1, 112]);
        bytes.extend(record(22, &hello));
        bytes.extend(record(22, &cert));
        let got = feed_all(&bytes, 3).unwrap().unwrap();
        assert_eq!(
            (got.protocol, got.chain),
            (Protocol::Tls10, vec![vec![1, 2, 3]])
        );
        assert_eq!(
            feed_all(&record(21, &[2, 40]), 1),
            Err(FlightError::Alert(Alert::HANDSHAKE_FAILURE))
        );
        assert_eq!(
            feed_all(&record(21, &[1, 0]), 9),
            Err(FlightError::CloseNotify)
        );
        // Not TLS, known from the first byte.
        assert_eq!(feed_all(b"H", 1), Err(FlightError::NotTls));
        assert_eq!(
            feed_all(b"SSH-2.0-OpenSSH_9.6\r\n", 64),
            Err(FlightError::NotTls)
        );
        // No certificate: an anonymous suite's ServerKeyExchange, or an
        // empty list.
        let mut anon = record(22, &hello);
        anon.extend(record(22, &handshake(12, &[0; 10])));
        assert!(matches!(
            feed_all(&anon, 100),
            Err(FlightError::NoCertificate(_))
        ));
        let mut empty = record(22, &hello);
        empty.extend(record(22, &handshake(11, &[0, 0, 0])));
        assert!(matches!(
            feed_all(&empty, 100),
            Err(FlightError::NoCertificate(_))
        ));
        // TLS 1.3 chosen by supported_versions, which was not offered.
        let tls13 = handshake(2, &hello_body(0x0303, 0x1301, Some(&[0, 43, 0, 2, 3, 4])));
        assert!(matches!(
            feed_all(&record(22, &tls13), 100),
            Err(FlightError::Malformed(_))
        ));
        // A Certificate before the ServerHello; lengths that disagree.
        assert!(matches!(
            feed_all(&record(22, &cert), 100),
            Err(FlightError::Malformed(_))
        ));
        let mut bad = record(22, &hello);
        bad.extend(record(22, &handshake(11, &[0, 0, 9, 0, 0, 1, 7])));
        assert!(matches!(
            feed_all(&bad, 100),
            Err(FlightError::Malformed(_))
        ));
    }

    #[test]
    fn flight_refuses_an_oversized_certificate_before_reading_it() {
        let mut bytes = record(22, &handshake(2, &hello_body(0x0303, 0x009C, None)));
        // Announces 2 MiB; only the header is sent.
        bytes.extend(record(22, &[11, 0x20, 0, 0]));
        let got = feed_all(&bytes, 4096);
        assert!(
            matches!(&got, Err(FlightError::Malformed(m)) if m.contains("Certificate of 2097152 bytes")),
            "{got:?}"
        );
        assert!(matches!(
            feed_all(&[22, 3, 3, 0xFF, 0xFF], 5),
            Err(FlightError::Malformed(_))
        ));
    }

    /// xorshift64*: deterministic noise without a dependency.
    struct Noise(u64);

    impl Noise {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// Feed `bytes` in random pieces; whatever happens, no panic, and the
    /// parser never holds more than one message and one record.
    fn survive(bytes: &[u8], noise: &mut Noise) {
        let mut f = ServerFlight::default();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(1 + noise.below(rest.len().min(3000)));
            rest = tail;
            match f.feed(piece) {
                Ok(None) => {
                    assert!(f.pending.len() <= 5 + MAX_RECORD + 3000);
                    assert!(f.handshake.len() <= 4 + MAX_MESSAGE + MAX_RECORD);
                }
                Ok(Some(_)) | Err(_) => return,
            }
        }
    }

    #[test]
    fn flight_parser_survives_garbage() {
        let mut noise = Noise(0x5EED_CAB0_0D1E_5EED);
        let valid = in_records(&flight_messages(0x0303, 0xC030, &fake_chain()[..1]), 700);
        // Every truncation of a valid flight: more is needed, never an error.
        for cut in 0..valid.len() {
            let mut f = ServerFlight::default();
            match f.feed(&valid[..cut]) {
                Ok(None) => {}
                Ok(Some(_)) => assert!(cut > 1500, "complete after {cut} bytes"),
                Err(e) => panic!("a prefix of {cut} bytes failed: {e:?}"),
            }
        }
        // Random bytes; random records with random bodies; a valid flight
        // with bytes changed.
        for _ in 0..3000 {
            let n = noise.below(4000);
            let junk = noise.bytes(n);
            survive(&junk, &mut noise);
            let mut records = Vec::new();
            for _ in 0..noise.below(20) {
                let kind = [20, 21, 22, 22, 22, 23][noise.below(6)];
                let n = noise.below(600);
                let mut body = noise.bytes(n);
                if kind == 22 && noise.below(2) == 0 && body.len() > 4 {
                    body[0] = [2, 11, 12, 14][noise.below(4)];
                    body[1] = 0;
                }
                records.extend(record(kind, &body));
            }
            survive(&records, &mut noise);
            let mut mutated = valid.clone();
            for _ in 0..1 + noise.below(4) {
                let at = noise.below(mutated.len());
                mutated[at] = noise.next() as u8;
            }
            survive(&mutated, &mut noise);
        }
    }

    // ------------------------------------------------- against fake servers

    use std::net::TcpListener;
    use std::thread;

    /// Every byte each finished connection to a fake server received.
    type Log = Arc<Mutex<Vec<Vec<u8>>>>;

    /// A server on 127.0.0.1. On its n-th connection it reads one record
    /// (the ClientHello), writes the chunks `answer(n, hello)` returns,
    /// `pace` apart, then logs all the client sent until it closed.
    fn fake(
        pace: Duration,
        answer: impl Fn(usize, &[u8]) -> Vec<Vec<u8>> + Send + Sync + 'static,
    ) -> (u16, Log) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log: Log = Arc::default();
        let answer = Arc::new(answer);
        let logs = log.clone();
        thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(mut conn) = conn else { return };
                let (answer, log) = (answer.clone(), logs.clone());
                thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut got = Vec::new();
                    let mut buf = [0u8; 4096];
                    let whole = |g: &[u8]| {
                        g.len() >= 5 && g.len() >= 5 + usize::from(u16::from_be_bytes([g[3], g[4]]))
                    };
                    while !whole(&got) {
                        match conn.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(k) => got.extend_from_slice(&buf[..k]),
                        }
                    }
                    for chunk in answer(n, &got) {
                        if conn.write_all(&chunk).is_err() {
                            break;
                        }
                        thread::sleep(pace);
                    }
                    while let Ok(k @ 1..) = conn.read(&mut buf) {
                        got.extend_from_slice(&buf[..k]);
                    }
                    log.lock().unwrap().push(got);
                });
            }
        });
        (port, log)
    }

    /// The logs of `n` finished connections (waiting up to 10 s for them).
    fn connections(log: &Log, n: usize) -> Vec<Vec<u8>> {
        let start = Instant::now();
        while log.lock().unwrap().len() < n && start.elapsed() < Duration::from_secs(10) {
            thread::sleep(Duration::from_millis(10));
        }
        log.lock().unwrap().clone()
    }

    /// Are `bytes` one ClientHello, in one handshake record, and nothing
    /// else at all?
    fn only_a_client_hello(bytes: &[u8]) -> bool {
        bytes.len() > 9
            && bytes[0] == 22
            && bytes.len() == 5 + usize::from(u16::from_be_bytes([bytes[3], bytes[4]]))
            && bytes[5] == 1
            && bytes.len() == 9 + u32::from_be_bytes([0, bytes[6], bytes[7], bytes[8]]) as usize
    }

    fn local(port: u16, secs: u64) -> Target {
        Target {
            host: "127.0.0.1".into(),
            port,
            proxy: None,
            timeout: Duration::from_secs(secs),
        }
    }

    /// A server refusing any ClientHello above TLS 1.0 with protocol_version
    /// (rustls's too), the way version-intolerant servers do: asked again
    /// offering TLS 1.1, then 1.0, it answers; every connection received a
    /// ClientHello and nothing else.
    #[test]
    fn version_intolerant_server_is_asked_again_down_to_tls_1_0() {
        let chain = fake_chain();
        let flight = in_records(&flight_messages(0x0301, 0xC013, &chain), 5000);
        let (port, log) = fake(Duration::from_millis(1), move |_, hello| {
            if u16::from_be_bytes([hello[9], hello[10]]) > 0x0301 {
                vec![record(21, &[2, 70])]
            } else {
                flight.chunks(333).map(<[u8]>::to_vec).collect()
            }
        });
        let c = capture(&local(port, 10)).unwrap();
        assert_eq!(c.via, Via::RawHello);
        assert_eq!(c.protocol, Protocol::Tls10);
        assert_eq!(c.cipher, Some(Suite { id: 0xC013 }));
        assert_eq!(c.chain, chain);
        assert_eq!(
            c.rustls_error.as_deref(),
            Some("the server sent the alert protocol_version")
        );
        // rustls, then TLS 1.2, 1.1 and 1.0 hellos.
        let conns = connections(&log, 4);
        assert_eq!(conns.len(), 4);
        let versions: Vec<u16> = conns
            .iter()
            .map(|c| u16::from_be_bytes([c[9], c[10]]))
            .collect();
        assert_eq!(versions.iter().filter(|v| **v == 0x0301).count(), 1);
        assert_eq!(versions.iter().filter(|v| **v == 0x0302).count(), 1);
        for got in &conns {
            assert!(
                only_a_client_hello(got),
                "sent more than a ClientHello: {got:02x?}"
            );
        }
    }

    /// No shared suite at all: one raw attempt (no fallback on anything but
    /// protocol_version), and the alert named once.
    #[test]
    fn handshake_failure_everywhere_is_the_alert() {
        let (port, log) = fake(Duration::ZERO, |_, _| vec![record(21, &[2, 40])]);
        let e = capture(&local(port, 10)).unwrap_err();
        let CaptureError::Alert { alert, message } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*alert, Alert::HANDSHAKE_FAILURE);
        assert!(message.contains("127.0.0.1:"), "{message}");
        assert!(message.contains("handshake_failure to a ClientHello offering TLS 1.0 to 1.2"));
        assert!(!message.contains("rustls"), "{message}");
        assert_eq!(e.kind(), "alert");
        thread::sleep(Duration::from_millis(200));
        assert_eq!(connections(&log, 2).len(), 2);
    }

    /// rustls is refused quickly, then the raw attempt meets a server
    /// trickling a record a byte at a time: the one deadline ends both.
    #[test]
    fn one_deadline_bounds_both_attempts() {
        let (port, _log) = fake(Duration::from_millis(100), |n, _| {
            if n == 0 {
                vec![record(21, &[2, 40])]
            } else {
                let mut chunks = vec![vec![22, 3, 3, 0x40, 0]];
                chunks.extend(std::iter::repeat_n(vec![0], 100));
                chunks
            }
        });
        let e = fails_within_its_deadline(&local(port, 1));
        assert_eq!(e.kind(), "timeout", "{e}");
        assert!(e.to_string().contains("timed out after 1 s"), "{e}");
        assert!(e.to_string().contains("handshake_failure"), "{e}");
    }

    #[test]
    fn answers_that_are_not_tls_are_named() {
        let (port, log) = fake(Duration::ZERO, |_, _| {
            vec![b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()]
        });
        let e = capture(&local(port, 5)).unwrap_err();
        assert_eq!(e.kind(), "not-tls");
        assert!(
            e.to_string()
                .ends_with("does not speak TLS: it answered \"SSH-2.0-OpenSSH_9.6\""),
            "{e}"
        );
        // rustls's attempt says it all: no second connection.
        thread::sleep(Duration::from_millis(200));
        assert_eq!(log.lock().unwrap().len(), 1);
    }

    /// `capture` of `t` (a 1 s deadline) fails, and no later than the
    /// deadline allows (with room for a loaded machine).
    fn fails_within_its_deadline(t: &Target) -> CaptureError {
        let start = Instant::now();
        let e = capture(t).unwrap_err();
        let took = start.elapsed();
        assert!(took < Duration::from_millis(1800), "{took:?}: {e}");
        e
    }

    /// A proxy on 127.0.0.1 that reads the CONNECT request and answers
    /// with `answer`, one byte every `pace`.
    fn fake_proxy(answer: &'static [u8], pace: Duration) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut b = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match conn.read(&mut b) {
                            Ok(1) => head.push(b[0]),
                            _ => return,
                        }
                    }
                    for byte in answer {
                        if conn.write_all(&[*byte]).is_err() {
                            return;
                        }
                        thread::sleep(pace);
                    }
                });
            }
        });
        port
    }

    #[test]
    fn proxy_trickling_its_answer_cannot_outlast_the_deadline() {
        let port = fake_proxy(
            b"HTTP/1.1 200 Connection established\r\nVia: a very slow proxy\r\n\r\n",
            Duration::from_millis(200),
        );
        let mut t = local(443, 1);
        t.proxy = Some(("127.0.0.1".into(), port));
        let e = fails_within_its_deadline(&t);
        assert_eq!(e.kind(), "proxy", "{e}");
        assert!(e.to_string().contains("timed out after 1 s"), "{e}");
    }

    #[test]
    fn proxy_refusing_connect_is_named() {
        let port = fake_proxy(
            b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n",
            Duration::ZERO,
        );
        let mut t = local(443, 5);
        t.proxy = Some(("127.0.0.1".into(), port));
        let e = capture(&t).unwrap_err();
        assert_eq!(e.kind(), "proxy", "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "proxy 127.0.0.1:{port}: CONNECT 127.0.0.1:443 refused: \"HTTP/1.1 407 Proxy Authentication Required\""
            )
        );
    }
}
