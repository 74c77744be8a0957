#!/usr/bin/env node
// SAML 2.0 Web Browser SSO logins in a real browser: Debian's Chromium, headless, driven by
// playwright-core, through a third-party identity provider (tests/interop/saml/idp_server.py,
// pysaml2). Chromium trusts the development root CA through a throwaway NSS database (certutil),
// so Sealpost's TLS is verified as for a real user: no certificate errors ignored.
//
//   node tests/browser/saml_login.mjs --base-url https://127.0.0.1:8443 --ca certs/dev/root-ca.pem \
//     --out DIR [--screenshots DIR] --citizen-user U --citizen-password P --letter ID \
//     --agent-user U --agent-password P --sender ID --agency-letter ID
//
// Every option may come from the environment instead: --base-url is SAML_BASE_URL, and so on.
//
// A. The citizen (an IdP user whose NameID is a national number): /mailbox/login, the link
//    #saml-login ("... identity provider"), the IdP's form (User name, Password, Sign in), back
//    through Sealpost's /saml/acs to /mailbox/inbox; the letter --letter answers 200 and names
//    the letter; the last of its evidence links (/mailbox/letter/<id>/evidence/<n>) is saved as
//    DIR/handover.xml.
// A2. The SAMLResponse the IdP had the browser POST to /saml/acs is kept; after "Log out" the
//    same body is POSTed again (page.request, the browser's cookies): its status is reported as
//    replay_status (the caller decides; a replay should be refused, >= 400), with the redirect
//    target if any and whether the inbox then opens.
// B. The agent (an IdP user who is an agent of --sender), in a fresh browser context:
//    /agency/login/<sender> goes to the IdP; the form; back to /agency/, which lists
//    --agency-letter; the first /agency/evidence/ link is saved as DIR/agency-evidence.xml.
//
// page.request is Playwright's HTTP client in this Node process, not Chromium's: it trusts --ca
// through NODE_EXTRA_CA_CERTS, which Node reads at start-up, so the script runs itself again
// with it set when it is not.
// Prints one JSON line; exits 1 with the reason on stderr when a step fails.

import { existsSync, mkdirSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import {
  CHROMIUM, CheckFailed, LOGIN_TIMEOUT, check, fetchInto, open, rerunTrusting, segment,
  signInAtIdp, trustingHome,
} from './common.mjs';
const DESKTOP = { width: 1280, height: 800 };

// ---------------------------------------------------------------------------------------------
// Inputs

const NAMES = [
  'base-url', 'ca', 'out', 'screenshots', 'citizen-user', 'citizen-password', 'letter',
  'agent-user', 'agent-password', 'sender', 'agency-letter',
];
const OPTIONAL = new Set(['screenshots']);

function inputs() {
  const { values } = parseArgs({
    options: Object.fromEntries(NAMES.map((n) => [n, { type: 'string' }])),
    strict: true,
  });
  const missing = [];
  for (const name of NAMES) {
    const env = `SAML_${name.toUpperCase().replaceAll('-', '_')}`;
    values[name] ??= process.env[env];
    if (values[name] === undefined && !OPTIONAL.has(name)) missing.push(`--${name} (or ${env})`);
  }
  if (missing.length) {
    throw new CheckFailed(`missing inputs: ${missing.join(', ')}`);
  }
  values['base-url'] = values['base-url'].replace(/\/+$/, '');
  check(existsSync(values.ca), `--ca ${values.ca}: no such file`);
  values.ca = realpathSync(values.ca);
  return values;
}

// ---------------------------------------------------------------------------------------------
// Browser helpers

function pathOf(page) {
  return new URL(page.url()).pathname;
}

/** Keeps the body of each form POST the browser sends to Sealpost's /saml/acs. */
function recordAcsPosts(page, base, into) {
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (request.method() === 'POST' && url.origin === new URL(base).origin && url.pathname === '/saml/acs') {
      into.push({ url: request.url(), body: request.postData() ?? '', headers: request.headers() });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The flows

async function citizen(browser, args, found, shoot) {
  const base = args['base-url'];
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
  const page = await context.newPage();
  const posts = [];
  recordAcsPosts(page, base, posts);
  try {
    // A. The login page offers the identity provider; its link goes there.
    const login = await open(page, base, '/mailbox/login');
    check(login.status() === 200, `/mailbox/login: HTTP ${login.status()}`);
    const link = page.locator('#saml-login');
    check(await link.count() === 1, '/mailbox/login has no #saml-login');
    const name = (await link.innerText()).trim();
    found.citizen_login_link = name;
    check(/identity provider/i.test(name), `#saml-login is named "${name}", not "... identity provider"`);
    await Promise.all([page.waitForURL((u) => u.origin !== new URL(base).origin, { timeout: LOGIN_TIMEOUT }), link.click()]);
    await page.waitForLoadState('load');
    found.citizen_idp = await signInAtIdp(page, base, args['citizen-user'], args['citizen-password'], '/mailbox/inbox', shoot, 'citizen');
    check(await page.getByRole('button', { name: 'Log out' }).count() >= 1, 'the inbox has no "Log out" button');
    found.citizen_inbox = true;
    if (shoot) await shoot(page, 'citizen-inbox');
    check(posts.length === 1, `the browser POSTed ${posts.length} times to /saml/acs, expected once`);
    check(/(^|&)SAMLResponse=/.test(posts[0].body), `the POST to /saml/acs has no SAMLResponse: ${posts[0].body.slice(0, 200)}`);
    found.acs_post_bytes = posts[0].body.length;

    // The letter: 200, and the page names it (its id, or its id in links).
    const letterPath = `/mailbox/letter/${segment(args.letter)}`;
    const letter = await open(page, base, letterPath);
    found.letter_status = letter.status();
    check(letter.status() === 200, `${letterPath}: HTTP ${letter.status()}`);
    const content = await page.content();
    check(content.includes(args.letter) || content.includes(segment(args.letter)),
      `${letterPath} does not mention the letter ${args.letter}`);
    if (shoot) await shoot(page, 'citizen-letter');
    const evidences = await page.locator(`a[href^="${letterPath}/evidence/"]`).evaluateAll(
      (links) => links.map((a) => a.getAttribute('href')),
    );
    check(evidences.length >= 1, `${letterPath} links to no evidence (${letterPath}/evidence/<n>)`);
    found.evidence_links = evidences;
    const handover = await fetchInto(page, `${base}${evidences[evidences.length - 1]}`, path.join(args.out, 'handover.xml'));
    found.handover = handover.file;
    found.handover_event = handover.event;

    // A2. Log out, then the same SAMLResponse again.
    await open(page, base, '/mailbox/inbox');
    const logout = page.getByRole('button', { name: 'Log out' });
    check(await logout.count() >= 1, 'no "Log out" button to log out with');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), logout.first().click()]);
    found.logged_out_at = pathOf(page);
    const after = await page.request.get(`${base}/mailbox/inbox`, { maxRedirects: 0 });
    found.inbox_after_logout_status = after.status();
    check(after.status() !== 200, `the inbox still answers HTTP 200 after "Log out" (${page.url()})`);
    const replay = await page.request.post(`${base}/saml/acs`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      data: posts[0].body,
      maxRedirects: 0,
    });
    found.replay_status = replay.status();
    found.replay_location = replay.headers().location ?? null;
    const inboxAfterReplay = await page.request.get(`${base}/mailbox/inbox`, { maxRedirects: 0 });
    found.inbox_after_replay_status = inboxAfterReplay.status();
  } catch (e) {
    await failureShot(page, args, 'citizen', found, e);
    throw e;
  } finally {
    await context.close();
  }
}

async function agent(browser, args, found, shoot) {
  const base = args['base-url'];
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
  const page = await context.newPage();
  try {
    // B. The sender's login page sends the browser to the sender's identity provider.
    await Promise.all([
      page.waitForURL((u) => u.origin !== new URL(base).origin, { timeout: LOGIN_TIMEOUT }),
      page.goto(`${base}/agency/login/${segment(args.sender)}`),
    ]);
    await page.waitForLoadState('load');
    found.agent_idp = await signInAtIdp(page, base, args['agent-user'], args['agent-password'], '/agency/', shoot, 'agent');
    const content = await page.content();
    found.agency_listing = content.includes(args['agency-letter']) || content.includes(segment(args['agency-letter']));
    check(found.agency_listing, `/agency/ does not list the message ${args['agency-letter']}`);
    if (shoot) await shoot(page, 'agency');
    const link = page.locator('a[href^="/agency/evidence/"]').first();
    check(await link.count() === 1, '/agency/ has no link to /agency/evidence/...');
    const href = await link.getAttribute('href');
    const evidence = await fetchInto(page, `${base}${href}`, path.join(args.out, 'agency-evidence.xml'));
    found.agency_evidence = evidence.file;
    found.agency_evidence_event = evidence.event;
  } catch (e) {
    await failureShot(page, args, 'agent', found, e);
    throw e;
  } finally {
    await context.close();
  }
}

async function failureShot(page, args, name, found, e) {
  if (page.isClosed()) return;
  const to = path.join(args.out, `saml-failure-${name}.png`);
  await page.screenshot({ path: to, fullPage: true }).catch(() => {});
  found.failure_screenshot = to;
  e.message += ` (page ${page.url()}, screenshot ${to})`;
}

async function main() {
  const args = inputs();
  if (await rerunTrusting(args.ca, fileURLToPath(import.meta.url))) return null;
  check(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`make deps\` (Debian package chromium)`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new CheckFailed(`playwright-core is missing (${e.message}): run \`make deps\` (npm ci in tests/browser)`);
  }
  mkdirSync(args.out, { recursive: true });
  if (args.screenshots) mkdirSync(args.screenshots, { recursive: true });
  const shots = [];
  const shoot = args.screenshots
    ? async (p, name) => {
      const to = path.join(args.screenshots, `saml-${name}.png`);
      await p.screenshot({ path: to, fullPage: true });
      shots.push(to);
    }
    : null;
  const home = trustingHome(args.ca);
  const found = { base_url: args['base-url'] };
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--disable-dev-shm-usage'],
    env: { ...process.env, HOME: home },
  });
  found.chromium = browser.version();
  try {
    await citizen(browser, args, found, shoot);
    await agent(browser, args, found, shoot);
  } finally {
    await browser.close();
    rmSync(home, { recursive: true, force: true });
  }
  if (shoot) found.screenshots = shots;
  // The fields the caller reads first, then what else was seen.
  const { citizen_inbox: inbox, handover, replay_status: replay, agency_listing: listing, agency_evidence: ev, ...rest } = found;
  return {
    citizen_inbox: inbox, handover, replay_status: replay, agency_listing: listing, agency_evidence: ev, ...rest,
  };
}

try {
  const report = await main();
  if (report) console.log(JSON.stringify(report));
} catch (e) {
  const why = e instanceof CheckFailed ? e.message : (e.stack ?? String(e));
  console.error(`saml_login.mjs: FAILED: ${why}`);
  process.exit(1);
}
