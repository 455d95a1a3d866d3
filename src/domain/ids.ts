import { randomBytes } from 'node:crypto';

/**
 * UUIDv7: time-ordered, so new rows land at the right edge of (team_id, id) indexes instead of
 * splitting random pages; still 74 random bits, so ids are not guessable across teams.
 */
export function newId(now = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UUID_SIMPLE_RE = /^[0-9a-f]{32}$/i;

/** Canonical lower-case hyphenated form, or null when `s` is not a UUID (hyphenated or 32 hex). */
export function parseUuid(s: string): string | null {
  if (UUID_RE.test(s)) return s.toLowerCase();
  if (UUID_SIMPLE_RE.test(s)) {
    const h = s.toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  return null;
}
