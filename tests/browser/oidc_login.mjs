#!/usr/bin/env node
// An OpenID Connect login to the mailbox in a real browser: Debian's Chromium, headless, driven
// by playwright-core, through a third-party OpenID Provider (tests/oidc/provider.mjs, panva's
// oidc-provider). Chromium trusts the development root CA through a throwaway NSS database.
//
//   node tests/browser/oidc_login.mjs --base-url https://127.0.0.1:8443 --ca certs/dev/root-ca.pem \
//     --out DIR [--screenshots DIR] --user U --password P --letter ID --strong-letter ID
//
// 1. /mailbox/login, the link #oidc-login, the provider's form (User name, Password, Sign in),
//    back through Sealpost's /oidc/callback to /mailbox/inbox (the callback's URL is kept).
// 2. --letter answers 200; the last of its evidence links is saved as DIR/handover.xml.
// 3. --strong-letter (a type that needs a stronger login than the provider's) is opened: its
//    status is reported as strong_letter_status.
// 4. The same callback URL (code and state) again, in the same browser: replay_status.
// 5. A login started (GET /mailbox/login/oidc, not followed) answered at the callback with
//    error=access_denied and its state: error_status; a callback with a state no login has:
//    wrong_state_status.
// 6. With --agent-user, --agent-password, --sender and --agency-letter, in a fresh browser
//    context: /agency/login/<sender> goes to the provider; its form; back to /agency/, which
//    lists --agency-letter; the first /agency/evidence/ link is saved as
//    DIR/agency-evidence.xml (agency_listing, agency_evidence).
// 7. With --outsider-user and --outsider-password (an agent of another organisation), in a
//    fresh context: the same sign-in to --sender's pages; the page Sealpost answers at its
//    callback (outsider_status, outsider_says), then /agency/ (outsider_agency_status).
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
const NAMES = [
  'base-url', 'ca', 'out', 'screenshots', 'user', 'password', 'letter', 'strong-letter',
  'agent-user', 'agent-password', 'sender', 'agency-letter', 'outsider-user', 'outsider-password',
];
/** The agent's flow runs when its inputs are given. */
const OPTIONAL = new Set([
  'screenshots', 'agent-user', 'agent-password', 'sender', 'agency-letter', 'outsider-user',
  'outsider-password',
]);

function inputs() {
  const { values } = parseArgs({
    options: Object.fromEntries(NAMES.map((n) => [n, { type: 'string' }])),
    strict: true,
  });
  const missing = NAMES.filter((n) => !OPTIONAL.has(n) && values[n] === undefined);
  if (missing.length) throw new CheckFailed(`missing inputs: ${missing.map((n) => `--${n}`).join(', ')}`);
  values['base-url'] = values['base-url'].replace(/\/+$/, '');
  check(existsSync(values.ca), `--ca ${values.ca}: no such file`);
  values.ca = realpathSync(values.ca);
  return values;
}

async function citizen(browser, args, found, shoot) {
  const base = args['base-url'];
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
  const page = await context.newPage();
  const callbacks = [];
  page.on('request', (request) => {
    const url = new URL(request.url());
    if (url.origin === new URL(base).origin && url.pathname === '/oidc/callback') callbacks.push(request.url());
  });
  try {
    // 1. The login page offers the provider; its link goes there.
    const login = await open(page, base, '/mailbox/login');
    check(login.status() === 200, `/mailbox/login: HTTP ${login.status()}`);
    const link = page.locator('#oidc-login');
    check(await link.count() === 1, '/mailbox/login has no #oidc-login');
    found.login_link = (await link.innerText()).trim();
    check(/OpenID Connect/i.test(found.login_link), `#oidc-login is named "${found.login_link}"`);
    if (shoot) await shoot(page, 'login');
    await Promise.all([page.waitForURL((u) => u.origin !== new URL(base).origin, { timeout: LOGIN_TIMEOUT }), link.click()]);
    await page.waitForLoadState('load');
    found.provider = await signInAtIdp(page, base, args.user, args.password, '/mailbox/inbox', shoot, 'oidc');
    check(await page.getByRole('button', { name: 'Log out' }).count() >= 1, 'the inbox has no "Log out" button');
    found.inbox = true;
    if (shoot) await shoot(page, 'inbox');
    check(callbacks.length === 1, `the browser came to /oidc/callback ${callbacks.length} times, expected once`);
    const callback = new URL(callbacks[0]);
    check(callback.searchParams.get('code') && callback.searchParams.get('state'), `the callback has no code and state: ${callbacks[0]}`);

    // 2. The letter and its handover evidence.
    const letterPath = `/mailbox/letter/${segment(args.letter)}`;
    const letter = await open(page, base, letterPath);
    found.letter_status = letter.status();
    check(letter.status() === 200, `${letterPath}: HTTP ${letter.status()}`);
    const evidences = await page.locator(`a[href^="${letterPath}/evidence/"]`).evaluateAll(
      (links) => links.map((a) => a.getAttribute('href')),
    );
    check(evidences.length >= 1, `${letterPath} links to no evidence`);
    const handover = await fetchInto(page, `${base}${evidences[evidences.length - 1]}`, path.join(args.out, 'handover.xml'));
    found.handover = handover.file;
    found.handover_event = handover.event;

    // 3. A letter that needs more than this login's level.
    const strongPath = `/mailbox/letter/${segment(args['strong-letter'])}`;
    const strong = await open(page, base, strongPath);
    found.strong_letter_status = strong.status();
    found.strong_letter_says = (await page.locator('main').innerText().catch(() => '')).trim().slice(0, 300);
    if (shoot) await shoot(page, 'strong-letter');

    // 4. The same answer again, in the same browser.
    const replay = await page.request.get(callbacks[0], { maxRedirects: 0 });
    found.replay_status = replay.status();
    found.replay_set_session = (replay.headers()['set-cookie'] ?? '').includes('sealpost_session');

    // 5. An error answer to a login under way, and a state no login has.
    const started = await page.request.get(`${base}/mailbox/login/oidc`, { maxRedirects: 0 });
    check(started.status() === 303, `/mailbox/login/oidc: HTTP ${started.status()}, not 303`);
    const state = new URL(started.headers().location).searchParams.get('state');
    check(state, `the authorization request has no state: ${started.headers().location}`);
    const error = await page.request.get(`${base}/oidc/callback?error=access_denied&error_description=the+person+said+no&state=${encodeURIComponent(state)}`, { maxRedirects: 0 });
    found.error_status = error.status();
    const wrong = await page.request.get(`${base}/oidc/callback?code=${encodeURIComponent(callback.searchParams.get('code'))}&state=not-a-state`, { maxRedirects: 0 });
    found.wrong_state_status = wrong.status();
  } catch (e) {
    if (!page.isClosed()) {
      const to = path.join(args.out, 'oidc-failure.png');
      await page.screenshot({ path: to, fullPage: true }).catch(() => {});
      e.message += ` (page ${page.url()}, screenshot ${to})`;
    }
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
    await Promise.all([
      page.waitForURL((u) => u.origin !== new URL(base).origin, { timeout: LOGIN_TIMEOUT }),
      page.goto(`${base}/agency/login/${segment(args.sender)}`),
    ]);
    await page.waitForLoadState('load');
    found.agent_provider = await signInAtIdp(page, base, args['agent-user'], args['agent-password'], '/agency/', shoot, 'oidc-agent');
    const content = await page.content();
    found.agency_listing = content.includes(args['agency-letter']);
    check(found.agency_listing, `/agency/ does not list the message ${args['agency-letter']}`);
    if (shoot) await shoot(page, 'agency');
    const link = page.locator('a[href^="/agency/evidence/"]').first();
    check(await link.count() === 1, '/agency/ has no link to /agency/evidence/...');
    const href = await link.getAttribute('href');
    const evidence = await fetchInto(page, `${base}${href}`, path.join(args.out, 'agency-evidence.xml'));
    found.agency_evidence = evidence.file;
  } catch (e) {
    if (!page.isClosed()) {
      const to = path.join(args.out, 'oidc-agent-failure.png');
      await page.screenshot({ path: to, fullPage: true }).catch(() => {});
      e.message += ` (page ${page.url()}, screenshot ${to})`;
    }
    throw e;
  } finally {
    await context.close();
  }
}

async function outsider(browser, args, found) {
  const base = args['base-url'];
  const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
  const page = await context.newPage();
  let answer = null;
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/oidc/callback') answer = r.status();
  });
  try {
    await Promise.all([
      page.waitForURL((u) => u.origin !== new URL(base).origin, { timeout: LOGIN_TIMEOUT }),
      page.goto(`${base}/agency/login/${segment(args.sender)}`),
    ]);
    await page.waitForLoadState('load');
    await signInAtIdp(page, base, args['outsider-user'], args['outsider-password'], '/oidc/callback', null, 'outsider');
    found.outsider_status = answer;
    found.outsider_says = (await page.locator('main').innerText().catch(() => '')).trim().slice(0, 300);
    const after = await page.request.get(`${base}/agency/`, { maxRedirects: 0 });
    found.outsider_agency_status = after.status();
  } finally {
    await context.close();
  }
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
  const shoot = args.screenshots
    ? (p, name) => p.screenshot({ path: path.join(args.screenshots, `oidc-${name}.png`), fullPage: true })
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
    if (args['agent-user']) await agent(browser, args, found, shoot);
    if (args['outsider-user']) await outsider(browser, args, found);
  } finally {
    await browser.close();
    rmSync(home, { recursive: true, force: true });
  }
  return found;
}

try {
  const report = await main();
  if (report) console.log(JSON.stringify(report));
} catch (e) {
  const why = e instanceof CheckFailed ? e.message : (e.stack ?? String(e));
  console.error(`oidc_login.mjs: FAILED: ${why}`);
  process.exit(1);
}
