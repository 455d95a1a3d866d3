// Files that ship beside the code (migrations, package.json), found from the package root, so the
// same code works run from src/ (tests, tsx) and bundled into dist/ (npm start, scripts/build.mjs).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/** The directory of Roster's package.json, found by walking up from this module's file. */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'roster') return (root = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`Roster's package.json not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

let version: string | null = null;

/** Roster's version, from package.json. */
export function rosterVersion(): string {
  version ??= String((JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0');
  return version;
}
