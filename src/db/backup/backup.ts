// `roster backup`'s engine: one REPEATABLE READ, READ ONLY snapshot streamed as the backup format.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { to as copyTo } from 'pg-copy-streams';
import { rosterVersion } from '../../paths.ts';
import { appliedMigrations } from '../migrate.ts';
import { BACKUP_FORMAT, BACKUP_VERSION, BackupError, countLines, type BackupHeader, type BackupSequence, type BackupTrailer } from './format.ts';
import { abandon, connect, qi, readCatalog, setSession } from './catalog.ts';

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
