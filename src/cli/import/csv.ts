// CSV (RFC 4180: quoted fields, "" escapes, commas and newlines inside quotes): the record parser,
// the header line and the records of a CSV file.
import type fsp from 'node:fs/promises';
import { FIELD_BY_NAME, IGNORED, ImportError, rowReason, type Reason } from './fields.ts';
import { LineReader, MAX_RECORD_BYTES, decode, type Rec } from './line-reader.ts';

/**
 * Builds one CSV record from its physical lines. A field is quoted only when it starts with '"';
 * a '"' inside an unquoted field is kept as is (as Python's csv module reads it).
 */
export class CsvRecordParser {
  private fields: string[] = [];
  private cur = '';
  private quoted = false;

  /** True while a quoted field runs past the end of the last line fed. */
  get open(): boolean { return this.quoted; }

  /**
   * Feeds one physical line without its line break; `eol` is that break (kept inside quotes).
   * Returns the fields once the record is complete, null while a quoted field is still open.
   */
  feed(line: string, eol = '\n'): string[] | { error: string } | null {
    let i = 0;
    const n = line.length;
    let state: 'start' | 'quoted' | 'after' = this.quoted ? 'quoted' : 'start';
    for (;;) {
      if (state === 'start') {
        if (line.charCodeAt(i) === 34 /* " */) { i++; state = 'quoted'; continue; }
        const c = line.indexOf(',', i);
        if (c === -1) { this.fields.push(line.slice(i)); return this.done(); }
        this.fields.push(line.slice(i, c));
        i = c + 1;
        continue;
      }
      if (state === 'quoted') {
        const q = line.indexOf('"', i);
        if (q === -1) {
          this.cur += line.slice(i) + eol;
          this.quoted = true;
          return null;
        }
        this.cur += line.slice(i, q);
        if (line.charCodeAt(q + 1) === 34) { this.cur += '"'; i = q + 2; continue; }
        i = q + 1;
        state = 'after';
        continue;
      }
      // after a closing quote: the field ends here
      this.fields.push(this.cur);
      this.cur = '';
      this.quoted = false;
      if (i >= n) return this.done();
      if (line.charCodeAt(i) === 44 /* , */) { i++; state = 'start'; continue; }
      this.reset();
      return { error: `malformed CSV: unexpected ${JSON.stringify(line[i])} after a closing quote` };
    }
  }

  private done(): string[] {
    const f = this.fields;
    this.reset();
    return f;
  }

  reset(): void {
    this.fields = [];
    this.cur = '';
    this.quoted = false;
  }
}

export interface CsvHeader { names: string[]; end: number; line: number }

export async function readCsvHeader(fh: fsp.FileHandle): Promise<CsvHeader> {
  const r = new LineReader(fh, 0);
  const p = new CsvRecordParser();
  let lineNo = 0;
  for (let l = await r.next(); l; l = await r.next()) {
    lineNo++;
    const text = l.tooLong ? null : decode(l.bytes);
    if (text === null) throw new ImportError(`CSV header (line ${lineNo}) is not valid UTF-8 or is too long`);
    if (!p.open && text.trim() === '') continue;
    const cr = text.endsWith('\r');
    const f = p.feed(cr ? text.slice(0, -1) : text, cr ? '\r\n' : '\n');
    if (f === null) continue;
    if (!Array.isArray(f)) throw new ImportError(`CSV header (line ${lineNo}): ${f.error}`);
    const names = f.map((s) => s.trim());
    const unknown = names.filter((n) => !FIELD_BY_NAME.has(n) && !IGNORED.has(n));
    if (unknown.length) throw new ImportError(`CSV header: unknown column(s) ${unknown.map((u) => JSON.stringify(u)).join(', ')}; known columns: ${[...FIELD_BY_NAME.keys(), ...IGNORED].join(', ')}`);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new ImportError(`CSV header: column "${dup}" appears twice`);
    if (!names.includes('client_user_id')) throw new ImportError('CSV header: the client_user_id column is required');
    return { names, end: l.end, line: lineNo };
  }
  throw new ImportError('the CSV file is empty (no header line)');
}

export async function* csvRecords(fh: fsp.FileHandle, header: CsvHeader, start: number, startLine: number): AsyncGenerator<Rec> {
  const r = new LineReader(fh, start);
  const p = new CsvRecordParser();
  let lineNo = startLine;
  let first = 0;
  let bytes = 0;
  let bad: Reason | null = null;
  for (let l = await r.next(); l; l = await r.next()) {
    lineNo++;
    if (!p.open) { first = lineNo; bytes = 0; bad = null; }
    bytes += l.bytes.length + 1;
    if (bytes > MAX_RECORD_BYTES) {
      throw new ImportError(`CSV record starting at line ${first} is longer than ${MAX_RECORD_BYTES} bytes (an unclosed quote?); nothing after line ${first - 1} was imported by this run`);
    }
    const text = decode(l.bytes);
    // A bad line is still fed (as replaced text), so a quoted field that spans it keeps its shape.
    if (text === null) bad ??= rowReason('invalid_utf8', 'record is not valid UTF-8');
    const t = text ?? l.bytes.toString('utf8');
    if (!p.open && t.trim() === '') continue;
    const cr = t.endsWith('\r');
    const f = p.feed(cr ? t.slice(0, -1) : t, cr ? '\r\n' : '\n');
    if (f === null) continue;
    const base = { line: first, lastLine: lineNo, end: l.end };
    if (!Array.isArray(f)) { yield { ...base, raw: t, error: rowReason('invalid_csv', f.error) }; continue; }
    const raw: Record<string, string> = {};
    f.forEach((v, i) => { raw[header.names[i] ?? `column_${i + 1}`] = v; });
    if (bad) { yield { ...base, raw, error: bad }; continue; }
    if (f.length !== header.names.length) {
      yield { ...base, raw, error: rowReason('invalid_csv', `expected ${header.names.length} fields as in the header, got ${f.length}`) };
      continue;
    }
    yield { ...base, raw, values: raw };
  }
  if (p.open) {
    yield { line: first, lastLine: lineNo, end: r.position, raw: null, error: rowReason('invalid_csv', 'unterminated quoted field at the end of the file') };
  }
}
