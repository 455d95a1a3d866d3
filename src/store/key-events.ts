// Key revocations reach every instance at once through PostgreSQL LISTEN/NOTIFY, so each instance
// may cache key lookups without a revoked key staying usable anywhere.
import pg from 'pg';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

export const KEY_CHANNEL = 'roster_key_revoked';

/** Tells every listening instance that the key with this hash (hex) no longer works. */
export async function publishKeyRevoked(db: Kysely<Database>, hashHex: string): Promise<void> {
  await sql`select pg_notify(${KEY_CHANNEL}, ${hashHex})`.execute(db);
}

export interface KeyEventsSubscription {
  close(): Promise<void>;
}

/**
 * Keeps one dedicated connection LISTENing. `onRevoked(hashHex)` per event; `onGap()` whenever
 * events may have been missed (connection lost or re-established), so the caller drops its cache.
 */
export function subscribeKeyEvents(url: string, onRevoked: (hashHex: string) => void, onGap: () => void): KeyEventsSubscription {
  let client: pg.Client | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url, application_name: 'roster-listen' });
    c.on('error', () => {});
    c.on('end', () => { if (client === c) { client = null; onGap(); schedule(); } });
    c.on('notification', (m) => { if (m.channel === KEY_CHANNEL && m.payload) onRevoked(m.payload); });
    try {
      await c.connect();
      await c.query(`listen ${KEY_CHANNEL}`);
      if (closed) { await c.end().catch(() => {}); return; }
      client = c;
      onGap();
    } catch {
      await c.end().catch(() => {});
      onGap();
      schedule();
    }
  };
  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => { timer = null; void connect(); }, 1000);
    timer.unref();
  };
  void connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      if (c) await c.end().catch(() => {});
    },
  };
}
