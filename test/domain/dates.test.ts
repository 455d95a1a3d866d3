// Calendar dates and time zones (src/domain/dates.ts): Pydantic/speedate-style parsing and reasons.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { addDays, checkDate, isIanaTimeZone, utcDate } from '../../src/domain/dates.ts';

const ok = (s: string, value = s.slice(0, 10)) => assert.deepEqual(checkDate(s), { ok: true, value }, `expected ${JSON.stringify(s)} to be accepted`);
const bad = (s: string, reason: string) => assert.deepEqual(checkDate(s), { ok: false, reason }, `reason for ${JSON.stringify(s)}`);

describe('checkDate', () => {
  test('accepts plain calendar dates', () => {
    ok('2024-01-31');
    ok('1970-01-01');
    ok('9999-12-31');
  });

  test('year 0001 is the first valid year; year 0000 is out of range', () => {
    ok('0001-01-01');
    bad('0000-01-01', 'year value is outside expected range');
  });

  test('leap years: divisible by 4, except centuries, except every 400 years', () => {
    ok('2024-02-29');
    ok('2000-02-29');
    ok('1600-02-29');
    bad('2023-02-29', 'day value is outside expected range');
    bad('1900-02-29', 'day value is outside expected range');
    bad('2100-02-29', 'day value is outside expected range');
    bad('2024-02-30', 'day value is outside expected range');
  });

  test('month lengths', () => {
    ok('2024-01-31');
    ok('2024-04-30');
    bad('2024-04-31', 'day value is outside expected range');
    bad('2024-06-31', 'day value is outside expected range');
    bad('2024-09-31', 'day value is outside expected range');
    bad('2024-11-31', 'day value is outside expected range');
    bad('2024-12-32', 'day value is outside expected range');
    bad('2024-01-00', 'day value is outside expected range');
  });

  test('month out of range', () => {
    bad('2024-13-01', 'month value is outside expected range of 1-12');
    bad('2024-00-10', 'month value is outside expected range of 1-12');
  });

  test('too short', () => {
    bad('', 'input is too short');
    bad('2024-1-01', 'input is too short');
    bad('20240101', 'input is too short');
    bad('2024-01', 'input is too short');
  });

  test('bad characters name the part that is wrong', () => {
    bad('abcd-01-01', 'invalid character in year');
    bad('20x4-01-01', 'invalid character in year');
    bad('2024-0a-01', 'invalid character in month');
    bad('2024-01-0a', 'invalid character in day');
    bad('2024/01/01', 'invalid date separator, expected `-`');
    bad('2024-01/01', 'invalid date separator, expected `-`');
  });

  test('a datetime at exactly midnight is accepted as its date (as Pydantic does)', () => {
    ok('2024-01-01T00:00:00Z');
    ok('2024-01-01T00:00:00+00:00');
    ok('2024-01-01T00:00:00-00:00');
    ok('2024-01-01T00:00:00.000Z');
    ok('2024-01-01T00:00:00.000000');
    ok('2024-01-01T00:00');
    ok('2024-01-01 00:00:00');
    ok('2024-02-29T00:00:00Z', '2024-02-29');
  });

  test('a datetime that is not midnight UTC, or trailing garbage, is rejected', () => {
    const extra = 'unexpected extra characters at the end of the input';
    bad('2024-01-01T00:00:01Z', extra);
    bad('2024-01-01T12:00:00Z', extra);
    bad('2024-01-01T00:00:00+01:00', extra);
    bad('2024-01-01x', extra);
    bad('2024-01-01 ', extra);
  });

  test('the validity checks still apply to the date part of a datetime', () => {
    bad('2023-02-29T00:00:00Z', 'day value is outside expected range');
  });
});

describe('isIanaTimeZone', () => {
  test('canonical ids and the links IANA still ships are accepted', () => {
    for (const z of ['Europe/London', 'America/New_York', 'Asia/Kolkata', 'UTC', 'Etc/GMT+5', 'US/Eastern', 'America/Argentina/Buenos_Aires']) {
      assert.equal(isIanaTimeZone(z), true, z);
    }
  });

  test('offsets, unknown zones and junk are rejected', () => {
    for (const z of ['', '+01:00', '-05:00', 'Mars/Olympus_Mons', 'Europe/', '/London', 'Europe London', 'Europe/London\u0000', '../etc/passwd']) {
      assert.equal(isIanaTimeZone(z), false, JSON.stringify(z));
    }
  });
});

describe('date arithmetic', () => {
  test('utcDate formats in UTC with a 4-digit year', () => {
    assert.equal(utcDate(new Date(Date.UTC(2024, 0, 5, 23, 59, 59))), '2024-01-05');
    const d = new Date(Date.UTC(2000, 0, 1));
    d.setUTCFullYear(1);
    assert.equal(utcDate(d), '0001-01-01');
  });

  test('addDays crosses months, leap days and years, including years below 100', () => {
    assert.equal(addDays('2024-02-28', 1), '2024-02-29');
    assert.equal(addDays('2023-02-28', 1), '2023-03-01');
    assert.equal(addDays('2024-12-31', 1), '2025-01-01');
    assert.equal(addDays('2024-03-01', -1), '2024-02-29');
    assert.equal(addDays('0001-01-01', 7), '0001-01-08');
    assert.equal(addDays('0099-12-31', 1), '0100-01-01');
  });
});
