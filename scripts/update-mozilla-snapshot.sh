#!/usr/bin/env bash
# Refresh the embedded Mozilla roots: bundles/mozilla-roots.pem and its
# provenance, bundles/mozilla-roots.toml.
#
#   scripts/update-mozilla-snapshot.sh                 # certifi's cacert.pem, latest on PyPI
#   scripts/update-mozilla-snapshot.sh certifi==VER    # a given certifi
#   scripts/update-mozilla-snapshot.sh FILE            # a certdata.txt (or PEM bundle) you have
#
# Either way the roots go through cabundle's own decoder (`cabundle fetch
# --from FILE`), which keeps only CKT_NSS_TRUSTED_DELEGATOR server-auth
# anchors from a certdata.txt and records distrust-after dates, so the
# provenance says where the trust bits came from.
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
cp "$pem" bundles/mozilla-roots.pem
# The cached provenance, with a name for the upstream that means something
# outside this machine, and no cache file name.
python3 - "$cache/mozilla-roots.toml" "$label" "$version" > bundles/mozilla-roots.toml <<'PY'
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
cat bundles/mozilla-roots.toml
