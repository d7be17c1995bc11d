#!/usr/bin/env bash
# scripts/deb-test.sh [DEB]: install the Debian package (default: the
# newest target/debian/cabundle_*.deb, from scripts/build-deb.sh) into a
# throwaway Debian bookworm root and check it there: dpkg -i, the man
# pages, the completions, `cabundle sync`, the update-ca-certificates hook
# (a new drop-in reaches cabundle's bundle; a broken cabundle state does not
# fail the updater; timings), install --system with the hook, dpkg -r
# keeping /etc/cabundle and dpkg -P removing it.
#
# NOT part of the offline test suite (scripts/test.sh, cargo test): it
# needs root (chroot, a private mount namespace) and the network
# (mmdebstrap downloads bookworm from MIRROR, default deb.debian.org), and
# takes a minute or two. Nothing is installed on this machine but
# mmdebstrap (if missing): the package goes into a root made with
# `mmdebstrap --variant=minbase --include=ca-certificates,man-db`, used
# with chroot inside `unshare -m` (its /proc mount is private), and
# deleted after.
#
# Prints "ok"/"FAIL" per check, timings and sizes as "info", and ends with
# "N passed, M failed"; exits 1 when any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "deb-test: needs root (chroot, unshare -m)" >&2
    exit 1
fi
deb=${1:-$(ls -t target/debian/cabundle_*.deb 2>/dev/null | head -n 1)}
if [ ! -f "$deb" ]; then
    echo "deb-test: no package: run scripts/build-deb.sh, or name one" >&2
    exit 1
fi
if ! command -v mmdebstrap >/dev/null; then
    apt-get update -qq && apt-get install -y -qq mmdebstrap
fi
mirror=${MIRROR:-http://deb.debian.org/debian}

work=$(mktemp -d /var/tmp/cabundle-deb-test.XXXXXX)
trap 'rm -rf --one-file-system "$work"' EXIT
echo "info - package: $deb, $(stat -c %s "$deb") bytes"
start=$(date +%s)
mmdebstrap --quiet --variant=minbase --include=ca-certificates,man-db \
    bookworm "$work/root" "$mirror" </dev/null
echo "info - mmdebstrap bookworm minbase: $(($(date +%s) - start)) s"
cp "$deb" "$work/root/tmp/cabundle.deb"

# The checks, run inside the root.
cat >"$work/root/tmp/checks.sh" <<'CHECKS'
#!/bin/bash
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 MANPAGER=cat MANWIDTH=80
unset CABUNDLE_HOME
cd /tmp || exit 1
passed=0 failed=0
check() { # DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   - $what"
    else
        failed=$((failed + 1))
        echo "FAIL - $what"
    fi
}
info() { echo "info - $*"; }
# The output of the last `run`: out, err, its exit status: rc.
run() {
    "$@" >/tmp/out 2>/tmp/err
    rc=$?
}
indent() { sed 's/^/       | /' "$@"; }
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
# The median time of COMMAND over 11 runs, in ms (stdin /dev/null).
median_ms() {
    local t
    for _ in $(seq 11); do
        t=$(date +%s%N)
        "$@" </dev/null >/dev/null 2>&1
        ms "$t"
    done | sort -n | sed -n 6p
}
sha256_of() { openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/.*=//; s/://g' | tr A-F a-f; }
in_bundle() { cabundle list --json 2>/dev/null | grep -q "\"sha256\": \"$1\""; }
export -f in_bundle # for the checks made with bash -c
make_ca() { # CN FILE
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
        -subj "/CN=$1" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout /dev/null -out "$2" 2>/dev/null
}
hook=/etc/ca-certificates/update.d/cabundle

# --- install
run dpkg -i /tmp/cabundle.deb
check "dpkg -i works" test "$rc" = 0
[ "$rc" = 0 ] || indent /tmp/out /tmp/err
check "cabundle runs: $(cabundle --version)" test -x /usr/bin/cabundle
check "the postinst leaves a machine where root never ran cabundle alone" test ! -e /etc/cabundle
check "the hook is installed, executable, a conffile" \
    bash -c "test -x $hook && grep -qx $hook /var/lib/dpkg/info/cabundle.conffiles"

# --- man pages
pages=$(ls /usr/share/man/man1/cabundle*.1.gz | wc -l)
check "$pages man pages, one per command" test "$pages" -ge 20
check "man -w cabundle-sync finds the installed page" \
    test "$(man -w cabundle-sync)" = /usr/share/man/man1/cabundle-sync.1.gz
run man cabundle-sync
check "man cabundle-sync renders (NAME, SYNOPSIS, OPTIONS, EXAMPLES)" \
    bash -c '[ '"$rc"' = 0 ] && grep -q "^NAME" /tmp/out && grep -Eq "cabundle +sync +\[" /tmp/out &&
             grep -q -- "--offline" /tmp/out && grep -q "^EXAMPLES" /tmp/out && [ ! -s /tmp/err ]'
head -n 12 /tmp/out | indent
indent /tmp/err
bad_pages=0
for page in /usr/share/man/man1/cabundle*.1.gz; do
    # groff's "cannot adjust line" (a line it could not justify: fetch's
    # long default URL) is no fault.
    if ! man -l "$page" >/dev/null 2>/tmp/err || grep -qv "cannot adjust line" /tmp/err; then
        bad_pages=$((bad_pages + 1))
        echo "$page:" | indent
        indent /tmp/err
    fi
done
check "every page renders with man -l, no troff error" test "$bad_pages" = 0

# --- completions
check "bash completion completes 'cabundle sy' to sync" bash -c '
    source /usr/share/bash-completion/completions/cabundle
    COMP_WORDS=(cabundle sy) COMP_CWORD=1 COMP_LINE="cabundle sy" COMP_POINT=11
    _cabundle cabundle sy cabundle
    [ "${COMPREPLY[*]}" = sync ]'
check "zsh completion in vendor-completions (#compdef cabundle)" \
    grep -qx "#compdef cabundle" /usr/share/zsh/vendor-completions/_cabundle
check "fish completion in vendor_completions.d" \
    grep -q "^complete -c cabundle" /usr/share/fish/vendor_completions.d/cabundle.fish
check "README in /usr/share/doc/cabundle" test -s /usr/share/doc/cabundle/README.md.gz

# --- the hook, before and after cabundle's state exists
run update-ca-certificates
check "update-ca-certificates, no /etc/cabundle: exit 0, nothing from cabundle, /etc/cabundle not made" \
    bash -c "[ $rc = 0 ] && ! grep -q cabundle /tmp/err && [ ! -e /etc/cabundle ]"
run cabundle sync
check "cabundle sync as root makes /etc/cabundle/ca-bundle.pem" \
    bash -c "[ $rc = 0 ] && [ -s /etc/cabundle/ca-bundle.pem ]"
indent /tmp/err | head -n 3
info "the system bundle: $(grep -c 'BEGIN CERTIFICATE' /etc/cabundle/ca-bundle.pem) certificates"

make_ca "cabundle deb-test drop-in" /usr/local/share/ca-certificates/deb-test.crt
dropin=$(sha256_of /usr/local/share/ca-certificates/deb-test.crt)
check "the new drop-in is not in cabundle's bundle yet" bash -c "! in_bundle $dropin"
run update-ca-certificates
check "update-ca-certificates with a new drop-in: exit 0, 1 added, no E: line, nothing from cabundle" \
    bash -c "[ $rc = 0 ] && grep -q '1 added' /tmp/out && ! grep -q cabundle /tmp/err && ! grep -q '^E:' /tmp/out"
indent /tmp/out /tmp/err
check "the drop-in is in /etc/cabundle/ca-bundle.pem, through the hook" in_bundle "$dropin"

# Timings: the hook alone (a sync that changes nothing), the updater with
# and without it (run-parts skips a hook that is not executable).
info "the hook alone: $(median_ms "$hook") ms; cabundle sync alone: $(median_ms cabundle sync) ms (medians of 11)"
# Alternately, so a change in the machine's load falls on both.
: >/tmp/with
: >/tmp/without
for _ in $(seq 11); do
    t=$(date +%s%N)
    update-ca-certificates >/dev/null 2>&1
    ms "$t" >>/tmp/with
    chmod -x "$hook"
    t=$(date +%s%N)
    update-ca-certificates >/dev/null 2>&1
    ms "$t" >>/tmp/without
    chmod +x "$hook"
done
with=$(sort -n /tmp/with | sed -n 6p)
without=$(sort -n /tmp/without | sed -n 6p)
info "update-ca-certificates: $with ms with the hook, $without ms without (medians of 11, alternated)"

rm /usr/local/share/ca-certificates/deb-test.crt
run update-ca-certificates
check "drop-in removed + update-ca-certificates: it leaves cabundle's bundle" \
    bash -c "[ $rc = 0 ] && ! grep -q cabundle /tmp/err && ! in_bundle $dropin"

# --- a broken cabundle state
cp /etc/cabundle/ca-bundle.pem /tmp/bundle-before
echo "this is = = not toml" >/etc/cabundle/config.toml
make_ca "cabundle deb-test while broken" /usr/local/share/ca-certificates/deb-test-2.crt
run update-ca-certificates
check "broken config.toml: update-ca-certificates still exits 0, no E: line" \
    bash -c "[ $rc = 0 ] && ! grep -q '^E:' /tmp/out"
check "... the OS store is updated (1 added)" grep -q "1 added" /tmp/out
check "... cabundle's error is on stderr" \
    bash -c "grep -q 'cabundle: error:.*config.toml' /tmp/err && grep -q 'cabundle sync. failed (exit 1)' /tmp/err"
indent /tmp/err
check "... and the bundle is as it was" cmp -s /tmp/bundle-before /etc/cabundle/ca-bundle.pem
rm /etc/cabundle/config.toml /usr/local/share/ca-certificates/deb-test-2.crt
run update-ca-certificates
check "state mended: nothing from cabundle on update-ca-certificates again" bash -c "[ $rc = 0 ] && ! grep -q cabundle /tmp/err"

# --- install --system runs the updater, whose hook syncs: the lock is free by then
make_ca "cabundle deb-test corp" /tmp/corp.pem
corp=$(sha256_of /tmp/corp.pem)
run cabundle add /tmp/corp.pem
check "cabundle add corp.pem" test "$rc" = 0
t=$(date +%s%N)
run cabundle install --system
took=$(ms "$t")
check "cabundle install --system: exit 0 in ${took} ms, the hook's sync not waiting for the lock" \
    bash -c "[ $rc = 0 ] && [ $took -lt 10000 ] && ! grep -q 'cabundle: error' /tmp/err"
indent /tmp/out /tmp/err
check "... and the bundle's manifest now names the OS store's copy" \
    grep -q "usr/local/share/ca-certificates/cabundle-corp.crt" /etc/cabundle/manifest.json
check "... corp is in the bundle" in_bundle "$corp"

# --- upgrade (the same version again): the postinst re-syncs, quietly
run dpkg -i /tmp/cabundle.deb
check "dpkg -i over the installed package: exit 0, nothing on stderr" bash -c "[ $rc = 0 ] && [ ! -s /tmp/err ]"

# --- root's schedule, as systemd units (systemd does not run here: a
# stand-in systemctl, and the timer enabled by hand, as systemctl would)
printf '#!/bin/sh\nexit 0\n' >/usr/local/bin/systemctl
chmod +x /usr/local/bin/systemctl
units=/etc/systemd/system
run cabundle schedule enable
mkdir -p $units/timers.target.wants
ln -s $units/cabundle-refresh.timer $units/timers.target.wants/
check "cabundle schedule enable writes cabundle-refresh.timer and .service" \
    bash -c "[ $rc = 0 ] && [ -f $units/cabundle-refresh.timer ] && [ -f $units/cabundle-refresh.service ]"
indent /tmp/out /tmp/err

# --- remove, then purge
mkdir -p /var/cache/cabundle && touch /var/cache/cabundle/stand-in-fetched-set
run dpkg -r cabundle
check "dpkg -r: exit 0" test "$rc" = 0
check "... /etc/cabundle stays, with the bundle and added CAs" \
    bash -c "[ -s /etc/cabundle/ca-bundle.pem ] && [ -d /etc/cabundle/cas ] && [ -d /var/cache/cabundle ]"
check "... the binary is gone, the hook (a conffile) stays" bash -c "[ ! -e /usr/bin/cabundle ] && [ -x $hook ]"
check "... the schedule's units stay" test -f $units/cabundle-refresh.timer
run update-ca-certificates
check "... update-ca-certificates: exit 0, the hook silent without its binary" \
    bash -c "[ $rc = 0 ] && ! grep -q cabundle /tmp/err && ! grep -q '^E:' /tmp/out"
run dpkg -P cabundle
check "dpkg -P: exit 0" test "$rc" = 0
check "... /etc/cabundle and /var/cache/cabundle are gone, and the hook" \
    bash -c "[ ! -e /etc/cabundle ] && [ ! -e /var/cache/cabundle ] && [ ! -e $hook ]"
check "... it says what install --system left in the OS store" \
    grep -q "still in the OS store: /usr/local/share/ca-certificates/cabundle-corp.crt" /tmp/err
indent /tmp/err
check "... the schedule's timer, service and wants link are gone" \
    bash -c "[ ! -e $units/cabundle-refresh.timer ] && [ ! -e $units/cabundle-refresh.service ] &&
             [ ! -L $units/timers.target.wants/cabundle-refresh.timer ]"
check "... dpkg forgets the package" bash -c "! dpkg -s cabundle >/dev/null 2>&1"

# --- again, with the schedule in /etc/cron.d (no systemctl), purged at once
rm /usr/local/bin/systemctl
mkdir -p /etc/cron.d
echo "# not cabundle's" >/etc/cron.d/cabundle-other
run dpkg -i /tmp/cabundle.deb
check "dpkg -i again" test "$rc" = 0
cabundle sync 2>/dev/null
run cabundle schedule enable
check "cabundle schedule enable writes /etc/cron.d/cabundle" bash -c "[ $rc = 0 ] && [ -f /etc/cron.d/cabundle ]"
indent /etc/cron.d/cabundle
run dpkg -P cabundle
check "dpkg -P: exit 0, /etc/cabundle and /etc/cron.d/cabundle gone, another cron file kept" \
    bash -c "[ $rc = 0 ] && [ ! -e /etc/cabundle ] && [ ! -e /etc/cron.d/cabundle ] && [ -f /etc/cron.d/cabundle-other ]"
indent /tmp/err

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
CHECKS

unshare --mount --propagation private -- sh -c '
    mount -t proc proc "$1/proc" &&
    exec chroot "$1" /bin/bash /tmp/checks.sh' sh "$work/root"
