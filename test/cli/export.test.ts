// `roster export` (src/cli/export.ts): a team's live users as JSON Lines in a stable keyset order,
// with the field names import reads, so export → import into another team gives the same users.
// On each PostgreSQL backend.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { TeamsService } from '../../src/domain/teams.ts';
import { PgTeamsRepo } from '../../src/store/teams.ts';
import { UsersService } from '../../src/domain/users/service.ts';
import { PgUsersRepo } from '../../src/store/users/repo.ts';
import { FIELDS, importUsers } from '../../src/cli/import/index.ts';
import { exportUsers } from '../../src/cli/export.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

function cli(args: string[], url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/roster.js'), ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const lines = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
/** A user as import sees it: without the ids and timestamps of the team it lives in. */
const portable = (rows: Record<string, unknown>[]) =>
  rows.map(({ user_id: _u, created_at: _c, ...rest }) => rest).sort((a, b) => String(a.client_user_id).localeCompare(String(b.client_user_id)));

for (const backend of backends()) {
  describe(`roster export (${backend.name})`, () => {
    let tdb: TestDatabase;
    let dir: string;
    let teams: TeamsService;
    let n = 0;
    const newTeam = async () => (await teams.createTeam(`export-${++n}`, 'production')).team.id;
    const exportText = async (teamId: string, pageSize?: number) => {
      let text = '';
      const out = new Writable({ write(c, _e, cb) { text += c; cb(); } });
      const r = await exportUsers({ db: tdb.db.kysely, teamId, out, ...(pageSize ? { pageSize } : {}) });
      return { text, exported: r.exported };
    };

    before(async () => {
      tdb = await freshDatabase(backend);
      teams = new TeamsService(new PgTeamsRepo(tdb.db.kysely));
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-export-'));
    });
    after(async () => {
      await tdb.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('export → import into another team → export gives the same users; deleted users stay behind; the order is stable across page sizes', async () => {
      const a = await newTeam();
      const src = path.join(dir, 'seed.jsonl');
      fs.writeFileSync(src, [
        { client_user_id: 'e-1', fallback_time_zone: 'Asia/Tokyo', fallback_birth_date: '1985-03-04', ingestion_start: '2023-01-01', ingestion_end: '2025-01-01' },
        { client_user_id: 'e-2, with "quotes"\nand a line break', first_name: 'Zoë', last_name: 'Ng', email: 'zoe@example.org', language: 'de', measurement_unit: 'metric',
          gender: 'other', height_cm: 172.4, weight_kg: 64.2, threshold_ftp: 231.5, threshold_lthr: 168, threshold_mhr: 187, location_lat: -33.86, location_lon: 151.21,
          coach_enabled: false, tz_offset_seconds: 36000 },
        ...Array.from({ length: 7 }, (_, i) => ({ client_user_id: `bulk-${i}`, fallback_time_zone: 'UTC' })),
      ].map((r) => JSON.stringify(r)).join('\n') + '\n');
      assert.equal((await importUsers({ db: tdb.db.kysely, teamId: a, file: src, batchSize: 3 })).imported, 9);
      // Users made through the faces are exported too; a soft-deleted one is not.
      const users = new UsersService({ repo: new PgUsersRepo(tdb.db.kysely) });
      await users.create({ teamId: a, mode: 'production' }, { clientUserId: 'api-user', fields: { fallbackTimeZone: 'America/Chicago', ingestionStart: '2024-06-01' } });
      await users.create({ teamId: a, mode: 'production' }, { clientUserId: 'onvy-user', profile: { firstName: 'On', birthday: '2000-01-01', thresholds: { ftp: 300 } } });
      await users.delete(a, (await users.resolve(a, 'bulk-3')).user.id);

      const first = await exportText(a);
      assert.equal(first.exported, 10);
      const rows = lines(first.text);
      assert.equal(rows.length, 10);
      assert.deepEqual(Object.keys(rows[0]!), [...FIELDS.map((f) => f.name), 'user_id', 'created_at'], 'import\'s field names, in one order, every key on every line');
      assert.equal(rows.some((r) => r.client_user_id === 'bulk-3'), false);
      const ids = rows.map((r) => String(r.user_id));
      assert.deepEqual(ids, [...ids].sort(), 'keyset order: by user id');
      assert.equal((await exportText(a)).text, first.text, 'stable');
      assert.equal((await exportText(a, 3)).text, first.text, 'pages of 3 give the same stream');
      assert.deepEqual(rows.find((r) => r.client_user_id === 'onvy-user'), {
        ...Object.fromEntries(FIELDS.map((f) => [f.name, null])), client_user_id: 'onvy-user', first_name: 'On', fallback_birth_date: '2000-01-01', threshold_ftp: 300,
        user_id: rows.find((r) => r.client_user_id === 'onvy-user')!.user_id, created_at: rows.find((r) => r.client_user_id === 'onvy-user')!.created_at,
      });

      const file = path.join(dir, 'a.jsonl');
      fs.writeFileSync(file, first.text);
      const b = await newTeam();
      const s = await importUsers({ db: tdb.db.kysely, teamId: b, file });
      assert.deepEqual([s.read, s.imported, s.rejected], [10, 10, 0]);
      const again = lines((await exportText(b)).text);
      assert.deepEqual(portable(again), portable(rows));
      assert.equal(again.some((r) => ids.includes(String(r.user_id))), false, 'the new team\'s users have ids of their own');
      assert.deepEqual(lines((await exportText(await newTeam())).text), [], 'an empty team exports nothing');
    });

    test('a reader that goes away (EPIPE) ends the export with that error: no hang, no unhandled error event', async () => {
      const a = await newTeam();
      const users = new UsersService({ repo: new PgUsersRepo(tdb.db.kysely) });
      for (let i = 0; i < 5; i++) await users.create({ teamId: a, mode: 'production' }, { clientUserId: `gone-${i}` });
      let writes = 0;
      const out = new Writable({ write(_c, _e, cb) { writes++; cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })); } });
      await assert.rejects(exportUsers({ db: tdb.db.kysely, teamId: a, out, pageSize: 2 }), (e: NodeJS.ErrnoException) => e.code === 'EPIPE');
      assert.equal(writes, 1, 'no page is written after the error');
    });

    test('the command: JSON Lines on stdout, or --out FILE with a summary line; an unknown team fails', async () => {
      const a = await newTeam();
      const users = new UsersService({ repo: new PgUsersRepo(tdb.db.kysely) });
      for (let i = 0; i < 3; i++) await users.create({ teamId: a, mode: 'production' }, { clientUserId: `cli-${i}` });
      const expected = (await exportText(a)).text;
      const out = path.join(dir, 'out.jsonl');
      const [toStdout, toFile, unknown] = await Promise.all([
        cli(['export', '--team', a], tdb.url),
        cli(['export', '--team', a, '--out', out], tdb.url),
        cli(['export', '--team', '01a20b67-bab4-7641-a757-e60b7bcbd06a'], tdb.url),
      ]);
      assert.equal(toStdout.code, 0, toStdout.stderr);
      assert.equal(toStdout.stdout, expected);
      assert.equal(toFile.code, 0, toFile.stderr);
      assert.deepEqual(JSON.parse(toFile.stdout), { team_id: a, exported: 3, file: out });
      assert.equal(fs.readFileSync(out, 'utf8'), expected);
      assert.equal(fs.existsSync(`${out}.partial`), false);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /team .* not found/);
    });
  });
}
