// Builds the Fastify app: shared plugins, the faces, admin and health. No I/O at import time;
// main.ts (or a test) hands in the database.
import pino from 'pino';
import { sql } from 'kysely';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import type { Db } from './db/pool.ts';
import { ReadRouter } from './db/read-routing.ts';
import { defaultAppSettings, type AppSettings } from './config.ts';
import { buildServices, revokeKey, type CoreServices } from './compose.ts';
import { transactionRetryStats } from './store/errors.ts';
import { liveUsersPerTeam } from './store/registry-stats.ts';
import { readRouting } from './store/request-scope.ts';
import { subscribeKeyEvents, type KeyEventsSubscription } from './store/key-events.ts';
import type { AuthTokenSettings } from './domain/auth-tokens/index.ts';
import type { Clock } from './kernel/clock.ts';
import { portalPages } from './http/portal/index.ts';
import { installWritePath } from './http/write-path.ts';
import { installRateLimits } from './http/rate-limits.ts';
import { installReadRouting } from './http/read-routing.ts';
import { openSecretsAtRest } from './store/secret-box.ts';
import { AuthTokenError, isAuthTokenError, type AuthFailure } from './domain/auth-tokens/index.ts';
import { mobileAuthFace } from './http/mobile-auth/index.ts';
import { KeyResolver } from './http/auth.ts';
import { CredentialThrottle, negativeCachedTokens, type CredentialThrottleOptions } from './http/credential-throttle.ts';
import { adminApi } from './http/admin/index.ts';
import { healthRoutes } from './http/health.ts';
import { installOpenApi, type FaceName } from './http/openapi.ts';
import { docsPages } from './http/docs.ts';
import { installMetrics, type DbGauges } from './http/metrics.ts';
import { sanitizePathEncoding } from './http/url.ts';
import { faceRegistry, mountFaces } from './http/faces.ts';
import type { Services } from './http/services.ts';
import { createWebhooks, type Webhooks } from './compose.ts'; // webhooks (i12)
import type { WebhookSettings } from './domain/webhooks/settings.ts'; // webhooks (i12)
import type { Resolver } from './store/webhooks/sender.ts'; // webhooks (i12)
import { scopedKysely } from './db/request-tx.ts'; // webhooks (i12)
import { systemClock } from './kernel/clock.ts'; // webhooks (i12)
import { consolePages, rootRedirect } from './http/console/index.ts';
import { webhooksSection } from './http/console/webhooks/index.ts';
import { ConsoleAccess } from './domain/console.ts';
import { loadHtmx } from './console-assets.ts';
import { linkBase } from './http/link-base.ts';
import { StorageState } from './http/storage-state.ts';
import { refuseNulBodies } from './http/body-guard.ts';
import { clientRequestId, wireRequestId } from './http/request-id.ts';

/**
 * What buildApp needs: the database and the process's own resources, and any AppSettings (the rest
 * take their defaults from src/config.ts: defaultAppSettings). The server passes them all
 * (appSettingsFrom(config)); tests pass what they change.
 */
export interface AppOptions extends Partial<Omit<AppSettings, 'authTokens' | 'webhooks'>> {
  db: Db;
  /** Connection string of `db`, for the LISTEN connection that carries key revocations. */
  databaseUrl: string;
  /** Counts of log lines the destination could not take (src/log-sink.ts), for /metrics. */
  logStats?: { droppedLines: number; writeErrors: number };
  /** Failed credential attempts per client address before 429, and the negative cache (C4). */
  credentialThrottle?: CredentialThrottleOptions;
  /** Where log lines go (default stdout). Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream | import("pino").DestinationStream;
  now?: Clock;
  /** Shared rate-limit state across instances (REDIS_URL); in-process when absent. */
  redis?: Redis | null;
  /** A streaming replica for reads that tolerate lag (DATABASE_READ_URL). */
  readDb?: Db | null;
  /** Replay lag above which the replica gets no reads (default: half the window). */
  replicaMaxLagMs?: number;
  replicaLagCheckMs?: number;
  /** Mobile SDK sign-in: token lifetimes (s) and `iss` region; defaults in DEFAULT_AUTH_TOKEN_SETTINGS. */
  authTokens?: Partial<AuthTokenSettings>;
  /** Webhooks (i12): settings (README), and for tests a resolver and a short attempt timeout. */
  webhooks?: Partial<WebhookSettings> & { resolver?: Resolver; attemptTimeoutMs?: number };
  /** The console's one-time sign-in links (no admin token, HOST on loopback: server.ts decides). */
  consoleLinks?: boolean;
}

/** `opts` over the defaults; an option given as undefined keeps its default. */
function settingsOf(opts: AppOptions): AppSettings {
  const s: Record<string, unknown> = { ...defaultAppSettings() };
  for (const [k, v] of Object.entries(opts)) if (v !== undefined && k in s) s[k] = v;
  return s as unknown as AppSettings;
}

export interface BuiltApp {
  app: FastifyInstance;
  services: Services;
  /** The domain's services the app was built over (src/compose.ts), e.g. for the maintenance sweep. */
  core: CoreServices;
  /** The webhook subsystem (outbox, dispatcher), for tests. */
  webhooks: Webhooks; // webhooks (i12)
  /** The console's sign-in (null = console off): server.ts issues the banner's one-time link. */
  console: ConsoleAccess | null;
  /** From now on /readyz answers 503 (shutdown has begun); requests are still served until close(). */
  beginDrain(): void;
  close(): Promise<void>;
}


const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
};

export async function buildApp(opts: AppOptions): Promise<BuiltApp> {
  const s = settingsOf(opts);
  const level = s.logLevel;
  const errors = faceRegistry(mountFaces(s));
  const app = Fastify({
    logger: level === 'silent' ? false : {
      level,
      ...(opts.logStream ? { stream: opts.logStream } : {}),
      // Never log bodies, headers or query strings: they carry keys and health data. Fastify's own
      // request logging (which would) is off; the onResponse hook writes one safe line instead.
      redact: ['req.headers', 'headers', 'authorization', '*.authorization', '*["x-vital-api-key"]'],
    },
    // One line per request is written by the onResponse hook below, not Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: s.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 },
    requestIdHeader: false,
    // Fastify takes a hop count too (its types do not say so).
    ...(s.trustProxy != null && s.trustProxy !== false ? { trustProxy: s.trustProxy as boolean } : {}),
    // Always the server's own id; a client's x-request-id is kept apart (src/http/request-id.ts).
    genReqId: () => randomUUID(),
    connectionTimeout: 0,
    requestTimeout: 30_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    // A path that is not valid percent-encoded UTF-8 (e.g. %ED%A0%80, a lone surrogate) is decoded
    // leniently (U+FFFD) so its route answers; anything the router still refuses (a target it
    // cannot parse: 400; a segment over maxParamLength: 414) is answered before any hook, in the
    // error shape of the face whose prefix the URL is under (src/http/faces.ts).
    rewriteUrl: (req) => sanitizePathEncoding(req.url ?? '/'),
    frameworkErrors: (err, req, res) => {
      const reply = (res as unknown as FastifyReply).header('x-request-id', errors.requestId(req));
      if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') return errors.send(req, reply, 'uri_too_long', err.message);
      return errors.send(req, reply, 'bad_url', 'Malformed URL: the path is not valid percent-encoded UTF-8');
    },
  });
  // Requests Node's HTTP parser refuses (an over-long request line or headers, a malformed one) never
  // reach Fastify. When the request line names a face's URL, that face answers (414, 431, 400), and
  // Fastify's own clientError handler, which runs next, finds the socket done; otherwise Fastify
  // answers as ever.
  app.server.prependListener('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || socket.destroyed || !socket.writable || !err.rawPacket) return;
    const target = /^[A-Z]+ +(\S+)/.exec(err.rawPacket.subarray(0, 8192).toString('latin1'))?.[1];
    const face = target === undefined ? null : errors.faceOf(target);
    if (!face?.errors.parserErrors) return;
    // The request line alone over the limit: the URL is what is too long (414), else the headers (431).
    const lineEnd = err.rawPacket.indexOf(0x0a);
    const kind = err.code !== 'HPE_HEADER_OVERFLOW' ? 'bad_request' : lineEnd < 0 || lineEnd >= maxHeaderSize ? 'uri_too_long' : 'headers_too_large';
    const id = randomUUID();
    const rid = errors.newRequestId(face, id);
    const a = errors.answer(target!, rid, kind, '');
    const head = { 'content-type': a.type, 'content-length': Buffer.byteLength(a.body), 'x-request-id': rid, connection: 'close' };
    socket.write(`HTTP/1.1 ${a.status} ${STATUS_CODES[a.status]}\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${a.body}`);
    socket.destroy(err);
  });

  // The per-request line has its own logger: its fields are safe by construction (ids, route
  // pattern, status, timing), so it skips the redaction pass and the per-request child logger
  // that app.log applies to everything else.
  const requestLine = level === 'silent' ? pino({ level: 'silent' }) : pino({ level }, (opts.logStream ?? pino.destination(1)) as pino.DestinationStream);
  const now0 = opts.now ?? systemClock;
  // Webhooks (i12): the outbox every write records into, over the request-scoped handle (it joins a request's transaction).
  // A wrong ROSTER_SECRET_KEY fails the start here (SecretKeyError), before anything listens.
  const secrets = await openSecretsAtRest(opts.db.kysely, s.secretKey);
  const webhooks = await createWebhooks({
    db: scopedKysely(opts.db.kysely), secrets, databaseUrl: opts.databaseUrl, now: now0, settings: s.webhooks ?? {}, onError: (e) => app.log.warn({ err: (e as Error).message }, 'webhook dispatcher error; will retry'),
    teamExists: async (id) => (await sql`select 1 from teams where id = ${id}`.execute(opts.db.kysely)).rows.length > 0,
    ...(opts.webhooks?.resolver ? { resolver: opts.webhooks.resolver } : {}), ...(opts.webhooks?.attemptTimeoutMs ? { attemptTimeoutMs: opts.webhooks.attemptTimeoutMs } : {}),
  });
  const core = buildServices(opts.db, {
    sandboxUserCap: s.sandboxUserCap,
    portalTtl: s.portalTtl,
    authTokens: opts.authTokens ?? {},
    now: now0,
    events: webhooks.outbox, // webhooks (i12)
    secrets,
    onAuditError: (e) => app.log.warn({ err: (e as Error).message }, 'audit flush failed; will retry'),
  });
  const { audit, now } = core;
  const throttle = new CredentialThrottle(opts.credentialThrottle);
  // Storage exhaustion (SQLSTATE class 53): counted, and /readyz answers 503 while it lasts.
  const storage = new StorageState();
  app.addHook('onError', (_req, _reply, err, done) => { storage.note(err); done(); });
  const keys = new KeyResolver(core.teams, 60_000, throttle);
  const services: Services = {
    users: core.users,
    teams: core.teams,
    keys,
    connections: core.connections,
    demographics: core.demographics,
    portal: core.portal,
    publicUrl: s.publicUrl,
    linkBase: linkBase(s.publicUrl, s.allowedHosts),
    authTokens: negativeCachedTokens(core.authTokens, throttle, isAuthTokenError, (r) => new AuthTokenError(r as AuthFailure)),
    throttle,
    insurance: core.insurance,
    webhooks: webhooks.service, // webhooks (i12)
    redis: opts.redis ?? null,
    audit,
    async revokeKey(keyId) {
      return revokeKey(core, opts.db, keyId, (h) => keys.evict(h));
    },
  };
  const sub: KeyEventsSubscription = subscribeKeyEvents(opts.databaseUrl, (h) => keys.evict(h), () => keys.clear());

  // Hooks on every request are callback-style, not async: an async hook costs a promise (and, with
  // AsyncLocalStorage active, its async_hooks bookkeeping) per request per hook.
  app.addHook('onRequest', (req, reply, done) => {
    // Security headers on every response; API answers are data, never pages or cacheable.
    reply.headers({ 'x-request-id': wireRequestId(req), ...SECURITY_HEADERS });
    done();
  });
  // Draining (close() has begun): answers to requests accepted before it carry `Connection: close`,
  // so their keep-alive connections end with them instead of holding the close open for
  // keepAliveTimeout (72 s), past the shutdown bound. (test/reliability/sigterm.test.ts)
  let draining = false;
  app.addHook('preClose', async () => { draining = true; });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (draining) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addHook('onResponse', (req, reply, done) => {
    // Ids, route, status and timing only: never bodies, names, e-mails, dates or keys.
    if (reply.statusCode < 300 && req.method !== 'GET' && req.method !== 'HEAD') storage.ok();
    if (requestLine.isLevelEnabled('info')) requestLine.info({ reqId: req.id, clientReqId: clientRequestId(req.headers) ?? undefined, method: req.method, route: req.routeOptions.url ?? null, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100, team: req.principal?.teamId }, 'request');
    done();
  });
  app.decorateRequest('principal', null as never);

  refuseNulBodies(app); // before the write path opens a transaction for the body
  installWritePath(app, {
    scopes: core.scopes, idempotency: core.idempotency, audit, now, scopeReads: Boolean(opts.readDb),
    answer: (req, kind, detail) => errors.answer(req.url, errors.requestId(req), kind, detail),
    onCommitError: (e) => storage.note(e),
  });
  const router = opts.readDb
    ? new ReadRouter({
      replica: opts.readDb.kysely, windowMs: s.readYourWritesMs, redis: opts.redis ?? null,
      ...(opts.replicaMaxLagMs !== undefined ? { maxLagMs: opts.replicaMaxLagMs } : {}),
      ...(opts.replicaLagCheckMs !== undefined ? { lagCheckMs: opts.replicaLagCheckMs } : {}), onError: (e) => app.log.warn({ err: (e as Error).message }, 'read replica check failed') })
    : null;
  if (router) installReadRouting(app, readRouting(router));
  await installRateLimits(app, { perMinute: s.rateLimitPerMinute, redis: opts.redis ?? null });

  // Routes no face has, and errors of the app-level scope (e.g. the body of such a request): in the
  // shape of the face whose prefix the URL is under.
  app.setNotFoundHandler((req, reply) => errors.send(req, reply, 'not_found', 'Not Found'));
  app.setErrorHandler(errors.handler());

  // OpenAPI (one document per face) collects the routes registered after it; /metrics counts every
  // request by route pattern.
  const openapi = await installOpenApi(app, {
    publicUrl: s.publicUrl,
    faces: ['junction', 'onvy', 'basic', ...(s.adminToken ? ['admin' as FaceName] : [])],
    prefixes: { onvy: s.onvyPrefix, basic: s.basicPrefix },
  });
  const { registry } = await installMetrics(app, { db: dbGauges(opts.db, opts.readDb ?? null), token: s.metricsToken, throttle, logStats: opts.logStats ?? null, storage, registryEveryMs: s.metricsRefreshS * 1000, now: () => now0().getTime() });
  webhooks.registerMetrics(registry); // webhooks (i12)
  let stopping = false;
  await app.register(healthRoutes, { db: { ping: async () => { await sql`select 1`.execute(opts.db.kysely); } }, storage, draining: () => stopping });
  await app.register(async (scope) => docsPages(scope, { docs: openapi, publicUrl: s.publicUrl }));
  // Each face's routes carry the face's name (the audit action's first part: src/http/write-path.ts).
  for (const { face, mount } of errors.faces) {
    await app.register(async (scope) => {
      scope.addHook('onRoute', (r) => { r.config = { ...r.config, face: face.name }; });
      await face.register(scope, services);
    }, mount ? { prefix: mount } : {});
  }
  await app.register(async (scope) => portalPages(scope, services));
  await app.register(async (scope) => mobileAuthFace(scope, services), { prefix: '/auth' });
  const adminToken = s.adminToken;
  if (adminToken) await app.register(async (scope) => adminApi(scope, services, adminToken), { prefix: '/admin' });
  // The console (docs/console.md): on with ROSTER_ADMIN_TOKEN, or with one-time links on loopback.
  const consoleAccess = adminToken || opts.consoleLinks
    ? new ConsoleAccess({ store: core.consoleSessions, adminToken: adminToken ?? null, linksEnabled: !adminToken && Boolean(opts.consoleLinks), now })
    : null;
  await app.register(async (scope) => rootRedirect(scope, consoleAccess !== null));
  if (consoleAccess) await app.register(async (scope) => consolePages(scope, { services, access: consoleAccess, reads: core.consoleReads, htmx: loadHtmx(), publicUrl: s.publicUrl, sections: [webhooksSection], now }), { prefix: '/admin/console' });

  return {
    app,
    services,
    core,
    webhooks, // webhooks (i12)
    console: consoleAccess,
    beginDrain() { stopping = true; },
    async close() {
      stopping = true;
      await app.close();
      await webhooks.close(); // webhooks (i12)
      await audit.flush();
      router?.close();
      await sub.close();
    },
  };
}

/** The database as /metrics sees it: pool gauges, retry counts and the registry's sizes. */
function dbGauges(db: Db, readDb: Db | null): DbGauges {
  const pool = (d: Db) => ({ total: d.pool.totalCount, idle: d.pool.idleCount, waiting: d.pool.waitingCount, max: d.pool.options.max ?? 10 });
  return {
    pools: () => [['primary', pool(db)], ...(readDb ? [['replica', pool(readDb)] as [string, ReturnType<typeof pool>]] : [])],
    retries: () => ({ statement: db.retryStats, transaction: transactionRetryStats }),
    teamSizes: () => liveUsersPerTeam(db.kysely),
    ping: async () => { await sql`select 1`.execute(db.kysely); },
  };
}
