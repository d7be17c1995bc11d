#!/usr/bin/env bash
# Run the cargo-fuzz targets, seeded from the repository's own files.
#   scripts/fuzz.sh [TARGET] [SECONDS]   (default: every target, 600 s each)
set -euo pipefail
cd "$(dirname "$0")/.."
targets=${1:-"pem der trusted certdata"}
secs=${2:-600}
export RUSTC_BOOTSTRAP=1
seed() {
  local dir=fuzz/corpus/$1; mkdir -p "$dir"
  case $1 in
    pem) cp bundles/mozilla-roots.pem tests/data/bad/*.pem "$dir"/ ;;
    der|trusted) for f in tests/data/bad/*.der; do cp "$f" "$dir"/; done
                 python3 - "$dir" <<'PY'
import base64, re, sys
pem = open("bundles/mozilla-roots.pem").read()
for i, b in enumerate(re.findall(r"-----BEGIN CERTIFICATE-----\n(.*?)-----END", pem, re.S)[:20]):
    open(f"{sys.argv[1]}/root{i}.der", "wb").write(base64.b64decode(b))
PY
                 ;;
    certdata) head -c 200000 tests/data/certdata-debian-20230311.txt > "$dir"/head.txt
              cp tests/data/bad/certdata-*.txt "$dir"/ ;;
  esac
}
for t in $targets; do
  seed "$t"
  echo "== $t for ${secs}s"
  cargo fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144
done
