// The users aggregate's operations, for every face and for bulk import: one create (rules, sandbox
// cap, client-id conflict), reads, changes, deletes. Storage is the UsersRepo port (repo.ts).
import { DomainError, validationFailed, type FieldIssue } from '../errors.ts';
import { newId } from '../ids.ts';
import {
  EMPTY_PROFILE, PROFILE_FIELDS, UNDO_GRACE_MS,
  type ListCursor, type PatchMode, type PatchUserInput, type ProfiledUser, type ProfileField, type ProfilePatch, type ProfileView,
  type TeamContext, type TeamMetrics, type UndoTarget, type User, type UserFields, type UserQuery, type UserSelector, type UserView,
} from './model.ts';
import { applyUserFields, checkClientUserId, creationFields, presentConnections, userFieldIssues } from './rules.ts';
import { applyProfilePatch, checkProfilePatch, checkSyncEntry, hasRequired } from './profile-rules.ts';
import { deriveDataSyncs, providerSlugOf, type DataSync } from './data-syncs.ts';
import type { InsertResult, UsersRepo } from './repo.ts';
import { NO_OUTBOX, type EventOutbox } from '../webhooks/ports.ts'; // webhooks (i12)
import { userEvent, type DomainEvent, type EventFacts } from '../webhooks/events.ts'; // webhooks (i12)

/** A user delete (§1): user.deleted, and connection.deleted for each connection that went with it. */
const deletedEvents = (teamId: string, userId: string, at: Date, providers: string[], facts: EventFacts = {}): DomainEvent[] => [
  userEvent('user.deleted', teamId, userId, at, facts),
  ...providers.map((provider) => userEvent('connection.deleted', teamId, userId, at, { ...facts, provider })),
];

export interface UsersDeps {
  repo: UsersRepo;
  now?: () => Date;
  /** 0 = no cap. Applies to sandbox teams only. */
  sandboxUserCap?: number;
  /** Webhooks (i12): where user.* and connection.* events are recorded, in the change's own transaction. */
  events?: EventOutbox;
}

/**
 * What a create is given. `clientUserId` null: the caller has no id of its own; Roster names the
 * user `basic:<number>`. `fields`: the user fields; `profile`: the profile fields (a replacement
 * of the empty profile). `rawInput`: what a cross-field issue echoes (the request body).
 */
export interface NewUser {
  clientUserId: string | null;
  fields?: UserFields;
  profile?: ProfilePatch;
  rawInput?: unknown;
}

const notFound = () => new DomainError('user_not_found', 'User not found');
const clientIdTaken = (existing?: { userId: string; createdAt: Date }) =>
  new DomainError('client_user_id_taken', existing ? 'Client user id already exists.' : 'Client user id already exists', existing ? { existing } : {});
const emailTaken = () => new DomainError('email_taken', 'Another user of the team has this e-mail address');

/**
 * The user a create would insert: every rule checked (all broken rules reported at once, as
 * validation_failed), the fields stamped as manual values set `now`. Pure; bulk import uses it to
 * check rows exactly as a create would.
 */
export function buildUser(teamId: string, input: NewUser, now: Date): ProfiledUser {
  const fields = creationFields(input.fields ?? {});
  const issues: FieldIssue[] = userFieldIssues(input.clientUserId === null ? fields : { clientUserId: input.clientUserId, ...fields });
  if (input.profile) issues.push(...checkProfilePatch(input.profile, now));
  if (issues.length) throw validationFailed(issues);
  const blank: User = {
    teamId, id: newId(now.getTime()), clientUserId: input.clientUserId ?? '', createdAt: now, updatedAt: now,
    deletedAt: null, fallbackTimeZone: null, fallbackBirthDate: null, ingestionStart: null, ingestionEnd: null,
  };
  const user = applyUserFields(blank, fields, now, input.rawInput ?? { clientUserId: input.clientUserId, ...input.fields });
  const made: ProfiledUser = { user, profile: EMPTY_PROFILE, number: 0 };
  return input.profile ? applyProfilePatch(made, input.profile, 'replace', now)! : made;
}

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

  // ---------- create ----------

  /** Creates a user (every face). Refuses over the sandbox cap and when a live user holds the client id. */
  async create(team: TeamContext, input: NewUser): Promise<ProfileView> {
    const now = this.now();
    const made = buildUser(team.teamId, input, now);
    // Webhooks (i12): the event rides in the insert's own statement or commit (no extra round trip
    // for a team with a live endpoint); the store completes its facts from the stored row.
    const event = this.events.wants(team.teamId) ? userEvent('user.created', team.teamId, made.user.id, now) : undefined;
    const r = this.settle(await this.repo.insert(made, { ...this.capOf(team), nameFromNumber: input.clientUserId === null, ...(event ? { event } : {}) }));
    return { ...made, number: r.number, user: { ...made.user, clientUserId: r.clientUserId }, dataSyncs: [] };
  }

  /** The team's cap of live users, if it has one. */
  capOf(team: TeamContext): { liveCap?: number } {
    return team.mode === 'sandbox' && this.cap > 0 ? { liveCap: this.cap } : {};
  }

  private capError(): DomainError {
    return new DomainError('sandbox_user_cap', `You have reached the maximum of ${this.cap} Sandbox users`, { cap: this.cap });
  }

  private settle(r: InsertResult): { number: number; clientUserId: string } {
    if (r.ok) return r;
    if (r.reason === 'cap') throw this.capError();
    if (r.reason === 'email_taken') throw emailTaken();
    throw clientIdTaken(r.existing);
  }

  // ---------- reads ----------

  /** A live user with its connections; distinguishes pending deletion from never-existed. */
  async get(teamId: string, id: string): Promise<UserView> {
    const v = await this.repo.findView(teamId, id);
    if (!v || v.user.deletedAt !== null) throw this.stateError(v?.user ?? null);
    return { user: v.user, connections: presentConnections(v.user, v.connections, this.now()) };
  }

  async resolve(teamId: string, clientUserId: string): Promise<UserView> {
    const v = checkClientUserId(clientUserId) ? null : await this.repo.findLiveViewByClientId(teamId, clientUserId);
    if (!v) throw notFound();
    return { user: v.user, connections: presentConnections(v.user, v.connections, this.now()) };
  }

  /** Live users, newest first, with their connections. */
  async list(teamId: string, offset: number, limit: number): Promise<{ users: UserView[]; total: number }> {
    const { views, total } = await this.repo.listLiveViews(teamId, offset, limit);
    const now = this.now();
    return { users: views.map((v) => ({ user: v.user, connections: presentConnections(v.user, v.connections, now) })), total };
  }

  /** The live user with that client id, with its data syncs. */
  async getByClientId(teamId: string, clientUserId: string): Promise<ProfileView> {
    const r = checkClientUserId(clientUserId) ? null : await this.repo.findWithSyncInputs(teamId, clientUserId);
    if (!r) throw notFound();
    return { ...r.user, dataSyncs: deriveDataSyncs(r.connections, r.stored) };
  }

  async listByCreated(teamId: string, after: ListCursor | null, limit: number): Promise<{ users: ProfileView[]; total: number; next: ListCursor | null }> {
    const page = await this.repo.listByCreated(teamId, after, limit);
    return { users: await this.withSyncs(page.users), total: page.total, next: page.next };
  }

  /** The live user `sel` names, if `query` accepts it. */
  async find(teamId: string, sel: UserSelector, query: UserQuery = {}): Promise<ProfiledUser> {
    if ('clientUserId' in sel && checkClientUserId(sel.clientUserId)) throw notFound();
    const u = await this.repo.find(teamId, sel, { live: true });
    if (!u || !hasRequired(u.profile, query)) throw notFound();
    return u;
  }

  /** One page (zero-indexed) of the live users `query` accepts, in its order. */
  listMatching(teamId: string, query: UserQuery, page: number, perPage: number): Promise<ProfiledUser[]> {
    return this.repo.list(teamId, query, page * perPage, perPage);
  }

  async withSyncs(users: ProfiledUser[]): Promise<ProfileView[]> {
    if (users.length === 0) return [];
    const inputs = await this.repo.syncInputs(users[0]!.user.teamId, users.map((u) => u.user.id));
    return users.map((u) => {
      const i = inputs.get(u.user.id);
      return { ...u, dataSyncs: i ? deriveDataSyncs(i.connections, i.stored) : [] };
    });
  }

  /** The live user, or the error that says why not (pending deletion vs unknown). */
  async requireLive(teamId: string, id: string): Promise<User> {
    const u = (await this.repo.find(teamId, { id }))?.user ?? null;
    if (u && u.deletedAt === null) return u;
    throw this.stateError(u);
  }

  /** The user while live or inside its undo window (records stay readable until purge). */
  async requireExisting(teamId: string, id: string): Promise<User> {
    const u = (await this.repo.find(teamId, { id }))?.user ?? null;
    if (u && (u.deletedAt === null || u.deletedAt.getTime() > this.now().getTime() - UNDO_GRACE_MS)) return u;
    throw notFound();
  }

  metrics(teamId: string): Promise<TeamMetrics> {
    return this.repo.metrics(teamId, this.now());
  }

  // ---------- changes ----------

  /**
   * Changes the user fields. `input` keys that are undefined were not sent. The caller has already
   * checked that at least one key was sent (faces word that error themselves).
   */
  async patch(teamId: string, id: string, input: PatchUserInput, rawInput?: unknown): Promise<User> {
    const issues = userFieldIssues(input);
    if (issues.length) throw validationFailed(issues);
    const r = await this.events.emit(teamId, () => this.repo.update(teamId, id, (u) => applyUserFields(u, input, this.now(), rawInput ?? input)),
      (x) => (x && x !== 'taken' ? [userEvent('user.updated', teamId, id, x.updatedAt)] : [])); // webhooks (i12)
    if (r === 'taken') throw clientIdTaken();
    if (r === null) throw await this.notLiveError(teamId, id);
    return r;
  }

  /**
   * Applies a profile patch (merge) or a full replacement of the fields in `replaces` (the fields
   * the calling face carries) to the live user `sel` names, if `query` accepts it.
   */
  async update(teamId: string, sel: UserSelector, patch: ProfilePatch, mode: PatchMode, opts: { replaces?: readonly ProfileField[]; query?: UserQuery } = {}): Promise<ProfiledUser> {
    const { replaces = PROFILE_FIELDS, query = {} } = opts;
    if ('clientUserId' in sel && checkClientUserId(sel.clientUserId)) throw notFound();
    const issues = checkProfilePatch(patch, this.now());
    if (issues.length) throw validationFailed(issues);
    const r = await this.events.emit(teamId, () => this.repo.updateProfile(teamId, sel, (cur) => {
      if (!hasRequired(cur.profile, query)) throw notFound();
      return applyProfilePatch(cur, patch, mode, this.now(), replaces);
    }), (x) => (x && x !== 'email_taken' ? [userEvent('user.updated', teamId, x.user.id, this.now())] : [])); // webhooks (i12)
    if (r === 'email_taken') throw emailTaken();
    if (r === null) throw notFound();
    return r;
  }

  /**
   * Records one sync entry. Connecting a provider = recording its `auth` entry; an `auth` entry
   * that failed marks the connection errored, any other status connected.
   */
  async recordSync(teamId: string, clientUserId: string, e: { provider: string; dataType: string; syncType: string; status: string }): Promise<DataSync & { userId: string }> {
    const u = await this.find(teamId, { clientUserId });
    const issues = checkSyncEntry(e);
    if (issues.length) throw validationFailed(issues);
    const now = this.now();
    const slug = providerSlugOf(e.provider)!;
    const isAuth = e.dataType === 'auth';
    const failed = isAuth && e.status === 'failed';
    const ok = await this.events.emit(teamId, () => this.repo.recordSync(teamId, u.user.id, { provider: slug, dataType: e.dataType, syncType: e.syncType, status: e.status, updatedAt: now }, {
      id: newId(now.getTime()),
      status: failed ? 'error' : 'connected',
      error: failed ? { type: 'auth_failed', message: 'The provider connection failed' } : null,
      setStatus: isAuth,
      // Events only when the connection's state changed: new, entering error, or back from it (§1).
    }), (x) => (x && x.connection ? [userEvent(x.connection === 'errored' ? 'connection.error' : 'connection.created', teamId, u.user.id, now, { provider: slug, ...(x.connection === 'errored' ? { error: { type: 'provider_credential_error', message: 'The provider connection failed', details: 'auth sync entry failed' } } : {}) })] : [])); // webhooks (i12)
    if (!ok) throw notFound();
    return { provider: e.provider, dataType: e.dataType, syncType: e.syncType, status: e.status, updatedAt: now, userId: u.user.id };
  }

  async dataSyncs(teamId: string, clientUserId: string): Promise<DataSync[]> {
    return (await this.getByClientId(teamId, clientUserId)).dataSyncs;
  }

  /** Disconnects a provider (by its CAPITALCASE name): its connection and every entry go. Returns the user's id. */
  async disconnectProvider(teamId: string, clientUserId: string, providerName: string): Promise<string> {
    const u = await this.find(teamId, { clientUserId });
    const slug = providerSlugOf(providerName);
    if (!slug || !(await this.events.emit(teamId, () => this.repo.disconnect(teamId, u.user.id, slug, this.now()), (x) => (x ? [userEvent('connection.deleted', teamId, u.user.id, this.now(), { provider: slug })] : [])))) { // webhooks (i12)
      throw new DomainError('connection_not_found', 'The user has no entry for this provider');
    }
    return u.user.id;
  }

  // ---------- deletes ----------

  /** Soft delete: the user can be restored for UNDO_GRACE_DAYS. */
  async delete(teamId: string, id: string): Promise<void> {
    const at = this.now();
    const gone = await this.events.emit(teamId, () => this.repo.softDelete(teamId, id, at), (x) => (x ? deletedEvents(teamId, id, at, x) : [])); // webhooks (i12)
    if (!gone) throw await this.notLiveError(teamId, id);
  }

  /** Deletes for good the live user `sel` names, if `query` accepts it. Returns its id. */
  async remove(teamId: string, sel: UserSelector, query: UserQuery = {}): Promise<string> {
    if ('clientUserId' in sel && checkClientUserId(sel.clientUserId)) throw notFound();
    const gone = await this.events.emit(teamId, () => this.repo.remove(teamId, sel, (cur) => hasRequired(cur.profile, query)),
      // The row is gone by the time the outbox would read the ids from it: they come from the user as it was.
      (x) => (x ? deletedEvents(teamId, x.gone.user.id, this.now(), x.providers, { client_user_id: x.gone.user.clientUserId, basic_id: x.gone.number }) : [])); // webhooks (i12)
    if (!gone) throw notFound();
    return gone.gone.user.id;
  }

  /** Restores a soft-deleted user inside its undo window; the sandbox cap applies as to a create. */
  async undoDelete(team: TeamContext, target: UndoTarget): Promise<void> {
    // An id no user can hold (NUL, lone surrogate, over the cap) matches nobody; it must not reach SQL.
    if ('clientUserId' in target && checkClientUserId(target.clientUserId)) throw notFound();
    const now = this.now();
    const r = await this.events.emit(team.teamId, () => this.repo.restore(team.teamId, target, new Date(now.getTime() - UNDO_GRACE_MS), now, this.capOf(team)),
      async (x) => (x === 'ok' ? [userEvent('user.restored', team.teamId, 'userId' in target ? target.userId : (await this.repo.find(team.teamId, { clientUserId: target.clientUserId }, { live: true }))?.user.id ?? null, now)] : [])); // webhooks (i12)
    if (r === 'not_found') throw notFound();
    if (r === 'taken') throw clientIdTaken();
    if (r === 'cap') throw this.capError();
  }

  /** Removes users whose undo window has passed. */
  purgeExpired(): Promise<number> {
    return this.repo.purge(new Date(this.now().getTime() - UNDO_GRACE_MS));
  }

  private async notLiveError(teamId: string, id: string): Promise<DomainError> {
    return this.stateError((await this.repo.find(teamId, { id }))?.user ?? null);
  }

  private stateError(u: User | null): DomainError {
    if (u && u.deletedAt && u.deletedAt.getTime() > this.now().getTime() - UNDO_GRACE_MS) {
      return new DomainError('user_pending_deletion', 'The user has been scheduled for deletion');
    }
    return notFound();
  }
}
