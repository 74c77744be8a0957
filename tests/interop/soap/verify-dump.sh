#!/usr/bin/env bash
# Checks a signed request written by `--url dump: --dump-request FILE` (either
# client) with tools that are not ours:
#   1. python3 (stdlib): SOAP 1.1/1.2 Envelope, one wsse:Security holding a
#      wsu:Timestamp, a ds:Signature and an X.509v3 BinarySecurityToken that the
#      SecurityTokenReference points at; the SignedInfo References cover the
#      Body and the Timestamp (by wsu:Id); the Body holds an urn:sealpost:v1
#      request; the token is CERT.pem;
#   2. xmlsec1 --verify with CERT.pem and --id-attr:Id for the Id-carrying
#      elements (as tests/interop/wss/check-xmlsec1.sh does).
#
# Usage: tests/interop/soap/verify-dump.sh CERT.pem ENVELOPE.xml [ENVELOPE.xml ...]
# Exits non-zero if any envelope fails.
set -u

if [ "$#" -lt 2 ]; then
    echo "usage: $0 CERT.pem ENVELOPE.xml..." >&2
    exit 2
fi
CERT=$1
shift
PYTHON3=${PYTHON3:-python3}
U=http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd
S=http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd
DS=http://www.w3.org/2000/09/xmldsig#
E11=http://schemas.xmlsoap.org/soap/envelope/
E12=http://www.w3.org/2003/05/soap-envelope

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl x509 -in "$CERT" -outform DER -out "$tmp/want.der" || exit 2

bad=0
for f in "$@"; do
    why=""
    if ! "$PYTHON3" - "$f" "$tmp/want.der" >"$tmp/out" 2>&1 <<'EOF'
import base64, sys
import xml.etree.ElementTree as ET

U = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
S = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
ENVS = ("http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope")
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
SP = "urn:sealpost:v1"

path, want = sys.argv[1], open(sys.argv[2], "rb").read()
root = ET.parse(path).getroot()
env = root.tag[1:].split("}")[0]
if env not in ENVS or root.tag != "{%s}Envelope" % env:
    sys.exit("not a SOAP envelope")
body = root.find("{%s}Body" % env)
secs = root.findall("{%s}Header/{%s}Security" % (env, S))
if body is None or len(secs) != 1:
    sys.exit("Body or exactly one wsse:Security missing")
sec = secs[0]
ts = sec.find("{%s}Timestamp" % U)
sig = sec.find("{%s}Signature" % DS)
if ts is None or sig is None:
    sys.exit("wsu:Timestamp or ds:Signature missing")
if len(body) != 1 or not body[0].tag.startswith("{%s}" % SP):
    sys.exit("Body does not hold one urn:sealpost:v1 element")

def wsu_id(el):
    return el.get("{%s}Id" % U)

uris = [r.get("URI") for r in sig.iter("{%s}Reference" % DS)
        if r.get("URI") is not None]
for name, el in (("Body", body), ("Timestamp", ts)):
    if wsu_id(el) is None or "#" + wsu_id(el) not in uris:
        sys.exit("%s has no wsu:Id covered by a SignedInfo Reference" % name)
sm = sig.find("{%s}SignedInfo/{%s}SignatureMethod" % (DS, DS)).get("Algorithm")
c14n = sig.find("{%s}SignedInfo/{%s}CanonicalizationMethod" % (DS, DS)).get("Algorithm")
digests = {d.get("Algorithm") for d in sig.iter("{%s}DigestMethod" % DS)}
if c14n != "http://www.w3.org/2001/10/xml-exc-c14n#":
    sys.exit("SignedInfo c14n is %s" % c14n)
if digests != {"http://www.w3.org/2001/04/xmlenc#sha256"}:
    sys.exit("digests: %s" % sorted(digests))
ref = sig.find("{%s}KeyInfo/{%s}SecurityTokenReference/{%s}Reference" % (DS, S, S))
if ref is None:
    sys.exit("KeyInfo has no SecurityTokenReference/Reference")
bst = [b for b in sec.findall("{%s}BinarySecurityToken" % S)
       if "#" + (wsu_id(b) or "") == ref.get("URI")]
if len(bst) != 1 or bst[0].get("ValueType") != X509V3:
    sys.exit("the STR does not point at one X509v3 BinarySecurityToken")
if base64.b64decode("".join(bst[0].text.split())) != want:
    sys.exit("BinarySecurityToken is not the expected certificate")
print("%s %s %s" % ("soap11" if env == ENVS[0] else "soap12",
                    sm.rsplit("#", 1)[1], body[0].tag.split("}")[1]))
EOF
    then
        why="structure: $(cat "$tmp/out")"
    fi
    info=$(cat "$tmp/out")
    if [ -z "$why" ] && ! xmlsec1 --verify --pubkey-cert-pem "$CERT" \
            --id-attr:Id "$E11:Body" --id-attr:Id "$E12:Body" \
            --id-attr:Id "$U:Timestamp" --id-attr:Id "$S:BinarySecurityToken" \
            "$f" >"$tmp/err" 2>&1; then
        why="xmlsec1: $(tail -5 "$tmp/err")"
    fi
    if [ -z "$why" ]; then
        echo "OK    $f ($info)"
    else
        echo "FAIL  $f: $why"
        bad=$((bad + 1))
    fi
done
[ "$bad" -eq 0 ]
