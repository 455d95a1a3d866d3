// The one place console browser tests launch Chromium (Debian's /usr/bin/chromium through
// playwright-core; no browser download). Swap this for the shared launcher (task a11-standalone,
// which falls back to @sparticuz/chromium) when it lands: callers only use launchChromium().
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const LAUNCH_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium; throws (the test fails, never skips) when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is required for the console browser tests but ${CHROMIUM} does not exist. Install Debian's chromium (apt-get install chromium); CI installs it. This test does not skip.`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
}
