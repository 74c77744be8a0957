#!/usr/bin/env python3
"""Sealpost SOAP client made with Python zeep + xmlsec, for the end-to-end tests.

A real third-party SOAP stack talking to `sealpost serve`: the zeep Client is
built from proto/sealpost.wsdl, every request carries a WS-Security header made
by zeep itself (a wsu:Timestamp added by the AddTimestamp plugin, then zeep's
BinarySignature: exc-c14n, SHA-256 digests, RSA-SHA256 or ECDSA-SHA256 chosen
from the key type, the signer certificate as an X.509v3 BinarySecurityToken,
wsu:Id on Body and Timestamp). TLS is verified against --ca only.

Usage (global options first, then the command):

  zeep_client.py --url URL --ca ROOT.pem --cert SENDER.pem --key SENDER.key
                 [--soap 1.1|1.2] [--timeout SECONDS] COMMAND ...

  COMMAND:
    submit --recipient ID --type TYPE --subject S --reference R
           --key-idempotency K --document FILE [--document FILE ...]
           [--declared-sha256 HEX ...] --out EVIDENCE.xml
    get-evidence --message-id ID --out-dir DIR
    status --message-id ID

Output: one JSON line on stdout.
  submit        {"message_id": ..., "evidence": PATH}                     exit 0
  get-evidence  {"message_id": ..., "evidences": [PATH, ...]}             exit 0
                (DIR/evidence-1.xml, evidence-2.xml, ... in the order received)
  status        {"message_id", "status", "recipient", "submitted_at",
                 "evidences"}                                              exit 0
  SOAP fault    {"fault": faultcode (1.1) or Code/Value (1.2),
                 "subcode": first Subcode/Value (1.2) or null,
                 (codes as written in the response, prefix:local)
                 "reason": faultstring or Reason/Text,
                 "code": sp:Code, "correlation_id": sp:CorrelationId,
                 "http_status": N}                                         exit 3
                If the sp:Fault carries an Evidence, it is written (to --out for
                submit, DIR/fault-evidence.xml for get-evidence) and "evidence":
                PATH is added.
  other errors: message on stderr, exit 1; bad usage: exit 2.

Evidences are written byte for byte as decoded from the base64 in the response.
Documents: Id d1, d2, ...; Name the file's basename; MediaType application/pdf
for *.pdf, else application/octet-stream; Sha256 the hex SHA-256 of the file,
unless --declared-sha256 is given (the Nth value replaces the Nth document's,
for negative tests; the value is sent as is).

Hidden testing aid: --dump-request FILE writes the exact signed request bytes
handed to the HTTP transport; with --url dump: nothing is sent and the output
is {"dumped": FILE, "content_type": ..., "soap_action": ...}, exit 0.

Responses are not required to be signed: the client does not verify the
response's WS-Security (the evidences are sealed documents, checked by the
tests with sealpost-verify / xmlsec1).
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import re
import sys

import requests
import xmlsec
from zeep import Client, Settings
from zeep.exceptions import Error as ZeepError
from zeep.exceptions import Fault
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport
from zeep.wsse.signature import BinarySignature
from zeep.wsse.utils import WSU, get_security_header, get_timestamp

HERE = os.path.dirname(os.path.abspath(__file__))
WSDL = os.path.normpath(os.path.join(HERE, "..", "..", "..", "proto", "sealpost.wsdl"))
NS = "urn:sealpost:v1"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
BINDINGS = {
    "1.1": "{%s}RegisteredMailSoap11" % NS,
    "1.2": "{%s}RegisteredMailSoap12" % NS,
}
TIMESTAMP_TTL = datetime.timedelta(minutes=5)
DUMP_URL = "dump:"

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FAULT = 3

# DER encodings of the key algorithm OIDs found in a PKCS#8 PrivateKeyInfo.
OID_RSA = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1 rsaEncryption
OID_EC = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1 id-ecPublicKey


class UsageError(Exception):
    pass


class Dumped(Exception):
    """Raised by the transport in dump mode instead of sending."""


# ---------------------------------------------------------------- WS-Security


class AddTimestamp:
    """zeep wsse plugin: put a wsu:Timestamp (Created/Expires, UTC 'Z') into the
    wsse:Security header, so that zeep's BinarySignature signs it."""

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


class SignRequests:
    """Applies the wsse plugins in order to each request; checks nothing on the
    response. (zeep 4.3 calls `client.wsse.verify(doc)` on replies, which fails
    for a list of plugins and, with BinarySignature, for unsigned replies.)"""

    def __init__(self, plugins):
        self.plugins = plugins

    def apply(self, envelope, headers):
        for plugin in self.plugins:
            envelope, headers = plugin.apply(envelope, headers)
        return envelope, headers

    def verify(self, envelope):
        return envelope


def _der_item(data, pos):
    """(tag, content_start, content_end) of the DER item at pos."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise ValueError("bad DER length")
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def key_kind(key_path):
    """'rsa' or 'ec' for a PEM private key (PKCS#8, or the traditional
    'RSA PRIVATE KEY' / 'EC PRIVATE KEY' forms)."""
    with open(key_path, "rb") as f:
        text = f.read().decode("ascii", "replace")
    m = re.search(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", text, re.S)
    if not m:
        raise UsageError("%s: no PEM private key found" % key_path)
    label = m.group(1)
    if label == "RSA PRIVATE KEY":
        return "rsa"
    if label == "EC PRIVATE KEY":
        return "ec"
    if label != "PRIVATE KEY":
        raise UsageError("%s: unsupported key type %r (want an unencrypted PKCS#8 key)"
                         % (key_path, label))
    der = base64.b64decode("".join(m.group(2).split()))
    try:
        # PrivateKeyInfo ::= SEQUENCE { version INTEGER,
        #                               algorithm SEQUENCE { OID, params }, ... }
        _, start, _ = _der_item(der, 0)
        _, _, version_end = _der_item(der, start)
        tag, alg_start, _ = _der_item(der, version_end)
        tag_oid, oid_start, oid_end = _der_item(der, alg_start)
        if tag != 0x30 or tag_oid != 0x06:
            raise ValueError("not a PrivateKeyInfo")
        oid = der[oid_start:oid_end]
    except ValueError as exc:
        raise UsageError("%s: cannot read the PKCS#8 key: %s" % (key_path, exc))
    if oid == OID_RSA:
        return "rsa"
    if oid == OID_EC:
        return "ec"
    raise UsageError("%s: key algorithm is neither RSA nor EC" % key_path)


def cert_kind(cert_path):
    """'rsa' or 'ec' for the (first) PEM certificate of cert_path."""
    with open(cert_path, "rb") as f:
        text = f.read().decode("ascii", "replace")
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not m:
        raise UsageError("%s: no PEM certificate found" % cert_path)
    der = base64.b64decode("".join(m.group(1).split()))
    try:
        # Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL,
        #   serial, signature, issuer, validity, subject,
        #   subjectPublicKeyInfo SEQUENCE { algorithm SEQUENCE { OID, ... }, ... }, ... } ... }
        _, cert_start, _ = _der_item(der, 0)
        _, pos, _ = _der_item(der, cert_start)
        if der[pos] == 0xA0:
            pos = _der_item(der, pos)[2]
        for _ in range(5):  # serial, signature, issuer, validity, subject
            pos = _der_item(der, pos)[2]
        _, spki_start, _ = _der_item(der, pos)
        _, alg_start, _ = _der_item(der, spki_start)
        tag, oid_start, oid_end = _der_item(der, alg_start)
        if tag != 0x06:
            raise ValueError("not a certificate")
        oid = der[oid_start:oid_end]
    except ValueError as exc:
        raise UsageError("%s: cannot read the certificate: %s" % (cert_path, exc))
    return {OID_RSA: "rsa", OID_EC: "ec"}.get(oid, "other")


def make_wsse(cert_path, key_path):
    kind = key_kind(key_path)
    if cert_kind(cert_path) != kind:
        raise UsageError("%s and %s: the key and the certificate are not of the same type"
                         % (key_path, cert_path))
    method = {
        "rsa": xmlsec.Transform.RSA_SHA256,
        "ec": xmlsec.Transform.ECDSA_SHA256,
    }[kind]
    signature = BinarySignature(
        key_path,
        cert_path,
        signature_method=method,
        digest_method=xmlsec.Transform.SHA256,
    )
    return SignRequests([AddTimestamp(), signature])


# ---------------------------------------------------------------- transport


class ClientTransport(Transport):
    """zeep's requests Transport, plus: an optional copy of the request bytes
    (--dump-request), a dump-only mode, and the last HTTP status."""

    def __init__(self, session, timeout, dump_path=None, send=True):
        super().__init__(session=session, operation_timeout=timeout)
        self.dump_path = dump_path
        self.send = send
        self.last_status = None
        self.last_headers = None

    def post(self, address, message, headers):
        self.last_headers = dict(headers)
        if self.dump_path:
            with open(self.dump_path, "wb") as f:
                f.write(message)
        if not self.send:
            raise Dumped()
        response = super().post(address, message, headers)
        self.last_status = response.status_code
        return response


# ---------------------------------------------------------------- commands


def media_type(path):
    return "application/pdf" if path.lower().endswith(".pdf") else "application/octet-stream"


def documents(paths, declared):
    if len(declared) > len(paths):
        raise UsageError("more --declared-sha256 than --document")
    docs = []
    for i, path in enumerate(paths):
        with open(path, "rb") as f:
            content = f.read()
        digest = declared[i] if i < len(declared) else hashlib.sha256(content).hexdigest()
        docs.append({
            "Id": "d%d" % (i + 1),
            "Name": os.path.basename(path),
            "MediaType": media_type(path),
            "Sha256": digest,
            "Content": content,
        })
    return docs


def write_bytes(path, data):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def cmd_submit(service, args, _history):
    result = service.SubmitRegisteredMail(
        IdempotencyKey=args.key_idempotency,
        Recipient=args.recipient,
        MessageType=args.type,
        Subject=args.subject,
        SenderReference=args.reference,
        Document=documents(args.document, args.declared_sha256 or []),
    )
    write_bytes(args.out, result.Evidence)
    return {"message_id": result.MessageId, "evidence": args.out}


def cmd_get_evidence(service, args, _history):
    result = service.GetEvidence(MessageId=args.message_id)
    # zeep unwraps a response element with a single child: a list of bytes.
    evidences = getattr(result, "Evidence", result)
    if evidences is None:
        evidences = []
    elif not isinstance(evidences, list):
        evidences = [evidences]
    os.makedirs(args.out_dir, exist_ok=True)
    paths = []
    for i, evidence in enumerate(evidences, 1):
        path = os.path.join(args.out_dir, "evidence-%d.xml" % i)
        write_bytes(path, evidence)
        paths.append(path)
    return {"message_id": args.message_id, "evidences": paths}


def cmd_status(service, args, history):
    result = service.GetMessageStatus(MessageId=args.message_id)
    # SubmittedAt as received (zeep turns xs:dateTime into a datetime object).
    submitted_at = None
    received = history.last_received
    if received is not None:
        submitted_at = received["envelope"].findtext(".//{%s}SubmittedAt" % NS)
    return {
        "message_id": result.MessageId,
        "status": result.Status,
        "recipient": result.Recipient,
        "submitted_at": submitted_at,
        "evidences": int(result.Evidences),
    }


COMMANDS = {
    "submit": cmd_submit,
    "get-evidence": cmd_get_evidence,
    "status": cmd_status,
}


def fault_output(fault, args, transport, history):
    """The JSON object for a SOAP fault; writes the sp:Fault's Evidence if any."""
    sp_fault = None
    if fault.detail is not None and not isinstance(fault.detail, str):
        sp_fault = fault.detail.find(".//{%s}Fault" % NS)
    if sp_fault is None and history.last_received is not None:
        sp_fault = history.last_received["envelope"].find(".//{%s}Fault" % NS)
    # The first SOAP 1.2 Subcode/Value as written (zeep resolves it to a QName).
    subcode = None
    if history.last_received is not None:
        subcode = history.last_received["envelope"].findtext(
            "{%s}Body/{%s}Fault/{%s}Code/{%s}Subcode/{%s}Value" % ((SOAP12_ENV,) * 5))
    out = {
        "fault": fault.code,
        "subcode": subcode,
        "reason": fault.message,
        "code": None,
        "correlation_id": None,
        "http_status": transport.last_status,
    }
    if sp_fault is not None:
        out["code"] = sp_fault.findtext("{%s}Code" % NS)
        out["correlation_id"] = sp_fault.findtext("{%s}CorrelationId" % NS)
        evidence = sp_fault.findtext("{%s}Evidence" % NS)
        target = None
        if args.command == "submit":
            target = args.out
        elif args.command == "get-evidence":
            target = os.path.join(args.out_dir, "fault-evidence.xml")
        if evidence and evidence.strip() and target:
            write_bytes(target, base64.b64decode(evidence))
            out["evidence"] = target
    return out


# ---------------------------------------------------------------- CLI


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="zeep_client.py",
        description="Sealpost SOAP client (zeep + xmlsec, WS-Security signed).",
    )
    p.add_argument("--url", required=True, help="endpoint, e.g. https://127.0.0.1:8443/soap")
    p.add_argument("--ca", required=True, help="trust anchor for TLS (PEM)")
    p.add_argument("--cert", required=True, help="signer certificate (PEM)")
    p.add_argument("--key", required=True, help="signer private key (PKCS#8 PEM)")
    p.add_argument("--soap", choices=sorted(BINDINGS), default="1.1")
    p.add_argument("--timeout", type=float, default=60.0, help="HTTP timeout, seconds")
    p.add_argument("--dump-request", metavar="FILE", help=argparse.SUPPRESS)
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("submit")
    s.add_argument("--recipient", required=True)
    s.add_argument("--type", required=True)
    s.add_argument("--subject", required=True)
    s.add_argument("--reference", required=True)
    s.add_argument("--key-idempotency", required=True)
    s.add_argument("--document", action="append", required=True)
    s.add_argument("--declared-sha256", action="append", metavar="HEX")
    s.add_argument("--out", required=True)

    g = sub.add_parser("get-evidence")
    g.add_argument("--message-id", required=True)
    g.add_argument("--out-dir", required=True)

    t = sub.add_parser("status")
    t.add_argument("--message-id", required=True)

    args = p.parse_args(argv)
    if args.url == DUMP_URL and not args.dump_request:
        p.error("--url dump: needs --dump-request FILE")
    return args


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def run(args):
    wsse = make_wsse(args.cert, args.key)
    session = requests.Session()
    # Trust --ca only: without trust_env=False, requests would let
    # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace session.verify.
    session.trust_env = False
    session.verify = args.ca
    transport = ClientTransport(
        session,
        args.timeout,
        dump_path=args.dump_request,
        send=args.url != DUMP_URL,
    )
    history = HistoryPlugin()
    client = Client(
        WSDL,
        transport=transport,
        wsse=wsse,
        plugins=[history],
        settings=Settings(strict=True, xml_huge_tree=True),
    )
    service = client.create_service(BINDINGS[args.soap], args.url)
    try:
        emit(COMMANDS[args.command](service, args, history))
        return EXIT_OK
    except Dumped:
        headers = transport.last_headers or {}
        emit({
            "dumped": args.dump_request,
            "content_type": headers.get("Content-Type"),
            "soap_action": headers.get("SOAPAction"),
        })
        return EXIT_OK
    except Fault as fault:
        emit(fault_output(fault, args, transport, history))
        return EXIT_FAULT


def main(argv):
    args = parse_args(argv)
    try:
        return run(args)
    except (UsageError, OSError, ValueError, ZeepError,
            requests.RequestException, xmlsec.Error) as exc:
        sys.stderr.write("zeep_client: %s: %s\n" % (type(exc).__name__, exc))
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
