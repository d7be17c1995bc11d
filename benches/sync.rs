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
//! `update-ca-certificates`; these benchmarks split the work into its stages.

use std::path::PathBuf;
use std::sync::LazyLock;

use cabundle::bundle::{self, Policy};
use cabundle::decode;
use cabundle::sources::{self, Gathered};
use cabundle::store::Paths;
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
    let path = sources::os::under(&ROOT, SYSTEM_BUNDLE);
    decode::read_bounded(&path).ok()
});

/// Expiry is judged once, so every iteration does the same work.
static NOW: LazyLock<i64> = LazyLock::new(cabundle::date::now);

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
            sources::os::under(&ROOT, SYSTEM_BUNDLE).display(),
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
        ..Policy::default()
    }
}

fn count(bytes: &[u8]) -> usize {
    decode::decode(bytes).items.len()
}

/// (a) The OS bundle (or the snapshot, when there is none).
#[divan::bench]
fn decode_system(bencher: Bencher) {
    let bytes = system_bytes();
    bencher
        .counter(BytesCount::of_slice(bytes))
        .counter(ItemsCount::new(count(bytes)))
        .bench(|| decode::decode(black_box(bytes)));
}

/// (b) The embedded Mozilla snapshot.
#[divan::bench]
fn decode_mozilla(bencher: Bencher) {
    let bytes = sources::mozilla::PEM;
    bencher
        .counter(BytesCount::of_slice(bytes))
        .counter(ItemsCount::new(count(bytes)))
        .bench(|| decode::decode(black_box(bytes)));
}

/// (c) Gather (OS store from disk + snapshot), merge, render: everything but
/// the user's CAs, the manifest and the writes.
#[divan::bench]
fn gather_merge_render(bencher: Bencher) {
    let policy = policy();
    bencher.bench(|| {
        let entries = bundle::merge(gather(), &policy);
        bundle::render(&entries)
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
            .bench_local_values(|g| bundle::merge(g, &policy));
    }

    #[divan::bench]
    fn render(bencher: Bencher) {
        let entries = bundle::merge(super::gather(), &policy());
        bencher
            .counter(ItemsCount::new(entries.len()))
            .bench(|| bundle::render(black_box(&entries)));
    }
}

fn sync_options() -> Options {
    Options {
        root: ROOT.clone(),
        macos_export: None,
        macos_trust_settings: None,
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
