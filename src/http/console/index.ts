// The operators' console under /admin/console (contract §8, issue 13): server-rendered pages, htmx
// only as an enhancement, every page usable without JavaScript. This file holds what every page
// shares: headers, the session cookie, the origin and CSRF checks, form bodies, errors, audit.
// Pages live in their own files; http never reaches the store: the composition root hands in
// the domain services and the console's read port.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { isDomainError } from '../../domain/errors.ts';
import { WebhookError } from '../../domain/webhooks/service.ts';
import { newId, parseUuid } from '../../domain/ids.ts';
import { consoleAssets } from './assets.ts';
import { BASE, shell, type NavItem } from './layout.ts';
import { html } from './html.ts';
import { authRoutes } from './auth.ts';
import { teamsRoutes } from './teams.ts';
import { usersRoutes } from './users.ts';
import { keysRoutes } from './keys.ts';
import { auditRoutes } from './audit.ts';
import { settingsRoutes } from './settings.ts';
import { clientRequestId } from '../request-id.ts';
import { tooManyMessage } from '../credential-throttle.ts';

export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export type { ConsoleSection, ConsoleDeps, ConsoleKit } from './kit.ts';
import type { ConsoleDeps, ConsoleKit } from './kit.ts';

const COOKIE = 'roster_console';

function parseCookies(h: string | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of (h ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) m.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return m;
}

export async function consolePages(app: FastifyInstance, deps: ConsoleDeps) {
  const now = deps.now ?? (() => new Date());
  const assets = consoleAssets(deps.htmx);
  const secure = deps.publicUrl?.startsWith('https:') ?? false;
  const cookieName = secure ? `__Host-${COOKIE}` : COOKIE;
  const cookieAttrs = secure ? 'Path=/; Secure; HttpOnly; SameSite=Strict' : `Path=${BASE}; HttpOnly; SameSite=Strict`;
  const publicOrigin = deps.publicUrl ? new URL(deps.publicUrl).origin : null;
  const sections = deps.sections ?? [];
  const nav: NavItem[] = [
    { path: 'users', label: 'Users' },
    { path: 'keys', label: 'API keys' },
    ...sections.map((s) => s.nav),
    { path: 'audit', label: 'Audit trail' },
    { path: 'settings', label: 'Settings' },
  ];

  app.decorateRequest('consoleSession', null);
  // Pages, not API operations: kept out of the admin API's OpenAPI document (also under /admin).
  app.addHook('onRoute', (r) => { r.schema = { ...(r.schema ?? {}), hide: true }; });
  // Form posts (no JavaScript) and htmx requests send urlencoded bodies; only the console parses them.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 65_536 }, (_req, body, done) => {
    const out: Record<string, string> = Object.create(null);
    for (const [k, v] of new URLSearchParams(body as string)) out[k] = v;
    done(null, out);
  });

  const expectedOrigin = (req: FastifyRequest) => publicOrigin ?? `${req.protocol}://${req.headers.host ?? ''}`;
  /** Non-GET requests must come from the console's own pages (Fetch Metadata, else Origin). */
  const sameOrigin = (req: FastifyRequest): boolean => {
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string') return site === 'same-origin';
    const origin = req.headers.origin;
    return typeof origin === 'string' && origin === expectedOrigin(req);
  };
  const isPublic = (url: string) => url.startsWith(`${BASE}/assets/`) || url === `${BASE}/login` || url.startsWith(`${BASE}/login?`);

  const kit: ConsoleKit = {
    deps,
    assets,
    nav,
    now,
    async page(req, reply, p, status = 200) {
      const teams = req.consoleSession ? (await deps.reads.teamList()).map((t) => ({ id: t.id, name: t.name, mode: t.mode })) : [];
      return reply.code(status).type('text/html; charset=utf-8').send(shell(assets, nav, { ...p, ...(req.consoleSession ? { csrf: req.consoleSession.csrfToken, teams } : {}) }));
    },
    async team(req, reply) {
      const id = parseUuid((req.params as { team?: string }).team ?? '');
      const t = id ? await deps.reads.team(id) : null;
      if (!t) {
        await kit.page(req, reply, { title: 'Team not found', body: html`<p>No team has this id. <a href="${BASE}/">All teams</a></p>` }, 404);
        return null;
      }
      return t;
    },
    async teamAndId(req, reply, o) {
      const team = await kit.team(req, reply);
      if (!team) return null;
      const id = parseUuid((req.params as Record<string, string | undefined>)[o.param] ?? '');
      if (!id) {
        const [href, text] = o.back(team.id);
        const what = o.what.charAt(0).toUpperCase() + o.what.slice(1);
        await kit.page(req, reply, { title: `${what} not found`, team, current: o.current, body: html`<p>This is not a ${o.what} id. <a href="${href}">${text}</a></p>` }, 404);
        return null;
      }
      return { team, id };
    },
    async audit(req, teamId, operation, userId, status = 200) {
      await deps.services.audit.record({ teamId, id: newId(), keyId: null, action: `console.${operation}`, userId, requestId: req.id, clientRequestId: clientRequestId(req.headers), status, at: now() });
    },
    redirect(reply, path, done) {
      return reply.code(303).header('location', done ? `${path}${path.includes('?') ? '&' : '?'}done=${encodeURIComponent(done)}` : path).send();
    },
    problem(e) {
      if (isDomainError(e) || e instanceof WebhookError) return e.message;
      throw e;
    },
    form(req) {
      const b = req.body;
      return b && typeof b === 'object' ? (b as Record<string, string>) : {};
    },
    baseUrl(req) {
      return (deps.publicUrl ?? `${req.protocol}://${req.headers.host ?? 'localhost'}`).replace(/\/$/, '');
    },
  };

  const throttle = deps.services.throttle;
  /** The live session for a cookie; an unknown one is refused from memory next time (no query) and counts as a failure. */
  const sessionOf = async (sid: string, client: string) => {
    const seen = `console-session:${sid}`;
    if (throttle.bad(seen) !== null) return null;
    const s = await deps.access.session(sid);
    if (!s) { throttle.remember(seen); throttle.failed(client); }
    return s;
  };

  app.addHook('onRequest', async (req, reply) => {
    // The console's own policy instead of the API's `default-src 'none'`.
    reply.headers({ 'content-security-policy': CONSOLE_CSP, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY' });
    // The sign-in form answers a held address itself (src/http/console/auth.ts).
    if (isPublic(req.url)) return;
    // An address the credential throttle holds (C4: failed sign-ins, session ids, keys, tokens on
    // any face) waits before any credential of it is looked at.
    const wait = throttle.retryAfter(req.ip);
    if (wait > 0) {
      throttle.stats.throttled++;
      reply.header('retry-after', String(wait));
      return kit.page(req, reply, { title: 'Too many failed attempts', body: html`<p>${tooManyMessage(wait)}.</p>` }, 429);
    }
    const sid = parseCookies(req.headers.cookie).get(cookieName);
    const s = sid ? await sessionOf(sid, req.ip) : null;
    if (!s) {
      if (req.method === 'GET' || req.method === 'HEAD') {
        const next = req.url === `${BASE}/` || req.url === BASE ? '' : `?next=${encodeURIComponent(req.url)}`;
        return reply.code(303).header('location', `${BASE}/login${next}`).send();
      }
      return kit.page(req, reply, { title: 'Signed out', body: html`<p>Your session has ended. <a href="${BASE}/login">Sign in again</a>.</p>` }, 401);
    }
    req.consoleSession = s;
  });
  // Every change: from our own origin, with the session's CSRF token (form field or htmx header).
  app.addHook('preHandler', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    if (!sameOrigin(req)) return kit.page(req, reply, { title: 'Request refused', body: html`<p>This request did not come from the console's own pages, so nothing was changed.</p>` }, 403);
    const s = req.consoleSession;
    if (!s) return; // sign-in: origin-checked above, no session yet
    const given = kit.form(req)._csrf ?? req.headers['x-csrf-token'];
    if (!deps.access.csrfOk(s, given)) return kit.page(req, reply, { title: 'Request refused', body: html`<p>The form had expired or was not the console's own, so nothing was changed. Go back, reload the page and try again.</p>` }, 403);
  });
  app.setNotFoundHandler((req, reply) => kit.page(req, reply, { title: 'Page not found', body: html`<p>There is no console page here. <a href="${BASE}/">All teams</a></p>` }, 404));
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err: err.message }, 'console error');
    return kit.page(req, reply, { title: status === 500 ? 'Something went wrong' : 'Request not understood', body: html`<p>${status === 500 ? 'The server could not complete this request. Nothing was shown that should not be; try again.' : err.message}</p>` }, status);
  });

  for (const a of [assets.css, assets.js, assets.htmx]) {
    app.get(a.path.slice(BASE.length), (_req, reply) => reply.header('cache-control', 'public, max-age=31536000, immutable').type(a.type).send(a.body));
  }

  authRoutes(app, kit, {
    setCookie: (reply, sid) => reply.header('set-cookie', `${cookieName}=${sid}; ${cookieAttrs}; Max-Age=${8 * 3600}`),
    clearCookie: (reply) => reply.header('set-cookie', `${cookieName}=; ${cookieAttrs}; Max-Age=0`),
    sessionId: (req) => parseCookies(req.headers.cookie).get(cookieName) ?? null,
    sameOrigin,
  });
  teamsRoutes(app, kit);
  usersRoutes(app, kit);
  keysRoutes(app, kit);
  auditRoutes(app, kit);
  settingsRoutes(app, kit);
  for (const s of sections) s.register(app, kit);
}

/** `GET /` for a browser: the console when it is on, else the API reference. */
export function rootRedirect(app: FastifyInstance, consoleOn: boolean) {
  app.get('/', { schema: { hide: true } }, (req, reply) => {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('text/html')) return reply.callNotFound();
    return reply.code(302).header('location', consoleOn ? `${BASE}/` : '/docs').send();
  });
}
