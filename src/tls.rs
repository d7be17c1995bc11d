//! What a server presents in its TLS handshake, and whether a trust set
//! accepts it. For `doctor`: the chain is captured during the handshake and
//! the handshake is then abandoned, so no data ever flows over a connection
//! that was not verified.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::cert::Cert;

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

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Where to connect and how: straight, or through an HTTP CONNECT proxy.
#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub proxy: Option<(String, u16)>,
    pub timeout: Duration,
}

/// The DER certificates the server presents, leaf first.
pub fn presented_chain(t: &Target) -> Result<Vec<Vec<u8>>, String> {
    let mut sock = match &t.proxy {
        Some((host, port)) => {
            let mut s =
                connect(host, *port, t.timeout).map_err(|e| format!("proxy {host}:{port}: {e}"))?;
            tunnel(&mut s, &t.host, t.port).map_err(|e| format!("proxy {host}:{port}: {e}"))?;
            s
        }
        None => connect(&t.host, t.port, t.timeout)?,
    };
    let capture = Arc::new(Capture {
        provider: provider(),
        chain: Mutex::new(Vec::new()),
    });
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(capture.clone())
        .with_no_client_auth();
    let name = ServerName::try_from(t.host.clone()).map_err(|e| format!("{}: {e}", t.host))?;
    let mut conn = ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    // The socket timeout bounds each read; this bounds the handshake, so a
    // server sending a byte at a time cannot hold us.
    // A timeout too large to add to the clock has no deadline but itself.
    let deadline = Instant::now().checked_add(t.timeout);
    let secs = t.timeout.as_secs();
    let at = format!("{}:{}", t.host, t.port);
    let io_failure = |e: std::io::Error| match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            format!("{at} accepted the connection but gave no TLS answer: timed out after {secs} s")
        }
        ErrorKind::UnexpectedEof => format!("{at} closed the connection during the TLS handshake"),
        ErrorKind::ConnectionReset => format!("{at} reset the connection during the TLS handshake"),
        _ => format!("TLS handshake with {at} failed: {e}"),
    };
    // The I/O is driven here, not by complete_io, so the deadline is
    // checked between every read.
    let failure: String = loop {
        if !conn.is_handshaking() {
            break "the handshake finished without a certificate".into();
        }
        let left = deadline.map_or(t.timeout, |d| d.saturating_duration_since(Instant::now()));
        if left.is_zero() {
            break format!(
                "{at} did not finish its part of the TLS handshake: timed out after {secs} s"
            );
        }
        if conn.wants_write() {
            if let Err(e) = conn.write_tls(&mut sock) {
                break io_failure(e);
            }
            continue;
        }
        let _ = sock.set_read_timeout(Some(left));
        match conn.read_tls(&mut sock) {
            Ok(0) => break format!("{at} closed the connection during the TLS handshake"),
            Ok(_) => {}
            Err(e) => break io_failure(e),
        }
        if let Err(e) = conn.process_new_packets() {
            // Tell the server why we stop (our capture ends it here too).
            let _ = conn.write_tls(&mut sock);
            let text = e.to_string();
            break if text.contains("corrupt message") || text.contains("InvalidContentType") {
                format!("{at} does not speak TLS ({text})")
            } else {
                format!("TLS handshake with {at} failed: {text}")
            };
        }
    };
    let chain = capture.chain.lock().map(|c| c.clone()).unwrap_or_default();
    if chain.is_empty() {
        Err(failure)
    } else {
        Ok(chain)
    }
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("no address for {host}");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// `CONNECT host:port`, and a 2xx answer, through the proxy on `s`.
fn tunnel(s: &mut TcpStream, host: &str, port: u16) -> Result<(), String> {
    write!(
        s,
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(s.try_clone().map_err(|e| e.to_string())?.take(16 * 1024));
    let mut status = String::new();
    reader.read_line(&mut status).map_err(|e| e.to_string())?;
    if !status
        .split_whitespace()
        .nth(1)
        .is_some_and(|c| c.starts_with('2'))
    {
        return Err(format!("CONNECT refused: {}", status.trim()));
    }
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 || line.trim().is_empty() {
            return Ok(());
        }
    }
}

/// The proxy for `host` from HTTPS_PROXY / https_proxy, unless NO_PROXY
/// names it.
pub fn proxy_for(host: &str) -> Option<(String, u16)> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let proxy = var("HTTPS_PROXY").or_else(|| var("https_proxy"))?;
    let no_proxy = var("NO_PROXY")
        .or_else(|| var("no_proxy"))
        .unwrap_or_default();
    let excluded = no_proxy.split(',').map(str::trim).any(|n| {
        n == "*"
            || (!n.is_empty()
                && (host == n.trim_start_matches('.')
                    || host.ends_with(&format!(".{}", n.trim_start_matches('.')))))
    });
    if excluded {
        return None;
    }
    let rest = proxy.split_once("://").map_or(proxy.as_str(), |(_, r)| r);
    let rest = rest
        .rsplit_once('@')
        .map_or(rest, |(_, r)| r)
        .trim_end_matches('/');
    let (h, p) = rest.rsplit_once(':').map_or((rest, "80"), |(h, p)| (h, p));
    Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?))
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

    #[test]
    fn proxies_follow_no_proxy() {
        // SAFETY: tests in this module are the only ones touching these.
        unsafe {
            std::env::set_var("HTTPS_PROXY", "http://user:pw@proxy.corp:3128/");
            std::env::set_var("NO_PROXY", "localhost,.internal");
        }
        assert_eq!(proxy_for("example.com"), Some(("proxy.corp".into(), 3128)));
        assert_eq!(proxy_for("git.internal"), None);
        assert_eq!(proxy_for("localhost"), None);
        unsafe {
            std::env::remove_var("HTTPS_PROXY");
            std::env::remove_var("NO_PROXY");
        }
        assert_eq!(proxy_for("example.com"), None);
    }
}
