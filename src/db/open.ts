// Where the database comes from: DATABASE_URL when set, else Roster's own embedded PostgreSQL
// under DATA_DIR. Migrations run here so every entry point (server, CLI, tests) sees one schema.
import { createDb, type Db } from './pool.ts';
import { migrate, migrateAt } from './migrate.ts';
import { startEmbedded, connectOrStartEmbedded, type EmbeddedServer } from './embedded/index.ts';

export interface OpenedDb {
  db: Db;
  url: string;
  /** Where session work goes (migrations, LISTEN, backup): DATABASE_DIRECT_URL behind a pooler, else `url`. */
  directUrl: string;
  embedded: EmbeddedServer | null;
  /** Migration names applied by this open. */
  applied: string[];
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl: string | null;
  /** 'transaction': databaseUrl is a transaction-mode pooler (DATABASE_POOLER); directUrl is then required. */
  pooler?: 'transaction' | null;
  /** DATABASE_DIRECT_URL: the server itself, for migrations and other session work. */
  directUrl?: string | null;
  dataDir: string;
  /** 'serve' takes DATA_DIR's lock; 'client' (CLI) uses a running server's database if there is one. */
  role: 'serve' | 'client';
  poolMax?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  migrate?: boolean;
}

/** The connection settings of a Config (DATABASE_URL, DATABASE_POOLER, DATABASE_DIRECT_URL) as OpenOptions. */
export const connectionOptions = (c: { databaseUrl: string | null; databasePooler: 'transaction' | null; databaseDirectUrl: string | null }) =>
  ({ databaseUrl: c.databaseUrl, pooler: c.databasePooler, directUrl: c.databaseDirectUrl });

export async function openDatabase(o: OpenOptions): Promise<OpenedDb> {
  const pooled = o.pooler === 'transaction';
  if (pooled && (!o.databaseUrl || !o.directUrl)) throw new Error('DATABASE_POOLER=transaction needs DATABASE_URL (the pooler) and DATABASE_DIRECT_URL (PostgreSQL itself, for migrations, LISTEN and backup)');
  let embedded: EmbeddedServer | null = null;
  let url = o.databaseUrl;
  if (!url) {
    const eo = { dataDir: o.dataDir, ...(o.log ? { log: o.log } : {}) };
    embedded = o.role === 'serve' ? await startEmbedded(eo) : await connectOrStartEmbedded(eo);
    url = embedded.url;
  }
  const directUrl = o.directUrl ?? url;
  const db = createDb({ url, max: o.poolMax ?? (o.role === 'serve' ? 20 : 4), pooler: pooled ? 'transaction' : 'direct' });
  let applied: string[] = [];
  try {
    if (o.migrate !== false) applied = directUrl === url ? await migrate(db.pool) : await migrateAt(directUrl);
    if (pooled) {
      // Behind a transaction pooler the timeout is `set local` in explicit transactions only; a
      // single statement gets the server's own setting for the role, which should not be "none".
      const r = await db.pool.query<{ t: string }>(`select current_setting('statement_timeout') as t`);
      if (r.rows[0]?.t === '0') o.log?.('warn', "statement_timeout is 0 (none) on the pooled connections: set one for Roster's role, e.g. ALTER ROLE roster SET statement_timeout = '15s' (docs/deploy.md)");
    }
  } catch (e) {
    await db.close();
    await embedded?.stop();
    throw e;
  }
  return {
    db,
    url,
    directUrl,
    embedded,
    applied,
    async close() {
      await db.close();
      await embedded?.stop();
    },
  };
}
