// The checkpoint (FILE.roster-import.json) an interrupted import continues from, and the names of
// the files an import writes beside its input.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createPrivateFile, writePrivateFile } from '../private-file.ts';
import { ImportError, type Format } from './fields.ts';

export interface Counts { read: number; imported: number; skipped_existing: number; rejected: number }

export interface Checkpoint {
  version: 1;
  file: string;
  team_id: string;
  format: Format;
  size: number;
  mtime_ms: number;
  /** Byte offset and line after the last committed batch: the next run starts there. */
  offset: number;
  line: number;
  counts: Counts;
  rejected_bytes: number;
  updated_at: string;
}

export const checkpointPath = (file: string) => `${file}.roster-import.json`;
export const rejectedPath = (file: string) => `${file}.rejected.jsonl`;

export async function readCheckpoint(p: string): Promise<Checkpoint | null> {
  let text: string;
  try {
    text = await fsp.readFile(p, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const c = JSON.parse(text) as Checkpoint;
    if (c.version !== 1 || typeof c.offset !== 'number' || typeof c.line !== 'number') throw new Error('unknown layout');
    return c;
  } catch (e) {
    throw new ImportError(`cannot read the checkpoint ${p} (${(e as Error).message}); run with --restart to import from the beginning`);
  }
}

/** Written whole to a private file (exclusive, 0600, random name) then renamed over the old one. */
export async function writeCheckpoint(p: string, c: Checkpoint): Promise<void> {
  await writePrivateFile(p, JSON.stringify(c) + '\n');
}

/**
 * The rejected-rows file, opened for appending: a private file renamed into place (the handle stays
 * ours even if someone swaps the name later). Continuing an import, the rows the last committed
 * batch had written (`keepBytes`) are copied over first; a row of a batch that did not commit is
 * written again by this run.
 */
export async function openRejected(p: string, keepBytes: number): Promise<fsp.FileHandle> {
  const f = await createPrivateFile(p);
  try {
    if (keepBytes > 0) {
      let old: fsp.FileHandle | null = null;
      try {
        old = await fsp.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (old) {
        try {
          const buf = Buffer.alloc(1 << 16);
          for (let at = 0; at < keepBytes;) {
            const { bytesRead } = await old.read(buf, 0, Math.min(buf.length, keepBytes - at), at);
            if (bytesRead === 0) break;
            await f.handle.write(buf.subarray(0, bytesRead));
            at += bytesRead;
          }
        } finally {
          await old.close();
        }
      }
    }
    await f.commit();
    return f.handle;
  } catch (e) {
    await f.discard();
    throw e;
  }
}
