#!/usr/bin/env bash
# Time the released binary end to end, on this machine's real inputs:
#
#   cabundle sync                    (state in a temp CABUNDLE_HOME)   target: < 10 ms median
#     - unchanged: re-run in a synced home, so nothing is rewritten (no write, no fsync)
#     - fresh: from an empty home each run, both files written and fsynced
#     - fresh on tmpfs: the same without fsync cost (a diagnostic)
#   cabundle env                                                       target: <  3 ms median
#   update-ca-certificates --fresh   (Debian's updater, every output redirected to scratch)
#   cabundle export --format pkcs12  against trust extract --format=java-cacerts   target: >= 5x
#   cabundle install --java, 3 JVMs  against Debian's Java hook, 1 cacerts (root)  target: >= 5x
#   cabundle clients, ten tools on PATH                                              target: < 300 ms median
#
# and print the medians and the ratios update-ca-certificates / cabundle sync.
# Both read the same certificates: cabundle reads /etc/ssl/certs/ca-certificates.crt,
# /usr/local/share/ca-certificates and /etc/ca-certificates.conf plus its embedded
# Mozilla snapshot; update-ca-certificates reads the files that conf names under
# /usr/share/ca-certificates and the same /usr/local/share/ca-certificates.
#
# Nothing outside the scratch folder is written: update-ca-certificates writes only
# into --etccertsdir (symlinks, hash links from `openssl rehash`, the bundle and its
# .new temp), into $TMPDIR (its two mktemp lists) and runs the hooks in --hooksdir;
# all three point into scratch, and it only reads --certsconf, --certsdir and
# --localcertsdir. The script checks afterwards that /etc/ssl/certs,
# /etc/ca-certificates.conf and /etc/ca-certificates/ are unchanged, and fails if not.
#
# Usage: scripts/bench.sh
#   RUNS=50 WARMUP=5          runs and warmup runs for cabundle sync / env
#   UCC_RUNS=10 UCC_WARMUP=2  the same for update-ca-certificates (it is much slower)
#   SCALE=0                   skip the synthetic-store scale runs
#
# Needs hyperfine (Debian/Ubuntu: apt-get install -y hyperfine; or: cargo install hyperfine).
set -euo pipefail

cd "$(dirname "$0")/.."

RUNS=${RUNS:-50}
WARMUP=${WARMUP:-5}
UCC_RUNS=${UCC_RUNS:-10}
UCC_WARMUP=${UCC_WARMUP:-2}

die() {
    echo "bench.sh: $*" >&2
    exit 1
}

command -v hyperfine >/dev/null 2>&1 ||
    die "hyperfine is not installed; install it with 'apt-get install -y hyperfine' (Debian/Ubuntu) or 'cargo install hyperfine'"

UCC=$(command -v update-ca-certificates || true)
if [ -z "$UCC" ] && [ -x /usr/sbin/update-ca-certificates ]; then
    UCC=/usr/sbin/update-ca-certificates
fi
CERTSCONF=/etc/ca-certificates.conf
CERTSDIR=/usr/share/ca-certificates
LOCALCERTSDIR=/usr/local/share/ca-certificates
SYSTEM_BUNDLE=/etc/ssl/certs/ca-certificates.crt

echo "== building the release binary"
cargo build --release
BIN="${CARGO_TARGET_DIR:-target}/release/cabundle"
[ -x "$BIN" ] || die "no binary at $BIN after cargo build --release"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cabundle-bench.XXXXXX")
SHM=
cleanup() {
    rm -rf "$SCRATCH"
    if [ -n "$SHM" ]; then rm -rf "$SHM"; fi
}
trap cleanup EXIT

# hyperfine -N splits its command line like a shell: quote every path.
q() { printf '%q' "$1"; }

# Median in seconds, from a hyperfine CSV export (command,mean,stddev,median,...).
median() { awk -F, 'NR == 2 { print $4 }' "$1"; }

# What the system's trust configuration looks like: names, types, link targets,
# sizes, times and modes, plus the bundle's content.
etc_state() {
    {
        find /etc/ssl/certs /etc/ca-certificates.conf /etc/ca-certificates \
            -printf '%p|%y|%l|%s|%T@|%C@|%m\n' 2>/dev/null | LC_ALL=C sort || true
        if [ -f "$SYSTEM_BUNDLE" ]; then sha256sum "$SYSTEM_BUNDLE"; fi
    } | sha256sum | cut -d' ' -f1
}

echo
echo "== inputs"
if [ -f "$SYSTEM_BUNDLE" ]; then
    echo "$SYSTEM_BUNDLE: $(grep -c -- '-----BEGIN CERTIFICATE-----' "$SYSTEM_BUNDLE") certificates"
else
    echo "$SYSTEM_BUNDLE: absent (cabundle uses its embedded Mozilla snapshot alone)"
fi
echo "scratch: $SCRATCH ($(df -T "$SCRATCH" | awk 'NR == 2 { print $2 }'))"
# Other work on the machine (a parallel cargo build) moves these numbers a lot:
# the load average is printed before and after so a reader can tell.
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')
echo "load average: $LOAD_BEFORE"

# --- cabundle ---------------------------------------------------------------
export CABUNDLE_HOME="$SCRATCH/home"
mkdir -p "$CABUNDLE_HOME"
# One sync first: it shows what the timed runs do, and env then finds a bundle.
"$BIN" sync
echo "cabundle bundle: $(grep -c -- '-----BEGIN CERTIFICATE-----' "$CABUNDLE_HOME/ca-bundle.pem") certificates"

# A sync whose bundle and manifest come out as they already are rewrites
# neither (no write, no fsync): that is the repeated sync below. A first sync,
# or one whose inputs changed, writes and fsyncs both: the "fresh" runs start
# each time from an empty CABUNDLE_HOME.
echo
echo "== cabundle sync, unchanged (CABUNDLE_HOME=$CABUNDLE_HOME, synced already)"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
    --command-name "cabundle sync" --export-csv "$SCRATCH/sync.csv" \
    "$(q "$BIN") sync"

FRESH="$SCRATCH/fresh-home"
echo
echo "== cabundle sync, fresh (CABUNDLE_HOME=$FRESH, emptied before each run)"
CABUNDLE_HOME="$FRESH" hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
    --prepare "rm -rf $(q "$FRESH")" \
    --command-name "cabundle sync (fresh)" --export-csv "$SCRATCH/sync-fresh.csv" \
    "$(q "$BIN") sync"

echo
echo "== cabundle env"
hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
    --command-name "cabundle env" --export-csv "$SCRATCH/env.csv" \
    "$(q "$BIN") env"

SYNC=$(median "$SCRATCH/sync.csv")
FRESH_SYNC=$(median "$SCRATCH/sync-fresh.csv")
ENV=$(median "$SCRATCH/env.csv")

# The fresh sync again with its state on tmpfs, where fsync costs nothing: the
# gap to the fresh run above is what the disk's fsyncs cost (a diagnostic).
SHM_SYNC=
if [ -d /dev/shm ] && [ -w /dev/shm ] && [ "$(df -T /dev/shm | awk 'NR == 2 { print $2 }')" = tmpfs ]; then
    SHM=$(mktemp -d /dev/shm/cabundle-bench.XXXXXX)
    echo
    echo "== cabundle sync, fresh, state on tmpfs (CABUNDLE_HOME=$SHM/home; no fsync cost)"
    CABUNDLE_HOME="$SHM/home" hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
        --prepare "rm -rf $(q "$SHM/home")" \
        --command-name "cabundle sync (fresh on tmpfs)" --export-csv "$SCRATCH/sync-shm.csv" \
        "$(q "$BIN") sync"
    SHM_SYNC=$(median "$SCRATCH/sync-shm.csv")
fi

# --- update-ca-certificates ---------------------------------------------------
UCC_MEDIAN=
if [ -z "$UCC" ]; then
    echo
    echo "note: update-ca-certificates not found (Debian package ca-certificates); no comparison"
elif [ ! -s "$CERTSCONF" ]; then
    echo
    echo "note: $CERTSCONF is missing or empty; update-ca-certificates would install nothing, no comparison"
else
    U="$SCRATCH/ucc"
    # certs: what --etccertsdir gets (symlinks, hash links, the bundle);
    # hooks: empty, so no hook (the jks-keystore one writes /etc/ssl/certs/java)
    # runs; tmp: its two mktemp lists.
    mkdir -p "$U/certs" "$U/hooks" "$U/tmp"
    cp "$CERTSCONF" "$U/ca-certificates.conf"
    UCC_CMD="$(q "$UCC") --fresh --certsconf $(q "$U/ca-certificates.conf")"
    UCC_CMD+=" --certsdir $(q "$CERTSDIR") --localcertsdir $(q "$LOCALCERTSDIR")"
    UCC_CMD+=" --etccertsdir $(q "$U/certs") --hooksdir $(q "$U/hooks")"

    before=$(etc_state)
    echo
    echo "== update-ca-certificates --fresh (everything it writes under $U)"
    echo "$UCC_CMD"
    TMPDIR="$U/tmp" hyperfine -N --warmup "$UCC_WARMUP" --runs "$UCC_RUNS" \
        --command-name "update-ca-certificates --fresh" --export-csv "$SCRATCH/ucc.csv" \
        "$UCC_CMD"
    after=$(etc_state)

    [ "$before" = "$after" ] ||
        die "/etc/ssl/certs or /etc/ca-certificates* changed during the benchmark ($before -> $after)"
    echo "checked: /etc/ssl/certs, /etc/ca-certificates.conf and /etc/ca-certificates/ unchanged"
    if [ -n "$(ls -A "$U/tmp")" ]; then
        echo "note: update-ca-certificates left files in its TMPDIR: $(ls -A "$U/tmp")"
    fi
    echo "update-ca-certificates bundle: $(grep -c -- '-----BEGIN CERTIFICATE-----' "$U/certs/ca-certificates.crt") certificates," \
        "$(find "$U/certs" -type l | wc -l) links"
    UCC_MEDIAN=$(median "$SCRATCH/ucc.csv")
fi

# --- p11-kit trust extract -----------------------------------------------------
TRUST_MEDIAN=
if command -v trust >/dev/null 2>&1; then
    echo
    echo "== p11-kit trust extract (the system's p11-kit trust module, output into scratch)"
    TRUST_CMD="trust extract --overwrite --format=pem-bundle --filter=ca-anchors --purpose=server-auth $(q "$SCRATCH/trust.pem")"
    hyperfine -N --warmup "$WARMUP" --runs "$UCC_RUNS" \
        --command-name "trust extract" --export-csv "$SCRATCH/trust.csv" "$TRUST_CMD"
    echo "trust extract bundle: $(grep -c -- '-----BEGIN CERTIFICATE-----' "$SCRATCH/trust.pem") certificates"
    TRUST_MEDIAN=$(median "$SCRATCH/trust.csv")
else
    echo
    echo "note: p11-kit's trust not found (apt-get install -y p11-kit p11-kit-modules); no comparison"
fi

# --- Java keystores -----------------------------------------------------------
# cabundle export --format pkcs12 against p11-kit's java-cacerts extract, and
# cabundle install --java into three JVM-shaped folders against Debian's Java
# hook (ca-certificates-java's jar, as update-ca-certificates runs it)
# rebuilding one cacerts from the same certificates. The hook writes
# /etc/ssl/certs/java/cacerts, so it runs in a private mount namespace with a
# scratch folder bound over that one (root only); nothing else is written.
EXPORT_MEDIAN=
JAVA_TRUST_MEDIAN=
if command -v trust >/dev/null 2>&1; then
    echo
    echo "== cabundle export --format pkcs12 and trust extract --format=java-cacerts"
    hyperfine -N --warmup "$WARMUP" --runs "$RUNS" \
        --prepare "rm -f $(q "$SCRATCH/export.p12")" \
        --command-name "cabundle export --format pkcs12" --export-csv "$SCRATCH/export.csv" \
        "$(q "$BIN") export --format pkcs12 -o $(q "$SCRATCH/export.p12")"
    hyperfine -N --warmup "$UCC_WARMUP" --runs "$UCC_RUNS" \
        --command-name "trust extract --format=java-cacerts" --export-csv "$SCRATCH/java-trust.csv" \
        "trust extract --overwrite --format=java-cacerts --filter=ca-anchors --purpose=server-auth $(q "$SCRATCH/java-cacerts")"
    EXPORT_MEDIAN=$(median "$SCRATCH/export.csv")
    JAVA_TRUST_MEDIAN=$(median "$SCRATCH/java-trust.csv")
fi
JAR=/usr/share/ca-certificates-java/ca-certificates-java.jar
HOOK_MEDIAN=
INSTALL_MEDIAN=
if [ "$(id -u)" = 0 ] && [ -f "$JAR" ] && command -v java >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 &&
    [ -d /etc/ssl/certs/java ] && [ -f /etc/ssl/certs/java/cacerts ]; then
    J="$SCRATCH/java"
    mkdir -p "$J/etc-java" "$J/jvms"
    # The hook's input: every certificate update-ca-certificates links, as
    # "+PATH" lines (what it pipes into the hook on --fresh).
    find /etc/ssl/certs -maxdepth 1 -name '*.pem' | LC_ALL=C sort | sed 's/^/+/' > "$J/list"
    HOOK_CMD="unshare -m sh -c $(q "mount --bind $J/etc-java /etc/ssl/certs/java && exec java -Xmx64m -jar $JAR -storepass changeit < $J/list > /dev/null")"
    echo
    echo "== Debian's Java hook: ca-certificates-java rebuilding one cacerts ($(wc -l < "$J/list") certificates)"
    hyperfine -N --warmup "$UCC_WARMUP" --runs "$UCC_RUNS" \
        --prepare "rm -f $(q "$J/etc-java/cacerts")" \
        --command-name "ca-certificates-java (fresh cacerts)" --export-csv "$SCRATCH/hook.csv" "$HOOK_CMD"
    [ -s "$J/etc-java/cacerts" ] || die "the Java hook wrote no cacerts"
    # Three JVMs, each with a copy of the system's JKS cacerts; each run
    # starts from the originals and no record, so every run is a full install.
    for n in 1 2 3; do mkdir -p "$J/jvms/jvm$n/bin" "$J/jvms/jvm$n/lib/security"; done
    RESET="$J/reset.sh"
    {
        echo "rm -rf $(q "$CABUNDLE_HOME/java.json") $(q "$CABUNDLE_HOME/java-originals")"
        for n in 1 2 3; do echo "cp /etc/ssl/certs/java/cacerts $(q "$J/jvms/jvm$n/lib/security/cacerts")"; done
    } > "$RESET"
    echo
    echo "== cabundle install --java, three JVMs (JKS cacerts, from the originals each run)"
    hyperfine -N --warmup "$UCC_WARMUP" --runs "$RUNS" \
        --prepare "sh $(q "$RESET")" \
        --command-name "cabundle install --java (3 JVMs)" --export-csv "$SCRATCH/install-java.csv" \
        "$(q "$BIN") install --java --java-home $(q "$J/jvms/jvm1") --java-home $(q "$J/jvms/jvm2") --java-home $(q "$J/jvms/jvm3")"
    HOOK_MEDIAN=$(median "$SCRATCH/hook.csv")
    INSTALL_MEDIAN=$(median "$SCRATCH/install-java.csv")
else
    echo
    echo "note: Debian's Java hook comparison needs root, unshare, java and ca-certificates-java; skipped"
fi

# --- clients --------------------------------------------------------------------
# `cabundle clients` with ten tools present: a scratch HOME and a PATH of
# links to this machine's programs (those that are here). It exits 1 while
# tools do not use the bundle, so hyperfine is told to ignore the status.
CLIENTS_MEDIAN=
CB="$SCRATCH/clients-bin"
mkdir -p "$CB" "$SCRATCH/clients-home"
for t in git curl npm node python3 pip3 java aws gcloud cargo conda; do
    if p=$(command -v "$t" 2>/dev/null); then ln -sf "$p" "$CB/$t"; fi
done
CLIENTS_TOOLS=$(ls "$CB" | wc -l)
echo
echo "== cabundle clients ($CLIENTS_TOOLS programs on PATH: $(ls "$CB" | tr '\n' ' '))"
hyperfine -N -i --warmup 2 --runs 15 \
    --command-name "cabundle clients ($CLIENTS_TOOLS tools)" --export-csv "$SCRATCH/clients.csv" \
    "$(command -v env) HOME=$(q "$SCRATCH/clients-home") PATH=$(q "$CB") $(q "$BIN") clients"
CLIENTS_MEDIAN=$(median "$SCRATCH/clients.csv")

# --- scale --------------------------------------------------------------------
# Synthetic stores of EC certificates (a tenth expired), made here and not
# kept: wall time and peak RSS of one sync each, against the input's size.
SCALE_ROWS=()
if [ "${SCALE:-1}" = 1 ]; then
    echo
    echo "== scale: synthetic stores (examples/synthetic_store)"
    cargo build --release --example synthetic_store
    GEN="${CARGO_TARGET_DIR:-target}/release/examples/synthetic_store"
    for n in 1000 10000 100000; do
        store="$SCRATCH/store-$n"
        "$GEN" "$n" "$store"
        bytes=$(du -sb "$store" | cut -f1)
        best=
        for _ in 1 2 3; do
            rm -rf "$SCRATCH/scale-home"
            /usr/bin/time -o "$SCRATCH/time.txt" -f '%e %M' env CABUNDLE_HOME="$SCRATCH/scale-home" "$BIN" sync --root "$store" 2>/dev/null
            out=$(tail -1 "$SCRATCH/time.txt")
            if [ -z "$best" ] || awk -v a="${out% *}" -v b="${best% *}" 'BEGIN { exit !(a < b) }'; then best=$out; fi
        done
        wall=${best% *}
        rss_kb=${best#* }
        # The same with the state on tmpfs: the hashed folder is one file per
        # certificate, and on a slow disk creating them is most of the time.
        shm_best=
        if [ -n "${SHM:-}" ]; then
            for _ in 1 2 3; do
                rm -rf "$SHM/scale-home"
                /usr/bin/time -o "$SCRATCH/time.txt" -f '%e' env CABUNDLE_HOME="$SHM/scale-home" "$BIN" sync --root "$store" 2>/dev/null
                t=$(tail -1 "$SCRATCH/time.txt")
                if [ -z "$shm_best" ] || awk -v a="$t" -v b="$shm_best" 'BEGIN { exit !(a < b) }'; then shm_best=$t; fi
            done
            rm -rf "$SHM/scale-home"
        fi
        SCALE_ROWS+=("$(awk -v n="$n" -v w="$wall" -v r="$rss_kb" -v b="$bytes" -v t="${shm_best:-0}" \
            'BEGIN { printf "%-8d %8.2f s %9.1f MiB %9.1f MiB %6.2fx %10.2f s", n, w, r / 1024, b / 1048576, r * 1024 / b, t }')")
        rm -rf "$store" "$SCRATCH/scale-home"
    done
fi

# --- summary ------------------------------------------------------------------
# One line per benchmark from its CSV: median and fastest wall time, and the
# mean CPU time (user + system), which other load on the machine moves least.
row() { # CSV NAME NOTE
    awk -F, -v name="$2" -v note="$3" 'NR == 2 {
        printf "%-32s %10.2f %10.2f %10.2f   %s\n", name, $4 * 1000, $7 * 1000, ($5 + $6) * 1000, note
    }' "$1"
}
verdict() { # CSV TARGET_MS
    awk -F, -v t="$2" 'NR == 2 { print ($4 * 1000 < t) ? "met" : "MISSED" }' "$1"
}
echo
echo "== summary, ms ($(nproc) cores; load average $LOAD_BEFORE before, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?') after)"
printf '%-32s %10s %10s %10s\n' "" median fastest cpu
row "$SCRATCH/sync.csv" "cabundle sync (unchanged)" "target < 10 ms median: $(verdict "$SCRATCH/sync.csv" 10)"
row "$SCRATCH/sync-fresh.csv" "cabundle sync (fresh)" "writes and syncs the bundle, manifest and hashed folder (a file per certificate): $(verdict "$SCRATCH/sync-fresh.csv" 10) for < 10 ms"
row "$SCRATCH/env.csv" "cabundle env" "target < 3 ms median: $(verdict "$SCRATCH/env.csv" 3)"
if [ -n "$SHM_SYNC" ]; then
    row "$SCRATCH/sync-shm.csv" "cabundle sync (fresh on tmpfs)" "diagnostic: state on tmpfs, fsync free"
fi
if [ -n "$UCC_MEDIAN" ]; then
    row "$SCRATCH/ucc.csv" "update-ca-certificates --fresh" ""
    awk -v u="$UCC_MEDIAN" -v s="$SYNC" \
        'BEGIN { printf "ratio of medians, update-ca-certificates / cabundle sync: %.1fx (target 200x)\n", u / s }'
    awk -v u="$UCC_MEDIAN" -v s="$FRESH_SYNC" \
        'BEGIN { printf "ratio of medians, update-ca-certificates / cabundle sync (fresh): %.1fx\n", u / s }'
fi
if [ -n "$TRUST_MEDIAN" ]; then
    row "$SCRATCH/trust.csv" "p11-kit trust extract" ""
    awk -v u="$TRUST_MEDIAN" -v s="$SYNC" \
        'BEGIN { printf "ratio of medians, trust extract / cabundle sync: %.1fx (target 5x)\n", u / s }'
fi
if [ -n "$EXPORT_MEDIAN" ]; then
    row "$SCRATCH/export.csv" "cabundle export --format pkcs12" ""
    row "$SCRATCH/java-trust.csv" "trust extract java-cacerts" ""
    awk -v u="$JAVA_TRUST_MEDIAN" -v s="$EXPORT_MEDIAN" \
        'BEGIN { printf "ratio of medians, trust extract java-cacerts / cabundle export pkcs12: %.1fx (target 5x)\n", u / s }'
fi
if [ -n "$CLIENTS_MEDIAN" ]; then
    row "$SCRATCH/clients.csv" "cabundle clients ($CLIENTS_TOOLS tools)" "target < 300 ms median: $(verdict "$SCRATCH/clients.csv" 300)"
fi
if [ -n "$HOOK_MEDIAN" ]; then
    row "$SCRATCH/install-java.csv" "cabundle install --java (3 JVMs)" ""
    row "$SCRATCH/hook.csv" "ca-certificates-java (1 cacerts)" ""
    awk -v u="$HOOK_MEDIAN" -v s="$INSTALL_MEDIAN" \
        'BEGIN { printf "ratio of medians, Debian Java hook (1 cacerts) / cabundle install --java (3 JVMs): %.1fx (target 5x)\n", u / s }'
fi
if [ ${#SCALE_ROWS[@]} -gt 0 ]; then
    echo
    echo "scale    wall (best of 3)  peak RSS     input     RSS/input  on tmpfs  (targets: 100k <= 1.5 s, RSS <= 3x, 100k/10k <= 12x)"
    printf '%s\n' "${SCALE_ROWS[@]}"
fi
echo "binary: $(stat -c %s "$BIN") bytes stripped; $(cargo tree -e normal --prefix none 2>/dev/null | sort -u | wc -l) crates in the dependency tree"
