// The backup file format (see index.ts for the layout): header, per-table COPY text sections and
// trailer, and the reader that walks a (gzipped) backup stream.
import { Readable, pipeline as pipelineCb } from 'node:stream';
import zlib from 'node:zlib';

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

export function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

const TERMINATOR = Buffer.from('\n\\.\n');
const MAX_LINE = 64 << 20;

export class BackupReader {
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
