// Ids (src/domain/ids.ts): UUIDv7 generation and UUID parsing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newId, parseUuid } from '../../src/domain/ids.ts';

const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('newId', () => {
  test('is a lower-case hyphenated UUID, version 7, RFC 4122 variant', () => {
    for (let i = 0; i < 200; i++) {
      const id = newId();
      assert.match(id, CANONICAL);
      assert.equal(id[14], '7', `version nibble of ${id}`);
      assert.ok('89ab'.includes(id[19]!), `variant nibble of ${id}`);
    }
  });

  test('carries the given millisecond timestamp in its first 48 bits', () => {
    const t = Date.UTC(2026, 10, 23, 12, 34, 56, 789);
    const id = newId(t);
    assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), t);
  });

  test('is time ordered: a later timestamp sorts after an earlier one', () => {
    const ids = [];
    for (let t = 1_700_000_000_000; t < 1_700_000_000_000 + 50_000; t += 997) ids.push(newId(t));
    assert.deepEqual([...ids].sort(), ids);
    assert.ok(newId(Date.now() + 1) > newId(Date.now() - 1000));
  });

  test('is random within a millisecond', () => {
    const t = Date.now();
    const set = new Set(Array.from({ length: 1000 }, () => newId(t)));
    assert.equal(set.size, 1000);
  });
});

describe('parseUuid', () => {
  const canon = '0123abcd-89ab-cdef-0123-456789abcdef';

  test('accepts the canonical form unchanged', () => {
    assert.equal(parseUuid(canon), canon);
  });

  test('accepts upper case and canonicalises to lower case', () => {
    assert.equal(parseUuid(canon.toUpperCase()), canon);
    assert.equal(parseUuid('0123ABCD-89ab-CDEF-0123-456789ABCDEF'), canon);
  });

  test('accepts 32 hex digits without hyphens and canonicalises', () => {
    assert.equal(parseUuid('0123abcd89abcdef0123456789abcdef'), canon);
    assert.equal(parseUuid('0123ABCD89ABCDEF0123456789ABCDEF'), canon);
  });

  test('round-trips generated ids', () => {
    const id = newId();
    assert.equal(parseUuid(id), id);
    assert.equal(parseUuid(id.replace(/-/g, '').toUpperCase()), id);
  });

  test('rejects everything else', () => {
    for (const s of [
      '', 'not-a-uuid', '123',
      '0123abcd-89ab-cdef-0123-456789abcde',      // one short
      '0123abcd-89ab-cdef-0123-456789abcdef0',    // one long
      '0123abcd-89ab-cdef-0123-456789abcdeg',     // non-hex
      '0123abcd89ab-cdef-0123-456789abcdef',      // missing hyphen
      '0123abc-d89ab-cdef-0123-456789abcdef',     // wrong groups
      ' 0123abcd-89ab-cdef-0123-456789abcdef',
      '0123abcd-89ab-cdef-0123-456789abcdef\n',
      '0123abcd89abcdef0123456789abcde',          // 31 hex
      '0123abcd-89ab-cdef-0123-456789abcdef\u0000',
    ]) {
      assert.equal(parseUuid(s), null, JSON.stringify(s));
    }
  });
});
