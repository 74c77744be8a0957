#!/usr/bin/env python3
"""An independent XAdES check of a Sealpost evidence with signxml's XAdES verifier.

    xades_verify.py EVIDENCE.xml SEAL-CERT.pem

The seal must verify with the given seal certificate (the one the provider publishes; the
evidence's own KeyInfo is not trusted for that), its two references (the whole evidence and
the XAdES SignedProperties) must hold, and the signed properties must name that certificate
(SigningCertificateV2). Prints what signxml found and exits 0, or prints why not and exits 1.
"""
import sys

from lxml import etree
from signxml import SignatureConfiguration
from signxml.xades import XAdESSignatureConfiguration, XAdESVerifier


def main() -> int:
    evidence, seal_pem = sys.argv[1], sys.argv[2]
    with open(evidence, "rb") as f:
        data = f.read()
    with open(seal_pem, encoding="ascii") as f:
        cert = f.read()
    config = XAdESSignatureConfiguration(
        expect_references=2,
        # Sealpost's references name Exclusive C14N explicitly; nothing is left to a default.
        default_reference_c14n_method=SignatureConfiguration().default_reference_c14n_method,
    )
    try:
        results = XAdESVerifier().verify(data, x509_cert=cert, expect_config=config)
    except Exception as e:  # signxml raises InvalidSignature, InvalidInput and others
        print(f"signxml refused the evidence: {type(e).__name__}: {e}")
        return 1
    root = etree.fromstring(data)
    properties = [r for r in results if getattr(r, "signed_properties", None) is not None]
    print(f"signxml: {len(results)} reference(s) verified; signed properties: {bool(properties)}")
    if root.tag != "{urn:sealpost:evidence:1}Evidence" or not properties:
        print("the verified document is not a Sealpost evidence with XAdES signed properties")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
