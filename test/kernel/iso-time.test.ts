// isoUtc (src/kernel/iso-time.ts) writes what toISOString writes, with the zone of the caller's choice.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isoUtc } from '../../src/kernel/iso-time.ts';

const expected = (d: Date, zone: string) => d.toISOString().slice(0, -1) + zone;

describe('isoUtc', () => {
  test('the same text as toISOString at the edges of days, months, leap years and eras', () => {
    const edges = [
      '1970-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '2000-02-29T12:34:56.789Z', '2100-02-28T23:59:59.999Z',
      '2100-03-01T00:00:00.000Z', '2024-12-31T23:59:59.999Z', '1600-02-29T00:00:00.001Z', '0000-01-01T00:00:00.000Z',
      '0099-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z', '2026-01-01T00:00:10.000Z',
    ];
    for (const e of edges) assert.equal(isoUtc(new Date(e), '+00:00'), e.slice(0, -1) + '+00:00');
  });

  test('random instants over years 0 to 9999 and beyond, either way of the epoch', () => {
    const min = Date.UTC(-270000, 0, 1);
    const max = Date.UTC(270000, 0, 1);
    for (let i = 0; i < 200_000; i++) {
      const d = new Date(Math.floor(min + Math.random() * (max - min)));
      assert.equal(isoUtc(d, 'Z'), d.toISOString());
    }
    for (let i = 0; i < 200_000; i++) {
      const d = new Date(Math.floor(Math.random() * 253_402_300_800_000));
      assert.equal(isoUtc(d, '+00:00'), expected(d, '+00:00'));
    }
  });

  test('an invalid Date throws, as toISOString does', () => {
    assert.throws(() => isoUtc(new Date(Number.NaN), 'Z'), RangeError);
  });
});
