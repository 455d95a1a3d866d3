// An in-memory UsersRepo (src/domain/users/repo.ts) for the domain's unit tests: enough to
// observe what the service writes, with the conflicts storage decides (client id, e-mail, cap).
import type { InsertOptions, InsertResult, UsersRepo } from '../../src/domain/users/repo.ts';
import type { ProfiledUser, UndoTarget, User, UserQuery, UserSelector } from '../../src/domain/users/model.ts';
import { hasRequired } from '../../src/domain/users/profile-rules.ts';

const clone = <T>(v: T): T => structuredClone(v);

export class MemUsersRepo implements UsersRepo {
  rows: ProfiledUser[] = [];
  calls: string[] = [];
  private n = 0;

  private live = (teamId: string) => this.rows.filter((r) => r.user.teamId === teamId && !r.user.deletedAt);
  private match(teamId: string, sel: UserSelector, live: boolean): ProfiledUser | undefined {
    return this.rows.find((r) => r.user.teamId === teamId && (!live || !r.user.deletedAt)
      && ('id' in sel ? r.user.id === sel.id : 'clientUserId' in sel ? r.user.clientUserId === sel.clientUserId : r.number === sel.number));
  }

  async insert(u: ProfiledUser, opts: InsertOptions): Promise<InsertResult> {
    this.calls.push('insert');
    const live = this.live(u.user.teamId);
    if (opts.liveCap !== undefined && live.length >= opts.liveCap) return { ok: false, reason: 'cap' };
    const number = ++this.n;
    const cid = opts.nameFromNumber ? `basic:${number}` : u.user.clientUserId;
    const holder = live.find((r) => r.user.clientUserId === cid);
    if (holder) return { ok: false, reason: 'taken', existing: { userId: holder.user.id, createdAt: holder.user.createdAt } };
    const email = u.profile.email?.toLowerCase();
    if (email && live.some((r) => r.profile.email?.toLowerCase() === email)) return { ok: false, reason: 'email_taken' };
    this.rows.push(clone({ ...u, number, user: { ...u.user, clientUserId: cid } }));
    return { ok: true, number, clientUserId: cid };
  }
  async find(teamId: string, sel: UserSelector, opts: { live?: boolean } = {}) { return clone(this.match(teamId, sel, opts.live ?? false) ?? null); }
  async findView(teamId: string, id: string) { const r = this.match(teamId, { id }, false); return r ? { user: clone(r.user), connections: [] } : null; }
  async findLiveViewByClientId(teamId: string, cid: string) { const r = this.match(teamId, { clientUserId: cid }, true); return r ? { user: clone(r.user), connections: [] } : null; }
  async listLiveViews(teamId: string, offset: number, limit: number) {
    const live = this.live(teamId);
    return { views: live.slice(offset, offset + limit).map((r) => ({ user: clone(r.user), connections: [] })), total: live.length };
  }
  async listByCreated(teamId: string) { const live = this.live(teamId); return { users: clone(live), total: live.length, next: null }; }
  async list(teamId: string, query: UserQuery, offset: number, limit: number) { return clone(this.live(teamId).filter((r) => hasRequired(r.profile, query)).slice(offset, offset + limit)); }
  async findWithSyncInputs(teamId: string, clientUserId: string) {
    const r = this.match(teamId, { clientUserId }, true);
    return r ? { user: clone(r), connections: [], stored: [] } : null;
  }
  async syncInputs() { return new Map(); }
  async update(teamId: string, id: string, apply: (u: User) => User) {
    this.calls.push('update');
    const cur = this.match(teamId, { id }, true);
    if (!cur) return null;
    const next = apply(clone(cur.user));
    if (this.live(teamId).some((r) => r !== cur && r.user.clientUserId === next.clientUserId)) return 'taken' as const;
    cur.user = next;
    return clone(next);
  }
  async updateProfile(teamId: string, sel: UserSelector, apply: (cur: ProfiledUser) => ProfiledUser | null) {
    const cur = this.match(teamId, sel, true);
    if (!cur) return null;
    const next = apply(clone(cur));
    if (!next) return clone(cur);
    const email = next.profile.email?.toLowerCase();
    if (email && this.live(teamId).some((r) => r !== cur && r.profile.email?.toLowerCase() === email)) return 'email_taken' as const;
    this.rows[this.rows.indexOf(cur)] = clone(next);
    return next;
  }
  async softDelete(teamId: string, id: string, now: Date) {
    const cur = this.match(teamId, { id }, true);
    if (!cur) return null;
    cur.user.deletedAt = now;
    return [] as string[];
  }
  async remove(teamId: string, sel: UserSelector, guard: (cur: ProfiledUser) => boolean) {
    const cur = this.match(teamId, sel, true);
    if (!cur || !guard(clone(cur))) return null;
    this.rows.splice(this.rows.indexOf(cur), 1);
    return { gone: clone(cur), providers: [] as string[] };
  }
  async restore(teamId: string, target: UndoTarget, since: Date, now: Date, opts: { liveCap?: number } = {}) {
    const cur = this.rows.filter((r) => r.user.teamId === teamId && r.user.deletedAt && r.user.deletedAt > since
      && ('userId' in target ? r.user.id === target.userId : r.user.clientUserId === target.clientUserId))
      .sort((a, b) => b.user.deletedAt!.getTime() - a.user.deletedAt!.getTime())[0];
    if (!cur) return 'not_found' as const;
    if (opts.liveCap !== undefined && this.live(teamId).length >= opts.liveCap) return 'cap' as const;
    if (this.live(teamId).some((r) => r.user.clientUserId === cur.user.clientUserId)) return 'taken' as const;
    cur.user = { ...cur.user, deletedAt: null, updatedAt: now };
    return 'ok' as const;
  }
  async recordSync() { return { connection: null }; }
  async disconnect() { return false; }
  async metrics() { return { users: 0, connectedSources: 0, erroredConnectedSources: 0, weekly: [] }; }
  async purge() { return 0; }
}
