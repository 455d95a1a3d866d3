// Profile rules (src/domain/users/profile-rules.ts) and data-sync derivation
// (src/domain/users/data-syncs.ts): pure functions and the service over an in-memory repository;
// no database.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EMPTY_PROFILE, type ProfiledUser, type UserQuery } from '../../src/domain/users/model.ts';
import { applyProfilePatch, checkBirthday, checkEmail, checkName, checkProfilePatch, hasRequired } from '../../src/domain/users/profile-rules.ts';
import { UsersService } from '../../src/domain/users/service.ts';
import { deriveDataSyncs, providerSlugOf, syncProviderName } from '../../src/domain/users/data-syncs.ts';
import { MemUsersRepo } from '../support/mem-users.ts';
import type { Connection } from '../../src/domain/connections.ts';
import { DomainError } from '../../src/domain/errors.ts';

const NOW = new Date('2026-11-23T12:00:00Z');
const T0 = new Date('2026-01-01T00:00:00Z');
const NAMED: UserQuery = { require: ['firstName', 'lastName', 'email'] };

function user(profile: Partial<ProfiledUser['profile']> = {}, birth: string | null = null): ProfiledUser {
  return {
    user: {
      teamId: 't', id: 'u', clientUserId: 'c', createdAt: T0, updatedAt: T0, deletedAt: null, fallbackTimeZone: null,
      fallbackBirthDate: birth ? { value: birth, source: 'garmin', updatedAt: T0 } : null, ingestionStart: null, ingestionEnd: null,
    },
    profile: { ...EMPTY_PROFILE, ...profile },
    number: 1,
  };
}

describe('profile rules', () => {
  test('names: 1 to 100 code points, not blank, no NUL or lone surrogates', () => {
    assert.equal(checkName('Avery', ['firstName']), null);
    assert.equal(checkName('😀'.repeat(100), ['firstName']), null, 'counted in code points, not UTF-16 units');
    assert.equal(checkName('😀'.repeat(101), ['firstName'])?.kind, 'too_long');
    assert.equal(checkName('', ['firstName'])?.kind, 'too_short');
    assert.equal(checkName(' \t', ['firstName'])?.kind, 'invalid');
    assert.equal(checkName('a\u0000', ['firstName'])?.kind, 'invalid_chars');
    assert.equal(checkName('\ud800', ['firstName'])?.kind, 'invalid_chars');
    assert.equal(checkName(5, ['firstName'])?.kind, 'type');
  });

  test('e-mail: the spec pattern and format, 3 to 255 characters', () => {
    for (const ok of ['a@b.co', 'John.Doe+tag@Example.com', 'x_y%z@sub-domain.example.org']) assert.equal(checkEmail(ok), null, ok);
    for (const bad of ['a@b', 'a@b.c', '@b.co', 'a..b@c.co', '.a@b.co', 'a.@b.co', 'a@-b.co', 'a@b-.co', 'ü@b.co', 'a b@c.co', `${'a'.repeat(250)}@b.com`]) {
      assert.notEqual(checkEmail(bad), null, bad);
    }
  });

  test('birthday: exactly YYYY-MM-DD, a real date, not after today anywhere on Earth', () => {
    assert.equal(checkBirthday('1990-04-17', NOW), null);
    assert.equal(checkBirthday('2026-11-24', NOW), null, 'already the 24th east of UTC+12');
    assert.equal(checkBirthday('2026-11-25', NOW)?.kind, 'invalid');
    assert.equal(checkBirthday('1990-02-30', NOW)?.kind, 'invalid_date');
    assert.equal(checkBirthday('1990-04-17T00:00:00Z', NOW)?.kind, 'invalid_date');
    assert.equal(checkBirthday(19900417, NOW)?.kind, 'type');
  });

  test('every broken field of a patch, in key order, with domain paths', () => {
    const issues = checkProfilePatch({
      heightCm: 0, gender: 'x', thresholds: { ftp: 2001, lthr: 100, mhr: Infinity }, location: { lat: 91 }, tzOffsetSeconds: 1.5,
      language: 'e', measurementUnit: 'stones', coachEnabled: 'yes' as never, weightKg: Number.NaN, email: null, firstName: undefined,
    }, NOW);
    assert.deepEqual(issues.map((i) => i.path.join('.')), ['heightCm', 'gender', 'thresholds.ftp', 'thresholds.mhr', 'location.lat', 'tzOffsetSeconds', 'language', 'measurementUnit', 'coachEnabled', 'weightKg']);
    assert.deepEqual(checkProfilePatch({ thresholds: 'x' as never, location: { alt: 1 } as never }, NOW).map((i) => i.path.join('.')), ['thresholds', 'location.alt']);
    assert.deepEqual(checkProfilePatch({ heightCm: 300, weightKg: 650, tzOffsetSeconds: -43200, location: { lat: -90, lon: 180 }, thresholds: { ftp: 2000, lthr: 250, mhr: 250 } }, NOW), []);
  });
});

describe('merge rules', () => {
  test('merge: absent keeps, null clears, nested objects merge member by member; no change → null', () => {
    const u = user({ firstName: 'A', lastName: 'B', thresholds: { ftp: 200, lthr: 150, mhr: 190 }, location: { lat: 1, lon: 2 } });
    const next = applyProfilePatch(u, { firstName: null, thresholds: { ftp: 250, mhr: null } }, 'merge', NOW)!;
    assert.equal(next.profile.firstName, null);
    assert.equal(next.profile.lastName, 'B');
    assert.deepEqual(next.profile.thresholds, { ftp: 250, lthr: 150, mhr: null });
    assert.deepEqual(next.profile.location, { lat: 1, lon: 2 });
    assert.equal(next.user.updatedAt, NOW);
    assert.equal(applyProfilePatch(u, {}, 'merge', NOW), null);
    assert.equal(applyProfilePatch(u, { firstName: 'A', thresholds: { ftp: 200 } }, 'merge', NOW), null);
    assert.deepEqual(applyProfilePatch(u, { location: null }, 'merge', NOW)!.profile.location, { lat: null, lon: null });
  });

  test('replace: fields the caller carries and did not send are cleared; others (the e-mail) are kept', () => {
    const u = user({ firstName: 'A', email: 'a@b.co', heightCm: 180, thresholds: { ftp: 200, lthr: null, mhr: null } }, '1990-01-01');
    const next = applyProfilePatch(u, { lastName: 'Z', thresholds: { lthr: 160 } }, 'replace', NOW, ['firstName', 'lastName', 'heightCm', 'thresholds', 'birthday'])!;
    assert.equal(next.profile.firstName, null);
    assert.equal(next.profile.lastName, 'Z');
    assert.equal(next.profile.heightCm, null);
    assert.deepEqual(next.profile.thresholds, { ftp: null, lthr: 160, mhr: null });
    assert.equal(next.profile.email, 'a@b.co');
    assert.equal(next.user.fallbackBirthDate, null);
    assert.equal(next.user.updatedAt, NOW, 'a replacement always counts as a change');
  });

  test('birthday is the fallback birth date: a kept value keeps its source; a new one is manual, now', () => {
    const u = user({}, '1990-01-01');
    assert.equal(applyProfilePatch(u, { birthday: '1990-01-01' }, 'merge', NOW), null);
    const same = applyProfilePatch(u, { birthday: '1990-01-01', firstName: 'X' }, 'merge', NOW)!;
    assert.deepEqual(same.user.fallbackBirthDate, { value: '1990-01-01', source: 'garmin', updatedAt: T0 });
    const changed = applyProfilePatch(u, { birthday: '1991-01-01' }, 'merge', NOW)!;
    assert.deepEqual(changed.user.fallbackBirthDate, { value: '1991-01-01', source: 'manual', updatedAt: NOW });
  });

  test('the basic face sees a user only with first name, last name and e-mail', () => {
    assert.equal(hasRequired(user({ firstName: 'a', lastName: 'b', email: 'c@d.co' }).profile, NAMED), true);
    assert.equal(hasRequired(user({ firstName: 'a', lastName: 'b' }).profile, NAMED), false);
    assert.equal(hasRequired(user({ firstName: 'a', email: 'c@d.co' }).profile, NAMED), false);
  });
});

describe('data syncs', () => {
  const conn = (provider: string, status: 'connected' | 'error', createdAt = T0): Connection => ({
    provider, status, createdAt, externalUserId: null, error: status === 'error' ? { type: 'x', message: 'y', at: NOW } : null, resources: {}, demo: false,
  });

  test('provider names: CAPITALCASE slugs, Apple HealthKit is APPLE', () => {
    assert.equal(syncProviderName('garmin'), 'GARMIN');
    assert.equal(syncProviderName('apple_health_kit'), 'APPLE');
    assert.equal(syncProviderName('health_connect'), 'HEALTH_CONNECT');
    assert.equal(providerSlugOf('APPLE'), 'apple_health_kit');
    assert.equal(providerSlugOf('SAMSUNG_HEALTH'), 'samsung_health');
    assert.equal(providerSlugOf('garmin'), null);
    assert.equal(providerSlugOf('GAR/MIN'), null);
  });

  test('derived from connections; recorded entries only while connected and since the connection; sorted', () => {
    const later = new Date(T0.getTime() + 1000);
    const out = deriveDataSyncs([conn('oura', 'error'), conn('garmin', 'connected', later)], [
      { provider: 'garmin', dataType: 'sleep', syncType: 'live', status: 'in_progress', updatedAt: NOW },
      { provider: 'garmin', dataType: 'auth', syncType: 'historical', status: 'completed', updatedAt: T0 }, // before this connection: stale
      { provider: 'fitbit', dataType: 'auth', syncType: 'historical', status: 'pending', updatedAt: NOW }, // not connected
    ]);
    assert.deepEqual(out.map((s) => `${s.provider}/${s.dataType}/${s.syncType}/${s.status}`), [
      'GARMIN/auth/historical/completed', 'GARMIN/sleep/live/in_progress', 'OURA/auth/historical/failed',
    ]);
    assert.equal(out[0]!.updatedAt, later, 'derived auth entries are dated by the connection');
    assert.equal(out[2]!.updatedAt, NOW, 'an errored connection is dated by its error');
  });
});

describe('UsersService: profiles', () => {
  const team = { teamId: 't', mode: 'production' as const };
  const svcOf = (sandboxUserCap = 0) => { const repo = new MemUsersRepo(); return { repo, svc: new UsersService({ repo, now: () => NOW, sandboxUserCap }) }; };

  test('create: validates everything first; a user without a client id gets basic:<number>; e-mail conflicts are domain errors', async () => {
    const { repo, svc } = svcOf();
    await assert.rejects(svc.create(team, { clientUserId: 'x', profile: { heightCm: -1, firstName: ' ' } }), (e: DomainError) => e.code === 'validation_failed' && e.issues.length === 2);
    assert.equal(repo.rows.length, 0);
    const b = await svc.create(team, { clientUserId: null, profile: { firstName: 'A', lastName: 'B', email: 'a@b.co' } });
    assert.equal(b.user.clientUserId, `basic:${b.number}`);
    await assert.rejects(svc.create(team, { clientUserId: null, profile: { firstName: 'A', lastName: 'B', email: 'A@B.CO' } }), (e: DomainError) => e.code === 'email_taken');
    await assert.rejects(svc.create(team, { clientUserId: `basic:${b.number}`, profile: {} }), (e: DomainError) => e.code === 'client_user_id_taken');
  });

  test('a query that requires fields sees only users that have them (find, update, remove); without one, all', async () => {
    const { svc } = svcOf();
    const v = await svc.create(team, { clientUserId: 'onvy-1', profile: { firstName: 'A' } });
    await assert.rejects(svc.find('t', { number: v.number }, NAMED), (e: DomainError) => e.code === 'user_not_found');
    await assert.rejects(svc.update('t', { number: v.number }, { lastName: 'B' }, 'merge', { query: NAMED }), (e: DomainError) => e.code === 'user_not_found');
    await assert.rejects(svc.remove('t', { number: v.number }, NAMED), (e: DomainError) => e.code === 'user_not_found');
    assert.equal((await svc.listMatching('t', NAMED, 0, 10)).length, 0);
    await svc.update('t', { clientUserId: 'onvy-1' }, { lastName: 'B', email: 'a@b.co' }, 'merge');
    assert.equal((await svc.find('t', { number: v.number }, NAMED)).profile.lastName, 'B');
    assert.equal((await svc.listMatching('t', NAMED, 0, 10)).length, 1);
    assert.equal(await svc.remove('t', { number: v.number }, NAMED), v.user.id);
    await assert.rejects(svc.getByClientId('t', 'onvy-1'), (e: DomainError) => e.code === 'user_not_found');
    await assert.rejects(svc.getByClientId('t', 'bad\u0000id'), (e: DomainError) => e.code === 'user_not_found');
  });

  test('sandbox cap: a create the repository refuses for the cap is sandbox_user_cap', async () => {
    const { repo, svc } = svcOf(3);
    repo.insert = async (_u, opts) => (opts.liveCap === 3 ? { ok: false, reason: 'cap' } : { ok: true, number: 1, clientUserId: 'x' });
    await assert.rejects(svc.create({ teamId: 't', mode: 'sandbox' }, { clientUserId: 'x', profile: {} }), (e: DomainError) => e.code === 'sandbox_user_cap');
    assert.equal((await svc.create({ teamId: 't', mode: 'production' }, { clientUserId: 'x', profile: {} })).number, 1);
  });
});
