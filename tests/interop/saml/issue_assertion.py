#!/usr/bin/env python3
"""Interop generator: one signed SAML assertion, issued by a third-party IdP.

SAML 2.0 (the default) is made by pysaml2's own identity-provider code path,
nothing hand-built and signed by us:

  * a saml2.server.Server is configured in code (entity ID, key, certificate,
    xmlsec1 crypto backend, rsa-sha256/ecdsa-sha256 + sha256, an attribute
    policy whose name format is ...:attrname-format:uri);
  * Server.setup_assertion() builds the saml:Assertion (Issuer, Subject with
    NameID and SubjectConfirmation, Conditions with AudienceRestriction,
    AuthnStatement, AttributeStatement) exactly as it does inside
    create_authn_response(); the SubjectConfirmation method (holder-of-key,
    sender-vouches, bearer) and, for holder-of-key, the ds:KeyInfo of the
    confirmation key go in through pysaml2's own "farg" argument;
  * the times are then set on pysaml2's objects from one clock reading (the
    command-line offsets), and for holder-of-key SubjectConfirmationData gets
    xsi:type="<saml prefix>:KeyInfoConfirmationDataType";
  * saml2.sigver.pre_signature_part() adds the signature template (enveloped +
    exc-c14n transforms, Reference URI="#<ID>", KeyInfo/X509Data with the IdP
    certificate) and saml2.sigver.signed_instance_factory() signs it through
    the Server's SecurityContext, i.e. pysaml2 runs `xmlsec1 --sign`.

The file written is that signed text (pysaml2's serialisation, its ns0/ns1...
prefixes included) with only the leading <?xml ...?> declaration removed.

SAML 1.1 (--saml11): pysaml2 has no SAML 1.x model, so the assertion body is
a template written here with lxml, and OpenSAML's `samlsign` (Debian package
opensaml-tools) parses it as a SAML 1.1 Assertion and signs it: enveloped
signature inside the Assertion, Reference to #<AssertionID>, exc-c14n,
rsa-sha256 (ecdsa-sha256 for an EC key) and sha256, KeyInfo with the IdP
certificate. The signed output of samlsign is written unchanged (less its XML
declaration).

Self-check (always): `xmlsec1 --verify` of the written file against the IdP
certificate (--pubkey-cert-pem, --id-attr:ID on saml2 Assertion or
--id-attr:AssertionID on saml1 Assertion), plus a structural check that the
one ds:Signature is a child of the Assertion whose Reference URI is "#" + its
ID. Exit status 1 if either fails.

Example:
  python3 issue_assertion.py --idp-key idp.key --idp-cert idp.pem \
      --issuer https://idp.example --audience https://sealpost.example \
      --name-id jan --confirmation holder-of-key --hok-cert sender.pem \
      --attribute urn:sealpost:interops:organisation=ACME \
      --attribute urn:sealpost:interops:pagm=A --attribute urn:sealpost:interops:pagm=B \
      --attribute urn:sealpost:interops:authentication-level=3 --out assertion.xml
"""

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from xml.etree import ElementTree

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree

SAML2_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
SAML1_NS = "urn:oasis:names:tc:SAML:1.0:assertion"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
SIG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SIG_ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
ATTR_NAME_FORMAT_URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
SAML2_METHODS = {
    "holder-of-key": "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key",
    "sender-vouches": "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches",
    "bearer": "urn:oasis:names:tc:SAML:2.0:cm:bearer",
}
SAML1_METHODS = {
    "holder-of-key": "urn:oasis:names:tc:SAML:1.0:cm:holder-of-key",
    "sender-vouches": "urn:oasis:names:tc:SAML:1.0:cm:sender-vouches",
    "bearer": "urn:oasis:names:tc:SAML:1.0:cm:bearer",
}
SAML1_ATTRIBUTE_NAMESPACE = "urn:sealpost:interops"
SAML1_AUTHN_METHOD_X509 = "urn:oasis:names:tc:SAML:1.0:am:X509-PKI"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def fail(msg):
    print(f"issue_assertion: {msg}", file=sys.stderr)
    sys.exit(1)


def utc(epoch):
    return time.strftime(TIME_FORMAT, time.gmtime(epoch))


def cert_b64(path):
    """Base64 of the DER certificate in a PEM file (one line)."""
    with open(path, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")


def signature_method_for(key_path):
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return SIG_RSA_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SIG_ECDSA_SHA256
    fail(f"{key_path}: only RSA and EC keys are supported")


def parse_attributes(pairs):
    """NAME=VALUE list -> ordered {name: [values]} (a repeated NAME adds a value)."""
    attrs = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            fail(f"--attribute {pair!r}: expected NAME=VALUE")
        attrs.setdefault(name, []).append(value)
    return attrs


# ---------------------------------------------------------------- SAML 2.0


def issue_saml2(args, times):
    # pysaml2 imports a cipher mode that cryptography has deprecated; not ours to fix.
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"saml2\.")
    warnings.filterwarnings("ignore", message=".*CFB has been moved.*")
    from saml2 import BINDING_HTTP_POST, saml
    from saml2 import xmldsig as ds
    from saml2.attribute_converter import AttributeConverterNOOP
    from saml2.config import IdPConfig
    from saml2.server import Server
    from saml2.sigver import class_name, pre_signature_part, signed_instance_factory
    from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NAME_FORMAT_URI

    assert NAMEID_FORMAT_UNSPECIFIED == NAMEID_UNSPECIFIED
    assert NAME_FORMAT_URI == ATTR_NAME_FORMAT_URI
    xmlsec1 = shutil.which("xmlsec1")
    if not xmlsec1:
        fail("xmlsec1 not found (Debian package xmlsec1)")
    sign_alg = signature_method_for(args.idp_key)

    config = IdPConfig()
    config.load(
        {
            "entityid": args.issuer,
            "key_file": args.idp_key,
            "cert_file": args.idp_cert,
            "xmlsec_binary": xmlsec1,
            "crypto_backend": "xmlsec1",
            "delete_tmpfiles": True,
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [
                            (args.issuer.rstrip("/") + "/sso", BINDING_HTTP_POST)
                        ],
                    },
                    "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                    "signing_algorithm": sign_alg,
                    "digest_algorithm": DIGEST_SHA256,
                    "policy": {
                        "default": {
                            "lifetime": {"seconds": args.lifetime},
                            "name_form": NAME_FORMAT_URI,
                        },
                    },
                },
            },
        }
    )
    # Attribute names are full URIs already: pysaml2's no-op converter for the
    # uri name format emits them as Name with NameFormat ...:uri (it lowercases
    # the names, hence the check in main()).
    config.attribute_converters = [AttributeConverterNOOP(NAME_FORMAT_URI)]
    server = Server(config=config)

    method = SAML2_METHODS[args.confirmation]
    confirmation = {"method": method}
    if args.confirmation == "holder-of-key":
        confirmation["key_info"] = ds.KeyInfo(
            x509_data=[ds.X509Data(x509_certificate=ds.X509Certificate(text=cert_b64(args.hok_cert)))]
        )
    farg = {"assertion": {"subject": {"subject_confirmation": confirmation}}}

    name_id = saml.NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=args.name_id)
    policy = server.config.getattr("policy", "idp")
    identity = parse_attributes(args.attribute)
    authn = {"class_ref": args.authn_context, "authn_instant": times["issue"]}

    assertion = server.setup_assertion(
        authn,
        args.audience,
        None,  # in_response_to: no AuthnRequest here
        None,  # consumer_url: not sent to an ACS
        name_id,
        policy,
        server._issuer(args.issuer),
        None,
        identity,
        True,  # best_effort
        False,  # sign_response
        farg=farg,
    )
    if not isinstance(assertion, saml.Assertion):
        fail(f"pysaml2 did not build an assertion: {assertion!r}")

    # One clock reading for every time in the assertion.
    assertion.issue_instant = utc(times["issue"])
    assertion.conditions.not_before = utc(times["not_before"])
    assertion.conditions.not_on_or_after = utc(times["not_on_or_after"])
    for sc in assertion.subject.subject_confirmation:
        sc.subject_confirmation_data.not_on_or_after = utc(times["not_on_or_after"])
        if sc.method == SAML2_METHODS["holder-of-key"]:
            # ElementTree writes a QName attribute value with whatever prefix
            # it gives the SAML namespace (pysaml2's ns0), so the QName is bound.
            sc.subject_confirmation_data.extension_attributes[XSI_TYPE] = ElementTree.QName(
                SAML2_NS, "KeyInfoConfirmationDataType"
            )
    for st in assertion.authn_statement:
        st.authn_instant = utc(times["issue"])

    # As Server._authn_response(sign_assertion=True) does.
    assertion.signature = pre_signature_part(
        assertion.id, server.sec.my_cert, 2, sign_alg=sign_alg, digest_alg=DIGEST_SHA256
    )
    signed = signed_instance_factory(assertion, server.sec, [(class_name(assertion), assertion.id)])
    return strip_declaration(signed), assertion.id


def strip_declaration(text):
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    return re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", text).rstrip("\n") + "\n"


# ---------------------------------------------------------------- SAML 1.1


def saml1_subject(args):
    s = "{%s}" % SAML1_NS
    subject = etree.Element(s + "Subject")
    nid = etree.SubElement(subject, s + "NameIdentifier", Format=NAMEID_UNSPECIFIED)
    nid.text = args.name_id
    sc = etree.SubElement(subject, s + "SubjectConfirmation")
    etree.SubElement(sc, s + "ConfirmationMethod").text = SAML1_METHODS[args.confirmation]
    if args.confirmation == "holder-of-key":
        ki = etree.SubElement(sc, "{%s}KeyInfo" % DS_NS)
        xd = etree.SubElement(ki, "{%s}X509Data" % DS_NS)
        etree.SubElement(xd, "{%s}X509Certificate" % DS_NS).text = cert_b64(args.hok_cert)
    return subject


def issue_saml11(args, times):
    samlsign = shutil.which("samlsign")
    if not samlsign:
        fail("samlsign not found (Debian package opensaml-tools)")
    s = "{%s}" % SAML1_NS
    assertion_id = "_" + uuid.uuid4().hex
    nsmap = {"saml": SAML1_NS, "ds": DS_NS}
    a = etree.Element(
        s + "Assertion",
        nsmap=nsmap,
        MajorVersion="1",
        MinorVersion="1",
        AssertionID=assertion_id,
        Issuer=args.issuer,
        IssueInstant=utc(times["issue"]),
    )
    cond = etree.SubElement(
        a,
        s + "Conditions",
        NotBefore=utc(times["not_before"]),
        NotOnOrAfter=utc(times["not_on_or_after"]),
    )
    arc = etree.SubElement(cond, s + "AudienceRestrictionCondition")
    etree.SubElement(arc, s + "Audience").text = args.audience
    authn = etree.SubElement(
        a,
        s + "AuthenticationStatement",
        AuthenticationMethod=args.saml11_authn_method,
        AuthenticationInstant=utc(times["issue"]),
    )
    authn.append(saml1_subject(args))
    attrs = parse_attributes(args.attribute)
    if attrs:
        ast = etree.SubElement(a, s + "AttributeStatement")
        ast.append(saml1_subject(args))
        for name, values in attrs.items():
            at = etree.SubElement(
                ast, s + "Attribute", AttributeName=name, AttributeNamespace=SAML1_ATTRIBUTE_NAMESPACE
            )
            for v in values:
                etree.SubElement(at, s + "AttributeValue").text = v

    sign_alg = signature_method_for(args.idp_key)
    with tempfile.TemporaryDirectory() as tmp:
        template = os.path.join(tmp, "template.xml")
        with open(template, "wb") as f:
            f.write(etree.tostring(a, xml_declaration=True, encoding="UTF-8"))
        cmd = [
            # samlsign resolves relative paths against /etc/opensaml: pass absolute ones.
            samlsign, "-s", "-k", os.path.abspath(args.idp_key), "-c", os.path.abspath(args.idp_cert),
            "-f", template,
            "-alg", sign_alg, "-dig", DIGEST_SHA256,
        ]
        proc = subprocess.run(cmd, capture_output=True)
        if proc.returncode != 0 or not proc.stdout.strip():
            fail(f"samlsign failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return strip_declaration(proc.stdout), assertion_id


# ---------------------------------------------------------------- checks


def self_check(path, idp_cert, saml11, expected_id):
    ns = SAML1_NS if saml11 else SAML2_NS
    id_attr = "AssertionID" if saml11 else "ID"
    proc = subprocess.run(
        [
            "xmlsec1", "--verify", f"--id-attr:{id_attr}", f"{ns}:Assertion",
            "--pubkey-cert-pem", idp_cert, path,
        ],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        fail(f"self-check: xmlsec1 --verify failed:\n{proc.stderr}")
    root = etree.parse(path).getroot()
    if root.tag != "{%s}Assertion" % ns or root.get(id_attr) != expected_id:
        fail("self-check: the root is not the Assertion issued")
    sigs = root.findall(".//{%s}Signature" % DS_NS)
    if len(sigs) != 1 or sigs[0].getparent() is not root:
        fail("self-check: expected exactly one ds:Signature, a child of the Assertion")
    refs = sigs[0].findall("{%s}SignedInfo/{%s}Reference" % (DS_NS, DS_NS))
    if len(refs) != 1 or refs[0].get("URI") != "#" + expected_id:
        fail("self-check: the signature does not reference the assertion's ID")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--idp-key", required=True, help="IdP private key, PEM (RSA or EC)")
    p.add_argument("--idp-cert", required=True, help="IdP certificate, PEM")
    p.add_argument("--issuer", required=True, help="IdP entity ID (saml:Issuer)")
    p.add_argument("--audience", required=True, help="Conditions/AudienceRestriction/Audience")
    p.add_argument("--name-id", required=True, help="Subject NameID (format ...:1.1:nameid-format:unspecified)")
    p.add_argument("--confirmation", required=True, choices=sorted(SAML2_METHODS))
    p.add_argument("--hok-cert", help="certificate (PEM) of the holder-of-key confirmation key")
    p.add_argument("--attribute", action="append", default=[], metavar="NAME=VALUE",
                   help="repeatable; the same NAME again adds a value")
    p.add_argument("--authn-context", default="urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
                   help="AuthnContextClassRef (SAML 2.0)")
    p.add_argument("--saml11-authn-method", default=SAML1_AUTHN_METHOD_X509,
                   help="AuthenticationMethod (SAML 1.1 only)")
    p.add_argument("--not-before-offset", type=int, default=-60, help="NotBefore = now + SECONDS")
    p.add_argument("--lifetime", type=int, default=300, help="NotOnOrAfter = now + SECONDS")
    p.add_argument("--issue-instant-offset", type=int, default=0,
                   help="IssueInstant (and AuthnInstant) = now + SECONDS")
    p.add_argument("--saml11", action="store_true", help="SAML 1.1 assertion signed by OpenSAML samlsign")
    p.add_argument("--out", required=True, help="output file (the Assertion element, UTF-8)")
    args = p.parse_args()

    if args.confirmation == "holder-of-key" and not args.hok_cert:
        p.error("--confirmation holder-of-key needs --hok-cert")
    if args.confirmation != "holder-of-key" and args.hok_cert:
        p.error("--hok-cert is only for --confirmation holder-of-key")
    if not args.saml11:
        for pair in args.attribute:
            name = pair.partition("=")[0]
            if name != name.lower():
                p.error(f"attribute name {name!r}: pysaml2 lowercases attribute names; use lowercase")

    now = int(time.time())
    times = {
        "issue": now + args.issue_instant_offset,
        "not_before": now + args.not_before_offset,
        "not_on_or_after": now + args.lifetime,
    }
    if args.saml11:
        text, assertion_id = issue_saml11(args, times)
    else:
        text, assertion_id = issue_saml2(args, times)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    self_check(args.out, args.idp_cert, args.saml11, assertion_id)


if __name__ == "__main__":
    main()
