// Bulk seeding for the benchmark: users go straight into PostgreSQL with one
// `insert … select … from generate_series` per batch (never through the API), with ids and client
// ids the load process can compute without reading them back.
//
// Seeded user g of a prefix P:
//   client_user_id  P-g
//   id              a UUIDv7-shaped value: 48-bit time (T0 + g ms), then bits of md5('P:g')
//   created_at      T0 + g ms (so the listing order is the seeding order, newest last)
//   every 2nd user has a fallback time zone, every 3rd a fallback birth date.
import crypto from 'node:crypto';
import type pg from 'pg';

/** 2026-01-01T00:00:00Z: the clock origin of seeded users. */
export const SEED_T0_MS = Date.UTC(2026, 0, 1);

export function seedId(prefix: string, g: number, t0 = SEED_T0_MS): string {
  const h = crypto.createHash('md5').update(`${prefix}:${g}`).digest('hex');
  const x = (t0 + g).toString(16).padStart(12, '0') + '7' + h.slice(0, 3) + '8' + h.slice(3, 18);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export const seedClientId = (prefix: string, g: number) => `${prefix}-${g}`;

export interface SeedResult {
  rows: number;
  insertMs: number;
  analyzeMs: number;
}

/**
 * Inserts users 1..n of `prefix` into `teamId`, in batches; then VACUUM (ANALYZE).
 *
 * Since migration 0008, users.basic_id defaults to a sequence and needs nothing here. An older
 * checkout (`--roster-dir`) numbered users from a per-team counter row (team_counters) through a
 * trigger: there the numbers are given here and the counter is moved once at the end, because the
 * trigger's per-row counter update makes one bulk statement quadratic.
 */
export async function seedUsers(c: pg.ClientBase, o: { teamId: string; prefix: string; n: number; batch?: number; onProgress?: (done: number) => void }): Promise<SeedResult> {
  const batch = o.batch ?? 250_000;
  const numbered = (await c.query(`select 1 from information_schema.columns where table_name = 'users' and column_name = 'basic_id'`)).rowCount! > 0
    && (await c.query(`select 1 from information_schema.tables where table_name = 'team_counters'`)).rowCount! > 0;
  const base = numbered ? Number((await c.query<{ m: string }>('select coalesce(max(basic_id), 0) as m from users where team_id = $1', [o.teamId])).rows[0]!.m) : 0;
  const t0 = performance.now();
  for (let from = 1; from <= o.n; from += batch) {
    const to = Math.min(o.n, from + batch - 1);
    await c.query(
      `insert into users (team_id, id, client_user_id, created_at, updated_at, deleted_at,
         fallback_time_zone, fallback_time_zone_source, fallback_time_zone_updated_at,
         fallback_birth_date, fallback_birth_date_source, fallback_birth_date_updated_at, ingestion_start, ingestion_end
         ${numbered ? ', basic_id' : ''})
       select $1::uuid,
              (lpad(to_hex($4::bigint + g), 12, '0') || '7' || substr(h, 1, 3) || '8' || substr(h, 4, 15))::uuid,
              $2 || '-' || g,
              to_timestamp(($4::bigint + g) / 1000.0), to_timestamp(($4::bigint + g) / 1000.0), null,
              case when g % 2 = 0 then 'Europe/London' end, case when g % 2 = 0 then 'manual' end,
              case when g % 2 = 0 then to_timestamp(($4::bigint + g) / 1000.0) end,
              case when g % 3 = 0 then date '1990-01-01' + (g % 9000) end, case when g % 3 = 0 then 'manual' end,
              case when g % 3 = 0 then to_timestamp(($4::bigint + g) / 1000.0) end,
              null, null
              ${numbered ? ', $6::bigint + g' : ''}
         from (select g, md5($2 || ':' || g) as h from generate_series($3::int, $5::int) as g) s`,
      [o.teamId, o.prefix, from, SEED_T0_MS, to, ...(numbered ? [base] : [])],
    );
    o.onProgress?.(to);
  }
  if (numbered) {
    await c.query(`insert into team_counters (team_id, name, value) values ($1, 'basic_user_id', $2)
      on conflict (team_id, name) do update set value = greatest(team_counters.value, excluded.value)`, [o.teamId, base + o.n]);
  }
  const t1 = performance.now();
  // VACUUM too, as --scale does: a team that has been live a while has been vacuumed by autovacuum,
  // and its visibility map set (index-only scans, e.g. the list's count, read no heap pages).
  await c.query('vacuum (analyze) users');
  return { rows: o.n, insertMs: t1 - t0, analyzeMs: performance.now() - t1 };
}

/** The team a key belongs to (the benchmark's key is Roster's bootstrap key). */
export async function teamOfKey(c: pg.ClientBase, apiKey: string): Promise<string> {
  const hash = crypto.createHash('sha256').update(apiKey, 'utf8').digest();
  const r = await c.query<{ team_id: string }>('select team_id from api_keys where hash = $1', [hash]);
  if (!r.rows[0]) throw new Error('the benchmark key is not in api_keys (did Roster apply ROSTER_BOOTSTRAP_API_KEY?)');
  return r.rows[0].team_id;
}

/** Ids and client ids of a random sample of seeded users (computed, not read back). */
export function sampleSeeded(prefix: string, n: number, sample: number): { ids: string[]; cids: string[] } {
  const ids: string[] = [];
  const cids: string[] = [];
  const step = Math.max(1, Math.floor(n / sample));
  for (let g = 1; g <= n && ids.length < sample; g += step) {
    ids.push(seedId(prefix, g));
    cids.push(seedClientId(prefix, g));
  }
  return { ids, cids };
}
