// Settings of the security review's fixes (docs/security.md), read from the environment once with
// the rest of config.ts:
//   ROSTER_TRUST_PROXY   the reverse proxies whose X-Forwarded-For / -Proto / -Host are believed (S5):
//                        a number of hops, "true" (every hop: only when nothing reaches Roster but
//                        the proxy), or a comma-separated list of addresses/CIDRs (or proxy-addr's
//                        names: loopback, linklocal, uniquelocal). Unset: the socket's address is the
//                        client (per-address limits), and forwarded headers are ignored.
//   ROSTER_ALLOWED_HOSTS the Host values (host[:port], comma-separated) links and token audiences may
//                        be built from when ROSTER_PUBLIC_URL is unset (C10). Any other Host gets the
//                        address Roster listens on.
/** Throws config.ts's ConfigError (handed in: no import cycle). */
type Fail = (message: string) => never;

export interface SecurityConfig {
  trustProxy: boolean | number | string[] | null;
  allowedHosts: string[];
}

export function securityConfig(env: NodeJS.ProcessEnv, fail: Fail): SecurityConfig {
  return { trustProxy: trustProxy(env.ROSTER_TRUST_PROXY, fail), allowedHosts: allowedHosts(env.ROSTER_ALLOWED_HOSTS, fail) };
}

function trustProxy(raw: string | undefined, fail: Fail): SecurityConfig['trustProxy'] {
  if (raw === undefined || raw.trim() === '' || raw === 'false') return null;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n < 1 || n > 32) fail(`ROSTER_TRUST_PROXY as a hop count must be from 1 to 32 (got "${raw}")`);
    return n;
  }
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const a of list) {
    if (!/^(loopback|linklocal|uniquelocal|[0-9a-fA-F:.]+(\/\d{1,3})?)$/.test(a)) fail(`ROSTER_TRUST_PROXY must be a hop count, true, or addresses/CIDRs separated by commas (got "${a}")`);
  }
  return list;
}

function allowedHosts(raw: string | undefined, fail: Fail): string[] {
  if (!raw) return [];
  const list = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const h of list) {
    if (!/^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/.test(h)) fail(`ROSTER_ALLOWED_HOSTS must be host[:port] values separated by commas (got "${h}")`);
  }
  return list;
}
