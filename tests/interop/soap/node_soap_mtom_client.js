#!/usr/bin/env node
// Sealpost SOAP client made with the npm `soap` package (1.13.0, installed under
// tests/interop/wss/node_modules by `make deps`) that submits a letter with its
// documents as MTOM/XOP attachments, for the end-to-end tests (tests/tests/mtom.rs).
//
// What the library does and what this script does:
//   - the soap Client is built from proto/sealpost.wsdl (RegisteredMailSoap11Port,
//     or RegisteredMailSoap12Port with the client option forceSoap12Headers);
//   - WSSecurityCert signs the envelope with the documents still inline as
//     base64 (RSA-SHA256, SHA-256 digests, exc-c14n, wsu:Id, X.509 token: the
//     options Sealpost's default policy accepts; npm soap has no ECDSA, so the
//     key must be RSA, e.g. sender-b);
//   - the library's per-call `postProcess` hook, which runs after the security
//     postProcess, replaces each document's base64 text by an
//     <xop:Include href="cid:..."/> (XOP optimisation: npm soap packages
//     attachments but does not optimise content itself);
//   - the library's `attachments` option (with forceMTOM) makes the HTTP body
//     multipart/related; type="application/xop+xml" with the envelope as the
//     root part and each document as a binary part with its Content-ID.
// The signature therefore covers the base64 form of the documents, which is
// what a receiver verifies after reconstituting the envelope (XOP 1.0 §3.2), as
// WSS4J/CXF do.
//
// Usage:
//   node node_soap_mtom_client.js --url URL --ca ROOT.pem --cert SENDER.pem
//       --key SENDER.key [--soap 1.1|1.2] submit --recipient ID --type TYPE
//       --subject S --reference R --key-idempotency K --document FILE
//       [--document FILE ...] --out EVIDENCE.xml
// Output (one JSON line, like zeep_client.py, see README.md):
//   {"message_id": ..., "evidence": FILE, "content_type": <the HTTP Content-Type sent>}  exit 0
//   {"code": "SEALPOST-...", "http_status": N}                                          exit 3
//   anything else: a message on stderr, exit 1; bad usage: exit 2.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const path = require('path');
const soap = require(path.join(__dirname, '../wss/node_modules/soap'));

const WSDL = path.join(__dirname, '../../../proto/sealpost.wsdl');
const NS_XOP = 'http://www.w3.org/2004/08/xop/include';
const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';

function usage(message) {
  process.stderr.write(`node_soap_mtom_client: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const global = {};
  const options = { document: [] };
  let command = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (command === null && !arg.startsWith('--')) {
      if (arg !== 'submit') usage(`unknown command ${arg}`);
      command = arg;
      continue;
    }
    if (!arg.startsWith('--') || i + 1 >= argv.length) usage(`bad argument ${arg}`);
    const name = arg.slice(2);
    const value = argv[++i];
    if (command === null) {
      if (!['url', 'ca', 'cert', 'key', 'soap'].includes(name)) usage(`unknown option --${name}`);
      global[name] = value;
    } else if (name === 'document') {
      options.document.push(value);
    } else if (['recipient', 'type', 'subject', 'reference', 'key-idempotency', 'out'].includes(name)) {
      options[name] = value;
    } else {
      usage(`unknown option --${name}`);
    }
  }
  if (command === null) usage('no command');
  for (const name of ['url', 'ca', 'cert', 'key']) if (!global[name]) usage(`--${name} is required`);
  for (const name of ['recipient', 'type', 'subject', 'reference', 'key-idempotency', 'out']) {
    if (!options[name]) usage(`--${name} is required`);
  }
  if (options.document.length === 0) usage('--document is required');
  const soapVersion = global.soap || '1.1';
  if (soapVersion !== '1.1' && soapVersion !== '1.2') usage('--soap must be 1.1 or 1.2');
  return { global, options, soapVersion };
}

// The text of the first element with this local name (responses are small and made by
// Sealpost; a regular expression is enough to pick a field).
function field(xml, name) {
  const m = new RegExp(`<(?:[A-Za-z0-9_.-]+:)?${name}(?:\\s[^>]*)?>([^<]*)</`).exec(xml);
  return m ? m[1] : null;
}

async function main(argv) {
  const { global, options, soapVersion } = parseArgs(argv);
  const soap12 = soapVersion === '1.2';
  const key = fs.readFileSync(global.key, 'utf8');
  const cert = fs.readFileSync(global.cert, 'utf8');
  const client = await soap.createClientAsync(WSDL, {
    forceSoap12Headers: soap12,
    endpoint: global.url,
  });
  client.setSecurity(
    new soap.WSSecurityCert(key, cert, undefined, {
      signatureAlgorithm: RSA_SHA256,
      digestAlgorithm: SHA256,
      signatureTransformations: [EXC_C14N],
      signerOptions: { idMode: 'wssecurity', prefix: 'ds' },
    }),
  );

  const documents = options.document.map((file, i) => {
    const bytes = fs.readFileSync(file);
    return {
      id: `d${i + 1}`,
      name: path.basename(file),
      mediaType: file.toLowerCase().endsWith('.pdf') ? 'application/pdf' : 'application/octet-stream',
      bytes,
      base64: bytes.toString('base64'),
      contentId: `${crypto.randomUUID()}@sealpost-client.test`,
    };
  });
  const args = {
    IdempotencyKey: options['key-idempotency'],
    Recipient: options.recipient,
    MessageType: options.type,
    Subject: options.subject,
    SenderReference: options.reference,
    Document: documents.map((d) => ({
      Id: d.id,
      Name: d.name,
      MediaType: d.mediaType,
      Sha256: crypto.createHash('sha256').update(d.bytes).digest('hex'),
      Content: d.base64,
    })),
  };
  // XOP optimisation of the signed envelope: each document's base64 text, as the element's
  // only content, becomes an xop:Include of its part.
  const optimise = (xml) => {
    let out = xml;
    for (const d of documents) {
      const inline = `>${d.base64}</`;
      const at = out.indexOf(inline);
      if (at < 0 || out.indexOf(inline, at + 1) >= 0) {
        throw new Error(`document ${d.id}: its base64 is not found exactly once in the envelope`);
      }
      const href = `cid:${encodeURIComponent(d.contentId)}`;
      out = `${out.slice(0, at)}><xop:Include xmlns:xop="${NS_XOP}" href="${href}"/></${out.slice(at + inline.length)}`;
    }
    return out;
  };
  const port = soap12 ? 'RegisteredMailSoap12Port' : 'RegisteredMailSoap11Port';
  const method = client.RegisteredMailService[port].SubmitRegisteredMail;
  const callOptions = {
    forceMTOM: true,
    attachments: documents.map((d) => ({
      mimetype: d.mediaType,
      contentId: d.contentId,
      name: d.name,
      body: d.bytes,
    })),
    postProcess: optimise,
    httpsAgent: new https.Agent({ ca: fs.readFileSync(global.ca) }),
    timeout: 60000,
  };
  const outcome = await new Promise((resolve) => {
    method(args, (err, result, rawResponse) => resolve({ err, rawResponse }), callOptions);
  });
  const sent = client.lastRequestHeaders || {};
  const contentType = sent['Content-Type'] || sent['content-type'] || null;
  const body = outcome.rawResponse || (outcome.err && outcome.err.body) || '';
  const status = outcome.err && outcome.err.response ? outcome.err.response.status : 200;
  const code = field(String(body), 'Code');
  if (code) {
    process.stdout.write(`${JSON.stringify({ code, http_status: status })}\n`);
    return 3;
  }
  if (outcome.err) {
    throw outcome.err;
  }
  const messageId = field(body, 'MessageId');
  const evidence = field(body, 'Evidence');
  if (!messageId || !evidence) throw new Error(`unexpected answer: ${body}`);
  fs.writeFileSync(options.out, Buffer.from(evidence, 'base64'));
  process.stdout.write(
    `${JSON.stringify({ message_id: messageId, evidence: options.out, content_type: contentType })}\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`node_soap_mtom_client: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
