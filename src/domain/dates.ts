// Calendar dates ('YYYY-MM-DD', floating, no zone) and IANA time zones.

export type DateCheck = { ok: true; value: string } | { ok: false; reason: string };

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';

/**
 * Parses a calendar date the way Junction's API (Pydantic/speedate) does, and says why not in the
 * same words. Also accepts a datetime at exactly midnight UTC, as Pydantic does for date fields.
 */
export function checkDate(s: string): DateCheck {
  if (s.length < 10) return { ok: false, reason: 'input is too short' };
  for (let i = 0; i < 4; i++) if (!isDigit(s[i])) return { ok: false, reason: 'invalid character in year' };
  if (s[4] !== '-') return { ok: false, reason: 'invalid date separator, expected `-`' };
  if (!isDigit(s[5]) || !isDigit(s[6])) return { ok: false, reason: 'invalid character in month' };
  if (s[7] !== '-') return { ok: false, reason: 'invalid date separator, expected `-`' };
  if (!isDigit(s[8]) || !isDigit(s[9])) return { ok: false, reason: 'invalid character in day' };
  const year = Number(s.slice(0, 4));
  const month = Number(s.slice(5, 7));
  const day = Number(s.slice(8, 10));
  if (month < 1 || month > 12) return { ok: false, reason: 'month value is outside expected range of 1-12' };
  if (day < 1 || day > daysInMonth(year, month)) return { ok: false, reason: 'day value is outside expected range' };
  if (year < 1) return { ok: false, reason: 'year value is outside expected range' };
  if (s.length > 10) {
    const rest = s.slice(10);
    if (!/^[T ]00:00(:00(\.0+)?)?(Z|[+-]00:?00)?$/i.test(rest)) return { ok: false, reason: 'unexpected extra characters at the end of the input' };
  }
  return { ok: true, value: s.slice(0, 10) };
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

let zones: Set<string> | undefined;
/** IANA zone ids known to this Node's ICU, plus the aliases Intl accepts (e.g. 'UTC', 'US/Eastern'). */
export function isIanaTimeZone(id: string): boolean {
  zones ??= new Set(Intl.supportedValuesOf('timeZone'));
  if (zones.has(id)) return true;
  // Intl.supportedValuesOf lists canonical ids only; accept the links IANA still ships.
  // Reject offsets like '+01:00', which Intl accepts but are not IANA ids.
  if (id.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+)*$/.test(id)) return false;
  // Building a DateTimeFormat is slow (bulk imports check the same few zones millions of times):
  // remember answers for well-formed ids, bounded so arbitrary input cannot grow the cache.
  const known = aliasCache.get(id);
  if (known !== undefined) return known;
  let ok: boolean;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: id });
    ok = true;
  } catch {
    ok = false;
  }
  if (aliasCache.size < 10_000) aliasCache.set(id, ok);
  return ok;
}
const aliasCache = new Map<string, boolean>();

/** Today's date in UTC as 'YYYY-MM-DD'. */
export function utcDate(d: Date): string {
  const y = d.getUTCFullYear();
  return `${String(y).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')}`;
}

/** Adds whole days to a 'YYYY-MM-DD' date. */
export function addDays(date: string, days: number): string {
  // setUTCFullYear, because Date.UTC maps years 0-99 onto 1900-1999.
  const d = new Date(Date.UTC(2000, Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))));
  d.setUTCFullYear(Number(date.slice(0, 4)));
  return utcDate(new Date(d.getTime() + days * 86_400_000));
}
