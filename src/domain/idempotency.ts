// Idempotency-Key (the write path of every face): the same key and the same request (method, URL,
// JSON body compared after parsing) replays the first response without doing the work again; a
// different request under the key is refused; the same key while the first is still running is
// busy. The key row commits exactly when the change does: it is written in the request's own
// transaction (src/domain/request-scope.ts), which also carries the change's audit entry.
import { createHash } from 'node:crypto';
import type { AuditEntry } from './audit.ts';
import type { RequestScope } from './request-scope.ts';

/** How long a key is remembered (then the sweep deletes it: src/compose.ts runMaintenance). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** 1 to 255 printable ASCII characters. */
export const isIdempotencyKey = (key: string): boolean => /^[\x21-\x7e]{1,255}$/.test(key);

/** JSON with object keys sorted, so `{"a":1,"b":2}` and `{"b":2,"a":1}` are the same request. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return '';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** What identifies "the same request" under one key. */
export const requestFingerprint = (method: string, url: string, body: unknown): Buffer =>
  createHash('sha256').update(`${method}\n${url}\n${canonicalJson(body)}`).digest();

/** A response as remembered under its key, for replay. */
export interface StoredResponse { status: number; headers: Record<string, string>; body: string }

export type IdempotencyBegin =
  /** The key was used for this very request, which completed: answer as it did. */
  | { kind: 'replay'; response: StoredResponse }
  /** The key was used for a different request. */
  | { kind: 'mismatch' }
  /** Another request holds the key and has not completed. */
  | { kind: 'busy' }
  /** The key is taken by this request: `scope` now holds its transaction. */
  | { kind: 'started' };

export interface IdempotencyStore {
  /** Takes `key` for this request inside `scope`, or says why not. */
  begin(scope: RequestScope, teamId: string, key: string, fingerprint: Buffer, now: Date): Promise<IdempotencyBegin>;
  /** Whether `scope` holds a started idempotent write. */
  isOpen(scope: RequestScope): boolean;
  /** Remembers `response`, records `audit` (through the one AuditLog) and commits the change. */
  complete(scope: RequestScope, response: StoredResponse, audit: AuditEntry): Promise<void>;
  /** Rolls the change back (nothing is remembered under the key); a no-op when nothing is open. */
  abort(scope: RequestScope): Promise<void>;
  /** Deletes keys whose lifetime has passed; returns how many. */
  purgeExpired(now: Date): Promise<number>;
}
