// The operators' console: who may use it (sessions, one-time sign-in links, the admin token) and the
// reads its pages need (search, filters, keyset pages). Writes go through the same services as the
// API faces; this module holds no second copy of their rules.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Connection } from './connections.ts';
import type { AuditEntry } from './audit.ts';
import type { TeamMode } from './teams.ts';

// ---------- sessions (OWASP session management: §8 of the console contract) ----------

export const SESSION_IDLE_MS = 30 * 60_000;
export const SESSION_ABSOLUTE_MS = 8 * 60 * 60_000;
export const SIGN_IN_LINK_TTL_MS = 10 * 60_000;
/** last_seen_at is written at most this often per session (not on every page view). */
const TOUCH_EVERY_MS = 60_000;

export interface ConsoleSession {
  idHash: Buffer;
  csrfToken: string;
  scope: 'admin';
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
}

/** Storage of sessions and one-time links; src/store implements it. Secrets arrive hashed. */
export interface ConsoleSessionStore {
  insert(s: ConsoleSession): Promise<void>;
  find(idHash: Buffer): Promise<ConsoleSession | null>;
  touch(idHash: Buffer, at: Date): Promise<void>;
  delete(idHash: Buffer): Promise<void>;
  /** Removes sessions past their absolute expiry or idle for longer than `idleBefore`. */
  purge(now: Date, idleBefore: Date): Promise<number>;
  insertLink(hash: Buffer, createdAt: Date, expiresAt: Date): Promise<void>;
  /** Marks the link used if it is unused and unexpired; true only for that one caller. */
  redeemLink(hash: Buffer, now: Date): Promise<boolean>;
}

/** Deletes sessions past their absolute or idle expiry and used or expired one-time links. */
export function purgeConsoleSessions(store: ConsoleSessionStore, now: Date): Promise<number> {
  return store.purge(now, new Date(now.getTime() - SESSION_IDLE_MS));
}

const sha256 = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();
const secret = (): string => randomBytes(32).toString('base64url');

/** Failed sign-ins: per client address and overall, an exponential wait after a few free tries. */
export class SignInThrottle {
  private readonly perClient = new Map<string, { failures: number; until: number }>();
  private global: { failures: number; windowStart: number } = { failures: 0, windowStart: 0 };

  constructor(private readonly now: () => number, private readonly o = { freeTries: 3, maxWaitMs: 15 * 60_000, globalPerMinute: 100 }) {}

  /** Milliseconds the client must still wait before a sign-in attempt is even checked (0 = go). */
  waitMs(client: string): number {
    const t = this.now();
    if (t - this.global.windowStart < 60_000 && this.global.failures >= this.o.globalPerMinute) return this.global.windowStart + 60_000 - t;
    const c = this.perClient.get(client);
    return c ? Math.max(0, c.until - t) : 0;
  }

  failed(client: string): void {
    const t = this.now();
    if (t - this.global.windowStart >= 60_000) this.global = { failures: 0, windowStart: t };
    this.global.failures++;
    const c = this.perClient.get(client) ?? { failures: 0, until: 0 };
    c.failures++;
    const over = c.failures - this.o.freeTries;
    c.until = over > 0 ? t + Math.min(this.o.maxWaitMs, 1000 * 2 ** (over - 1)) : 0;
    this.perClient.set(client, c);
    if (this.perClient.size > 10_000) this.perClient.delete(this.perClient.keys().next().value!);
  }

  succeeded(client: string): void {
    this.perClient.delete(client);
  }
}

export type SignInResult = { ok: true; sessionId: string; session: ConsoleSession } | { ok: false; reason: 'invalid' | 'throttled' };

export interface ConsoleAccessOptions {
  store: ConsoleSessionStore;
  /** ROSTER_ADMIN_TOKEN; null = only one-time links sign in. */
  adminToken: string | null;
  /** One-time links may be issued (no admin token, loopback host). */
  linksEnabled: boolean;
  now?: () => Date;
}

/** Sign-in, sessions and one-time links. */
export class ConsoleAccess {
  private readonly now: () => Date;
  private readonly want: Buffer | null;
  readonly throttle: SignInThrottle;

  constructor(private readonly o: ConsoleAccessOptions) {
    this.now = o.now ?? (() => new Date());
    this.want = o.adminToken ? sha256(o.adminToken) : null;
    this.throttle = new SignInThrottle(() => this.now().getTime());
  }

  get tokenSignIn(): boolean {
    return this.want !== null;
  }

  get linksEnabled(): boolean {
    return this.o.linksEnabled;
  }

  /** The admin token, compared as digests in constant time. */
  async signInWithToken(token: string, client: string): Promise<SignInResult> {
    if (this.throttle.waitMs(client) > 0) return { ok: false, reason: 'throttled' };
    if (!this.want || !timingSafeEqual(sha256(token), this.want)) {
      this.throttle.failed(client);
      return { ok: false, reason: 'invalid' };
    }
    this.throttle.succeeded(client);
    return this.newSession();
  }

  /** A one-time link's secret: the first use signs in, any later one is refused. */
  async signInWithLink(link: string, client: string): Promise<SignInResult> {
    if (this.throttle.waitMs(client) > 0) return { ok: false, reason: 'throttled' };
    if (!this.o.linksEnabled || link.length === 0 || link.length > 200 || !(await this.o.store.redeemLink(sha256(link), this.now()))) {
      this.throttle.failed(client);
      return { ok: false, reason: 'invalid' };
    }
    this.throttle.succeeded(client);
    return this.newSession();
  }

  /** A new one-time link secret (for the start banner); only its hash is stored. */
  async issueLink(): Promise<string> {
    if (!this.o.linksEnabled) throw new Error('one-time sign-in links are off (ROSTER_ADMIN_TOKEN is set or HOST is not loopback)');
    const s = secret();
    const now = this.now();
    await this.o.store.insertLink(sha256(s), now, new Date(now.getTime() + SIGN_IN_LINK_TTL_MS));
    return s;
  }

  /** The live session for a cookie value, or null (unknown, idle too long, past its absolute end). */
  async session(sessionId: string): Promise<ConsoleSession | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return null;
    const h = sha256(sessionId);
    const s = await this.o.store.find(h);
    if (!s) return null;
    const now = this.now();
    if (now >= s.expiresAt || now.getTime() - s.lastSeenAt.getTime() >= SESSION_IDLE_MS) {
      await this.o.store.delete(h);
      return null;
    }
    if (now.getTime() - s.lastSeenAt.getTime() >= TOUCH_EVERY_MS) {
      await this.o.store.touch(h, now);
      s.lastSeenAt = now;
    }
    return s;
  }

  async signOut(sessionId: string): Promise<void> {
    if (/^[A-Za-z0-9_-]{43}$/.test(sessionId)) await this.o.store.delete(sha256(sessionId));
  }

  /** The per-session synchronizer token, compared in constant time. */
  csrfOk(s: ConsoleSession, given: unknown): boolean {
    if (typeof given !== 'string' || given.length !== s.csrfToken.length) return false;
    return timingSafeEqual(Buffer.from(given), Buffer.from(s.csrfToken));
  }

  purge(): Promise<number> {
    return purgeConsoleSessions(this.o.store, this.now());
  }

  private async newSession(): Promise<SignInResult> {
    const sessionId = secret();
    const now = this.now();
    const session: ConsoleSession = { idHash: sha256(sessionId), csrfToken: secret(), scope: 'admin', createdAt: now, lastSeenAt: now, expiresAt: new Date(now.getTime() + SESSION_ABSOLUTE_MS) };
    await this.o.store.insert(session);
    return { ok: true, sessionId, session };
  }
}

// ---------- reads the console's pages need ----------

export interface ConsoleTeam {
  id: string;
  name: string;
  mode: TeamMode;
  createdAt: Date;
  rateLimitPerMinute: number | null;
}

/** A count shown on a page: exact up to COUNT_CAP, above it the planner's estimate (or "at least"). */
export interface Count {
  n: number;
  /** 'exact'; 'estimate' = about n (an exact count of a million rows is not page-speed); 'atLeast' = n or more. */
  kind: 'exact' | 'estimate' | 'atLeast';
}

export interface ConsoleTeamSummary extends ConsoleTeam {
  liveUsers: Count;
  activeKeys: number;
  /** Webhook endpoints: all of them, and those that are enabled (delivering). */
  endpoints: { total: number; enabled: number };
}

export type UserState = 'live' | 'deleted';

export interface UserSearch {
  teamId: string;
  /** One box: Junction user_id (UUID), client_user_id (exact or prefix; Onvy's id), basic userId (digits) or e-mail. */
  q: string | null;
  state: UserState;
  provider: string | null;
  /** Only users with a connection in error. */
  errored: boolean;
  order: 'desc' | 'asc';
  /** Keyset: the id of the last user of the previous page (its (time, id) is looked up exactly). */
  after: string | null;
  limit: number;
}

export interface UserRow {
  id: string;
  clientUserId: string;
  basicId: number;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  createdAt: Date;
  deletedAt: Date | null;
  providers: { provider: string; status: string }[];
}

export interface UserPage {
  rows: UserRow[];
  /** Matching users. */
  total: Count;
  /** Keyset for the next page (the last row's id), or null on the last page. */
  next: string | null;
}

/** What a user's page shows beyond the User (its ids on other faces, profile). */
export interface UserFaces {
  basicId: number;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  connections: Connection[];
}

export interface AuditSearch {
  teamId: string;
  action: string | null;
  keyId: string | null;
  /** Any id the entry may name the user by (Roster id, client id, basic userId). */
  userIds: string[] | null;
  since: Date | null;
  until: Date | null;
  /** Keyset: the id of the last entry of the previous page. */
  after: string | null;
  limit: number;
}

export interface ConsoleReads {
  /** Every team with its counts (the home page). */
  teams(): Promise<ConsoleTeamSummary[]>;
  /** Every team, without counts (the team switcher on every page). */
  teamList(): Promise<ConsoleTeam[]>;
  team(teamId: string): Promise<ConsoleTeam | null>;
  searchUsers(q: UserSearch): Promise<UserPage>;
  /** The user's other faces and profile, whatever its state; null when unknown. */
  userFaces(teamId: string, userId: string): Promise<UserFaces | null>;
  audit(q: AuditSearch): Promise<{ entries: AuditEntry[]; next: string | null }>;
  /** Distinct audit actions seen in the team (for the filter's choices). */
  auditActions(teamId: string): Promise<string[]>;
}

/** Counts are exact up to this many rows; above it, estimated (unfiltered) or shown as "10,000+". */
export const COUNT_CAP = 10_000;
