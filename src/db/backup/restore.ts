// `roster restore`'s engine: one transaction that migrates the target to the backup's level,
// empties it, loads and verifies every table, and applies the migrations beyond the backup's.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { MIGRATION_LOCK_ID, appliedMigrations, applyInTransaction, loadMigrations, type Migration } from '../migrate.ts';
import { BackupError, BackupReader, countLines, type BackupHeader } from './format.ts';
import { abandon, connect, describePgError, qi, readCatalog, setSession, type Catalog, type Q } from './catalog.ts';

/** How many of `known` `list` is, when it is exactly their beginning; otherwise the reason not. */
function levelOf(list: { version: number; name: string }[], known: readonly Migration[], who: 'backup' | 'target'): number {
  const names = new Set(known.map((m) => m.name));
  const unknown = list.filter((m) => !names.has(m.name)).map((m) => m.name);
  if (unknown.length) {
    throw new BackupError(who === 'backup'
      ? `the backup was taken at migrations this build of Roster does not know (${unknown.join(', ')}): restore it with a Roster at least as new as the one that made it`
      : `the target database has migrations this build of Roster does not know (${unknown.join(', ')}): use the Roster that migrated it, or a newer one`);
  }
  list.forEach((m, i) => {
    if (known[i]?.name !== m.name) throw new BackupError(`the ${who === 'backup' ? 'backup\'s' : 'target database\'s'} migrations (${list.map((x) => x.name).join(', ')}) are not a prefix of this build's`);
  });
  return list.length;
}

export interface RestoreProgress {
  /** Input bytes read (compressed, when the file is). */
  bytes: number;
  rows: number;
}

export interface RestoreOptions {
  url: string;
  input: Readable;
  /** Replace the data the target holds (default: refuse a target that holds any). */
  replace?: boolean;
  /** Default: this build's migrations (tests pass their own). */
  migrations?: Migration[];
  onProgress?: (p: RestoreProgress) => void;
  /**
   * Runs in the restore's transaction just before the target's tables are emptied (when they
   * exist), e.g. to tell running servers to drop cached keys.
   */
  beforeEmpty?: (client: pg.ClientBase) => Promise<void>;
}

export interface RestoreSummary {
  restored: true;
  replaced: boolean;
  backup: { created_at: string; server_version: string; roster_version: string; migration: string | null };
  tables: Record<string, number>;
  rows: number;
  /** Migrations applied to the target by this restore (up to the backup's level, then beyond it). */
  migrations_applied: string[];
}

/** Loads every table of the backup into `schema` (whose tables are empty), verifying each. */
async function loadTables(c: Q, reader: BackupReader, h: BackupHeader, cat: Catalog, progress: (rows: number) => void): Promise<Record<string, number>> {
  const want = new Map(cat.tables.map((t) => [t.name, t]));
  const problems: string[] = [];
  for (const t of h.tables) {
    const have = want.get(t.name);
    if (!have) { problems.push(`table ${t.name} does not exist`); continue; }
    want.delete(t.name);
    const a = t.columns.map((col, i) => `${col} ${t.types[i]}`).sort().join(', ');
    const b = have.columns.map((col, i) => `${col} ${have.types[i]}`).sort().join(', ');
    if (a !== b) problems.push(`table ${t.name} has columns (${b}), the backup (${a})`);
  }
  for (const name of want.keys()) problems.push(`table ${name} is not in the backup`);
  const seqs = new Set(cat.sequences);
  for (const s of h.sequences) if (!seqs.has(s.name)) problems.push(`sequence ${s.name} does not exist`);
  if (problems.length) throw new BackupError(`the database's schema at the backup's migration level differs from the backup's (changed outside Roster's migrations?): ${problems.join('; ')}`);

  const s = qi(cat.schema);
  const triggered = cat.tables.filter((t) => t.hasUserTriggers);
  // The rows are a finished state: triggers (e.g. numbering new users) already did their work in
  // it. Foreign keys stay checked (they are not user triggers); parents load first.
  for (const t of triggered) await c.query(`alter table ${s}.${qi(t.name)} disable trigger user`);
  await c.query('set constraints all deferred');
  const rows: Record<string, number> = {};
  const sums = new Map<string, string>();
  let total = 0;
  for (const t of h.tables) {
    const hash = createHash('sha256');
    let lines = 0;
    const reading = reader.section(t.name);
    async function* tapped(): AsyncGenerator<Buffer> {
      for await (const b of reading) {
        hash.update(b);
        const n = countLines(b);
        lines += n;
        progress(total + lines);
        yield b;
      }
    }
    const copy = c.query(copyFrom(`copy ${s}.${qi(t.name)} (${t.columns.map(qi).join(', ')}) from stdin`));
    try {
      await pipeline(tapped, copy);
    } catch (e) {
      if (e instanceof BackupError) throw e;
      throw new BackupError(`loading table ${t.name} failed: ${describePgError(e)}`);
    }
    if (copy.rowCount !== lines) throw new BackupError(`table ${t.name}: PostgreSQL loaded ${copy.rowCount} rows of ${lines} (damaged file?)`);
    rows[t.name] = lines;
    total += lines;
    sums.set(t.name, hash.digest('hex'));
  }
  // Deferred checks run now (and must, before a table is altered again).
  await c.query('set constraints all immediate');
  for (const t of triggered) await c.query(`alter table ${s}.${qi(t.name)} enable trigger user`);
  for (const q of h.sequences) await c.query('select setval($1::regclass, $2::bigint, $3)', [`${s}.${qi(q.name)}`, q.last_value, q.is_called]);

  const trailer = await reader.trailer();
  const got = h.tables.map((t) => ({ name: t.name, rows: rows[t.name], sha256: sums.get(t.name) }));
  const bad = got.filter((g, i) => trailer.tables[i]?.name !== g.name || trailer.tables[i]?.rows !== g.rows || trailer.tables[i]?.sha256 !== g.sha256).map((g) => g.name);
  if (bad.length || trailer.tables.length !== got.length) throw new BackupError(`the backup is damaged: ${bad.length ? `the data of ${bad.join(', ')} does not match its checksum or row count` : 'its trailer lists other tables'}`);
  return rows;
}

async function lockAndEmpty(c: Q, cat: Catalog): Promise<void> {
  if (!cat.tables.length) return;
  const list = cat.tables.map((t) => `${qi(cat.schema)}.${qi(t.name)}`).join(', ');
  await c.query(`lock table ${list} in access exclusive mode`);
  await c.query(`truncate ${list}`);
}

export async function restoreDatabase(o: RestoreOptions): Promise<RestoreSummary> {
  const { reader, header: h } = await BackupReader.open(o.input);
  const known = o.migrations ?? (await loadMigrations());
  const b = levelOf(h.migrations, known, 'backup');
  const client = await connect(o.url, 'roster-restore');
  let ok = false;
  let rowsSoFar = 0;
  const progress = (rows: number) => { rowsSoFar = rows; o.onProgress?.({ bytes: reader.bytesIn, rows }); };
  try {
    await client.query('begin');
    await setSession(client);
    // No server applies migrations while this runs (and this waits for one that is).
    await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_ID]);
    const t = levelOf(await appliedMigrations(client), known, 'target');
    const schema = (await client.query<{ s: string }>('select current_schema() as s')).rows[0]!.s;

    // 1. The target as it is: nobody writes to it from now on; refuse it if it holds data.
    const before = await readCatalog(client, schema);
    if (before.tables.length) {
      await client.query(`lock table ${before.tables.map((x) => `${qi(schema)}.${qi(x.name)}`).join(', ')} in access exclusive mode`);
      if (!o.replace) {
        const held: string[] = [];
        for (const x of before.tables) {
          if ((await client.query(`select 1 from ${qi(schema)}.${qi(x.name)} limit 1`)).rowCount) held.push(x.name);
        }
        if (held.length) throw new BackupError(`the target database already holds data (in ${held.join(', ')}): restore into an empty database, or pass --replace to replace its data`);
      }
      await o.beforeEmpty?.(client);
    }

    // 2. Up to the backup's migration level, then every Roster table emptied (including rows a
    //    migration may have written: the backup holds the whole state at that level).
    const applied = await applyInTransaction(client, known.slice(t, Math.max(t, b)));
    const target = await readCatalog(client, schema);
    await lockAndEmpty(client, target);

    // 3. Load. A target already past the backup's level cannot take its rows as they are: they are
    //    loaded into a scratch schema migrated to the backup's level, brought up to the target's
    //    level there by the same migrations, then copied over.
    let rows: Record<string, number>;
    if (t <= b) {
      rows = await loadTables(client, reader, h, target, progress);
    } else {
      const stage = `roster_restore_${randomBytes(6).toString('hex')}`;
      const searchPath = (await client.query<{ p: string }>(`select current_setting('search_path') as p`)).rows[0]!.p;
      try {
        await client.query(`create schema ${qi(stage)}`);
      } catch (e) {
        throw new BackupError(`the target database is at a newer migration level (${known[t - 1]!.name}) than the backup (${known[b - 1]?.name ?? 'none'}); bringing the backup up to it needs a scratch schema, which this role cannot create (${describePgError(e)}): restore into an empty database instead`);
      }
      await client.query(`select set_config('search_path', $1, true)`, [qi(stage)]);
      for (const m of known.slice(0, b)) await runMigration(client, m);
      rows = await loadTables(client, reader, h, await readCatalog(client, stage), progress);
      for (const m of known.slice(b, t)) await runMigration(client, m);
      await client.query(`select set_config('search_path', $1, true)`, [searchPath]);
      await copyAcross(client, await readCatalog(client, stage), target);
      await client.query(`drop schema ${qi(stage)} cascade`);
    }

    // 4. What this build has beyond the backup's level, as a server start would apply it.
    applied.push(...(await applyInTransaction(client, known.slice(Math.max(t, b)))));
    await client.query('commit');
    ok = true;
    o.onProgress?.({ bytes: reader.bytesIn, rows: rowsSoFar });
    return {
      restored: true,
      replaced: o.replace === true,
      backup: { created_at: h.created_at, server_version: h.server_version, roster_version: h.roster_version, migration: h.migrations[h.migrations.length - 1]?.name ?? null },
      tables: rows,
      rows: Object.values(rows).reduce((a, n) => a + n, 0),
      migrations_applied: applied,
    };
  } finally {
    if (ok) await client.end().catch(() => {});
    else {
      // Nothing was committed; a connection cut mid-COPY rolls back on the server.
      await Promise.race([client.query('rollback'), new Promise((r) => setTimeout(r, 2000))]).catch(() => {});
      abandon(client);
    }
  }
}

async function runMigration(c: Q, m: Migration): Promise<void> {
  try {
    await c.query(m.sql);
  } catch (e) {
    throw new BackupError(`migration ${m.name} failed on the backup's data: ${describePgError(e)}`);
  }
}

/** Copies the scratch schema's rows and sequence values into the target's (empty) tables. */
async function copyAcross(c: Q, from: Catalog, to: Catalog): Promise<void> {
  const src = new Map(from.tables.map((t) => [t.name, t]));
  for (const t of to.tables) {
    const s = src.get(t.name);
    const missing = s ? t.columns.filter((col) => !s.columns.includes(col)) : t.columns;
    if (!s || missing.length) throw new BackupError(`after migrating the backup's data, table ${t.name} ${s ? `lacks columns ${missing.join(', ')}` : 'does not exist'}: the target's schema was changed outside Roster's migrations`);
  }
  const triggered = to.tables.filter((t) => t.hasUserTriggers);
  for (const t of triggered) await c.query(`alter table ${qi(to.schema)}.${qi(t.name)} disable trigger user`);
  for (const t of to.tables) {
    const cols = t.columns.map(qi).join(', ');
    await c.query(`insert into ${qi(to.schema)}.${qi(t.name)} (${cols}) overriding system value select ${cols} from ${qi(from.schema)}.${qi(t.name)}`);
  }
  for (const t of triggered) await c.query(`alter table ${qi(to.schema)}.${qi(t.name)} enable trigger user`);
  for (const s of to.sequences) {
    if (!from.sequences.includes(s)) continue;
    const v = (await c.query<{ v: string; c: boolean }>(`select last_value::text as v, is_called as c from ${qi(from.schema)}.${qi(s)}`)).rows[0]!;
    await c.query('select setval($1::regclass, $2::bigint, $3)', [`${qi(to.schema)}.${qi(s)}`, v.v, v.c]);
  }
}
