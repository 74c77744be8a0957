// What the real-browser tests share (saml_login.mjs, oidc_login.mjs): failed checks, the
// re-run that makes Node trust the development root, Chromium's NSS database trusting it, the
// UI's path-segment encoding, a page's main text and evidence downloads.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const CHROMIUM = '/usr/bin/chromium';
export const CERTUTIL = '/usr/bin/certutil';
/** How long a login round trip (Sealpost, the provider, signing, back) may take. */
export const LOGIN_TIMEOUT = 30_000;

export class CheckFailed extends Error {}

export function check(condition, message) {
  if (!condition) throw new CheckFailed(message);
}

/**
 * Runs this script again with NODE_EXTRA_CA_CERTS = the root CA (page.request's TLS trust),
 * forwarding the arguments, the output and the exit status, and exits. False when already so.
 */
export async function rerunTrusting(ca, script) {
  if (process.env.NODE_EXTRA_CA_CERTS === ca) return false;
  const child = spawn(process.execPath, [...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca },
  });
  for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
  const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
  process.exit(code);
}

/** The path-segment encoding the UI uses in its links. */
export function segment(text) {
  return [...Buffer.from(text, 'utf8')]
    .map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
      ? String.fromCharCode(b)
      : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

export async function mainText(page) {
  return (await page.locator('main').innerText().catch(() => page.locator('body').innerText().catch(() => ''))).trim();
}

/** The NSS database Chromium reads from $HOME/.pki/nssdb, trusting `ca` for TLS servers. */
export function trustingHome(ca) {
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

/** GET through the page's request context (the browser context's cookies): the bytes. */
export async function fetchInto(page, url, file) {
  const r = await page.request.get(url, { maxRedirects: 0 });
  const body = await r.body();
  check(r.status() === 200, `GET ${url}: HTTP ${r.status()} ${body.toString('utf8').slice(0, 300)}`);
  check(body.length > 0 && body.toString('utf8').trimStart().startsWith('<'), `GET ${url}: not XML (${body.length} bytes)`);
  writeFileSync(file, body);
  return { file, event: /Event\/([A-Za-z]+)/.exec(body.toString('utf8'))?.[1] ?? null };
}

export async function open(page, base, where) {
  const response = await page.goto(`${base}${where}`);
  check(response, `no response for ${where}`);
  return response;
}

/**
 * On the identity provider's login form (not on Sealpost): fills it in as `user`, signs in and
 * waits until the browser is back on Sealpost at `expectedPath`.
 */
export async function signInAtIdp(page, base, user, password, expectedPath, shoot, name) {
  const form = page.getByLabel('User name');
  await form.waitFor({ state: 'visible', timeout: LOGIN_TIMEOUT }).catch(() => {});
  const at = new URL(page.url());
  check(await form.count() === 1, `${user}: no identity provider login form at ${page.url()}: ${await mainText(page)}`);
  check(at.origin !== new URL(base).origin, `${user}: the login form is on Sealpost (${page.url()}), not the identity provider`);
  const idp = at.origin;
  if (shoot) await shoot(page, `${name}-idp-form`);
  await form.fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  const arrived = page.waitForURL(
    (u) => u.origin === new URL(base).origin && u.pathname === expectedPath,
    { timeout: LOGIN_TIMEOUT, waitUntil: 'load' },
  ).then(() => true, (e) => e);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  const done = await arrived;
  if (done !== true) {
    const alert = await page.getByRole('alert').innerText().catch(() => '');
    throw new CheckFailed(`${user}: after "Sign in" the browser is at ${page.url()}, not ${base}${expectedPath}`
      + `${alert ? ` (the page says: ${alert.trim()})` : `: ${(await mainText(page)).slice(0, 500)}`}`);
  }
  return idp;
}

