#!/usr/bin/env bash
# Run the test suite on a Debian or Ubuntu machine that has the Rust
# toolchain: install the packages the tests drive (scripts/test-packages.txt;
# as root, and only what is missing), make the one venv with requests,
# httpx, pyyaml, jsonschema and botocore that every Python test uses (target/test-venv,
# made once, reused, given what it lacks), build the wheel the packaging test
# installs, then `cargo test "$@"`.
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t packages < <(sed 's/#.*//' scripts/test-packages.txt | xargs -n1)
if command -v dpkg-query >/dev/null; then
  missing=()
  # An entry PACKAGE:COMMAND counts as there when COMMAND is on PATH, from
  # whatever source (nodesource's nodejs carries npm, and conflicts with
  # Debian's npm package).
  for entry in "${packages[@]}"; do
    p=${entry%%:*}
    cmd=${entry#*:}
    if [ "$cmd" != "$entry" ] && command -v "$cmd" >/dev/null; then continue; fi
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "scripts/test.sh: missing Debian packages: ${missing[*]}" >&2
      echo "install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
    echo "scripts/test.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
else
  echo "scripts/test.sh: no dpkg here; install the equivalents of scripts/test-packages.txt yourself" >&2
fi

# The venv, unless one is given. pip keeps this environment: its proxy and
# CA settings are what let it reach the package index.
if [ -z "${CABUNDLE_TEST_VENV:-}" ]; then
  export CABUNDLE_TEST_VENV="$PWD/target/test-venv"
  ready() { "$CABUNDLE_TEST_VENV/bin/python" -c 'import requests, httpx, certifi, yaml, jsonschema, botocore' 2>/dev/null; }
  if ! ready; then
    # A venv whose python runs is only given what it lacks; a broken one is made anew.
    if ! "$CABUNDLE_TEST_VENV/bin/python" -c '' 2>/dev/null; then
      echo "scripts/test.sh: making $CABUNDLE_TEST_VENV (python3 -m venv)" >&2
      rm -rf "$CABUNDLE_TEST_VENV"
      env -u VIRTUAL_ENV python3 -m venv "$CABUNDLE_TEST_VENV"
    fi
    echo "scripts/test.sh: pip install requests httpx pyyaml jsonschema botocore into $CABUNDLE_TEST_VENV" >&2
    "$CABUNDLE_TEST_VENV/bin/python" -m pip install --quiet --disable-pip-version-check requests httpx pyyaml jsonschema botocore
    ready
  fi
fi

# The wheel tests/cli/wheel.rs installs: a release build (scripts/build-wheel.sh),
# made once per run, unless CABUNDLE_TEST_WHEEL names one already.
if [ -z "${CABUNDLE_TEST_WHEEL:-}" ]; then
  echo "scripts/test.sh: building the wheel (scripts/build-wheel.sh)" >&2
  CABUNDLE_TEST_WHEEL=$(scripts/build-wheel.sh)
  export CABUNDLE_TEST_WHEEL
fi

exec cargo test "$@"
