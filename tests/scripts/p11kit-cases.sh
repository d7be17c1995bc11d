#!/usr/bin/env bash
# Build p11-kit trust source folders with one case of each kind p11-kit
# distinguishes. $1: work folder; writes $1/etc and $1/usr (two source
# folders, as /etc/pki/ca-trust/source and /usr/share/pki/ca-trust-source)
# and $1/stricter.txt: the certificates cabundle leaves out on purpose
# although p11-kit extracts them.
set -euo pipefail
cd "$1"
mkdir -p keys etc/anchors/sub etc/blocklist etc/blacklist usr/anchors usr/blocklist
root() { # root NAME [openssl req args...]: a self-signed CA, keys/NAME.{pem,key}
  local n=$1; shift
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
    -keyout keys/$n.key -out keys/$n.pem -subj "/CN=oracle $n" \
    -addext basicConstraints=critical,CA:TRUE "$@" 2>/dev/null
}
samekey() { # samekey NEW OLD SERIAL: a second certificate for OLD's key
  openssl req -x509 -key keys/$2.key -days 300 -out keys/$1.pem -subj "/CN=oracle $1" \
    -addext basicConstraints=critical,CA:TRUE -set_serial $3 2>/dev/null
}
trusted() { # trusted NAME OUT [x509 args...]
  local n=$1 out=$2; shift 2
  openssl x509 -in keys/$n.pem -trustout "$@" -out "$out"
}
pubkey() { openssl x509 -in keys/$1.pem -pubkey -noout; }
enc() { python3 -c 'import sys; print("".join("%%%02x" % b for b in sys.stdin.buffer.read()))'; }

root plain;        cp keys/plain.pem etc/anchors/plain.pem
root der;          openssl x509 -in keys/der.pem -outform der -out usr/anchors/der.cer
root unspec;       cp keys/unspec.pem etc/unspecified.pem
root unspec2;      cp keys/unspec2.pem etc/unspecified2.pem; cp keys/unspec2.pem usr/anchors/
root rejected;     trusted rejected etc/rejected.pem -addreject serverAuth; cp keys/rejected.pem etc/anchors/
root distrusted
printf '[p11-kit-object-v1]\nclass: certificate\nx-distrusted: true\n%s\n' "$(cat keys/distrusted.pem)" > etc/distrusted.p11-kit
cp keys/distrusted.pem usr/anchors/
root tlsonly;      trusted tlsonly etc/tlsonly.pem -addtrust serverAuth
root clientonly;   trusted clientonly etc/clientonly.pem -addtrust clientAuth
samekey clientonly2 clientonly 7; cp keys/clientonly2.pem etc/anchors/
root aliasonly;    trusted aliasonly etc/aliasonly.pem -setalias "just an alias"
root tlsnotclient; trusted tlsnotclient etc/tlsnotclient.pem -addtrust serverAuth -addreject clientAuth
root tlsboth;      trusted tlsboth etc/tlsboth.pem -addtrust serverAuth -addreject serverAuth
root anyeku;       trusted anyeku etc/anyeku.pem -addtrust anyExtendedKeyUsage
root p11trusted
printf '[p11-kit-object-v1]\nclass: certificate\ntrusted: true\nlabel: "p11 trusted"\n%s\n' "$(cat keys/p11trusted.pem)" > usr/p11trusted.p11-kit
root keyobject;    cp keys/keyobject.pem etc/anchors/
printf '[p11-kit-object-v1]\nclass: public-key\nx-distrusted: true\n%s\n' "$(pubkey keyobject)" > etc/keyobject.p11-kit
root keyblock;     cp keys/keyblock.pem etc/anchors/; pubkey keyblock > etc/blocklist/keyblock.pub
root legacy;       cp keys/legacy.pem etc/anchors/; cp keys/legacy.pem etc/blacklist/
root blockedkey;   cp keys/blockedkey.pem etc/blocklist/; samekey blockedkey2 blockedkey 9; cp keys/blockedkey2.pem etc/anchors/
root isser -set_serial 77; cp keys/isser.pem etc/blocklist/
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -keyout keys/isser2.key \
  -out keys/isser2.pem -subj "/CN=oracle isser" -addext basicConstraints=critical,CA:TRUE -set_serial 77 2>/dev/null
cp keys/isser2.pem etc/anchors/isser2.pem
root nested;       cp keys/nested.pem etc/anchors/sub/
root hidden;       cp keys/hidden.pem etc/anchors/.hidden.pem
root anchorreject; trusted anchorreject etc/anchors/anchorreject.pem -addreject serverAuth
root emailonly;    cp keys/emailonly.pem usr/anchors/
ext=$(python3 -c 'import sys
eku=bytes([0x30,0x0a,0x06,0x08,0x2b,6,1,5,5,7,3,4])
body=bytes([6,3,0x55,0x1d,0x25,1,1,0xff,0x04,len(eku)])+eku
sys.stdout.buffer.write(bytes([0x30,len(body)])+body)' | enc)
printf '[p11-kit-object-v1]\nclass: x-certificate-extension\nobject-id: 2.5.29.37\nvalue: "%s"\n%s\n' "$ext" "$(pubkey emailonly)" > etc/emailonly.p11-kit
root byserial;     cp keys/byserial.pem etc/anchors/
read -r issuer serial < <(python3 - keys/byserial.pem <<'PY'
import base64, sys
der = base64.b64decode("".join(l for l in open(sys.argv[1]) if not l.startswith("-----")))
def tlv(b, i):
    t, l, j = b[i], b[i + 1], i + 2
    if l & 0x80:
        n = l & 0x7f; l = int.from_bytes(b[j:j + n], "big"); j += n
    return t, j, j + l
_, s, _ = tlv(der, 0); _, i, _ = tlv(der, s)
t, a, b = tlv(der, i)
if t == 0xa0: i = b
_, _, b = tlv(der, i); serial = der[i:b]; i = b
_, _, b = tlv(der, i); i = b
_, _, b = tlv(der, i); issuer = der[i:b]
enc = lambda d: "".join("%%%02x" % x for x in d)
print(enc(issuer), enc(serial))
PY
)
printf '[p11-kit-object-v1]\nclass: certificate\ncertificate-type: x-509\nx-distrusted: true\nissuer: "%s"\nserial-number: "%s"\n' "$issuer" "$serial" > usr/byserial.p11-kit
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -keyout keys/leaf.key \
  -out etc/anchors/leaf.pem -subj "/CN=oracle leaf" -addext basicConstraints=critical,CA:FALSE 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout keys/issued.key -subj "/CN=oracle issued" -out keys/issued.csr 2>/dev/null
openssl x509 -req -in keys/issued.csr -CA keys/plain.pem -CAkey keys/plain.key -days 100 -out etc/anchors/issued.pem 2>/dev/null
openssl x509 -req -in keys/issued.csr -signkey keys/issued.key -days 100 -out etc/anchors/v1.pem 2>/dev/null
printf 'basicConstraints=critical,CA:TRUE\n' > keys/ca.ext
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout keys/inter.key -subj "/CN=oracle intermediate" -out keys/inter.csr 2>/dev/null
openssl x509 -req -in keys/inter.csr -CA keys/plain.pem -CAkey keys/plain.key -days 100 -extfile keys/ca.ext -out etc/anchors/intermediate.pem 2>/dev/null
root ekuclient -addext extendedKeyUsage=clientAuth; cp keys/ekuclient.pem usr/anchors/
root ekuany -addext extendedKeyUsage=anyExtendedKeyUsage; cp keys/ekuany.pem usr/anchors/
root ekuserver -addext extendedKeyUsage=serverAuth,clientAuth; cp keys/ekuserver.pem usr/anchors/
root crosssource;  cp keys/crosssource.pem etc/anchors/; cp keys/crosssource.pem usr/blocklist/
# What p11-kit extracts and cabundle leaves out on purpose (README: stricter).
for n in keyobject keyblock legacy; do
  openssl x509 -in keys/$n.pem -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f
done > stricter.txt
