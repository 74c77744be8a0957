#!/usr/bin/env node
// Interop generator: WS-Security signed SOAP requests made by the npm `soap`
// client (WSSecurityCert, which signs with xml-crypto). Versions are pinned in
// package.json / package-lock.json next to this file.
//
// What it produces (in OUT_DIR, stable names; content changes on every run
// because of the timestamp and the random Ids):
//
//   node-soap-rsa-sha256-wsuid-soap11.xml
//       sender-b (RSA-2048), signatureAlgorithm rsa-sha256, digestAlgorithm
//       sha256, exc-c14n for SignedInfo and as the only transform of every
//       reference, signerOptions.idMode 'wssecurity' (wsu:Id), ds: prefix,
//       X.509 BinarySecurityToken, SOAP 1.1.
//   node-soap-rsa-sha256-wsuid-soap12.xml
//       the same through the WSDL's SOAP 1.2 port with the client option
//       forceSoap12Headers (SOAP 1.2 envelope namespace).
//   node-soap-rsa-defaults-soap11.xml
//       WSSecurityCert with no options at all: rsa-sha256 + sha256, but the
//       references carry enveloped-signature + exc-c14n transforms and the
//       signed elements get a plain, un-namespaced `Id` attribute (not wsu:Id),
//       default-namespace Signature. A verifier may accept this only by policy.
//
// No ECDSA variant: xml-crypto (6.3.2, used by soap 1.13.0) only knows
// rsa-sha1, rsa-sha256, rsa-sha256-mgf1, rsa-sha512 and hmac-sha1; asking for
// ecdsa-sha256 throws. Making ECDSA work would need our own signature algorithm
// class plugged into xml-crypto, i.e. not the library's own output.
//
// The envelope written is exactly the string the soap client hands to its HTTP
// client: a stub httpClient (the client's documented `httpClient` option)
// records it and answers with a canned response; nothing goes on the network
// and nothing is edited afterwards.
//
// Payload: <SubmitRegisteredMail><Subject>Interop test</Subject> in namespace
// urn:sealpost:test, from sealpost-test.wsdl next to this file.
//
// Run (after `npm ci` in this folder):
//   node tests/interop/wss/node_soap_sign.js PKI_DIR OUT_DIR
// PKI_DIR is the output of `sealpost pki init --dir PKI_DIR` (uses
// sender-b.pem and sender-b.key).
'use strict';

const fs = require('fs');
const path = require('path');
const soap = require('soap');

const WSDL = path.join(__dirname, 'sealpost-test.wsdl');
const SUBJECT = 'Interop test';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

// Stub for the soap client's httpClient option: keeps the request, never sends.
class CaptureHttpClient {
  constructor() {
    this.requests = [];
  }

  request(rurl, data, callback, exheaders, exoptions) {
    this.requests.push({ url: rurl, data, headers: exheaders });
    const soap12 = String(data).includes('http://www.w3.org/2003/05/soap-envelope');
    const envNs = soap12 ? 'http://www.w3.org/2003/05/soap-envelope' : 'http://schemas.xmlsoap.org/soap/envelope/';
    const body =
      `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${envNs}"><soap:Body>` +
      '<sp:SubmitRegisteredMailResponse xmlns:sp="urn:sealpost:test"><sp:Status>captured</sp:Status>' +
      '</sp:SubmitRegisteredMailResponse></soap:Body></soap:Envelope>';
    const response = { status: 200, statusText: 'OK', headers: {}, data: body, config: { headers: exheaders } };
    setImmediate(() => callback(null, response, body));
    return null;
  }
}

async function makeEnvelope({ soap12, security }) {
  const httpClient = new CaptureHttpClient();
  const client = await soap.createClientAsync(WSDL, { httpClient, forceSoap12Headers: soap12 });
  client.setSecurity(security);
  const port = soap12 ? 'SubmissionSoap12Port' : 'SubmissionSoap11Port';
  const method = client.SubmissionService[port].SubmitRegisteredMail;
  await new Promise((resolve, reject) => {
    method({ Subject: SUBJECT }, (err) => (err ? reject(err) : resolve()));
  });
  if (httpClient.requests.length !== 1) {
    throw new Error(`expected exactly one captured request, got ${httpClient.requests.length}`);
  }
  return httpClient.requests[0].data;
}

async function main(argv) {
  if (argv.length !== 2) {
    process.stderr.write('usage: node_soap_sign.js PKI_DIR OUT_DIR\n');
    return 2;
  }
  const [pki, out] = argv;
  fs.mkdirSync(out, { recursive: true });
  const key = fs.readFileSync(path.join(pki, 'sender-b.key'), 'utf8');
  const cert = fs.readFileSync(path.join(pki, 'sender-b.pem'), 'utf8');

  const wsuidOptions = () => ({
    signatureAlgorithm: RSA_SHA256,
    digestAlgorithm: SHA256,
    signatureTransformations: [EXC_C14N],
    signerOptions: { idMode: 'wssecurity', prefix: 'ds' },
  });

  const variants = [
    {
      name: 'node-soap-rsa-sha256-wsuid-soap11.xml',
      soap12: false,
      security: () => new soap.WSSecurityCert(key, cert, undefined, wsuidOptions()),
    },
    {
      name: 'node-soap-rsa-sha256-wsuid-soap12.xml',
      soap12: true,
      security: () => new soap.WSSecurityCert(key, cert, undefined, wsuidOptions()),
    },
    {
      name: 'node-soap-rsa-defaults-soap11.xml',
      soap12: false,
      security: () => new soap.WSSecurityCert(key, cert, undefined),
    },
  ];

  for (const v of variants) {
    const xml = await makeEnvelope({ soap12: v.soap12, security: v.security() });
    const file = path.join(out, v.name);
    fs.writeFileSync(file, xml, 'utf8');
    console.log(`node-soap: wrote ${file}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err && err.stack ? err.stack : err);
    process.exit(1);
  },
);
