#!/usr/bin/env bash
# Run the test suite. The integration tests drive the real binary against
# openssl, python3 + requests and bash; fail early and clearly without them.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v openssl >/dev/null || missing+=(openssl)
command -v bash >/dev/null || missing+=(bash)
python3 -c 'import requests' 2>/dev/null || missing+=("python3 with requests")
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test.sh: missing: ${missing[*]} (see .ci/run for how CI installs them)" >&2
  exit 1
fi
exec cargo test "$@"
