#!/usr/bin/env python3
"""Interop generator: a SOAP 1.1 request carrying a SAML assertion, signed per
the OASIS WSS 1.1 SAML Token Profile with lxml + python-xmlsec (libxmlsec1).

The envelope (SOAP 1.1, http://schemas.xmlsoap.org/soap/envelope/):

  soap:Header/wsse:Security (soap:mustUnderstand="1"), in this order:
    [wsse:BinarySecurityToken]  sender-vouches only: the sender's certificate
                                (ValueType ...#X509v3, EncodingType
                                ...#Base64Binary, wsu:Id)
    saml:Assertion              the --assertion file, parsed by lxml and
                                appended as it is (its own signature is
                                re-verified in the finished envelope)
    wsu:Timestamp               wsu:Id, Created = now, Expires = now + 300 s
    ds:Signature                by python-xmlsec with the sender's key
  soap:Body (wsu:Id) holding the one element of --body.

ds:Signature: exc-c14n SignedInfo, rsa-sha256 or ecdsa-sha256 (from the key
type), one Reference each (exc-c14n transform, sha256) to #<Body wsu:Id>,
#<Timestamp wsu:Id> and #<assertion ID> (SAML 2.0 ID / SAML 1.1 AssertionID;
left out with --no-assertion-reference, a hostile variant). KeyInfo is a
wsse:SecurityTokenReference:
  sender-vouches  wsse:Reference URI="#<BST wsu:Id>" ValueType="...#X509v3"
  holder-of-key   wsse11:TokenType="...#SAMLV2.0" (or ...#SAMLV1.1) and
                  wsse:KeyIdentifier ValueType="...#SAMLID" (SAML 1.1:
                  "...-1.0#SAMLAssertionID") = the assertion's ID; --key must
                  then be the key of the certificate the assertion names.

The bytes written to --out are exactly those POSTed (Content-Type: text/xml;
charset=utf-8, SOAPAction from --soap-action). Self-checks (on the bytes
written, parsed afresh; skipped with --no-selfcheck): the envelope signature
verifies with python-xmlsec against --cert and has exactly the references
expected; the assertion's own signature still verifies, against --idp-cert if
given, else against the certificate in its ds:KeyInfo. Exit 1 if one fails.

Output: one JSON line, {"out": FILE} or, with --post URL --ca ROOT.pem (TLS
trusted against ROOT.pem only), {"http_status": N, "body": "..."}; exit 0
whatever the HTTP status.

Example:
  python3 wss_saml_envelope.py --assertion assertion.xml --body body.xml \
      --key sender.key --cert sender.pem --mode holder-of-key --out env.xml
"""

import argparse
import base64
import json
import sys
import time
import uuid

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU_NS = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE11_NS = "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SAML2_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
SAML1_NS = "urn:oasis:names:tc:SAML:1.0:assertion"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
TOKEN_TYPE_SAML2 = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
TOKEN_TYPE_SAML11 = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1"
KEYID_SAML2 = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"
KEYID_SAML11 = "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID"
TIMESTAMP_TTL = 300
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
WSU_ID = "{%s}Id" % WSU_NS


def fail(msg):
    print(f"wss_saml_envelope: {msg}", file=sys.stderr)
    sys.exit(1)


def parse_xml_file(path, what):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    try:
        with open(path, "rb") as f:
            return etree.fromstring(f.read(), parser)
    except (OSError, etree.XMLSyntaxError) as exc:
        fail(f"{what} {path}: {exc}")


def assertion_kind(assertion):
    """(ID attribute name, TokenType, KeyIdentifier ValueType) of a SAML 2.0 or 1.1 assertion."""
    if assertion.tag == "{%s}Assertion" % SAML2_NS:
        return "ID", TOKEN_TYPE_SAML2, KEYID_SAML2
    if assertion.tag == "{%s}Assertion" % SAML1_NS:
        return "AssertionID", TOKEN_TYPE_SAML11, KEYID_SAML11
    fail(f"--assertion: root element {assertion.tag} is not a SAML 2.0 or 1.1 Assertion")


def signature_transform(key_path):
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return xmlsec.Transform.RSA_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, ec.SECP256R1):
            fail(f"{key_path}: EC keys must be P-256")
        return xmlsec.Transform.ECDSA_SHA256
    fail(f"{key_path}: only RSA and ECDSA P-256 keys are supported")


def cert_der_b64(path):
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def new_id(prefix):
    return f"{prefix}-{uuid.uuid4().hex}"


def utc(epoch):
    return time.strftime(TIME_FORMAT, time.gmtime(epoch))


def build_and_sign(args):
    assertion = parse_xml_file(args.assertion, "--assertion")
    body_child = parse_xml_file(args.body, "--body")
    id_attr, token_type, keyid_type = assertion_kind(assertion)
    assertion_id = assertion.get(id_attr)
    if not assertion_id:
        fail(f"--assertion has no {id_attr} attribute")
    sign_method = signature_transform(args.key)

    nsmap = {"soap": SOAP_NS, "wsse": WSSE_NS, "wsu": WSU_NS}
    if args.mode == "holder-of-key":
        nsmap["wsse11"] = WSSE11_NS
    env = etree.Element("{%s}Envelope" % SOAP_NS, nsmap=nsmap)
    header = etree.SubElement(env, "{%s}Header" % SOAP_NS)
    security = etree.SubElement(header, "{%s}Security" % WSSE_NS)
    security.set("{%s}mustUnderstand" % SOAP_NS, "1")

    bst_id = None
    if args.mode == "sender-vouches":
        bst_id = new_id("X509")
        bst = etree.SubElement(security, "{%s}BinarySecurityToken" % WSSE_NS)
        bst.set("EncodingType", BASE64_BINARY)
        bst.set("ValueType", X509V3)
        bst.set(WSU_ID, bst_id)
        bst.text = cert_der_b64(args.cert)

    security.append(assertion)

    now = int(time.time())
    ts_id = new_id("TS")
    ts = etree.SubElement(security, "{%s}Timestamp" % WSU_NS)
    ts.set(WSU_ID, ts_id)
    etree.SubElement(ts, "{%s}Created" % WSU_NS).text = utc(now)
    etree.SubElement(ts, "{%s}Expires" % WSU_NS).text = utc(now + TIMESTAMP_TTL)

    body_id = new_id("Body")
    body = etree.SubElement(env, "{%s}Body" % SOAP_NS)
    body.set(WSU_ID, body_id)
    body.append(body_child)

    sig = xmlsec.template.create(env, xmlsec.Transform.EXCL_C14N, sign_method, ns="ds")
    security.append(sig)
    uris = ["#" + body_id, "#" + ts_id]
    if not args.no_assertion_reference:
        uris.append("#" + assertion_id)
    for uri in uris:
        ref = xmlsec.template.add_reference(sig, xmlsec.Transform.SHA256, uri=uri)
        xmlsec.template.add_transform(ref, xmlsec.Transform.EXCL_C14N)
    key_info = xmlsec.template.ensure_key_info(sig)
    str_el = etree.SubElement(key_info, "{%s}SecurityTokenReference" % WSSE_NS)
    if args.mode == "sender-vouches":
        r = etree.SubElement(str_el, "{%s}Reference" % WSSE_NS)
        r.set("URI", "#" + bst_id)
        r.set("ValueType", X509V3)
    else:
        str_el.set("{%s}TokenType" % WSSE11_NS, token_type)
        kid = etree.SubElement(str_el, "{%s}KeyIdentifier" % WSSE_NS)
        kid.set("ValueType", keyid_type)
        kid.text = assertion_id

    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(args.key, xmlsec.KeyFormat.PEM)
    register_ids(ctx, env, id_attr)
    ctx.sign(sig)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8"), uris, id_attr


def register_ids(ctx, env, id_attr):
    """Tell libxmlsec which attributes are IDs: wsu:Id anywhere, and the assertion's ID."""
    for el in env.iter():
        if not isinstance(el.tag, str):
            continue
        if el.get(WSU_ID) is not None:
            ctx.register_id(el, "Id", WSU_NS)
    for a in env.iter("{%s}Assertion" % SAML2_NS, "{%s}Assertion" % SAML1_NS):
        ctx.register_id(a, id_attr)


def self_check(data, args, expected_uris, id_attr):
    env = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    security = env.find("{%s}Header/{%s}Security" % (SOAP_NS, WSSE_NS))
    sigs = security.findall("{%s}Signature" % DS_NS) if security is not None else []
    if len(sigs) != 1:
        fail("self-check: expected one ds:Signature in wsse:Security")
    sig = sigs[0]
    uris = [r.get("URI") for r in sig.findall("{%s}SignedInfo/{%s}Reference" % (DS_NS, DS_NS))]
    if uris != expected_uris:
        fail(f"self-check: references {uris}, expected {expected_uris}")

    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_file(args.cert, xmlsec.KeyFormat.CERT_PEM)
    register_ids(ctx, env, id_attr)
    try:
        ctx.verify(sig)
    except xmlsec.Error as exc:
        fail(f"self-check: the envelope signature does not verify against {args.cert}: {exc}")

    assertion = [c for c in security if c.tag in ("{%s}Assertion" % SAML2_NS, "{%s}Assertion" % SAML1_NS)]
    if len(assertion) != 1:
        fail("self-check: expected one Assertion in wsse:Security")
    assertion = assertion[0]
    a_sig = assertion.find("{%s}Signature" % DS_NS)
    if a_sig is None:
        fail("self-check: the assertion has no ds:Signature child")
    actx = xmlsec.SignatureContext()
    if args.idp_cert:
        actx.key = xmlsec.Key.from_file(args.idp_cert, xmlsec.KeyFormat.CERT_PEM)
        against = args.idp_cert
    else:
        cert = a_sig.find("{%s}KeyInfo/{%s}X509Data/{%s}X509Certificate" % (DS_NS, DS_NS, DS_NS))
        if cert is None or not cert.text:
            fail("self-check: no --idp-cert and no X509Certificate in the assertion's KeyInfo")
        der = base64.b64decode("".join(cert.text.split()))
        actx.key = xmlsec.Key.from_memory(der, xmlsec.KeyFormat.CERT_DER)
        against = "the certificate in its KeyInfo"
    actx.register_id(assertion, id_attr)
    try:
        actx.verify(a_sig)
    except xmlsec.Error as exc:
        fail(f"self-check: the assertion's signature no longer verifies (against {against}): {exc}")


def default_soap_action(body_path):
    el = parse_xml_file(body_path, "--body")
    q = etree.QName(el)
    if q.namespace == "urn:sealpost:v1":
        return f"urn:sealpost:v1:{q.localname}"
    return ""


def post(data, args):
    import requests

    action = args.soap_action if args.soap_action is not None else default_soap_action(args.body)
    session = requests.Session()
    session.trust_env = False  # no REQUESTS_CA_BUNDLE or proxies: ROOT.pem only
    session.verify = args.ca
    resp = session.post(
        args.post,
        data=data,
        headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{action}"'},
        timeout=args.timeout,
    )
    return {"http_status": resp.status_code, "body": resp.content.decode("utf-8", errors="replace")}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--assertion", required=True, help="signed SAML 2.0 or 1.1 Assertion (XML file)")
    p.add_argument("--body", required=True, help="XML of the one element to put in soap:Body")
    p.add_argument("--key", required=True, help="sender's private key, PEM (RSA or ECDSA P-256)")
    p.add_argument("--cert", required=True, help="sender's certificate, PEM")
    p.add_argument("--mode", required=True, choices=["sender-vouches", "holder-of-key"])
    p.add_argument("--no-assertion-reference", action="store_true",
                   help="hostile variant: do not sign the assertion")
    p.add_argument("--idp-cert", help="IdP certificate for the assertion self-check "
                   "(default: the certificate in the assertion signature's KeyInfo)")
    p.add_argument("--no-selfcheck", action="store_true")
    p.add_argument("--out", required=True, help="where to write the envelope bytes")
    p.add_argument("--post", metavar="URL", help="also POST the envelope to URL (HTTPS)")
    p.add_argument("--ca", metavar="ROOT.pem", help="the only CA trusted for --post")
    p.add_argument("--soap-action", help='SOAPAction value (default: urn:sealpost:v1:<Body element '
                   'local name> for a urn:sealpost:v1 body, else "")')
    p.add_argument("--timeout", type=float, default=60.0, help="seconds, for --post")
    args = p.parse_args()
    if args.post and not args.ca:
        p.error("--post needs --ca")

    data, uris, id_attr = build_and_sign(args)
    with open(args.out, "wb") as f:
        f.write(data)
    if not args.no_selfcheck:
        self_check(data, args, uris, id_attr)

    if args.post:
        try:
            result = post(data, args)
        except Exception as exc:  # requests' errors: no HTTP status to report
            fail(f"POST {args.post}: {type(exc).__name__}: {exc}")
    else:
        result = {"out": args.out}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
