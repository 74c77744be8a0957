"""Checks the time-stamps of a Sealpost evidence with Trail of Bits' rfc3161-client, offline.

usage: rfc3161_client_evidence.py EVIDENCE ROOT_PEM ISSUING_PEM DOCUMENT

The document's token must verify over the document's SHA-256, and the signature time-stamp over
the SHA-256 of the canonical ds:SignatureValue element; the same tokens against other digests
must raise VerificationError. Prints one line per case; exits 1 on any failure.
"""

import hashlib
import base64
import re
import sys

import cryptography.x509
from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response


def load(path):
    with open(path, "rb") as f:
        return cryptography.x509.load_pem_x509_certificate(f.read())


def der_length(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def as_response(token):
    """A granted TimeStampResp around a bare token (what rfc3161-client decodes)."""
    status = bytes.fromhex("3003020100")
    content = status + token
    return b"\x30" + der_length(len(content)) + content


def main():
    evidence_path, root_pem, issuing_pem, document_path = sys.argv[1:5]
    xml = open(evidence_path, encoding="utf-8").read()
    root, issuing = load(root_pem), load(issuing_pem)
    with open(document_path, "rb") as f:
        document_sha = hashlib.sha256(f.read()).digest()
    value = re.search(r"<ds:SignatureValue>([^<]*)</ds:SignatureValue>", xml).group(1)
    canonical = (
        '<ds:SignatureValue xmlns:ds="http://www.w3.org/2000/09/xmldsig#">%s</ds:SignatureValue>'
        % value
    )
    cases = [
        ("document token", re.search(r"<ev:TimeStampToken>([^<]*)<", xml).group(1), document_sha),
        (
            "signature time-stamp",
            re.search(r"<xades:EncapsulatedTimeStamp>([^<]*)<", xml).group(1),
            hashlib.sha256(canonical.encode()).digest(),
        ),
    ]
    failures = sum(
        check(name, base64.b64decode(token_b64), digest, root, issuing)
        for name, token_b64, digest in cases
    )
    sys.exit(1 if failures else 0)


def check(name, token, digest, root, issuing):
    """Verifies `token` over `digest` (and refuses it over another), chaining to `root`
    through `issuing`; prints one line per case; how many cases failed."""
    response = decode_timestamp_response(as_response(token))
    verifier = (
        VerifierBuilder().add_root_certificate(root).add_intermediate_certificate(issuing).build()
    )
    failures = 0
    try:
        verifier.verify(response, digest)
        print(f"ok   {name}: verified, genTime {response.tst_info.gen_time}")
    except VerificationError as e:
        print(f"FAIL {name}: {e}")
        failures += 1
    try:
        verifier.verify(response, bytes(32))
        print(f"FAIL {name}: verified for another digest")
        failures += 1
    except VerificationError:
        print(f"ok   {name}: another digest is refused")
    return failures


if __name__ == "__main__":
    main()
