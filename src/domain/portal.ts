// The user's portal: a signed, expiring link to a read-only page of the user's own records.
// `launch` links carry a signed token (no storage); `communications` links are short random codes
// stored with their expiry, short enough for an e-mail or SMS.
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

export interface PortalRepo {
  /** The signing secret shared by all instances (created on first use). */
  secret(): Promise<Buffer>;
  saveLink(code: string, grant: PortalGrant, now: Date): Promise<void>;
  findLink(code: string): Promise<PortalGrant | null>;
}

export type PortalLookup = { ok: true; grant: PortalGrant } | { ok: false; reason: 'invalid' | 'expired' };

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

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
    const payload = b64(JSON.stringify({ t: teamId, u: userId, c: context, o: orderId, e: Math.floor(grant.expiresAt.getTime() / 1000) }));
    return { path: `/portal/${payload}.${await this.sign(payload)}`, expiresIn };
  }

  async openToken(token: string): Promise<PortalLookup> {
    const [payload, sig, extra] = token.split('.');
    if (!payload || !sig || extra !== undefined || token.length > 2048) return { ok: false, reason: 'invalid' };
    const want = Buffer.from(await this.sign(payload));
    const got = Buffer.from(sig);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: 'invalid' };
    let p: { t: string; u: string; c: PortalContext; o: string | null; e: number };
    try {
      p = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'invalid' };
    }
    const grant: PortalGrant = { teamId: p.t, userId: p.u, context: p.c, orderId: p.o, expiresAt: new Date(p.e * 1000) };
    return this.check(grant);
  }

  async openCode(code: string): Promise<PortalLookup> {
    if (!/^[A-Za-z0-9_-]{16}$/.test(code)) return { ok: false, reason: 'invalid' };
    const g = await this.repo.findLink(code);
    return g ? this.check(g) : { ok: false, reason: 'invalid' };
  }

  private check(g: PortalGrant): PortalLookup {
    return g.expiresAt.getTime() <= this.now().getTime() ? { ok: false, reason: 'expired' } : { ok: true, grant: g };
  }

  private async sign(payload: string): Promise<string> {
    return createHmac('sha256', await this.repo.secret()).update(`portal.v1.${payload}`).digest('base64url');
  }
}
