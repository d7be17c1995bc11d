#!/usr/bin/env bash
# Build the Python wheel (maturin, "bin" bindings: the release binary and
# nothing else) into target/wheels/, and print its path on stdout.
#
#   scripts/build-wheel.sh            # the wheel
#   scripts/build-wheel.sh --sdist    # and the source distribution
#
# maturin comes from PATH, else from a venv of its own made once under
# target/maturin-venv ($MATURIN_VENV names another). The wheel is tagged
# for the glibc this machine's build needs (maturin's `auto`): for PyPI,
# build it in a manylinux container (ghcr.io/pyo3/maturin) instead.
set -euo pipefail
cd "$(dirname "$0")/.."

sdist=()
case "${1:-}" in
  --sdist) sdist=(--sdist) ;;
  "") ;;
  *) echo "usage: scripts/build-wheel.sh [--sdist]" >&2; exit 2 ;;
esac

maturin=$(command -v maturin || true)
if [ -z "$maturin" ]; then
  venv=${MATURIN_VENV:-$PWD/target/maturin-venv}
  maturin=$venv/bin/maturin
  if ! "$maturin" --version >/dev/null 2>&1; then
    echo "scripts/build-wheel.sh: making $venv with maturin (python3 -m venv, pip)" >&2
    rm -rf "$venv"
    env -u VIRTUAL_ENV python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'maturin>=1.5,<2'
  fi
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
out=target/wheels
# Only this version's wheels go: an older one left there could be the one
# a test installs.
rm -f "$out"/cabundle-"$version"-*.whl
"$maturin" build --release --locked --out "$out" "${sdist[@]}" >&2
wheels=("$out"/cabundle-"$version"-*.whl)
if [ ${#wheels[@]} -ne 1 ] || [ ! -f "${wheels[0]}" ]; then
  echo "scripts/build-wheel.sh: expected one wheel for $version in $out, found: ${wheels[*]}" >&2
  exit 1
fi
echo "$PWD/${wheels[0]}"
