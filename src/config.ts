// Environment → typed config, read once in main.ts and handed down as values.
import path from 'node:path';
import { DEFAULT_WEBHOOK_SETTINGS, type WebhookSettings } from './domain/webhooks/settings.ts';
import { parseRetrySchedule } from './domain/webhooks/retry.ts';
import { parseCidrs } from './domain/webhooks/ssrf.ts';
import { secretProblem } from './domain/webhooks/render.ts';
import { securityConfig, type SecurityConfig } from './config-security.ts';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string | null;
  dataDir: string;
  logLevel: string;
  bootstrapApiKey: string | null;
  adminToken: string | null;
  /** ROSTER_METRICS_TOKEN: when set, GET /metrics needs `Authorization: Bearer <token>`. */
  metricsToken: string | null;
  /** ROSTER_METRICS_REFRESH_S: /metrics recomputes the registry's sizes at most this often (security C5). */
  metricsRefreshS: number;
  sandboxUserCap: number;
  /** ROSTER_AUDIT_RETENTION_DAYS: audit entries older than this are deleted by the hourly sweep; 0 keeps them. */
  auditRetentionDays: number;
  /** Outgoing webhooks (ROSTER_WEBHOOK_*; docs/webhooks.md). */
  webhooks: WebhookSettings;
  dbPoolMax: number;
  bodyLimitBytes: number;
  portalLaunchTtlS: number;
  redisUrl: string | null;
  databaseReadUrl: string | null;
  /** DATABASE_POOLER: 'transaction' when DATABASE_URL (and DATABASE_READ_URL) is a transaction-mode pooler. */
  databasePooler: 'transaction' | null;
  /** DATABASE_DIRECT_URL: the server itself, for session work (migrations, LISTEN, backup); required with a pooler. */
  databaseDirectUrl: string | null;
  /** ROSTER_SHUTDOWN_DELAY_MS: after SIGTERM, /readyz answers 503 this long while requests are still served. */
  shutdownDelayMs: number;
  readYourWritesMs: number;
  rateLimitPerMinute: number;
  /** Mount points of the Onvy and basic faces (ROSTER_ONVY_PREFIX, ROSTER_BASIC_PREFIX). */
  onvyPrefix: string;
  basicPrefix: string;
  /** The basic face's own limit per API key: requests per window (ROSTER_BASIC_RATE_LIMIT, ROSTER_BASIC_RATE_WINDOW_S). */
  basicRateLimit: { max: number; windowMs: number };
  portalCommunicationsTtlS: number;
  /** ROSTER_PUBLIC_URL: Roster's external base URL; null = the host each request came to. */
  publicUrl: string | null;
  /** Mobile SDK sign-in (docs/sign-in-tokens.md): token lifetimes in seconds, `iss` region. */
  signInTokenTtlS: number;
  accessTokenTtlS: number;
  refreshTokenTtlS: number;
  signInRegion: 'us' | 'eu';
  /** ROSTER_SESSION_MAX_TTL_S: absolute lifetime of a mobile session (docs/sign-in-tokens.md). */
  sessionMaxTtlS: number;
  /** ROSTER_SECRET_KEY: seals the signing keys, portal secrets and webhook endpoint secrets at rest (AES-256-GCM); null = plaintext. */
  secretKey: string | null;
  /** ROSTER_TRUST_PROXY, ROSTER_ALLOWED_HOSTS (src/config-security.ts). */
  security: SecurityConfig;
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max} (got "${raw}")`);
  return Number(raw);
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const logLevel = env.LOG_LEVEL || 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}`);
  const adminToken = env.ROSTER_ADMIN_TOKEN || null;
  if (adminToken !== null && adminToken.length < 16) throw new ConfigError('ROSTER_ADMIN_TOKEN must be at least 16 characters');
  const metricsToken = env.ROSTER_METRICS_TOKEN || null;
  if (metricsToken !== null && metricsToken.length < 16) throw new ConfigError('ROSTER_METRICS_TOKEN must be at least 16 characters');
  const bootstrapApiKey = env.ROSTER_BOOTSTRAP_API_KEY || null;
  if (bootstrapApiKey !== null && bootstrapApiKey.length < 16) throw new ConfigError('ROSTER_BOOTSTRAP_API_KEY must be at least 16 characters');
  return {
    port: int(env, 'PORT', 8000, 0, 65535),
    host: env.HOST || '127.0.0.1',
    databaseUrl: env.DATABASE_URL || null,
    dataDir: path.resolve(env.DATA_DIR || './data'),
    logLevel,
    bootstrapApiKey,
    adminToken,
    metricsToken,
    metricsRefreshS: int(env, 'ROSTER_METRICS_REFRESH_S', 60, 1, 86_400),
    sandboxUserCap: int(env, 'ROSTER_SANDBOX_USER_CAP', 0, 0, 1_000_000),
    auditRetentionDays: int(env, 'ROSTER_AUDIT_RETENTION_DAYS', 0, 0, 36_500),
    dbPoolMax: int(env, 'DB_POOL_MAX', 20, 1, 1000),
    bodyLimitBytes: int(env, 'ROSTER_BODY_LIMIT_BYTES', 1_048_576, 1024, 100 * 1_048_576),
    redisUrl: env.REDIS_URL || null,
    databaseReadUrl: env.DATABASE_READ_URL || null,
    ...pooler(env),
    shutdownDelayMs: int(env, 'ROSTER_SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    readYourWritesMs: int(env, 'ROSTER_READ_YOUR_WRITES_MS', 5000, 0, 3_600_000),
    rateLimitPerMinute: int(env, 'ROSTER_RATE_LIMIT_PER_MINUTE', 2000, 1, 10_000_000),
    ...facePrefixes(env),
    basicRateLimit: { max: int(env, 'ROSTER_BASIC_RATE_LIMIT', 100, 1, 10_000_000), windowMs: 1000 * int(env, 'ROSTER_BASIC_RATE_WINDOW_S', 60, 1, 86_400) },
    portalLaunchTtlS: int(env, 'ROSTER_PORTAL_LAUNCH_TTL_S', 600, 1, 31_536_000),
    portalCommunicationsTtlS: int(env, 'ROSTER_PORTAL_COMMUNICATIONS_TTL_S', 1_209_600, 1, 31_536_000),
    publicUrl: publicUrl(env.ROSTER_PUBLIC_URL),
    signInTokenTtlS: int(env, 'ROSTER_SIGN_IN_TOKEN_TTL_S', 3600, 1, 31_536_000),
    accessTokenTtlS: int(env, 'ROSTER_ACCESS_TOKEN_TTL_S', 3600, 1, 31_536_000),
    refreshTokenTtlS: int(env, 'ROSTER_REFRESH_TOKEN_TTL_S', 7_776_000, 1, 3_153_600_000),
    signInRegion: region(env.ROSTER_SIGN_IN_REGION),
    webhooks: webhookSettings(env),
    sessionMaxTtlS: int(env, 'ROSTER_SESSION_MAX_TTL_S', 15_552_000, 60, 3_153_600_000),
    secretKey: secretKey(env.ROSTER_SECRET_KEY),
    security: securityConfig(env, (m) => { throw new ConfigError(m); }),
  };
}

function secretKey(raw: string | undefined): string | null {
  if (!raw) return null;
  if (raw.length < 32) throw new ConfigError('ROSTER_SECRET_KEY must be at least 32 characters (e.g. openssl rand -base64 32)');
  return raw;
}

/** DATABASE_POOLER and DATABASE_DIRECT_URL (docs/deploy.md). */
function pooler(env: NodeJS.ProcessEnv): { databasePooler: 'transaction' | null; databaseDirectUrl: string | null } {
  const raw = env.DATABASE_POOLER || '';
  const databaseDirectUrl = env.DATABASE_DIRECT_URL || null;
  if (raw === '' || raw === 'none') return { databasePooler: null, databaseDirectUrl };
  if (raw !== 'transaction') throw new ConfigError(`DATABASE_POOLER must be "transaction" (PgBouncer pool_mode=transaction or a managed transaction pooler) or unset for a direct connection (got "${raw}"); a session-mode pooler needs no setting`);
  if (!env.DATABASE_URL) throw new ConfigError('DATABASE_POOLER=transaction needs DATABASE_URL (the pooler\'s address); the embedded PostgreSQL has no pooler');
  if (!databaseDirectUrl) throw new ConfigError('DATABASE_POOLER=transaction needs DATABASE_DIRECT_URL: a direct connection to PostgreSQL (not through the pooler) for migrations, LISTEN/NOTIFY and backup/restore');
  return { databasePooler: 'transaction', databaseDirectUrl };
}

/** An absolute http(s) URL without query or fragment; kept without a trailing slash. */
function publicUrl(raw: string | undefined): string | null {
  if (!raw) return null;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(`ROSTER_PUBLIC_URL must be an absolute http(s) URL (got "${raw}")`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash) throw new ConfigError(`ROSTER_PUBLIC_URL must be an absolute http(s) URL without query or fragment (got "${raw}")`);
  return raw.replace(/\/+$/, '');
}

function region(raw: string | undefined): 'us' | 'eu' {
  if (!raw) return 'us';
  if (raw !== 'us' && raw !== 'eu') throw new ConfigError(`ROSTER_SIGN_IN_REGION must be us or eu (got "${raw}")`);
  return raw;
}

/** A face prefix: one or more /segments, not clashing with Junction's /v2 or the other routes at /. */
function facePrefix(env: NodeJS.ProcessEnv, name: string, def: string): string {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const p = raw.replace(/\/+$/, '');
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(p)) throw new ConfigError(`${name} must be a path such as ${def} (got "${raw}")`);
  if (/^\/(v2|admin|auth|healthz|readyz)(\/|$)/.test(p)) throw new ConfigError(`${name} must not be under a path Roster already serves (got "${raw}")`);
  return p;
}

function facePrefixes(env: NodeJS.ProcessEnv): { onvyPrefix: string; basicPrefix: string } {
  const onvyPrefix = facePrefix(env, 'ROSTER_ONVY_PREFIX', '/onvy');
  const basicPrefix = facePrefix(env, 'ROSTER_BASIC_PREFIX', '/basic');
  const nested = (a: string, b: string) => a === b || b.startsWith(`${a}/`);
  if (nested(onvyPrefix, basicPrefix) || nested(basicPrefix, onvyPrefix)) throw new ConfigError(`ROSTER_ONVY_PREFIX and ROSTER_BASIC_PREFIX must not overlap (got "${onvyPrefix}" and "${basicPrefix}")`);
  return { onvyPrefix, basicPrefix };
}

/** What the HTTP app is built with (src/app.ts), as values taken from the config. */
export interface AppSettings {
  logLevel: string;
  adminToken: string | null;
  /** ROSTER_METRICS_TOKEN: GET /metrics needs `Authorization: Bearer <token>`; null = open (without the registry's sizes). */
  metricsToken: string | null;
  /** ROSTER_METRICS_REFRESH_S: the registry's sizes on /metrics are recomputed at most this often. */
  metricsRefreshS: number;
  sandboxUserCap: number;
  bodyLimitBytes: number;
  /** Portal link lifetimes in seconds (launch: minutes, communications: weeks). */
  portalTtl: { launch: number; communications: number };
  /** After a key writes, its reads go to the primary for this long (read-your-writes). */
  readYourWritesMs: number;
  /** Where the Onvy and basic faces are mounted; Junction stays at /. */
  onvyPrefix: string;
  basicPrefix: string;
  /** The basic face's own per-key limit (a team's own per-minute limit wins). */
  basicRateLimit: { max: number; windowMs: number };
  /** Default requests per minute per API key (teams may have their own). */
  rateLimitPerMinute: number;
  /** Base URL for links Roster hands out; null = the host each request came to. */
  publicUrl: string | null;
  /** Mobile SDK sign-in: token lifetimes (s) and `iss` region. */
  authTokens: { signInTokenTtlS: number; accessTokenTtlS: number; refreshTokenTtlS: number; region: 'us' | 'eu'; sessionMaxTtlS: number };
  /** Webhooks (i12): ROSTER_WEBHOOK_* (docs/webhooks.md). */
  webhooks: WebhookSettings;
  /** ROSTER_SECRET_KEY: signing keys and portal secrets sealed at rest; a wrong key fails the start. */
  secretKey: string | null;
  /** ROSTER_ALLOWED_HOSTS: Host values links may be built from without ROSTER_PUBLIC_URL (C10). */
  allowedHosts: string[];
  /** ROSTER_TRUST_PROXY: which proxies' X-Forwarded-* are believed (S5); null: none. */
  trustProxy: boolean | number | string[] | null;
}

export function appSettingsFrom(c: Config): AppSettings {
  return {
    logLevel: c.logLevel,
    adminToken: c.adminToken,
    metricsToken: c.metricsToken,
    metricsRefreshS: c.metricsRefreshS,
    sandboxUserCap: c.sandboxUserCap,
    bodyLimitBytes: c.bodyLimitBytes,
    portalTtl: { launch: c.portalLaunchTtlS, communications: c.portalCommunicationsTtlS },
    readYourWritesMs: c.readYourWritesMs,
    onvyPrefix: c.onvyPrefix,
    basicPrefix: c.basicPrefix,
    basicRateLimit: c.basicRateLimit,
    rateLimitPerMinute: c.rateLimitPerMinute,
    publicUrl: c.publicUrl,
    authTokens: { signInTokenTtlS: c.signInTokenTtlS, accessTokenTtlS: c.accessTokenTtlS, refreshTokenTtlS: c.refreshTokenTtlS, region: c.signInRegion, sessionMaxTtlS: c.sessionMaxTtlS },
    webhooks: c.webhooks,
    secretKey: c.secretKey,
    allowedHosts: c.security.allowedHosts,
    trustProxy: c.security.trustProxy,
  };
}

/** The settings of an environment that sets nothing: every default, from loadConfig alone. */
export const defaultAppSettings = (): AppSettings => appSettingsFrom(loadConfig({}));

/** ROSTER_WEBHOOK_* (docs/webhooks.md). */
function webhookSettings(env: NodeJS.ProcessEnv): WebhookSettings {
  const flag = (name: string, def: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return def;
    if (raw === '1' || raw === 'true') return true;
    if (raw === '0' || raw === 'false') return false;
    throw new ConfigError(`${name} must be 1 or 0 (got "${raw}")`);
  };
  const wrap = <T>(f: () => T): T => { try { return f(); } catch (e) { throw new ConfigError((e as Error).message); } };
  return {
    ...DEFAULT_WEBHOOK_SETTINGS,
    worker: flag('ROSTER_WEBHOOK_WORKER', true),
    allowHttp: flag('ROSTER_WEBHOOK_ALLOW_HTTP', false),
    allowCidrs: wrap(() => parseCidrs(env.ROSTER_WEBHOOK_ALLOW_CIDRS)),
    retrySchedule: env.ROSTER_WEBHOOK_RETRY_SCHEDULE ? wrap(() => parseRetrySchedule(env.ROSTER_WEBHOOK_RETRY_SCHEDULE!)) : DEFAULT_WEBHOOK_SETTINGS.retrySchedule,
    retentionDays: int(env, 'ROSTER_WEBHOOK_RETENTION_DAYS', 30, 0, 36_500),
    leaseS: int(env, 'ROSTER_WEBHOOK_LEASE_S', 30, 16, 3600),
    operational: operationalWebhook(env),
  };
}

/** ROSTER_OPERATIONAL_WEBHOOK_URL (http or https) and its signing secret, both or neither (docs/webhooks.md). */
function operationalWebhook(env: NodeJS.ProcessEnv): WebhookSettings['operational'] {
  const url = env.ROSTER_OPERATIONAL_WEBHOOK_URL || '';
  const secret = env.ROSTER_OPERATIONAL_WEBHOOK_SECRET || '';
  if (!url) {
    if (secret) throw new ConfigError('ROSTER_OPERATIONAL_WEBHOOK_SECRET is set but ROSTER_OPERATIONAL_WEBHOOK_URL is not');
    return null;
  }
  let u: URL;
  try { u = new URL(url); } catch { throw new ConfigError('ROSTER_OPERATIONAL_WEBHOOK_URL must be an absolute http(s) URL'); }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password) throw new ConfigError('ROSTER_OPERATIONAL_WEBHOOK_URL must be an http(s) URL without user:password@');
  if (!secret) throw new ConfigError('ROSTER_OPERATIONAL_WEBHOOK_URL needs ROSTER_OPERATIONAL_WEBHOOK_SECRET (whsec_ + base64 of 24 to 64 random bytes, e.g. "whsec_$(openssl rand -base64 32)")');
  const problem = secretProblem('standard', secret);
  if (problem) throw new ConfigError(`ROSTER_OPERATIONAL_WEBHOOK_SECRET: ${problem}`);
  return { url, secret };
}
