// Starts Roster's HTTP app on a free port over a test database, with helpers to make teams.
import { Writable } from 'node:stream';
import type { Redis } from 'ioredis';
import { buildApp, type BuiltApp } from '../../src/app.ts';
import type { TestDatabase } from './backends.ts';

export interface TestServer {
  baseUrl: string;
  built: BuiltApp;
  /** Log lines written so far (JSON strings), for tests that check what is (not) logged. */
  logs: string[];
  newTeam(name?: string, mode?: 'sandbox' | 'production'): Promise<{ teamId: string; apiKey: string; keyId: string }>;
  close(): Promise<void>;
}

export async function startServer(tdb: TestDatabase, opts: { adminToken?: string; sandboxUserCap?: number; logLevel?: string; portalTtl?: { launch: number; communications: number }; redis?: Redis | null; rateLimitPerMinute?: number; webhooks?: import('../../src/app.ts').AppOptions['webhooks']; publicUrl?: string; consoleLinks?: boolean; now?: () => Date; secretKey?: string } = {}): Promise<TestServer> {
  const logs: string[] = [];
  const logStream = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const built = await buildApp({
    db: tdb.db,
    databaseUrl: tdb.url,
    logLevel: opts.logLevel ?? 'info',
    logStream,
    adminToken: opts.adminToken ?? null,
    sandboxUserCap: opts.sandboxUserCap ?? 0,
    ...(opts.portalTtl ? { portalTtl: opts.portalTtl } : {}),
    ...(opts.redis ? { redis: opts.redis } : {}),
    ...(opts.rateLimitPerMinute ? { rateLimitPerMinute: opts.rateLimitPerMinute } : {}),
    ...(opts.webhooks ? { webhooks: opts.webhooks } : {}),
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    ...(opts.consoleLinks ? { consoleLinks: true } : {}),
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.secretKey ? { secretKey: opts.secretKey } : {}),
    // Suites send many refused credentials from one address on purpose; the throttle itself is
    // tested in test/http/credential-throttle.test.ts.
    credentialThrottle: { maxFailures: 1_000_000 },
  });
  const address = await built.app.listen({ port: 0, host: '127.0.0.1' });
  let n = 0;
  return {
    baseUrl: address,
    built,
    logs,
    async newTeam(name, mode = 'sandbox') {
      const r = await built.services.teams.createTeam(name ?? `team-${++n}`, mode);
      return { teamId: r.team.id, apiKey: r.apiKey, keyId: r.key.id };
    },
    close: () => built.close(),
  };
}
