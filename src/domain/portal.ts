// The user's portal: a signed, expiring link to a read-only page of the user's own records.
// `launch` links carry a signed token (no storage); `communications` links are short random codes
// stored with their expiry, short enough for an e-mail or SMS.
//
// Revocation (C9): deleting a user revokes every link issued to it so far (an undo does not bring
// them back), and an operator can revoke one stored link or every link of a user. Launch links
// carry their issue time, checked against the user's "not before" time.
// Secrets (S2): links are signed with the newest portal secret and verify with every secret not yet
// retired, so a rotation leaves links already sent working through its grace period.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from './errors.ts';
import type { UsersService } from './users/service.ts';
import type { DemographicsService } from './demographics.ts';

export type PortalContext = 'launch' | 'communications';
export const PORTAL_CONTEXTS: readonly PortalContext[] = ['launch', 'communications'];

export interface PortalGrant {
  teamId: string;
  userId: string;
  context: PortalContext;
  orderId: string | null;
  expiresAt: Date;
}

export interface PortalSecrets {
  /** Signs new links. */
  sign: Buffer;
  /** Verify links: the signing secret first, then those in a rotation's grace period. */
  verify: Buffer[];
}

export interface PortalRepo {
  /**
   * The signing secrets shared by all instances (the first is created on first use, committed
   * before it is used). `fresh`: look again now (a link signed with a secret this instance has not
   * loaded yet); implementations may bound how often.
   */
  secrets(fresh?: boolean): Promise<PortalSecrets>;
  saveLink(code: string, grant: PortalGrant, now: Date): Promise<void>;
  findLink(code: string): Promise<(PortalGrant & { createdAt: Date; revokedAt: Date | null }) | null>;
  /** Links of the user issued at or before this time are refused; null when never revoked. */
  notBefore(teamId: string, userId: string): Promise<Date | null>;
  /** Revokes every link of the user issued up to `at`; the number of stored links revoked, or null without such a user. */
  revokeUserLinks(teamId: string, userId: string, at: Date): Promise<number | null>;
  /** Revokes one stored link; false when the team has no such live link. */
  revokeLink(teamId: string, code: string, at: Date): Promise<boolean>;
  /** A new signing secret; the others retire after `graceS` seconds. Returns how many are retiring. */
  rotateSecret(graceS: number, now: Date): Promise<{ retiring: number; retireAt: Date }>;
}

export type PortalLookup = { ok: true; grant: PortalGrant } | { ok: false; reason: 'invalid' | 'expired' | 'revoked' };

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');
const CODE_RE = /^[A-Za-z0-9_-]{16}$/;

export class PortalService {
  constructor(
    private readonly repo: PortalRepo,
    private readonly users: UsersService,
    private readonly demographics: DemographicsService,
    private readonly ttl: Record<PortalContext, number>,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Returns the path (under the portal mount) and lifetime of a new link. */
  async create(teamId: string, userId: string, context: PortalContext, orderId: string | null): Promise<{ path: string; expiresIn: number }> {
    await this.users.requireLive(teamId, userId);
    if (!(await this.demographics.latestOrNull(teamId, userId))) {
      throw new DomainError('demographics_not_found', 'User demographics are required to create a portal URL');
    }
    const now = this.now();
    const expiresIn = this.ttl[context];
    const grant: PortalGrant = { teamId, userId, context, orderId, expiresAt: new Date(now.getTime() + expiresIn * 1000) };
    if (context === 'communications') {
      const code = randomBytes(12).toString('base64url');
      await this.repo.saveLink(code, grant, now);
      return { path: `/p/${code}`, expiresIn };
    }
    const payload = b64(JSON.stringify({ t: teamId, u: userId, c: context, o: orderId, e: Math.floor(grant.expiresAt.getTime() / 1000), i: now.getTime() }));
    const { sign } = await this.repo.secrets();
    return { path: `/portal/${payload}.${mac(sign, payload)}`, expiresIn };
  }

  async openToken(token: string): Promise<PortalLookup> {
    const [payload, sig, extra] = token.split('.');
    if (!payload || !sig || extra !== undefined || token.length > 2048) return { ok: false, reason: 'invalid' };
    const got = Buffer.from(sig);
    const matches = (s: PortalSecrets) => s.verify.some((k) => {
      const want = Buffer.from(mac(k, payload));
      return want.length === got.length && timingSafeEqual(want, got);
    });
    if (!matches(await this.repo.secrets()) && !matches(await this.repo.secrets(true))) return { ok: false, reason: 'invalid' };
    let p: { t: string; u: string; c: PortalContext; o: string | null; e: number; i?: number };
    try {
      p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    const grant: PortalGrant = { teamId: p.t, userId: p.u, context: p.c, orderId: p.o, expiresAt: new Date(p.e * 1000) };
    // Links made before issue times were recorded count as issued at the epoch: any revocation covers them.
    return this.check(grant, new Date(typeof p.i === 'number' ? p.i : 0), null);
  }

  async openCode(code: string): Promise<PortalLookup> {
    if (!CODE_RE.test(code)) return { ok: false, reason: 'invalid' };
    const g = await this.repo.findLink(code);
    return g ? this.check(g, g.createdAt, g.revokedAt) : { ok: false, reason: 'invalid' };
  }

  /** C9: revokes every link of the user issued so far (the user stays). */
  async revokeUserLinks(teamId: string, userId: string): Promise<{ storedLinksRevoked: number }> {
    const n = await this.repo.revokeUserLinks(teamId, userId, this.now());
    if (n === null) throw new DomainError('user_not_found', 'User not found');
    return { storedLinksRevoked: n };
  }

  /** C9: revokes one short (communications) link by its code. */
  async revokeLink(teamId: string, code: string): Promise<boolean> {
    if (!CODE_RE.test(code)) return false;
    return this.repo.revokeLink(teamId, code, this.now());
  }

  /** S2: a new signing secret; links signed with the old ones open for `graceS` more seconds. */
  async rotateSecret(graceS = this.ttl.launch): Promise<{ retiring: number; retireAt: Date }> {
    if (!Number.isFinite(graceS) || graceS < 0) throw new DomainError('validation_failed', 'grace must be a number of seconds, 0 or more');
    return this.repo.rotateSecret(graceS, this.now());
  }

  private async check(g: PortalGrant, issuedAt: Date, revokedAt: Date | null): Promise<PortalLookup> {
    if (g.expiresAt.getTime() <= this.now().getTime()) return { ok: false, reason: 'expired' };
    if (revokedAt) return { ok: false, reason: 'revoked' };
    const nb = await this.repo.notBefore(g.teamId, g.userId);
    if (nb && issuedAt.getTime() <= nb.getTime()) return { ok: false, reason: 'revoked' };
    return { ok: true, grant: g };
  }
}

function mac(secret: Buffer, payload: string): string {
  return createHmac('sha256', secret).update(`portal.v1.${payload}`).digest('base64url');
}
