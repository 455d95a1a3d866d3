// `roster backup` and `roster restore`: the whole database as one consistent, portable file
// (src/db/backup/ has the format and the engine). Both work against the embedded PostgreSQL
// (a running server's, or one started for the command) and against DATABASE_URL; behind a
// transaction pooler they connect to DATABASE_DIRECT_URL (one snapshot, one restore transaction).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import type { Config } from '../config.ts';
import { connectionOptions, openDatabase } from '../db/open.ts';
import { backupDatabase, restoreDatabase } from '../db/backup/index.ts';
import { KEY_CHANNEL } from '../store/key-events.ts';
import { Progress, type ProgressOptions } from './progress.ts';
import { createPrivateFile } from './private-file.ts';

/** roster-backup-20260101T120000Z.gz */
export function defaultBackupName(now = new Date()): string {
  return `roster-backup-${now.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '')}.gz`;
}

function progressOptions(enabled: boolean, intervalS: string): ProgressOptions | null {
  if (!enabled) return null;
  const interval = Number(intervalS);
  if (!Number.isFinite(interval) || interval < 0) throw new Error('--progress-interval must be a number of seconds');
  return { stream: process.stderr, tty: process.stderr.isTTY === true, intervalMs: interval * 1000 };
}

export function registerBackupCommands(program: Command, config: () => Config): void {
  program.command('backup')
    .description('write a consistent backup of the whole database (gzip; online: the server keeps serving)')
    .option('--out <file>', 'write to this file (mode 0600; complete or not at all); default: stdout when it is not a terminal, else ./roster-backup-<time>.gz')
    .option('--progress-interval <seconds>', 'seconds between progress lines when stderr is not a terminal', '5')
    .option('--no-progress', 'no progress output on stderr')
    .addHelpText('after', [
      '',
      'One snapshot of every Roster table (teams, hashed keys, users and their records, tokens, audit),',
      'the sequence values and the migration level, as PostgreSQL COPY text with per-table row counts and',
      'SHA-256. The same file restores onto the embedded PostgreSQL or a server (15 or newer).',
      'It holds everything, signing keys included: keep it as safe as the database.',
    ].join('\n'))
    .action(async (opts: { out?: string; progress: boolean; progressInterval: string }) => {
      const progressOpts = progressOptions(opts.progress, opts.progressInterval);
      const toStdout = !opts.out && !process.stdout.isTTY;
      const target = toStdout ? null : path.resolve(opts.out ?? defaultBackupName());
      const cfg = config();
      const o = await openDatabase({ ...connectionOptions(cfg), dataDir: cfg.dataDir, role: 'client', migrate: false });
      let progress: Progress | null = null;
      let est = 0;
      const onProgress = (rows: number, estimated: number) => {
        progress ??= progressOpts ? new Progress(progressOpts, 'backup', estimated > 0 ? (est = estimated) : null) : null;
        progress?.update(Math.min(rows, est || rows), rows);
      };
      try {
        if (!target) {
          const s = await backupDatabase({ url: o.directUrl, out: process.stdout, endOut: false, onProgress });
          (progress as Progress | null)?.update(s.rows, s.rows, true);
          process.stderr.write(JSON.stringify({ ...s, file: null }) + '\n');
          return;
        }
        // Created before anything else (so a bad path is an error here, not an unhandled event
        // later), exclusively and 0600 under a random name beside the target, then renamed.
        const file = await createPrivateFile(target);
        const stream = file.stream();
        try {
          const s = await backupDatabase({ url: o.directUrl, out: stream, onProgress });
          await file.close();
          await file.commit();
          (progress as Progress | null)?.update(s.rows, s.rows, true);
          process.stdout.write(JSON.stringify({ ...s, file: target }) + '\n');
        } catch (e) {
          stream.destroy();
          await file.discard();
          throw e;
        }
      } finally {
        (progress as Progress | null)?.close();
        await o.close();
      }
    });

  program.command('restore')
    .description('load a backup into an empty database (or replace its data with --replace), as one transaction')
    .argument('<file>', 'a file written by `roster backup`, or - for stdin')
    .option('--replace', 'replace the data the database holds (without it, a database holding data is refused)')
    .option('--progress-interval <seconds>', 'seconds between progress lines when stderr is not a terminal', '5')
    .option('--no-progress', 'no progress output on stderr')
    .addHelpText('after', [
      '',
      'The database is first migrated to the backup\'s migration level, loaded, checked against the file\'s',
      'row counts and checksums, then migrated to this build\'s level; any failure (a truncated or damaged',
      'file included) leaves it exactly as it was. Prints a JSON summary. Running servers keep serving',
      '(they wait while it loads); restart them after --replace so no cached state outlives the old data.',
    ].join('\n'))
    .action(async (file: string, opts: { replace?: boolean; progress: boolean; progressInterval: string }) => {
      const progressOpts = progressOptions(opts.progress, opts.progressInterval);
      let input: Readable;
      let size: number | null = null;
      if (file === '-') {
        if (process.stdin.isTTY) throw new Error('restore -: standard input is a terminal; pipe a backup into it');
        input = process.stdin;
      } else {
        const st = await fsp.stat(file).catch(() => null);
        if (!st?.isFile()) throw new Error(`${file}: no such file`);
        size = st.size;
        input = fs.createReadStream(file);
      }
      const cfg = config();
      const o = await openDatabase({ ...connectionOptions(cfg), dataDir: cfg.dataDir, role: 'client', migrate: false });
      const progress = progressOpts ? new Progress(progressOpts, `restore ${file === '-' ? 'stdin' : path.basename(file)}`, size) : null;
      try {
        const s = await restoreDatabase({
          url: o.directUrl,
          input,
          replace: opts.replace === true,
          onProgress: (p) => progress?.update(p.bytes, p.rows),
          // Every key the database held stops being trusted from caches: running servers look
          // each one up again after the commit (a key the backup does not hold then fails).
          beforeEmpty: async (client) => {
            const t = await client.query<{ t: string | null }>(`select to_regclass('api_keys')::text as t`);
            if (t.rows[0]?.t) await client.query(`select pg_notify($1, encode(hash, 'hex')) from api_keys`, [KEY_CHANNEL]);
          },
        });
        progress?.update(size ?? 0, s.rows, true);
        process.stdout.write(JSON.stringify(s) + '\n');
      } finally {
        progress?.close();
        input.destroy();
        await o.close();
      }
    });
}
