// GET /metrics in Prometheus text format (prom-client). Open unless ROSTER_METRICS_TOKEN is set,
// then `Authorization: Bearer <token>` (compared in constant time).
//
// What is exported (names are stable; dashboards may rely on them):
//   roster_http_requests_total{method,route,status}             counter
//   roster_http_request_duration_seconds{method,route,status}   histogram (seconds)
//       route is the route *pattern* (e.g. /v2/user/:user_id), never the raw URL; requests that
//       matched no route count under route="(unmatched)". Cardinality stays bounded.
//   roster_db_pool_connections / _idle_connections / _waiting_requests / _max_connections {pool}
//       gauges of this process's pg pools (pool="primary", and "replica" with DATABASE_READ_URL):
//       open connections, idle ones, checkouts waiting for one, the cap.
//   roster_db_retries{kind,outcome}                              gauge: serialization/deadlock retries since
//       start, kind statement (autocommit, by the pool) | transaction (by the store), outcome
//       retried (tried again) | exhausted (gave up after the last attempt)
//   roster_db_reachable                                          gauge 1/0 (this scrape's `select 1`)
//   process_* and nodejs_*                                       prom-client's default metrics
//
// Only with ROSTER_METRICS_TOKEN set (security review C5: platform-wide counts are not shown to
// whoever can reach the port), the registry's size:
//   roster_users_live{mode}                                      gauge: live (not deleted) users
//   roster_teams{mode}                                           gauge: teams
//   roster_teams_by_size{le}                                     gauge: teams with at most `le` live
//       users (cumulative buckets 0, 10, 100, …, +Inf, the shape of a histogram's _bucket series,
//       so histogram_quantile() works on it). Team sizes are reported as this distribution, never
//       per team: label values are never ids, names or anything about a person. `mode` is
//       sandbox|production.
//   roster_registry_snapshot_age_seconds                         gauge: how old the three above are
//       These come from one aggregate over the live users, run at most once per
//       ROSTER_METRICS_REFRESH_S (default 60 s) per instance and shared by every scrape in between
//       (C5: no aggregate per scrape). Every instance sharing one database reports the same values:
//       aggregate them with max(), not sum().
import { createHash, timingSafeEqual } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FastifyInstance } from 'fastify';
import type { RetryStats } from '../kernel/retry.ts';
import { tooManyMessage, type CredentialThrottle } from './credential-throttle.ts';
import { EveryAtMost } from './metrics-snapshot.ts';

export const UNMATCHED_ROUTE = '(unmatched)';
/** Upper bounds of the team-size distribution (live users per team). */
export const TEAM_SIZE_BUCKETS = [0, 10, 100, 1_000, 10_000, 100_000, 1_000_000];

/** One pg pool's counts. */
export interface PoolGauge { total: number; idle: number; waiting: number; max: number }

/** The database as /metrics reads it (src/app.ts hands it in). */
export interface DbGauges {
  /** Each pool by label: "primary", and "replica" with DATABASE_READ_URL. */
  pools(): [string, PoolGauge][];
  retries(): { statement: RetryStats; transaction: RetryStats };
  /** Live users of every team, with the team's mode (an aggregate over every live user: see C5 above). */
  teamSizes(): Promise<{ mode: string; n: number }[]>;
  /** One cheap round trip (throws when the database cannot be reached). */
  ping(): Promise<void>;
}

export interface MetricsOptions {
  db: DbGauges;
  /** ROSTER_METRICS_TOKEN; null = no key needed. */
  token: string | null;
  /** Failed token attempts per client address (C4). */
  throttle?: CredentialThrottle;
  /** The log destination's counts (src/log-sink.ts). */
  logStats?: { droppedLines: number; writeErrors: number } | null;
  /** Storage exhaustion counts by SQLSTATE (src/http/storage-state.ts). */
  storage?: { counts: Map<string, number> };
  /** ROSTER_METRICS_REFRESH_S in ms: the registry's sizes are recomputed at most this often (default 60 s). */
  registryEveryMs?: number;
  /** Clock for the registry snapshot's age (tests pass their own). */
  now?: () => number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export async function installMetrics(app: FastifyInstance, o: MetricsOptions) {
  // One registry per app (tests build several apps in one process).
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'roster_http_requests_total', help: 'HTTP requests, by method, route pattern and status', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'roster_http_request_duration_seconds',
    help: 'HTTP request latency in seconds (request received to response sent), by method, route pattern and status',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const poolGauge = (name: string, help: string, read: (p: PoolGauge) => number) =>
    new Gauge({ name, help, labelNames: ['pool'], registers: [registry], collect() { for (const [label, p] of o.db.pools()) this.set({ pool: label }, read(p)); } });
  poolGauge('roster_db_pool_connections', 'Open connections in this process\'s PostgreSQL pool', (p) => p.total);
  poolGauge('roster_db_pool_idle_connections', 'Idle connections in the pool', (p) => p.idle);
  poolGauge('roster_db_pool_waiting_requests', 'Checkouts waiting for a free connection', (p) => p.waiting);
  poolGauge('roster_db_pool_max_connections', 'The pool\'s connection cap', (p) => p.max);
  new Gauge({
    name: 'roster_db_retries', help: 'Serialization and deadlock retries since start, by kind (statement: autocommit, by the pool; transaction: by the store) and outcome (retried, exhausted)',
    labelNames: ['kind', 'outcome'], registers: [registry],
    collect() {
      for (const [kind, st] of Object.entries(o.db.retries())) {
        this.set({ kind, outcome: 'retried' }, st.retried);
        this.set({ kind, outcome: 'exhausted' }, st.exhausted);
      }
    },
  });

  const ls = o.logStats;
  if (ls) {
    new Counter({ name: 'roster_log_lines_dropped_total', help: 'Log lines dropped because the log destination refused writes (full disk, closed pipe) and the buffer was full', registers: [registry], collect() { this.reset(); this.inc(ls.droppedLines); } });
    new Counter({ name: 'roster_log_write_errors_total', help: 'Failed writes to the log destination (each retried with what is buffered)', registers: [registry], collect() { this.reset(); this.inc(ls.writeErrors); } });
  }
  const st = o.storage;
  if (st) new Counter({ name: 'roster_db_storage_exhausted_total', help: 'Requests the database refused for lack of resources (SQLSTATE class 53: disk full, out of memory, too many connections), answered 503', labelNames: ['sqlstate'], registers: [registry], collect() { this.reset(); for (const [s, n] of st.counts) this.inc({ sqlstate: s }, n); } });
  const reachable = new Gauge({ name: 'roster_db_reachable', help: '1 when this scrape could query the database, else 0', registers: [registry] });
  const refreshRegistry = o.token ? registryGauges(registry, o.db, o.registryEveryMs ?? 60_000, o.now ?? Date.now) : null;

  async function refreshFromDatabase(log: FastifyInstance['log']) {
    try {
      await o.db.ping();
      reachable.set(1);
    } catch (e) {
      reachable.set(0);
      log.warn({ err: (e as Error).message }, 'metrics: database query failed');
      return;
    }
    try {
      await refreshRegistry?.();
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'metrics: registry sizes could not be read');
    }
  }

  app.addHook('onResponse', (req, reply, done) => {
    const labels = { method: req.method, route: req.routeOptions.url ?? UNMATCHED_ROUTE, status: reply.statusCode };
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
    done();
  });

  const want = o.token ? digest(o.token) : null;
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (want) {
      const wait = o.throttle?.retryAfter(req.ip) ?? 0;
      if (wait) return reply.code(429).header('retry-after', String(wait)).type('application/json').send({ detail: tooManyMessage(wait) });
      const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !timingSafeEqual(digest(m[1]!), want)) {
        o.throttle?.failed(req.ip);
        reply.header('www-authenticate', 'Bearer realm="metrics"');
        return reply.code(401).type('application/json').send({ detail: 'Missing or invalid metrics token (Authorization: Bearer <ROSTER_METRICS_TOKEN>)' });
      }
    }
    await refreshFromDatabase(req.log);
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });

  return { registry };
}

/**
 * The registry's sizes (users, teams, the team-size distribution) on `registry`, from one aggregate
 * shared by every scrape within `everyMs`. Returns the refresh a scrape calls before rendering.
 */
function registryGauges(registry: Registry, db: DbGauges, everyMs: number, now: () => number): () => Promise<void> {
  const usersLive = new Gauge({ name: 'roster_users_live', help: 'Live (not deleted) users, by team mode', labelNames: ['mode'], registers: [registry] });
  const teams = new Gauge({ name: 'roster_teams', help: 'Teams, by mode', labelNames: ['mode'], registers: [registry] });
  const bySize = new Gauge({ name: 'roster_teams_by_size', help: 'Teams with at most `le` live users (cumulative; a distribution of team sizes, no per-team labels)', labelNames: ['le'], registers: [registry] });
  const age = new Gauge({ name: 'roster_registry_snapshot_age_seconds', help: 'Age of roster_users_live, roster_teams and roster_teams_by_size (recomputed at most every ROSTER_METRICS_REFRESH_S)', registers: [registry] });
  const snapshot = new EveryAtMost(() => db.teamSizes(), everyMs, now);
  let shown = -1;
  return async () => {
    const { value: rows, at } = await snapshot.get();
    age.set(Math.max(0, (now() - at) / 1000));
    if (at === shown) return;
    shown = at;
    const live: Record<string, number> = { sandbox: 0, production: 0 };
    const count: Record<string, number> = { sandbox: 0, production: 0 };
    const buckets = new Array<number>(TEAM_SIZE_BUCKETS.length + 1).fill(0);
    for (const { mode, n } of rows) {
      live[mode] = (live[mode] ?? 0) + n;
      count[mode] = (count[mode] ?? 0) + 1;
      for (let i = 0; i < TEAM_SIZE_BUCKETS.length; i++) if (n <= TEAM_SIZE_BUCKETS[i]!) buckets[i]!++;
      buckets[TEAM_SIZE_BUCKETS.length]!++;
    }
    for (const m of Object.keys(live)) { usersLive.set({ mode: m }, live[m]!); teams.set({ mode: m }, count[m]!); }
    TEAM_SIZE_BUCKETS.forEach((b, i) => bySize.set({ le: String(b) }, buckets[i]!));
    bySize.set({ le: '+Inf' }, buckets[TEAM_SIZE_BUCKETS.length]!);
  };
}
