//! Write a synthetic Debian-shaped OS store of N certificates, for scale
//! benchmarks: `cargo run --release --example synthetic_store -- N DIR`.
//! Then `cabundle sync --root DIR`. EC keys, one shared key pair, so 100k
//! certificates take seconds; nothing large is committed. They go into
//! drop-in files of 1000 each (a single 62 MB file would be over cabundle's
//! 10 MiB per-file cap).

use std::fs;
use std::io::Write;
use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SerialNumber};
use time::{Duration, OffsetDateTime};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(n), Some(dir)) = (
        args.next().and_then(|n| n.parse::<usize>().ok()),
        args.next(),
    ) else {
        eprintln!("usage: synthetic_store N DIR");
        std::process::exit(2);
    };
    let root = Path::new(&dir);
    let drop = root.join("usr/local/share/ca-certificates");
    fs::create_dir_all(root.join("etc/ssl/certs")).unwrap();
    fs::create_dir_all(&drop).unwrap();
    fs::write(root.join("etc/ssl/certs/ca-certificates.crt"), "").unwrap();
    fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Synthetic store\"\nID=debian\n",
    )
    .unwrap();
    let key = KeyPair::generate().unwrap();
    let now = OffsetDateTime::now_utc();
    let mut out: std::io::BufWriter<Box<dyn Write>> =
        std::io::BufWriter::new(Box::new(std::io::sink()));
    for i in 0..n {
        if i % 1000 == 0 {
            out.flush().unwrap();
            let file =
                fs::File::create(drop.join(format!("synthetic-{:04}.crt", i / 1000))).unwrap();
            out = std::io::BufWriter::new(Box::new(file));
        }
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
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
        out.write_all(p.self_signed(&key).unwrap().pem().as_bytes())
            .unwrap();
    }
    out.flush().unwrap();
}
