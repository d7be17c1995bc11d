#!/usr/bin/env bash
# Build the Debian package, target/debian/cabundle_VERSION-1_ARCH.deb: the
# release binary, a man page per command, bash, zsh and fish completions,
# the README, and the update-ca-certificates hook with the maintainer
# scripts of debian/. Package metadata: [package.metadata.deb] in
# Cargo.toml. scripts/deb-test.sh installs the result in a Debian root.
#
# The man pages (examples/man_pages.rs, clap_mangen) and completions
# (`cabundle completions SHELL`) are made here, into target/assets/, so the
# binary carries no man page generator. SOURCE_DATE_EPOCH (default: the
# last commit's time) dates the pages and the archive.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
    echo "build-deb: installing cargo-deb (crates.io)" >&2
    cargo install --locked cargo-deb
fi

export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
day=$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)
target="${CARGO_TARGET_DIR:-target}"
assets=target/assets # where Cargo.toml's assets say

cargo build --release --locked

rm -rf "$assets"
mkdir -p "$assets/completions"
# A debug build of the example: it needs the dev-dependencies, which the
# test builds have made already.
cargo run --quiet --locked --example man_pages -- "$assets/man" "$day"
bin="$target/release/cabundle"
"$bin" completions bash >"$assets/completions/cabundle.bash"
"$bin" completions zsh >"$assets/completions/_cabundle"
"$bin" completions fish >"$assets/completions/cabundle.fish"
gzip -9n <README.md >"$assets/README.md.gz"

# cargo deb prints the package's path last.
deb=$(cargo deb --no-build --locked --output target/debian/ | tail -n 1)
echo "build-deb: $deb, $(stat -c %s "$deb") bytes"
dpkg-deb --contents "$deb" | awk '{print $1, $3, $6}'
