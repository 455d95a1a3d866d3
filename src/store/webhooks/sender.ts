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

export class HttpWebhookSender implements WebhookSender {
  constructor(private readonly policy: AddressPolicy, private readonly resolve: Resolver = systemResolver, private readonly timeoutMs = ATTEMPT_TIMEOUT_MS) {}

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
        agent: false,
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
