#!/usr/bin/env bash
# Sanity check of the envelopes written by generate-all.sh, with tools that are
# not ours: xmlsec1 (Debian package xmlsec1) for the signature, openssl for the
# certificate chain, python3 (stdlib only) to pull out the certificate and to
# check what the References point at (xmlsec1 never checks WHICH elements are
# signed).
#
# Usage: tests/interop/wss/check-xmlsec1.sh PKI_DIR OUT_DIR
# For every OUT_DIR/{zeep,node-soap,wss4j}-*.xml:
#   1. the expected signer is sender-a (file name contains "-ec-") or sender-b;
#   2. the certificate carried in the envelope (BinarySecurityToken or
#      ds:X509Certificate) must be that sender's certificate; with a
#      SubjectKeyIdentifier reference, the KeyIdentifier must equal the SKI of
#      that sender's certificate;
#   3. that certificate must chain to PKI_DIR/root-ca.pem via issuing-ca.pem;
#   4. the SignedInfo References must cover the SOAP Body and the
#      wsse:Security/wsu:Timestamp, and the Body must hold
#      SubmitRegisteredMail/Subject = "Interop test" (urn:sealpost:test);
#   5. xmlsec1 --verify with that certificate and --id-attr:Id for every element
#      type that carries an Id.
# Exits non-zero if any file fails or if no file was found.
set -u

if [ "$#" -ne 2 ]; then
    echo "usage: $0 PKI_DIR OUT_DIR" >&2
    exit 2
fi
PKI_DIR=$1
OUT_DIR=$2
PYTHON3=${PYTHON3:-python3}
U=http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd
S=http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd
DS=http://www.w3.org/2000/09/xmldsig#
E11=http://schemas.xmlsoap.org/soap/envelope/
E12=http://www.w3.org/2003/05/soap-envelope

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Prints "embedded" or "ski:<hex>" and writes the embedded cert (PEM) to $2.
inspect() {
    "$PYTHON3" - "$1" "$2" <<'EOF'
import base64, sys, textwrap
import xml.etree.ElementTree as ET

U = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
S = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
ENVS = ["http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"]
SKI_VT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"

path, pem_out = sys.argv[1], sys.argv[2]
root = ET.parse(path).getroot()
env = root.tag[1:].split("}")[0]
if env not in ENVS or root.tag.split("}")[1] != "Envelope":
    sys.exit("not a SOAP envelope")
body = root.find("{%s}Body" % env)
sec = root.find("{%s}Header/{%s}Security" % (env, S))
ts = sec.find("{%s}Timestamp" % U)
sig = sec.find("{%s}Signature" % DS)
if body is None or sec is None or ts is None or sig is None:
    sys.exit("Body, wsse:Security, wsu:Timestamp or ds:Signature missing")

def ids(el):
    return {v for k, v in el.attrib.items() if k in ("Id", "{%s}Id" % U)}

uris = {r.get("URI") for r in sig.iter("{%s}Reference" % DS)}
for name, el in (("Body", body), ("Timestamp", ts)):
    if not any("#" + i in uris for i in ids(el)):
        sys.exit("%s is not covered by a SignedInfo Reference" % name)
subj = body.find("{urn:sealpost:test}SubmitRegisteredMail/{urn:sealpost:test}Subject")
if subj is None or subj.text != "Interop test":
    sys.exit("payload SubmitRegisteredMail/Subject='Interop test' missing")

b64 = None
bst = sec.find("{%s}BinarySecurityToken" % S)
if bst is not None:
    b64 = bst.text
else:
    x = sig.find(".//{%s}X509Certificate" % DS)
    if x is not None:
        b64 = x.text
if b64:
    der = base64.b64decode("".join(b64.split()))
    with open(pem_out, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\n")
        f.write("\n".join(textwrap.wrap(base64.b64encode(der).decode(), 64)))
        f.write("\n-----END CERTIFICATE-----\n")
    print("embedded")
else:
    kid = sig.find(".//{%s}KeyIdentifier" % S)
    if kid is None or kid.get("ValueType") != SKI_VT:
        sys.exit("no certificate and no X509SubjectKeyIdentifier")
    print("ski:" + base64.b64decode(kid.text.strip()).hex())
EOF
}

n=0
bad=0
shopt -s nullglob
for f in "$OUT_DIR"/zeep-*.xml "$OUT_DIR"/node-soap-*.xml "$OUT_DIR"/wss4j-*.xml; do
    n=$((n + 1))
    name=$(basename "$f")
    case "$name" in
        *-ec-*) sender=sender-a ;;
        *) sender=sender-b ;;
    esac
    expected="$PKI_DIR/$sender.pem"
    cert="$tmp/$name.pem"
    why=""
    if ! kind=$(inspect "$f" "$cert" 2>"$tmp/err"); then
        why="structure: $(cat "$tmp/err")"
    elif [ "$kind" = embedded ]; then
        if [ "$(openssl x509 -in "$cert" -outform DER | sha256sum)" != \
             "$(openssl x509 -in "$expected" -outform DER | sha256sum)" ]; then
            why="embedded certificate is not $sender.pem"
        fi
    else
        cert=$expected
        want=$(openssl x509 -in "$expected" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr 'A-F' 'a-f')
        [ "ski:$want" = "$kind" ] || why="KeyIdentifier ${kind#ski:} is not the SKI of $sender.pem ($want)"
    fi
    if [ -z "$why" ] && ! openssl verify -CAfile "$PKI_DIR/root-ca.pem" \
            -untrusted "$PKI_DIR/issuing-ca.pem" "$cert" >"$tmp/err" 2>&1; then
        why="chain: $(cat "$tmp/err")"
    fi
    if [ -z "$why" ] && ! xmlsec1 --verify --pubkey-cert-pem "$cert" \
            --id-attr:Id "$E11:Body" --id-attr:Id "$E12:Body" \
            --id-attr:Id "$U:Timestamp" --id-attr:Id "$S:BinarySecurityToken" \
            --id-attr:Id "$S:SecurityTokenReference" --id-attr:Id "$DS:KeyInfo" \
            "$f" >"$tmp/err" 2>&1; then
        why="xmlsec1: $(tail -5 "$tmp/err")"
    fi
    if [ -z "$why" ]; then
        echo "OK    $name ($sender, key from: $kind)"
    else
        echo "FAIL  $name: $why"
        bad=$((bad + 1))
    fi
done

if [ "$n" -eq 0 ]; then
    echo "check-xmlsec1: no envelope found in $OUT_DIR" >&2
    exit 1
fi
echo "$((n - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
