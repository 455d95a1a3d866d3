// Reading `timestamptz` text without a regular expression.
//
// Why: a list of 100 users carries 250–400 timestamps, and pg's default parser (postgres-date:
// three regular expressions, parseInt per field) was 7.5% of the list's CPU profile
// (docs/benchmark.md, 2026-12-08 session 2). PostgreSQL's output for a timestamptz is always
// `YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM[:SS]]` with DateStyle ISO (the default, and what pg expects);
// that shape is read here digit by digit, and anything else (infinity, BC, years beyond 9999 or
// before 1000, another DateStyle) goes to the default parser. Same Date as the default, to the
// millisecond (microseconds are truncated, as Date.UTC does with a fractional millisecond).

const digit = (s: string, i: number): number => {
  const d = s.charCodeAt(i) - 48;
  return d >= 0 && d <= 9 ? d : NaN;
};
const two = (s: string, i: number): number => digit(s, i) * 10 + digit(s, i + 1);

/** `text` (a space or a `T` between date and time) as a Date, or undefined when it is not that shape (the caller's parser decides). */
export function parseIsoTimestamptz(text: string): Date | undefined {
  const n = text.length;
  const sep = text.charCodeAt(10);
  if (n < 22 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45 || (sep !== 32 && sep !== 84)
    || text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3);
  let i = 19;
  let ms = 0;
  if (text.charCodeAt(i) === 46) {
    // Up to 6 fractional digits; only the first 3 reach a Date.
    let scale = 100;
    for (i = 20; i < n; i++) {
      const d = text.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      if (scale >= 1) ms += d * scale;
      scale /= 10;
    }
  }
  const sign = text.charCodeAt(i);
  if (sign !== 43 && sign !== 45) return undefined;
  // The offset: ±HH, ±HH:MM or ±HH:MM:SS, and nothing after it.
  let offset = two(text, i + 1) * 3600;
  if (n === i + 6 || n === i + 9) {
    if (text.charCodeAt(i + 3) !== 58) return undefined;
    offset += two(text, i + 4) * 60;
    if (n === i + 9) {
      if (text.charCodeAt(i + 6) !== 58) return undefined;
      offset += two(text, i + 7);
    }
  } else if (n !== i + 3) return undefined;
  const t = Date.UTC(year, two(text, 5) - 1, two(text, 8), two(text, 11), two(text, 14), two(text, 17), ms)
    - (sign === 43 ? offset : -offset) * 1000;
  // NaN: a character that was not a digit; year < 1000: Date.UTC reads 0–99 as 1900–1999, and
  // such dates are rare enough to leave to the default parser.
  return Number.isNaN(t) || year < 1000 ? undefined : new Date(t);
}
