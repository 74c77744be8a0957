#!/usr/bin/env node
// The Sealpost mailbox UI in a real browser: Debian's Chromium, headless, driven by
// playwright-core. The browser trusts the development root CA through a throwaway NSS
// database (certutil), so TLS is verified as for a real user: no certificate errors ignored.
//
//   node tests/browser/mailbox.mjs --base-url https://127.0.0.1:8443 --ca certs/dev/root-ca.pem \
//     --out DIR [--screenshots DIR] --totp-secret BASE32 --new-password P \
//     --citizen LOGIN --citizen-password P --mandatary LOGIN --mandatary-password P \
//     --lockout LOGIN --company cbe:... --letter ID --mandated-letter ID --unmandated-letter ID \
//     --manager LOGIN --manager-password P --switcher LOGIN --switcher-password P
//
// Every option may come from the environment instead: --base-url is MAILBOX_BASE_URL, and so
// on. The citizen and the mandatary must be at their first login (they change their password);
// the lockout person is locked for good. --letter is a letter to the citizen, the two others
// letters to the company, the first of a message type within the mandatary's mandate, the
// second outside it. The manager manages the company's mandates; the switcher logs in in Dutch
// and switches to French once logged in. Every page visited is checked with axe-core (WCAG 2.1
// A and AA: any violation fails) and for its landmarks, title, language and skip link.
// Prints one JSON line; exits 1 with the reason on stderr when a check fails.

import { spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const CHROMIUM = '/usr/bin/chromium';
const CERTUTIL = '/usr/bin/certutil';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PHONE_SCALE = 2;
const TOTP_STEP = 30;
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** The labels of the login steps, in the language a login is made in. */
const WORDS = {
  en: {
    user: 'User name', password: 'Password', login: 'Log in', code: 'Verification code (6 digits)',
    verify: 'Verify', newPassword: 'New password', again: 'Confirm the password',
    change: 'Change the password', logout: 'Log out',
  },
  nl: {
    user: 'Gebruikersnaam', password: 'Wachtwoord', login: 'Aanmelden',
    code: 'Verificatiecode (6 cijfers)', verify: 'Controleren', newPassword: 'Nieuw wachtwoord',
    again: 'Bevestig het wachtwoord', change: 'Wachtwoord wijzigen', logout: 'Afmelden',
  },
};

class CheckFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

// ---------------------------------------------------------------------------------------------
// Inputs

const NAMES = [
  'base-url', 'ca', 'out', 'screenshots', 'totp-secret', 'new-password', 'citizen',
  'citizen-password', 'mandatary', 'mandatary-password', 'lockout', 'company', 'letter',
  'mandated-letter', 'unmandated-letter', 'manager', 'manager-password', 'switcher',
  'switcher-password',
];
const OPTIONAL = new Set(['screenshots']);

function inputs() {
  const { values } = parseArgs({
    options: Object.fromEntries(NAMES.map((n) => [n, { type: 'string' }])),
    strict: true,
  });
  const missing = [];
  for (const name of NAMES) {
    const env = `MAILBOX_${name.toUpperCase().replaceAll('-', '_')}`;
    values[name] ??= process.env[env];
    if (values[name] === undefined && !OPTIONAL.has(name)) missing.push(`--${name} (or ${env})`);
  }
  if (missing.length) {
    throw new CheckFailed(`missing inputs: ${missing.join(', ')}`);
  }
  values['base-url'] = values['base-url'].replace(/\/+$/, '');
  values.screenshots ??= values.out;
  return values;
}

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA-1, 30 s steps, 6 digits)

function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) {
    const i = alphabet.indexOf(c);
    if (i < 0) throw new CheckFailed(`the TOTP secret is not base32 (${c})`);
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function totp(key, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(at) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}


const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The server takes each code once per person: a second login waits for the next step. */
const usedSteps = new Map();
async function freshCode(secret, login) {
  for (;;) {
    const step = Math.floor(Date.now() / 1000 / TOTP_STEP);
    if (step > (usedSteps.get(login) ?? -1)) {
      usedSteps.set(login, step);
      return totp(secret, step);
    }
    await sleep(500);
  }
}

// ---------------------------------------------------------------------------------------------
// Browser helpers

/** The path-segment encoding the UI uses in its links. */
function segment(text) {
  return [...Buffer.from(text, 'utf8')]
    .map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

/** A page request that is not a redirect: the page the browser ends on. */
function finalNavigation(page) {
  return page.waitForResponse(
    (r) => r.request().isNavigationRequest() && r.frame() === page.mainFrame()
      && (r.status() < 300 || r.status() >= 400),
  );
}

async function open(page, base, where) {
  const response = await page.goto(`${base}${where}`);
  check(response, `no response for ${where}`);
  return response;
}

/** Clicks the form's submit button (by its accessible name); the page reached. */
async function submit(page, button) {
  const [response] = await Promise.all([
    finalNavigation(page),
    page.getByRole('button', { name: button, exact: true }).click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

async function alertText(page) {
  const alert = page.getByRole('alert');
  check(await alert.count() === 1, `${page.url()}: expected one role="alert" element`);
  return (await alert.innerText()).trim();
}

function pathOf(page) {
  return new URL(page.url()).pathname;
}

/** Password, TOTP and, at a first login, the new password: ends in the inbox. Each page on the
 * way is checked with axe-core when `audits` is given. `lang` is the language the pages are
 * expected in (the browser's, or the one chosen on the login page before). */
async function firstLogin(page, args, secret, login, password, { lang = 'en', audits, chosen } = {}) {
  const base = args['base-url'];
  const w = WORDS[lang];
  if (!chosen) {
    const form = await open(page, base, '/mailbox/login');
    check(form.status() === 200, `login page: HTTP ${form.status()}`);
  }
  check(await page.locator('html').getAttribute('lang') === lang, `the login page is not in ${lang}`);
  check(await page.locator('form[action="/mailbox/login"] input[type=hidden][name=csrf]').count() === 1, 'login form without csrf');
  if (audits) await audit(page, audits, `login-${lang}`);
  await page.getByLabel(w.user).fill(login);
  await page.getByLabel(w.password, { exact: true }).fill(password);
  let r = await submit(page, w.login);
  check(r.status() === 200 && pathOf(page) === '/mailbox/totp',
    `${login}: the password step ended at ${page.url()} (HTTP ${r.status()}): ${await mainText(page)}`);
  check(await page.locator('html').getAttribute('lang') === lang, `${login}: the TOTP page forgot the language ${lang}`);
  if (audits) await audit(page, audits, 'totp');
  // Without the second factor, no inbox.
  await page.getByLabel(w.code).fill(await freshCode(secret, login));
  r = await submit(page, w.verify);
  check(r.status() === 200 && pathOf(page) === '/mailbox/password',
    `${login}: a first login must change the password, got ${page.url()} (HTTP ${r.status()})`);
  check(await page.locator('html').getAttribute('lang') === lang, `${login}: the password page forgot the language ${lang}`);
  if (audits) await audit(page, audits, 'password');
  await page.getByLabel(w.newPassword).fill(args['new-password']);
  await page.getByLabel(w.again).fill(args['new-password']);
  r = await submit(page, w.change);
  check(r.status() === 200 && pathOf(page) === '/mailbox/inbox',
    `${login}: the password change ended at ${page.url()} (HTTP ${r.status()})`);
  check(await page.getByRole('button', { name: w.logout }).count() === 1, `${login}: no logout button`);
  check(await page.locator('html').getAttribute('lang') === lang, `${login}: the inbox forgot the language ${lang}`);
}

async function mainText(page) {
  return (await page.locator('main').innerText().catch(() => '')).trim();
}

/** The links of the person's menu, by their text. */
async function menu(page) {
  return (await page.locator('header nav.menu a').allInnerTexts()).map((t) => t.trim());
}

/** axe-core's source, injected into each page audited. */
let axeSource;
function axe() {
  if (!axeSource) {
    const require = createRequire(import.meta.url);
    let file;
    try {
      file = require.resolve('axe-core/axe.min.js');
    } catch (e) {
      throw new CheckFailed(`axe-core is missing (${e.message}): run \`make deps\` (npm ci in tests/browser)`);
    }
    axeSource = readFileSync(file, 'utf8');
  }
  return axeSource;
}

/**
 * The page on screen, checked for WCAG 2.1 A and AA with axe-core (every violation fails), and
 * for what axe cannot see alone: one h1, a title, the landmarks, a skip link that is the first
 * thing the keyboard reaches and is visible when it is.
 */
async function audit(page, audits, name) {
  await page.addScriptTag({ content: axe() });
  const violations = await page.evaluate(async (tags) => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')),
    }));
  }, AXE_TAGS);
  check(violations.length === 0, `axe-core on ${name} (${page.url()}): ${JSON.stringify(violations)}`);
  const shape = await page.evaluate(() => ({
    lang: document.documentElement.lang,
    title: document.title,
    h1: document.querySelectorAll('h1').length,
    header: document.querySelectorAll('body > header').length,
    main: document.querySelectorAll('main').length,
    footer: document.querySelectorAll('body > footer').length,
    nav: document.querySelectorAll('header nav').length,
  }));
  check(shape.lang && shape.title.trim() && shape.h1 === 1 && shape.header === 1 && shape.main === 1
    && shape.footer === 1 && shape.nav >= 1, `${name}: landmarks, title or language missing: ${JSON.stringify(shape)}`);
  // Start the keyboard at the top of the page, whatever was clicked before.
  await page.evaluate(() => {
    document.body.tabIndex = -1;
    document.body.focus();
    document.body.removeAttribute('tabindex');
  });
  await page.keyboard.press('Tab');
  const focus = await page.evaluate(() => {
    const e = document.activeElement;
    const style = getComputedStyle(e);
    const box = e.getBoundingClientRect();
    return {
      skip: e.matches('a.skip[href="#main"]'),
      outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
      visible: box.top >= 0 && box.bottom <= window.innerHeight && box.width > 0,
    };
  });
  check(focus.skip && focus.outline && focus.visible,
    `${name}: the first Tab does not show the skip link with a visible focus: ${JSON.stringify(focus)}`);
  await page.evaluate(() => document.activeElement?.blur());
  audits[name] = { url: page.url(), violations: 0 };
}

/** Whether the inbox on screen links to letter `id`. */
async function lists(page, id) {
  return await page.locator(`main table a[href="/mailbox/letter/${segment(id)}"]`).count() > 0;
}

async function download(page, link, dir, prefix) {
  const [file] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const failure = await file.failure();
  check(failure === null, `download ${file.url()} failed: ${failure}`);
  const to = path.join(dir, `${prefix}-${file.suggestedFilename()}`);
  await file.saveAs(to);
  return to;
}

/** The NSS database Chromium reads from $HOME/.pki/nssdb, trusting `ca` for TLS servers. */
function trustingHome(ca) {
  check(existsSync(CERTUTIL), `${CERTUTIL} is missing: run \`make deps\` (Debian package libnss3-tools)`);
  const home = mkdtempSync(path.join(tmpdir(), 'sealpost-chromium-'));
  const db = `sql:${path.join(home, '.pki', 'nssdb')}`;
  mkdirSync(path.join(home, '.pki', 'nssdb'), { recursive: true });
  for (const args of [
    ['-N', '-d', db, '--empty-password'],
    ['-A', '-d', db, '-n', 'Sealpost development root', '-t', 'C,,', '-i', ca],
  ]) {
    const run = spawnSync(CERTUTIL, args, { encoding: 'utf8' });
    check(run.status === 0, `certutil ${args.join(' ')}: ${run.stderr || run.error}`);
  }
  return home;
}

// ---------------------------------------------------------------------------------------------
// The checks

async function main() {
  // RFC 6238 appendix B, SHA-1, T = 59 s (step 1): 94287082, whose last six digits we use.
  check(totp(Buffer.from('12345678901234567890'), 1) === '287082', 'the TOTP self-test failed');
  const args = inputs();
  const base = args['base-url'];
  const secret = base32(args['totp-secret']);
  check(existsSync(CHROMIUM), `${CHROMIUM} is missing: run \`make deps\` (Debian package chromium)`);
  let chromium;
  try {
    ({ chromium } = await import('playwright-core'));
  } catch (e) {
    throw new CheckFailed(`playwright-core is missing (${e.message}): run \`make deps\` (npm ci in tests/browser)`);
  }
  mkdirSync(args.out, { recursive: true });
  mkdirSync(args.screenshots, { recursive: true });
  const home = trustingHome(args.ca);
  const found = { base_url: base, trust: 'NSS database with the development root (certutil)' };
  const audits = {};
  found.audits = audits;
  const shots = [];
  found.screenshots = shots;
  /** A screenshot of the page on screen, into the screenshots folder. */
  const shoot = async (p, name) => {
    const to = path.join(args.screenshots, `mailbox-${name}.png`);
    await p.screenshot({ path: to, fullPage: true });
    shots.push(to);
    return to;
  };
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--disable-dev-shm-usage'],
    env: { ...process.env, HOME: home },
  });
  found.chromium = browser.version();
  let page;
  try {
    // bypassCSP lets the test inject axe-core; the service's CSP stays as it is for the pages.
    const desktop = { viewport: DESKTOP, locale: 'en-GB', acceptDownloads: true, bypassCSP: true };
    const phoneOptions = {
      viewport: PHONE, deviceScaleFactor: PHONE_SCALE, isMobile: true, hasTouch: true,
      locale: 'en-GB', bypassCSP: true,
    };

    // Three wrong passwords lock the account; then even the right one is refused, with the
    // same answer as a wrong one.
    let context = await browser.newContext(desktop);
    page = await context.newPage();
    const statuses = [];
    const alerts = [];
    for (let i = 0; i < 4; i++) {
      await open(page, base, '/mailbox/login');
      await page.getByLabel('User name').fill(args.lockout);
      await page.getByLabel('Password', { exact: true })
        .fill(i < 3 ? `wrong password ${i}` : args['citizen-password']);
      statuses.push((await submit(page, 'Log in')).status());
      alerts.push(await alertText(page));
      if (i === 0) {
        // The error is said once: not in the heading, not twice in the page.
        const body = await page.locator('body').innerText();
        found.error_times_shown = body.split(alerts[0]).length - 1;
        check(found.error_times_shown === 1, `the login error is shown ${found.error_times_shown} times`);
        check((await page.locator('h1').innerText()).trim() === 'Log in', 'the error is in the heading');
        await audit(page, audits, 'login-error');
        await shoot(page, 'login-error');
      }
    }
    found.lockout_statuses = statuses;
    found.lockout_status = statuses[2];
    found.lockout_message = alerts[2];
    // One answer for a wrong password and a locked account: nothing tells which it is.
    check(JSON.stringify(statuses) === '[401,401,401,401]',
      `lockout: expected HTTP 401, 401, 401, 401, got ${statuses.join(', ')}`);
    check(/wrong user name or password/i.test(alerts[0]), `lockout: first alert "${alerts[0]}"`);
    check(alerts.every((a) => a === alerts[0]), `lockout: alerts ${JSON.stringify(alerts)}`);
    await context.close();

    // The citizen: first login, inbox, letter, downloads.
    context = await browser.newContext(desktop);
    page = await context.newPage();
    // The documented address opens the mailbox: the login page before login.
    for (const entry of ['/mailbox/', '/mailbox', '/']) {
      const r = await open(page, base, entry);
      check(r.status() === 200 && pathOf(page) === '/mailbox/login',
        `${entry} ended at ${page.url()} (HTTP ${r.status()}), not the login page`);
    }
    found.entry = pathOf(page);
    await shoot(page, 'login');
    await firstLogin(page, args, secret, args.citizen, args['citizen-password'], { audits, chosen: true });
    check(await lists(page, args.letter), `${args.citizen}'s inbox does not list ${args.letter}`);
    await audit(page, audits, 'inbox');
    // The person's name, not only the national number; only the pages they may use.
    found.citizen_header = (await page.locator('header').innerText()).trim();
    check(found.citizen_header.includes('Jan Peeters'), `the header does not name Jan: ${found.citizen_header}`);
    found.citizen_menu = await menu(page);
    check(JSON.stringify(found.citizen_menu) === JSON.stringify(['Inbox', 'Electronic delivery', 'Help']),
      `the citizen's menu: ${JSON.stringify(found.citizen_menu)}`);
    const entered = await open(page, base, '/mailbox/');
    check(entered.status() === 200 && pathOf(page) === '/mailbox/inbox', `/mailbox/ once logged in ended at ${page.url()}`);
    check(!await lists(page, args['mandated-letter']), `${args.citizen}'s inbox lists the company's letter`);
    found.inbox_screenshot = path.join(args.screenshots, 'mailbox-inbox.png');
    await page.screenshot({ path: found.inbox_screenshot, fullPage: true });

    // A phone, in the same session.
    const phone = await browser.newContext({ ...phoneOptions, storageState: await context.storageState() });
    const phonePage = await phone.newPage();
    const phoneInbox = await open(phonePage, base, '/mailbox/inbox');
    check(phoneInbox.status() === 200 && pathOf(phonePage) === '/mailbox/inbox',
      `phone: the inbox answered HTTP ${phoneInbox.status()} at ${phonePage.url()}`);
    found.phone_scale = PHONE_SCALE;
    found.phone_scroll_width = await phonePage.evaluate(() => document.documentElement.scrollWidth);
    found.phone_screenshot = path.join(args.screenshots, 'mailbox-inbox-phone.png');
    await phonePage.screenshot({ path: found.phone_screenshot, fullPage: true });
    await audit(phonePage, audits, 'inbox-phone');
    await open(phonePage, base, `/mailbox/letter/${segment(args.letter)}`);
    await audit(phonePage, audits, 'letter-phone');
    await shoot(phonePage, 'letter-phone');
    await open(phonePage, base, '/mailbox/help');
    await shoot(phonePage, 'help-phone');
    await open(phonePage, base, '/no-such-page');
    await shoot(phonePage, 'not-found-phone');
    await phone.close();

    const [letter] = await Promise.all([
      finalNavigation(page),
      page.locator(`main table a[href="/mailbox/letter/${segment(args.letter)}"]`).click(),
    ]);
    await page.waitForLoadState('load');
    found.letter_status = letter.status();
    check(letter.status() === 200, `the letter answered HTTP ${letter.status()}`);
    found.letter_screenshot = path.join(args.screenshots, 'mailbox-letter.png');
    await page.screenshot({ path: found.letter_screenshot, fullPage: true });
    const documents = page.locator('main a[href*="/document/"]');
    check(await documents.count() >= 1, 'the letter page lists no document');
    found.document = await download(page, documents.first(), args.out, 'document');
    found.document_sha256 = createHash('sha256').update(readFileSync(found.document)).digest('hex');
    check(await page.locator('main code', { hasText: found.document_sha256 }).count() === 1,
      `the letter page does not show the downloaded document's SHA-256 ${found.document_sha256}`);
    await audit(page, audits, 'letter');
    // Each proof in plain words, with its local date and time, and how to check it.
    found.evidence_texts = (await page.locator('main ul.evidences li p:first-child').allInnerTexts()).map((t) => t.trim());
    const when = '\\d{1,2} [A-Z][a-z]+ \\d{4} at \\d{2}:\\d{2}';
    for (const [name, says] of [
      ['Proof of dispatch', 'the sender handed this letter to Sealpost on'],
      ['Proof of delivery', 'Sealpost placed this letter in the mailbox on'],
      ['Proof of opening', 'Jan Peeters \\(jan\\) opened this letter on'],
    ]) {
      check(found.evidence_texts.some((t) => new RegExp(`^${name}: ${says} ${when}\\.$`).test(t)),
        `the letter page does not explain "${name}": ${JSON.stringify(found.evidence_texts)}`);
    }
    check(await page.locator('main a[href="/provider/trusted-list.xml"]').count() === 1
      && /sealpost-verify/.test(await mainText(page)), 'the letter page does not say how to check a proof');
    const handover = page.getByRole('link', { name: /Proof of opening/ });
    check(await handover.count() === 1, 'the letter page has no link to download the proof of opening');
    found.evidence = await download(page, handover, args.out, 'evidence');
    const xml = readFileSync(found.evidence, 'utf8');
    check(xml.includes('/Event/ContentHandover<') && xml.includes(`>${found.document_sha256}<`),
      `${found.evidence} is not the ContentHandover evidence of the document downloaded`);

    // The letter's access journal: the page, the document and the evidence, each read by Jan.
    await open(page, base, `/mailbox/letter/${segment(args.letter)}`);
    found.journal = await page.locator('main ul.journal li').allInnerTexts();
    check(found.journal.length >= 3 && found.journal.every((l) => l.includes('Jan Peeters')),
      `the access journal does not show Jan's reads: ${JSON.stringify(found.journal)}`);
    for (const part of ['document', 'evidence']) {
      check(found.journal.some((l) => l.toLowerCase().includes(part)),
        `the access journal has no read of the ${part}: ${JSON.stringify(found.journal)}`);
    }

    // Jan refuses electronic delivery (seed 003 art. 6): the page says so from now on.
    await open(page, base, '/mailbox/delivery');
    await audit(page, audits, 'delivery');
    const refused = await submit(page, 'Refuse electronic delivery');
    found.delivery_refusal_status = refused.status();
    found.delivery_state = await page.locator('main').innerText();
    check(refused.status() === 200 && /refused electronic delivery since/i.test(found.delivery_state),
      `refusing electronic delivery: HTTP ${refused.status()}, "${found.delivery_state}"`);

    // Another mailbox's letter is a page that does not exist, word for word.
    const foreign = await open(page, base, `/mailbox/letter/${segment(args['mandated-letter'])}`);
    const foreignText = await page.locator('main').innerText();
    const missingId = 'urn:uuid:00000000-0000-7000-8000-000000000000';
    const missing = await open(page, base, `/mailbox/letter/${segment(missingId)}`);
    const missingText = await page.locator('main').innerText();
    found.foreign_letter_status = foreign.status();
    found.missing_letter_status = missing.status();
    check(foreign.status() === 404 && missing.status() === 404,
      `another mailbox's letter: HTTP ${foreign.status()}, a missing letter: HTTP ${missing.status()}`);
    check(foreignText === missingText,
      `another mailbox's letter does not look missing: "${foreignText}" vs "${missingText}"`);
    // A citizen manages no company: no mandates page (and no link to it).
    const noMandates = await open(page, base, '/mailbox/mandates');
    check(noMandates.status() === 404, `the citizen's mandates page answered HTTP ${noMandates.status()}`);

    // The help page: the operator, its contact, the notices, how to check a proof.
    await open(page, base, '/mailbox/help');
    found.help = await mainText(page);
    check(/operator/i.test(found.help) && /@/.test(found.help) && /sealpost-verify/.test(found.help),
      `the help page does not say whom to contact and how to check a proof: ${found.help}`);
    await audit(page, audits, 'help');
    found.help_screenshot = await shoot(page, 'help');

    // Any other address: a 404 page, in HTML, in the person's language.
    for (const missingPath of [`/no-such-page-${Date.now()}`, '/mailbox/no-such-page']) {
      const r = await open(page, base, missingPath);
      check(r.status() === 404 && (r.headers()['content-type'] ?? '').startsWith('text/html'),
        `${missingPath}: HTTP ${r.status()} ${r.headers()['content-type']}`);
      check((await page.locator('h1').innerText()).trim() === 'This page does not exist', `${missingPath}: not the 404 page`);
    }
    await audit(page, audits, 'not-found');
    found.not_found_screenshot = await shoot(page, 'not-found');

    // Logging out says so, with a way back in.
    await open(page, base, '/mailbox/inbox');
    const out = await submit(page, 'Log out');
    check(out.status() === 200 && pathOf(page) === '/mailbox/logged-out'
      && (await page.locator('h1').innerText()).trim() === 'You are logged out',
    `logging out ended at ${page.url()} (HTTP ${out.status()}): ${await mainText(page)}`);
    check(await page.getByRole('link', { name: 'Log in again' }).count() === 1, 'no way to log in again');
    await audit(page, audits, 'logged-out');
    await shoot(page, 'logged-out');
    const after = await open(page, base, '/mailbox/inbox');
    check(pathOf(page) === '/mailbox/login' && after.status() === 200, `after logging out the inbox ended at ${page.url()}`);
    await context.close();

    // The mandatary sees the company's letters of the mandated types only.
    context = await browser.newContext(desktop);
    page = await context.newPage();
    await firstLogin(page, args, secret, args.mandatary, args['mandatary-password']);
    const inbox = await open(page, base, `/mailbox/inbox?mailbox=${segment(args.company)}`);
    check(inbox.status() === 200, `${args.mandatary}: the company's inbox answered HTTP ${inbox.status()}`);
    found.mandated_letter_listed = await lists(page, args['mandated-letter']);
    found.unmandated_letter_listed = await lists(page, args['unmandated-letter']);
    check(found.mandated_letter_listed, `${args.mandatary} does not see the mandated letter`);
    check(!found.unmandated_letter_listed, `${args.mandatary} sees a letter outside the mandate`);
    const outside = await open(page, base, `/mailbox/letter/${segment(args['unmandated-letter'])}`);
    found.unmandated_letter_status = outside.status();
    check(outside.status() === 404, `the letter outside the mandate answered HTTP ${outside.status()}`);
    const within = await open(page, base, `/mailbox/letter/${segment(args['mandated-letter'])}`);
    found.mandated_letter_status = within.status();
    check(within.status() === 200, `the mandated letter answered HTTP ${within.status()}`);
    // A mandatary manages nothing: no mandates in the menu.
    found.mandatary_menu = await menu(page);
    check(!found.mandatary_menu.includes('Mandates') && !found.mandatary_menu.includes('Electronic delivery'),
      `the mandatary's menu: ${JSON.stringify(found.mandatary_menu)}`);
    await context.close();

    // The company's access manager: the mandates page, offered in the menu.
    context = await browser.newContext(desktop);
    page = await context.newPage();
    await firstLogin(page, args, secret, args.manager, args['manager-password']);
    found.manager_menu = await menu(page);
    check(found.manager_menu.includes('Mandates'), `the manager's menu: ${JSON.stringify(found.manager_menu)}`);
    const mandates = await open(page, base, '/mailbox/mandates');
    check(mandates.status() === 200, `the mandates page answered HTTP ${mandates.status()}`);
    await audit(page, audits, 'mandates');
    await shoot(page, 'mandates');
    await context.close();

    // Languages: chosen on the login page (Dutch), kept through the login, switched once logged
    // in (French) and midway (English on the TOTP page of a second login): every form works.
    context = await browser.newContext(desktop);
    page = await context.newPage();
    await open(page, base, '/mailbox/login');
    await Promise.all([finalNavigation(page), page.getByRole('link', { name: 'Nederlands' }).click()]);
    await page.waitForLoadState('load');
    await firstLogin(page, args, secret, args.switcher, args['switcher-password'], { lang: 'nl', audits, chosen: true });
    await audit(page, audits, 'inbox-nl');
    await shoot(page, 'inbox-nl');
    await Promise.all([finalNavigation(page), page.getByRole('link', { name: 'Français' }).click()]);
    await page.waitForLoadState('load');
    check(await page.locator('html').getAttribute('lang') === 'fr' && pathOf(page) === '/mailbox/inbox',
      `switching to French after login ended at ${page.url()}`);
    await open(page, base, '/mailbox/help');
    check(await page.locator('html').getAttribute('lang') === 'fr', 'French is not remembered after login');
    const outFr = await submit(page, 'Se déconnecter');
    found.logged_out_fr = (await page.locator('h1').innerText()).trim();
    check(outFr.status() === 200 && found.logged_out_fr === 'Vous êtes déconnecté',
      `logging out in French: HTTP ${outFr.status()}, "${found.logged_out_fr}" at ${page.url()}`);
    // Logged out, the language stays; a second login switches to English on the TOTP page.
    await page.getByRole('link', { name: 'Se reconnecter' }).click();
    await page.waitForLoadState('load');
    check(await page.locator('html').getAttribute('lang') === 'fr', 'the login page after logging out is not in French');
    await page.getByLabel('Identifiant').fill(args.switcher);
    await page.getByLabel('Mot de passe', { exact: true }).fill(args['new-password']);
    let step = await submit(page, 'Se connecter');
    check(step.status() === 200 && pathOf(page) === '/mailbox/totp', `second login in French ended at ${page.url()}`);
    await Promise.all([finalNavigation(page), page.getByRole('link', { name: 'English' }).click()]);
    await page.waitForLoadState('load');
    await page.getByLabel('Verification code (6 digits)').fill(await freshCode(secret, args.switcher));
    step = await submit(page, 'Verify');
    check(step.status() === 200 && pathOf(page) === '/mailbox/inbox',
      `the code after switching to English ended at ${page.url()} (HTTP ${step.status()}): ${await mainText(page)}`);
    found.language_switches = 'nl before login, fr after, en midway: every form worked';
    await context.close();
    page = undefined;
  } catch (e) {
    if (page && !page.isClosed()) {
      found.failure_screenshot = path.join(args.out, 'failure.png');
      await page.screenshot({ path: found.failure_screenshot, fullPage: true }).catch(() => {});
      e.message += ` (page ${page.url()}, screenshot ${found.failure_screenshot})`;
    }
    throw e;
  } finally {
    await browser.close();
    rmSync(home, { recursive: true, force: true });
  }
  return found;
}

try {
  console.log(JSON.stringify(await main()));
} catch (e) {
  const why = e instanceof CheckFailed ? e.message : (e.stack ?? String(e));
  console.error(`mailbox.mjs: FAILED: ${why}`);
  process.exit(1);
}
