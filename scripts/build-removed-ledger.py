#!/usr/bin/env python3
"""Build bundles/mozilla-removed.toml: the roots Mozilla has removed.

`cabundle fetch --from OLD_SET` must not quietly re-trust a root Mozilla has
dropped (WoSign, StartCom, CNNIC, TrustCor, ...). This script lists every
root that some certifi release on PyPI carried and the embedded snapshot
(bundles/mozilla-roots.pem) does not, keyed by the SHA-256 of its DER.

    scripts/build-removed-ledger.py                     # read PyPI, merge, write
    scripts/build-removed-ledger.py --cache DIR         # keep the downloads in DIR
    scripts/build-removed-ledger.py --no-pypi \\
        --previous OLD.pem --previous-version VER       # a set change, offline

Sources, merged in this order:
  * every file of every certifi release on PyPI (wheels and sdists, yanked
    ones too: people have them installed), each checked against the SHA-256
    PyPI lists, and its certifi/cacert.pem read (0.0.1 kept it at the top of
    the sdist). A release is the union of its files' roots.
  * with --previous: roots of the snapshot being replaced that the new one
    lacks (removed_in = the new snapshot's version).
  * the existing ledger: an entry once there stays, even when a later run
    would not find it (PyPI files can be deleted). The one exception is a
    root that is back in the snapshot: it is dropped, loudly, since fetch
    would otherwise refuse the very set we ship.

Python 3.11 standard library only. The output depends only on PyPI's files,
the snapshot and the previous ledger: no dates, no paths, sorted keys.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
PEM_RE = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n(.*?)-----END CERTIFICATE-----", re.S)
VERSION_RE = re.compile(r"^(\d+(?:\.\d+)*)(?:\.post(\d+))?$")


def die(msg: str) -> None:
    print(f"build-removed-ledger: {msg}", file=sys.stderr)
    sys.exit(1)


def say(msg: str) -> None:
    print(msg, file=sys.stderr)


# ---------------------------------------------------------------- versions

def version_key(v: str) -> tuple:
    """PEP 440 order for the forms certifi has used (N(.N)*, .postN).

    Anything else stops the run rather than being ordered by guess."""
    m = VERSION_RE.match(v)
    if not m:
        die(f"certifi version {v!r} is not a form this script knows how to order")
    release = [int(x) for x in m.group(1).split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    post = int(m.group(2)) if m.group(2) is not None else -1
    return (tuple(release), post)


# --------------------------------------------------------------------- DER

def der_tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at pos."""
    if pos + 2 > len(buf):
        raise ValueError("truncated DER")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise ValueError("high tag numbers are not expected here")
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > len(buf):
            raise ValueError("bad DER length")
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    if pos + n > len(buf):
        raise ValueError("DER length past the end")
    return tag, pos, pos + n


def der_children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        t = der_tlv(buf, start)
        out.append(t)
        start = t[2]
    return out


def oid_text(b: bytes) -> str:
    arcs, v = [], 0
    for byte in b:
        v = (v << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(v)
            v = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(x) for x in [first, arcs[0] - 40 * first] + arcs[1:])


ATTR = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST",
    "2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.5": "serialNumber",
    "2.5.4.17": "postalCode", "2.5.4.97": "organizationIdentifier",
    "1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.25": "DC",
}


def der_string(tag: int, b: bytes) -> str:
    if tag == 0x1E:  # BMPString
        return b.decode("utf-16-be", "replace")
    if tag == 0x1C:  # UniversalString
        return b.decode("utf-32-be", "replace")
    if tag == 0x14:  # TeletexString: in practice Latin-1
        return b.decode("latin-1")
    return b.decode("utf-8", "replace")


def subject_of(der: bytes) -> list[tuple[str, str]]:
    """The subject's attributes in DER order, as (short name, value)."""
    _, s, e = der_tlv(der, 0)
    if e != len(der):
        raise ValueError("trailing bytes after the certificate")
    tbs = der_children(der, *der_tlv(der, s)[1:])
    i = 1 if tbs[0][0] == 0xA0 else 0  # [0] version
    # serial, signature algorithm, issuer, validity, subject
    _, ns, ne = tbs[i + 4]
    out = []
    for _, rs, re_ in der_children(der, ns, ne):  # RDN sets
        for _, as_, ae in der_children(der, rs, re_):  # AttributeTypeAndValue
            (_, os_, oe), (vt, vs, ve) = der_children(der, as_, ae)[:2]
            oid = oid_text(der[os_:oe])
            out.append((ATTR.get(oid, oid), der_string(vt, der[vs:ve])))
    return out


def subject_text(attrs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{k}={v}" for k, v in attrs)


# --------------------------------------------------------------------- PEM

def unescape_label(s: str) -> str:
    """certifi writes labels with Python escapes: F\\u0151tan\\xfas\\xedtv\\xe1ny."""
    def rep(m: re.Match) -> str:
        return chr(int(m.group(1) or m.group(2), 16))
    return re.sub(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})", rep, s)


def read_pem(data: bytes, what: str) -> dict[str, dict]:
    """Roots of a PEM bundle: {sha256: {"der", "label"}}.

    The label is certifi's `# Label: "..."` line, or, in curl's older layout
    (certifi 0.0.x), the name underlined with `===` above the block."""
    roots = {}
    last_end = 0
    for m in PEM_RE.finditer(data):
        before = data[last_end:m.start()].decode("utf-8", "replace").splitlines()
        last_end = m.end()
        label = None
        for i, line in enumerate(before):
            lm = re.match(r'#\s*Label:\s*"(.*)"\s*$', line)
            if lm:
                label = unescape_label(lm.group(1))
            elif re.fullmatch(r"=+", line.strip()) and i > 0 and before[i - 1].strip():
                label = before[i - 1].strip()
        try:
            der = base64.b64decode(b"".join(m.group(1).split()), validate=True)
            attrs = subject_of(der)
        except (ValueError, IndexError) as e:
            die(f"{what}: a certificate that does not parse ({e})")
        sha = hashlib.sha256(der).hexdigest()
        roots[sha] = {"der": der, "label": label, "subject": attrs}
    if not roots:
        die(f"{what}: no certificates")
    return roots


def name_of(root: dict) -> str:
    if root.get("label"):
        return root["label"]
    attrs = dict(root["subject"])
    for k in ("CN", "OU", "O"):
        if attrs.get(k):
            return attrs[k]
    return subject_text(root["subject"])


# -------------------------------------------------------------------- PyPI

def fetch(url: str, tries: int = 3) -> bytes:
    for attempt in range(tries):
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "cabundle-build-removed-ledger"})
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.read()
        except OSError as e:
            if attempt == tries - 1:
                die(f"{url}: {e}")
            time.sleep(2 * (attempt + 1))
    raise AssertionError


def cacert_from(name: str, blob: bytes) -> bytes | None:
    """certifi/cacert.pem out of a wheel or sdist (0.0.1: cacert.pem at the top)."""
    if name.endswith(".whl") or name.endswith(".zip"):
        z = zipfile.ZipFile(io.BytesIO(blob))
        names = z.namelist()
        get = z.read
    elif name.endswith((".tar.gz", ".tgz", ".tar.bz2")):
        t = tarfile.open(fileobj=io.BytesIO(blob))
        members = {m.name: m for m in t.getmembers() if m.isfile()}
        names = list(members)
        get = lambda n: t.extractfile(members[n]).read()  # noqa: E731
    else:
        return None
    for want in ("certifi/cacert.pem", "cacert.pem"):
        # In an sdist everything sits under certifi-VERSION/.
        hits = sorted(n for n in names if n == want or re.fullmatch(r"[^/]+/" + re.escape(want), n))
        if hits:
            return get(hits[0])
    return None


def certifi_history(index: str, cache: Path) -> tuple[list[tuple[str, dict]], int]:
    """[(version, {sha: root})] in version order, and how many files were read."""
    url = urljoin(index.rstrip("/") + "/", "pypi/certifi/json")
    meta = json.loads(fetch(url))
    history, nfiles = [], 0
    for version in sorted(meta["releases"], key=version_key):
        files = sorted(meta["releases"][version], key=lambda f: f["filename"])
        roots: dict[str, dict] = {}
        per_file = []
        for f in files:
            name = f["filename"]
            if "/" in name or name.startswith("."):
                die(f"odd file name on PyPI: {name!r}")
            want = f["digests"]["sha256"].lower()
            path = cache / name
            blob = path.read_bytes() if path.exists() else None
            if blob is None or hashlib.sha256(blob).hexdigest() != want:
                blob = fetch(urljoin(url, f["url"]))
                got = hashlib.sha256(blob).hexdigest()
                if got != want:
                    die(f"{name}: SHA-256 is {got}, PyPI lists {want}")
                path.write_bytes(blob)
            pem = cacert_from(name, blob)
            if pem is None:
                say(f"  {name}: no cacert.pem in it; skipped")
                continue
            nfiles += 1
            got = read_pem(pem, name)
            per_file.append((name, set(got)))
            for sha, r in got.items():
                roots.setdefault(sha, r)
        if not roots:
            if files:
                say(f"  certifi {version}: no cacert.pem in any file; skipped")
            continue
        if len({frozenset(s) for _, s in per_file}) > 1:
            say(f"  certifi {version}: files differ ({', '.join(n for n, _ in per_file)}); using their union")
        history.append((version, roots))
    if not history:
        die("no certifi release with a cacert.pem on PyPI")
    return history, nfiles


# ------------------------------------------------------------------ ledger

def toml_str(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


FIELDS = ("name", "subject", "first_seen", "last_seen", "removed_in")

HEADER = """\
# Roots Mozilla's server-auth set once carried and no longer does. `cabundle
# fetch` refuses a set holding one of them unless the user names it.
# Written by scripts/build-removed-ledger.py (run by update-mozilla-snapshot.sh
# at each set change); do not edit. It only grows: an entry stays even when a
# later run would not find it, unless the root is back in the snapshot.
#
# Built from certifi/cacert.pem of every certifi release on PyPI (wheels and
# sdists, each checked against PyPI's SHA-256) and, at each set change, the
# snapshot being replaced; compared with bundles/mozilla-roots.pem, whose
# SHA-256 is snapshot_sha256. [removed] is keyed by the SHA-256 of the root's
# DER (lowercase hex); each value is a table of strings: name (certifi's label,
# else the CN), subject (DER order), first_seen and last_seen (the first and
# last certifi release that carried it; for a root only the replaced snapshot
# had, both are that snapshot's version) and removed_in (the first release, or
# snapshot version, without it).
"""


def write_ledger(path: Path, top: dict, entries: dict[str, dict]) -> None:
    lines = [HEADER]
    for k in ("source", "built_from", "snapshot", "snapshot_sha256"):
        lines.append(f"{k} = {toml_str(top[k])}\n")
    lines.append(f"count = {len(entries)}\n\n[removed]\n")
    for sha in sorted(entries):
        e = entries[sha]
        body = ", ".join(f"{k} = {toml_str(e[k])}" for k in FIELDS)
        lines.append(f"{sha} = {{ {body} }}\n")
    text = "".join(lines)
    # What we write must read back as what we meant.
    back = tomllib.loads(text)["removed"]
    assert back == {s: {k: entries[s][k] for k in FIELDS} for s in entries}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--snapshot", type=Path, default=ROOT / "bundles/mozilla-roots.pem")
    ap.add_argument("--snapshot-toml", type=Path, default=None,
                    help="its provenance (default: mozilla-roots.toml beside --snapshot)")
    ap.add_argument("--ledger", type=Path, default=ROOT / "bundles/mozilla-removed.toml",
                    help="the existing ledger to extend (a missing one is an empty one)")
    ap.add_argument("--output", type=Path, default=None, help="default: --ledger")
    ap.add_argument("--previous", type=Path, help="the snapshot PEM being replaced")
    ap.add_argument("--previous-version", help="its version (from its mozilla-roots.toml)")
    ap.add_argument("--no-pypi", action="store_true", help="do not read certifi's releases")
    ap.add_argument("--index", default="https://pypi.org/", help="PyPI's base URL")
    ap.add_argument("--cache", type=Path, help="keep downloads here (default: a temp dir)")
    a = ap.parse_args()
    if (a.previous is None) != (a.previous_version is None):
        die("--previous and --previous-version go together")
    toml_path = a.snapshot_toml or a.snapshot.with_name("mozilla-roots.toml")
    snap_version = tomllib.loads(toml_path.read_text(encoding="utf-8"))["version"]
    snap_bytes = a.snapshot.read_bytes()
    snapshot = read_pem(snap_bytes, str(a.snapshot))
    say(f"snapshot {snap_version}: {len(snapshot)} roots")

    old: dict = {}
    if a.ledger.exists():
        old = tomllib.loads(a.ledger.read_text(encoding="utf-8"))
    entries: dict[str, dict] = {s: dict(e) for s, e in old.get("removed", {}).items()}
    kept = set(entries)
    found: dict[str, dict] = {}
    built_from = old.get("built_from", "nothing yet")

    if not a.no_pypi:
        with tempfile.TemporaryDirectory() as tmp:
            cache = a.cache or Path(tmp)
            cache.mkdir(parents=True, exist_ok=True)
            history, nfiles = certifi_history(a.index, cache)
        versions = [v for v, _ in history]
        built_from = (f"certifi {versions[0]} to {versions[-1]} on PyPI "
                      f"({len(versions)} releases, {nfiles} files)")
        say(built_from)
        carried: dict[str, list[int]] = {}
        for i, (_, roots) in enumerate(history):
            for sha in roots:
                carried.setdefault(sha, []).append(i)
        readded = []
        for sha, idx in sorted(carried.items()):
            gaps = [(idx[j] + 1, idx[j + 1]) for j in range(len(idx) - 1) if idx[j + 1] != idx[j] + 1]
            if gaps:
                root = history[idx[-1]][1][sha]
                gone = ", ".join(f"{versions[g0]}..{versions[g1 - 1]}" for g0, g1 in gaps)
                readded.append(f"  {sha[:16]} {name_of(root)}: absent in {gone}; "
                               f"{'in' if sha in snapshot else 'not in'} the snapshot")
            if sha in snapshot:
                continue
            last = idx[-1]
            root = history[last][1][sha]
            found[sha] = {
                "name": name_of(root),
                "subject": subject_text(root["subject"]),
                "first_seen": versions[idx[0]],
                "last_seen": versions[last],
                # Still in the newest certifi yet not in the snapshot: the
                # snapshot (a newer certdata.txt) is what dropped it.
                "removed_in": versions[last + 1] if last + 1 < len(versions) else snap_version,
            }
        if readded:
            say(f"removed from certifi and later back ({len(readded)}):")
            for line in readded:
                say(line)

    if a.previous is not None:
        prev = read_pem(a.previous.read_bytes(), str(a.previous))
        for sha, root in prev.items():
            if sha in snapshot or sha in found or sha in entries:
                continue
            found[sha] = {
                "name": name_of(root),
                "subject": subject_text(root["subject"]),
                "first_seen": a.previous_version,
                "last_seen": a.previous_version,
                "removed_in": snap_version,
            }
        say(f"snapshot {a.previous_version} -> {snap_version}: "
            f"{sum(1 for s in prev if s not in snapshot)} roots gone")

    # Fresh findings describe a root better than an old entry (its history
    # may have grown); entries no run finds any more are kept as they were.
    entries.update(found)
    back = sorted(s for s in entries if s in snapshot)
    for sha in back:
        say(f"WARNING: {sha} ({entries[sha]['name']}) is in the snapshot again: "
            f"dropped from the ledger")
        del entries[sha]
    added = sorted(set(entries) - kept)
    for sha in entries:
        if not re.fullmatch(r"[0-9a-f]{64}", sha):
            die(f"ledger key {sha!r} is not a lowercase SHA-256")
        for k in FIELDS:
            if not isinstance(entries[sha].get(k), str):
                die(f"ledger entry {sha}: {k} missing")
        entries[sha] = {k: entries[sha][k] for k in FIELDS}

    top = {
        "source": "certifi/cacert.pem of each certifi release on PyPI, and the replaced "
                  "snapshot at each set change, against bundles/mozilla-roots.pem",
        "built_from": built_from,
        "snapshot": snap_version,
        "snapshot_sha256": hashlib.sha256(snap_bytes).hexdigest(),
    }
    out = a.output or a.ledger
    write_ledger(out, top, entries)
    say(f"{out}: {len(entries)} removed roots ({len(added)} new, "
        f"{len(back)} dropped as back in the snapshot)")


if __name__ == "__main__":
    main()
