// Reading the file: physical lines with the byte offset just past each (so a checkpoint can name
// where the next batch starts), and JSON Lines records built from them.
import type fsp from 'node:fs/promises';
import { rowReason, type Reason } from './fields.ts';

export const MAX_RECORD_BYTES = 1 << 20;

export interface PhysLine { bytes: Buffer; end: number; tooLong: boolean }

/** Reads a file from `start` as '\n'-separated lines, knowing the byte offset just past each. */
export class LineReader {
  private buf = Buffer.alloc(0);
  private at = 0;          // next unread index in buf
  private bufPos: number;  // file offset of buf[0]
  private readPos: number; // file offset of the next read
  private eof = false;

  constructor(private readonly fh: fsp.FileHandle, start: number, private readonly chunk = 1 << 20) {
    this.bufPos = start;
    this.readPos = start;
  }

  /** File offset just past what has been returned. */
  get position(): number { return this.bufPos + this.at; }

  async next(): Promise<PhysLine | null> {
    let discarding = false;
    for (;;) {
      const nl = this.buf.indexOf(10, this.at);
      if (nl >= 0) {
        const bytes = this.buf.subarray(this.at, nl);
        this.at = nl + 1;
        return { bytes: discarding ? Buffer.alloc(0) : bytes, end: this.position, tooLong: discarding || bytes.length > MAX_RECORD_BYTES };
      }
      if (this.eof) {
        if (this.at >= this.buf.length && !discarding) return null;
        const bytes = this.buf.subarray(this.at);
        this.at = this.buf.length;
        return { bytes: discarding ? Buffer.alloc(0) : bytes, end: this.position, tooLong: discarding || bytes.length > MAX_RECORD_BYTES };
      }
      if (this.buf.length - this.at > MAX_RECORD_BYTES) {
        // A line this long is rejected anyway: drop what is buffered instead of growing.
        discarding = true;
        this.bufPos += this.buf.length;
        this.buf = Buffer.alloc(0);
        this.at = 0;
      }
      const fresh = Buffer.allocUnsafe(this.chunk);
      const { bytesRead } = await this.fh.read(fresh, 0, this.chunk, this.readPos);
      this.readPos += bytesRead;
      if (bytesRead === 0) { this.eof = true; continue; }
      const rest = this.buf.subarray(this.at);
      this.bufPos += this.at;
      this.buf = rest.length ? Buffer.concat([rest, fresh.subarray(0, bytesRead)]) : fresh.subarray(0, bytesRead);
      this.at = 0;
      if (this.bufPos === 0 && this.buf.length >= 3 && this.buf[0] === 0xef && this.buf[1] === 0xbb && this.buf[2] === 0xbf) this.at = 3; // BOM
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decode(b: Buffer): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

export interface Rec {
  /** Line of the file where the record starts (1-based). */
  line: number;
  /** Last physical line the record used. */
  lastLine: number;
  /** File offset just past the record. */
  end: number;
  /** The row as read (an object), or the raw text when it could not be read as a row. */
  raw: unknown;
  values?: Record<string, unknown>;
  error?: Reason;
}

export async function* jsonlRecords(fh: fsp.FileHandle, start: number, startLine: number): AsyncGenerator<Rec> {
  const r = new LineReader(fh, start);
  let lineNo = startLine;
  for (let l = await r.next(); l; l = await r.next()) {
    lineNo++;
    const base = { line: lineNo, lastLine: lineNo, end: l.end };
    if (l.tooLong) { yield { ...base, raw: null, error: rowReason('too_long', `line is longer than ${MAX_RECORD_BYTES} bytes`) }; continue; }
    const text = decode(l.bytes);
    if (text === null) { yield { ...base, raw: l.bytes.toString('utf8'), error: rowReason('invalid_utf8', 'line is not valid UTF-8') }; continue; }
    if (text.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      yield { ...base, raw: text, error: rowReason('invalid_json', `not valid JSON: ${(e as Error).message}`) };
      continue;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) { yield { ...base, raw: v, error: rowReason('invalid_json', 'a line must hold one JSON object') }; continue; }
    yield { ...base, raw: v, values: v as Record<string, unknown> };
  }
}
