// A webhook receiver on 127.0.0.1 for tests: records every request (raw body and headers) and
// answers what `respond` says (default 204).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received { headers: http.IncomingHttpHeaders; body: string; at: number }

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Decides the answer to each request (status, optional headers, optional delay in ms). */
  respond: (r: Received, n: number) => { status: number; headers?: Record<string, string>; delayMs?: number; body?: string };
  /** Waits until `pred` holds over what was received (bounded). */
  waitFor(pred: (all: Received[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  const r: Receiver = {
    url: '', port: 0, received: [], respond: () => ({ status: 204 }),
    async waitFor(pred, timeoutMs = 20_000, what = 'the expected webhooks') {
      const end = Date.now() + timeoutMs;
      while (!pred(r.received)) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}; received ${r.received.length}: ${r.received.map((x) => x.body.slice(0, 120)).join(' | ')}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    },
    close: async () => {},
  };
  let n = 0;
  // Answers still delayed when the receiver closes are dropped with their connections.
  const held = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const got: Received = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      const a = r.respond(got, n++);
      const answer = () => {
        r.received.push(got);
        res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
        res.end(a.body ?? (a.status >= 400 ? 'nope' : 'ok'));
      };
      if (a.delayMs) { const t = setTimeout(() => { held.delete(t); answer(); }, a.delayMs); held.add(t); } else answer();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((res) => server.listen(port, '127.0.0.1', res));
  r.port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${r.port}/hook`;
  r.close = () => new Promise<void>((res) => { for (const t of held) clearTimeout(t); held.clear(); server.closeAllConnections(); server.close(() => res()); });
  return r;
}

/** Settings for a Roster under test that posts to receivers on 127.0.0.1 quickly. */
export const TEST_WEBHOOKS = { allowHttp: true, allowCidrs: ['127.0.0.0/8'], retrySchedule: [1, 1, 1], pollMs: 200 };

/** Calls the admin API; the answer's JSON body (null when empty). */
export function adminClient(baseUrl: string, token: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const r = await fetch(`${baseUrl}/admin${path}`, {
      method, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
}

/** Polls `f` until it returns a truthy value (bounded). */
export async function eventually<T>(f: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}
