// Mobile SDK sign-in: settings, records, results and refusals (the vocabulary of the other files
// in this folder). Design and the iOS SDK's expectations: docs/sign-in-tokens.md.

export type SdkRegion = 'us' | 'eu';
import type { TeamMode } from '../users/model.ts';
export type { TeamMode };

export interface AuthTokenSettings {
  /** Lifetime of a sign-in token (ROSTER_SIGN_IN_TOKEN_TTL_S). */
  signInTokenTtlS: number;
  /** Lifetime of an access token (ROSTER_ACCESS_TOKEN_TTL_S). */
  accessTokenTtlS: number;
  /** Lifetime of a refresh token, renewed by each refresh (ROSTER_REFRESH_TOKEN_TTL_S). */
  refreshTokenTtlS: number;
  /**
   * Absolute lifetime of a session (ROSTER_SESSION_MAX_TTL_S): no refresh token outlives
   * `session start + this`, however often it is refreshed. Default 180 days.
   */
  sessionMaxTtlS?: number;
  /** Region the iOS SDK reads from `iss` (ROSTER_SIGN_IN_REGION). */
  region: SdkRegion;
  /**
   * How long signing keys are cached per instance (ms; default 60 s). Also how long a new key
   * waits before it signs. Tests shorten it.
   */
  keyCacheMs?: number;
}

export const DEFAULT_SESSION_MAX_TTL_S = 180 * 86_400;

export const DEFAULT_AUTH_TOKEN_SETTINGS: AuthTokenSettings = {
  signInTokenTtlS: 3600,
  accessTokenTtlS: 3600,
  refreshTokenTtlS: 90 * 86_400,
  sessionMaxTtlS: DEFAULT_SESSION_MAX_TTL_S,
  region: 'us',
};

/**
 * The issuer form Junction's iOS SDK accepts (VitalSignInTokenClaims in VitalJWTAuth.swift):
 * `id-signer-{env}-{region}@vital-id-{env}-{region}.iam.gserviceaccount.com`. Any other `iss` makes
 * the SDK reject the token before it sends anything. `env` is the team's mode.
 */
export function signInIssuer(mode: TeamMode, region: SdkRegion): string {
  return `id-signer-${mode}-${region}@vital-id-${mode}-${region}.iam.gserviceaccount.com`;
}

/** The SDK's own pattern, kept here so tests and the docs check against the same text. */
export const SDK_ISSUER_RE = /^id-signer-([a-z]+)-([a-z]+)@vital-id-[a-z]+-[a-z]+.iam.gserviceaccount.com$/;

// ---------- records ----------

export interface SigningKeyRecord {
  kid: string;
  algorithm: 'RS256';
  publicKeyPem: string;
  privateKeyPem: string;
  createdAt: Date;
  /** When the key stops verifying; a time in the future is a rotation's grace period. */
  retiredAt: Date | null;
}

export interface SignInTokenRecord {
  teamId: string;
  jti: string;
  userId: string;
  kid: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

export type SessionRevokedReason = 'user_deleted' | 'refresh_token_reuse' | 'revoked';

export interface SessionRecord {
  teamId: string;
  id: string;
  userId: string;
  createdAt: Date;
  revokedAt: Date | null;
  revokedReason: SessionRevokedReason | null;
}

export interface RefreshTokenRecord {
  teamId: string;
  hash: Buffer;
  sessionId: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
  rotatedAt: Date | null;
}

export interface NewRefreshToken {
  hash: Buffer;
  createdAt: Date;
  expiresAt: Date;
}

// ---------- refusals ----------

/**
 * Why a token was refused. Faces answer every one of them as `invalid_token`; the reason picks the
 * finer code the iOS SDK reacts to (user gone → sign out; otherwise → re-authenticate).
 */
export type AuthFailure =
  | 'malformed'        // not a token of ours at all
  | 'bad_signature'    // unknown kid, retired key or signature mismatch
  | 'bad_audience'     // sign-in token meant for another exchange endpoint, or another issuer
  | 'expired'
  | 'already_used'     // sign-in token exchanged before
  | 'unknown'          // well-formed but no such token (e.g. purged)
  | 'reused'           // refresh token that was already rotated: the session is now ended
  | 'revoked'          // session ended
  | 'user_not_found';  // the user is deleted (or was, since the token was issued)

export class AuthTokenError extends Error {
  constructor(readonly reason: AuthFailure, message?: string) {
    super(message ?? `token refused: ${reason}`);
    this.name = 'AuthTokenError';
  }
}

export const isAuthTokenError = (e: unknown): e is AuthTokenError => e instanceof AuthTokenError;

// ---------- results ----------

export interface IssuedSignInToken {
  userId: string;
  /** What U18 returns: standard base64 of `{"public_key", "user_token"}`. */
  signInToken: string;
  /** The JWT inside it. */
  userToken: string;
  jti: string;
  kid: string;
  expiresAt: Date;
}

export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  teamId: string;
  userId: string;
  sessionId: string;
}

export interface AccessPrincipal {
  teamId: string;
  userId: string;
  sessionId: string;
  /** The team's mode when the session was started or last refreshed. */
  mode: TeamMode;
}

export interface PublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
  kid: string;
  alg: 'RS256';
  use: 'sig';
}
