// PostgreSQL helpers the benchmark scripts share: a database's URL on the same server, one client
// for one piece of work, and the URL of the cluster Roster started under a data directory.
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { HOST } from './proc.ts';

export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Roster's own database on the embedded cluster it runs under `dataDir` (embedded.json). */
export function embeddedUrl(dataDir: string): string {
  const s = JSON.parse(fs.readFileSync(path.join(dataDir, 'embedded.json'), 'utf8')) as { user: string; password: string; port: number };
  return `postgres://${s.user}:${encodeURIComponent(s.password)}@${HOST}:${s.port}/roster`;
}
