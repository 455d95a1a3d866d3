// The checkpoint (FILE.roster-import.json) an interrupted import continues from, and the names of
// the files an import writes beside its input.
import fsp from 'node:fs/promises';
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

export async function writeCheckpoint(p: string, c: Checkpoint): Promise<void> {
  const tmp = `${p}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(c) + '\n');
  await fsp.rename(tmp, p);
}
