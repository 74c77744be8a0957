#!/usr/bin/env python3
"""Recomputes the message imprint of each XAdES archive time-stamp of a sealed evidence,
independently of Sealpost, from the rule of ETSI EN 319 132-1 (section 5.5.2, the
xades141:ArchiveTimeStamp form): the SHA-256 of, concatenated, each in Exclusive XML
Canonicalization (without comments):

1. the octets each ds:Reference of ds:SignedInfo digests, in order, after its transforms:
   for URI="" (enveloped-signature, then Exclusive C14N) the document without its
   ds:Signature; for URI="#id" the element of that Id (the xades:SignedProperties);
2. ds:SignedInfo, ds:SignatureValue, ds:KeyInfo;
3. every child element of xades:UnsignedSignatureProperties that precedes this
   ArchiveTimeStamp, in document order.

For each ArchiveTimeStamp (in order, from 1) it writes its token (the DER of its
EncapsulatedTimeStamp) to OUT_DIR/archive-N.tst and prints "N HEX-IMPRINT". Then
`openssl ts -verify -digest HEX -in archive-N.tst -token_in -CAfile root.pem
-untrusted tsa-chain.pem` tells whether the token is over exactly that.

Usage: archive_imprint.py EVIDENCE.xml OUT_DIR
"""

import base64
import copy
import hashlib
import os
import sys

from lxml import etree

DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
XADES141 = "http://uri.etsi.org/01903/v1.4.1#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def c14n(node):
    return etree.tostring(node, method="c14n", exclusive=True, with_comments=False)


def one(node, path):
    found = node.findall(path)
    if len(found) != 1:
        sys.exit(f"expected one {path}, found {len(found)}")
    return found[0]


def reference_octets(doc, reference):
    uri = reference.get("URI")
    transforms = [t.get("Algorithm") for t in reference.findall(f"{{{DS}}}Transforms/{{{DS}}}Transform")]
    if uri == "":
        if transforms != [ENVELOPED, EXC_C14N]:
            sys.exit(f"unexpected transforms of the document reference: {transforms}")
        whole = copy.deepcopy(doc.getroot())
        for signature in whole.findall(f"{{{DS}}}Signature"):
            whole.remove(signature)
        return c14n(whole)
    if uri.startswith("#"):
        if transforms not in ([EXC_C14N], []):
            sys.exit(f"unexpected transforms of {uri}: {transforms}")
        targets = [e for e in doc.iter() if e.get("Id") == uri[1:]]
        if len(targets) != 1:
            sys.exit(f"{uri}: {len(targets)} elements with that Id")
        return c14n(targets[0])
    sys.exit(f"a reference this script does not follow: {uri!r}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    evidence, out_dir = sys.argv[1], sys.argv[2]
    os.makedirs(out_dir, exist_ok=True)
    doc = etree.parse(evidence, etree.XMLParser(resolve_entities=False, no_network=True))
    signature = one(doc.getroot(), f"{{{DS}}}Signature")
    signed_info = one(signature, f"{{{DS}}}SignedInfo")
    unsigned = one(
        signature,
        f"{{{DS}}}Object/{{{XADES}}}QualifyingProperties/{{{XADES}}}UnsignedProperties/{{{XADES}}}UnsignedSignatureProperties",
    )
    common = b"".join(
        [reference_octets(doc, r) for r in signed_info.findall(f"{{{DS}}}Reference")]
        + [c14n(one(signature, f"{{{DS}}}{name}")) for name in ("SignedInfo", "SignatureValue", "KeyInfo")]
    )
    preceding = b""
    n = 0
    for child in unsigned:
        if not isinstance(child.tag, str):
            continue
        if child.tag == f"{{{XADES141}}}ArchiveTimeStamp":
            method = one(child, f"{{{DS}}}CanonicalizationMethod").get("Algorithm")
            if method != EXC_C14N:
                sys.exit(f"archive time-stamp {n + 1}: canonicalization {method} not followed here")
            n += 1
            token = base64.b64decode("".join(one(child, f"{{{XADES}}}EncapsulatedTimeStamp").text.split()))
            with open(os.path.join(out_dir, f"archive-{n}.tst"), "wb") as f:
                f.write(token)
            print(n, hashlib.sha256(common + preceding).hexdigest())
        preceding += c14n(child)
    if n == 0:
        sys.exit("no ArchiveTimeStamp")


if __name__ == "__main__":
    main()
