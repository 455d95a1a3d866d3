// The server's lifecycle: database (embedded or DATABASE_URL), migrations, listen, purge sweep, signals.
import fs from 'node:fs';
import pino from 'pino';
import { appSettingsFrom, loadConfig, type Config } from './config.ts';
import { connectionOptions, openDatabase } from './db/open.ts';
import { buildApp } from './app.ts';
import { bootstrapBanner } from './bootstrap-banner.ts';
import { createLogSink, tellStderr } from './log-sink.ts';
import { connectRedis } from './redis.ts';
import { createDb } from './db/pool.ts';
import { runMaintenance } from './compose.ts';

const PURGE_EVERY_MS = 60 * 60 * 1000;
const SHUTDOWN_BOUND_MS = 15_000;

/** A loopback listen address: only this machine can reach the console's one-time link. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export async function serve(config: Config = loadConfig()): Promise<void> {
  // A signal during start-up is remembered and honoured as soon as there is something to stop
  // (the handlers below replace these once the server is up).
  let earlySignal: string | null = null;
  const early = (sig: string) => () => { earlySignal ??= sig; };
  const earlyInt = early('SIGINT');
  const earlyTerm = early('SIGTERM');
  process.on('SIGINT', earlyInt);
  process.on('SIGTERM', earlyTerm);
  // Log lines are buffered, and a log that cannot be written never stops the service (src/log-sink.ts).
  const sink = createLogSink();
  const logDest = sink.dest;
  process.on('exit', () => sink.flushSync());
  const log = pino({ level: config.logLevel }, logDest);
  const started = Date.now();
  const opened = await openDatabase({
    ...connectionOptions(config),
    dataDir: config.dataDir,
    role: 'serve',
    poolMax: config.dbPoolMax,
    log: (level, msg) => log[level]({ component: 'postgres' }, msg),
  });
  if (opened.applied.length) log.info({ migrations: opened.applied }, 'migrations applied');

  const redis = config.redisUrl ? await connectRedis(config.redisUrl) : null;
  // The replica is only read: no migrations there (they arrive by replication).
  const readDb = config.databaseReadUrl ? createDb({ url: config.databaseReadUrl, max: config.dbPoolMax, applicationName: 'roster-read', pooler: config.databasePooler ?? 'direct' }) : null;
  const built = await buildApp({
    ...appSettingsFrom(config),
    readDb,
    redis,
    db: opened.db,
    // LISTEN (key revocations) is session state: PostgreSQL itself, not a transaction pooler.
    databaseUrl: opened.directUrl,
    logStream: logDest,
    consoleLinks: !config.adminToken && isLoopback(config.host),
    logStats: sink.stats,
  });
  const { services } = built;

  let bootstrapLine = '';
  if (config.bootstrapApiKey) {
    const r = await services.teams.ensureBootstrap(config.bootstrapApiKey);
    bootstrapLine = bootstrapBanner(config.bootstrapApiKey, r);
    if (r.revoked) log.warn({ keyId: r.keyId }, 'ROSTER_BOOTSTRAP_API_KEY names a revoked key: it stays revoked');
  }

  // The same sweep as `roster purge` (src/compose.ts runMaintenance).
  const purge = async () => {
    try {
      const r = await runMaintenance(built.core, opened.db, { auditRetentionDays: config.auditRetentionDays, webhookRetentionDays: config.webhooks.retentionDays });
      if (r.users) log.info({ purged: r.users }, 'purged users past their undo window');
      if (r.authTokens) log.info({ purged: r.authTokens }, 'purged expired sign-in and refresh tokens');
      if (r.idempotencyKeys) log.info({ purged: r.idempotencyKeys }, 'purged expired idempotency keys');
      if (r.auditEvents) log.info({ purged: r.auditEvents }, 'purged audit entries past ROSTER_AUDIT_RETENTION_DAYS');
      if (r.webhookRows) log.info({ purged: r.webhookRows }, 'purged webhook events, deliveries and attempts past ROSTER_WEBHOOK_RETENTION_DAYS');
      if (r.consoleSessions) log.info({ purged: r.consoleSessions }, 'purged expired console sessions and sign-in links');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'purge sweep failed; will retry');
    }
  };
  await purge();
  const purgeTimer = setInterval(purge, PURGE_EVERY_MS);
  purgeTimer.unref();

  const address = await built.app.listen({ port: config.port, host: config.host });
  const teams = await services.teams.listTeams();
  const where = opened.embedded ? `embedded PostgreSQL, data in ${config.dataDir}` : 'PostgreSQL at DATABASE_URL';
  const lines = [
    `Roster listening on ${address} (${where}), ready in ${Date.now() - started} ms`,
    teams.length === 0
      ? 'No teams yet. Create one and get its API key (shown once):  npx roster team create --name my-team'
      : `${teams.length} team(s). New team and key (shown once): npx roster team create --name NAME   ·   list: npx roster team list`,
    'Send the key as the x-vital-api-key header, e.g.  curl -H "x-vital-api-key: $KEY" ' + address + '/v2/user',
    `Onvy face at ${address}${config.onvyPrefix}/users (X-API-Key or Bearer), basic face at ${address}${config.basicPrefix}/users (Bearer)`,
  ];
  if (bootstrapLine) lines.push(bootstrapLine);
  if (config.adminToken) lines.push(`Admin API enabled at ${address}/admin (Authorization: Bearer $ROSTER_ADMIN_TOKEN)`);
  // The console: sign in with the admin token, or (no token, loopback) with a one-time link printed
  // here only (stdout, never the log; single use, 10 minutes).
  if (built.console?.tokenSignIn) lines.push(`Console at ${address}/admin/console/ (sign in with ROSTER_ADMIN_TOKEN)`);
  else if (built.console?.linksEnabled) lines.push(`Console: open ${address}/admin/console/login?link=${await built.console.issueLink()}  (one-time sign-in link, valid 10 minutes)`);
  else lines.push('Console off: set ROSTER_ADMIN_TOKEN to use it when HOST is not a loopback address');
  // Through the sink's descriptor rules: a banner that cannot be written must not stop the start.
  try { fs.writeSync(1, lines.map((l) => `  ${l}\n`).join('')); } catch (e) { tellStderr(`roster: the start banner could not be written (${(e as NodeJS.ErrnoException).code ?? ''})`); }

  let stopping = false;
  let skipDelay: (() => void) | null = null;
  const stop = async (signal: string) => {
    if (stopping) { skipDelay?.(); return; }
    stopping = true;
    // /readyz answers 503 at once, so a proxy's health checks take this instance out while it still
    // serves (ROSTER_SHUTDOWN_DELAY_MS; a second signal cuts the wait short), then it drains.
    built.beginDrain();
    if (config.shutdownDelayMs > 0) {
      log.info({ signal, delayMs: config.shutdownDelayMs }, 'shutting down: /readyz answers 503; still serving until the delay ends');
      await new Promise<void>((r) => { const t = setTimeout(r, config.shutdownDelayMs); skipDelay = () => { clearTimeout(t); r(); }; });
    }
    log.info({ signal }, 'shutting down: draining in-flight requests');
    const force = setTimeout(() => { log.error('shutdown bound exceeded; exiting'); process.exit(1); }, SHUTDOWN_BOUND_MS);
    force.unref();
    clearInterval(purgeTimer);
    try {
      await built.close();      // stops accepting, waits for in-flight requests
      await redis?.quit().catch(() => {});
      await readDb?.close();
      await opened.close();     // pool, then the embedded database last
      log.info('stopped cleanly');
      await sink.drain();
      process.exit(0);
    } catch (e) {
      log.error({ err: (e as Error).message }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.off('SIGINT', earlyInt);
  process.off('SIGTERM', earlyTerm);
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  if (earlySignal) void stop(earlySignal);
}

