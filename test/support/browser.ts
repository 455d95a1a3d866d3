// One headless Chromium for the browser tests (portal page, console, API reference), driven by
// playwright-core, and what every browser test file sets up (browserPerFile, screenshotPath, watchPage).
// Which browser:
//   1. ROSTER_TEST_CHROMIUM=/path/to/chrome, if set (must exist: a typo fails, it does not fall back);
//   2. else a Chromium or Chrome the machine has (Debian's /usr/bin/chromium, chromium-browser,
//      google-chrome, … on PATH);
//   3. else the Chromium shipped inside the npm dev dependency @sparticuz/chromium (its binary is
//      brotli-compressed in the package; no download, no system package).
// ROSTER_TEST_CHROMIUM=npm skips step 2 (to exercise step 3 on a machine that has a system browser).
// There is always a browser, so the browser tests never skip.
//
// @sparticuz/chromium unpacks into os.tmpdir() and returns an existing /tmp/chromium as is, without
// checking who wrote it, and not atomically. So we unpack into a staging folder of our own and rename
// it to node_modules/.cache/roster-chromium-<version>/ (mode 0700, inside the checkout): concurrent
// test files never see a half-written binary and never run one another user planted in /tmp.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { chromium, type Browser, type LaunchOptions, type Page } from 'playwright-core';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome'];
const SYSTEM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable', '/snap/bin/chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', '/Applications/Chromium.app/Contents/MacOS/Chromium'];

/** Flags every launch gets: no sandbox (tests may run as root), no network chatter of the browser's own. */
export const BROWSER_ARGS = ['--no-sandbox', '--no-zygote', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface FoundBrowser { executablePath: string; source: 'env' | 'system' | 'npm'; env?: Record<string, string> }

function isExecutable(p: string): boolean {
  try { fs.accessSync(p, fs.constants.X_OK); return fs.statSync(p).isFile(); } catch { return false; }
}

/** A Chromium/Chrome installed on this machine, or undefined. */
export function systemBrowser(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const n of SYSTEM_NAMES) { const p = path.join(dir, n); if (isExecutable(p)) return p; }
  }
  return SYSTEM_PATHS.find(isExecutable);
}

/** The Chromium of @sparticuz/chromium, unpacked once into node_modules/.cache (see the header). */
export async function npmBrowser(): Promise<FoundBrowser> {
  const require = createRequire(import.meta.url);
  let pkgJson = path.dirname(require.resolve('@sparticuz/chromium')); // its exports hide package.json
  while (!fs.existsSync(path.join(pkgJson, 'package.json')) || path.basename(pkgJson) !== 'chromium') {
    if (path.dirname(pkgJson) === pkgJson) throw new Error('cannot find the folder of @sparticuz/chromium');
    pkgJson = path.dirname(pkgJson);
  }
  pkgJson = path.join(pkgJson, 'package.json');
  const version = (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  const cacheRoot = path.join(ROOT, 'node_modules', '.cache');
  const dir = path.join(cacheRoot, `roster-chromium-${version}`);
  const exe = path.join(dir, 'chromium');
  if (!isExecutable(exe)) {
    fs.mkdirSync(cacheRoot, { recursive: true });
    const staging = path.join(cacheRoot, `.roster-chromium-${process.pid}-${randomBytes(6).toString('hex')}`);
    fs.mkdirSync(staging, { mode: 0o700 });
    const { default: Sparticuz } = await import('@sparticuz/chromium');
    const savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = staging; // it unpacks into os.tmpdir()
    try {
      if (os.tmpdir() !== staging) throw new Error('os.tmpdir() does not follow TMPDIR here; cannot unpack @sparticuz/chromium safely');
      const unpacked = await Sparticuz.executablePath();
      if (path.resolve(unpacked) !== path.join(staging, 'chromium')) throw new Error(`@sparticuz/chromium unpacked to ${unpacked}, expected ${staging}/chromium`);
      // Its fonts.conf points at /tmp/fonts; ours adds the packaged fonts to the machine's own.
      fs.writeFileSync(path.join(staging, 'fonts.conf'), [
        '<?xml version="1.0"?>', '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">', '<fontconfig>',
        '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
        `  <dir>${path.join(dir, 'fonts', 'fonts')}</dir>`,
        `  <cachedir>${path.join(dir, 'fonts-cache')}</cachedir>`, '</fontconfig>', ''].join('\n'));
    } finally {
      if (savedTmp === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = savedTmp;
    }
    try {
      fs.renameSync(staging, dir);
    } catch (e) {
      // Another test file unpacked it first: use theirs.
      fs.rmSync(staging, { recursive: true, force: true });
      if (!isExecutable(exe)) throw e;
    }
  }
  return { executablePath: exe, source: 'npm', env: { FONTCONFIG_FILE: path.join(dir, 'fonts.conf') } };
}

/** Where the browser for the tests is (see the header for the order). */
export async function findBrowser(): Promise<FoundBrowser> {
  const wanted = process.env.ROSTER_TEST_CHROMIUM;
  if (wanted && wanted !== 'npm') {
    if (!isExecutable(wanted)) throw new Error(`ROSTER_TEST_CHROMIUM=${wanted} is not an executable file`);
    return { executablePath: wanted, source: 'env' };
  }
  if (wanted !== 'npm') {
    const sys = systemBrowser();
    if (sys) return { executablePath: sys, source: 'system' };
  }
  return npmBrowser();
}

/** Launch headless Chromium for a test file. Extra options (e.g. more args) are merged in. */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<Browser> {
  const found = await findBrowser();
  return chromium.launch({
    headless: true,
    ...opts,
    executablePath: found.executablePath,
    args: [...BROWSER_ARGS, ...(opts.args ?? [])],
    env: { ...process.env, ...found.env, ...opts.env } as Record<string, string>,
  });
}

// ---------- what every browser test file sets up ----------

/** Where browser tests write their screenshots (docs/console.md shows copies of some). */
export const TEST_OUTPUT = path.join(ROOT, 'test-output');

/**
 * One Chromium for a whole test file (launching one costs seconds): launched before the file's
 * first test, closed after its last. Returns a getter, valid inside tests and hooks.
 */
export function browserPerFile(): () => Browser {
  let browser: Browser | undefined;
  before(async () => {
    browser = await launchBrowser();
    fs.mkdirSync(TEST_OUTPUT, { recursive: true });
  });
  after(async () => { await browser?.close(); });
  return () => {
    if (!browser) throw new Error('the browser is not launched yet (use it inside a test or hook)');
    return browser;
  };
}

/** test-output/<name>.png, suffixed with the backend's name for backends other than the embedded one. */
export function screenshotPath(name: string, backend: string): string {
  return path.join(TEST_OUTPUT, `${name}${backend === 'embedded' ? '' : `-${backend}`}.png`);
}

/**
 * Records what a page does that a test must see: every request it makes (all must go to `origin`)
 * and every script error, CSP refusal or dialog. Error pages (4xx) are logged by Chromium as failed
 * loads: expected, so not counted.
 */
export function watchPage(page: Page, origin: string): { requests: string[]; errors: string[]; assertClean(): void } {
  const requests: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text()); });
  page.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); void d.dismiss(); });
  return {
    requests,
    errors,
    assertClean() {
      for (const r of requests) assert.ok(r.startsWith(origin), `the page fetched something from elsewhere: ${r}`);
      assert.deepEqual(errors, [], 'no script error, dialog or CSP violation');
    },
  };
}
