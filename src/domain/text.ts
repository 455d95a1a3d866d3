// Text rules shared by every face: PostgreSQL text cannot hold U+0000, and the pg driver silently
// turns unpaired surrogates into U+FFFD, which would store something other than what was sent.

/** True when `s` holds U+0000 or a UTF-16 surrogate that is not part of a pair. */
export function hasForbiddenChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return true;
    if (c >= 0xd800 && c <= 0xdbff) {
      const n = s.charCodeAt(i + 1);
      if (n >= 0xdc00 && n <= 0xdfff) { i++; continue; }
      return true;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

export const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
