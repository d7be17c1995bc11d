//! Write a synthetic Debian-shaped OS store of N certificates, for scale
//! benchmarks: `cargo run --release --example synthetic_store -- N DIR`.
//! Then `cabundle sync --root DIR`. EC keys, one shared key pair, so 100k
//! certificates take seconds; nothing large is committed. They go into
//! drop-in files of 1000 each (a single 62 MB file would be over cabundle's
//! 10 MiB per-file cap). `benches/sync.rs` uses [`write_store`] too.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SerialNumber};
use time::{Duration, OffsetDateTime};

#[allow(dead_code)] // when included by the benchmark, which has its own main
fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(n), Some(dir)) = (
        args.next().and_then(|n| n.parse::<usize>().ok()),
        args.next(),
    ) else {
        eprintln!("usage: synthetic_store N DIR");
        std::process::exit(2);
    };
    if let Err(e) = write_store(n, Path::new(&dir)) {
        eprintln!("synthetic_store: {dir}: {e}");
        std::process::exit(1);
    }
}

/// A store of `n` CA certificates under `root`, a tenth of them expired.
pub fn write_store(n: usize, root: &Path) -> io::Result<()> {
    let drop = root.join("usr/local/share/ca-certificates");
    fs::create_dir_all(root.join("etc/ssl/certs"))?;
    fs::create_dir_all(&drop)?;
    fs::write(root.join("etc/ssl/certs/ca-certificates.crt"), "")?;
    fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Synthetic store\"\nID=debian\n",
    )?;
    let key = KeyPair::generate().map_err(io::Error::other)?;
    let now = OffsetDateTime::now_utc();
    let mut out: io::BufWriter<Box<dyn Write>> = io::BufWriter::new(Box::new(io::sink()));
    for i in 0..n {
        if i % 1000 == 0 {
            out.flush()?;
            let file = fs::File::create(drop.join(format!("synthetic-{:04}.crt", i / 1000)))?;
            out = io::BufWriter::new(Box::new(file));
        }
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
        p.distinguished_name
            .push(DnType::CommonName, format!("Synthetic Root {i:06}"));
        p.distinguished_name
            .push(DnType::OrganizationName, "cabundle scale test");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.serial_number = Some(SerialNumber::from((i as u64 + 1).to_be_bytes().to_vec()));
        p.not_before = now - Duration::days(30);
        // A tenth of them already expired, as in real stores, so pruning is exercised.
        p.not_after = if i % 10 == 0 {
            now - Duration::days(1)
        } else {
            now + Duration::days(3650)
        };
        let cert = p.self_signed(&key).map_err(io::Error::other)?;
        out.write_all(cert.pem().as_bytes())?;
    }
    out.flush()
}
