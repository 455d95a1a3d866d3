// The HTTP side of webhooks (contract §6): resolve the host, refuse if any address is not allowed,
// connect to the address that was checked (a pinned `lookup`, so DNS cannot change between the
// check and the connection), never follow redirects, give up after 15 s, read at most 64 KiB.
import http from 'node:http';
import https from 'node:https';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, type LookupFunction } from 'node:net';
import { hostOf, type AddressPolicy } from '../../domain/webhooks/ssrf.ts';
import { ATTEMPT_TIMEOUT_MS, parseRetryAfter, RESPONSE_EXCERPT_CAP, RESPONSE_READ_CAP } from '../../domain/webhooks/retry.ts';
import type { WebhookSender } from '../../domain/webhooks/ports.ts';

export type Resolver = (host: string) => Promise<{ address: string; family: number }[]>;

const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Keep-alive pools kept at once (one per receiver address); the oldest goes first. */
const MAX_AGENTS = 256;

export class HttpWebhookSender implements WebhookSender {
  /**
   * Keep-alive connection pools, one per checked address (with the URL's scheme, port and host
   * name): a connection is only ever reused for the address it was opened to, which was checked
   * before that attempt and is checked again before each later one (the pool is chosen after the
   * check). A connection per delivery cost a TCP (and TLS) handshake per event: most of an
   * event's delivery cost (docs/benchmark.md, 2026-12-07).
   */
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly policy: AddressPolicy, private readonly resolve: Resolver = systemResolver, private readonly timeoutMs = ATTEMPT_TIMEOUT_MS) {}

  private agentFor(u: URL, address: string): http.Agent {
    const key = `${u.protocol}//${hostOf(u)}:${u.port}@${address}`;
    let a = this.agents.get(key);
    if (!a) {
      if (this.agents.size >= MAX_AGENTS) {
        const [oldest, agent] = this.agents.entries().next().value as [string, http.Agent];
        this.agents.delete(oldest);
        agent.destroy();
      }
      // As many idle connections kept as may be open: a burst that ends does not close the
      // connections the next burst opens again (each close and connect cost more than the POST).
      const o = { keepAlive: true, maxSockets: 32, maxFreeSockets: 32, scheduling: 'lifo' as const };
      a = u.protocol === 'https:' ? new https.Agent(o) : new http.Agent(o);
      this.agents.set(key, a);
    }
    return a;
  }

  /** Every address the URL's host resolves to, or why it may not be used. */
  private async addresses(url: string): Promise<{ ok: true; u: URL; addrs: { address: string; family: number }[] } | { ok: false; reason: string }> {
    const shape = this.policy.urlProblem(url);
    if (shape) return { ok: false, reason: shape };
    const u = new URL(url);
    const host = hostOf(u);
    let addrs: { address: string; family: number }[];
    if (isIP(host)) addrs = [{ address: host, family: isIP(host) }];
    else {
      try {
        addrs = await this.resolve(host);
      } catch (e) {
        return { ok: false, reason: `${host} does not resolve (${(e as NodeJS.ErrnoException).code ?? 'error'})` };
      }
    }
    if (addrs.length === 0) return { ok: false, reason: `${host} does not resolve` };
    for (const a of addrs) {
      const p = this.policy.addressProblem(a.address);
      if (p) return { ok: false, reason: isIP(host) ? p : `${host} resolves to ${p}` };
    }
    return { ok: true, u, addrs };
  }

  async check(url: string): Promise<string | null> {
    const r = await this.addresses(url);
    return r.ok ? null : r.reason;
  }

  async post(url: string, headers: Record<string, string>, body: string) {
    const t0 = Date.now();
    const r = await this.addresses(url);
    if (!r.ok) return { statusCode: 0, error: 'blocked_address', retryAfterS: null, durationMs: Date.now() - t0, excerpt: r.reason.slice(0, RESPONSE_EXCERPT_CAP) };
    const pinned = r.addrs[0]!;
    const lookup: LookupFunction = (_h, opts, cb) => {
      if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
      else cb(null, pinned.address, pinned.family);
    };
    const mod = r.u.protocol === 'https:' ? https : http;
    const payload = Buffer.from(body, 'utf8');
    return new Promise<Awaited<ReturnType<WebhookSender['post']>>>((resolve) => {
      let settled = false;
      const done = (v: Awaited<ReturnType<WebhookSender['post']>>) => { if (!settled) { settled = true; clearTimeout(timer); resolve(v); } };
      const req = mod.request(r.u, {
        method: 'POST',
        headers: { ...headers, 'content-length': String(payload.length) },
        lookup,
        agent: this.agentFor(r.u, pinned.address),
        // TLS verification always on; the certificate is checked against the URL's host name.
        ...(r.u.protocol === 'https:' ? { servername: isIP(hostOf(r.u)) ? undefined : hostOf(r.u), rejectUnauthorized: true } : {}),
      } as https.RequestOptions, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < RESPONSE_READ_CAP) { chunks.push(c); size += c.length; }
          if (size >= RESPONSE_READ_CAP) res.destroy();
        });
        const finish = () => {
          const code = res.statusCode ?? 0;
          const redirect = code >= 300 && code < 400;
          const ra = res.headers['retry-after'];
          done({
            statusCode: code, error: redirect ? 'redirect' : null, retryAfterS: parseRetryAfter(Array.isArray(ra) ? ra[0] : ra, new Date()),
            durationMs: Date.now() - t0, excerpt: Buffer.concat(chunks).subarray(0, RESPONSE_EXCERPT_CAP).toString('utf8'),
          });
        };
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      });
      const timer = setTimeout(() => {
        done({ statusCode: 0, error: 'timeout', retryAfterS: null, durationMs: Date.now() - t0, excerpt: null });
        req.destroy();
      }, this.timeoutMs);
      req.on('error', (e: NodeJS.ErrnoException) => done({ statusCode: 0, error: `connection_error: ${e.code ?? e.message}`.slice(0, 200), retryAfterS: null, durationMs: Date.now() - t0, excerpt: null }));
      req.end(payload);
    });
  }
}
