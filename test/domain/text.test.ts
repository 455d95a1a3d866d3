// Text PostgreSQL can hold exactly (src/domain/text.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasForbiddenChars, utf8Bytes } from '../../src/domain/text.ts';

describe('hasForbiddenChars', () => {
  test('ordinary text, unicode and valid surrogate pairs are fine', () => {
    for (const s of ['', 'abc', 'user/with spaces?&#', 'Ünïcödé', '日本語', '😀', 'a😀b', '👩‍👩‍👧‍👦', '\u{10FFFF}', '\uFFFD', '\u0001\u001f\u007f']) {
      assert.equal(hasForbiddenChars(s), false, JSON.stringify(s));
    }
  });

  test('U+0000 anywhere is forbidden', () => {
    for (const s of ['\u0000', 'a\u0000', '\u0000a', 'ab\u0000cd']) assert.equal(hasForbiddenChars(s), true, JSON.stringify(s));
  });

  test('unpaired surrogates are forbidden, wherever they are', () => {
    for (const s of ['\ud800', '\udc00', 'a\ud800', '\ud800a', 'a\udfffb', '\udbff', '\udc00\ud800', '😀\ud800', '\ud800\ud800\udc00']) {
      assert.equal(hasForbiddenChars(s), true, JSON.stringify(s));
    }
  });
});

describe('utf8Bytes', () => {
  test('counts UTF-8 bytes, not UTF-16 code units or characters', () => {
    assert.equal(utf8Bytes(''), 0);
    assert.equal(utf8Bytes('abc'), 3);
    assert.equal(utf8Bytes('é'), 2);
    assert.equal(utf8Bytes('€'), 3);
    assert.equal(utf8Bytes('😀'), 4);
    assert.equal('😀'.length, 2);
  });
});
