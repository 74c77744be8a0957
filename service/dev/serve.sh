#!/bin/bash
# `make run`'s service, with the development PKI's revocation services beside it:
# - the CRLs of both CAs (`sealpost pki crl`, given as revocation.crls), which speak for every
#   certificate; `sealpost pki crl --dir certs/dev --revoke certs/dev/sender-a.pem` revokes one,
#   and the service refuses it within revocation.refresh_s;
# - the issuing CA's OCSP responder (`openssl ocsp`, as `make ocsp` runs it) on
#   http://127.0.0.1:8889, the address the development certificates name, started here unless
#   one already listens there, so that every sender and mailbox certificate is also asked
#   about by OCSP (revocation.ocsp) and the evidences carry its answers. Without openssl, or
#   with SEALPOST_REVOCATION_OCSP set by the caller, the CRLs alone.
#
#   serve.sh PKI_DIR SEALPOST_BINARY
#
# The service gets SIGTERM and SIGINT as if it were run directly (it stops gracefully); the
# responder started here stops with it.
set -uo pipefail
PKI=$1 SEALPOST=$2
# Whether a responder answers there: a real question about the seal certificate (a bare
# connection that sends nothing would hold `openssl ocsp`, which serves one at a time).
listening() {
  openssl ocsp -url http://127.0.0.1:8889/ -issuer "$PKI/issuing-ca.pem" -cert "$PKI/seal.pem" \
    -CAfile "$PKI/root-ca.pem" -timeout 2 >/dev/null 2>&1
}
responder=
if [ -z "${SEALPOST_REVOCATION_OCSP:-}" ] && command -v openssl >/dev/null && [ -f "$PKI/index.txt" ]; then
  if ! listening; then
    openssl ocsp -index "$PKI/index.txt" -CA "$PKI/issuing-ca.pem" -rsigner "$PKI/ocsp.pem" \
      -rkey "$PKI/ocsp.key" -port 8889 -nmin 60 -ignore_err >/dev/null 2>&1 &
    responder=$!
    for _ in $(seq 50); do listening && break; sleep 0.1; done
  fi
  if listening; then
    export SEALPOST_REVOCATION_OCSP=true
    echo "  OCSP: the development responder answers on http://127.0.0.1:8889 (openssl ocsp)"
  fi
fi
export SEALPOST_REVOCATION_CRLS=${SEALPOST_REVOCATION_CRLS:-$PKI/issuing-ca.crl.pem,$PKI/root-ca.crl.pem}
"$SEALPOST" serve &
service=$!
trap 'kill -TERM "$service" 2>/dev/null' TERM
trap 'kill -INT "$service" 2>/dev/null' INT
# `wait` returns early when a trapped signal arrives: wait again until the service has ended.
while true; do
  wait "$service"
  status=$?
  kill -0 "$service" 2>/dev/null || break
done
[ -n "$responder" ] && kill "$responder" 2>/dev/null
exit "$status"
