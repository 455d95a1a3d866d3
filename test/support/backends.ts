// The PostgreSQL backends this run covers (set by scripts/test.mjs): always the embedded server,
// plus the server at DATABASE_URL when it is set. Each test file gets its own fresh database.
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { createDb, type Db } from '../../src/db/pool.ts';
import { migrate } from '../../src/db/migrate.ts';

export interface Backend { name: 'embedded' | 'server'; url: string }

export function backends(): Backend[] {
  const raw = process.env.ROSTER_TEST_BACKENDS;
  if (!raw) throw new Error('ROSTER_TEST_BACKENDS is not set: run the suites through `npm test` (scripts/test.mjs)');
  const list = JSON.parse(raw) as Backend[];
  if (list.length === 0) throw new Error('no PostgreSQL backend to test against');
  return list;
}

export interface TestDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/** A new, migrated database on `backend`, dropped by `drop()`. */
export async function freshDatabase(backend: Backend, opts: { migrate?: boolean; poolMax?: number } = {}): Promise<TestDatabase> {
  const name = `roster_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: backend.url });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(backend.url);
  u.pathname = `/${name}`;
  const url = u.toString();
  const db = createDb({ url, max: opts.poolMax ?? 10 });
  if (opts.migrate !== false) await migrate(db.pool);
  return {
    url,
    db,
    async drop() {
      await db.close();
      const a = new pg.Client({ connectionString: backend.url });
      await a.connect();
      try {
        await a.query(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

/**
 * The Redis at REDIS_URL, connected, or null when REDIS_URL is unset. Set but unreachable: the
 * connect throws and the suite fails loudly (CI sets it; it never skips).
 */
export async function testRedis(): Promise<import('ioredis').Redis | null> {
  if (!process.env.REDIS_URL) return null;
  const { Redis } = await import('ioredis');
  const redis = new Redis(process.env.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  return redis;
}
