// Sign-in (admin token or one-time link), sign-out, and the team switcher.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseUuid } from '../../domain/ids.ts';
import type { SignInResult } from '../../domain/console.ts';
import { html, type Html } from './html.ts';
import { BASE } from './layout.ts';
import type { ConsoleKit } from './kit.ts';

export interface CookieOps {
  setCookie(reply: FastifyReply, sessionId: string): void;
  clearCookie(reply: FastifyReply): void;
  sessionId(req: FastifyRequest): string | null;
  sameOrigin(req: FastifyRequest): boolean;
}

/** The one message for every failed sign-in (wrong token, used or expired link, throttled). */
export const SIGN_IN_FAILED = 'Sign-in failed. Check the admin token (or ask for a new sign-in link) and try again in a moment.';

/** Only console paths are followed after sign-in. */
function safeNext(v: unknown): string {
  return typeof v === 'string' && v.startsWith(`${BASE}/`) && !v.startsWith(`${BASE}/login`) && !/[\\\s]|\/\//.test(v.slice(1)) ? v : `${BASE}/`;
}

export function authRoutes(app: FastifyInstance, kit: ConsoleKit, c: CookieOps) {
  const { access } = kit.deps;
  // The credential throttle every face shares (security review C4): a failed sign-in here counts
  // against the address everywhere, and an address throttled anywhere waits here too (before any
  // token is compared). The console's own SignInThrottle (src/domain/console.ts) still adds its
  // exponential wait per client and its cap on failures from all clients together.
  const throttle = kit.deps.services.throttle;

  const loginPage = (req: FastifyRequest, reply: FastifyReply, o: { next: string; link?: string; error?: string }, status = 200) => {
    let body: Html;
    if (o.link !== undefined) {
      body = html`<div class="login">
        <p>This one-time link signs you in to Roster's console. It works once and for 10 minutes.</p>
        <form method="post" action="${BASE}/login">
          <input type="hidden" name="link" value="${o.link}">
          <input type="hidden" name="next" value="${o.next}">
          <button type="submit">Sign in</button>
        </form></div>`;
    } else {
      body = html`<div class="login">
        ${access.tokenSignIn
          ? html`<p>Sign in with the admin token (the value of <code>ROSTER_ADMIN_TOKEN</code>).</p>`
          : html`<p>No <code>ROSTER_ADMIN_TOKEN</code> is set: open the one-time sign-in link printed when Roster started (restart Roster for a new one).</p>`}
        <form method="post" action="${BASE}/login">
          <input type="hidden" name="next" value="${o.next}">
          <div><label for="token">Admin token</label></div>
          <div><input type="password" id="token" name="token" autocomplete="current-password" required${o.error ? html` aria-describedby="status"` : ''}></div>
          <p><button type="submit">Sign in</button></p>
        </form></div>`;
    }
    return kit.page(req, reply, { title: 'Sign in', h1: 'Sign in to Roster', body, status: o.error ? { text: o.error, kind: 'error' } : null }, status);
  };

  app.get('/login', async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const link = typeof q.link === 'string' ? q.link : undefined;
    return loginPage(req, reply, { next: safeNext(q.next), ...(link !== undefined ? { link } : {}) });
  });

  app.post('/login', async (req, reply) => {
    const f = kit.form(req);
    const next = safeNext(f.next);
    const client = req.ip;
    const wait = throttle.retryAfter(client);
    if (wait > 0) {
      throttle.stats.throttled++;
      reply.header('retry-after', String(wait));
      return loginPage(req, reply, { next, error: SIGN_IN_FAILED }, 429);
    }
    const r = typeof f.link === 'string'
      ? await linkSignIn(f.link, client)
      : await access.signInWithToken(typeof f.token === 'string' ? f.token : '', client);
    if (!r.ok) {
      if (r.reason === 'throttled') reply.header('retry-after', '60');
      else throttle.failed(client);
      return loginPage(req, reply, { next, error: SIGN_IN_FAILED }, r.reason === 'throttled' ? 429 : 401);
    }
    // A fresh session id at every sign-in (no fixation): an old cookie's session is ended.
    const old = c.sessionId(req);
    if (old) await access.signOut(old);
    c.setCookie(reply, r.sessionId);
    return reply.code(303).header('location', next).send();
  });

  /** A link refused once (used, expired, unknown) is refused again from memory: no query per guess. */
  async function linkSignIn(link: string, client: string): Promise<SignInResult> {
    const seen = `console-link:${link}`;
    if (throttle.bad(seen) !== null) return { ok: false, reason: 'invalid' };
    const r = await access.signInWithLink(link, client);
    if (!r.ok && r.reason === 'invalid') throttle.remember(seen);
    return r;
  }

  app.post('/logout', async (req, reply) => {
    const sid = c.sessionId(req);
    if (sid) await access.signOut(sid);
    c.clearCookie(reply);
    reply.header('clear-site-data', '"cache", "cookies"');
    return reply.code(303).header('location', `${BASE}/login`).send();
  });

  // The team switcher's form (GET: it only navigates).
  app.get('/switch', async (req, reply) => {
    const id = parseUuid(String((req.query as Record<string, unknown>).team ?? ''));
    return reply.code(303).header('location', id ? `${BASE}/t/${id}/users` : `${BASE}/`).send();
  });
}
