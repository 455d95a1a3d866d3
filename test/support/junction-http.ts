// Raw HTTP helpers for tests of every face (Junction, Onvy, basic, admin): what a non-SDK client
// sends and sees.
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON body, or undefined when the body is empty or not JSON. */
  body: any;
}

export interface RawRequest {
  /** Junction: x-vital-api-key. */
  key?: string | null;
  /** Onvy: X-API-Key. */
  apiKey?: string;
  /** Onvy and basic (and admin): Authorization: Bearer. */
  bearer?: string;
  /** A value to send as JSON (sets content-type application/json). */
  json?: unknown;
  /** Bytes or text sent as is. */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
}

export async function call(baseUrl: string, method: string, path: string, req: RawRequest = {}): Promise<RawResponse> {
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (req.key) headers['x-vital-api-key'] = req.key;
  if (req.apiKey) headers['x-api-key'] = req.apiKey;
  if (req.bearer) headers.authorization = `Bearer ${req.bearer}`;
  let body: string | Uint8Array | undefined;
  if (req.json !== undefined) {
    body = JSON.stringify(req.json);
    headers['content-type'] ??= 'application/json';
  } else if (req.raw !== undefined) {
    body = req.raw;
  }
  const res = await fetch(baseUrl + path, { method, headers, body: body as BodyInit | undefined, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: jsonOrUndefined(text) };
}

function jsonOrUndefined(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Writes `head` (a request line and headers, without the blank line) as raw bytes on a connection of
 * its own, for what fetch will not send (absolute-form targets, spaces in the target), and parses
 * the answer, which ends with the connection.
 */
export function rawHttp(baseUrl: string, head: string): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => socket.end(`${head}\r\nHost: ${hostname}\r\nConnection: close\r\n\r\n`));
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${head.slice(0, 80)}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('utf8');
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`no HTTP answer to ${head.slice(0, 80)}: ${JSON.stringify(all.slice(0, 200))}`));
      const [statusLine, ...lines] = all.slice(0, end).split('\r\n');
      const headers = new Headers();
      for (const l of lines) headers.append(l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim());
      const text = all.slice(end + 4);
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, text, body: jsonOrUndefined(text) });
    });
  });
}

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Junction-style timestamp: ISO 8601 with an explicit offset. */
export const ISO_OFFSET_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)$/;
