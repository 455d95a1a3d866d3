// The one composition root: the domain services over their PostgreSQL stores, built the same way for
// the server (src/app.ts), the CLI (src/cli/) and the tests; the one maintenance sweep (the server's
// hourly timer and `roster purge`); key revocation.
import type { Db } from './db/pool.ts';
import { scopedKysely } from './db/request-tx.ts';
import { UsersService } from './domain/users/service.ts';
import { TeamsService } from './domain/teams.ts';
import { ConnectionsService } from './domain/connections-service.ts';
import { DemographicsService } from './domain/demographics.ts';
import { InsuranceService } from './domain/insurance.ts';
import { PortalService } from './domain/portal.ts';
import { AuthTokensService, DEFAULT_AUTH_TOKEN_SETTINGS, type AuthTokenSettings } from './domain/auth-tokens/index.ts';
import type { AuditLog } from './domain/audit.ts';
import type { IdempotencyStore } from './domain/idempotency.ts';
import type { RequestScopes } from './domain/request-scope.ts';
import type { Clock } from './kernel/clock.ts';
import { purgeConsoleSessions, type ConsoleReads, type ConsoleSessionStore } from './domain/console.ts';
import { PgConsoleReads, PgConsoleSessions } from './store/console.ts';
import { systemClock } from './kernel/clock.ts';
import { PgUsersRepo } from './store/users/repo.ts';
import { PgTeamsRepo } from './store/teams.ts';
import { PgConnectionsRepo } from './store/connections.ts';
import { PgDemographicsRepo, PgInsuranceRepo } from './store/records.ts';
import { PgPortalRepo } from './store/portal.ts';
import { PgAuthTokensRepo } from './store/auth-tokens.ts';
import { PgAuditLog, purgeAuditBefore } from './store/audit.ts';
import { PgIdempotencyStore } from './store/idempotency.ts';
import { pgRequestScopes } from './store/request-scope.ts';
import { publishKeyRevoked } from './store/key-events.ts';
import { sql, type Kysely } from 'kysely';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Database } from './db/schema.ts';
import { PgEventOutbox, listenWebhooks, type WebhookListener } from './store/webhooks/outbox.ts';
import { EventsWake, notifyEvents } from './store/webhooks/wake.ts';
import { PgDeliveriesRepo, PgDispatchStore, PgEndpointsRepo, purgeWebhooksBefore } from './store/webhooks/repos.ts';
import { HttpWebhookSender, type Resolver } from './store/webhooks/sender.ts';
import { AddressPolicy } from './domain/webhooks/ssrf.ts';
import { WebhooksService } from './domain/webhooks/service.ts';
import { Dispatcher } from './domain/webhooks/dispatcher.ts';
import { OperationalSender } from './domain/webhooks/operational.ts';
import { DEFAULT_WEBHOOK_SETTINGS, type WebhookSettings } from './domain/webhooks/settings.ts';
import type { EventOutbox } from './domain/webhooks/ports.ts';
import { PLAINTEXT, type SecretCodec } from './store/secret-box.ts';

export interface ServiceSettings {
  /** ROSTER_SANDBOX_USER_CAP (0 = none). */
  sandboxUserCap: number;
  /** Portal link lifetimes in seconds. */
  portalTtl: { launch: number; communications: number };
  /** Mobile SDK sign-in token lifetimes and region (defaults: DEFAULT_AUTH_TOKEN_SETTINGS). */
  authTokens?: Partial<AuthTokenSettings>;
  /** Signing keys and portal secrets at rest (openSecretsAtRest with ROSTER_SECRET_KEY); default: plaintext. */
  secrets?: SecretCodec;
  now?: Clock;
  /** The audit log could not write a batch (it keeps it for the next flush). */
  onAuditError?: (e: unknown) => void;
  /** Webhooks (i12): the outbox every write records its events into (createWebhooks(...).outbox); none = no events. */
  events?: EventOutbox;
}

/** The domain's services and the write path's ports, over one database. */
export interface CoreServices {
  users: UsersService;
  teams: TeamsService;
  connections: ConnectionsService;
  demographics: DemographicsService;
  insurance: InsuranceService;
  portal: PortalService;
  authTokens: AuthTokensService;
  audit: AuditLog;
  idempotency: IdempotencyStore;
  /** The console's sessions and one-time links, and the reads behind its pages. */
  consoleSessions: ConsoleSessionStore;
  consoleReads: ConsoleReads;
  scopes: RequestScopes;
  now: Clock;
}

export function buildServices(db: Db, s: ServiceSettings): CoreServices {
  const now = s.now ?? systemClock;
  const secrets = s.secrets ?? PLAINTEXT;
  // Repositories query through `scoped`, which follows a request's transaction when there is one
  // (outside a request, e.g. in the CLI, it is the database itself).
  const scoped = scopedKysely(db.kysely);
  const audit = new PgAuditLog(scoped, s.onAuditError);
  const events = s.events; // webhooks (i12)
  const users = new UsersService({ repo: new PgUsersRepo(scoped, events ? { eventsCommitted: () => events.committed() } : {}), now, sandboxUserCap: s.sandboxUserCap, ...(events ? { events } : {}) });
  const demographics = new DemographicsService(new PgDemographicsRepo(scoped), users, now, events);
  return {
    users,
    teams: new TeamsService(new PgTeamsRepo(scoped), now, { sandboxUserCap: s.sandboxUserCap }),
    connections: new ConnectionsService(new PgConnectionsRepo(scoped), users, now, events),
    demographics,
    insurance: new InsuranceService(new PgInsuranceRepo(scoped), users, now, events),
    portal: new PortalService(new PgPortalRepo(scoped, db.kysely, secrets, s.authTokens?.keyCacheMs), users, demographics, s.portalTtl, now),
    authTokens: new AuthTokensService({
      repo: new PgAuthTokensRepo(scoped, db.kysely, secrets),
      settings: { ...DEFAULT_AUTH_TOKEN_SETTINGS, ...s.authTokens },
      requireLiveUser: (teamId, userId) => users.requireLive(teamId, userId),
      now,
    }),
    audit,
    idempotency: new PgIdempotencyStore(db.kysely, audit),
    consoleSessions: new PgConsoleSessions(scoped),
    consoleReads: new PgConsoleReads(scoped),
    scopes: pgRequestScopes,
    now,
  };
}

export interface MaintenanceReport {
  /** Users past their undo window, hard-deleted. */
  users: number;
  /** Sign-in and refresh tokens expired for more than a day. */
  authTokens: number;
  idempotencyKeys: number;
  /** Audit entries past ROSTER_AUDIT_RETENTION_DAYS (0 = kept). */
  auditEvents: number;
  /** Webhook events, deliveries and attempts past ROSTER_WEBHOOK_RETENTION_DAYS (0 = kept). */
  webhookRows: number;
  /** Console sessions past their expiry and spent one-time links. */
  consoleSessions: number;
}

/** The one maintenance sweep: the server runs it hourly, `roster purge` once. */
export async function runMaintenance(core: CoreServices, db: Db, o: { auditRetentionDays: number; webhookRetentionDays: number }): Promise<MaintenanceReport> {
  const now = core.now();
  const users = await core.users.purgeExpired();
  const authTokens = await core.authTokens.purgeExpired();
  const idempotencyKeys = await core.idempotency.purgeExpired(now);
  const auditEvents = o.auditRetentionDays > 0 ? await purgeAuditBefore(db.kysely, new Date(now.getTime() - o.auditRetentionDays * 86_400_000)) : 0;
  const webhookRows = o.webhookRetentionDays > 0 ? await purgeWebhooksBefore(db.kysely, new Date(now.getTime() - o.webhookRetentionDays * 86_400_000)) : 0;
  const consoleSessions = await purgeConsoleSessions(core.consoleSessions, now);
  return { users, authTokens, idempotencyKeys, auditEvents, webhookRows, consoleSessions };
}

/**
 * Revokes a key and tells every instance, whose key caches drop it; `evict` drops it from this
 * process's cache first (the server's; the CLI has none).
 */
export async function revokeKey(core: CoreServices, db: Db, keyId: string, evict: (hashHex: string) => void = () => {}): Promise<{ teamId: string }> {
  const { hash, teamId } = await core.teams.revokeKey(keyId);
  const hex = hash.toString('hex');
  evict(hex);
  await publishKeyRevoked(db.kysely, hex);
  return { teamId };
}

// ---------- webhooks (i12) ----------
// The webhook subsystem put together: the outbox every write records into, the
// management service the admin API uses, the dispatcher (when this instance runs one), the LISTEN
// connection that wakes it and keeps the "teams with live endpoints" cache fresh, and metrics.

export const ROSTER_VERSION = '0.1.0';

export interface Webhooks {
  outbox: PgEventOutbox;
  service: WebhooksService;
  dispatcher: Dispatcher | null;
  dispatch: PgDispatchStore;
  /** Deletes what is past ROSTER_WEBHOOK_RETENTION_DAYS (the maintenance sweep calls it). */
  purge(now?: Date): Promise<number>;
  registerMetrics(registry: Registry): void;
  close(): Promise<void>;
}

export interface WebhooksOptions {
  /** The request-scoped handle (src/db/request-tx.ts). */
  db: Kysely<Database>;
  databaseUrl: string;
  settings?: Partial<WebhookSettings>;
  teamExists: (teamId: string) => Promise<boolean>;
  now?: () => Date;
  onError?: (e: unknown) => void;
  /** Tests: resolve names without DNS. */
  resolver?: Resolver;
  /** Tests: a short attempt timeout. */
  attemptTimeoutMs?: number;
  /** Endpoint secrets at rest (openSecretsAtRest with ROSTER_SECRET_KEY); default: plaintext. */
  secrets?: SecretCodec;
}

export async function createWebhooks(o: WebhooksOptions): Promise<Webhooks> {
  const s: WebhookSettings = { ...DEFAULT_WEBHOOK_SETTINGS, ...o.settings };
  const policy = new AddressPolicy({ allowHttp: s.allowHttp, allowCidrs: s.allowCidrs });
  const sender = new HttpWebhookSender(policy, o.resolver, o.attemptTimeoutMs);
  // Writes wake this instance's dispatchers at once and the others by a NOTIFY at most every
  // WINDOW_MS (wake.ts); the dispatchers are made below, before any write can commit.
  const wake = new EventsWake(notifyEvents(o.db), () => dispatcher?.nudge(), o.onError);
  const outbox = new PgEventOutbox(o.db, () => wake.committed());
  const codec = o.secrets ?? PLAINTEXT;
  const endpoints = new PgEndpointsRepo(o.db, () => outbox.reload(), codec);
  const deliveries = new PgDeliveriesRepo(o.db);
  const dispatch = new PgDispatchStore(o.db, () => void outbox.reload().catch(() => {}), codec);
  const service = new WebhooksService({ endpoints, deliveries, sender, policy, teamExists: o.teamExists, version: ROSTER_VERSION, ...(o.now ? { now: o.now } : {}) });

  const m = {
    deliveries: new Counter({ name: 'roster_webhook_deliveries_total', help: 'Webhook delivery attempts by format and outcome (success, failure = will retry, exhausted = failed for good)', labelNames: ['format', 'outcome'] as const, registers: [] }),
    seconds: new Histogram({ name: 'roster_webhook_attempt_seconds', help: 'Duration of webhook HTTP attempts', labelNames: ['format'] as const, buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15], registers: [] }),
    disabled: new Counter({ name: 'roster_webhook_endpoints_disabled_total', help: 'Endpoints disabled automatically (failing 5 days, or 410 Gone)', labelNames: ['reason'] as const, registers: [] }),
  };
  const dispatcher = s.worker ? new Dispatcher({
    store: dispatch, sender, schedule: s.retrySchedule, idle: () => !outbox.hasAny(), leaseMs: s.leaseS * 1000, pollMs: s.pollMs, version: ROSTER_VERSION,
    ...(o.now ? { now: o.now } : {}),
    ...(o.onError ? { onError: o.onError } : {}),
    onAttempt: (format, outcome, secs, n) => { m.deliveries.inc({ format, outcome }, n); m.seconds.observe({ format }, secs); },
    onDisabled: (_ep, reason) => m.disabled.inc({ reason }),
    operational: s.operational !== null,
  }) : null;
  // The operator's operational webhooks: their own loop, their own sender (the operator's URL is
  // not a team's, so the address rules do not apply to it).
  const operational = s.worker && s.operational ? new OperationalSender({
    settings: s.operational, store: dispatch, schedule: s.retrySchedule, leaseMs: s.leaseS * 1000, pollMs: s.pollMs, version: ROSTER_VERSION,
    sender: new HttpWebhookSender(new AddressPolicy({ allowHttp: true, allowCidrs: [], anyAddress: true }), o.resolver, o.attemptTimeoutMs),
    ...(o.now ? { now: o.now } : {}),
    ...(o.onError ? { onError: o.onError } : {}),
  }) : null;

  // LISTEN first, then load: an endpoint registered anywhere in between is heard.
  const listener: WebhookListener = listenWebhooks(o.databaseUrl, {
    onEvents: () => { dispatcher?.poke(); operational?.poke(); },
    onEndpoints: () => void outbox.reload().catch((e) => o.onError?.(e)),
    self: wake.instance,
  });
  await listener.ready;
  await outbox.reload();
  // A safety net under NOTIFY: the cache is reloaded every 30 s whatever happens.
  const refresh = setInterval(() => void outbox.reload().catch(() => {}), 30_000);
  refresh.unref();
  dispatcher?.start();
  operational?.start();

  return {
    outbox, service, dispatcher, dispatch,
    async purge(now = new Date()) {
      if (s.retentionDays <= 0) return 0;
      return purgeWebhooksBefore(o.db, new Date(now.getTime() - s.retentionDays * 86_400_000));
    },
    registerMetrics(registry) {
      registry.registerMetric(m.deliveries);
      registry.registerMetric(m.seconds);
      registry.registerMetric(m.disabled);
      const backlog = { pending: 0, oldestS: 0 };
      const read = async () => { Object.assign(backlog, await dispatch.backlog(new Date())); };
      registry.registerMetric(new Gauge({ name: 'roster_webhook_backlog', help: 'Webhook deliveries not yet delivered or failed (pending or in flight); the same on every instance', registers: [], async collect() { await read().catch(() => {}); this.set(backlog.pending); } }));
      registry.registerMetric(new Gauge({ name: 'roster_webhook_oldest_pending_seconds', help: 'Age of the oldest pending webhook delivery', registers: [], async collect() { this.set(backlog.oldestS); } }));
    },
    async close() {
      clearInterval(refresh);
      await wake.close();
      await dispatcher?.stop();
      await operational?.stop();
      await listener.close();
    },
  };
}

/** The management service alone (no dispatcher, no LISTEN): for `roster webhook …`. */
export function webhooksAdminService(db: Kysely<Database>, settings: Partial<WebhookSettings> = {}, secrets: SecretCodec = PLAINTEXT): WebhooksService {
  const s: WebhookSettings = { ...DEFAULT_WEBHOOK_SETTINGS, ...settings };
  const policy = new AddressPolicy({ allowHttp: s.allowHttp, allowCidrs: s.allowCidrs });
  return new WebhooksService({
    endpoints: new PgEndpointsRepo(db, async () => {}, secrets), deliveries: new PgDeliveriesRepo(db), sender: new HttpWebhookSender(policy), policy, version: ROSTER_VERSION,
    teamExists: async (id) => (await sql`select 1 from teams where id = ${id}`.execute(db)).rows.length > 0,
  });
}
