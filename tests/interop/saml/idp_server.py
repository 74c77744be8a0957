#!/usr/bin/env python3
"""Interop: a SAML 2.0 identity provider (Web Browser SSO) over HTTP on 127.0.0.1.

The third party of the "portal to portal" logins: Sealpost, the service provider,
sends the browser here with an AuthnRequest; the person signs in with a user name
and a password; the browser goes back to Sealpost's AssertionConsumerService with a
samlp:Response holding one signed saml:Assertion. pysaml2's identity-provider code
does the SAML work:

  * a saml2.server.Server configured in code: this IdP's entity ID, key and
    certificate, the xmlsec1 crypto backend, rsa-sha256 (ecdsa-sha256 for an EC key)
    and sha256, an attribute policy with the uri name format and pysaml2's no-op
    attribute converter (attribute names go through unchanged, lowercased by
    pysaml2), and the SP's metadata, built here with pysaml2 from --sp-entity-id and
    --sp-acs-url (one AssertionConsumerService, HTTP-POST binding);
  * Server.parse_authn_request() decodes and checks the AuthnRequest (HTTP-Redirect:
    raw-deflated + base64; HTTP-POST: base64), its version, Destination and
    IssueInstant; unsigned requests are accepted (want_authn_requests_signed off);
  * Server.create_authn_response(sign_assertion=True) builds and signs the Response
    (pysaml2 runs `xmlsec1 --sign`); the Response itself is signed with
    --sign-response.

Endpoints: GET /sso (HTTP-Redirect binding), POST /sso (HTTP-POST binding),
POST /login (the login form), GET /metadata (this IdP's metadata, by pysaml2).

  idp_server.py --port 0 --idp-key KEY.pem --idp-cert CERT.pem \
      --sp-entity-id https://127.0.0.1:8443/saml/metadata \
      --sp-acs-url https://127.0.0.1:8443/saml/acs --users users.json
  idp_server.py --selfcheck        # the whole exchange against itself, exit 0 if good

Once listening it prints one JSON line to stdout:
  {"listening": "http://127.0.0.1:PORT", "entity_id": ..., "sso_url": ..., "metadata_url": ...}
and logs each request to stderr. SIGTERM (or SIGINT) stops it cleanly (exit 0).
"""

import argparse
import base64
import html
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# pysaml2 imports a cipher mode that cryptography has deprecated; not ours to fix.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"saml2\.")
warnings.filterwarnings("ignore", message=".*CFB has been moved.*")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml, samlp  # noqa: E402
from saml2.attribute_converter import AttributeConverterNOOP  # noqa: E402
from saml2.config import IdPConfig, SPConfig  # noqa: E402
from saml2.metadata import create_metadata_string, entity_descriptor  # noqa: E402
from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_UNSPECIFIED  # noqa: E402
from saml2.server import Server  # noqa: E402

SIG_RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SIG_ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
SAMLP_NS = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
# A login form not sent within this time is forgotten (its AuthnRequest with it).
PENDING_TTL = 600


def log(msg):
    print(f"idp_server: {msg}", file=sys.stderr, flush=True)


class Refused(Exception):
    """A request this IdP will not answer with a SAML Response: HTTP status and reason."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def signature_method_for(key_path):
    with open(key_path, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    if isinstance(key, rsa.RSAPrivateKey):
        return SIG_RSA_SHA256
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return SIG_ECDSA_SHA256
    raise SystemExit(f"idp_server: {key_path}: only RSA and EC keys are supported")


def load_users(path):
    with open(path, encoding="utf-8") as f:
        users = json.load(f)
    if not isinstance(users, list):
        raise SystemExit(f"idp_server: {path}: expected a JSON list of users")
    by_name = {}
    for u in users:
        for key in ("username", "password", "name_id"):
            if not isinstance(u.get(key), str) or not u[key]:
                raise SystemExit(f"idp_server: {path}: a user without {key!r}: {u!r}")
        attrs = u.get("attributes", {})
        if not isinstance(attrs, dict):
            raise SystemExit(f"idp_server: {path}: {u['username']}: attributes must be an object")
        clean = {}
        for name, values in attrs.items():
            if name != name.lower():
                # pysaml2 lowercases attribute names: the SP would see another name.
                raise SystemExit(f"idp_server: {path}: attribute {name!r}: use lowercase names")
            if isinstance(values, str):
                values = [values]
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise SystemExit(f"idp_server: {path}: attribute {name!r}: a list of strings")
            clean[name] = list(values)
        by_name[u["username"]] = {**u, "attributes": clean}
    return by_name


def sp_metadata_xml(sp_entity_id, acs_url, sp_cert=None):
    """The SP's metadata, made by pysaml2 from an SPConfig: one ACS, HTTP-POST binding."""
    conf = {
        "entityid": sp_entity_id,
        "service": {
            "sp": {
                "endpoints": {"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
                "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                "authn_requests_signed": False,
                "want_assertions_signed": True,
            }
        },
    }
    if sp_cert:
        # Only for the KeyDescriptor: pysaml2 then checks signed AuthnRequests with it.
        conf["cert_file"] = sp_cert
    spc = SPConfig()
    spc.load(conf)
    return str(entity_descriptor(spc))


class Idp:
    """pysaml2's Server and the state between an AuthnRequest and its login form."""

    def __init__(self, args, base_url):
        self.args = args
        self.base_url = base_url
        self.entity_id = args.entity_id or f"{base_url}/idp"
        self.sso_url = f"{base_url}/sso"
        self.metadata_url = f"{base_url}/metadata"
        self.sp_entity_id = args.sp_entity_id
        self.acs_url = args.sp_acs_url
        self.users = load_users(args.users)
        self.sign_alg = signature_method_for(args.idp_key)
        if args.sign_response and self.sign_alg != SIG_RSA_SHA256:
            # Entity.sign() (the Response's signature) allows RSA and DSA only.
            raise SystemExit("idp_server: --sign-response needs an RSA key (pysaml2 signs Responses with RSA only)")
        xmlsec1 = shutil.which("xmlsec1")
        if not xmlsec1:
            raise SystemExit("idp_server: xmlsec1 not found (Debian package xmlsec1)")
        config = IdPConfig()
        config.load(
            {
                "entityid": self.entity_id,
                "key_file": args.idp_key,
                "cert_file": args.idp_cert,
                "xmlsec_binary": xmlsec1,
                "crypto_backend": "xmlsec1",
                "delete_tmpfiles": True,
                "metadata": {"inline": [sp_metadata_xml(self.sp_entity_id, self.acs_url, args.sp_cert)]},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (self.sso_url, BINDING_HTTP_REDIRECT),
                                (self.sso_url, BINDING_HTTP_POST),
                            ],
                        },
                        "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                        "want_authn_requests_signed": False,
                        "sign_assertion": True,
                        "sign_response": args.sign_response,
                        "signing_algorithm": self.sign_alg,
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
        # Attribute names are full URIs: the no-op converter for the uri name format
        # emits each as Name with NameFormat ...:uri, whatever it is (no mapping table
        # can drop it).
        config.attribute_converters = [AttributeConverterNOOP(NAME_FORMAT_URI)]
        self.server = Server(config=config)
        metadata = create_metadata_string(None, config=config)
        self.metadata = metadata.decode("utf-8") if isinstance(metadata, bytes) else metadata
        # The SP's ACS as its metadata says (the only place it is taken from).
        acs = self.server.metadata.assertion_consumer_service(self.sp_entity_id, BINDING_HTTP_POST)
        if [a["location"] for a in acs] != [self.acs_url]:
            raise SystemExit(f"idp_server: the SP metadata's ACS is {acs!r}")
        self.acs_index = acs[0].get("index")
        # pysaml2 and xmlsec1 (temporary files) are driven one request at a time.
        self.lock = threading.Lock()
        self.pending = {}

    # ------------------------------------------------------------ AuthnRequest

    def authn_request(self, saml_request, binding, relay_state):
        """Parses and checks an AuthnRequest: the login form (its pending key hidden in it)."""
        if not saml_request:
            raise Refused(400, "no SAMLRequest")
        with self.lock:
            try:
                # SigAlg/Signature of the Redirect binding are not passed: not checked.
                req = self.server.parse_authn_request(saml_request, binding)
            except Exception as e:  # pysaml2 raises many kinds
                raise Refused(400, f"the AuthnRequest was refused by pysaml2: {type(e).__name__}: {e}")
        if req is None:
            raise Refused(400, "the AuthnRequest was refused by pysaml2")
        msg = req.message
        issuer = msg.issuer.text.strip() if msg.issuer is not None and msg.issuer.text else None
        if issuer != self.sp_entity_id:
            raise Refused(400, f"AuthnRequest Issuer {issuer!r} is not the SP {self.sp_entity_id!r}")
        if msg.assertion_consumer_service_url is not None and msg.assertion_consumer_service_index is not None:
            raise Refused(400, "AuthnRequest with both AssertionConsumerServiceURL and ...Index")
        if msg.assertion_consumer_service_url is not None and msg.assertion_consumer_service_url != self.acs_url:
            raise Refused(
                400,
                f"AssertionConsumerServiceURL {msg.assertion_consumer_service_url!r} "
                f"is not the SP metadata's {self.acs_url!r}",
            )
        if msg.assertion_consumer_service_index is not None and msg.assertion_consumer_service_index != self.acs_index:
            raise Refused(400, f"AssertionConsumerServiceIndex {msg.assertion_consumer_service_index!r} is unknown")
        if msg.protocol_binding is not None and msg.protocol_binding != BINDING_HTTP_POST:
            raise Refused(400, f"ProtocolBinding {msg.protocol_binding!r}: only HTTP-POST is offered")
        log(
            f"AuthnRequest {msg.id} from {issuer} ({binding.rsplit(':', 1)[-1]}, "
            f"{'signed' if msg.signature is not None else 'unsigned'}, RelayState {relay_state!r})"
        )
        if msg.is_passive in ("true", "1"):
            # No single sign-on session is kept here: a passive request cannot be met.
            with self.lock:
                response = self.server.create_error_response(
                    msg.id, self.acs_url, (samlp.STATUS_NO_PASSIVE, "this identity provider keeps no session")
                )
            log(f"IsPassive request {msg.id}: NoPassive Response POSTed to {self.acs_url}")
            return post_page(self.acs_url, b64(response), relay_state or "")
        key = secrets.token_urlsafe(24)
        now = time.time()
        with self.lock:
            for k in [k for k, p in self.pending.items() if p["at"] < now - PENDING_TTL]:
                del self.pending[k]
            self.pending[key] = {"request_id": msg.id, "relay_state": relay_state or "", "at": now}
        return login_page(key)

    # ------------------------------------------------------------ login and Response

    def login(self, key, username, password):
        """(status, html): the form again (401) or the auto-posting Response page (200)."""
        with self.lock:
            pending = self.pending.get(key)
        if pending is None:
            raise Refused(400, "no pending AuthnRequest for this form (expired or already answered)")
        user = self.users.get(username)
        if user is None or not secrets.compare_digest(user["password"].encode(), password.encode()):
            log(f"login refused for {username!r} (request {pending['request_id']})")
            return 401, login_page(key, username, "Wrong user name or password.")
        with self.lock:
            if self.pending.pop(key, None) is None:
                raise Refused(400, "this AuthnRequest was answered already")
            name_id = saml.NameID(format=NAMEID_FORMAT_UNSPECIFIED, text=user["name_id"])
            response = self.server.create_authn_response(
                {k: list(v) for k, v in user["attributes"].items()},
                pending["request_id"],
                self.acs_url,
                self.sp_entity_id,
                name_id=name_id,
                authn={"class_ref": PASSWORD_PROTECTED_TRANSPORT, "authn_instant": int(time.time())},
                sign_assertion=True,
                sign_response=self.args.sign_response,
                sign_alg=self.sign_alg,
                digest_alg=DIGEST_SHA256,
            )
        xml = response if isinstance(response, str) else str(response)
        saml_response = b64(xml)
        if self.args.save_responses:
            os.makedirs(self.args.save_responses, exist_ok=True)
            name = os.path.join(self.args.save_responses, f"response-{int(time.time() * 1000)}.xml")
            with open(name, "w", encoding="utf-8") as f:
                f.write(xml)
        log(
            f"login {username!r}: Response to {pending['request_id']} for NameID {user['name_id']!r} "
            f"POSTed to {self.acs_url}"
        )
        return 200, post_page(self.acs_url, saml_response, pending["relay_state"])


# ---------------------------------------------------------------- pages


def b64(message):
    """The HTTP-POST binding's encoding of a pysaml2 message (signed text or object)."""
    text = message if isinstance(message, str) else str(message)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def page(title, body):
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title></head>\n"
        f"<body><main>\n<h1>{html.escape(title)}</h1>\n{body}\n</main></body></html>\n"
    )


def login_page(key, username="", error=None):
    alert = f'<p role="alert">{html.escape(error)}</p>\n' if error else ""
    return page(
        "Sign in at the identity provider",
        f'{alert}<form method="post" action="/login">\n'
        f'<input type="hidden" name="pending" value="{html.escape(key)}">\n'
        '<p><label for="username">User name</label>\n'
        f'<input id="username" name="username" autocomplete="username" required value="{html.escape(username)}"></p>\n'
        '<p><label for="password">Password</label>\n'
        '<input id="password" name="password" type="password" autocomplete="current-password" required></p>\n'
        '<p><button type="submit">Sign in</button></p>\n</form>',
    )


def post_page(acs_url, saml_response, relay_state):
    """The HTTP-POST binding: a form to the ACS, sent by a script or by "Continue"."""
    relay = (
        f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">\n' if relay_state else ""
    )
    return page(
        "Back to the service",
        f'<form id="saml-post" method="post" action="{html.escape(acs_url)}">\n'
        f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">\n'
        f"{relay}"
        "<noscript><p>Scripts are off: press Continue to go back to the service.</p></noscript>\n"
        '<p><button type="submit">Continue</button></p>\n</form>\n'
        '<script>document.getElementById("saml-post").submit();</script>',
    )


# ---------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    server_version = "sealpost-interop-idp/1"
    idp = None  # set by serve()

    def log_message(self, fmt, *a):
        log(f"{self.address_string()} {fmt % a}")

    def send(self, status, body, content_type="text/html; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def refuse(self, e):
        log(f"{self.command} {self.path}: refused ({e.status}): {e.reason}")
        self.send(e.status, page("The identity provider refused the request", f"<p>{html.escape(e.reason)}</p>"))

    def form(self):
        length = int(self.headers.get("Content-Length") or 0)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            raise Refused(415, f"expected a form (application/x-www-form-urlencoded), got {ctype!r}")
        raw = self.rfile.read(length).decode("utf-8", errors="strict")
        return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def do_GET(self):
        url = urlsplit(self.path)
        try:
            if url.path == "/sso":
                q = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
                self.send(200, self.idp.authn_request(q.get("SAMLRequest"), BINDING_HTTP_REDIRECT, q.get("RelayState")))
            elif url.path == "/metadata":
                self.send(200, self.idp.metadata, "application/samlmetadata+xml")
            else:
                raise Refused(404, f"no such page: {url.path}")
        except Refused as e:
            self.refuse(e)
        except Exception as e:  # a bug here or in pysaml2: say so, keep serving
            self.refuse(Refused(500, f"internal error: {type(e).__name__}: {e}"))

    def do_POST(self):
        url = urlsplit(self.path)
        try:
            if url.path == "/sso":
                f = self.form()
                self.send(200, self.idp.authn_request(f.get("SAMLRequest"), BINDING_HTTP_POST, f.get("RelayState")))
            elif url.path == "/login":
                f = self.form()
                status, body = self.idp.login(f.get("pending", ""), f.get("username", ""), f.get("password", ""))
                self.send(status, body)
            else:
                raise Refused(404, f"no such page: {url.path}")
        except Refused as e:
            self.refuse(e)
        except Exception as e:  # a bug here or in pysaml2: say so, keep serving
            self.refuse(Refused(500, f"internal error: {type(e).__name__}: {e}"))


def bind(port):
    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    httpd.daemon_threads = True
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def start(args):
    """Binds, configures pysaml2 for the address bound; (httpd, idp)."""
    httpd, base = bind(args.port)
    idp = Idp(args, base)
    Handler.idp = idp
    return httpd, idp


def serve(args):
    httpd, idp = start(args)
    stop = threading.Event()

    def on_signal(signum, _frame):
        log(f"signal {signum}: stopping")
        stop.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    print(
        json.dumps(
            {
                "listening": idp.base_url,
                "entity_id": idp.entity_id,
                "sso_url": idp.sso_url,
                "metadata_url": idp.metadata_url,
            }
        ),
        flush=True,
    )
    log(f"listening on {idp.base_url} as {idp.entity_id} for SP {idp.sp_entity_id} (ACS {idp.acs_url})")
    httpd.serve_forever(poll_interval=0.2)
    httpd.server_close()
    log("stopped")


# ---------------------------------------------------------------- self-check

SELFCHECK_USERS = [
    {
        "username": "jan",
        "password": "jan-secret",
        "name_id": "85073100145",
        "attributes": {
            "urn:sealpost:interops:authentication-level": ["3"],
            "urn:sealpost:interops:name": ["Jan Peeters"],
        },
    },
    {
        "username": "agent",
        "password": "agent-secret",
        "name_id": "agent-1@agency-a",
        "attributes": {
            "urn:sealpost:interops:organisation": ["agency-a"],
            "urn:sealpost:interops:pagm": ["tax-assessment", "payment-notice"],
        },
    },
]


def selfcheck(args):
    """Acts as the SP against a server in a thread: exit status 0 if every check passes."""
    import requests
    from lxml import etree
    from saml2.client import Saml2Client

    tmp = tempfile.mkdtemp(prefix="sealpost-idp-selfcheck-")
    failures = []

    def check(cond, what):
        print(f"{'ok  ' if cond else 'FAIL'} {what}", file=sys.stderr, flush=True)
        if not cond:
            failures.append(what)
        return cond

    try:
        if not args.idp_key:
            args.idp_key, args.idp_cert = make_key_and_cert(tmp)
        if not args.users:
            args.users = os.path.join(tmp, "users.json")
            with open(args.users, "w", encoding="utf-8") as f:
                json.dump(SELFCHECK_USERS, f)
        args.sp_entity_id = args.sp_entity_id or "https://sp.sealpost.invalid/saml/metadata"
        args.sp_acs_url = args.sp_acs_url or "https://sp.sealpost.invalid/saml/acs"
        args.port = 0
        httpd, idp = start(args)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        user = load_users(args.users)[next(iter(load_users(args.users)))]
        http = requests.Session()

        md = http.get(idp.metadata_url, timeout=10)
        check(md.status_code == 200 and b"IDPSSODescriptor" in md.content, "GET /metadata is IdP metadata")

        # The SP: pysaml2's client, with the IdP's metadata as served.
        sp_conf = SPConfig()
        sp_conf.load(
            {
                "entityid": args.sp_entity_id,
                "xmlsec_binary": shutil.which("xmlsec1"),
                "crypto_backend": "xmlsec1",
                "metadata": {"inline": [md.text]},
                "service": {
                    "sp": {
                        "endpoints": {"assertion_consumer_service": [(args.sp_acs_url, BINDING_HTTP_POST)]},
                        "name_id_format": [NAMEID_FORMAT_UNSPECIFIED],
                        "authn_requests_signed": False,
                        "want_assertions_signed": True,
                        "want_response_signed": args.sign_response,
                        "allow_unsolicited": False,
                    }
                },
                # pysaml2's own attribute maps know no urn:sealpost:interops:... name:
                # an unknown one is kept under its Name, unchanged.
                "allow_unknown_attributes": True,
            }
        )
        client = Saml2Client(config=sp_conf)

        def redirect_request(relay_state):
            req_id, info = client.prepare_for_authenticate(
                entityid=idp.entity_id, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT, sign=False
            )
            return req_id, dict(info["headers"])["Location"]

        def pending_key(resp):
            m = re.search(r'name="pending" value="([^"]+)"', resp.text)
            return m.group(1) if m else None

        # 1. HTTP-Redirect, unsigned: the login form.
        req_id, location = redirect_request("/mailbox/inbox")
        check(location.startswith(idp.sso_url + "?SAMLRequest="), f"the SP redirects to {idp.sso_url}")
        form = http.get(location, timeout=10)
        key = pending_key(form)
        check(form.status_code == 200 and key and ">User name<" in form.text and ">Password<" in form.text
              and ">Sign in<" in form.text, "GET /sso shows the login form")

        # 2. A wrong password: the form again, 401, the request still pending.
        wrong = http.post(idp.base_url + "/login", data={"pending": key, "username": user["username"],
                                                         "password": "wrong"}, timeout=10)
        check(wrong.status_code == 401 and 'role="alert"' in wrong.text and pending_key(wrong) == key,
              "a wrong password gives the form again with HTTP 401")

        # 3. The right one: the auto-posting form to the ACS.
        ok = http.post(idp.base_url + "/login", data={"pending": key, "username": user["username"],
                                                      "password": user["password"]}, timeout=10)
        check(ok.status_code == 200, f"the right password: HTTP {ok.status_code}")
        action = re.search(r'<form id="saml-post" method="post" action="([^"]+)"', ok.text)
        b64 = re.search(r'name="SAMLResponse" value="([^"]+)"', ok.text)
        relay = re.search(r'name="RelayState" value="([^"]+)"', ok.text)
        check(action and html.unescape(action.group(1)) == args.sp_acs_url, "the form posts to the ACS URL")
        check(relay and html.unescape(relay.group(1)) == "/mailbox/inbox", "the RelayState comes back")
        check(">Continue<" in ok.text and "<script>" in ok.text, "auto-submitted, with a Continue button")
        if not b64:
            check(False, "a SAMLResponse in the page")
            return 1
        saml_response = html.unescape(b64.group(1))
        xml = base64.b64decode(saml_response)
        path = os.path.join(tmp, "response.xml")
        with open(path, "wb") as f:
            f.write(xml)

        # 4. pysaml2 as the SP accepts it.
        try:
            parsed = client.parse_authn_request_response(saml_response, BINDING_HTTP_POST, outstanding={req_id: "/"})
        except Exception as e:
            parsed = None
            check(False, f"pysaml2 SP refused the Response: {type(e).__name__}: {e}")
        if parsed is not None:
            check(parsed.in_response_to == req_id, "SP: InResponseTo is the AuthnRequest's ID")
            check(parsed.assertion.signature is not None, "SP: the assertion is signed")
            check(parsed.name_id.text == user["name_id"] and parsed.name_id.format == NAMEID_FORMAT_UNSPECIFIED,
                  f"SP: NameID {parsed.name_id.text!r} (unspecified)")
            check(parsed.ava == user["attributes"], f"SP: the attributes {parsed.ava!r}")
            check(parsed.authn_info()[0][0] == PASSWORD_PROTECTED_TRANSPORT, "SP: PasswordProtectedTransport")

        # 5. The shape, read here with lxml.
        root = etree.fromstring(xml)
        ns = {"samlp": SAMLP_NS, "saml": SAML_NS, "ds": DS_NS}
        assertions = root.findall("saml:Assertion", ns)
        check(root.tag == f"{{{SAMLP_NS}}}Response" and len(assertions) == 1, "one Response, one Assertion")
        a = assertions[0]
        scd = a.find("saml:Subject/saml:SubjectConfirmation/saml:SubjectConfirmationData", ns)
        check(root.get("InResponseTo") == req_id and root.get("Destination") == args.sp_acs_url,
              "Response InResponseTo and Destination")
        check(a.find("saml:Subject/saml:SubjectConfirmation", ns).get("Method")
              == "urn:oasis:names:tc:SAML:2.0:cm:bearer", "bearer confirmation")
        check(scd.get("Recipient") == args.sp_acs_url and scd.get("InResponseTo") == req_id
              and scd.get("NotOnOrAfter"), "SubjectConfirmationData Recipient, InResponseTo, NotOnOrAfter")
        check(a.findtext("saml:Conditions/saml:AudienceRestriction/saml:Audience", namespaces=ns)
              == args.sp_entity_id, "Audience is the SP")
        check(a.find("ds:Signature/ds:SignedInfo/ds:Reference", ns).get("URI") == "#" + a.get("ID"),
              "the assertion's signature references its ID")
        check((root.find("ds:Signature", ns) is not None) == bool(args.sign_response),
              f"the Response is {'signed' if args.sign_response else 'not signed'}")

        # 6. xmlsec1 verifies the assertion's signature (and the Response's, when signed).
        id_attrs = ["--id-attr:ID", f"{SAML_NS}:Assertion", "--id-attr:ID", f"{SAMLP_NS}:Response"]
        def step(name):
            return f"*[local-name()='{name}']"

        targets = [("assertion", f"/{step('Response')}/{step('Assertion')}/{step('Signature')}")]
        if args.sign_response:
            targets.append(("response", f"/{step('Response')}/{step('Signature')}"))
        for what, xpath in targets:
            proc = subprocess.run(
                ["xmlsec1", "--verify", *id_attrs, "--pubkey-cert-pem", args.idp_cert,
                 "--node-xpath", xpath, path],
                capture_output=True, text=True,
            )
            check(proc.returncode == 0 and "OK" in proc.stderr.splitlines(),
                  f"xmlsec1 --verify the {what}'s signature" + ("" if proc.returncode == 0 else f": {proc.stderr}"))
        # The assertion alone, as an SP that keeps only it would.
        alone = os.path.join(tmp, "assertion.xml")
        with open(alone, "wb") as f:
            f.write(etree.tostring(a))
        proc = subprocess.run(["xmlsec1", "--verify", "--id-attr:ID", f"{SAML_NS}:Assertion",
                               "--pubkey-cert-pem", args.idp_cert, alone], capture_output=True, text=True)
        check(proc.returncode == 0 and "OK" in proc.stderr.splitlines(),
              "xmlsec1 --verify the assertion taken out alone" + ("" if proc.returncode == 0 else f": {proc.stderr}"))

        # 7. The form is single-use; an unknown key is refused.
        again = http.post(idp.base_url + "/login", data={"pending": key, "username": user["username"],
                                                         "password": user["password"]}, timeout=10)
        check(again.status_code == 400, f"the same form twice: HTTP {again.status_code}")

        # 8. HTTP-POST binding, unsigned.
        req_id2, info = client.prepare_for_authenticate(
            entityid=idp.entity_id, relay_state="post", binding=BINDING_HTTP_POST, sign=False
        )
        req_b64 = re.search(r'name="SAMLRequest" value="([^"]+)"', info["data"]).group(1)
        posted = http.post(idp.sso_url, data={"SAMLRequest": html.unescape(req_b64), "RelayState": "post"},
                           timeout=10)
        check(posted.status_code == 200 and pending_key(posted), "POST /sso shows the login form")

        # 9. An AssertionConsumerServiceURL other than the metadata's is refused.
        req = samlp.AuthnRequest(
            id="_foreign" + secrets.token_hex(8), version="2.0",
            issue_instant=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            destination=idp.sso_url, protocol_binding=BINDING_HTTP_POST,
            assertion_consumer_service_url="https://evil.invalid/saml/acs",
            issuer=saml.Issuer(text=args.sp_entity_id),
        )
        bad = http.post(idp.sso_url, data={"SAMLRequest": base64.b64encode(str(req).encode()).decode()},
                        timeout=10)
        check(bad.status_code == 400 and "AssertionConsumerServiceURL" in bad.text,
              f"a foreign AssertionConsumerServiceURL is refused (HTTP {bad.status_code})")
        # The same request with the metadata's ACS passes: the refusal was for the URL.
        req.assertion_consumer_service_url = args.sp_acs_url
        good = http.post(idp.sso_url, data={"SAMLRequest": base64.b64encode(str(req).encode()).decode()},
                         timeout=10)
        check(good.status_code == 200 and pending_key(good), "a hand-made request with the metadata's ACS passes")
        # IsPassive: no session here, so a NoPassive error Response, not a form.
        req.id = "_passive" + secrets.token_hex(8)
        req.is_passive = "true"
        passive = http.post(idp.sso_url, data={"SAMLRequest": base64.b64encode(str(req).encode()).decode()},
                            timeout=10)
        m = re.search(r'name="SAMLResponse" value="([^"]+)"', passive.text)
        status = etree.fromstring(base64.b64decode(html.unescape(m.group(1)))) if m else None
        codes = [c.get("Value") for c in status.iter(f"{{{SAMLP_NS}}}StatusCode")] if status is not None else []
        check(passive.status_code == 200 and codes[-1:] == [samlp.STATUS_NO_PASSIVE]
              and status.get("InResponseTo") == req.id and status.find("saml:Assertion", ns) is None,
              f"an IsPassive request gets a NoPassive Response ({codes})")
        req.is_passive = None
        req.issuer = saml.Issuer(text="https://other-sp.invalid")
        other = http.post(idp.sso_url, data={"SAMLRequest": base64.b64encode(str(req).encode()).decode()},
                          timeout=10)
        check(other.status_code == 400, f"another SP's request is refused (HTTP {other.status_code})")
        httpd.shutdown()
        httpd.server_close()
        if args.keep:
            print(f"idp_server: self-check files kept in {tmp}", file=sys.stderr)
        if args.save_responses:
            os.makedirs(args.save_responses, exist_ok=True)
            shutil.copy(path, os.path.join(args.save_responses, "selfcheck-response.xml"))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"idp_server: self-check FAILED: {len(failures)} check(s)", file=sys.stderr)
        return 1
    print(json.dumps({"selfcheck": "ok"}))
    return 0


def make_key_and_cert(directory):
    """A throwaway RSA key and self-signed certificate for the self-check."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sealpost interop IdP (self-check)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(directory, "idp.key")
    cert_path = os.path.join(directory, "idp.pem")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: a free one)")
    p.add_argument("--idp-key", help="IdP signing key, PEM (RSA or EC)")
    p.add_argument("--idp-cert", help="IdP certificate, PEM (in the metadata and the signatures' KeyInfo)")
    p.add_argument("--entity-id", help="IdP entity ID (default http://127.0.0.1:PORT/idp)")
    p.add_argument("--sp-entity-id", help="the SP's (Sealpost's) entity ID: Issuer of its requests, Audience")
    p.add_argument("--sp-acs-url", help="the SP's AssertionConsumerService URL (HTTP-POST binding)")
    p.add_argument("--sp-cert", help="optional SP signing certificate, PEM, for signed POST AuthnRequests")
    p.add_argument("--users", help="JSON list of {username, password, name_id, attributes: {name: [values]}}")
    p.add_argument("--lifetime", type=int, default=300, help="assertion lifetime in seconds (NotOnOrAfter)")
    p.add_argument("--sign-response", action="store_true", help="sign the samlp:Response too")
    p.add_argument("--save-responses", metavar="DIR", help="write each Response sent to DIR (debugging)")
    p.add_argument("--selfcheck", action="store_true", help="run the exchange against itself and exit")
    p.add_argument("--keep", action="store_true", help="self-check: keep its temporary directory")
    args = p.parse_args()
    if args.selfcheck:
        if bool(args.idp_key) != bool(args.idp_cert):
            p.error("--idp-key and --idp-cert go together")
        sys.exit(selfcheck(args))
    for name in ("idp_key", "idp_cert", "sp_entity_id", "sp_acs_url", "users"):
        if not getattr(args, name):
            p.error(f"--{name.replace('_', '-')} is required")
    serve(args)


if __name__ == "__main__":
    main()
