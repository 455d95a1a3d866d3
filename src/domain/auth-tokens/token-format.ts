// The shapes of mobile sign-in tokens on the wire: refresh tokens, the sign-in token's envelope,
// the audiences and issuers derived from Roster's base URL.
import { createHash, randomBytes } from 'node:crypto';
import { b64url } from '../jwt.ts';
import { parseUuid } from '../ids.ts';

const REFRESH_PREFIX = 'rt1';
const REFRESH_RE = /^rt1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;
/** The audience of access tokens. */
export const ACCESS_TOKEN_AUDIENCE = 'roster';

export const hashToken = (t: string): Buffer => createHash('sha256').update(t, 'utf8').digest();

/**
 * Refresh tokens carry their team (so the row is found by (team_id, hash), like every tenant row)
 * and 256 random bits. Characters are [0-9a-zA-Z._-]: the iOS SDK puts the token in a form body
 * escaping only what `.urlQueryAllowed` escapes, so `+`, `&` and `=` must never appear.
 */
export function newRefreshToken(teamId: string): string {
  return `${REFRESH_PREFIX}.${teamId.replace(/-/g, '')}.${b64url(randomBytes(32))}`;
}

export function parseRefreshToken(t: string): { teamId: string } | null {
  const m = REFRESH_RE.exec(t);
  if (!m) return null;
  return { teamId: parseUuid(m[1]!)! };
}

/**
 * What an exchange may be given: the JWT itself (`user_token`, what the iOS SDK sends) or the whole
 * sign-in token as U18 returned it (base64 JSON). Returns the JWT text or null.
 */
export function userTokenOf(subject: string): string | null {
  const s = subject.trim();
  if (s.length === 0 || s.length > 16_384) return null;
  if (s.split('.').length === 3) return s;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(s)) return null;
  try {
    const v = JSON.parse(Buffer.from(s, 'base64').toString('utf8')) as { user_token?: unknown };
    return typeof v?.user_token === 'string' ? v.user_token : null;
  } catch {
    return null;
  }
}

export const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);
const trimSlash = (u: string): string => u.replace(/\/+$/, '');

/** Where the exchange and refresh are served: `{base}/auth/v1/token` (the sign-in token's `aud`). */
export const tokenEndpoint = (baseUrl: string): string => `${trimSlash(baseUrl)}/auth/v1/token`;
/** `iss` of access tokens: `{base}/auth`. */
export const accessIssuer = (baseUrl: string): string => `${trimSlash(baseUrl)}/auth`;
