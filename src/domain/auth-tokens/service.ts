// Mobile SDK sign-in: the rules for sign-in tokens, their exchange for a session, refresh-token
// rotation and access tokens. Wire shapes live in the faces; storage behind AuthTokensRepo.
// Design and the iOS SDK's expectations: docs/sign-in-tokens.md.
//
// Rules:
// - A sign-in token is a JWT (RS256, `kid`) naming one live user of one team; it expires after the
//   sign-in TTL and can be exchanged once, at the endpoint its `aud` names, with the `iss` of its
//   team's mode.
// - An exchange starts a session: an access token (JWT, access TTL) and a refresh token (opaque,
//   refresh TTL, sliding, never past the session's absolute lifetime). Each refresh rotates the
//   refresh token; presenting a rotated one again ends the whole session (reuse detection).
// - Once the user is deleted, or its sessions are ended, every token of the user is useless, and an
//   undo does not revive them (the database revokes them in the delete's own transaction; see
//   0004_auth_tokens.sql). Use also checks that the user is live, for tokens issued while a
//   delete was committing.
import { randomUUID } from 'node:crypto';
import { decodeJwt, signRs256, verifyRs256 } from '../jwt.ts';
import { newId, parseUuid } from '../ids.ts';
import { DomainError } from '../errors.ts';
import {
  AuthTokenError, DEFAULT_SESSION_MAX_TTL_S, signInIssuer,
  type AccessPrincipal, type AuthTokenSettings, type IssuedSignInToken, type PublicJwk, type TeamMode, type TokenSet,
} from './model.ts';
import type { AuthTokensRepo, RedeemDecision, RefreshDecision } from './repo.ts';
import { KeyRing, generateSigningKey } from './key-ring.ts';
import {
  ACCESS_TOKEN_AUDIENCE, accessIssuer, hashToken, newRefreshToken, parseRefreshToken, seconds, tokenEndpoint, userTokenOf,
} from './token-format.ts';

export interface AuthTokensDeps {
  repo: AuthTokensRepo;
  settings: AuthTokenSettings;
  /** Throws the domain's user_not_found / user_pending_deletion when the user is not live. */
  requireLiveUser: (teamId: string, userId: string) => Promise<unknown>;
  now?: () => Date;
}

export class AuthTokensService {
  private readonly repo: AuthTokensRepo;
  private readonly settings: AuthTokenSettings;
  private readonly requireLiveUser: AuthTokensDeps['requireLiveUser'];
  private readonly now: () => Date;
  private readonly keys: KeyRing;

  constructor(deps: AuthTokensDeps) {
    this.repo = deps.repo;
    this.settings = { ...deps.settings };
    this.requireLiveUser = deps.requireLiveUser;
    this.now = deps.now ?? (() => new Date());
    this.keys = new KeyRing(this.repo, this.now, deps.settings.keyCacheMs ?? 60_000);
  }

  private get sessionMaxMs(): number {
    return (this.settings.sessionMaxTtlS ?? DEFAULT_SESSION_MAX_TTL_S) * 1000;
  }

  /** A refresh token's expiry: the sliding lifetime, capped by the session's absolute one. */
  private refreshExpiry(now: Date, sessionStart: Date): Date {
    return new Date(Math.min(now.getTime() + this.settings.refreshTokenTtlS * 1000, sessionStart.getTime() + this.sessionMaxMs));
  }

  /**
   * U18: a new single-use sign-in token for a live user of the team. `baseUrl` is this Roster's
   * external base URL (ROSTER_PUBLIC_URL, or the host the request came to): the token's `aud` is
   * the exchange endpoint under it.
   */
  async issueSignInToken(team: { teamId: string; mode: TeamMode }, userId: string, baseUrl: string): Promise<IssuedSignInToken> {
    await this.requireLiveUser(team.teamId, userId);
    const key = await this.keys.signingKey();
    const now = this.now();
    const iat = seconds(now);
    const exp = iat + this.settings.signInTokenTtlS;
    const jti = randomUUID();
    const iss = signInIssuer(team.mode, this.settings.region);
    const userToken = signRs256(
      { alg: 'RS256', typ: 'JWT', kid: key.record.kid },
      {
        iss,
        sub: iss,
        aud: tokenEndpoint(baseUrl),
        iat,
        exp,
        jti,
        uid: userId,
        tenant_id: team.teamId,
        claims: { vital_team_id: team.teamId },
      },
      key.privateKey,
    );
    const expiresAt = new Date(exp * 1000);
    await this.repo.insertSignInToken({ teamId: team.teamId, jti, userId, kid: key.record.kid, createdAt: now, expiresAt, usedAt: null, revokedAt: null });
    const signInToken = Buffer.from(JSON.stringify({ public_key: key.spki, user_token: userToken }), 'utf8').toString('base64');
    return { userId, signInToken, userToken, jti, kid: key.record.kid, expiresAt };
  }

  /**
   * Exchanges a sign-in token (the JWT, or the whole base64 token) for a new session. `baseUrl` is
   * this Roster's base as seen by the exchange request: the token's `aud` must name its endpoint.
   */
  async exchange(subjectToken: string, baseUrl: string): Promise<TokenSet> {
    const jwtText = userTokenOf(subjectToken);
    const jwt = jwtText ? decodeJwt(jwtText) : null;
    if (!jwt || jwt.header.alg !== 'RS256' || jwt.header.typ !== 'JWT' || typeof jwt.header.kid !== 'string') throw new AuthTokenError('malformed');
    const key = await this.keys.verificationKey(jwt.header.kid);
    if (!key || !verifyRs256(jwt, key.publicKey)) throw new AuthTokenError('bad_signature');

    const c = jwt.claims;
    const teamId = typeof c.tenant_id === 'string' ? parseUuid(c.tenant_id) : null;
    const userId = typeof c.uid === 'string' ? parseUuid(c.uid) : null;
    const jti = typeof c.jti === 'string' ? parseUuid(c.jti) : null;
    const inner = c.claims as { vital_team_id?: unknown } | undefined;
    if (!teamId || !userId || !jti || typeof c.exp !== 'number' || inner?.vital_team_id !== c.tenant_id) throw new AuthTokenError('malformed');
    // S4: the token names where it is exchanged (`aud`) and who issued it (`iss`, `sub`); both
    // must be this Roster's, for the token's team (its mode is checked under the row lock).
    if (c.aud !== tokenEndpoint(baseUrl) || typeof c.iss !== 'string' || c.sub !== c.iss) throw new AuthTokenError('bad_audience');

    const now = this.now();
    if (c.exp <= seconds(now)) throw new AuthTokenError('expired');

    const refreshToken = newRefreshToken(teamId);
    const decision = await this.repo.redeemSignInToken(teamId, jti, (t, owner): RedeemDecision => {
      if (!t || t.userId !== userId) return { ok: false, reason: 'unknown' };
      if (c.iss !== signInIssuer(owner.mode, this.settings.region)) return { ok: false, reason: 'bad_audience' };
      if (!owner.userLive || t.revokedAt) return { ok: false, reason: 'user_not_found' };
      if (t.usedAt) return { ok: false, reason: 'already_used' };
      if (t.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
      return {
        ok: true,
        usedAt: now,
        session: { id: newId(now.getTime()), createdAt: now },
        refresh: { hash: hashToken(refreshToken), createdAt: now, expiresAt: this.refreshExpiry(now, now) },
      };
    });
    if (!decision.ok) throw new AuthTokenError(decision.reason);
    return this.tokenSet(teamId, userId, decision.session.id, refreshToken, now, baseUrl);
  }

  /** Trades a refresh token for a new access token and a new refresh token (the old one stops working). */
  async refresh(refreshToken: string, baseUrl: string): Promise<TokenSet> {
    const parsed = parseRefreshToken(refreshToken.trim());
    if (!parsed) throw new AuthTokenError('malformed');
    const now = this.now();
    const next = newRefreshToken(parsed.teamId);
    const r = await this.repo.useRefreshToken(parsed.teamId, hashToken(refreshToken.trim()), (row, session, owner): RefreshDecision => {
      if (!row || !session) return { ok: false, reason: 'unknown' };
      if (!owner.userLive || session.revokedReason === 'user_deleted') return { ok: false, reason: 'user_not_found' };
      if (session.revokedAt) return { ok: false, reason: 'revoked' };
      if (row.rotatedAt) return { ok: false, reason: 'reused', revokeSession: { at: now, reason: 'refresh_token_reuse' } };
      const expiresAt = this.refreshExpiry(now, session.createdAt);
      // Past the session's absolute lifetime (S4) the token is expired whatever its own expiry says.
      if (row.expiresAt.getTime() <= now.getTime() || expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
      return { ok: true, rotatedAt: now, next: { hash: hashToken(next), createdAt: now, expiresAt } };
    });
    if (!r.ok) throw new AuthTokenError(r.reason);
    return this.tokenSet(parsed.teamId, r.userId!, r.sessionId!, next, now, baseUrl);
  }

  /** Checks an access token: signature, lifetime, and that its session and user are still alive. */
  async verifyAccessToken(token: string): Promise<AccessPrincipal> {
    const jwt = decodeJwt(token.trim());
    if (!jwt || jwt.header.alg !== 'RS256' || typeof jwt.header.kid !== 'string') throw new AuthTokenError('malformed');
    const key = await this.keys.verificationKey(jwt.header.kid);
    if (!key || !verifyRs256(jwt, key.publicKey)) throw new AuthTokenError('bad_signature');
    const c = jwt.claims;
    const teamId = typeof c.tenant_id === 'string' ? parseUuid(c.tenant_id) : null;
    const userId = typeof c.sub === 'string' ? parseUuid(c.sub) : null;
    const sessionId = typeof c.sid === 'string' ? parseUuid(c.sid) : null;
    if (!teamId || !userId || !sessionId || c.aud !== ACCESS_TOKEN_AUDIENCE || typeof c.exp !== 'number') throw new AuthTokenError('malformed');
    if (c.exp <= seconds(this.now())) throw new AuthTokenError('expired');
    const s = await this.repo.session(teamId, sessionId);
    if (!s || s.session.userId !== userId) throw new AuthTokenError('unknown');
    if (!s.owner.userLive || s.session.revokedReason === 'user_deleted') throw new AuthTokenError('user_not_found');
    if (s.session.revokedAt) throw new AuthTokenError('revoked');
    return { teamId, userId, sessionId, mode: s.owner.mode };
  }

  /**
   * Ends every session of the user (its refresh and access tokens stop working at once) and revokes
   * its unused sign-in tokens. The user stays; a new sign-in token starts a new session.
   */
  async endSessions(teamId: string, userId: string): Promise<{ sessions: number; signInTokens: number }> {
    const r = await this.repo.endSessions(teamId, userId, this.now());
    if (!r) throw new DomainError('user_not_found', 'User not found');
    return r;
  }

  /** Public keys that verify tokens (every key that is not retired), as a JWK Set. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    const keys = await this.keys.all();
    return {
      keys: keys.map((k) => {
        const j = k.publicKey.export({ format: 'jwk' }) as { n: string; e: string };
        return { kty: 'RSA' as const, n: j.n, e: j.e, kid: k.record.kid, alg: 'RS256' as const, use: 'sig' as const };
      }),
    };
  }

  /** The grace period a rotation gives by default: the longest lifetime of a signed token. */
  get defaultRotationGraceS(): number {
    return Math.max(this.settings.signInTokenTtlS, this.settings.accessTokenTtlS);
  }

  /**
   * S2: a new key, and every older key retires after `graceS` seconds. The new key verifies at once
   * and signs once every instance has loaded it (after the key cache time); tokens signed with an
   * older key keep verifying through the grace period. `graceS` 0 drops the old keys at once (a
   * compromised key): the new key then signs immediately.
   */
  async rotateSigningKey(graceS = this.defaultRotationGraceS): Promise<{ kid: string; retiring: string[]; retireAt: Date }> {
    if (!Number.isFinite(graceS) || graceS < 0) throw new DomainError('validation_failed', 'grace must be a number of seconds, 0 or more');
    const now = this.now();
    const k = await generateSigningKey(now);
    const retireAt = new Date(now.getTime() + graceS * 1000);
    const retiring = await this.repo.rotateSigningKey(k, retireAt);
    this.keys.invalidate();
    return { kid: k.kid, retiring, retireAt };
  }

  /** Tokens signed with this key stop verifying. */
  async retireSigningKey(kid: string): Promise<boolean> {
    const ok = await this.repo.retireSigningKey(kid, this.now());
    this.keys.invalidate();
    return ok;
  }

  async listSigningKeys(): Promise<{ kid: string; createdAt: Date; retiredAt: Date | null }[]> {
    return (await this.repo.allSigningKeys()).map((k) => ({ kid: k.kid, createdAt: k.createdAt, retiredAt: k.retiredAt }));
  }

  /** Removes tokens that expired more than a day ago (and sessions left without any). */
  purgeExpired(): Promise<number> {
    return this.repo.purge(new Date(this.now().getTime() - 86_400_000));
  }

  private async tokenSet(teamId: string, userId: string, sessionId: string, refreshToken: string, now: Date, baseUrl: string): Promise<TokenSet> {
    const key = await this.keys.signingKey();
    const iat = seconds(now);
    const accessToken = signRs256(
      { alg: 'RS256', typ: 'JWT', kid: key.record.kid },
      {
        iss: accessIssuer(baseUrl),
        aud: ACCESS_TOKEN_AUDIENCE,
        sub: userId,
        uid: userId,
        user_id: userId,
        tenant_id: teamId,
        claims: { vital_team_id: teamId },
        sid: sessionId,
        iat,
        exp: iat + this.settings.accessTokenTtlS,
      },
      key.privateKey,
    );
    return { accessToken, refreshToken, expiresIn: this.settings.accessTokenTtlS, teamId, userId, sessionId };
  }
}
