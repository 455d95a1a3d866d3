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
import { AuthTokensService, DEFAULT_AUTH_TOKEN_SETTINGS, type AuthTokenSettings } from './domain/auth-tokens.ts';
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

export interface ServiceSettings {
  /** ROSTER_SANDBOX_USER_CAP (0 = none). */
  sandboxUserCap: number;
  /** Portal link lifetimes in seconds. */
  portalTtl: { launch: number; communications: number };
  /** Mobile SDK sign-in token lifetimes and region (defaults: DEFAULT_AUTH_TOKEN_SETTINGS). */
  authTokens?: Partial<AuthTokenSettings>;
  now?: Clock;
  /** The audit log could not write a batch (it keeps it for the next flush). */
  onAuditError?: (e: unknown) => void;
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
  // Repositories query through `scoped`, which follows a request's transaction when there is one
  // (outside a request, e.g. in the CLI, it is the database itself).
  const scoped = scopedKysely(db.kysely);
  const audit = new PgAuditLog(scoped, s.onAuditError);
  const users = new UsersService({ repo: new PgUsersRepo(scoped), now, sandboxUserCap: s.sandboxUserCap });
  const demographics = new DemographicsService(new PgDemographicsRepo(scoped), users, now);
  return {
    users,
    teams: new TeamsService(new PgTeamsRepo(scoped), now),
    connections: new ConnectionsService(new PgConnectionsRepo(scoped), users, now),
    demographics,
    insurance: new InsuranceService(new PgInsuranceRepo(scoped), users, now),
    portal: new PortalService(new PgPortalRepo(scoped), users, demographics, s.portalTtl, now),
    authTokens: new AuthTokensService({
      repo: new PgAuthTokensRepo(scoped, db.kysely),
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
  /** Console sessions past their expiry and spent one-time links. */
  consoleSessions: number;
}

/** The one maintenance sweep: the server runs it hourly, `roster purge` once. */
export async function runMaintenance(core: CoreServices, db: Db, o: { auditRetentionDays: number }): Promise<MaintenanceReport> {
  const now = core.now();
  const users = await core.users.purgeExpired();
  const authTokens = await core.authTokens.purgeExpired();
  const idempotencyKeys = await core.idempotency.purgeExpired(now);
  const auditEvents = o.auditRetentionDays > 0 ? await purgeAuditBefore(db.kysely, new Date(now.getTime() - o.auditRetentionDays * 86_400_000)) : 0;
  const consoleSessions = await purgeConsoleSessions(core.consoleSessions, now);
  return { users, authTokens, idempotencyKeys, auditEvents, consoleSessions };
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
