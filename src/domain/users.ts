// Users: the rules of the registry, independent of any face or storage.
import { DomainError, validationFailed, type FieldIssue } from './errors.ts';
import { checkDate, isIanaTimeZone, addDays, utcDate } from './dates.ts';
import { hasForbiddenChars, utf8Bytes } from './text.ts';
import { newId } from './ids.ts';
import type { Connection } from './connections.ts';
import { NO_OUTBOX, type EventOutbox } from './webhooks/ports.ts'; // webhooks (i12)
import { userEvent } from './webhooks/events.ts'; // webhooks (i12)

/** Client ids are indexed; a btree entry cannot exceed ~2.7 kB, so the cap counts UTF-8 bytes. */
export const CLIENT_USER_ID_MAX_BYTES = 1024;
/** Soft-deleted users can be restored for this long, then they are purged. */
export const UNDO_GRACE_DAYS = 7;
export const UNDO_GRACE_MS = UNDO_GRACE_DAYS * 86_400_000;
/** Connections of a user whose ingestion_end is more than this many days past show as paused. */
export const INGESTION_LATE_WINDOW_DAYS = 7;
/** Source slug recorded for values set through the API. */
export const MANUAL_SOURCE = 'manual';

export interface Sourced<T> {
  value: T;
  source: string;
  updatedAt: Date;
}

export interface User {
  teamId: string;
  id: string;
  clientUserId: string;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  fallbackTimeZone: Sourced<string> | null;
  fallbackBirthDate: Sourced<string> | null;
  ingestionStart: string | null;
  ingestionEnd: string | null;
}

/** A user with what the faces render next to it. */
export interface UserView {
  user: User;
  connections: Connection[];
}

export interface CreateUserInput {
  clientUserId: string;
  fallbackTimeZone?: string | null;
  fallbackBirthDate?: string | null;
  ingestionStart?: string | null;
  ingestionEnd?: string | null;
}

/** `undefined` = not given (keep); `null` = clear. */
export interface PatchUserInput {
  clientUserId?: string;
  fallbackTimeZone?: string | null;
  fallbackBirthDate?: string | null;
  ingestionStart?: string | null;
  ingestionEnd?: string | null;
}

export type UndoTarget = { userId: string } | { clientUserId: string };

export interface TeamMetrics {
  users: number;
  connectedSources: number;
  erroredConnectedSources: number;
  /** One point per ISO week, Monday 00:00 UTC, from the team's first connection to now. */
  weekly: { week: Date; value: number; all: number }[];
}

/** Storage as the domain needs it; src/store implements it. Every method is scoped by team. */
export interface UsersRepo {
  /** Inserts unless a live user of the team holds the client id; then returns that user. */
  insert(user: User, opts: { liveCap?: number }): Promise<{ ok: true } | { ok: false; reason: 'taken'; existing: { userId: string; createdAt: Date } } | { ok: false; reason: 'cap' }>;
  /** The user whatever its state (live or soft-deleted), or null. */
  find(teamId: string, id: string): Promise<User | null>;
  findLiveByClientId(teamId: string, clientUserId: string): Promise<User | null>;
  listLive(teamId: string, offset: number, limit: number): Promise<{ users: User[]; total: number }>;
  /**
   * Runs `apply` on the live user under a row lock and writes what it returns. Returns null when no
   * live user has that id, 'taken' when the new client id is held by another live user.
   */
  update(teamId: string, id: string, apply: (u: User) => User): Promise<User | null | 'taken'>;
  /** Soft-deletes a live user and drops its connections; false when no live user has that id. */
  softDelete(teamId: string, id: string, now: Date): Promise<boolean>;
  /** Makes the newest matching user deleted after `since` live again. */
  restore(teamId: string, target: UndoTarget, since: Date, now: Date): Promise<'ok' | 'not_found' | 'taken'>;
  connectionsOf(teamId: string, userIds: string[]): Promise<Map<string, Connection[]>>;
  /** One round trip for the read paths: the user (any state) with its connections. */
  findView(teamId: string, id: string): Promise<UserView | null>;
  findLiveViewByClientId(teamId: string, clientUserId: string): Promise<UserView | null>;
  listLiveViews(teamId: string, offset: number, limit: number): Promise<{ views: UserView[]; total: number }>;
  metrics(teamId: string, now: Date): Promise<TeamMetrics>;
  /** Hard-deletes users soft-deleted before `before`, in every team. */
  purge(before: Date): Promise<number>;
}

export interface UsersDeps {
  repo: UsersRepo;
  now?: () => Date;
  /** 0 = no cap. Applies to sandbox teams only. */
  sandboxUserCap?: number;
  /** Webhooks (i12): where user.* events are recorded, in the change's own transaction. */
  events?: EventOutbox;
}

export interface TeamContext {
  teamId: string;
  mode: 'sandbox' | 'production';
}

// ---------- validation (pure; shared by faces so every face enforces the same rules) ----------

export function checkClientUserId(v: string, path: (string | number)[] = ['client_user_id']): FieldIssue | null {
  if (v.length === 0) return { path, kind: 'too_short', input: v, limit: 1 };
  if (hasForbiddenChars(v)) return { path, kind: 'invalid_chars', input: v };
  if (utf8Bytes(v) > CLIENT_USER_ID_MAX_BYTES) return { path, kind: 'too_long', input: v, limit: CLIENT_USER_ID_MAX_BYTES };
  return null;
}

export function checkTimeZone(v: string, path: (string | number)[]): FieldIssue | null {
  return isIanaTimeZone(v) ? null : { path, kind: 'invalid_time_zone', input: v };
}

export function checkDateField(v: string, path: (string | number)[]): FieldIssue | null {
  const r = checkDate(v);
  return r.ok ? null : { path, kind: 'invalid_date', input: v, reason: r.reason };
}

function fieldIssues(input: PatchUserInput): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const push = (i: FieldIssue | null) => { if (i) issues.push(i); };
  if (input.clientUserId !== undefined) push(checkClientUserId(input.clientUserId));
  if (input.fallbackTimeZone != null) push(checkTimeZone(input.fallbackTimeZone, ['fallback_time_zone']));
  if (input.fallbackBirthDate != null) push(checkDateField(input.fallbackBirthDate, ['fallback_birth_date']));
  if (input.ingestionStart != null) push(checkDateField(input.ingestionStart, ['ingestion_start']));
  if (input.ingestionEnd != null) push(checkDateField(input.ingestionEnd, ['ingestion_end']));
  return issues;
}

const normDate = (v: string | null | undefined) => (v == null ? v : (checkDate(v) as { ok: true; value: string }).value);

function boundsIssue(start: string | null, end: string | null, input: unknown): FieldIssue | null {
  if (start && end && end < start) {
    return { path: [], kind: 'order', input, reason: 'ingestion_end must be on or after ingestion_start' };
  }
  return null;
}

/** Connections show `paused` once ingestion_end is more than the late window in the past. */
export function connectionsPaused(user: User, now: Date): boolean {
  return user.ingestionEnd !== null && utcDate(now) > addDays(user.ingestionEnd, INGESTION_LATE_WINDOW_DAYS);
}

// ---------- service ----------

export class UsersService {
  private readonly repo: UsersRepo;
  private readonly now: () => Date;
  private readonly cap: number;
  private readonly events: EventOutbox; // webhooks (i12)

  constructor(deps: UsersDeps) {
    this.events = deps.events ?? NO_OUTBOX; // webhooks (i12)
    this.repo = deps.repo;
    this.now = deps.now ?? (() => new Date());
    this.cap = deps.sandboxUserCap ?? 0;
  }

  async create(team: TeamContext, input: CreateUserInput, rawInput?: unknown): Promise<UserView> {
    const issues = fieldIssues(input);
    if (issues.length) throw validationFailed(issues);
    const start = normDate(input.ingestionStart) ?? null;
    const end = normDate(input.ingestionEnd) ?? null;
    const order = boundsIssue(start, end, rawInput ?? input);
    if (order) throw validationFailed([order]);

    const now = this.now();
    const user: User = {
      teamId: team.teamId,
      id: newId(now.getTime()),
      clientUserId: input.clientUserId,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      fallbackTimeZone: input.fallbackTimeZone != null ? { value: input.fallbackTimeZone, source: MANUAL_SOURCE, updatedAt: now } : null,
      fallbackBirthDate: input.fallbackBirthDate != null ? { value: normDate(input.fallbackBirthDate)!, source: MANUAL_SOURCE, updatedAt: now } : null,
      ingestionStart: start,
      ingestionEnd: end,
    };
    const liveCap = team.mode === 'sandbox' && this.cap > 0 ? this.cap : undefined;
    const r = await this.events.emit(team.teamId, () => this.repo.insert(user, liveCap ? { liveCap } : {}), (x) => (x.ok ? [userEvent('user.created', user.teamId, user.id, now, { client_user_id: user.clientUserId })] : [])); // webhooks (i12)
    if (!r.ok) {
      if (r.reason === 'cap') throw new DomainError('sandbox_user_cap', `You have reached the maximum of ${this.cap} Sandbox users`, { cap: this.cap });
      throw new DomainError('client_user_id_taken', 'Client user id already exists.', { existing: r.existing });
    }
    return { user, connections: [] };
  }

  /** A live user with its connections; distinguishes pending deletion from never-existed. */
  async get(teamId: string, id: string): Promise<UserView> {
    const v = await this.repo.findView(teamId, id);
    if (!v || v.user.deletedAt !== null) throw this.stateError(v?.user ?? null);
    return { user: v.user, connections: present(v.user, v.connections, this.now()) };
  }

  async resolve(teamId: string, clientUserId: string): Promise<UserView> {
    const v = checkClientUserId(clientUserId) ? null : await this.repo.findLiveViewByClientId(teamId, clientUserId);
    if (!v) throw new DomainError('user_not_found', 'User not found');
    return { user: v.user, connections: present(v.user, v.connections, this.now()) };
  }

  async list(teamId: string, offset: number, limit: number): Promise<{ users: UserView[]; total: number }> {
    const { views, total } = await this.repo.listLiveViews(teamId, offset, limit);
    const now = this.now();
    return { users: views.map((v) => ({ user: v.user, connections: present(v.user, v.connections, now) })), total };
  }

  /**
   * Applies a patch. `input` keys that are undefined were not sent. The caller has already checked
   * that at least one key was sent (faces word that error themselves).
   */
  async patch(teamId: string, id: string, input: PatchUserInput, rawInput?: unknown): Promise<User> {
    const issues = fieldIssues(input);
    if (issues.length) throw validationFailed(issues);
    let orderIssue: FieldIssue | null = null;
    const r = await this.events.emit(teamId, () => this.repo.update(teamId, id, (u) => {
      const now = this.now();
      const next: User = { ...u, updatedAt: now };
      if (input.clientUserId !== undefined) next.clientUserId = input.clientUserId;
      if (input.fallbackTimeZone !== undefined) next.fallbackTimeZone = input.fallbackTimeZone === null ? null : { value: input.fallbackTimeZone, source: MANUAL_SOURCE, updatedAt: now };
      if (input.fallbackBirthDate !== undefined) next.fallbackBirthDate = input.fallbackBirthDate === null ? null : { value: normDate(input.fallbackBirthDate)!, source: MANUAL_SOURCE, updatedAt: now };
      if (input.ingestionStart !== undefined) next.ingestionStart = normDate(input.ingestionStart) ?? null;
      if (input.ingestionEnd !== undefined) next.ingestionEnd = normDate(input.ingestionEnd) ?? null;
      orderIssue = boundsIssue(next.ingestionStart, next.ingestionEnd, rawInput ?? input);
      if (orderIssue) throw validationFailed([orderIssue]);
      return next;
    }), (x) => (x && x !== 'taken' ? [userEvent('user.updated', teamId, id, x.updatedAt)] : [])); // webhooks (i12)
    if (r === 'taken') throw new DomainError('client_user_id_taken', 'Client user id already exists');
    if (r === null) throw await this.notLiveError(teamId, id);
    return r;
  }

  async delete(teamId: string, id: string): Promise<void> {
    const at = this.now();
    const ok = await this.events.emit(teamId, () => this.repo.softDelete(teamId, id, at), (x) => (x ? [userEvent('user.deleted', teamId, id, at)] : [])); // webhooks (i12)
    if (!ok) throw await this.notLiveError(teamId, id);
  }

  async undoDelete(teamId: string, target: UndoTarget): Promise<void> {
    // An id no user can hold (NUL, lone surrogate, over the cap) matches nobody; it must not reach SQL.
    if ('clientUserId' in target && checkClientUserId(target.clientUserId)) throw new DomainError('user_not_found', 'User not found');
    const now = this.now();
    const r = await this.events.emit(teamId, () => this.repo.restore(teamId, target, new Date(now.getTime() - UNDO_GRACE_MS), now), async (x) => (x === 'ok' ? [userEvent('user.restored', teamId, 'userId' in target ? target.userId : (await this.repo.findLiveByClientId(teamId, target.clientUserId))?.id ?? null, now)] : [])); // webhooks (i12)
    if (r === 'not_found') throw new DomainError('user_not_found', 'User not found');
    if (r === 'taken') throw new DomainError('client_user_id_taken', 'Client user id already exists');
  }

  metrics(teamId: string): Promise<TeamMetrics> {
    return this.repo.metrics(teamId, this.now());
  }

  /** Removes users whose undo window has passed. */
  purgeExpired(): Promise<number> {
    return this.repo.purge(new Date(this.now().getTime() - UNDO_GRACE_MS));
  }

  /** The live user, or the error that says why not (pending deletion vs unknown). */
  async requireLive(teamId: string, id: string): Promise<User> {
    const u = await this.repo.find(teamId, id);
    if (u && u.deletedAt === null) return u;
    throw this.stateError(u);
  }

  /** The user while live or inside its undo window (records stay readable until purge). */
  async requireExisting(teamId: string, id: string): Promise<User> {
    const u = await this.repo.find(teamId, id);
    if (u && (u.deletedAt === null || u.deletedAt.getTime() > this.now().getTime() - UNDO_GRACE_MS)) return u;
    throw new DomainError('user_not_found', 'User not found');
  }

  private async notLiveError(teamId: string, id: string): Promise<DomainError> {
    return this.stateError(await this.repo.find(teamId, id));
  }

  private stateError(u: User | null): DomainError {
    if (u && u.deletedAt && u.deletedAt.getTime() > this.now().getTime() - UNDO_GRACE_MS) {
      return new DomainError('user_pending_deletion', 'The user has been scheduled for deletion');
    }
    return new DomainError('user_not_found', 'User not found');
  }
}

/** Applies read-time rules to stored connections (paused after the ingestion window). */
function present(user: User, conns: Connection[], now: Date): Connection[] {
  if (!connectionsPaused(user, now)) return conns;
  return conns.map((c) => ({ ...c, status: 'paused' as const }));
}
