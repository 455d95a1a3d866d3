// Compact JWS (RFC 7515/7519) with RS256 over node:crypto: just what sign-in and access tokens need.
// Nothing here trusts what it decodes: `decodeJwt` only splits and parses; `verifyRs256` checks the
// signature against a key the caller chose by `kid`.
import { createHash, createSign, createVerify, type KeyObject } from 'node:crypto';

export interface JwtHeader {
  alg: string;
  typ?: string;
  kid?: string;
  [k: string]: unknown;
}

export type JwtClaims = Record<string, unknown>;

export interface DecodedJwt {
  header: JwtHeader;
  claims: JwtClaims;
  /** `header.payload`, the bytes the signature covers. */
  signingInput: string;
  signature: Buffer;
}

export const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

const B64URL_RE = /^[A-Za-z0-9_-]*$/;

function parseSegment(s: string): Record<string, unknown> | null {
  if (!B64URL_RE.test(s) || s.length === 0) return null;
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Splits and parses a compact JWS; null when it is not one (no signature check). */
export function decodeJwt(token: string): DecodedJwt | null {
  if (token.length > 16_384) return null;
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  const [h, p, s] = parts as [string, string, string];
  const header = parseSegment(h);
  const claims = parseSegment(p);
  if (!header || !claims || typeof header.alg !== 'string' || !B64URL_RE.test(s) || s.length === 0) return null;
  return { header: header as JwtHeader, claims, signingInput: `${h}.${p}`, signature: Buffer.from(s, 'base64url') };
}

/**
 * JSON whose base64url form never holds `-` or `_`, so a standard-base64 decoder reads it too.
 * Junction's iOS SDK decodes JWT segments with `Data(base64Encoded:)` (standard alphabet only), so a
 * segment with `-` or `_` makes it reject the token. For ASCII text only `>`, `?`, `~` and DEL can
 * produce those (as the third byte of a 3-byte group), and non-ASCII bytes can: all are written as
 * `\uXXXX` escapes instead, which is the same JSON value.
 */
export function sdkSafeJson(v: unknown): string {
  return JSON.stringify(v).replace(/[>?~\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function signRs256(header: JwtHeader, claims: JwtClaims, privateKey: KeyObject): string {
  const input = `${b64url(sdkSafeJson(header))}.${b64url(sdkSafeJson(claims))}`;
  const sig = createSign('RSA-SHA256').update(input).sign(privateKey);
  return `${input}.${b64url(sig)}`;
}

export function verifyRs256(jwt: DecodedJwt, publicKey: KeyObject): boolean {
  if (jwt.header.alg !== 'RS256') return false;
  try {
    return createVerify('RSA-SHA256').update(jwt.signingInput).verify(publicKey, jwt.signature);
  } catch {
    return false;
  }
}

/** RFC 7638 JWK thumbprint of an RSA public key: a stable, content-derived `kid`. */
export function rsaThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as { e: string; n: string };
  return b64url(createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })).digest());
}
