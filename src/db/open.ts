// Where the database comes from: DATABASE_URL when set, else Roster's own embedded PostgreSQL
// under DATA_DIR. Migrations run here so every entry point (server, CLI, tests) sees one schema.
import { createDb, type Db } from './pool.ts';
import { migrate } from './migrate.ts';
import { startEmbedded, connectOrStartEmbedded, type EmbeddedServer } from './embedded/index.ts';

export interface OpenedDb {
  db: Db;
  url: string;
  embedded: EmbeddedServer | null;
  /** Migration names applied by this open. */
  applied: string[];
  close(): Promise<void>;
}

export interface OpenOptions {
  databaseUrl: string | null;
  dataDir: string;
  /** 'serve' takes DATA_DIR's lock; 'client' (CLI) uses a running server's database if there is one. */
  role: 'serve' | 'client';
  poolMax?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
  migrate?: boolean;
}

export async function openDatabase(o: OpenOptions): Promise<OpenedDb> {
  let embedded: EmbeddedServer | null = null;
  let url = o.databaseUrl;
  if (!url) {
    const eo = { dataDir: o.dataDir, ...(o.log ? { log: o.log } : {}) };
    embedded = o.role === 'serve' ? await startEmbedded(eo) : await connectOrStartEmbedded(eo);
    url = embedded.url;
  }
  const db = createDb({ url, max: o.poolMax ?? (o.role === 'serve' ? 20 : 4) });
  let applied: string[] = [];
  try {
    if (o.migrate !== false) applied = await migrate(db.pool);
  } catch (e) {
    await db.close();
    await embedded?.stop();
    throw e;
  }
  return {
    db,
    url,
    embedded,
    applied,
    async close() {
      await db.close();
      await embedded?.stop();
    },
  };
}
