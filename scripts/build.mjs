#!/usr/bin/env node
// Builds what `npm start` and the `roster` command run: src/ bundled by esbuild into two ES modules,
// dist/main.mjs (the server) and dist/cli.mjs (the CLI), with every npm package left as an import.
//
// Why not run src/ through tsx as before: tsx's loader runs on a thread of its own with its own V8
// heap (~30-40 MB of RSS for the life of the process) and transforms ~110 files at every start.
// The bundle is one file per entry point, built in ~0.3 s, and rebuilt only when a source changed.
//
//   node scripts/build.mjs            build
//   ensureBuilt() (scripts/start.mjs) build only when dist/ is missing or older than a source file
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
export const ENTRIES = { main: 'src/main.ts', cli: 'src/cli/index.ts' };
// What the bundle depends on besides src/: the build settings themselves.
const INPUTS = ['src', 'scripts/build.mjs', 'package.json', 'tsconfig.json'];

function newestMtime(p) {
  const st = fs.statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const e of fs.readdirSync(p)) m = Math.max(m, newestMtime(path.join(p, e)));
  return m;
}

export function isStale() {
  let built = Infinity;
  for (const name of Object.keys(ENTRIES)) {
    try { built = Math.min(built, fs.statSync(path.join(DIST, `${name}.mjs`)).mtimeMs); } catch { return true; }
  }
  return INPUTS.some((p) => { try { return newestMtime(path.join(ROOT, p)) > built; } catch { return false; } });
}

export async function buildAll() {
  fs.mkdirSync(DIST, { recursive: true });
  const r = await build({
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, v])),
    outdir: DIST,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: 'linked',
    write: false,
    logLevel: 'warning',
  });
  // The console's pinned htmx ships in the build (served by Roster; no CDN, nothing fetched).
  const htmx = fs.readFileSync(path.join(ROOT, 'node_modules', 'htmx.org', 'dist', 'htmx.min.js'));
  fs.mkdirSync(path.join(DIST, 'console'), { recursive: true });
  const outputs = [...r.outputFiles, { path: path.join(DIST, 'console', 'htmx.min.js'), contents: htmx }];
  // Written under temporary names and renamed, so a process starting while another builds never
  // reads half a file.
  for (const f of outputs) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, f.contents);
    fs.renameSync(tmp, f.path);
  }
}

export async function ensureBuilt() {
  if (isStale()) await buildAll();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const t0 = performance.now();
  await buildAll();
  process.stdout.write(`built ${Object.keys(ENTRIES).map((n) => `dist/${n}.mjs`).join(', ')} in ${Math.round(performance.now() - t0)} ms\n`);
}
