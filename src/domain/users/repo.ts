// Storage as the users aggregate needs it; src/store/users implements it. Every method is scoped
// by team.
import type { Connection } from '../connections.ts';
import type { StoredSync } from './data-syncs.ts';
import type { DomainEvent } from '../webhooks/events.ts';
import type { ListCursor, ProfiledUser, TeamMetrics, UndoTarget, User, UserQuery, UserSelector, UserView } from './model.ts';

export type InsertResult =
  | { ok: true; number: number; clientUserId: string }
  | { ok: false; reason: 'taken'; existing: { userId: string; createdAt: Date } }
  | { ok: false; reason: 'cap' }
  | { ok: false; reason: 'email_taken' };

export interface InsertOptions {
  /** Fail with 'cap' when the team already has this many live users (counted under a team lock). */
  liveCap?: number;
  /**
   * The user has no client id of its own: name it `basic:<number>` (or, if a live user holds that
   * name, with a random suffix).
   */
  nameFromNumber?: boolean;
  /**
   * Webhooks (i12): the event to record when (and only when) the user is inserted, in the insert's
   * own commit; its facts are completed with the stored client id and number.
   */
  event?: DomainEvent;
}

export interface SyncConnection {
  id: string;
  status: 'connected' | 'error';
  error: { type: string; message: string } | null;
  setStatus: boolean;
}

/**
 * What recording a sync entry did to the provider's connection (for its webhook events):
 * 'connected' when it is new and connected or went from error to connected, 'errored' when it is
 * new in error or entered error, null when its state did not change.
 */
export interface SyncChange { connection: 'connected' | 'errored' | null }

export interface UsersRepo {
  /**
   * Inserts the user with its profile (its number is assigned by storage). Refuses, naming the
   * holder, when a live user of the team holds the client id; a holder deleted meanwhile does not
   * refuse (the insert is tried again).
   */
  insert(u: ProfiledUser, opts: InsertOptions): Promise<InsertResult>;
  /** The user whatever its state (live or soft-deleted), or null; `live`: live users only. */
  find(teamId: string, sel: UserSelector, opts?: { live?: boolean }): Promise<ProfiledUser | null>;
  /** One round trip for the read paths: the user (any state) with its connections. */
  findView(teamId: string, id: string): Promise<UserView | null>;
  findLiveViewByClientId(teamId: string, clientUserId: string): Promise<UserView | null>;
  /** Live users, newest first, with their connections; `total` counts all live users. */
  listLiveViews(teamId: string, offset: number, limit: number): Promise<{ views: UserView[]; total: number }>;
  /** Live users in (created_at, client_user_id by code point) order after `after`; `total` counts all live users. */
  listByCreated(teamId: string, after: ListCursor | null, limit: number): Promise<{ users: ProfiledUser[]; total: number; next: ListCursor | null }>;
  /** Live users the query accepts, in its order (text by code point, ties by number ascending). */
  list(teamId: string, query: UserQuery, offset: number, limit: number): Promise<ProfiledUser[]>;
  /** The live user with that client id, its connections and its sync entries (one round trip). */
  findWithSyncInputs(teamId: string, clientUserId: string): Promise<{ user: ProfiledUser; connections: Connection[]; stored: StoredSync[] } | null>;
  syncInputs(teamId: string, userIds: string[]): Promise<Map<string, { connections: Connection[]; stored: StoredSync[] }>>;
  /**
   * Runs `apply` on the live user and writes the user fields it returns. Null when no live user
   * has that id, 'taken' when the new client id is held by another live user.
   */
  update(teamId: string, id: string, apply: (u: User) => User): Promise<User | null | 'taken'>;
  /**
   * Runs `apply` on the live user under a row lock and writes the profile, birthday and updated_at
   * it returns (nothing when it returns null). Null when there is no such live user.
   */
  updateProfile(teamId: string, sel: UserSelector, apply: (cur: ProfiledUser) => ProfiledUser | null): Promise<ProfiledUser | null | 'email_taken'>;
  /**
   * Soft-deletes a live user and drops its connections: the providers of the connections dropped
   * (for their connection.deleted events), or null when no live user has that id.
   */
  softDelete(teamId: string, id: string, now: Date): Promise<string[] | null>;
  /**
   * Deletes the live user for good (what hangs off it goes with it) if `guard` agrees: the user as
   * it was and the providers of the connections that went with it, or null.
   */
  remove(teamId: string, sel: UserSelector, guard: (cur: ProfiledUser) => boolean): Promise<{ gone: ProfiledUser; providers: string[] } | null>;
  /**
   * Makes the newest matching user deleted after `since` live again. `liveCap` as for insert:
   * 'cap' when the team already has that many live users.
   */
  restore(teamId: string, target: UndoTarget, since: Date, now: Date, opts?: { liveCap?: number }): Promise<'ok' | 'not_found' | 'taken' | 'cap'>;
  /**
   * Records a sync entry for a live user: connects the provider if it is not (a new connection with
   * `connection`'s id and status), sets the connection's status when `connection.setStatus`, upserts
   * the entry and bumps the user's updated_at. What it did to the connection; false when there is no such live user.
   */
  recordSync(teamId: string, userId: string, entry: StoredSync, connection: SyncConnection): Promise<SyncChange | false>;
  /** Removes the provider's connection and its sync entries; false when it was not connected. */
  disconnect(teamId: string, userId: string, providerSlug: string, now: Date): Promise<boolean>;
  metrics(teamId: string, now: Date): Promise<TeamMetrics>;
  /** Hard-deletes users soft-deleted before `before`, in every team. */
  purge(before: Date): Promise<number>;
}
