// Sign-in token rules (src/domain/auth-tokens.ts) with an in-memory repo and a hand-driven clock:
// issue, exchange once, refresh with rotation and reuse detection, expiry, deletion, key rotation.
// The token shapes are checked the way Junction's iOS SDK reads them (VitalJWTAuth.swift).
import { describe, test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import {
  AuthTokensService,
  AuthTokenError,
  DEFAULT_AUTH_TOKEN_SETTINGS,
  SDK_ISSUER_RE,
  signInIssuer,
  userTokenOf,
  type AuthTokensRepo, type Owner,
  type RedeemDecision,
  type RefreshDecision,
  type RefreshTokenRecord,
  type SessionRecord,
  type SignInTokenRecord,
  type SigningKeyRecord,
  type AuthFailure,
} from '../../src/domain/auth-tokens/index.ts';
import { decodeJwt, sdkSafeJson, b64url } from '../../src/domain/jwt.ts';
import { DomainError } from '../../src/domain/errors.ts';

const TEAM = '0190a3b0-0000-7000-8000-0000000000aa';
const OTHER_TEAM = '0190a3b0-0000-7000-8000-0000000000bb';
const USER = '0190a3b0-0000-7000-8000-000000000001';
const BASE = 'https://roster.example.org';

/** Mirrors the database: row locks are implicit (single thread); deleteUser acts like the trigger. */
class MemRepo implements AuthTokensRepo {
  keys: SigningKeyRecord[] = [];
  signIn = new Map<string, SignInTokenRecord>();
  sessions = new Map<string, SessionRecord>();
  refresh = new Map<string, RefreshTokenRecord>();
  deleted = new Set<string>();
  ensureCalls = 0;

  mode: 'sandbox' | 'production' = 'sandbox';

  private live(teamId: string, userId: string) {
    return !this.deleted.has(`${teamId}/${userId}`);
  }

  private owner(teamId: string, userId: string): Owner {
    return { userLive: this.live(teamId, userId), mode: this.mode };
  }

  deleteUser(teamId: string, userId: string, at: Date) {
    this.deleted.add(`${teamId}/${userId}`);
    for (const s of this.sessions.values()) if (s.teamId === teamId && s.userId === userId && !s.revokedAt) { s.revokedAt = at; s.revokedReason = 'user_deleted'; }
    for (const t of this.signIn.values()) if (t.teamId === teamId && t.userId === userId && !t.revokedAt && !t.usedAt) t.revokedAt = at;
  }

  undelete(teamId: string, userId: string) {
    this.deleted.delete(`${teamId}/${userId}`);
  }

  async activeSigningKeys(now: Date = new Date(8.64e15)) {
    return this.keys.filter((k) => !k.retiredAt || k.retiredAt > now).sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }
  async allSigningKeys() {
    return [...this.keys].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  }
  async ensureSigningKey(make: () => Promise<SigningKeyRecord>) {
    this.ensureCalls++;
    const [k] = await this.activeSigningKeys();
    if (k) return k;
    const n = await make();
    this.keys.push(n);
    return n;
  }
  async insertSigningKey(k: SigningKeyRecord) {
    this.keys.push(k);
  }
  async rotateSigningKey(k: SigningKeyRecord, at: Date) {
    const retiring = this.keys.filter((x) => !x.retiredAt || x.retiredAt > at);
    for (const x of retiring) x.retiredAt = at;
    this.keys.push(k);
    return retiring.map((x) => x.kid);
  }
  async endSessions(teamId: string, userId: string, at: Date) {
    let sessions = 0;
    let signInTokens = 0;
    for (const s of this.sessions.values()) if (s.teamId === teamId && s.userId === userId && !s.revokedAt) { s.revokedAt = at; s.revokedReason = 'revoked'; sessions++; }
    for (const t of this.signIn.values()) if (t.teamId === teamId && t.userId === userId && !t.revokedAt && !t.usedAt) { t.revokedAt = at; signInTokens++; }
    return { sessions, signInTokens };
  }
  async retireSigningKey(kid: string, at: Date) {
    const k = this.keys.find((x) => x.kid === kid && (!x.retiredAt || x.retiredAt > at));
    if (!k) return false;
    k.retiredAt = at;
    return true;
  }
  async insertSignInToken(t: SignInTokenRecord) {
    this.signIn.set(`${t.teamId}/${t.jti}`, { ...t });
  }
  async redeemSignInToken(teamId: string, jti: string, decide: (t: SignInTokenRecord | null, o: Owner) => RedeemDecision) {
    const t = this.signIn.get(`${teamId}/${jti}`) ?? null;
    const d = decide(t ? { ...t } : null, t ? this.owner(teamId, t.userId) : { userLive: false, mode: this.mode });
    if (d.ok && t) {
      t.usedAt = d.usedAt;
      this.sessions.set(`${teamId}/${d.session.id}`, { teamId, id: d.session.id, userId: t.userId, createdAt: d.session.createdAt, revokedAt: null, revokedReason: null });
      this.refresh.set(`${teamId}/${d.refresh.hash.toString('hex')}`, { teamId, hash: d.refresh.hash, sessionId: d.session.id, userId: t.userId, createdAt: d.refresh.createdAt, expiresAt: d.refresh.expiresAt, rotatedAt: null });
    }
    return d;
  }
  async useRefreshToken(teamId: string, hash: Buffer, decide: (r: RefreshTokenRecord | null, s: SessionRecord | null, o: Owner) => RefreshDecision) {
    const r = this.refresh.get(`${teamId}/${hash.toString('hex')}`) ?? null;
    const s = r ? this.sessions.get(`${teamId}/${r.sessionId}`) ?? null : null;
    const d = decide(r ? { ...r } : null, s ? { ...s } : null, r ? this.owner(teamId, r.userId) : { userLive: false, mode: this.mode });
    if (!r || !s) return d;
    if (!d.ok) {
      if (d.revokeSession && !s.revokedAt) { s.revokedAt = d.revokeSession.at; s.revokedReason = d.revokeSession.reason; }
      return d;
    }
    r.rotatedAt = d.rotatedAt;
    this.refresh.set(`${teamId}/${d.next.hash.toString('hex')}`, { teamId, hash: d.next.hash, sessionId: r.sessionId, userId: r.userId, createdAt: d.next.createdAt, expiresAt: d.next.expiresAt, rotatedAt: null });
    return { ...d, sessionId: r.sessionId, userId: r.userId };
  }
  async session(teamId: string, sessionId: string) {
    const s = this.sessions.get(`${teamId}/${sessionId}`);
    return s ? { session: { ...s }, owner: this.owner(teamId, s.userId) } : null;
  }
  async purge(before: Date) {
    let n = 0;
    for (const [k, t] of this.signIn) if (t.expiresAt < before) { this.signIn.delete(k); n++; }
    for (const [k, r] of this.refresh) if (r.expiresAt < before) { this.refresh.delete(k); n++; }
    return n;
  }
}

class Clock {
  t = new Date('2026-11-24T10:00:00Z').getTime();
  now = () => new Date(this.t);
  advance(s: number) { this.t += s * 1000; }
}

async function rejects(p: Promise<unknown>, reason: AuthFailure) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AuthTokenError, `expected AuthTokenError, got ${String(e)}`);
    assert.equal(e.reason, reason);
    return true;
  });
}

/** Reads a sign-in token the way the iOS SDK does (VitalSignInToken.decode + unverifiedClaims). */
function sdkDecode(signInToken: string) {
  assert.match(signInToken, /^[A-Za-z0-9+/]*={0,2}$/, 'standard base64 (Data(base64Encoded:))');
  assert.equal(signInToken.length % 4, 0, 'padded');
  const outer = JSON.parse(Buffer.from(signInToken, 'base64').toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(outer).sort(), ['public_key', 'user_token']);
  const userToken = outer.user_token as string;
  const parts = userToken.split('.');
  assert.equal(parts.length, 3);
  for (const seg of parts.slice(0, 2)) assert.match(seg, /^[A-Za-z0-9+/]+$/, 'header and claims decode with a standard-base64 decoder');
  const pad = (s: string) => s + '='.repeat((4 - (s.length % 4)) % 4);
  const header = JSON.parse(Buffer.from(pad(parts[0]!), 'base64').toString('utf8')) as Record<string, unknown>;
  for (const v of Object.values(header)) assert.equal(typeof v, 'string', 'the SDK decodes the header as [String: String]');
  const claims = JSON.parse(Buffer.from(pad(parts[1]!), 'base64').toString('utf8')) as Record<string, any>;
  return { publicKey: outer.public_key as string, userToken, header, claims };
}

describe('AuthTokensService', () => {
  let repo: MemRepo;
  let clock: Clock;
  let svc: AuthTokensService;
  const live = new Set<string>([`${TEAM}/${USER}`]);

  beforeEach(() => {
    repo = new MemRepo();
    clock = new Clock();
    svc = new AuthTokensService({
      repo,
      settings: { ...DEFAULT_AUTH_TOKEN_SETTINGS, signInTokenTtlS: 600, accessTokenTtlS: 300, refreshTokenTtlS: 3600 },
      requireLiveUser: async (teamId, userId) => {
        if (!live.has(`${teamId}/${userId}`) || repo['deleted'].has(`${teamId}/${userId}`)) throw new DomainError('user_not_found', 'User not found');
      },
      now: clock.now,
    });
  });

  test('issues a sign-in token in the shape the iOS SDK decodes', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const { publicKey, userToken, header, claims } = sdkDecode(t.signInToken);
    assert.equal(userToken, t.userToken);
    assert.deepEqual(header, { alg: 'RS256', typ: 'JWT', kid: t.kid });
    assert.equal(claims.uid, USER);
    assert.equal(claims.tenant_id, TEAM);
    assert.deepEqual(claims.claims, { vital_team_id: TEAM });
    assert.equal(claims.iss, 'id-signer-sandbox-us@vital-id-sandbox-us.iam.gserviceaccount.com');
    assert.match(claims.iss, SDK_ISSUER_RE);
    assert.equal(claims.sub, claims.iss);
    assert.equal(claims.aud, `${BASE}/auth/v1/token`);
    assert.equal(claims.exp - claims.iat, 600);
    assert.equal(claims.jti, t.jti);
    assert.equal(t.expiresAt.getTime(), claims.exp * 1000);
    // The public_key verifies the JWT.
    const key = createPublicKey({ key: Buffer.from(publicKey, 'base64url'), format: 'der', type: 'spki' });
    const [h, p, s] = userToken.split('.');
    assert.ok(cryptoVerify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, Buffer.from(s!, 'base64url')));
    // ...and it is the key the JWKS lists under that kid.
    const jwks = await svc.jwks();
    assert.deepEqual(jwks.keys.map((k) => k.kid), [t.kid]);
  });

  test('the issuer carries the team mode and the configured region', () => {
    assert.equal(signInIssuer('production', 'eu'), 'id-signer-production-eu@vital-id-production-eu.iam.gserviceaccount.com');
    for (const mode of ['sandbox', 'production'] as const) {
      for (const region of ['us', 'eu'] as const) {
        const m = SDK_ISSUER_RE.exec(signInIssuer(mode, region));
        assert.deepEqual([m?.[1], m?.[2]], [mode, region]);
      }
    }
  });

  test('the first key is made once and then reused', async () => {
    await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    assert.equal(repo.keys.length, 1);
    assert.equal(repo.ensureCalls, 1);
  });

  test('a user that is not live gets no token (the users rule decides the error)', async () => {
    await assert.rejects(svc.issueSignInToken({ teamId: OTHER_TEAM, mode: 'sandbox' }, USER, BASE), (e: unknown) => e instanceof DomainError && e.code === 'user_not_found');
    assert.equal(repo.signIn.size, 0);
  });

  test('exchange once: access + refresh tokens; the second exchange is refused', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const set = await svc.exchange(t.userToken, BASE);
    assert.equal(set.userId, USER);
    assert.equal(set.teamId, TEAM);
    assert.equal(set.expiresIn, 300);
    assert.match(set.refreshToken, /^rt1\.[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/);
    const access = decodeJwt(set.accessToken)!;
    assert.equal(access.header.kid, t.kid);
    assert.equal(access.claims.sub, USER);
    assert.equal(access.claims.tenant_id, TEAM);
    assert.equal(access.claims.iss, `${BASE}/auth`);
    assert.equal(access.claims.aud, 'roster');
    assert.deepEqual(await svc.verifyAccessToken(set.accessToken), { teamId: TEAM, userId: USER, sessionId: set.sessionId, mode: 'sandbox' });
    await rejects(svc.exchange(t.userToken, BASE), 'already_used');
    await rejects(svc.exchange(t.signInToken, BASE), 'already_used');
  });

  test('the whole base64 sign-in token is accepted as the subject too', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    assert.equal(userTokenOf(t.signInToken), t.userToken);
    assert.equal((await svc.exchange(t.signInToken, BASE)).userId, USER);
  });

  test('an expired sign-in token is refused', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    clock.advance(600);
    await rejects(svc.exchange(t.userToken, BASE), 'expired');
    assert.equal(repo.signIn.get(`${TEAM}/${t.jti}`)!.usedAt, null);
  });

  test('tampering is refused: signature, claims, header', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const [h, p, s] = t.userToken.split('.') as [string, string, string];
    const flipped = s.slice(0, 10) + (s[10] === 'A' ? 'B' : 'A') + s.slice(11);
    await rejects(svc.exchange(`${h}.${p}.${flipped}`, BASE), 'bad_signature');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const forged = b64url(sdkSafeJson({ ...claims, uid: '0190a3b0-0000-7000-8000-000000000002' }));
    await rejects(svc.exchange(`${h}.${forged}.${s}`, BASE), 'bad_signature');
    const noneAlg = b64url(JSON.stringify({ alg: 'none', typ: 'JWT', kid: t.kid }));
    await rejects(svc.exchange(`${noneAlg}.${p}.${s}`, BASE), 'malformed');
    const otherKid = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'nope' }));
    await rejects(svc.exchange(`${otherKid}.${p}.${s}`, BASE), 'bad_signature');
    // Still usable afterwards: nothing above consumed it.
    assert.equal((await svc.exchange(t.userToken, BASE)).userId, USER);
  });

  test('garbage is malformed, never a crash', async () => {
    for (const g of ['', 'x', 'a.b.c', '...', 'e30.e30.e30', Buffer.from('{"user_token": 5}').toString('base64'), Buffer.from('not json').toString('base64'), 'é'.repeat(50), 'a'.repeat(20_000)]) {
      await assert.rejects(svc.exchange(g, BASE), (e: unknown) => e instanceof AuthTokenError && (e.reason === 'malformed' || e.reason === 'bad_signature'), g.slice(0, 20));
    }
    for (const g of ['', 'rt1', 'rt1.x.y', `rt1.${'0'.repeat(32)}.${'A'.repeat(43)}`]) {
      await assert.rejects(svc.refresh(g, BASE), (e: unknown) => e instanceof AuthTokenError && (e.reason === 'malformed' || e.reason === 'unknown'), g);
    }
  });

  test('refresh rotates; the old token is refused and its reuse ends the session', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const first = await svc.exchange(t.userToken, BASE);
    clock.advance(10);
    const second = await svc.refresh(first.refreshToken, BASE);
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal(second.sessionId, first.sessionId);
    const third = await svc.refresh(second.refreshToken, BASE);
    await rejects(svc.refresh(first.refreshToken, BASE), 'reused');
    // Reuse ended the session: the newest refresh token and the access tokens stop working too.
    await rejects(svc.refresh(third.refreshToken, BASE), 'revoked');
    await rejects(svc.verifyAccessToken(third.accessToken), 'revoked');
  });

  test('refresh tokens expire (sliding: each refresh renews the lifetime)', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    let set = await svc.exchange(t.userToken, BASE);
    clock.advance(3000);
    set = await svc.refresh(set.refreshToken, BASE);
    clock.advance(3000);
    set = await svc.refresh(set.refreshToken, BASE);
    clock.advance(3600);
    await rejects(svc.refresh(set.refreshToken, BASE), 'expired');
  });

  test('access tokens expire', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const set = await svc.exchange(t.userToken, BASE);
    clock.advance(299);
    await svc.verifyAccessToken(set.accessToken);
    clock.advance(1);
    await rejects(svc.verifyAccessToken(set.accessToken), 'expired');
  });

  test('deleting the user makes every token useless, and an undo does not revive them', async () => {
    const a = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const b = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const set = await svc.exchange(a.userToken, BASE);
    repo.deleteUser(TEAM, USER, clock.now());
    await rejects(svc.refresh(set.refreshToken, BASE), 'user_not_found');
    await rejects(svc.exchange(b.userToken, BASE), 'user_not_found');
    await rejects(svc.verifyAccessToken(set.accessToken), 'user_not_found');
    repo.undelete(TEAM, USER);
    await rejects(svc.refresh(set.refreshToken, BASE), 'user_not_found');
    await rejects(svc.exchange(b.userToken, BASE), 'user_not_found');
    await rejects(svc.verifyAccessToken(set.accessToken), 'user_not_found');
    // A new token after the undo works.
    const c = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    assert.equal((await svc.exchange(c.userToken, BASE)).userId, USER);
  });

  test('a token issued while the delete commits (row not revoked) is still refused: the user is checked at use', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    repo.deleted.add(`${TEAM}/${USER}`); // deleted, but the trigger's revocation "missed" this row
    await rejects(svc.exchange(t.userToken, BASE), 'user_not_found');
  });

  test('key rotation: the new key signs, the old keeps verifying until retired', async () => {
    const before = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const oldPending = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const oldLater = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const oldSet = await svc.exchange(before.userToken, BASE);
    clock.advance(1);
    const { kid } = await svc.rotateSigningKey();
    assert.notEqual(kid, before.kid);
    // The new key verifies at once but signs only after the key cache time (60 s by default), so
    // no instance meets a token signed with a key it has not loaded yet.
    assert.equal((await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE)).kid, before.kid);
    clock.advance(60);
    const after = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    assert.equal(after.kid, kid);
    assert.equal(decodeJwt((await svc.exchange(after.userToken, BASE)).accessToken)!.header.kid, kid);
    assert.deepEqual((await svc.jwks()).keys.map((k) => k.kid).sort(), [before.kid, kid].sort());
    // Tokens signed with the old key keep working while it is not retired.
    await svc.verifyAccessToken(oldSet.accessToken);
    assert.equal(oldPending.kid, before.kid);
    assert.equal((await svc.exchange(oldPending.userToken, BASE)).userId, USER);
    // Retired: they stop verifying.
    assert.ok(await svc.retireSigningKey(before.kid));
    assert.equal(await svc.retireSigningKey(before.kid), false);
    await rejects(svc.verifyAccessToken(oldSet.accessToken), 'bad_signature');
    await rejects(svc.exchange(oldLater.userToken, BASE), 'bad_signature');
    assert.deepEqual((await svc.jwks()).keys.map((k) => k.kid), [kid]);
    assert.deepEqual((await svc.listSigningKeys()).map((k) => [k.kid, k.retiredAt !== null]), [[kid, false], [before.kid, true]]);
  });

  test('emergency rotation: rotate, then retire the old key, and the new key signs at once', async () => {
    const before = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const { kid } = await svc.rotateSigningKey();
    await svc.retireSigningKey(before.kid);
    assert.equal((await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE)).kid, kid);
    await rejects(svc.exchange(before.userToken, BASE), 'bad_signature');
  });

  test('S4: a sign-in token is exchanged only at the endpoint its aud names, with its team\'s issuer', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    await rejects(svc.exchange(t.userToken, 'https://elsewhere.example'), 'bad_audience');
    // A token naming the production issuer for a sandbox team (the team's mode changed, or the
    // token was made for another deployment) is refused too.
    repo.mode = 'production';
    await rejects(svc.exchange(t.userToken, BASE), 'bad_audience');
    repo.mode = 'sandbox';
    // Nothing above consumed it.
    assert.equal((await svc.exchange(t.userToken, BASE)).userId, USER);
  });

  test('S4: a session has an absolute lifetime, however often it is refreshed', async () => {
    const capped = new AuthTokensService({
      repo, now: clock.now, requireLiveUser: async () => undefined,
      settings: { ...DEFAULT_AUTH_TOKEN_SETTINGS, refreshTokenTtlS: 3600, sessionMaxTtlS: 3 * 3600 },
    });
    const t = await capped.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    let set = await capped.exchange(t.userToken, BASE);
    for (let i = 0; i < 3; i++) {
      clock.advance(3000);
      set = await capped.refresh(set.refreshToken, BASE);
    }
    // 9000 s in: the sliding expiry would run to 12600 s, the session ends at 10800 s.
    clock.advance(1700);
    set = await capped.refresh(set.refreshToken, BASE);
    clock.advance(110);
    await rejects(capped.refresh(set.refreshToken, BASE), 'expired');
  });

  test('S4: ending a user\'s sessions refuses its refresh and access tokens and unused sign-in tokens', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const unused = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const set = await svc.exchange(t.userToken, BASE);
    assert.deepEqual(await svc.endSessions(TEAM, USER), { sessions: 1, signInTokens: 1 });
    await rejects(svc.refresh(set.refreshToken, BASE), 'revoked');
    await rejects(svc.verifyAccessToken(set.accessToken), 'revoked');
    await rejects(svc.exchange(unused.userToken, BASE), 'user_not_found');
    // A new sign-in starts a new session.
    const again = await svc.exchange((await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE)).userToken, BASE);
    await svc.verifyAccessToken(again.accessToken);
  });

  test('S2: rotation with a grace period: old tokens verify until it ends, then stop', async () => {
    const old = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    const oldSet = await svc.exchange(old.userToken, BASE);
    const { kid, retiring } = await svc.rotateSigningKey(120);
    assert.deepEqual(retiring, [old.kid]);
    clock.advance(61);
    assert.equal((await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE)).kid, kid);
    await svc.verifyAccessToken(oldSet.accessToken);
    clock.advance(60);
    await rejects(svc.verifyAccessToken(oldSet.accessToken), 'bad_signature');
    assert.deepEqual((await svc.jwks()).keys.map((k) => k.kid), [kid]);
  });

  test('purge drops what expired more than a day ago', async () => {
    const t = await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    await svc.exchange(t.userToken, BASE);
    await svc.issueSignInToken({ teamId: TEAM, mode: 'sandbox' }, USER, BASE);
    clock.advance(3600 + 86_400);
    assert.equal(await svc.purgeExpired(), 2);
    clock.advance(1);
    assert.equal(await svc.purgeExpired(), 1);
  });
});

describe('sdkSafeJson', () => {
  test('its base64url never holds - or _ and it parses back to the same value', () => {
    const v = { a: '>>>???~~~', b: 'héllo wörld 😀', c: 'http://x/?q=1&r=>' };
    const text = sdkSafeJson(v);
    assert.deepEqual(JSON.parse(text), v);
    const enc = b64url(text);
    assert.doesNotMatch(enc, /[-_]/);
    // Plain JSON.stringify would not have been safe for this value.
    assert.match(b64url(JSON.stringify({ x: 'ab?' })), /[-_]/);
  });
});
