"""Drives Trail of Bits' rfc3161-client against a running sealpost-tsa, offline trust only.

usage: rfc3161_client_check.py URL ROOT_PEM TSA_PEM ISSUING_PEM

Each case builds a request with TimestampRequestBuilder, posts it, and verifies the response
with VerifierBuilder against the development root. A case that must fail (another message,
another nonce) has to raise VerificationError. Prints one line per case; exits 1 on any failure.
"""

import sys
import urllib.request

import cryptography.x509
from rfc3161_client import (
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)


def load(path):
    with open(path, "rb") as f:
        return cryptography.x509.load_pem_x509_certificate(f.read())


def post(url, body):
    req = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/timestamp-query"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "application/timestamp-reply", resp.headers
        return resp.read()


def main():
    url, root_pem, tsa_pem, issuing_pem = sys.argv[1:5]
    root, tsa, issuing = load(root_pem), load(tsa_pem), load(issuing_pem)
    failures = 0
    message = b"Sealpost registered letter, interop with rfc3161-client"

    for cert_req, nonce in [(True, True), (True, False), (False, True)]:
        name = f"cert_req={cert_req} nonce={nonce}"
        request = (
            TimestampRequestBuilder()
            .data(message)
            .cert_request(cert_request=cert_req)
            .nonce(nonce=nonce)
            .build()
        )
        response = decode_timestamp_response(post(url, request.as_bytes()))
        if response.status != PKIStatus.GRANTED:
            print(f"FAIL {name}: status {response.status}")
            failures += 1
            continue
        builder = VerifierBuilder.from_request(request).add_root_certificate(root)
        builder = builder.add_intermediate_certificate(issuing)
        if not cert_req:
            # The token does not carry the TSA certificate: the verifier must be given it.
            builder = builder.tsa_certificate(tsa)
        verifier = builder.build()
        try:
            verifier.verify_message(response, message)
            print(f"ok   {name}: verified, serial {response.tst_info.serial_number:#x}")
        except VerificationError as e:
            print(f"FAIL {name}: {e}")
            failures += 1
        try:
            verifier.verify_message(response, message + b"!")
            print(f"FAIL {name}: a token verified for another message")
            failures += 1
        except VerificationError:
            print(f"ok   {name}: another message is refused")

    # A verifier expecting another nonce refuses the token.
    request = TimestampRequestBuilder().data(message).nonce(nonce=True).build()
    response = decode_timestamp_response(post(url, request.as_bytes()))
    other = VerifierBuilder(nonce=(request.nonce or 0) + 1).add_root_certificate(root)
    try:
        other.add_intermediate_certificate(issuing).build().verify_message(response, message)
        print("FAIL nonce: a token verified with another nonce")
        failures += 1
    except VerificationError:
        print("ok   nonce: another nonce is refused")

    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
