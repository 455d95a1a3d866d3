// User rules (src/domain/users.ts): the client_user_id rule, and the service's validation in front
// of storage, exercised with an in-memory repo (no database).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CLIENT_USER_ID_MAX_BYTES,
  UsersService,
  checkClientUserId,
  connectionsPaused,
  type User,
  type UsersRepo,
} from '../../src/domain/users.ts';
import { DomainError } from '../../src/domain/errors.ts';

describe('checkClientUserId', () => {
  test('the cap is 1024 bytes', () => {
    assert.equal(CLIENT_USER_ID_MAX_BYTES, 1024);
  });

  test('1024 ASCII characters are accepted, 1025 are too long', () => {
    assert.equal(checkClientUserId('a'.repeat(1024)), null);
    assert.deepEqual(checkClientUserId('a'.repeat(1025)), { path: ['client_user_id'], kind: 'too_long', input: 'a'.repeat(1025), limit: 1024 });
  });

  test('counts UTF-8 bytes: 342 × € (1026 bytes, 342 characters) is too long, 341 × € (1023 bytes) is fine', () => {
    const long = '€'.repeat(342);
    assert.equal(long.length, 342);
    assert.equal(checkClientUserId(long)?.kind, 'too_long');
    assert.equal(checkClientUserId('€'.repeat(341)), null);
    assert.equal(checkClientUserId('€'.repeat(341) + 'a'), null, '1024 bytes exactly');
    assert.equal(checkClientUserId('€'.repeat(341) + 'ab')?.kind, 'too_long', '1025 bytes');
    // 256 emoji = 512 UTF-16 units = 1024 bytes; one more is over.
    assert.equal(checkClientUserId('😀'.repeat(256)), null);
    assert.equal(checkClientUserId('😀'.repeat(256) + 'a')?.kind, 'too_long');
  });

  test('empty is too short', () => {
    assert.deepEqual(checkClientUserId(''), { path: ['client_user_id'], kind: 'too_short', input: '', limit: 1 });
  });

  test('NUL and unpaired surrogates are invalid characters; pairs are fine', () => {
    assert.equal(checkClientUserId('a\u0000b')?.kind, 'invalid_chars');
    assert.equal(checkClientUserId('\ud800')?.kind, 'invalid_chars');
    assert.equal(checkClientUserId('x\udc00')?.kind, 'invalid_chars');
    assert.equal(checkClientUserId('😀'), null);
    assert.equal(checkClientUserId('a/b c?d#e%2F'), null);
  });

  test('the path given is the path reported', () => {
    assert.deepEqual(checkClientUserId('', ['body', 'x'])?.path, ['body', 'x']);
  });
});

describe('connectionsPaused', () => {
  const user = (ingestionEnd: string | null): User => ({
    teamId: 't', id: 'u', clientUserId: 'c', createdAt: new Date(0), updatedAt: new Date(0), deletedAt: null,
    fallbackTimeZone: null, fallbackBirthDate: null, ingestionStart: null, ingestionEnd,
  });
  test('only after the 7-day late window past ingestion_end', () => {
    const now = new Date('2024-01-10T12:00:00Z');
    assert.equal(connectionsPaused(user(null), now), false);
    assert.equal(connectionsPaused(user('2024-01-03'), now), false, 'end + 7 = today: still in the window');
    assert.equal(connectionsPaused(user('2024-01-02'), now), true);
  });
});

/** Minimal in-memory UsersRepo: enough to observe what the service writes. */
class MemRepo implements UsersRepo {
  users: User[] = [];
  calls: string[] = [];
  async insert(user: User) {
    this.calls.push('insert');
    const holder = this.users.find((u) => u.teamId === user.teamId && u.clientUserId === user.clientUserId && !u.deletedAt);
    if (holder) return { ok: false as const, reason: 'taken' as const, existing: { userId: holder.id, createdAt: holder.createdAt } };
    this.users.push(structuredClone(user));
    return { ok: true as const };
  }
  async find(teamId: string, id: string) { return structuredClone(this.users.find((u) => u.teamId === teamId && u.id === id) ?? null); }
  async findLiveByClientId(teamId: string, cid: string) { return structuredClone(this.users.find((u) => u.teamId === teamId && u.clientUserId === cid && !u.deletedAt) ?? null); }
  async listLive(teamId: string, offset: number, limit: number) {
    const live = this.users.filter((u) => u.teamId === teamId && !u.deletedAt);
    return { users: live.slice(offset, offset + limit), total: live.length };
  }
  async update(teamId: string, id: string, apply: (u: User) => User) {
    this.calls.push('update');
    const i = this.users.findIndex((u) => u.teamId === teamId && u.id === id && !u.deletedAt);
    if (i < 0) return null;
    const next = apply(structuredClone(this.users[i]!));
    if (this.users.some((u, j) => j !== i && u.teamId === teamId && !u.deletedAt && u.clientUserId === next.clientUserId)) return 'taken' as const;
    this.users[i] = next;
    return next;
  }
  async softDelete(teamId: string, id: string, now: Date) {
    const u = this.users.find((x) => x.teamId === teamId && x.id === id && !x.deletedAt);
    if (!u) return false;
    u.deletedAt = now;
    return true;
  }
  async restore() { return 'not_found' as const; }
  async connectionsOf() { return new Map(); }
  async findView(teamId: string, id: string) { const u = await this.find(teamId, id); return u ? { user: u, connections: [] } : null; }
  async findLiveViewByClientId(teamId: string, cid: string) { const u = await this.findLiveByClientId(teamId, cid); return u ? { user: u, connections: [] } : null; }
  async listLiveViews(teamId: string, offset: number, limit: number) {
    const r = await this.listLive(teamId, offset, limit);
    return { views: r.users.map((user) => ({ user, connections: [] })), total: r.total };
  }
  async metrics() { return { users: 0, connectedSources: 0, erroredConnectedSources: 0, weekly: [] }; }
  async purge() { return 0; }
}

const T = { teamId: '00000000-0000-4000-8000-000000000001', mode: 'production' as const };
const NOW = new Date('2026-01-02T03:04:05.678Z');

function service() {
  const repo = new MemRepo();
  return { repo, svc: new UsersService({ repo, now: () => NOW }) };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DomainError, `expected a DomainError, got ${String(e)}`);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail(`expected ${code}`);
}

describe('UsersService.create', () => {
  test('stores fallbacks as manual values stamped now, and bounds as dates', async () => {
    const { svc, repo } = service();
    const v = await svc.create(T, { clientUserId: 'c1', fallbackTimeZone: 'Europe/London', fallbackBirthDate: '1990-05-06', ingestionStart: '2024-01-01T00:00:00Z', ingestionEnd: '2024-12-31' });
    assert.deepEqual(v.connections, []);
    const u = repo.users[0]!;
    assert.equal(u.id, v.user.id);
    assert.equal(u.teamId, T.teamId);
    assert.equal(u.createdAt.getTime(), NOW.getTime());
    assert.deepEqual(u.fallbackTimeZone, { value: 'Europe/London', source: 'manual', updatedAt: NOW });
    assert.deepEqual(u.fallbackBirthDate, { value: '1990-05-06', source: 'manual', updatedAt: NOW });
    assert.equal(u.ingestionStart, '2024-01-01', 'a midnight datetime is stored as its date');
    assert.equal(u.ingestionEnd, '2024-12-31');
  });

  test('null fallbacks mean "not given"', async () => {
    const { svc, repo } = service();
    await svc.create(T, { clientUserId: 'c1', fallbackTimeZone: null, fallbackBirthDate: null, ingestionStart: null, ingestionEnd: null });
    const u = repo.users[0]!;
    assert.equal(u.fallbackTimeZone, null);
    assert.equal(u.fallbackBirthDate, null);
    assert.equal(u.ingestionStart, null);
    assert.equal(u.ingestionEnd, null);
  });

  test('every bad field is reported at once, and nothing is written', async () => {
    const { svc, repo } = service();
    const e = await rejectsWith(svc.create(T, { clientUserId: '', fallbackTimeZone: 'Mars/Base', fallbackBirthDate: '1990-02-30', ingestionStart: 'x', ingestionEnd: '2024-13-01' }), 'validation_failed');
    assert.deepEqual(e.issues.map((i) => [i.path.join('.'), i.kind]), [
      ['client_user_id', 'too_short'],
      ['fallback_time_zone', 'invalid_time_zone'],
      ['fallback_birth_date', 'invalid_date'],
      ['ingestion_start', 'invalid_date'],
      ['ingestion_end', 'invalid_date'],
    ]);
    assert.deepEqual(repo.calls, []);
  });

  test('ingestion_end before ingestion_start is refused; equal is fine', async () => {
    const { svc, repo } = service();
    const e = await rejectsWith(svc.create(T, { clientUserId: 'c1', ingestionStart: '2024-02-02', ingestionEnd: '2024-02-01' }), 'validation_failed');
    assert.equal(e.issues[0]!.kind, 'order');
    assert.deepEqual(repo.calls, []);
    await svc.create(T, { clientUserId: 'c1', ingestionStart: '2024-02-02', ingestionEnd: '2024-02-02' });
    assert.equal(repo.users.length, 1);
  });

  test('a duplicate live client id names the holder', async () => {
    const { svc } = service();
    const first = await svc.create(T, { clientUserId: 'dup' });
    const e = await rejectsWith(svc.create(T, { clientUserId: 'dup' }), 'client_user_id_taken');
    assert.deepEqual(e.existing, { userId: first.user.id, createdAt: NOW });
  });
});

describe('UsersService.patch', () => {
  test('given keys change, null clears, absent keys stay', async () => {
    const { svc, repo } = service();
    const v = await svc.create(T, { clientUserId: 'c1', fallbackTimeZone: 'Europe/London', fallbackBirthDate: '1990-05-06', ingestionStart: '2024-01-01' });
    await svc.patch(T.teamId, v.user.id, { fallbackTimeZone: null, ingestionEnd: '2024-06-30' });
    const u = repo.users[0]!;
    assert.equal(u.fallbackTimeZone, null);
    assert.deepEqual(u.fallbackBirthDate, { value: '1990-05-06', source: 'manual', updatedAt: NOW });
    assert.equal(u.ingestionStart, '2024-01-01');
    assert.equal(u.ingestionEnd, '2024-06-30');
    assert.equal(u.clientUserId, 'c1');
  });

  test('the bounds order is checked against the stored value it is combined with', async () => {
    const { svc, repo } = service();
    const v = await svc.create(T, { clientUserId: 'c1', ingestionStart: '2024-06-01' });
    const e = await rejectsWith(svc.patch(T.teamId, v.user.id, { ingestionEnd: '2024-05-31' }), 'validation_failed');
    assert.equal(e.issues[0]!.kind, 'order');
    assert.equal(repo.users[0]!.ingestionEnd, null, 'nothing written');
  });

  test('a client id held by another live user is refused; a deleted holder does not block', async () => {
    const { svc, repo } = service();
    const a = await svc.create(T, { clientUserId: 'a' });
    const b = await svc.create(T, { clientUserId: 'b' });
    await rejectsWith(svc.patch(T.teamId, b.user.id, { clientUserId: 'a' }), 'client_user_id_taken');
    await svc.delete(T.teamId, a.user.id);
    await svc.patch(T.teamId, b.user.id, { clientUserId: 'a' });
    assert.equal(repo.users.find((u) => u.id === b.user.id)!.clientUserId, 'a');
  });

  test('unknown and soft-deleted users are told apart', async () => {
    const { svc } = service();
    await rejectsWith(svc.patch(T.teamId, '00000000-0000-4000-8000-00000000dead', { ingestionEnd: null }), 'user_not_found');
    const v = await svc.create(T, { clientUserId: 'c1' });
    await svc.delete(T.teamId, v.user.id);
    await rejectsWith(svc.patch(T.teamId, v.user.id, { ingestionEnd: null }), 'user_pending_deletion');
    await rejectsWith(svc.get(T.teamId, v.user.id), 'user_pending_deletion');
    await rejectsWith(svc.delete(T.teamId, v.user.id), 'user_pending_deletion');
  });

  test('users of another team are not found', async () => {
    const { svc } = service();
    const v = await svc.create(T, { clientUserId: 'c1' });
    const other = '00000000-0000-4000-8000-000000000002';
    await rejectsWith(svc.get(other, v.user.id), 'user_not_found');
    await rejectsWith(svc.resolve(other, 'c1'), 'user_not_found');
  });
});

describe('UsersService.resolve', () => {
  test('ids the rules reject are simply not found (no storage round trip can fail on them)', async () => {
    const { svc } = service();
    await rejectsWith(svc.resolve(T.teamId, ''), 'user_not_found');
    await rejectsWith(svc.resolve(T.teamId, 'a\u0000'), 'user_not_found');
    await rejectsWith(svc.resolve(T.teamId, '\ud800'), 'user_not_found');
    await rejectsWith(svc.resolve(T.teamId, 'x'.repeat(2000)), 'user_not_found');
  });
});
