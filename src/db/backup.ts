// Logical backup and restore of Roster's database (`roster backup`, `roster restore`).
//
// The file: gzip over a text stream, the same on an embedded PostgreSQL 18 and a server 15+:
//
//   {"format":"roster-backup","version":1, created_at, migrations, tables, sequences, ...}\n
//   <COPY text rows of tables[0]>\.\n        (PostgreSQL's own COPY text format and end marker)
//   <COPY text rows of tables[1]>\.\n
//   ...
//   {"end":"roster-backup","tables":[{name, rows, sha256}, ...],"rows":N}\n
//
// COPY's text format writes one line per row (backslash escapes inside values), so a line that is
// exactly `\.` can only be the end of a table. Tables come in foreign-key order (parents first), so
// restore loads the stream as it reads it. The trailer's row counts and SHA-256 per table, checked
// before commit, and gzip's CRC make a truncated or altered file fail loudly.
//
// Backup: one REPEATABLE READ, READ ONLY transaction (one snapshot for every table, the server keeps
// serving), tables and sequences read from the catalog (every table of Roster's schema but the
// migration bookkeeping, which is recorded as the list of applied migrations instead).
// Restore: one transaction: migrate the target to the backup's level, empty it, load, set the
// sequences, verify, apply the migrations this build has beyond the backup's, commit.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable, Transform, pipeline as pipelineCb, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { rosterVersion } from '../paths.ts';
import { MIGRATION_LOCK_ID, appliedMigrations, applyInTransaction, loadMigrations, type Migration } from './migrate.ts';

export const BACKUP_FORMAT = 'roster-backup';
export const BACKUP_VERSION = 1;

/** A refusal or a bad file: the message is for the operator, and never holds row data. */
export class BackupError extends Error {}

export interface BackupTable {
  name: string;
  columns: string[];
  /** format_type() of each column, for the reader and for the schema check on restore. */
  types: string[];
}

export interface BackupSequence {
  name: string;
  /** bigint as decimal text */
  last_value: string;
  is_called: boolean;
}

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: number;
  created_at: string;
  roster_version: string;
  server_version: string;
  /** Every migration applied to the database the backup was taken from, in order. */
  migrations: { version: number; name: string }[];
  /** In load order: a table comes after every table it references. */
  tables: BackupTable[];
  sequences: BackupSequence[];
}

export interface BackupTrailer {
  end: typeof BACKUP_FORMAT;
  tables: { name: string; rows: number; sha256: string }[];
  rows: number;
}

// ---------- catalog ----------

type Q = pg.ClientBase;
const qi = (s: string) => '"' + s.replace(/"/g, '""') + '"';

interface CatTable extends BackupTable {
  /** 'p' = partitioned (COPY TO needs a query) */
  kind: string;
  estimatedRows: number;
  hasUserTriggers: boolean;
}

interface Catalog {
  schema: string;
  tables: CatTable[];
  sequences: string[];
}

/** Roster's tables (all but schema_migrations) and sequences in `schema`, tables in load order. */
async function readCatalog(c: Q, schema: string): Promise<Catalog> {
  const rels = (await c.query<{ oid: number; name: string; kind: string; est: number; trig: boolean }>(
    `select c.oid::int as oid, c.relname as name, c.relkind::text as kind, greatest(c.reltuples, 0)::float8 as est,
            exists (select 1 from pg_trigger t where t.tgrelid = c.oid and not t.tgisinternal) as trig
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition and c.relname <> 'schema_migrations'
      order by c.relname`, [schema])).rows;
  const oids = rels.map((r) => r.oid);
  const cols = (await c.query<{ oid: number; name: string; type: string }>(
    `select a.attrelid::int as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type
       from pg_attribute a
      where a.attrelid = any($1::oid[]) and a.attnum > 0 and not a.attisdropped and a.attgenerated = ''
      order by a.attrelid, a.attnum`, [oids])).rows;
  const fks = (await c.query<{ child: number; parent: number }>(
    `select conrelid::int as child, confrelid::int as parent from pg_constraint
      where contype = 'f' and conrelid = any($1::oid[]) and confrelid = any($1::oid[]) and conrelid <> confrelid`, [oids])).rows;
  const seqs = (await c.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind = 'S' and c.relname !~ '^users_basic_id_[0-9a-f]{32}$' order by c.relname`, [schema])).rows; // per-team numbering is derived state (0009)

  const byOid = new Map(rels.map((r) => [r.oid, { name: r.name, kind: r.kind, estimatedRows: Math.round(r.est), hasUserTriggers: r.trig, columns: [] as string[], types: [] as string[] }]));
  for (const col of cols) {
    const t = byOid.get(col.oid);
    if (t) { t.columns.push(col.name); t.types.push(col.type); }
  }
  // Kahn's algorithm, ties by name: parents before children, the same order every time. Tables in
  // a reference cycle (none today) go last by name; restore defers what constraints it can.
  const parents = new Map<number, Set<number>>(oids.map((o) => [o, new Set()]));
  for (const fk of fks) parents.get(fk.child)!.add(fk.parent);
  const order: CatTable[] = [];
  const done = new Set<number>();
  const name = (o: number) => byOid.get(o)!.name;
  for (;;) {
    const ready = oids.filter((o) => !done.has(o) && [...parents.get(o)!].every((p) => done.has(p))).sort((a, b) => (name(a) < name(b) ? -1 : 1));
    if (ready.length === 0) break;
    const next = ready[0]!;
    done.add(next);
    order.push(byOid.get(next)!);
  }
  for (const o of oids) if (!done.has(o)) order.push(byOid.get(o)!);
  return { schema, tables: order, sequences: seqs.map((s) => s.name) };
}

/** Output settings that make COPY's text the same on every server and every client setting. */
async function setSession(c: Q): Promise<void> {
  await c.query(`select set_config('timezone', 'UTC', true), set_config('datestyle', 'ISO, YMD', true),
    set_config('intervalstyle', 'postgres', true), set_config('extra_float_digits', '3', true),
    set_config('bytea_output', 'hex', true), set_config('statement_timeout', '0', true),
    set_config('idle_in_transaction_session_timeout', '0', true)`);
}

async function connect(url: string, name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: name });
  client.on('error', () => {}); // a lost connection fails the query in progress
  await client.connect();
  return client;
}

/** Closes a client whose connection may be mid-COPY: the socket goes at once. */
function abandon(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  client.end().catch(() => {});
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

// ---------- backup ----------

export interface BackupOptions {
  url: string;
  /** Receives the gzip stream. */
  out: Writable;
  /** End `out` when done (default true; false for process.stdout). */
  endOut?: boolean;
  /** Called as rows stream (throttle on the caller's side); `estimated` comes from the planner's statistics. */
  onProgress?: (rows: number, estimated: number) => void;
  /** After each table is written, inside the snapshot (tests use it to write concurrently). */
  afterTable?: (name: string) => Promise<void>;
  gzipLevel?: number;
}

export interface BackupSummary {
  created_at: string;
  server_version: string;
  migration: string;
  tables: Record<string, number>;
  rows: number;
  /** Compressed bytes written. */
  bytes: number;
}

export async function backupDatabase(o: BackupOptions): Promise<BackupSummary> {
  const client = await connect(o.url, 'roster-backup');
  let ok = false;
  let sinkError: Error | null = null;
  try {
    await client.query('begin isolation level repeatable read, read only');
    await setSession(client);
    // The first query takes the snapshot: every read below sees the database as of this moment.
    const migrations = await appliedMigrations(client);
    if (migrations.length === 0) throw new BackupError('the database has no Roster schema yet (it was never migrated): nothing to back up');
    const schema = (await client.query<{ s: string }>('select current_schema() as s')).rows[0]!.s;
    const cat = await readCatalog(client, schema);
    // As pg_dump does: no table can be altered or dropped until the backup is done.
    if (cat.tables.length) await client.query(`lock table ${cat.tables.map((t) => `${qi(schema)}.${qi(t.name)}`).join(', ')} in access share mode`);
    const sequences: BackupSequence[] = [];
    for (const s of cat.sequences) {
      // Sequences are not transactional: read now, a value is at least what any row in the
      // snapshot used, so restored numbering never repeats one.
      const r = (await client.query<{ v: string; c: boolean }>(`select last_value::text as v, is_called as c from ${qi(schema)}.${qi(s)}`)).rows[0]!;
      sequences.push({ name: s, last_value: r.v, is_called: r.c });
    }
    const server = (await client.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0]!.v;
    const header: BackupHeader = {
      format: BACKUP_FORMAT,
      version: BACKUP_VERSION,
      created_at: new Date().toISOString(),
      roster_version: rosterVersion(),
      server_version: server,
      migrations: migrations.map((m) => ({ version: m.version, name: m.name })),
      tables: cat.tables.map((t) => ({ name: t.name, columns: t.columns, types: t.types })),
      sequences,
    };
    const estimated = cat.tables.reduce((n, t) => n + t.estimatedRows, 0);

    const gz = zlib.createGzip({ level: o.gzipLevel ?? 6 });
    let bytes = 0;
    const counter = new Transform({ transform(chunk: Buffer, _e, cb) { bytes += chunk.length; cb(null, chunk); } });
    const sink = pipeline(gz, counter, o.out, { end: o.endOut ?? true });
    sink.catch((e: Error) => { sinkError ??= e; });

    gz.write(JSON.stringify(header) + '\n');
    const trailer: BackupTrailer = { end: BACKUP_FORMAT, tables: [], rows: 0 };
    let total = 0;
    for (const t of cat.tables) {
      const hash = createHash('sha256');
      let rows = 0;
      const cols = t.columns.map(qi).join(', ');
      const source = t.kind === 'p' ? `(select ${cols} from ${qi(schema)}.${qi(t.name)})` : `${qi(schema)}.${qi(t.name)} (${cols})`;
      const copy = client.query(copyTo(`copy ${source} to stdout`));
      for await (const chunk of copy as AsyncIterable<Buffer>) {
        hash.update(chunk);
        const n = countLines(chunk);
        rows += n;
        total += n;
        o.onProgress?.(total, estimated);
        if (!gz.write(chunk)) await once(gz, 'drain'); // rejects if the output fails
      }
      gz.write('\\.\n');
      trailer.tables.push({ name: t.name, rows, sha256: hash.digest('hex') });
      await o.afterTable?.(t.name);
    }
    trailer.rows = total;
    gz.end(JSON.stringify(trailer) + '\n');
    await sink;
    await client.query('commit');
    ok = true;
    const last = migrations[migrations.length - 1]!;
    return {
      created_at: header.created_at,
      server_version: server,
      migration: last.name,
      tables: Object.fromEntries(trailer.tables.map((t) => [t.name, t.rows])),
      rows: total,
      bytes,
    };
  } catch (e) {
    throw sinkError ?? e; // the output failing (disk full, reader gone) is the cause to report
  } finally {
    if (ok) await client.end().catch(() => {});
    else abandon(client);
  }
}

// ---------- reading a backup ----------

const TERMINATOR = Buffer.from('\n\\.\n');
const MAX_LINE = 64 << 20;

class BackupReader {
  private buf: Buffer = Buffer.alloc(0);
  private eof = false;
  /** Input bytes consumed so far (compressed, when the file is). */
  bytesIn = 0;

  private constructor(private readonly it: AsyncIterator<Buffer>) {}

  /** Reads the input (gzip, or the plain text stream when it is not gzip) up to and including the header. */
  static async open(input: Readable): Promise<{ reader: BackupReader; header: BackupHeader }> {
    const raw = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let head = Buffer.alloc(0);
    let rawDone = false;
    while (head.length < 2) {
      const n = await raw.next();
      if (n.done) { rawDone = true; break; }
      head = Buffer.concat([head, Buffer.from(n.value)]);
    }
    let counted: BackupReader | null = null;
    async function* rawChunks(): AsyncGenerator<Buffer> {
      if (head.length) { if (counted) counted.bytesIn += head.length; yield head; }
      if (rawDone) return;
      for (;;) {
        const n = await raw.next();
        if (n.done) return;
        const b = Buffer.from(n.value);
        if (counted) counted.bytesIn += b.length;
        yield b;
      }
    }
    const gzip = head[0] === 0x1f && head[1] === 0x8b;
    const text: AsyncIterable<Buffer> = gzip ? pipelineCb(Readable.from(rawChunks()), zlib.createGunzip(), () => {}) : rawChunks();
    const reader = new BackupReader(text[Symbol.asyncIterator]());
    counted = reader;
    let first: string;
    try {
      first = await reader.line(true);
    } catch (e) {
      if (e instanceof BackupError) throw e;
      throw new BackupError(`not a Roster backup (${gzip ? 'gzip' : 'plain'} input: ${(e as Error).message})`);
    }
    let header: BackupHeader;
    try {
      header = JSON.parse(first) as BackupHeader;
    } catch {
      throw new BackupError('not a Roster backup (its header is not JSON)');
    }
    checkHeader(header);
    return { reader, header };
  }

  private async fill(): Promise<boolean> {
    if (this.eof) return false;
    let n: IteratorResult<Buffer>;
    try {
      n = await this.it.next();
    } catch (e) {
      throw new BackupError(`the backup cannot be read: ${(e as Error).message} (truncated or damaged file?)`);
    }
    if (n.done) { this.eof = true; return false; }
    this.buf = this.buf.length ? Buffer.concat([this.buf, n.value]) : n.value;
    return true;
  }

  /** One '\n'-terminated line (without it). */
  async line(isHeader = false): Promise<string> {
    let from = 0;
    for (;;) {
      if (isHeader && this.buf.length >= 10 && !this.buf.subarray(0, 10).equals(Buffer.from('{"format":'))) throw new BackupError('not a Roster backup (it does not start with a Roster backup header)');
      const nl = this.buf.indexOf(10, from);
      if (nl >= 0) {
        const s = this.buf.subarray(0, nl).toString('utf8');
        this.buf = this.buf.subarray(nl + 1);
        return s;
      }
      if (this.buf.length > MAX_LINE) throw new BackupError('not a Roster backup (a header or trailer line is too long)');
      from = this.buf.length;
      if (!(await this.fill())) throw new BackupError(isHeader ? 'not a Roster backup (empty or no header line)' : 'the backup ends early: its trailer is missing (truncated file?)');
    }
  }

  /** One table's rows, as chunks of whole or partial lines, up to and consuming the `\.` line. */
  async *section(table: string): AsyncGenerator<Buffer> {
    // The section starts at a line start: `\.` right away means no rows.
    while (this.buf.length < 3 && (await this.fill()));
    if (this.buf.length < 3) throw new BackupError(`the backup ends in the middle of table ${table} (truncated file?)`);
    if (this.buf[0] === 0x5c && this.buf[1] === 0x2e && this.buf[2] === 0x0a) { this.buf = this.buf.subarray(3); return; }
    for (;;) {
      const i = this.buf.indexOf(TERMINATOR);
      if (i >= 0) {
        yield this.buf.subarray(0, i + 1);
        this.buf = this.buf.subarray(i + TERMINATOR.length);
        return;
      }
      // Keep 3 bytes back: a terminator may start at the end of this chunk.
      if (this.buf.length > 3) {
        const out = this.buf.subarray(0, this.buf.length - 3);
        this.buf = this.buf.subarray(this.buf.length - 3);
        yield out;
      }
      if (!(await this.fill())) throw new BackupError(`the backup ends in the middle of table ${table} (truncated file?)`);
    }
  }

  /** The trailer, then the end of the input (which is also where gzip checks its CRC). */
  async trailer(): Promise<BackupTrailer> {
    const line = await this.line();
    let t: BackupTrailer;
    try {
      t = JSON.parse(line) as BackupTrailer;
    } catch {
      throw new BackupError('the backup is damaged: its trailer is not JSON');
    }
    if (t?.end !== BACKUP_FORMAT || !Array.isArray(t.tables)) throw new BackupError('the backup is damaged: no trailer where it should end');
    do {
      if (this.buf.length) throw new BackupError('the backup is damaged: data after its trailer');
    } while (await this.fill());
    return t;
  }
}

function checkHeader(h: BackupHeader): void {
  if (h?.format !== BACKUP_FORMAT) throw new BackupError('not a Roster backup (its header names another format)');
  if (typeof h.version !== 'number' || h.version > BACKUP_VERSION) throw new BackupError(`this backup was written in format version ${String(h.version)}, newer than this build of Roster reads (${BACKUP_VERSION}): restore it with a newer Roster`);
  if (!Array.isArray(h.migrations) || !Array.isArray(h.tables) || !Array.isArray(h.sequences)) throw new BackupError('the backup is damaged: its header lacks migrations, tables or sequences');
  for (const t of h.tables) {
    if (typeof t?.name !== 'string' || !Array.isArray(t.columns) || !Array.isArray(t.types) || t.columns.length !== t.types.length) throw new BackupError('the backup is damaged: a table in its header has no name or columns');
  }
}

// ---------- restore ----------

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

/** A PostgreSQL error without the values it may quote (row data stays out of messages). */
function describePgError(e: unknown): string {
  const err = e as { message?: string; code?: string; where?: string };
  const msg = (err.message ?? String(e)).replace(/: ".*"$/s, '').replace(/\(.*\)=\(.*\)/s, '(…)');
  const line = /COPY \S+, line (\d+)/.exec(err.where ?? '')?.[1];
  return `${msg}${line ? ` at row ${line}` : ''}${err.code ? ` (SQLSTATE ${err.code})` : ''}`;
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
