// Which URLs and addresses a webhook may be sent to (contract §6). The resolving and the pinned
// connection are the sender's (src/store/webhooks/sender.ts); the rules are here.
import { BlockList, isIP } from 'node:net';

export interface SsrfPolicy {
  allowHttp: boolean;
  /** ROSTER_WEBHOOK_ALLOW_CIDRS: ranges exempt from the address rule (e.g. 127.0.0.0/8 in tests). */
  allowCidrs: string[];
  /**
   * Any address and host name: for the operator's own URL (ROSTER_OPERATIONAL_WEBHOOK_URL), which
   * no team chose. Credentials in the URL and non-http(s) schemes are still refused.
   */
  anyAddress?: boolean;
}

const BLOCKED_V4: [string, number][] = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4], ['255.255.255.255', 32],
];
const BLOCKED_V6: [string, number][] = [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23], ['2001:db8::', 32],
  ['2002::', 16], ['3fff::', 20], ['5f00::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
];

const blocked = new BlockList();
for (const [a, p] of BLOCKED_V4) blocked.addSubnet(a, p, 'ipv4');
for (const [a, p] of BLOCKED_V6) blocked.addSubnet(a, p, 'ipv6');

/** Parses "a/b,c/d" into a BlockList of allowed ranges; throws on a malformed range. */
export function parseCidrs(raw: string | undefined): string[] {
  if (!raw || !raw.trim()) return [];
  const out = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of out) {
    const m = /^(.+)\/(\d{1,3})$/.exec(c);
    const v = m ? isIP(m[1]!) : 0;
    if (!m || !v || Number(m[2]) > (v === 4 ? 32 : 128)) throw new Error(`ROSTER_WEBHOOK_ALLOW_CIDRS: "${c}" is not a CIDR range`);
  }
  return out;
}

function allowList(cidrs: string[]): BlockList {
  const l = new BlockList();
  for (const c of cidrs) {
    const [a, p] = c.split('/') as [string, string];
    l.addSubnet(a, Number(p), isIP(a) === 4 ? 'ipv4' : 'ipv6');
  }
  return l;
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 it stands for. */
export function canonicalIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (m) return m[1]!;
  const h = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(ip);
  if (h) {
    const a = parseInt(h[1]!, 16); const b = parseInt(h[2]!, 16);
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return ip;
}

export class AddressPolicy {
  private readonly allow: BlockList;
  constructor(readonly policy: SsrfPolicy) { this.allow = allowList(policy.allowCidrs); }

  /** Null when the address may be connected to, else why not. */
  addressProblem(ip: string): string | null {
    const c = canonicalIp(ip);
    const fam = isIP(c) === 4 ? 'ipv4' : 'ipv6';
    if (!isIP(c)) return `not an IP address: ${ip}`;
    if (this.policy.anyAddress || this.allow.check(c, fam)) return null;
    if (blocked.check(c, fam)) return `${ip} is a private, loopback, link-local, metadata or reserved address`;
    return null;
  }

  /** The URL's form alone (before resolving): scheme, credentials, names never allowed. */
  urlProblem(raw: string): string | null {
    let u: URL;
    try { u = new URL(raw); } catch { return 'not an absolute URL'; }
    if (raw.length > 2048) return 'longer than 2048 characters';
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'only https URLs are allowed';
    if (u.protocol === 'http:' && !this.policy.allowHttp) return 'only https URLs are allowed (ROSTER_WEBHOOK_ALLOW_HTTP=1 allows http)';
    if (u.username || u.password) return 'URLs with user:password@ are not allowed';
    if (u.hash) return 'URLs with a #fragment are not allowed';
    const host = hostOf(u);
    if (!isIP(host) && !this.policy.anyAddress) {
      const h = host.toLowerCase().replace(/\.$/, '');
      if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.internal') || h === 'host.docker.internal') return `${host} is not allowed`;
    }
    return null;
  }
}

/** The URL's host without IPv6 brackets. */
export const hostOf = (u: URL): string => u.hostname.replace(/^\[|\]$/g, '');
