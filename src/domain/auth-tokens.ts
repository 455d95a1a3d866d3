// Mobile SDK sign-in: the rules for sign-in tokens, their exchange for a session, refresh-token
// rotation and access tokens. Wire shapes live in the faces; storage behind AuthTokensRepo.
// Design and the iOS SDK's expectations: docs/sign-in-tokens.md.
//
// Rules:
// - A sign-in token is a JWT (RS256, `kid`) naming one live user of one team; it expires after the
//   sign-in TTL and can be exchanged once.
// - An exchange starts a session: an access token (JWT, access TTL) and a refresh token (opaque,
//   refresh TTL, sliding). Each refresh rotates the refresh token; presenting a rotated one again
//   ends the whole session (reuse detection).
// - Once the user is deleted every token of the user is useless, and an undo does not revive them
//   (the database revokes them in the delete's own transaction; see 0004_auth_tokens.sql). Use
//   also checks that the user is live, for tokens issued while a delete was committing.
import { createHash, createPrivateKey, createPublicKey, generateKeyPair, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { b64url, decodeJwt, rsaThumbprint, signRs256, verifyRs256 } from './jwt.ts';
import { newId, parseUuid } from './ids.ts';
import type { TeamMode } from './users/model.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

// ---------- settings ----------

export type SdkRegion = 'us' | 'eu';
export type { TeamMode };

export interface AuthTokenSettings {
  /** Lifetime of a sign-in token (ROSTER_SIGN_IN_TOKEN_TTL_S). */
  signInTokenTtlS: number;
  /** Lifetime of an access token (ROSTER_ACCESS_TOKEN_TTL_S). */
  accessTokenTtlS: number;
  /** Lifetime of a refresh token, renewed by each refresh (ROSTER_REFRESH_TOKEN_TTL_S). */
  refreshTokenTtlS: number;
  /** Region the iOS SDK reads from `iss` (ROSTER_SIGN_IN_REGION). */
  region: SdkRegion;
  /**
   * How long signing keys are cached per instance (ms; default 60 s). Also how long a new key
   * waits before it signs. Tests shorten it.
   */
  keyCacheMs?: number;
}

export const DEFAULT_AUTH_TOKEN_SETTINGS: AuthTokenSettings = {
  signInTokenTtlS: 3600,
  accessTokenTtlS: 3600,
  refreshTokenTtlS: 90 * 86_400,
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

// ---------- records and repository ----------

export interface SigningKeyRecord {
  kid: string;
  algorithm: 'RS256';
  publicKeyPem: string;
  privateKeyPem: string;
  createdAt: Date;
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

/** What the domain decides after looking at a locked sign-in token row. */
export type RedeemDecision =
  | { ok: true; usedAt: Date; session: { id: string; createdAt: Date }; refresh: NewRefreshToken }
  | { ok: false; reason: AuthFailure };

/** What the domain decides after looking at a locked refresh token row. */
export type RefreshDecision =
  | { ok: true; rotatedAt: Date; next: NewRefreshToken }
  | { ok: false; reason: AuthFailure; revokeSession?: { at: Date; reason: SessionRevokedReason } };

/** Storage as these rules need it; src/store/auth-tokens.ts implements it. */
export interface AuthTokensRepo {
  /** Keys that are not retired, newest first. */
  activeSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Every key, retired or not, newest first. */
  allSigningKeys(): Promise<SigningKeyRecord[]>;
  /**
   * The newest key that is not retired; when there is none, `make()` is called and its key stored,
   * once across all instances (advisory lock), and that key returned.
   */
  ensureSigningKey(make: () => Promise<SigningKeyRecord>): Promise<SigningKeyRecord>;
  insertSigningKey(key: SigningKeyRecord): Promise<void>;
  /** Sets retired_at; false when the key is unknown or already retired. */
  retireSigningKey(kid: string, at: Date): Promise<boolean>;
  insertSignInToken(t: SignInTokenRecord): Promise<void>;
  /**
   * Locks the sign-in token row, hands it (or null) and whether its user is live to `decide`, and
   * applies the decision in the same transaction: marks it used and starts the session with its
   * first refresh token. Returns the decision.
   */
  redeemSignInToken(teamId: string, jti: string, decide: (t: SignInTokenRecord | null, userLive: boolean) => RedeemDecision): Promise<RedeemDecision>;
  /**
   * Locks the refresh token row, hands it with its session and whether the user is live to
   * `decide`, and applies the decision in the same transaction (rotate, or revoke the session).
   */
  useRefreshToken(teamId: string, hash: Buffer, decide: (r: RefreshTokenRecord | null, s: SessionRecord | null, userLive: boolean) => RefreshDecision): Promise<RefreshDecision & { sessionId?: string; userId?: string }>;
  /** The session and whether its user is live. */
  session(teamId: string, sessionId: string): Promise<{ session: SessionRecord; userLive: boolean } | null>;
  /** Deletes sign-in tokens and refresh tokens that expired before `before`, and sessions left empty. */
  purge(before: Date): Promise<number>;
}

// ---------- errors ----------

/**
 * Why a token was refused. Faces answer every one of them as `invalid_token`; the reason picks the
 * finer code the iOS SDK reacts to (user gone → sign out; otherwise → re-authenticate).
 */
export type AuthFailure =
  | 'malformed'        // not a token of ours at all
  | 'bad_signature'    // unknown kid, retired key or signature mismatch
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
}

export interface PublicJwk {
  kty: 'RSA';
  n: string;
  e: string;
  kid: string;
  alg: 'RS256';
  use: 'sig';
}

// ---------- keys ----------

interface LoadedKey {
  record: SigningKeyRecord;
  publicKey: KeyObject;
  privateKey: KeyObject;
  /** base64url of the DER SubjectPublicKeyInfo: the sign-in token's `public_key`. */
  spki: string;
}

function loadKey(record: SigningKeyRecord): LoadedKey {
  const publicKey = createPublicKey(record.publicKeyPem);
  return {
    record,
    publicKey,
    privateKey: createPrivateKey(record.privateKeyPem),
    spki: b64url(publicKey.export({ format: 'der', type: 'spki' })),
  };
}

/** A new RS256 key (RSA 2048); its kid is the RFC 7638 thumbprint. */
export async function generateSigningKey(now: Date): Promise<SigningKeyRecord> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return {
    kid: rsaThumbprint(publicKey),
    algorithm: 'RS256',
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    createdAt: now,
    retiredAt: null,
  };
}

/**
 * Keys cached per instance, reloaded after `ttlMs` so rotation and retirement reach every instance.
 *
 * Rotation is two-phase so no instance ever meets a token signed with a key it has not loaded: a
 * new key verifies at once but only starts signing once it is `ttlMs` old (every instance's cache
 * has picked it up by then). The first key ever, or the only key left after a retirement, signs at
 * once; while no key is that old, the oldest signs.
 */
class KeyRing {
  private keys = new Map<string, LoadedKey>();
  /** Not retired, newest first. */
  private ordered: LoadedKey[] = [];
  private loadedAt = -Infinity;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly repo: AuthTokensRepo,
    private readonly now: () => Date,
    private readonly ttlMs = 60_000,
    private readonly missReloadMs = 1_000,
  ) {}

  private async reload(): Promise<void> {
    if (!this.loading) {
      this.loading = (async () => {
        try {
          const active = await this.repo.activeSigningKeys();
          const next = new Map<string, LoadedKey>();
          for (const r of active) next.set(r.kid, this.keys.get(r.kid) ?? loadKey(r));
          this.keys = next;
          this.ordered = active.map((r) => next.get(r.kid)!);
          this.loadedAt = Date.now();
        } finally {
          this.loading = null;
        }
      })();
    }
    return this.loading;
  }

  private stale(): boolean {
    return Date.now() - this.loadedAt > this.ttlMs;
  }

  private pickSigner(): LoadedKey | null {
    const activeFrom = this.now().getTime() - this.ttlMs;
    // The newest key every instance has had time to load; failing that, the longest known one.
    return this.ordered.find((k) => k.record.createdAt.getTime() <= activeFrom) ?? this.ordered[this.ordered.length - 1] ?? null;
  }

  async signingKey(): Promise<LoadedKey> {
    if (this.ordered.length === 0 || this.stale()) await this.reload();
    if (this.ordered.length === 0) {
      await this.repo.ensureSigningKey(() => generateSigningKey(this.now()));
      await this.reload();
    }
    const k = this.pickSigner();
    if (!k) throw new Error('no signing key after ensureSigningKey');
    return k;
  }

  /** The key for `kid` if it exists and is not retired. */
  async verificationKey(kid: string): Promise<LoadedKey | null> {
    if (this.stale()) await this.reload();
    let k = this.keys.get(kid);
    // Unknown kid: look again (the first key may have just been made on another instance), but
    // not more than once a second once keys are known, so made-up kids cannot each cost a query.
    if (!k && (this.ordered.length === 0 || Date.now() - this.loadedAt > this.missReloadMs)) {
      await this.reload();
      k = this.keys.get(kid);
    }
    return k ?? null;
  }

  async all(): Promise<LoadedKey[]> {
    if (this.stale()) await this.reload();
    return [...this.ordered];
  }

  invalidate(): void {
    this.loadedAt = -Infinity;
  }
}

// ---------- token formats ----------

const REFRESH_PREFIX = 'rt1';
const REFRESH_RE = /^rt1\.([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;
/** The audience of access tokens. */
export const ACCESS_TOKEN_AUDIENCE = 'roster';

const hashToken = (t: string): Buffer => createHash('sha256').update(t, 'utf8').digest();

/**
 * Refresh tokens carry their team (so the row is found by (team_id, hash), like every tenant row)
 * and 256 random bits. Characters are [0-9a-zA-Z._-]: the iOS SDK puts the token in a form body
 * escaping only what `.urlQueryAllowed` escapes, so `+`, `&` and `=` must never appear.
 */
function newRefreshToken(teamId: string): string {
  return `${REFRESH_PREFIX}.${teamId.replace(/-/g, '')}.${b64url(randomBytes(32))}`;
}

function parseRefreshToken(t: string): { teamId: string } | null {
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

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);
const trimSlash = (u: string): string => u.replace(/\/+$/, '');

/** Where the exchange and refresh are served: `{base}/auth/v1/token` (the sign-in token's `aud`). */
export const tokenEndpoint = (baseUrl: string): string => `${trimSlash(baseUrl)}/auth/v1/token`;
/** `iss` of access tokens: `{base}/auth`. */
export const accessIssuer = (baseUrl: string): string => `${trimSlash(baseUrl)}/auth`;

// ---------- service ----------

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

  /** Exchanges a sign-in token (the JWT, or the whole base64 token) for a new session. */
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

    const now = this.now();
    if (c.exp <= seconds(now)) throw new AuthTokenError('expired');

    const refreshToken = newRefreshToken(teamId);
    const decision = await this.repo.redeemSignInToken(teamId, jti, (t, userLive): RedeemDecision => {
      if (!t || t.userId !== userId) return { ok: false, reason: 'unknown' };
      if (!userLive || t.revokedAt) return { ok: false, reason: 'user_not_found' };
      if (t.usedAt) return { ok: false, reason: 'already_used' };
      if (t.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
      return {
        ok: true,
        usedAt: now,
        session: { id: newId(now.getTime()), createdAt: now },
        refresh: { hash: hashToken(refreshToken), createdAt: now, expiresAt: new Date(now.getTime() + this.settings.refreshTokenTtlS * 1000) },
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
    const r = await this.repo.useRefreshToken(parsed.teamId, hashToken(refreshToken.trim()), (row, session, userLive): RefreshDecision => {
      if (!row || !session) return { ok: false, reason: 'unknown' };
      if (!userLive || session.revokedReason === 'user_deleted') return { ok: false, reason: 'user_not_found' };
      if (session.revokedAt) return { ok: false, reason: 'revoked' };
      if (row.rotatedAt) return { ok: false, reason: 'reused', revokeSession: { at: now, reason: 'refresh_token_reuse' } };
      if (row.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
      return { ok: true, rotatedAt: now, next: { hash: hashToken(next), createdAt: now, expiresAt: new Date(now.getTime() + this.settings.refreshTokenTtlS * 1000) } };
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
    if (!s.userLive || s.session.revokedReason === 'user_deleted') throw new AuthTokenError('user_not_found');
    if (s.session.revokedAt) throw new AuthTokenError('revoked');
    return { teamId, userId, sessionId };
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

  /**
   * Rotation step 1: a new key. It verifies at once and signs once every instance has loaded it
   * (after the key cache time); older keys keep verifying until retired (step 2, after the longest
   * token lifetime you want to honour). To drop a compromised key at once, rotate then retire it:
   * the new key then signs immediately.
   */
  async rotateSigningKey(): Promise<{ kid: string }> {
    const k = await generateSigningKey(this.now());
    await this.repo.insertSigningKey(k);
    this.keys.invalidate();
    return { kid: k.kid };
  }

  /** Rotation step 2: tokens signed with this key stop verifying. */
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
