// parseIsoTimestamptz (src/db/timestamptz.ts) reads PostgreSQL's timestamptz text as pg's default
// parser (postgres-date) does, and declines what it does not read, so the default still decides it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { parseIsoTimestamptz } from '../../src/db/timestamptz.ts';

// pg's own parser (this file does not load src/db/pool.ts, which replaces it).
const parseDate = pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ);

const pad = (n: number, w: number) => String(n).padStart(w, '0');

describe('parseIsoTimestamptz', () => {
  test('the same instant as postgres-date for every shape PostgreSQL writes in DateStyle ISO', () => {
    const offsets = ['+00', '-08', '+05:30', '-03:30', '+14', '-00:25:21', '+01:22:02'];
    for (let i = 0; i < 100_000; i++) {
      const y = 1000 + Math.floor(Math.random() * 9000);
      const frac = Math.random() < 0.3 ? '' : '.' + pad(Math.floor(Math.random() * 1e6), 6).slice(0, 1 + Math.floor(Math.random() * 6));
      const text = `${pad(y, 4)}-${pad(1 + Math.floor(Math.random() * 12), 2)}-${pad(1 + Math.floor(Math.random() * 28), 2)} `
        + `${pad(Math.floor(Math.random() * 24), 2)}:${pad(Math.floor(Math.random() * 60), 2)}:${pad(Math.floor(Math.random() * 60), 2)}`
        + frac + offsets[i % offsets.length];
      const got = parseIsoTimestamptz(text);
      assert.ok(got, `read ${text}`);
      assert.equal(got.getTime(), (parseDate(text) as unknown as Date).getTime(), text);
    }
  });

  test('the shape JSON gives a timestamptz (a T between date and time) reads the same', () => {
    for (const text of ['2026-01-01 00:00:10+00:00', '2026-01-01 00:00:10.5+00:00', '1999-12-31 23:59:59.999999-03:30']) {
      assert.equal(parseIsoTimestamptz(text.replace(' ', 'T'))!.getTime(), (parseDate(text) as unknown as Date).getTime(), text);
    }
  });

  test('microseconds are truncated to the millisecond, not rounded', () => {
    assert.equal(parseIsoTimestamptz('2026-01-01 00:00:10.999999+00')!.toISOString(), '2026-01-01T00:00:10.999Z');
    assert.equal(parseIsoTimestamptz('2026-01-01 00:00:10.0009+00')!.toISOString(), '2026-01-01T00:00:10.000Z');
  });

  test('declines what it does not read: infinity, BC, years outside 1000–9999, other styles, stray characters', () => {
    for (const text of ['infinity', '-infinity', '0044-03-15 12:00:00+00 BC', '0099-01-01 00:00:00+00', '12026-01-01 00:00:00+00',
      '2026-01-01T00:00:00Z', 'Thu Jan 01 00:00:00 2026 UTC', '2026-01-01 00:00:00', '2026-01-01 00:00:00+0', '2026-01-01 00:00:00+00:0',
      '2026-0a-01 00:00:00+00', '2026-01-01 00:00:00.12x+00', '2026-01-01 00:00:00+00 ', '2026-01-01 00:00:00+05:30:1']) {
      assert.equal(parseIsoTimestamptz(text), undefined, text);
    }
  });
});
