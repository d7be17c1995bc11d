#!/usr/bin/env bash
# Refresh the embedded Mozilla roots (bundles/mozilla-roots.pem) from PyPI's
# certifi, which ships Mozilla's server-auth roots as cacert.pem, built from
# Mozilla's certdata.txt. Writes bundles/mozilla-roots.toml with where the
# file came from. Usage: scripts/update-mozilla-snapshot.sh [CERTIFI_VERSION]
set -euo pipefail
cd "$(dirname "$0")/.."

spec=certifi${1:+==$1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$spec"
wheel=$(ls "$work"/certifi-*.whl)
python3 - "$wheel" <<'PY'
import hashlib, re, sys, zipfile

wheel = sys.argv[1]
version = re.search(r"certifi-([^-]+)-", wheel).group(1)
with zipfile.ZipFile(wheel) as z:
    pem = z.read("certifi/cacert.pem")
count = pem.count(b"-----BEGIN CERTIFICATE-----")
if count < 100:
    sys.exit(f"certifi {version}: only {count} certificates in cacert.pem; refusing")
# certifi's versions are release dates: 2026.05.20.
date = "-".join(f"{int(p):02d}" for p in version.split(".")[:3])
with open("bundles/mozilla-roots.pem", "wb") as f:
    f.write(pem)
with open("bundles/mozilla-roots.toml", "w") as f:
    f.write(f'''# Written by scripts/update-mozilla-snapshot.sh; do not edit.
upstream = "Mozilla NSS certdata.txt (server-auth trust anchors)"
package = "certifi {version} (PyPI), file certifi/cacert.pem"
version = "{version}"
date = "{date}"
sha256 = "{hashlib.sha256(pem).hexdigest()}"
count = {count}
license = "MPL-2.0"
''')
print(f"certifi {version}: {count} certificates, sha256 {hashlib.sha256(pem).hexdigest()}")
PY
