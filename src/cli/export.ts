// `roster export --team ID [--out FILE]`: every live user of a team as JSON Lines, with the field
// names `roster import` reads (plus user_id and created_at, which import accepts and ignores), so
// export → import into another team gives the same users. Streamed page by page (keyset on the
// primary key) from one consistent snapshot; never all rows in memory.
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import type { Config } from '../config.ts';
import type { Database, UserRow } from '../db/schema.ts';
import { connectionOptions, openDatabase } from '../db/open.ts';
import { parseUuid } from '../domain/ids.ts';
import { PgTeamsRepo } from '../store/teams.ts';
import { forEachLivePage } from '../store/users/bulk.ts';
import { FIELDS, ImportError } from './import/index.ts';
import { createPrivateFile } from './private-file.ts';

/** One user as an export line (no trailing newline). Unset fields are written as null. */
export function exportLine(r: UserRow): string {
  const o: Record<string, unknown> = {};
  const cols = r as unknown as Record<string, unknown>;
  for (const f of FIELDS) o[f.name] = cols[f.name] ?? null;
  o.user_id = r.id;
  o.created_at = r.created_at.toISOString();
  return JSON.stringify(o);
}

async function write(out: Writable, chunk: string): Promise<void> {
  if (out.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (e?: Error) => { out.off('drain', ok); out.off('error', done); if (e) reject(e); else resolve(); };
    const ok = () => done();
    out.on('drain', ok);
    out.on('error', done);
  });
}

export interface ExportOptions {
  db: Kysely<Database>;
  teamId: string;
  out: Writable;
  /** Users per query. Default 1000. */
  pageSize?: number;
}

export async function exportUsers(o: ExportOptions): Promise<{ exported: number }> {
  const team = await new PgTeamsRepo(o.db).findTeam(o.teamId);
  if (!team) throw new ImportError(`team ${o.teamId} not found`);
  let exported = 0;
  // A reader that goes away (`roster export | head`) makes the stream emit 'error' (EPIPE): stop
  // paging at the next page instead of dying on an unhandled error event.
  let failed: Error | null = null;
  const onError = (e: Error) => { failed ??= e; };
  o.out.on('error', onError);
  try {
    await forEachLivePage(o.db, o.teamId, o.pageSize ?? 1000, async (rows) => {
      if (failed) throw failed;
      let chunk = '';
      for (const r of rows) chunk += exportLine(r) + '\n';
      await write(o.out, chunk);
      exported += rows.length;
    });
  } finally {
    o.out.off('error', onError);
  }
  if (failed) throw failed;
  return { exported };
}

export function registerExportCommand(program: Command, config: () => Config): void {
  program.command('export')
    .description('write every live user of a team as JSON Lines (the format `roster import` reads)')
    .requiredOption('--team <team_id>', 'team id')
    .option('--out <file>', 'write to this file (complete or not at all) instead of stdout')
    .action(async (opts: { team: string; out?: string }) => {
      const teamId = parseUuid(opts.team);
      if (!teamId) throw new ImportError(`--team must be a UUID (got "${opts.team}")`);
      const cfg = config();
      const o = await openDatabase({ ...connectionOptions(cfg), dataDir: cfg.dataDir, role: 'client' });
      try {
        if (!opts.out) {
          try {
            await exportUsers({ db: o.db.kysely, teamId, out: process.stdout });
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EPIPE') throw e; // the reader has what it wanted
          }
          return;
        }
        const target = path.resolve(opts.out);
        // Exclusively created, 0600, under a random name beside the target, then renamed (PHI).
        const file = await createPrivateFile(target);
        const stream = file.stream();
        try {
          const r = await exportUsers({ db: o.db.kysely, teamId, out: stream });
          await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
          await file.close();
          await file.commit();
          process.stdout.write(JSON.stringify({ team_id: teamId, exported: r.exported, file: target }) + '\n');
        } catch (e) {
          stream.destroy();
          await file.discard();
          throw e;
        }
      } finally {
        await o.close();
      }
    });
}
