// A Date as ISO 8601 in UTC, without Date.prototype.toISOString.
//
// Why: V8's toISOString goes through the runtime's date cache (~0.4 µs a call on the bench
// machines); a list of 100 users renders 250–400 timestamps, and toISOString was 5% of the list's
// CPU profile (docs/benchmark.md, 2026-12-08 session 2). This is the same text from the time value
// by arithmetic (civil-from-days, H. Hinnant), about 3× cheaper.

/** 10000-01-01T00:00:00Z: from there on toISOString writes a 6-digit year with a sign. */
const YEAR_10000 = 253_402_300_800_000;
/** 0000-01-01T00:00:00Z: before it, a negative 6-digit year. */
const YEAR_0 = -62_167_219_200_000;
const DAY_MS = 86_400_000;
const ZERO = 48;

/**
 * `d.toISOString()` with its final `Z` replaced by `zone` (e.g. `+00:00`): `2026-01-01T00:00:10.000` + zone.
 * Throws on an invalid Date, as toISOString does.
 */
export function isoUtc(d: Date, zone: string): string {
  const t = d.getTime();
  // Years 0–9999 by arithmetic; the rest (and NaN, which throws) as toISOString writes them.
  if (!(t >= YEAR_0 && t < YEAR_10000)) return d.toISOString().slice(0, -1) + zone;
  const days = Math.floor(t / DAY_MS);
  let rest = t - days * DAY_MS;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const ms = rest % 1000;
  rest = (rest - ms) / 1000;
  const sec = rest % 60;
  rest = (rest - sec) / 60;
  const min = rest % 60;
  const hour = (rest - min) / 60;
  // One flat string from character codes: concatenating 16 pieces made a rope of 15 nodes (~500
  // bytes of garbage per timestamp, most of a list's allocation).
  return String.fromCharCode(
    ZERO + ((year / 1000) | 0), ZERO + (((year / 100) | 0) % 10), ZERO + (((year / 10) | 0) % 10), ZERO + (year % 10), 45,
    ZERO + ((month / 10) | 0), ZERO + (month % 10), 45, ZERO + ((day / 10) | 0), ZERO + (day % 10), 84,
    ZERO + ((hour / 10) | 0), ZERO + (hour % 10), 58, ZERO + ((min / 10) | 0), ZERO + (min % 10), 58,
    ZERO + ((sec / 10) | 0), ZERO + (sec % 10), 46, ZERO + ((ms / 100) | 0), ZERO + (((ms / 10) | 0) % 10), ZERO + (ms % 10),
  ) + zone;
}
