#!/usr/bin/env bash
# Refresh the embedded Mozilla roots: bundles/mozilla-roots.pem, its
# provenance, bundles/mozilla-roots.toml, and the ledger of roots Mozilla has
# removed, bundles/mozilla-removed.toml (scripts/build-removed-ledger.py).
#
#   scripts/update-mozilla-snapshot.sh                 # certifi's cacert.pem, latest on PyPI
#   scripts/update-mozilla-snapshot.sh certifi==VER    # a given certifi
#   scripts/update-mozilla-snapshot.sh FILE            # a certdata.txt (or PEM bundle) you have
#
# Either way the roots go through cabundle's own decoder (`cabundle fetch
# --from FILE`), which keeps only CKT_NSS_TRUSTED_DELEGATOR server-auth
# anchors from a certdata.txt and records distrust-after dates, so the
# provenance says where the trust bits came from.
#
# The ledger only grows: the roots of the snapshot being replaced that the new
# one lacks are added to it, and so is every root some certifi release on PyPI
# carried that the new snapshot lacks. LEDGER_FLAGS=--no-pypi skips PyPI
# (offline, with a certdata.txt you have). Nothing under bundles/ changes
# unless every step succeeded.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
arg=${1:-certifi}

if [ -f "$arg" ]; then
  src=$(realpath "$arg")
  label="$src"
  version="$(basename "$src") $(date -u +%F)"
else
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$arg"
  wheel=$(ls "$work"/certifi-*.whl)
  version=$(basename "$wheel" | sed -E 's/^certifi-([^-]+)-.*/\1/')
  python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("certifi/cacert.pem"))' "$wheel" > "$work/cacert.pem"
  src="$work/cacert.pem"
  label="certifi $version (PyPI), file certifi/cacert.pem, built from Mozilla NSS certdata.txt"
fi

cargo build --quiet --release
CABUNDLE_HOME="$work/home" target/release/cabundle fetch --from "$src"
cache="$work/home/cache"
pem=$(ls "$cache"/mozilla-roots-*.pem)
new="$work/new"
mkdir "$new"
cp "$pem" "$new/mozilla-roots.pem"
# The cached provenance, with a name for the upstream that means something
# outside this machine, and no cache file name.
python3 - "$cache/mozilla-roots.toml" "$label" "$version" > "$new/mozilla-roots.toml" <<'PY'
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))
p["upstream"], p["version"] = sys.argv[2], sys.argv[3]
if "certifi" in sys.argv[2]:
    p["date"] = "-".join(f"{int(x):02d}" for x in sys.argv[3].split(".")[:3])
p.pop("file", None)
print("# Written by scripts/update-mozilla-snapshot.sh; do not edit.")
for k in ["upstream", "format", "version", "date", "upstream_sha256", "sha256", "license"]:
    print(f'{k} = "{p[k]}"')
print(f'count = {p["count"]}')
if p.get("distrust_after"):
    print("\n[distrust_after]")
    for fp, when in sorted(p["distrust_after"].items()):
        print(f'{fp} = "{when}"')
PY

# Extend the removed-roots ledger: the set being replaced is the previous one.
previous=()
if [ -f bundles/mozilla-roots.pem ] && [ -f bundles/mozilla-roots.toml ]; then
  previous_version=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["version"])' bundles/mozilla-roots.toml)
  previous=(--previous bundles/mozilla-roots.pem --previous-version "$previous_version")
fi
# shellcheck disable=SC2086 # LEDGER_FLAGS is a list of flags
python3 scripts/build-removed-ledger.py \
  --snapshot "$new/mozilla-roots.pem" --snapshot-toml "$new/mozilla-roots.toml" \
  --ledger bundles/mozilla-removed.toml --output "$new/mozilla-removed.toml" \
  --cache "$work/certifi" ${previous[@]+"${previous[@]}"} ${LEDGER_FLAGS:-}

cp "$new/mozilla-roots.pem" "$new/mozilla-roots.toml" "$new/mozilla-removed.toml" bundles/
cat bundles/mozilla-roots.toml
