"""libxmlsec1 (python-xmlsec) verifying one WS-Security envelope in a loop, in one process.

usage: xmlsec_loop.py ENVELOPE.xml SIGNER_CERT.pem SECONDS
Prints the number of envelopes verified per second. Each iteration parses the envelope (lxml),
registers the wsu:Id attributes, and verifies the signature (references and value) with the
signer's key, loaded once before the loop. No chain validation: libxmlsec1 is given the key.
"""

import sys
import time

import xmlsec
from lxml import etree

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


def main():
    path, cert, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    data = open(path, "rb").read()
    key = xmlsec.Key.from_file(cert, xmlsec.constants.KeyDataFormatCertPem)

    def verify_once():
        doc = etree.fromstring(data)
        ctx = xmlsec.SignatureContext()
        for node in doc.iter():
            if node.get("{%s}Id" % WSU) is not None:
                ctx.register_id(node, "Id", WSU)
        ctx.key = key
        ctx.verify(xmlsec.tree.find_node(doc, xmlsec.constants.NodeSignature))

    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:
        verify_once()
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        verify_once()
        n += 1
    print(n / (time.perf_counter() - start))


if __name__ == "__main__":
    main()
