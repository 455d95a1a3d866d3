// LISTEN/NOTIFY over one dedicated connection. LISTEN is session state: behind a transaction
// pooler it must go to PostgreSQL itself (DATABASE_DIRECT_URL), never through the pooler; NOTIFY
// (pg_notify) may be sent through either. Used by key revocation (src/store/key-events.ts) and
// open to any other listener (a webhook dispatcher's wake-up): one connection per opener.
import pg from 'pg';

export interface NotificationListener {
  /**
   * LISTENs on `channel` (a lower-case identifier). `onMessage(payload)` per notification;
   * `onGap()` whenever notifications may have been missed (the connection was lost, or is
   * (re)established: the first call comes once the LISTEN is in place), so the caller re-reads
   * what it caches. Returns a function that stops this subscription.
   */
  listen(channel: string, onMessage: (payload: string) => void, onGap?: () => void): () => void;
  /** True while the connection is up and LISTENing. */
  connected(): boolean;
  close(): Promise<void>;
}

interface Sub { channel: string; onMessage: (payload: string) => void; onGap: () => void }

const CHANNEL = /^[a-z_][a-z0-9_]{0,62}$/;

/** Opens (and keeps reconnecting, every `reconnectMs`) one LISTEN connection to `url`. */
export function openListener(url: string, opts: { applicationName?: string; reconnectMs?: number } = {}): NotificationListener {
  const subs = new Set<Sub>();
  let client: pg.Client | null = null;
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  let connecting = false;
  const gap = () => { for (const s of subs) s.onGap(); };
  const channels = () => [...new Set([...subs].map((s) => s.channel))];

  const connect = async () => {
    if (closed || connecting || client) return;
    connecting = true;
    const c = new pg.Client({ connectionString: url, application_name: opts.applicationName ?? 'roster-listen' });
    c.on('error', () => {});
    c.on('end', () => { if (client === c) { client = null; gap(); schedule(); } });
    c.on('notification', (m) => {
      if (m.payload === undefined) return;
      for (const s of subs) if (s.channel === m.channel) s.onMessage(m.payload);
    });
    try {
      await c.connect();
      // Channels added while connecting are picked up too: no await between the last check and `client = c`.
      const done = new Set<string>();
      for (let todo = channels(); todo.length; todo = channels().filter((ch) => !done.has(ch))) {
        for (const ch of todo) { await c.query(`listen ${ch}`); done.add(ch); }
      }
      if (closed) { await c.end().catch(() => {}); return; }
      client = c;
      gap();
    } catch {
      await c.end().catch(() => {});
      gap();
      schedule();
    } finally {
      connecting = false;
    }
  };
  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => { timer = null; void connect(); }, opts.reconnectMs ?? 1000);
    timer.unref();
  };

  return {
    listen(channel, onMessage, onGap = () => {}) {
      if (!CHANNEL.test(channel)) throw new Error(`not a channel name: ${channel}`);
      const sub: Sub = { channel, onMessage, onGap };
      const isNew = !channels().includes(channel);
      subs.add(sub);
      const c = client;
      if (c && isNew) {
        // On the live connection; if that fails the connection is replaced and LISTENs again.
        c.query(`listen ${channel}`).then(() => onGap(), () => { if (client === c) { client = null; void c.end().catch(() => {}); gap(); schedule(); } });
      } else if (c) {
        onGap();
      } else {
        void connect();
      }
      return () => { subs.delete(sub); };
    },
    connected: () => client !== null,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = null;
      if (c) await c.end().catch(() => {});
    },
  };
}
