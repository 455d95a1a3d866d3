// The storage port of mobile sign-in: what the rules in service.ts need, and what they decide
// inside a storage transaction. src/store/auth-tokens.ts implements it.
import type {
  AuthFailure, NewRefreshToken, RefreshTokenRecord, SessionRecord, SessionRevokedReason, SignInTokenRecord, SigningKeyRecord, TeamMode,
} from './model.ts';

/** What the domain decides after looking at a locked sign-in token row. */
export type RedeemDecision =
  | { ok: true; usedAt: Date; session: { id: string; createdAt: Date }; refresh: NewRefreshToken }
  | { ok: false; reason: AuthFailure };

/** What the domain decides after looking at a locked refresh token row. */
export type RefreshDecision =
  | { ok: true; rotatedAt: Date; next: NewRefreshToken }
  | { ok: false; reason: AuthFailure; revokeSession?: { at: Date; reason: SessionRevokedReason } };

/** A row looked at under lock, with what the rules need besides it. */
export interface Owner {
  /** The user exists and is not deleted. */
  userLive: boolean;
  /** The team's mode (the sign-in token's `iss` names it). */
  mode: TeamMode;
}

export interface AuthTokensRepo {
  /** Keys that still verify at `now` (retired_at null or later), newest first. */
  activeSigningKeys(now: Date): Promise<SigningKeyRecord[]>;
  /** Every key, retired or not, newest first. */
  allSigningKeys(): Promise<SigningKeyRecord[]>;
  /**
   * The newest key that is not retired; when there is none, `make()` is called and its key stored,
   * once across all instances (advisory lock), and that key returned.
   */
  ensureSigningKey(make: () => Promise<SigningKeyRecord>): Promise<SigningKeyRecord>;
  /**
   * Stores `key` and, in the same transaction, sets every other key that would still verify after
   * `retireOthersAt` to retire then (a rotation with a grace period). Returns their kids.
   */
  rotateSigningKey(key: SigningKeyRecord, retireOthersAt: Date): Promise<string[]>;
  /** Sets retired_at; false when the key is unknown or already retired. */
  retireSigningKey(kid: string, at: Date): Promise<boolean>;
  insertSignInToken(t: SignInTokenRecord): Promise<void>;
  /**
   * Locks the sign-in token row, hands it (or null) with its owner to `decide`, and applies the
   * decision in the same transaction: marks it used and starts the session with its first refresh
   * token. Returns the decision.
   */
  redeemSignInToken(teamId: string, jti: string, decide: (t: SignInTokenRecord | null, owner: Owner) => RedeemDecision): Promise<RedeemDecision>;
  /**
   * Locks the refresh token row, hands it with its session and owner to `decide`, and applies the
   * decision in the same transaction (rotate, or revoke the session).
   */
  useRefreshToken(
    teamId: string, hash: Buffer,
    decide: (r: RefreshTokenRecord | null, s: SessionRecord | null, owner: Owner) => RefreshDecision,
  ): Promise<RefreshDecision & { sessionId?: string; userId?: string; mode?: TeamMode }>;
  /** The session with its owner. */
  session(teamId: string, sessionId: string): Promise<{ session: SessionRecord; owner: Owner } | null>;
  /**
   * Ends every open session of the user and revokes its unused sign-in tokens (reason `revoked`).
   * Returns how many of each; null when the team has no such user.
   */
  endSessions(teamId: string, userId: string, at: Date): Promise<{ sessions: number; signInTokens: number } | null>;
  /** Deletes sign-in tokens and refresh tokens that expired before `before`, and sessions left empty. */
  purge(before: Date): Promise<number>;
}
