// What a backup or restore reads from PostgreSQL's catalog (Roster's tables in load order and its
// sequences), and the connection plumbing both share.
import pg from 'pg';
import type { BackupTable } from './format.ts';

export type Q = pg.ClientBase;
export const qi = (s: string) => '"' + s.replace(/"/g, '""') + '"';

export interface CatTable extends BackupTable {
  /** 'p' = partitioned (COPY TO needs a query) */
  kind: string;
  estimatedRows: number;
  hasUserTriggers: boolean;
}

export interface Catalog {
  schema: string;
  tables: CatTable[];
  sequences: string[];
}

/** Roster's tables (all but schema_migrations) and sequences in `schema`, tables in load order. */
export async function readCatalog(c: Q, schema: string): Promise<Catalog> {
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
export async function setSession(c: Q): Promise<void> {
  await c.query(`select set_config('timezone', 'UTC', true), set_config('datestyle', 'ISO, YMD', true),
    set_config('intervalstyle', 'postgres', true), set_config('extra_float_digits', '3', true),
    set_config('bytea_output', 'hex', true), set_config('statement_timeout', '0', true),
    set_config('idle_in_transaction_session_timeout', '0', true)`);
}

export async function connect(url: string, name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: name });
  client.on('error', () => {}); // a lost connection fails the query in progress
  await client.connect();
  return client;
}

/** Closes a client whose connection may be mid-COPY: the socket goes at once. */
export function abandon(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
  client.end().catch(() => {});
}

/** A PostgreSQL error without the values it may quote (row data stays out of messages). */
export function describePgError(e: unknown): string {
  const err = e as { message?: string; code?: string; where?: string };
  const msg = (err.message ?? String(e)).replace(/: ".*"$/s, '').replace(/\(.*\)=\(.*\)/s, '(…)');
  const line = /COPY \S+, line (\d+)/.exec(err.where ?? '')?.[1];
  return `${msg}${line ? ` at row ${line}` : ''}${err.code ? ` (SQLSTATE ${err.code})` : ''}`;
}
