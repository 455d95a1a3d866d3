// The users repository (src/store/users) against PostgreSQL: the races a create can meet (the same
// client id at once, the sandbox cap at once, a holder deleted mid-create), undo_delete under the
// cap (security review C8) and per-team numbering (C12, migration 0009).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { PgUsersRepo } from '../../src/store/users/repo.ts';
import { insertBatch, importRow } from '../../src/store/users/bulk.ts';
import { UsersService, buildUser } from '../../src/domain/users/service.ts';
import type { InsertResult } from '../../src/domain/users/repo.ts';
import type { TeamMode } from '../../src/domain/users/model.ts';
import { newId } from '../../src/domain/ids.ts';

for (const backend of backends()) {
  describe(`users repository (${backend.name})`, () => {
    let tdb: TestDatabase;
    let repo: PgUsersRepo;
    before(async () => {
      tdb = await freshDatabase(backend, { poolMax: 20 });
      repo = new PgUsersRepo(tdb.db.kysely);
    });
    after(async () => { await tdb?.drop(); });

    const newTeam = async (mode: TeamMode = 'production') => {
      const id = newId(Date.now());
      await tdb.db.kysely.insertInto('teams').values({ id, name: `t-${id}`, mode, created_at: new Date() }).execute();
      return id;
    };
    const made = (teamId: string, clientUserId: string | null, profile = {}) => buildUser(teamId, { clientUserId, profile }, new Date());
    const liveCount = async (teamId: string) => Number((await tdb.db.kysely.selectFrom('users').select((eb) => eb.fn.countAll().as('n'))
      .where('team_id', '=', teamId).where('deleted_at', 'is', null).executeTakeFirstOrThrow()).n);
    const numbers = async (teamId: string) => (await tdb.db.kysely.selectFrom('users').select('basic_id')
      .where('team_id', '=', teamId).orderBy('basic_id').execute()).map((r) => Number(r.basic_id));

    test('concurrent creates with one client id: one wins, every other is refused naming the winner', async () => {
      const team = await newTeam();
      const users = Array.from({ length: 12 }, () => made(team, 'same'));
      const results = await Promise.all(users.map((u) => repo.insert(u, {})));
      const won = results.map((r, i) => (r.ok ? users[i]!.user.id : null)).filter((x) => x !== null);
      assert.equal(won.length, 1, JSON.stringify(results));
      for (const r of results) {
        if (r.ok) continue;
        assert.equal(r.reason, 'taken');
        assert.equal((r as Extract<InsertResult, { reason: 'taken' }>).existing.userId, won[0]);
      }
      assert.equal(await liveCount(team), 1);
    });

    test('the sandbox cap under concurrency: exactly the cap is created, whatever the interleaving', async () => {
      const team = await newTeam('sandbox');
      const results = await Promise.all(Array.from({ length: 15 }, (_, i) => repo.insert(made(team, `c-${i}`), { liveCap: 4 })));
      assert.equal(results.filter((r) => r.ok).length, 4);
      assert.ok(results.every((r) => r.ok || r.reason === 'cap'), JSON.stringify(results));
      // Nameless creates (the basic face's) count against the same cap.
      const more = await Promise.all(Array.from({ length: 5 }, () => repo.insert(made(team, null), { liveCap: 6, nameFromNumber: true })));
      assert.equal(more.filter((r) => r.ok).length, 2);
      assert.equal(await liveCount(team), 6);
    });

    test('a create after the holder was deleted (soft or hard) succeeds', async () => {
      const team = await newTeam();
      const svc = new UsersService({ repo });
      const first = await svc.create({ teamId: team, mode: 'production' }, { clientUserId: 'again' });
      await svc.delete(team, first.user.id);
      const second = await svc.create({ teamId: team, mode: 'production' }, { clientUserId: 'again' });
      assert.notEqual(second.user.id, first.user.id);
      await svc.remove(team, { id: second.user.id });
      const third = await svc.create({ teamId: team, mode: 'production' }, { clientUserId: 'again' });
      assert.equal((await svc.resolve(team, 'again')).user.id, third.user.id);
    });

    test('a holder deleted between the refused insert and the look-up of the holder: the create is tried again and wins', async () => {
      const team = await newTeam();
      const holder = made(team, 'vanishing');
      assert.ok((await repo.insert(holder, {})).ok);
      const racing = new PgUsersRepo(tdb.db.kysely, { group: false });
      const q = (racing as unknown as { q: { holder: (...a: unknown[]) => Promise<unknown> } }).q;
      const look = q.holder;
      let deleted = 0;
      q.holder = async (...a: unknown[]) => {
        // The holder goes after the insert was refused and before it is looked up.
        if (deleted++ === 0) await tdb.db.kysely.deleteFrom('users').where('team_id', '=', team).where('id', '=', holder.user.id).execute();
        return look(...a);
      };
      const u = made(team, 'vanishing');
      const r = await racing.insert(u, {});
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.equal(deleted, 1, 'the holder was looked up once, found gone, and the insert tried again');
      assert.equal((await repo.find(team, { clientUserId: 'vanishing' }, { live: true }))?.user.id, u.user.id);
    });

    test('creates racing deletes of the holder: each create wins or names a holder; never two live holders', async () => {
      const team = await newTeam();
      for (let round = 0; round < 5; round++) {
        const h = made(team, `churn-${round}`);
        assert.ok((await repo.insert(h, {})).ok);
        const contenders = Array.from({ length: 6 }, () => made(team, `churn-${round}`));
        const [, ...results] = await Promise.all([
          repo.softDelete(team, h.user.id, new Date()),
          ...contenders.map((c) => repo.insert(c, {})),
        ]);
        const rs = results as InsertResult[];
        assert.ok(rs.filter((r) => r.ok).length <= 1, JSON.stringify(rs));
        const live = await tdb.db.kysely.selectFrom('users').select('id').where('team_id', '=', team)
          .where('client_user_id', '=', `churn-${round}`).where('deleted_at', 'is', null).execute();
        assert.equal(live.length, rs.filter((r) => r.ok).length);
        for (const r of rs) if (!r.ok) assert.equal(r.reason, 'taken');
      }
    });

    test('undo_delete respects the sandbox cap (C8): delete, create to the cap, restore is refused', async () => {
      const team = await newTeam('sandbox');
      const svc = new UsersService({ repo, sandboxUserCap: 3 });
      const ctx = { teamId: team, mode: 'sandbox' as const };
      const firsts = [];
      for (let i = 0; i < 3; i++) firsts.push(await svc.create(ctx, { clientUserId: `r1-${i}` }));
      for (const v of firsts) await svc.delete(team, v.user.id);
      for (let i = 0; i < 3; i++) await svc.create(ctx, { clientUserId: `r2-${i}` });
      for (const v of firsts) {
        await assert.rejects(svc.undoDelete(ctx, { userId: v.user.id }), (e: Error & { code?: string }) => e.code === 'sandbox_user_cap');
      }
      assert.equal(await liveCount(team), 3, 'the cap holds');
      // Concurrent restores with room for one: one is restored.
      await svc.remove(team, { clientUserId: 'r2-0' });
      const rs = await Promise.allSettled(firsts.map((v) => svc.undoDelete(ctx, { userId: v.user.id })));
      assert.equal(rs.filter((r) => r.status === 'fulfilled').length, 1);
      assert.equal(await liveCount(team), 3);
      // Without a cap (a production team) a restore needs no room.
      const left = await tdb.db.kysely.selectFrom('users').select('client_user_id').where('team_id', '=', team)
        .where('client_user_id', 'like', 'r1-%').where('deleted_at', 'is not', null).execute();
      assert.equal(left.length, 2);
      assert.equal(await repo.restore(team, { clientUserId: left[0]!.client_user_id }, new Date(0), new Date()), 'ok');
      assert.equal(await liveCount(team), 4);
    });

    test('numbers are per team (C12): a team\'s first user is 1 whatever other teams created', async () => {
      const a = await newTeam();
      const b = await newTeam();
      for (let i = 0; i < 3; i++) assert.ok((await repo.insert(made(a, `a-${i}`), {})).ok);
      const first = await repo.insert(made(b, null), { nameFromNumber: true });
      assert.deepEqual(first, { ok: true, number: 1, clientUserId: 'basic:1' });
      assert.ok((await repo.insert(made(a, null), { nameFromNumber: true })).ok);
      assert.deepEqual(await numbers(a), [1, 2, 3, 4]);
      assert.deepEqual(await numbers(b), [1]);
      // Never reused: the highest number deleted for good is not given again.
      await tdb.db.kysely.deleteFrom('users').where('team_id', '=', a).where('basic_id', '=', 4).execute();
      assert.ok((await repo.insert(made(a, 'a-next'), {})).ok);
      assert.deepEqual(await numbers(a), [1, 2, 3, 5]);
      // A bulk batch draws from the team's sequence too, in row order.
      const batch = await insertBatch(tdb.db.kysely, b, [made(b, 'b-1'), made(b, 'b-2')].map(importRow));
      assert.equal(batch.inserted.size, 2);
      assert.deepEqual(await numbers(b), [1, 2, 3]);
    });

    test('a team without a sequence (loaded by a restore) gets one on first use, after its highest number; concurrent first creates all succeed', async () => {
      const team = await newTeam();
      for (let i = 0; i < 3; i++) assert.ok((await repo.insert(made(team, `s-${i}`), {})).ok);
      await sql.raw(`drop sequence users_basic_id_${team.replaceAll('-', '')}`).execute(tdb.db.kysely);
      const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => repo.insert(made(team, `p-${i}`), {})));
      assert.ok(rs.every((r) => r.ok), JSON.stringify(rs));
      assert.deepEqual(await numbers(team), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    });

    test('emptying users (a restore does) drops the per-team sequences; numbering goes on from the rows loaded', async () => {
      const team = await newTeam();
      assert.ok((await repo.insert(made(team, 'x'), {})).ok);
      const seqs = async () => (await sql<{ n: number }>`select count(*)::int as n from pg_class where relkind = 'S' and relname ~ '^users_basic_id_[0-9a-f]{32}$'`.execute(tdb.db.kysely)).rows[0]!.n;
      assert.ok((await seqs()) > 0);
      await sql`truncate users cascade`.execute(tdb.db.kysely);
      assert.equal(await seqs(), 0);
      await tdb.db.kysely.insertInto('users').values({ ...importRow(made(team, 'restored')), basic_id: 41 }).execute();
      const r = await repo.insert(made(team, null), { nameFromNumber: true });
      assert.deepEqual(r, { ok: true, number: 42, clientUserId: 'basic:42' });
    });
  });
}
