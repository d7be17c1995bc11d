//! How long a sync takes on real inputs: this machine's OS bundle and the
//! embedded Mozilla snapshot.
//!
//!     cargo bench --bench sync
//!
//! The OS store is read from `/`; `CABUNDLE_BENCH_ROOT=DIR` reads it under
//! DIR instead (an image's filesystem, or a folder with no store at all). When
//! there is no `/etc/ssl/certs/ca-certificates.crt` under the root, the
//! "system" decode falls back to the embedded snapshot and says so, and the
//! gather and sync benchmarks measure what a machine without an OS store does.
//!
//! `scripts/bench.sh` times the released binary end to end against
//! `update-ca-certificates`; these benchmarks split the work into its stages,
//! and `scale` runs the binary on synthetic stores of 1k, 10k and 100k
//! certificates, printing each run's peak RSS beside divan's times.

use std::path::PathBuf;
use std::sync::LazyLock;

use cabundle::decode;
use cabundle::merge::{self, Policy};
use cabundle::outputs::pem;
use cabundle::sources::{self, Gathered};
use cabundle::state::Paths;
use cabundle::sync::{self, Options};
use divan::counter::{BytesCount, ItemsCount};
use divan::{AllocProfiler, Bencher, black_box};

// Allocation counts are part of the report: most of a sync is building
// small strings.
#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Where the OS to read is mounted.
static ROOT: LazyLock<PathBuf> = LazyLock::new(|| {
    std::env::var_os("CABUNDLE_BENCH_ROOT")
        .filter(|r| !r.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
});

/// The OS bundle's bytes, or `None` when this machine has none.
static SYSTEM: LazyLock<Option<Vec<u8>>> = LazyLock::new(|| {
    let path = sources::os::under(&ROOT, SYSTEM_BUNDLE).ok()?;
    decode::read_bounded(&path).ok()
});

/// Expiry is judged once, so every iteration does the same work.
static NOW: LazyLock<cabundle::date::Timestamp> = LazyLock::new(cabundle::date::now);

/// What the "system" decode reads: the OS bundle, else the snapshot.
fn system_bytes() -> &'static [u8] {
    SYSTEM.as_deref().unwrap_or(sources::mozilla::PEM)
}

fn main() {
    let root = ROOT.display();
    match SYSTEM.as_deref() {
        Some(bytes) => eprintln!(
            "inputs: {} ({} bytes, {} certificates); \
             embedded Mozilla snapshot ({} bytes, {} certificates)",
            ROOT.join(SYSTEM_BUNDLE.trim_start_matches('/')).display(),
            bytes.len(),
            decode::decode(bytes).items.len(),
            sources::mozilla::PEM.len(),
            decode::decode(sources::mozilla::PEM).items.len(),
        ),
        None => eprintln!(
            "note: no OS bundle at {SYSTEM_BUNDLE} under {root}; decode_system decodes the \
             embedded Mozilla snapshot instead, and gather/sync see no OS store"
        ),
    }
    divan::main();
    for line in SCALE_RSS.lock().iter().flat_map(|l| l.iter()) {
        println!("{line}");
    }
}

/// Everything the sources give, as `sync` gathers it (less the user's CAs,
/// of which a benchmark has none).
fn gather() -> Gathered {
    let mut gathered = Gathered::default();
    sources::os::load(&ROOT, &mut gathered);
    // What a sync uses when `cabundle fetch` has cached nothing newer.
    sources::mozilla::Roots::embedded().load(&mut gathered);
    gathered
}

/// The policy of a sync with nothing blocked, as of now.
fn policy() -> Policy {
    Policy {
        at: *NOW,
        blocked: Default::default(),
    }
}

fn count(bytes: &[u8]) -> usize {
    decode::decode(bytes).items.len()
}

/// Decoding `bytes`, counted in bytes and certificates.
fn bench_decode(bencher: Bencher, bytes: &'static [u8]) {
    bencher
        .counter(BytesCount::of_slice(bytes))
        .counter(ItemsCount::new(count(bytes)))
        .bench(|| decode::decode(black_box(bytes)));
}

/// (a) The OS bundle (or the snapshot, when there is none).
#[divan::bench]
fn decode_system(bencher: Bencher) {
    bench_decode(bencher, system_bytes());
}

/// (b) The embedded Mozilla snapshot.
#[divan::bench]
fn decode_mozilla(bencher: Bencher) {
    bench_decode(bencher, sources::mozilla::PEM);
}

/// (c) Gather (OS store from disk + snapshot), merge, render: everything but
/// the user's CAs, the manifest and the writes.
#[divan::bench]
fn gather_merge_render(bencher: Bencher) {
    let policy = policy();
    bencher.bench(|| {
        let entries = merge::merge(gather(), &policy);
        pem::render(&entries)
    });
}

/// The stages of (c) on their own, to see which one a change moved.
#[divan::bench_group]
mod stages {
    use super::*;

    #[divan::bench]
    fn gather(bencher: Bencher) {
        bencher.bench(super::gather);
    }

    #[divan::bench]
    fn merge(bencher: Bencher) {
        let policy = policy();
        bencher
            .counter(ItemsCount::new(super::gather().found.len()))
            .with_inputs(super::gather)
            .bench_local_values(|g| merge::merge(g, &policy));
    }

    #[divan::bench]
    fn render(bencher: Bencher) {
        let entries = merge::merge(super::gather(), &policy());
        bencher
            .counter(ItemsCount::new(entries.len()))
            .bench(|| pem::render(black_box(&entries)));
    }

    /// The password-less PKCS#12 every sync writes beside the bundle.
    #[divan::bench]
    fn render_pkcs12(bencher: Bencher) {
        let entries = merge::merge(super::gather(), &policy());
        let kept: Vec<&cabundle::cert::Cert> = entries
            .iter()
            .filter(|e| e.status == merge::Status::Kept)
            .map(|e| &e.cert)
            .collect();
        bencher.counter(ItemsCount::new(kept.len())).bench(|| {
            let mut out = Vec::new();
            cabundle::outputs::keystore::write_pkcs12_to(black_box(&kept), &mut out)
                .expect("a Vec takes every byte");
            out
        });
    }

    /// Their aliases alone.
    #[divan::bench]
    fn aliases(bencher: Bencher) {
        let entries = merge::merge(super::gather(), &policy());
        let kept: Vec<&cabundle::cert::Cert> = entries.iter().map(|e| &e.cert).collect();
        bencher.bench(|| cabundle::outputs::keystore::aliases(black_box(&kept)));
    }
}

fn sync_options() -> Options {
    Options {
        root: ROOT.clone(),
        macos_export: None,
        macos_trust_settings: None,
        windows: Default::default(),
        at: *NOW,
    }
}

/// (d) A whole sync into a temp folder, two ways. A sync whose bundle and
/// manifest come out byte for byte as they are on disk rewrites neither, so
/// the two differ by the writes and their fsyncs.
#[divan::bench_group(sample_size = 1)]
mod sync_to_tempdir {
    use super::*;

    /// Into a new, empty folder each time: both files written, fsynced and
    /// renamed in, as a first sync or one whose inputs changed.
    #[divan::bench]
    fn fresh(bencher: Bencher) {
        let opts = sync_options();
        bencher
            .with_inputs(|| tempfile::tempdir().expect("a temp folder"))
            .bench_local_values(|home| {
                sync::sync(&Paths::in_one(home.path()), &opts).expect("sync succeeds");
                // Removing the folder is not part of a sync: divan drops the
                // returned value outside the timing.
                home
            });
    }

    /// Into the same folder again: nothing changed, nothing rewritten; the
    /// common case (a shell rc, a Docker step whose inputs did not change).
    #[divan::bench]
    fn unchanged(bencher: Bencher) {
        let home = tempfile::tempdir().expect("a temp folder");
        let paths = Paths::in_one(home.path());
        let opts = sync_options();
        sync::sync(&paths, &opts).expect("sync succeeds");
        bencher.bench(|| sync::sync(&paths, &opts).expect("sync succeeds"));
    }
}

/// (f) `export`: the set read back from a synced bundle (checked against
/// its manifest), and the keystore made from it.
#[divan::bench_group(sample_size = 1)]
mod export {
    use super::*;

    fn synced() -> (tempfile::TempDir, Paths) {
        let home = tempfile::tempdir().expect("a temp folder");
        let paths = Paths::in_one(home.path());
        sync::sync(&paths, &sync_options()).expect("sync succeeds");
        (home, paths)
    }

    #[divan::bench]
    fn read_set(bencher: Bencher) {
        let (_home, paths) = synced();
        bencher.bench(|| cabundle::export::Set::current(&paths).expect("a synced set"));
    }

    #[divan::bench]
    fn make_pkcs12(bencher: Bencher) {
        let (_home, paths) = synced();
        let set = cabundle::export::Set::current(&paths).expect("a synced set");
        let spec = cabundle::export::Export::new(cabundle::export::Format::Pkcs12);
        bencher.bench(|| cabundle::export::make(&set, &spec).expect("made"));
    }
}

#[path = "../examples/synthetic_store.rs"]
mod synthetic_store;

/// (e) Scale: `cabundle sync` (the binary, in a child process, into an empty
/// state folder each run) on a synthetic store of `n` certificates. Divan
/// times it; peak RSS, which divan cannot see in a child, comes from wait4
/// and is printed with the input's size. Targets: 100k in at most 1.5 s, RSS
/// at most 3x the input, 100k at most 12x the time of 10k.
#[divan::bench(args = [1_000, 10_000, 100_000], sample_count = 3, sample_size = 1)]
fn scale(bencher: Bencher, n: usize) {
    let store = tempfile::tempdir().expect("a temp folder");
    synthetic_store::write_store(n, store.path()).expect("the synthetic store is written");
    let input = dir_size(store.path());
    let peak = std::cell::Cell::new(0u64);
    bencher
        .with_inputs(|| tempfile::tempdir().expect("a temp folder"))
        .bench_local_values(|home| {
            peak.set(peak.get().max(sync_peak_rss(home.path(), store.path())));
            home
        });
    if let Ok(mut lines) = SCALE_RSS.lock() {
        lines.push(format!(
            "scale {n:>6}: peak RSS {:6.1} MiB for {:5.1} MiB of input ({:.2}x)",
            peak.get() as f64 / 1048576.0,
            input as f64 / 1048576.0,
            peak.get() as f64 / input as f64
        ));
    }
}

/// What `scale` measured beside divan's times, printed after its table.
static SCALE_RSS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Run `cabundle sync --root ROOT` with its state in HOME; its peak RSS in
/// bytes. The child is reaped by wait4, the one wait that also returns its
/// resource use.
#[allow(clippy::zombie_processes)]
fn sync_peak_rss(home: &std::path::Path, root: &std::path::Path) -> u64 {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_cabundle"))
        .args(["sync", "--root"])
        .arg(root)
        .env("CABUNDLE_HOME", home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cabundle starts");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; both pointers are valid.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid, "wait4 failed");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "cabundle sync failed on the synthetic store"
    );
    // Linux reports ru_maxrss in KiB.
    usage.ru_maxrss as u64 * 1024
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}
