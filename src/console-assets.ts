// The console's pinned htmx (package.json: htmx.org, exact version): the copy scripts/build.mjs puts
// in dist/console/, else the installed package's file. Read once at start; nothing is fetched.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { packageRoot } from './paths.ts';

let cached: Buffer | null = null;

export function loadHtmx(): Buffer {
  if (cached) return cached;
  const built = path.join(packageRoot(), 'dist', 'console', 'htmx.min.js');
  cached = fs.existsSync(built) ? fs.readFileSync(built) : fs.readFileSync(createRequire(import.meta.url).resolve('htmx.org/dist/htmx.min.js'));
  return cached;
}
