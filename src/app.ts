// Builds the Fastify app: shared plugins, the faces, admin and health. No I/O at import time;
// main.ts (or a test) hands in the database.
import pino from 'pino';
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Db } from './db/pool.ts';
import { UsersService } from './domain/users.ts';
import { TeamsService } from './domain/teams.ts';
import { PgUsersRepo } from './store/users.ts';
import { PgTeamsRepo } from './store/teams.ts';
import { PgConnectionsRepo } from './store/connections.ts';
import { PgDemographicsRepo, PgInsuranceRepo } from './store/records.ts';
import { ConnectionsService } from './domain/connections-service.ts';
import { DemographicsService } from './domain/demographics.ts';
import { InsuranceService } from './domain/insurance.ts';
import type { Redis } from 'ioredis';
import { PortalService } from './domain/portal.ts';
import { PgPortalRepo } from './store/portal.ts';
import { portalPages } from './http/portal/index.ts';
import { scopedKysely } from './db/request-tx.ts';
import { PgAuditLog } from './store/audit.ts';
import { installWritePath } from './http/write-path.ts';
import { installRateLimits } from './http/rate-limits.ts';
import { ReadRouter } from './db/read-routing.ts';
import { installReadRouting } from './http/read-routing.ts';
import { AuthTokenError, AuthTokensService, DEFAULT_AUTH_TOKEN_SETTINGS, isAuthTokenError, type AuthFailure, type AuthTokenSettings } from './domain/auth-tokens.ts';
import { PgAuthTokensRepo } from './store/auth-tokens.ts';
import { mobileAuthFace } from './http/mobile-auth/index.ts';
import { publishKeyRevoked, subscribeKeyEvents, type KeyEventsSubscription } from './store/key-events.ts';
import { KeyResolver } from './http/auth.ts';
import { CredentialThrottle, negativeCachedTokens, type CredentialThrottleOptions } from './http/credential-throttle.ts';
import { junctionFace } from './http/junction/index.ts';
import { onvyFace } from './http/onvy/index.ts';
import { basicFace, type BasicRateLimit } from './http/basic/index.ts';
import { ProfilesService } from './domain/profiles.ts';
import { PgProfilesRepo } from './store/profiles.ts';
import { adminApi } from './http/admin/index.ts';
import { healthRoutes } from './http/health.ts';
import { installOpenApi, type FaceName } from './http/openapi.ts';
import { docsPages } from './http/docs.ts';
import { installMetrics } from './http/metrics.ts';
import { sanitizePathEncoding } from './http/url.ts';
import { faceErrors } from './http/face-errors.ts';
import type { Services } from './http/services.ts';
import { linkBase } from './http/link-base.ts';
import { StorageState } from './http/storage-state.ts';
import { refuseNulBodies } from './http/body-guard.ts';

export interface AppOptions {
  db: Db;
  /** Connection string of `db`, for the LISTEN connection that carries key revocations. */
  databaseUrl: string;
  logLevel?: string;
  adminToken?: string | null;
  /** ROSTER_METRICS_TOKEN: GET /metrics needs `Authorization: Bearer <token>`; null/absent = open. */
  metricsToken?: string | null;
  sandboxUserCap?: number;
  bodyLimitBytes?: number;
  /** Counts of log lines the destination could not take (src/log-sink.ts), for /metrics. */
  logStats?: { droppedLines: number; writeErrors: number };
  /** Where log lines go (default stdout). Tests pass a stream to read them. */
  logStream?: NodeJS.WritableStream | import("pino").DestinationStream;
  now?: () => Date;
  /** Shared rate-limit state across instances (REDIS_URL); in-process when absent. */
  redis?: Redis | null;
  /** Portal link lifetimes in seconds (launch: minutes, communications: weeks). */
  portalTtl?: { launch: number; communications: number };
  /** A streaming replica for reads that tolerate lag (DATABASE_READ_URL). */
  readDb?: Db | null;
  /** After a key writes, its reads go to the primary for this long (read-your-writes). */
  readYourWritesMs?: number;
  /** Replay lag above which the replica gets no reads (default: half the window). */
  replicaMaxLagMs?: number;
  replicaLagCheckMs?: number;
  /** Where the Onvy and basic faces are mounted (default /onvy, /basic); Junction stays at /. */
  onvyPrefix?: string;
  basicPrefix?: string;
  /** The basic face's own per-key limit (default 100 per 60 s; a team's own per-minute limit wins). */
  basicRateLimit?: BasicRateLimit;
  /** Default requests per minute per API key (teams may have their own). */
  rateLimitPerMinute?: number;
  /** Base URL for links Roster hands out; default: an allowed Host, else the address Roster listens on. */
  publicUrl?: string | null;
  /** ROSTER_ALLOWED_HOSTS: Host values links may be built from without ROSTER_PUBLIC_URL (C10). */
  allowedHosts?: string[];
  /** ROSTER_TRUST_PROXY: which proxies' X-Forwarded-* are believed (S5); null/absent: none. */
  trustProxy?: boolean | number | string[] | null;
  /** Mobile SDK sign-in: token lifetimes (s) and `iss` region; defaults in DEFAULT_AUTH_TOKEN_SETTINGS. */
  authTokens?: Partial<AuthTokenSettings>;
  /** Failed credential attempts per client address before 429, and the negative cache (C4). */
  credentialThrottle?: CredentialThrottleOptions;
}

export interface BuiltApp {
  app: FastifyInstance;
  services: Services;
  close(): Promise<void>;
}

const REQUEST_ID_RE = /^[\w.:-]{1,128}$/;

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
};

export async function buildApp(opts: AppOptions): Promise<BuiltApp> {
  const level = opts.logLevel ?? 'info';
  const errors = faceErrors({ onvy: opts.onvyPrefix ?? '/onvy', basic: opts.basicPrefix ?? '/basic' });
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
    bodyLimit: opts.bodyLimitBytes ?? 1_048_576,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 4096 },
    requestIdHeader: false,
    // Fastify takes a hop count too (its types do not say so).
    ...(opts.trustProxy != null && opts.trustProxy !== false ? { trustProxy: opts.trustProxy as boolean } : {}),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_RE.test(given) ? given : randomUUID();
    },
    connectionTimeout: 0,
    requestTimeout: 30_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    // A path that is not valid percent-encoded UTF-8 (e.g. %ED%A0%80, a lone surrogate) is decoded
    // leniently (U+FFFD) so its route answers; anything the router still refuses (a target it
    // cannot parse: 400; a segment over maxParamLength: 414) is answered before any hook, in the
    // error shape of the face whose prefix the URL is under (src/http/face-errors.ts).
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
    if (face !== 'onvy' && face !== 'basic') return;
    // The request line alone over the limit: the URL is what is too long (414), else the headers (431).
    const lineEnd = err.rawPacket.indexOf(0x0a);
    const kind = err.code !== 'HPE_HEADER_OVERFLOW' ? 'bad_request' : lineEnd < 0 || lineEnd >= maxHeaderSize ? 'uri_too_long' : 'headers_too_large';
    const id = randomUUID();
    const rid = face === 'basic' ? `req-${id}` : id;
    const a = errors.answer(target!, rid, kind, '');
    const head = { 'content-type': a.type, 'content-length': Buffer.byteLength(a.body), 'x-request-id': rid, connection: 'close' };
    socket.write(`HTTP/1.1 ${a.status} ${STATUS_CODES[a.status]}\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${a.body}`);
    socket.destroy(err);
  });

  // The per-request line has its own logger: its fields are safe by construction (ids, route
  // pattern, status, timing), so it skips the redaction pass and the per-request child logger
  // that app.log applies to everything else.
  const requestLine = level === 'silent' ? pino({ level: 'silent' }) : pino({ level }, (opts.logStream ?? pino.destination(1)) as pino.DestinationStream);
  const now = opts.now ?? (() => new Date());
  // Repositories query through `db`, which follows a request's transaction when there is one.
  const db = scopedKysely(opts.db.kysely);
  const audit = new PgAuditLog(db, (e) => app.log.warn({ err: (e as Error).message }, 'audit flush failed; will retry'));
  const users = new UsersService({ repo: new PgUsersRepo(db), now, sandboxUserCap: opts.sandboxUserCap ?? 0 });
  const teams = new TeamsService(new PgTeamsRepo(db), now);
  const throttle = new CredentialThrottle(opts.credentialThrottle);
  // Storage exhaustion (SQLSTATE class 53): counted, and /readyz answers 503 while it lasts.
  const storage = new StorageState();
  app.addHook('onError', (_req, _reply, err, done) => { storage.note(err); done(); });
  const keys = new KeyResolver(teams, 60_000, throttle);
  const demographics = new DemographicsService(new PgDemographicsRepo(db), users, now);
  const services: Services = {
    users,
    teams,
    keys,
    connections: new ConnectionsService(new PgConnectionsRepo(db), users, now),
    demographics,
    portal: new PortalService(new PgPortalRepo(db), users, demographics, opts.portalTtl ?? { launch: 600, communications: 1_209_600 }, now),
    publicUrl: opts.publicUrl ?? null,
    linkBase: linkBase(opts.publicUrl ?? null, opts.allowedHosts ?? []),
    authTokens: negativeCachedTokens(new AuthTokensService({
      repo: new PgAuthTokensRepo(db, opts.db.kysely),
      settings: { ...DEFAULT_AUTH_TOKEN_SETTINGS, ...opts.authTokens },
      requireLiveUser: (teamId, userId) => users.requireLive(teamId, userId),
      now,
    }), throttle, isAuthTokenError, (r) => new AuthTokenError(r as AuthFailure)),
    throttle,
    insurance: new InsuranceService(new PgInsuranceRepo(db), users, now),
    profiles: new ProfilesService({ repo: new PgProfilesRepo(db), now, sandboxUserCap: opts.sandboxUserCap ?? 0 }),
    redis: opts.redis ?? null,
    audit,
    async revokeKey(keyId) {
      const { hash, teamId } = await teams.revokeKey(keyId);
      keys.evict(hash.toString('hex'));
      await publishKeyRevoked(opts.db.kysely, hash.toString('hex'));
      return { teamId };
    },
  };
  const sub: KeyEventsSubscription = subscribeKeyEvents(opts.databaseUrl, (h) => keys.evict(h), () => keys.clear());

  // Hooks on every request are callback-style, not async: an async hook costs a promise (and, with
  // AsyncLocalStorage active, its async_hooks bookkeeping) per request per hook.
  app.addHook('onRequest', (req, reply, done) => {
    // Security headers on every response; API answers are data, never pages or cacheable.
    reply.headers({ 'x-request-id': req.id, ...SECURITY_HEADERS });
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
    if (requestLine.isLevelEnabled('info')) requestLine.info({ reqId: req.id, method: req.method, route: req.routeOptions.url ?? null, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100, team: req.principal?.teamId }, 'request');
    done();
  });
  app.decorateRequest('principal', null as never);

  refuseNulBodies(app); // before the write path opens a transaction for the body
  installWritePath(app, { rootDb: opts.db.kysely, audit, now, scopeReads: Boolean(opts.readDb), answer: (req, kind, detail) => errors.answer(req.url, errors.requestId(req), kind, detail), onCommitError: (e) => storage.note(e) });
  const router = opts.readDb
    ? new ReadRouter({
      replica: opts.readDb.kysely, windowMs: opts.readYourWritesMs ?? 5000, redis: opts.redis ?? null,
      ...(opts.replicaMaxLagMs !== undefined ? { maxLagMs: opts.replicaMaxLagMs } : {}),
      ...(opts.replicaLagCheckMs !== undefined ? { lagCheckMs: opts.replicaLagCheckMs } : {}), onError: (e) => app.log.warn({ err: (e as Error).message }, 'read replica check failed') })
    : null;
  if (router) installReadRouting(app, router);
  await installRateLimits(app, { perMinute: opts.rateLimitPerMinute ?? 2000, redis: opts.redis ?? null });

  // Routes no face has, and errors of the app-level scope (e.g. the body of such a request): in the
  // shape of the face whose prefix the URL is under.
  app.setNotFoundHandler((req, reply) => errors.send(req, reply, 'not_found', 'Not Found'));
  app.setErrorHandler(errors.handler());

  // OpenAPI (one document per face) collects the routes registered after it; /metrics counts every
  // request by route pattern.
  const openapi = await installOpenApi(app, {
    publicUrl: opts.publicUrl ?? null,
    faces: ['junction', 'onvy', 'basic', ...(opts.adminToken ? ['admin' as FaceName] : [])],
    prefixes: { onvy: opts.onvyPrefix ?? '/onvy', basic: opts.basicPrefix ?? '/basic' },
  });
  await installMetrics(app, { db: opts.db, readDb: opts.readDb ?? null, token: opts.metricsToken ?? null, throttle, logStats: opts.logStats ?? null, storage });
  await app.register(healthRoutes, { db: opts.db, storage });
  await app.register(async (scope) => docsPages(scope, { docs: openapi, publicUrl: opts.publicUrl ?? null }));
  await app.register(async (scope) => junctionFace(scope, services));
  await app.register(async (scope) => onvyFace(scope, services), { prefix: opts.onvyPrefix ?? '/onvy' });
  await app.register(async (scope) => basicFace(scope, services, { rateLimit: opts.basicRateLimit ?? { max: 100, windowMs: 60_000 } }), { prefix: opts.basicPrefix ?? '/basic' });
  await app.register(async (scope) => portalPages(scope, services));
  await app.register(async (scope) => mobileAuthFace(scope, services), { prefix: '/auth' });
  if (opts.adminToken) await app.register(async (scope) => adminApi(scope, services, opts.adminToken!), { prefix: '/admin' });

  return {
    app,
    services,
    async close() {
      await app.close();
      await audit.flush();
      router?.close();
      await sub.close();
    },
  };
}
