// The base URL of links Roster hands out (portal pages) and of token audiences/issuers (security
// review C10). ROSTER_PUBLIC_URL when set; otherwise the request's Host only when it is one of
// ROSTER_ALLOWED_HOSTS; otherwise the address the request arrived at (the socket's local address and
// port: where Roster listens). A Host header chosen by a client never ends up in a link by itself.
import type { FastifyRequest } from 'fastify';

export function linkBase(publicUrl: string | null, allowedHosts: readonly string[]): (req: FastifyRequest) => string {
  if (publicUrl) return () => publicUrl;
  const allowed = new Set(allowedHosts.map((h) => h.toLowerCase()));
  return (req) => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (host && allowed.has(host)) return `${req.protocol}://${host}`;
    const s = req.raw.socket;
    const addr = s.localAddress ?? '127.0.0.1';
    const shown = addr.includes(':') ? (addr.startsWith('::ffff:') ? addr.slice(7) : `[${addr}]`) : addr;
    return `http://${shown}:${s.localPort ?? 80}`;
  };
}
