// `roster import --team ID FILE`: bulk-load users from JSON Lines or CSV.
//
// - Every row is checked by the domain, exactly as the API checks it: the Junction fields through
//   UsersService.create (run against a repo that only captures the user it would insert, so the
//   create semantics, normalisation and ids are the API's own), the profile fields through
//   checkProfilePatch/applyProfilePatch. Nothing here re-states a rule.
// - The file is streamed (never loaded whole) and written in batches, one transaction each
//   (src/store/bulk.ts). Rows whose client_user_id a live user already holds are skipped, so a
//   re-run imports nothing twice.
// - After each committed batch, FILE.roster-import.json records the byte offset and line where the
//   next batch starts, the counts so far and the length of FILE.rejected.jsonl. A run that finds it
//   continues from there (--restart ignores it); a finished run deletes it.
// - Progress goes to stderr (a redrawn bar on a terminal, plain lines otherwise); the summary is
//   one JSON line on stdout; rejected rows go to FILE.rejected.jsonl with their line and reasons.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Kysely } from 'kysely';
import type { Config } from '../config.ts';
import type { Database } from '../db/schema.ts';
import { connectionOptions, openDatabase } from '../db/open.ts';
import { MANUAL_SOURCE, UsersService, checkTimeZone, type User, type UsersRepo } from '../domain/users.ts';
import { EMPTY_PROFILE, applyProfilePatch, checkProfilePatch, type ProfilePatch, type ProfiledUser } from '../domain/profiles.ts';
import { isDomainError, type FieldIssue } from '../domain/errors.ts';
import { parseUuid } from '../domain/ids.ts';
import { PgTeamsRepo } from '../store/teams.ts';
import { analyzeUsers, importRow, insertBatch } from '../store/bulk.ts';
import { Progress, type ProgressOptions } from './progress.ts';

export type { ProgressOptions };

// ---------- the row format (shared with export) ----------

type Kind = 'string' | 'number' | 'integer' | 'boolean';

interface FieldDef {
  /** Column name in CSV, key in JSON Lines; the same names `roster export` writes. */
  name: string;
  kind: Kind;
  /** Where a profile field goes in the domain's ProfilePatch; absent for the Junction fields. */
  patch?: readonly [keyof ProfilePatch] | readonly ['thresholds', 'ftp' | 'lthr' | 'mhr'] | readonly ['location', 'lat' | 'lon'];
}

/**
 * Every importable field: Junction's U2 body, then the profile fields of the Onvy and basic faces
 * (stored once on the user, 0003_profile.sql; named here after their columns, which carry the unit).
 * Onvy's birthday is fallback_birth_date; the basic face's userId is assigned, never imported.
 */
export const FIELDS: readonly FieldDef[] = [
  { name: 'client_user_id', kind: 'string' },
  { name: 'fallback_time_zone', kind: 'string' },
  { name: 'fallback_birth_date', kind: 'string' },
  { name: 'ingestion_start', kind: 'string' },
  { name: 'ingestion_end', kind: 'string' },
  { name: 'first_name', kind: 'string', patch: ['firstName'] },
  { name: 'last_name', kind: 'string', patch: ['lastName'] },
  { name: 'email', kind: 'string', patch: ['email'] },
  { name: 'language', kind: 'string', patch: ['language'] },
  { name: 'measurement_unit', kind: 'string', patch: ['measurementUnit'] },
  { name: 'gender', kind: 'string', patch: ['gender'] },
  { name: 'height_cm', kind: 'number', patch: ['heightCm'] },
  { name: 'weight_kg', kind: 'number', patch: ['weightKg'] },
  { name: 'threshold_ftp', kind: 'number', patch: ['thresholds', 'ftp'] },
  { name: 'threshold_lthr', kind: 'number', patch: ['thresholds', 'lthr'] },
  { name: 'threshold_mhr', kind: 'number', patch: ['thresholds', 'mhr'] },
  { name: 'location_lat', kind: 'number', patch: ['location', 'lat'] },
  { name: 'location_lon', kind: 'number', patch: ['location', 'lon'] },
  { name: 'coach_enabled', kind: 'boolean', patch: ['coachEnabled'] },
  { name: 'tz_offset_seconds', kind: 'integer', patch: ['tzOffsetSeconds'] },
];

/** Written by `roster export` for the team moving out; read-only, so import accepts and ignores them. */
export const EXPORT_ONLY_FIELDS = ['user_id', 'created_at'] as const;

const FIELD_BY_NAME = new Map(FIELDS.map((f) => [f.name, f]));
const IGNORED = new Set<string>(EXPORT_ONLY_FIELDS);
/** Domain issue path (JSON) → our field name, for the profile fields. */
const FIELD_BY_PATCH_PATH = new Map(FIELDS.filter((f) => f.patch).map((f) => [JSON.stringify(f.patch), f.name]));

export type Format = 'jsonl' | 'csv';

// ---------- reading: physical lines with byte offsets ----------

const MAX_RECORD_BYTES = 1 << 20;

interface PhysLine { bytes: Buffer; end: number; tooLong: boolean }

/** Reads a file from `start` as '\n'-separated lines, knowing the byte offset just past each. */
class LineReader {
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

function decode(b: Buffer): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

// ---------- CSV (RFC 4180: quoted fields, "" escapes, commas and newlines inside quotes) ----------

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

// ---------- records ----------

export interface Reason {
  /** The row's field the reason is about; null for the row as a whole. */
  field: string | null;
  kind: string;
  message: string;
  limit?: number;
  allowed?: readonly string[];
}

interface Rec {
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

const rowReason = (kind: string, message: string): Reason => ({ field: null, kind, message });

async function* jsonlRecords(fh: fsp.FileHandle, start: number, startLine: number): AsyncGenerator<Rec> {
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

export class ImportError extends Error {}

interface CsvHeader { names: string[]; end: number; line: number }

async function readCsvHeader(fh: fsp.FileHandle): Promise<CsvHeader> {
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

async function* csvRecords(fh: fsp.FileHandle, header: CsvHeader, start: number, startLine: number): AsyncGenerator<Rec> {
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

// ---------- validation (by the domain) ----------

const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function describe(i: FieldIssue): string {
  switch (i.kind) {
    case 'missing': return 'is required';
    case 'type': return `must be ${i.expected === 'integer' ? 'an integer' : `a ${i.expected ?? 'value of another type'}`}`;
    case 'too_short': return i.limit === 1 ? 'must not be empty' : `must be at least ${i.limit} characters`;
    case 'too_long': return i.reason ?? `must be at most ${i.limit} bytes (UTF-8)`;
    case 'invalid_chars': return 'must not contain NUL (U+0000) or unpaired surrogate characters';
    case 'invalid_date': return `is not a valid date (YYYY-MM-DD): ${i.reason}`;
    case 'invalid_time_zone': return 'is not an IANA time zone id';
    case 'invalid_enum': return `must be one of ${(i.allowed ?? []).join(', ')}`;
    default: return i.reason ?? 'is not valid';
  }
}

function toReason(i: FieldIssue, field: string | null): Reason {
  return {
    field,
    kind: i.kind,
    message: describe(i),
    ...(i.limit !== undefined ? { limit: i.limit } : {}),
    ...(i.allowed ? { allowed: i.allowed } : {}),
  };
}

const typeIssue = (name: string, input: unknown, expected: string): FieldIssue => ({ path: [name], kind: 'type', input, expected });

/** A CSV cell as the JSON value it stands for; an empty cell is "not given". */
function fromCell(f: FieldDef, s: string): unknown {
  if (s === '') return undefined;
  switch (f.kind) {
    case 'string': return s;
    case 'number':
    case 'integer': return NUMBER_RE.test(s.trim()) ? Number(s) : s;
    case 'boolean': return /^true$/i.test(s.trim()) ? true : /^false$/i.test(s.trim()) ? false : s;
  }
}

/**
 * The domain's verdict on each zone id, remembered: isIanaTimeZone builds an Intl.DateTimeFormat
 * for every id outside Intl's canonical list (UTC, US/Eastern, ...), ~0.1 ms each, which would
 * otherwise be most of an import's CPU. Bounded, so a file of random junk cannot grow it.
 */
const zoneVerdicts = new Map<string, FieldIssue | null>();
function zoneIssue(v: string): FieldIssue | null {
  let i = zoneVerdicts.get(v);
  if (i === undefined) {
    i = checkTimeZone(v, ['fallback_time_zone']);
    if (zoneVerdicts.size < 10_000) zoneVerdicts.set(v, i);
  }
  return i;
}

/** Captures the user UsersService.create would insert; the import writes it in a batch later. */
class CaptureRepo {
  user: User | null = null;
  async insert(u: User) { this.user = u; return { ok: true as const }; }
}

export type Checked = { ok: true; user: ProfiledUser } | { ok: false; reasons: Reason[] };

/**
 * Checks one row with the API's rules and builds the user it would create. `csv`: values are
 * text cells (typed by the field table; empty = not given); otherwise JSON values (null = not given).
 */
export async function checkRow(values: Record<string, unknown>, teamId: string, now: Date, csv: boolean): Promise<Checked> {
  const reasons: Reason[] = [];
  const typed: Record<string, unknown> = {};
  for (const key of Object.keys(values)) {
    const f = FIELD_BY_NAME.get(key);
    if (!f) {
      if (!IGNORED.has(key)) reasons.push({ field: key, kind: 'unknown_field', message: 'is not an importable field' });
      continue;
    }
    const v = csv ? fromCell(f, values[key] as string) : values[key] === null ? undefined : values[key];
    if (v !== undefined) typed[key] = v;
  }

  // Junction fields: the same create as POST /v2/user.
  const str = (name: string): string | undefined => {
    const v = typed[name];
    if (v === undefined || typeof v === 'string') return v;
    reasons.push(toReason(typeIssue(name, v, 'string'), name));
    return undefined;
  };
  const cid = typed.client_user_id;
  if (cid === undefined) reasons.push(toReason({ path: ['client_user_id'], kind: 'missing', input: undefined }, 'client_user_id'));
  const clientUserId = str('client_user_id');
  const zone = str('fallback_time_zone');
  const badZone = zone === undefined ? null : zoneIssue(zone);
  if (badZone) reasons.push(toReason(badZone, 'fallback_time_zone'));
  const input = {
    // Without a usable client id the other fields are still checked, under a stand-in id.
    clientUserId: clientUserId ?? 'row-without-client-id',
    // The zone was checked above (remembered per id) and is set below as create sets it.
    fallbackTimeZone: undefined,
    fallbackBirthDate: str('fallback_birth_date'),
    ingestionStart: str('ingestion_start'),
    ingestionEnd: str('ingestion_end'),
  };
  const capture = new CaptureRepo();
  const users = new UsersService({ repo: capture as unknown as UsersRepo, now: () => now });
  try {
    await users.create({ teamId, mode: 'production' }, input, values);
  } catch (e) {
    if (!isDomainError(e) || e.code !== 'validation_failed') throw e;
    for (const i of e.issues) reasons.push(toReason(i, i.path.length ? String(i.path[0]) : null));
  }

  // Profile fields: the same checks as the Onvy and basic faces.
  const patch: ProfilePatch = {};
  for (const f of FIELDS) {
    if (!f.patch || typed[f.name] === undefined) continue;
    const v = typed[f.name];
    if (f.patch.length === 1) (patch as Record<string, unknown>)[f.patch[0]] = v;
    else {
      const [group, member] = f.patch;
      ((patch as Record<string, Record<string, unknown>>)[group] ??= {})[member] = v;
    }
  }
  for (const i of checkProfilePatch(patch, now)) reasons.push(toReason(i, FIELD_BY_PATCH_PATH.get(JSON.stringify(i.path)) ?? i.path.join('.')));

  if (reasons.length || !capture.user) return { ok: false, reasons };
  const user = capture.user;
  if (zone !== undefined) user.fallbackTimeZone = { value: zone, source: MANUAL_SOURCE, updatedAt: user.updatedAt };
  const base: ProfiledUser = { user, profile: EMPTY_PROFILE, basicId: 0 };
  return { ok: true, user: applyProfilePatch(base, patch, 'merge', now) ?? base };
}

// ---------- checkpoint, rejected file, progress ----------

interface Counts { read: number; imported: number; skipped_existing: number; rejected: number }

interface Checkpoint {
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

async function readCheckpoint(p: string): Promise<Checkpoint | null> {
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

async function writeCheckpoint(p: string, c: Checkpoint): Promise<void> {
  const tmp = `${p}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(c) + '\n');
  await fsp.rename(tmp, p);
}

// ---------- the import ----------

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
      await fsp.truncate(rejPath, rejectedBytes).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
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
      const r = await insertBatch(o.db, o.teamId, b.pending.map((p) => importRow(p.user)), liveCap ? { liveCap } : {});
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
        rej ??= await fsp.open(rejPath, 'a');
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

// ---------- the command ----------

export function registerImportCommand(program: Command, config: () => Config): void {
  program.command('import')
    .description('import users from JSON Lines or CSV (resumable; rejected rows go to FILE.rejected.jsonl; summary on stdout)')
    .argument('<file>', 'a .jsonl or .csv file: client_user_id plus any optional field of every face')
    .requiredOption('--team <team_id>', 'team id')
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['jsonl', 'csv']))
    .option('--restart', 'ignore FILE.roster-import.json left by an interrupted run and start from the beginning')
    .option('--batch-size <n>', 'rows per transaction (1-10000)', '1000')
    .option('--progress-interval <seconds>', 'seconds between progress lines when stderr is not a terminal', '5')
    .option('--no-progress', 'no progress output on stderr')
    .addHelpText('after', [
      '',
      'Fields (JSON Lines keys, CSV header names; only client_user_id is required):',
      ...FIELDS.map((f) => `  ${f.name.padEnd(20)} ${f.kind}`),
      `Accepted and ignored (written by roster export): ${EXPORT_ONLY_FIELDS.join(', ')}`,
      'Rows are checked with the API\'s rules; rows already present (same client_user_id) are skipped.',
      'FILE.roster-import.json records progress after each committed batch: run the same command again to continue.',
    ].join('\n'))
    .action(async (file: string, opts: { team: string; format?: Format; restart?: boolean; batchSize: string; progressInterval: string; progress: boolean }) => {
      const teamId = parseUuid(opts.team);
      if (!teamId) throw new ImportError(`--team must be a UUID (got "${opts.team}")`);
      const batchSize = Number(opts.batchSize);
      const interval = Number(opts.progressInterval);
      if (!Number.isFinite(interval) || interval < 0) throw new ImportError('--progress-interval must be a number of seconds');
      if (!fs.existsSync(file)) throw new ImportError(`cannot open ${file}: no such file`);
      const cfg = config();
      const ac = new AbortController();
      const onSignal = () => {
        if (ac.signal.aborted) process.exit(130);
        process.stderr.write('\nroster: interrupted; committing the current batch (again to stop at once)\n');
        ac.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const o = await openDatabase({ ...connectionOptions(cfg), dataDir: cfg.dataDir, role: 'client' });
      try {
        const summary = await importUsers({
          db: o.db.kysely, teamId, file, batchSize, signal: ac.signal, sandboxUserCap: cfg.sandboxUserCap,
          ...(opts.format ? { format: opts.format } : {}),
          ...(opts.restart ? { restart: true } : {}),
          progress: opts.progress ? { stream: process.stderr, tty: process.stderr.isTTY === true, intervalMs: interval * 1000 } : null,
        });
        process.stdout.write(JSON.stringify(summary) + '\n');
        if (summary.interrupted) {
          process.stderr.write(`roster: stopped after a committed batch (${summary.read} rows read so far); run the same command again to continue\n`);
          process.exitCode = 130;
        }
      } catch (e) {
        if (fs.existsSync(checkpointPath(path.resolve(file))) && !(e instanceof ImportError)) {
          throw new Error(`${(e as Error).message} (committed batches are recorded in ${checkpointPath(file)}: run the same command again to continue)`);
        }
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await o.close();
      }
    });
}
