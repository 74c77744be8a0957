// An OpenID Provider for Sealpost's end-to-end tests: panva's oidc-provider (a certified
// implementation) on 127.0.0.1 over HTTP, with one confidential client, accounts from a JSON
// file, a login page of its own (oidc-provider's interaction API, not its devInteractions)
// and fresh RS256 and ES256 signing keys.
//
//   node provider.mjs --client-id ID --client-secret-file FILE --redirect-uri URL \
//     --accounts accounts.json [--port 0] [--id-token-alg RS256|ES256]
//
// accounts.json: [{"username", "password", "sub", "claims": {"acr": "…", …}}]; the account's
// acr claim is the login's acr (in the ID token). Prints one JSON line {"issuer": "…"} once
// listening; stops on SIGTERM or when its standard input closes.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

function argument(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1 || i + 1 >= process.argv.length) {
    if (fallback === undefined) {
      console.error(`provider.mjs: --${name} is required`);
      process.exit(2);
    }
    return fallback;
  }
  return process.argv[i + 1];
}

const clientId = argument('client-id');
const clientSecret = readFileSync(argument('client-secret-file'), 'utf8').trim();
const redirectUri = argument('redirect-uri');
const accounts = JSON.parse(readFileSync(argument('accounts'), 'utf8'));
const port = Number(argument('port', '0'));
const idTokenAlg = argument('id-token-alg', 'RS256');

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: `${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` };
}
const jwks = {
  keys: [
    signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
    signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
  ],
};

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, status, title, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`);
}

function loginForm(res, uid, error) {
  page(res, 200, 'Sign in to the test provider', `${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<p><label for="username">User name</label> <input id="username" name="username" autocomplete="username" required></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>`);
}

function same(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

async function formBody(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

let provider;

async function interaction(req, res, url) {
  const [, , uid, step] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) {
    page(res, 400, 'Wrong interaction', '');
    return;
  }
  if (req.method === 'GET' && !step) {
    if (details.prompt.name === 'login') {
      loginForm(res, uid);
      return;
    }
    // The client is Sealpost's own: consent is the grant of what it asked, given here.
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (details.prompt.details.missingOIDCScope) grant.addOIDCScope(details.prompt.details.missingOIDCScope.join(' '));
    if (details.prompt.details.missingOIDCClaims) grant.addOIDCClaims(details.prompt.details.missingOIDCClaims);
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  if (req.method === 'POST' && step === 'login' && details.prompt.name === 'login') {
    const form = await formBody(req);
    const account = accounts.find((a) => same(a.username, form.get('username') ?? '') && same(a.password, form.get('password') ?? ''));
    if (!account) {
      loginForm(res, uid, 'Wrong user name or password.');
      return;
    }
    await provider.interactionFinished(req, res, {
      login: { accountId: account.sub, acr: account.claims?.acr, remember: false },
    }, { mergeWithLastSubmission: false });
    return;
  }
  page(res, 400, 'Unexpected step', '');
}

const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname.startsWith('/interaction/')) {
    interaction(req, res, url).catch((e) => {
      console.error(`provider.mjs: interaction: ${e}`);
      if (!res.headersSent) page(res, 400, 'The login cannot go on', `<p>${escape(e.message)}</p>`);
    });
    return;
  }
  provider.callback()(req, res);
});

server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const acrValues = [...new Set(accounts.map((a) => a.claims?.acr).filter(Boolean))];
  provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      id_token_signed_response_alg: idTokenAlg,
    }],
    jwks,
    acrValues,
    pkce: { required: () => true },
    // An agent's organisation and PAGM profiles, asked for by the scope "agency" and written
    // into the ID token itself (the relying party reads no userinfo).
    claims: { agency: ['urn:sealpost:interops:organisation', 'urn:sealpost:interops:pagm'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    findAccount: async (ctx, sub) => {
      const account = accounts.find((a) => a.sub === sub);
      if (!account) return undefined;
      const { acr, ...claims } = account.claims ?? {};
      return { accountId: sub, claims: async () => ({ ...claims, sub }) };
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error</title></head><body><h1>Error</h1><pre>${escape(JSON.stringify(out))}</pre></body></html>`;
    },
  });
  provider.on('server_error', (ctx, e) => console.error(`provider.mjs: server error: ${e}`));
  console.log(JSON.stringify({ issuer }));
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
