// Key revocations reach every instance at once through PostgreSQL LISTEN/NOTIFY, so each instance
// may cache key lookups without a revoked key staying usable anywhere. The LISTEN connection goes
// to PostgreSQL itself (DATABASE_DIRECT_URL behind a transaction pooler: src/db/listen.ts); the
// NOTIFY is an ordinary statement and goes through the pool.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { openListener, type NotificationListener } from '../db/listen.ts';

export const KEY_CHANNEL = 'roster_key_revoked';

/** Tells every listening instance that the key with this hash (hex) no longer works. */
export async function publishKeyRevoked(db: Kysely<Database>, hashHex: string): Promise<void> {
  await sql`select pg_notify(${KEY_CHANNEL}, ${hashHex})`.execute(db);
}

export interface KeyEventsSubscription {
  close(): Promise<void>;
}

/**
 * Keeps a connection LISTENing: its own one to `source` when given a URL, or a subscription on a
 * shared listener. `onRevoked(hashHex)` per event; `onGap()` whenever events may have been missed
 * (connection lost or re-established), so the caller drops its cache.
 */
export function subscribeKeyEvents(source: string | NotificationListener, onRevoked: (hashHex: string) => void, onGap: () => void): KeyEventsSubscription {
  const own = typeof source === 'string' ? openListener(source) : null;
  const listener = own ?? (source as NotificationListener);
  const stop = listener.listen(KEY_CHANNEL, (payload) => { if (payload) onRevoked(payload); }, onGap);
  return {
    async close() {
      stop();
      await own?.close();
    },
  };
}
