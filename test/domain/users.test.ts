// User rules (src/domain/users/rules.ts): the client_user_id rule, and the service's validation in
// front of storage (src/domain/users/service.ts), exercised with an in-memory repo (no database).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_USER_ID_MAX_BYTES, type CreateUserInput, type TeamContext, type User } from '../../src/domain/users/model.ts';
import { checkClientUserId, connectionsPaused } from '../../src/domain/users/rules.ts';
import { UsersService } from '../../src/domain/users/service.ts';
import { DomainError } from '../../src/domain/errors.ts';
import { MemUsersRepo } from '../support/mem-users.ts';

describe('checkClientUserId', () => {
  test('the cap is 1024 bytes', () => {
    assert.equal(CLIENT_USER_ID_MAX_BYTES, 1024);
  });

  test('1024 ASCII characters are accepted, 1025 are too long', () => {
    assert.equal(checkClientUserId('a'.repeat(1024)), null);
    assert.deepEqual(checkClientUserId('a'.repeat(1025)), { path: ['clientUserId'], kind: 'too_long', input: 'a'.repeat(1025), limit: 1024 });
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
    assert.deepEqual(checkClientUserId(''), { path: ['clientUserId'], kind: 'too_short', input: '', limit: 1 });
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

const T = { teamId: '00000000-0000-4000-8000-000000000001', mode: 'production' as const };
const NOW = new Date('2026-01-02T03:04:05.678Z');

function service(sandboxUserCap = 0) {
  const repo = new MemUsersRepo();
  const svc = new UsersService({ repo, now: () => NOW, sandboxUserCap });
  // The Junction-shaped create of the tests: the user fields beside the client id.
  const create = (team: TeamContext, input: CreateUserInput) => {
    const { clientUserId, ...fields } = input;
    return svc.create(team, { clientUserId, fields });
  };
  return { repo, svc, create, users: () => repo.rows.map((r) => r.user) };
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
    const { svc, repo, create, users } = service();
    const v = await create(T, { clientUserId: 'c1', fallbackTimeZone: 'Europe/London', fallbackBirthDate: '1990-05-06', ingestionStart: '2024-01-01T00:00:00Z', ingestionEnd: '2024-12-31' });
    assert.deepEqual(v.dataSyncs, []);
    const u = users()[0]!;
    assert.equal(u.id, v.user.id);
    assert.equal(u.teamId, T.teamId);
    assert.equal(u.createdAt.getTime(), NOW.getTime());
    assert.deepEqual(u.fallbackTimeZone, { value: 'Europe/London', source: 'manual', updatedAt: NOW });
    assert.deepEqual(u.fallbackBirthDate, { value: '1990-05-06', source: 'manual', updatedAt: NOW });
    assert.equal(u.ingestionStart, '2024-01-01', 'a midnight datetime is stored as its date');
    assert.equal(u.ingestionEnd, '2024-12-31');
  });

  test('null fallbacks mean "not given"', async () => {
    const { svc, repo, create, users } = service();
    await create(T, { clientUserId: 'c1', fallbackTimeZone: null, fallbackBirthDate: null, ingestionStart: null, ingestionEnd: null });
    const u = users()[0]!;
    assert.equal(u.fallbackTimeZone, null);
    assert.equal(u.fallbackBirthDate, null);
    assert.equal(u.ingestionStart, null);
    assert.equal(u.ingestionEnd, null);
  });

  test('every bad field is reported at once, and nothing is written', async () => {
    const { svc, repo, create, users } = service();
    const e = await rejectsWith(create(T, { clientUserId: '', fallbackTimeZone: 'Mars/Base', fallbackBirthDate: '1990-02-30', ingestionStart: 'x', ingestionEnd: '2024-13-01' }), 'validation_failed');
    assert.deepEqual(e.issues.map((i) => [i.path.join('.'), i.kind]), [
      ['clientUserId', 'too_short'],
      ['fallbackTimeZone', 'invalid_time_zone'],
      ['fallbackBirthDate', 'invalid_date'],
      ['ingestionStart', 'invalid_date'],
      ['ingestionEnd', 'invalid_date'],
    ]);
    assert.deepEqual(repo.calls, []);
  });

  test('ingestion_end before ingestion_start is refused; equal is fine', async () => {
    const { svc, repo, create, users } = service();
    const e = await rejectsWith(create(T, { clientUserId: 'c1', ingestionStart: '2024-02-02', ingestionEnd: '2024-02-01' }), 'validation_failed');
    assert.equal(e.issues[0]!.kind, 'order');
    assert.deepEqual(repo.calls, []);
    await create(T, { clientUserId: 'c1', ingestionStart: '2024-02-02', ingestionEnd: '2024-02-02' });
    assert.equal(users().length, 1);
  });

  test('a duplicate live client id names the holder', async () => {
    const { svc, create } = service();
    const first = await create(T, { clientUserId: 'dup' });
    const e = await rejectsWith(create(T, { clientUserId: 'dup' }), 'client_user_id_taken');
    assert.deepEqual(e.existing, { userId: first.user.id, createdAt: NOW });
  });
});

describe('UsersService.patch', () => {
  test('given keys change, null clears, absent keys stay', async () => {
    const { svc, repo, create, users } = service();
    const v = await create(T, { clientUserId: 'c1', fallbackTimeZone: 'Europe/London', fallbackBirthDate: '1990-05-06', ingestionStart: '2024-01-01' });
    await svc.patch(T.teamId, v.user.id, { fallbackTimeZone: null, ingestionEnd: '2024-06-30' });
    const u = users()[0]!;
    assert.equal(u.fallbackTimeZone, null);
    assert.deepEqual(u.fallbackBirthDate, { value: '1990-05-06', source: 'manual', updatedAt: NOW });
    assert.equal(u.ingestionStart, '2024-01-01');
    assert.equal(u.ingestionEnd, '2024-06-30');
    assert.equal(u.clientUserId, 'c1');
  });

  test('the bounds order is checked against the stored value it is combined with', async () => {
    const { svc, repo, create, users } = service();
    const v = await create(T, { clientUserId: 'c1', ingestionStart: '2024-06-01' });
    const e = await rejectsWith(svc.patch(T.teamId, v.user.id, { ingestionEnd: '2024-05-31' }), 'validation_failed');
    assert.equal(e.issues[0]!.kind, 'order');
    assert.equal(users()[0]!.ingestionEnd, null, 'nothing written');
  });

  test('a client id held by another live user is refused; a deleted holder does not block', async () => {
    const { svc, repo, create, users } = service();
    const a = await create(T, { clientUserId: 'a' });
    const b = await create(T, { clientUserId: 'b' });
    await rejectsWith(svc.patch(T.teamId, b.user.id, { clientUserId: 'a' }), 'client_user_id_taken');
    await svc.delete(T.teamId, a.user.id);
    await svc.patch(T.teamId, b.user.id, { clientUserId: 'a' });
    assert.equal(users().find((u) => u.id === b.user.id)!.clientUserId, 'a');
  });

  test('unknown and soft-deleted users are told apart', async () => {
    const { svc, create } = service();
    await rejectsWith(svc.patch(T.teamId, '00000000-0000-4000-8000-00000000dead', { ingestionEnd: null }), 'user_not_found');
    const v = await create(T, { clientUserId: 'c1' });
    await svc.delete(T.teamId, v.user.id);
    await rejectsWith(svc.patch(T.teamId, v.user.id, { ingestionEnd: null }), 'user_pending_deletion');
    await rejectsWith(svc.get(T.teamId, v.user.id), 'user_pending_deletion');
    await rejectsWith(svc.delete(T.teamId, v.user.id), 'user_pending_deletion');
  });

  test('users of another team are not found', async () => {
    const { svc, create } = service();
    const v = await create(T, { clientUserId: 'c1' });
    const other = '00000000-0000-4000-8000-000000000002';
    await rejectsWith(svc.get(other, v.user.id), 'user_not_found');
    await rejectsWith(svc.resolve(other, 'c1'), 'user_not_found');
  });
});

describe('UsersService.resolve', () => {
  test('ids the rules reject are simply not found (no storage round trip can fail on them)', async () => {
    const { svc, create } = service();
    await rejectsWith(svc.resolve(T.teamId, ''), 'user_not_found');
    await rejectsWith(svc.resolve(T.teamId, 'a\u0000'), 'user_not_found');
    await rejectsWith(svc.resolve(T.teamId, '\ud800'), 'user_not_found');
    await rejectsWith(svc.resolve(T.teamId, 'x'.repeat(2000)), 'user_not_found');
  });
});

describe('UsersService: the sandbox cap', () => {
  const S = { teamId: T.teamId, mode: 'sandbox' as const };

  test('a create over the cap is sandbox_user_cap; production teams have none', async () => {
    const { svc, create } = service(2);
    await create(S, { clientUserId: 'a' });
    await create(S, { clientUserId: 'b' });
    const e = await rejectsWith(create(S, { clientUserId: 'c' }), 'sandbox_user_cap');
    assert.equal(e.cap, 2);
    await rejectsWith(svc.create(S, { clientUserId: null, profile: { firstName: 'x' } }), 'sandbox_user_cap');
    await create({ teamId: '00000000-0000-4000-8000-000000000009', mode: 'production' }, { clientUserId: 'c' });
  });

  test('undo_delete makes a user live again only under the cap (C8)', async () => {
    const { svc, create, users } = service(2);
    const a = await create(S, { clientUserId: 'a' });
    await create(S, { clientUserId: 'b' });
    await svc.delete(T.teamId, a.user.id);
    await create(S, { clientUserId: 'c' });
    await rejectsWith(svc.undoDelete(S, { userId: a.user.id }), 'sandbox_user_cap');
    assert.equal(users().filter((u) => !u.deletedAt).length, 2, 'still at the cap');
    await svc.undoDelete({ ...S, mode: 'production' }, { userId: a.user.id });
    assert.equal(users().filter((u) => !u.deletedAt).length, 3, 'a production team restores whatever its count');
  });
});
