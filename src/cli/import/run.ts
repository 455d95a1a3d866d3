// The import itself: stream the records, check each row, write batches (one transaction each,
// src/store/users/bulk.ts) with one batch in flight, checkpoint after each, collect rejected rows.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { ProfiledUser } from '../../domain/users/model.ts';
import { PgTeamsRepo } from '../../store/teams.ts';
import { analyzeUsers, importRow, insertBatch } from '../../store/users/bulk.ts';
import { Progress, type ProgressOptions } from '../progress.ts';
import { ImportError, rowReason, type Format, type Reason } from './fields.ts';
import { jsonlRecords, type Rec } from './line-reader.ts';
import { csvRecords, readCsvHeader } from './csv.ts';
import { checkRow } from './check-row.ts';
import { checkpointPath, openRejected, readCheckpoint, rejectedPath, writeCheckpoint, type Counts } from './checkpoint.ts';

export interface ImportOptions {
  db: Kysely<Database>;
  teamId: string;
  file: string;
  /** Default: from the extension (.csv → csv, anything else → jsonl). */
  format?: Format;
  /** Ignore (and replace) a checkpoint left by an interrupted run. */
  restart?: boolean;
  /** Rows read per transaction. Default 1000. */
  batchSize?: number;
  /** The server's ROSTER_SANDBOX_USER_CAP (0 = none); applies to sandbox teams, as in the API. */
  sandboxUserCap?: number;
  progress?: ProgressOptions | null;
  /** Aborting stops after the current batch is committed and its checkpoint written. */
  signal?: AbortSignal;
  /** Test hook: runs after each committed batch and its checkpoint (1-based batch number). */
  afterBatch?: (batch: number) => void | Promise<void>;
  /** --emit-events: record user.created webhook events for imported users (off by default). */
  emitEvents?: boolean;
  now?: () => Date;
}

export interface ImportSummary {
  file: string;
  team_id: string;
  format: Format;
  /** Counts cover the whole import, including batches committed by an interrupted earlier run. */
  read: number;
  imported: number;
  skipped_existing: number;
  rejected: number;
  /** This run only. */
  seconds: number;
  rows_per_second: number;
  rejected_file: string | null;
  /** Line the run started after, when it continued an interrupted import; else null. */
  resumed_after_line: number | null;
  /** Stopped by a signal before the end; the checkpoint is kept for the next run. */
  interrupted: boolean;
}

export function formatOf(file: string, given?: string): Format {
  if (given !== undefined) {
    if (given !== 'jsonl' && given !== 'csv') throw new ImportError(`--format must be jsonl or csv (got "${given}")`);
    return given;
  }
  return path.extname(file).toLowerCase() === '.csv' ? 'csv' : 'jsonl';
}

interface Pending { line: number; raw: unknown; user: ProfiledUser }

export async function importUsers(o: ImportOptions): Promise<ImportSummary> {
  const file = path.resolve(o.file);
  const format = formatOf(file, o.format);
  const batchSize = o.batchSize ?? 1000;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new ImportError('--batch-size must be an integer from 1 to 10000');
  const now = o.now ?? (() => new Date());
  const t0 = Date.now();

  const team = await new PgTeamsRepo(o.db).findTeam(o.teamId);
  if (!team) throw new ImportError(`team ${o.teamId} not found`);
  const liveCap = team.mode === 'sandbox' && (o.sandboxUserCap ?? 0) > 0 ? o.sandboxUserCap : undefined;

  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    throw new ImportError(`cannot open ${o.file}: ${(e as Error).message}`);
  }
  const cpPath = checkpointPath(file);
  const rejPath = rejectedPath(file);
  let rej: fsp.FileHandle | null = null;
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new ImportError(`${o.file} is not a regular file`);

    let cp = o.restart ? null : await readCheckpoint(cpPath);
    if (cp) {
      if (cp.team_id !== o.teamId) throw new ImportError(`${cpPath} belongs to an import into team ${cp.team_id}; run with --restart to import into ${o.teamId} from the beginning`);
      if (cp.format !== format) throw new ImportError(`${cpPath} was written for format ${cp.format}; run with --restart to start over as ${format}`);
      if (cp.size !== st.size || cp.mtime_ms !== st.mtimeMs) throw new ImportError(`${o.file} changed since the interrupted import recorded in ${cpPath}; run with --restart to import it from the beginning`);
    }
    const counts: Counts = cp ? { ...cp.counts } : { read: 0, imported: 0, skipped_existing: 0, rejected: 0 };
    let rejectedBytes = cp ? cp.rejected_bytes : 0;
    if (cp) {
      // Rows rejected by a batch that did not commit are written again by this run.
      if (fs.existsSync(rejPath)) rej = await openRejected(rejPath, rejectedBytes);
    } else {
      await fsp.rm(rejPath, { force: true });
      await fsp.rm(cpPath, { force: true });
    }

    let offset = cp?.offset ?? 0;
    let line = cp?.line ?? 0;
    let records: AsyncGenerator<Rec>;
    if (format === 'csv') {
      const header = await readCsvHeader(fh);
      if (!cp) { offset = header.end; line = header.line; }
      records = csvRecords(fh, header, offset, line);
    } else {
      records = jsonlRecords(fh, offset, line);
    }

    const progress = o.progress
      ? new Progress(o.progress, path.basename(file), st.size,
        (l, p) => `import ${l}: ${p.pct}% ${counts.read} rows read (${counts.imported} imported, ${counts.skipped_existing} skipped, ${counts.rejected} rejected) ${Math.round(p.rate)} rows/s ${p.etaText}`,
        offset, counts.read)
      : null;
    const seenIds = new Map<string, number>();
    const seenEmails = new Map<string, number>();
    let batches = 0;
    let interrupted = false;
    const importedAtStart = counts.imported;
    let analyzeAt = 1000;

    // `counts` is what committed batches hold (the checkpoint writes it); `cur` collects the next
    // batch while the previous one is written: one batch in flight, so reading and checking rows
    // (this process) overlaps with inserting them (PostgreSQL).
    interface Batch { pending: Pending[]; rejects: string[]; read: number; rejected: number; offset: number; line: number }
    const newBatch = (): Batch => ({ pending: [], rejects: [], read: 0, rejected: 0, offset, line });
    let cur = newBatch();
    let inflight: Promise<void> = Promise.resolve();

    const reject = (b: Batch, line: number, raw: unknown, reasons: Reason[]) => {
      b.rejected++;
      b.rejects.push(JSON.stringify({ line, row: raw, reasons }) + '\n');
    };

    const commit = async (b: Batch) => {
      const r = await insertBatch(o.db, o.teamId, b.pending.map((p) => importRow(p.user)), { ...(liveCap ? { liveCap } : {}), ...(o.emitEvents ? { emitEvents: true } : {}) }); // webhooks (i12): emitEvents
      for (const p of b.pending) {
        const id = p.user.user.clientUserId;
        if (r.inserted.has(id)) counts.imported++;
        else if (r.existing.has(id)) counts.skipped_existing++;
        else if (r.emailTaken.has(id)) reject(b, p.line, p.raw, [{ field: 'email', kind: 'email_taken', message: 'another live user of the team has this e-mail address (compared case-insensitively)' }]);
        else if (r.overCap.has(id)) reject(b, p.line, p.raw, [{ field: null, kind: 'sandbox_user_cap', message: `the sandbox team has reached its maximum of ${liveCap} users`, ...(liveCap ? { limit: liveCap } : {}) }]);
        else throw new Error(`batch result does not mention client_user_id ${JSON.stringify(id)}`);
      }
      counts.read += b.read;
      counts.rejected += b.rejected;
      if (b.rejects.length) {
        rej ??= await openRejected(rejPath, 0);
        const text = b.rejects.join('');
        await rej.write(text);
        rejectedBytes += Buffer.byteLength(text);
      }
      batches++;
      await writeCheckpoint(cpPath, {
        version: 1, file, team_id: o.teamId, format, size: st.size, mtime_ms: st.mtimeMs,
        offset: b.offset, line: b.line, counts, rejected_bytes: rejectedBytes, updated_at: new Date().toISOString(),
      });
      // Statistics follow the table's growth: after 1000, 2000, 4000, ... rows inserted (see analyzeUsers).
      if (r.inserted.size > 0 && counts.imported - importedAtStart >= analyzeAt) {
        await analyzeUsers(o.db);
        while (analyzeAt <= counts.imported - importedAtStart) analyzeAt *= 2;
      }
      progress?.update(b.offset, counts.read);
      await o.afterBatch?.(batches);
    };

    const flush = async () => {
      if (cur.read === 0) return;
      const b = cur;
      cur = newBatch();
      await inflight;
      inflight = commit(b);
      inflight.catch(() => {}); // observed by the next flush or the final await
    };

    try {
      for await (const rec of records) {
        cur.read++;
        cur.offset = offset = rec.end;
        cur.line = line = rec.lastLine;
        if (rec.error || !rec.values) {
          reject(cur, rec.line, rec.raw, [rec.error ?? rowReason('invalid', 'unreadable row')]);
        } else {
          const c = await checkRow(rec.values, o.teamId, now(), format === 'csv');
          if (!c.ok) {
            reject(cur, rec.line, rec.raw, c.reasons);
          } else {
            const id = c.user.user.clientUserId;
            const email = c.user.profile.email?.toLowerCase() ?? null;
            const firstId = seenIds.get(id);
            const firstEmail = email === null ? undefined : seenEmails.get(email);
            if (firstId !== undefined) {
              reject(cur, rec.line, rec.raw, [{ field: 'client_user_id', kind: 'duplicate_in_file', message: `repeats the client_user_id of line ${firstId}` }]);
            } else if (firstEmail !== undefined) {
              reject(cur, rec.line, rec.raw, [{ field: 'email', kind: 'duplicate_in_file', message: `repeats the e-mail of line ${firstEmail} (compared case-insensitively)` }]);
            } else {
              seenIds.set(id, rec.line);
              if (email !== null) seenEmails.set(email, rec.line);
              cur.pending.push({ line: rec.line, raw: rec.raw, user: c.user });
            }
          }
        }
        if (cur.read >= batchSize) await flush();
        if (o.signal?.aborted) { interrupted = true; break; }
      }
      await flush();
      await inflight;
    } catch (e) {
      // Let a batch already in flight finish and record its checkpoint before giving up.
      await inflight.catch(() => {});
      progress?.close();
      throw e;
    }

    if (!interrupted) await fsp.rm(cpPath, { force: true });
    const seconds = (Date.now() - t0) / 1000;
    if (interrupted) progress?.close();
    else progress?.update(offset, counts.read, true);
    return {
      file,
      team_id: o.teamId,
      format,
      ...counts,
      seconds: Math.round(seconds * 1000) / 1000,
      rows_per_second: Math.round((counts.read - (cp?.counts.read ?? 0)) / Math.max(seconds, 1e-3)),
      rejected_file: counts.rejected > 0 ? rejPath : null,
      resumed_after_line: cp ? cp.line : null,
      interrupted,
    };
  } finally {
    await fh.close();
    await (rej as fsp.FileHandle | null)?.close();
  }
}
