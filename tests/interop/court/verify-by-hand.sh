#!/bin/bash
# A court's check of a Sealpost evidence with standard tools only (xmllint, xmlsec1, openssl,
# coreutils), the same checks as sealpost-verify. Prints each step; exits 0 when every step
# holds, 1 at the first that does not.
#
#   [AT="YYYY-MM-DD HH:MM:SS"] verify-by-hand.sh EVIDENCE.xml ROOT.pem TRUSTED-LIST.xml [DOCUMENT]
#
# ROOT.pem is the trust anchor; TRUSTED-LIST.xml the provider's published identity (GET
# /provider/trusted-list.xml, `sealpost pki trusted-list`). The intermediate certificates come
# from the evidence (the seal's KeyInfo, the tokens' certificates). Every certificate is judged
# at AT (UTC), by default the time of the signature time-stamp (README: why a date).
set -euo pipefail
EVIDENCE=$1 ROOT=$2 LIST=$3 DOCUMENT=${4:-}
TOLERANCE=300 # seconds, as sealpost-verify (docs/evidence.md)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT; : > "$WORK/shas"
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }
xpath() { xmllint --xpath "string($1)" "$2"; }
count() { xmllint --xpath "count($1)" "$2"; }
# Elements by their one place: ev:NAME, a child of the evidence element; ds:/xades: by name.
EV="namespace-uri()='urn:sealpost:evidence:1'"
ev() { echo "/*[$EV and local-name()='Evidence']/*[$EV and local-name()='$1']"; }
SIG="/*/*[local-name()='Signature' and namespace-uri()='http://www.w3.org/2000/09/xmldsig#']"
STAMP="$SIG/*[local-name()='Object']/*[local-name()='QualifyingProperties']/*[local-name()='UnsignedProperties']/*[local-name()='UnsignedSignatureProperties']/*[local-name()='SignatureTimeStamp']/*[local-name()='EncapsulatedTimeStamp']"
epoch() { date -u -d "$1" +%s; }
service() { echo "//*[local-name()='TSPService'][*[local-name()='ServiceTypeIdentifier']='http://uri.etsi.org/TrstSvc/Svctype/$1']/*[local-name()='X509Certificate']"; }
gentime() { date -u -d "$(openssl ts -reply -token_in -in "$1" -text 2>/dev/null | sed -n 's/^Time stamp: //p')" '+%Y-%m-%d %H:%M:%S'; }

# 0. The provider's published certificates: its seal and its time-stamping unit. Compare these
#    fingerprints with the ones the provider publishes; the seal's extended key usage is the
#    Sealpost evidence seal, 2.25.92689082462782189420815959724531204195.
xpath "$(service EDS/REM/Q)" "$LIST" | base64 -d | openssl x509 -inform DER -out "$WORK/seal.pem"
xpath "$(service TSA/QTST)" "$LIST" | base64 -d | openssl x509 -inform DER -out "$WORK/tsu.pem"
openssl x509 -in "$WORK/seal.pem" -noout -ext extendedKeyUsage | grep -q '2\.25\.92689082462782189420815959724531204195' \
  || fail "the published seal certificate lacks the Sealpost evidence seal key purpose"
echo "published seal:               $(openssl x509 -in "$WORK/seal.pem" -noout -fingerprint -sha256)"
echo "published time-stamping unit: $(openssl x509 -in "$WORK/tsu.pem" -noout -fingerprint -sha256)"

# The seal holds one of each of its parts and nothing the enveloped signature does not cover
# could be mistaken for the evidence: no evidence element, no second Object or time-stamp.
[ "$(count "//*[local-name()='Signature']" "$EVIDENCE")" = 1 ] && [ "$(count "$SIG" "$EVIDENCE")" = 1 ] \
  && [ "$(count "$SIG/*[local-name()='Object']" "$EVIDENCE")" = 1 ] \
  && [ "$(count "//*[local-name()='SignatureTimeStamp']" "$EVIDENCE")" = 1 ] \
  && [ "$(count "//*[local-name()='SigningTime']" "$EVIDENCE")" = 1 ] \
  && [ "$(count "$SIG//*[$EV]" "$EVIDENCE")" = 0 ] \
  || fail "the seal holds more than a Sealpost seal does"

# 1. The seal was made with the published seal key (the evidence's own KeyInfo is ignored) ...
xmlsec1 --verify --enabled-key-data key-name --pubkey-cert-pem "$WORK/seal.pem" \
  --id-attr:Id "http://uri.etsi.org/01903/v1.3.2#:SignedProperties" "$EVIDENCE" >/dev/null 2>&1 \
  || fail "the seal is not made with the provider's published seal key"
ok "the seal verifies with the provider's published seal key"

# 2. The signature time-stamp covers the canonical ds:SignatureValue and is the published unit's.
VALUE=$(xpath "$SIG/*[local-name()='SignatureValue']" "$EVIDENCE")
DIGEST=$(printf '<ds:SignatureValue xmlns:ds="http://www.w3.org/2000/09/xmldsig#">%s</ds:SignatureValue>' "$VALUE" | sha256sum | cut -d' ' -f1)
xpath "$STAMP" "$EVIDENCE" | base64 -d > "$WORK/seal.tst"
AT=${AT:-$(gentime "$WORK/seal.tst")}
openssl ts -verify -token_in -in "$WORK/seal.tst" -digest "$DIGEST" -CAfile "$ROOT" -attime "$(epoch "$AT")" >/dev/null 2>&1 \
  || fail "the signature time-stamp does not cover the SignatureValue"
signed_by_published_unit() {
  openssl cms -verify -inform DER -in "$1" -noverify -signer "$WORK/signer.pem" -out /dev/null 2>/dev/null
  [ "$(openssl x509 -in "$WORK/signer.pem" -noout -fingerprint -sha256)" = "$(openssl x509 -in "$WORK/tsu.pem" -noout -fingerprint -sha256)" ]
}
signed_by_published_unit "$WORK/seal.tst" || fail "the signature time-stamp is not the provider's time-stamping unit's"
SEALED=$(epoch "$(gentime "$WORK/seal.tst")")
ok "the signature time-stamp covers the SignatureValue, by the published unit, at $(gentime "$WORK/seal.tst")"
# ... and the seal's certificate (from the evidence) chains to the root at AT.
TZ=UTC xmlsec1 --verify --enabled-key-data x509 --trusted-pem "$ROOT" --verification-time "$AT" \
  --id-attr:Id "http://uri.etsi.org/01903/v1.3.2#:SignedProperties" "$EVIDENCE" >/dev/null 2>&1 \
  || fail "the seal does not verify with a certificate chained to the root at $AT"
ok "the seal verifies with its certificate chained to the root at $AT"

# 3. Each document time-stamp covers the SHA-256 the evidence states, by the published unit.
#    (A SubmissionRejection names its documents without time-stamps: Sealpost time-stamps only
#    what it accepts.)
SUBMITTED=$(epoch "$(xpath "$(ev SubmissionTime)" "$EVIDENCE")")
EVENT_CODE=$(xpath "$(ev EventCode)" "$EVIDENCE")
DOCS="$(ev Documents)/*[$EV and local-name()='Document']"
: > "$WORK/documents"
for i in $(seq 1 "$(count "$DOCS" "$EVIDENCE")"); do
  SHA=$(xpath "$DOCS[$i]/*[$EV and local-name()='Sha256']" "$EVIDENCE")
  TOKEN=$(xpath "$DOCS[$i]/*[$EV and local-name()='TimeStampToken']" "$EVIDENCE")
  echo "$SHA" >> "$WORK/shas"
  if [ -z "$TOKEN" ]; then
    [ "$EVENT_CODE" = "http://uri.etsi.org/19522/Event/SubmissionRejection" ] || fail "document $SHA has no time-stamp"
    continue
  fi
  echo "$SHA $TOKEN" >> "$WORK/documents"
done
while read -r SHA TOKEN; do
  printf '%s' "$TOKEN" | base64 -d > "$WORK/doc.tst"
  openssl ts -verify -token_in -in "$WORK/doc.tst" -digest "$SHA" -CAfile "$ROOT" -attime "$(epoch "$AT")" >/dev/null 2>&1 \
    || fail "the time-stamp of document $SHA does not cover it"
  signed_by_published_unit "$WORK/doc.tst" || fail "the time-stamp of document $SHA is not the provider's unit's"
  STAMPED=$(epoch "$(gentime "$WORK/doc.tst")")
  [ $((STAMPED - SUBMITTED)) -le $((TOLERANCE + 1)) ] && [ $((SUBMITTED - STAMPED)) -le $((TOLERANCE + 1)) ] \
    || fail "the time-stamp of document $SHA is not at the submission time"
  ok "document $SHA: time-stamped at the submission time by the published unit"
done < "$WORK/documents"

# 4. The event happened when the seal was time-stamped: not after it, not long before it.
EVENT=$(epoch "$(xpath "$(ev EventTime)" "$EVIDENCE")")
[ "$EVENT" -le $((SEALED + 1)) ] || fail "EventTime is after the signature time-stamp"
[ $((SEALED - EVENT)) -le $((TOLERANCE + 1)) ] || fail "EventTime is more than $TOLERANCE s before the signature time-stamp"
ok "EventTime agrees with the signature time-stamp"

# 5. The document the court holds is the one the evidence names.
if [ -n "$DOCUMENT" ]; then
  grep -qx "$(sha256sum "$DOCUMENT" | cut -d' ' -f1)" "$WORK/shas" \
    || fail "the document's SHA-256 is not in the evidence"
  ok "the document is named by the evidence"
fi
# 6. The seal certificate and its issuing CA were not revoked when it sealed: the revocation
#    data the evidence carries (XAdES B-LT), judged at the signature time-stamp's time.
UNSIGNED="$SIG/*[local-name()='Object']/*[local-name()='QualifyingProperties']/*[local-name()='UnsignedProperties']/*[local-name()='UnsignedSignatureProperties']"
KEYINFO="$SIG/*[local-name()='KeyInfo']/*[local-name()='X509Data']/*[local-name()='X509Certificate']"
xpath "$KEYINFO[1]" "$EVIDENCE" | base64 -d | openssl x509 -inform DER -out "$WORK/sealer.pem"
xpath "$KEYINFO[2]" "$EVIDENCE" | base64 -d | openssl x509 -inform DER -out "$WORK/issuer.pem"
: > "$WORK/crls.pem"
for i in $(seq 1 "$(count "$UNSIGNED//*[local-name()='EncapsulatedCRLValue']" "$EVIDENCE")"); do
  xpath "($UNSIGNED//*[local-name()='EncapsulatedCRLValue'])[$i]" "$EVIDENCE" | base64 -d \
    | openssl crl -inform DER >> "$WORK/crls.pem"
done
LEAF_BY_OCSP=no
for i in $(seq 1 "$(count "$UNSIGNED//*[local-name()='EncapsulatedOCSPValue']" "$EVIDENCE")"); do
  xpath "($UNSIGNED//*[local-name()='EncapsulatedOCSPValue'])[$i]" "$EVIDENCE" | base64 -d > "$WORK/ocsp.der"
  STATUS=$(openssl ocsp -respin "$WORK/ocsp.der" -issuer "$WORK/issuer.pem" -cert "$WORK/sealer.pem" \
    -CAfile "$ROOT" -untrusted "$WORK/issuer.pem" -no_nonce 2>/dev/null | sed -n 's/^.*sealer.pem: //p' || true)
  case "$STATUS" in
    good) LEAF_BY_OCSP=yes ;;
    revoked) fail "an OCSP response in the evidence says the seal certificate is revoked (openssl ocsp -respin shows since when)" ;;
  esac
done
[ "$(count "$UNSIGNED/*[local-name()='RevocationValues']" "$EVIDENCE")" = 1 ] \
  || fail "the evidence carries no revocation data (XAdES B-T): whether the seal was revoked is not decided"
if [ "$LEAF_BY_OCSP" = yes ]; then
  openssl verify -attime "$SEALED" -crl_check -CRLfile "$WORK/crls.pem" -CAfile "$ROOT" "$WORK/issuer.pem" >/dev/null 2>&1 \
    || fail "the seal's issuing CA is not shown unrevoked at the seal's time by the evidence's CRLs"
  ok "the seal certificate was good by the evidence's OCSP response, its CA by its CRL"
else
  openssl verify -attime "$SEALED" -crl_check_all -CRLfile "$WORK/crls.pem" -CAfile "$ROOT" \
    -untrusted "$WORK/issuer.pem" "$WORK/sealer.pem" >/dev/null 2>&1 \
    || fail "the seal certificate and its CA are not shown unrevoked at the seal's time by the evidence's CRLs"
  ok "the seal certificate and its CA were not revoked at the seal's time (the evidence's CRLs)"
fi
echo "VALID (by hand)"
