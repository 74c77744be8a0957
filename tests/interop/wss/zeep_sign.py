#!/usr/bin/env python3
"""Interop generator: WS-Security signed SOAP requests made by Python zeep + xmlsec.

What it produces (in OUT_DIR, stable names; content changes on every run because
of the timestamp, the random wsu:Id values and, for ECDSA, the signature nonce):

  zeep-rsa-sha256-bst-soap11.xml     BinarySignature, sender-b (RSA-2048),
                                     rsa-sha256 + sha256, SOAP 1.1
  zeep-ec-sha256-bst-soap12.xml      BinarySignature, sender-a (ECDSA P-256),
                                     ecdsa-sha256 + sha256, SOAP 1.2 (soap12 WSDL binding)
  zeep-rsa-sha1-defaults-bst-soap11.xml
                                     BinarySignature with zeep's defaults
                                     (rsa-sha1 + sha1), sender-b, SOAP 1.1
  zeep-rsa-sha1-defaults-x509data-soap11.xml
                                     Signature (not Binary) with zeep's defaults:
                                     no BinarySecurityToken, the certificate is in
                                     ds:X509Data inside wsse:SecurityTokenReference

Every envelope is exactly the byte string zeep hands to its HTTP transport: a
stub transport (CaptureTransport) records the request instead of sending it,
nothing is edited afterwards. All use exc-c14n for SignedInfo and for each
reference, and wsu:Id on the signed Body and Timestamp.

zeep has no built-in wsu:Timestamp producer (its signature code signs a
Timestamp only when one is already in the Security header), so a tiny wsse
plugin, AddTimestamp, built from zeep's own zeep.wsse.utils helpers, runs
before the signature plugin in the client's wsse list. This is the usual way
zeep users add a Timestamp.

Payload (SOAP Body): <ns0:SubmitRegisteredMail xmlns:ns0="urn:sealpost:test">
<ns0:Subject>Interop test</ns0:Subject></ns0:SubmitRegisteredMail>, described
by sealpost-test.wsdl next to this file.

Run (dependencies from requirements.txt installed in tests/.venv):
  tests/.venv/bin/python tests/interop/wss/zeep_sign.py PKI_DIR OUT_DIR
PKI_DIR is the output of `sealpost pki init --dir PKI_DIR` (uses
sender-a.pem/.key and sender-b.pem/.key).
"""

import datetime
import os
import sys

import requests
import xmlsec
from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsse.signature import BinarySignature, Signature
from zeep.wsse.utils import WSU, get_security_header, get_timestamp

HERE = os.path.dirname(os.path.abspath(__file__))
WSDL = os.path.join(HERE, "sealpost-test.wsdl")
SERVICE = "{urn:sealpost:test}SubmissionService"
PORTS = {
    "1.1": "SubmissionSoap11Port",
    "1.2": "SubmissionSoap12Port",
}
SUBJECT = "Interop test"
TIMESTAMP_TTL = datetime.timedelta(minutes=5)


class AddTimestamp:
    """zeep wsse plugin: put a wsu:Timestamp (Created/Expires, UTC 'Z') into the
    wsse:Security header, so that zeep's Signature/BinarySignature signs it."""

    def __init__(self, ttl=TIMESTAMP_TTL):
        self.ttl = ttl

    def apply(self, envelope, headers):
        now = datetime.datetime.now(datetime.timezone.utc)
        security = get_security_header(envelope)
        security.append(
            WSU.Timestamp(
                WSU.Created(get_timestamp(now, zulu_timestamp=True)),
                WSU.Expires(get_timestamp(now + self.ttl, zulu_timestamp=True)),
            )
        )
        return envelope, headers

    def verify(self, envelope):
        return envelope


class CaptureTransport(Transport):
    """Transport stub: records the serialized request instead of sending it."""

    def __init__(self):
        super().__init__()
        self.requests = []

    def post(self, address, message, headers):
        self.requests.append((address, message, dict(headers)))
        response = requests.Response()
        response.status_code = 202
        response._content = b""
        response.headers["Content-Type"] = "text/xml; charset=utf-8"
        response.url = address
        return response


def make_envelope(soap_version, wsse_signature):
    transport = CaptureTransport()
    client = Client(
        WSDL,
        transport=transport,
        wsse=[AddTimestamp(), wsse_signature],
        settings=Settings(raw_response=True),
    )
    service = client.bind(SERVICE.split("}")[1], PORTS[soap_version])
    service.SubmitRegisteredMail(Subject=SUBJECT)
    if len(transport.requests) != 1:
        raise RuntimeError("expected exactly one captured request")
    _address, message, _headers = transport.requests[0]
    return message


def self_check(message, wsse_signature):
    """zeep's own verifier on a fresh parse of the captured bytes."""
    doc = etree.fromstring(message)
    wsse_signature.verify(doc)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: zeep_sign.py PKI_DIR OUT_DIR\n")
        return 2
    pki, out = argv[1], argv[2]
    os.makedirs(out, exist_ok=True)

    def pem(name):
        return os.path.join(pki, name)

    variants = [
        (
            "zeep-rsa-sha256-bst-soap11.xml",
            "1.1",
            BinarySignature(
                pem("sender-b.key"),
                pem("sender-b.pem"),
                signature_method=xmlsec.Transform.RSA_SHA256,
                digest_method=xmlsec.Transform.SHA256,
            ),
        ),
        (
            "zeep-ec-sha256-bst-soap12.xml",
            "1.2",
            BinarySignature(
                pem("sender-a.key"),
                pem("sender-a.pem"),
                signature_method=xmlsec.Transform.ECDSA_SHA256,
                digest_method=xmlsec.Transform.SHA256,
            ),
        ),
        (
            "zeep-rsa-sha1-defaults-bst-soap11.xml",
            "1.1",
            BinarySignature(pem("sender-b.key"), pem("sender-b.pem")),
        ),
        (
            "zeep-rsa-sha1-defaults-x509data-soap11.xml",
            "1.1",
            Signature(pem("sender-b.key"), pem("sender-b.pem")),
        ),
    ]

    for name, soap_version, sig in variants:
        message = make_envelope(soap_version, sig)
        self_check(message, sig)
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(message)
        print("zeep: wrote %s" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
