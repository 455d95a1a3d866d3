// `roster import` (src/cli/import/): JSON Lines and CSV, the API's rules on every row, the
// rejected-rows file, idempotent re-runs, resuming after an injected failure and after the process
// is killed, the sandbox cap, progress output and the summary line. On each PostgreSQL backend;
// the command itself runs as a child process where its wiring matters, the function elsewhere.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { TeamsService } from '../../src/domain/teams.ts';
import { PgTeamsRepo } from '../../src/store/teams.ts';
import { UsersService } from '../../src/domain/users/service.ts';
import { PgUsersRepo } from '../../src/store/users/repo.ts';
import { CsvRecordParser, ImportError, checkpointPath, importUsers, rejectedPath, type ImportOptions } from '../../src/cli/import/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(ROOT, 'bin/roster.js');

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

function startCli(args: string[], url: string): { child: ChildProcess; done: Promise<Run> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; });
  const done = new Promise<Run>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

const runCli = (args: string[], url: string) => startCli(args, url).done;

function lastJson(stdout: string): Record<string, any> {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!);
}

const jsonl = (rows: unknown[]) => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';
const readJsonl = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('CSV records (RFC 4180)', () => {
  const parse = (...lines: string[]) => {
    const p = new CsvRecordParser();
    let r: ReturnType<CsvRecordParser['feed']> = null;
    for (const l of lines) r = p.feed(l);
    return r;
  };
  test('plain, quoted, escaped quotes, empty fields', () => {
    assert.deepEqual(parse('a,"b,c","d""e",,""'), ['a', 'b,c', 'd"e', '', '']);
    assert.deepEqual(parse(''), ['']);
    assert.deepEqual(parse('x,'), ['x', '']);
  });
  test('a quoted field spans lines and keeps the line break', () => {
    const p = new CsvRecordParser();
    assert.equal(p.feed('1,"first'), null);
    assert.equal(p.open, true);
    assert.equal(p.feed('', '\r\n'), null);
    assert.deepEqual(p.feed('last",2'), ['1', 'first\n\r\nlast', '2']);
    assert.equal(p.open, false);
  });
  test('a quote inside an unquoted field is kept; text after a closing quote is an error', () => {
    assert.deepEqual(parse('O"Brien,x'), ['O"Brien', 'x']);
    assert.deepEqual(parse('"a"b,c'), { error: 'malformed CSV: unexpected "b" after a closing quote' });
  });
});

for (const backend of backends()) {
  describe(`roster import (${backend.name})`, () => {
    let tdb: TestDatabase;
    let dir: string;
    let teams: TeamsService;
    let n = 0;
    const newTeam = async (mode: 'sandbox' | 'production' = 'production') => (await teams.createTeam(`import-${++n}`, mode)).team.id;
    const file = (name: string, text: string) => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, text);
      return p;
    };
    const live = async (teamId: string) => tdb.db.kysely.selectFrom('users').selectAll().where('team_id', '=', teamId).where('deleted_at', 'is', null).orderBy('basic_id').execute();
    const run = (o: Omit<ImportOptions, 'db'>) => importUsers({ db: tdb.db.kysely, ...o });

    before(async () => {
      tdb = await freshDatabase(backend);
      teams = new TeamsService(new PgTeamsRepo(tdb.db.kysely));
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-import-'));
    });
    after(async () => {
      await tdb.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    test('JSON Lines through the command: every face\'s fields stored as the API stores them, summary on stdout, plain progress lines on stderr', async () => {
      const team = await newTeam();
      const f = file('happy.jsonl', jsonl([
        { client_user_id: 'j-1', fallback_time_zone: 'Europe/London', fallback_birth_date: '1990-05-17', ingestion_start: '2024-01-01T00:00:00Z', ingestion_end: '2024-12-31' },
        { client_user_id: 'j-2', first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', language: 'en-GB', measurement_unit: 'imperial', gender: 'female',
          height_cm: 165.5, weight_kg: 60, threshold_ftp: 250, threshold_lthr: 170, threshold_mhr: 190, location_lat: 51.5, location_lon: -0.12, coach_enabled: true, tz_offset_seconds: 3600 },
        '',
        { client_user_id: 'j-3', fallback_time_zone: null, first_name: null, user_id: 'ignored', created_at: 'ignored' },
      ]));
      const r = await runCli(['import', '--team', team, f, '--progress-interval', '0'], tdb.url);
      assert.equal(r.code, 0, r.stderr);
      const s = lastJson(r.stdout);
      assert.equal(r.stdout.trim().split('\n').length, 1, 'the summary is the only stdout line');
      assert.deepEqual({ read: s.read, imported: s.imported, skipped_existing: s.skipped_existing, rejected: s.rejected, format: s.format, rejected_file: s.rejected_file, interrupted: s.interrupted },
        { read: 3, imported: 3, skipped_existing: 0, rejected: 0, format: 'jsonl', rejected_file: null, interrupted: false });
      assert.equal(typeof s.seconds, 'number');
      assert.equal(typeof s.rows_per_second, 'number');
      assert.doesNotMatch(r.stderr, /\r/, 'no redraws when stderr is not a terminal');
      assert.match(r.stderr, /^import happy\.jsonl: 100% 3 rows read \(3 imported, 0 skipped, 0 rejected\) \d+ rows\/s done in \d+s$/m);
      assert.equal(fs.existsSync(checkpointPath(f)), false, 'a finished import leaves no checkpoint');
      assert.equal(fs.existsSync(rejectedPath(f)), false);

      const users = await live(team);
      assert.deepEqual(users.map((u) => u.client_user_id), ['j-1', 'j-2', 'j-3']);
      const nums = users.map((u) => Number(u.basic_id));
      assert.ok(nums[0]! >= 1 && nums[0]! < nums[1]! && nums[1]! < nums[2]!, `the basic face numbers them in file order: ${nums}`);
      const [u1, u2, u3] = users;
      assert.equal(u1!.fallback_time_zone, 'Europe/London');
      assert.equal(u1!.fallback_time_zone_source, 'manual');
      assert.equal(u1!.fallback_birth_date, '1990-05-17');
      assert.equal(u1!.ingestion_start, '2024-01-01', 'normalised by the domain as POST /v2/user does');
      assert.equal(u1!.ingestion_end, '2024-12-31');
      assert.equal(u3!.fallback_time_zone, null);
      const p2 = await new PgUsersRepo(tdb.db.kysely).find(team, { clientUserId: 'j-2' }, { live: true });
      assert.deepEqual(p2!.profile, {
        firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', language: 'en-GB', measurementUnit: 'imperial', gender: 'female',
        heightCm: 165.5, weightKg: 60, thresholds: { ftp: 250, lthr: 170, mhr: 190 }, location: { lat: 51.5, lon: -0.12 }, coachEnabled: true, tzOffsetSeconds: 3600,
      });
      assert.equal(u2!.created_at.getTime(), u2!.updated_at.getTime());
      // The Junction face sees them as users it created.
      const view = await new UsersService({ repo: new PgUsersRepo(tdb.db.kysely) }).resolve(team, 'j-1');
      assert.equal(view.user.fallbackTimeZone?.value, 'Europe/London');
    });

    test('CSV: BOM, CRLF, quoted commas, escaped quotes and line breaks inside quotes, empty cells, typed numbers and booleans', async () => {
      const team = await newTeam();
      const csv = '\ufeffclient_user_id,first_name,last_name,height_cm,coach_enabled,tz_offset_seconds,fallback_time_zone\r\n'
        + 'c-1,"Smith, Jane","O""Neil",170.25,TRUE,-18000,America/New_York\r\n'
        + '"c-2","Multi\r\nLine",Doe,,false,,\r\n'
        + '"c,3",,,,,,UTC';
      const f = file('happy.txt', csv);
      const s = await run({ teamId: team, file: f, format: 'csv' });
      assert.deepEqual([s.format, s.read, s.imported, s.rejected], ['csv', 3, 3, 0]);
      const users = await live(team);
      assert.deepEqual(users.map((u) => [u.client_user_id, u.first_name, u.last_name, u.height_cm, u.coach_enabled, u.tz_offset_seconds, u.fallback_time_zone]), [
        ['c-1', 'Smith, Jane', 'O"Neil', 170.25, true, -18000, 'America/New_York'],
        ['c-2', 'Multi\r\nLine', 'Doe', null, false, null, null],
        ['c,3', null, null, null, null, null, 'UTC'],
      ]);
    });

    test('bad rows go to FILE.rejected.jsonl with line and reasons; the others are imported; a re-run skips every row and rejects the same rows again', async () => {
      const team = await newTeam();
      const rows = [
        { client_user_id: 'ok-1', email: 'Same@Example.com' },                           // 1
        { client_user_id: 'bad-tz', fallback_time_zone: 'Mars/Olympus' },                  // 2
        { client_user_id: 'bad-date', fallback_birth_date: '2023-02-30' },                 // 3
        { client_user_id: 'x'.repeat(1025) },                                              // 4
        { client_user_id: 'nul\u0000id' },                                                 // 5
        { client_user_id: 'ok-1' },                                                        // 6 duplicate in file
        '{"client_user_id": "broken"',                                                     // 7 not JSON
        { client_user_id: 'order', ingestion_start: '2024-02-01', ingestion_end: '2024-01-01' }, // 8
        { client_user_id: 'profile', height_cm: -3, gender: 'robot', email: 'nope', location_lat: 91 }, // 9
        { client_user_id: 'typo', fallback_timezone: 'UTC' },                              // 10 unknown field
        { client_user_id: 'same-email', email: 'same@EXAMPLE.com' },                       // 11 duplicate e-mail in file
        { fallback_time_zone: 'UTC' },                                                     // 12 no client id
        { client_user_id: 42 },                                                            // 13 wrong type
        '[1,2]',                                                                           // 14 not an object
        { client_user_id: 'ok-2', fallback_time_zone: 'UTC' },                             // 15
        { client_user_id: '€'.repeat(341) + 'a' },                                         // 16 exactly 1024 bytes: fine
      ];
      const f = file('mixed.jsonl', jsonl(rows));
      const s = await run({ teamId: team, file: f, batchSize: 4 });
      assert.deepEqual([s.read, s.imported, s.skipped_existing, s.rejected], [16, 3, 0, 13]);
      assert.equal(s.rejected_file, rejectedPath(f));
      const users = await live(team);
      assert.deepEqual(users.map((u) => u.client_user_id).sort(), ['ok-1', 'ok-2', '€'.repeat(341) + 'a'].sort());

      const rej = readJsonl(rejectedPath(f));
      const byLine = new Map(rej.map((x) => [x.line, x]));
      assert.deepEqual([...byLine.keys()], [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], 'in file order, each once');
      const kinds = (line: number) => byLine.get(line)!.reasons.map((r: any) => `${r.field}:${r.kind}`);
      assert.deepEqual(kinds(2), ['fallback_time_zone:invalid_time_zone']);
      assert.deepEqual(kinds(3), ['fallback_birth_date:invalid_date']);
      assert.match(byLine.get(3)!.reasons[0].message, /day value is outside expected range/);
      assert.deepEqual(kinds(4), ['client_user_id:too_long']);
      assert.equal(byLine.get(4)!.reasons[0].limit, 1024);
      assert.deepEqual(kinds(5), ['client_user_id:invalid_chars']);
      assert.deepEqual(kinds(6), ['client_user_id:duplicate_in_file']);
      assert.match(byLine.get(6)!.reasons[0].message, /line 1/);
      assert.deepEqual(kinds(7), ['null:invalid_json']);
      assert.equal(byLine.get(7)!.row, '{"client_user_id": "broken"', 'an unreadable line is kept as text');
      assert.deepEqual(kinds(8), ['null:order']);
      assert.deepEqual(kinds(9).sort(), ['email:invalid', 'gender:invalid_enum', 'height_cm:invalid', 'location_lat:invalid'].sort());
      assert.deepEqual(kinds(10), ['fallback_timezone:unknown_field']);
      assert.deepEqual(kinds(11), ['email:duplicate_in_file']);
      assert.deepEqual(kinds(12), ['client_user_id:missing']);
      assert.deepEqual(kinds(13), ['client_user_id:type']);
      assert.deepEqual(kinds(14), ['null:invalid_json']);
      assert.deepEqual(byLine.get(2)!.row, rows[1], 'the original row is kept');
      assert.deepEqual(byLine.get(5)!.row, rows[4], 'including a NUL character');

      const again = await run({ teamId: team, file: f, batchSize: 4 });
      assert.deepEqual([again.read, again.imported, again.skipped_existing, again.rejected], [16, 0, 3, 13]);
      assert.equal((await live(team)).length, 3, 'nothing duplicated');
      assert.equal(readJsonl(rejectedPath(f)).length, 13, 'the rejected file is rewritten, not appended to');
    });

    test('CSV: a bad header stops before anything is written; a row with the wrong field count, bad numbers or an unterminated quote is rejected', async () => {
      const team = await newTeam();
      const bad = file('bad-header.csv', 'client_user_id,favourite_colour\nx,blue\n');
      await assert.rejects(run({ teamId: team, file: bad }), (e: Error) => e instanceof ImportError && /unknown column\(s\) "favourite_colour"/.test(e.message));
      const noId = file('no-id.csv', 'first_name\nAda\n');
      await assert.rejects(run({ teamId: team, file: noId }), /client_user_id column is required/);
      const f = file('rows.csv', 'client_user_id,height_cm,coach_enabled\nr-1,12x,yes\nr-2,1,true,extra\nr-3,2,false\n"r-4,3,true\n');
      const s = await run({ teamId: team, file: f });
      assert.deepEqual([s.read, s.imported, s.rejected], [4, 1, 3]);
      const rej = readJsonl(rejectedPath(f));
      assert.deepEqual(rej.map((x) => [x.line, x.reasons.map((r: any) => `${r.field}:${r.kind}`)]), [
        [2, ['height_cm:type', 'coach_enabled:type']],
        [3, ['null:invalid_csv']],
        [5, ['null:invalid_csv']],
      ]);
      assert.deepEqual(rej[0].row, { client_user_id: 'r-1', height_cm: '12x', coach_enabled: 'yes' }, 'a CSV row is kept as header → cell');
      assert.match(rej[2].reasons[0].message, /unterminated quoted field/);
      assert.equal(fs.existsSync(path.join(dir, 'bad-header.csv.rejected.jsonl')), false);
    });

    test('an e-mail another live user of the team has (any case) is rejected as email_taken; a user soft-deleted through the API can be imported again', async () => {
      const team = await newTeam();
      await run({ teamId: team, file: file('first.jsonl', jsonl([{ client_user_id: 'holder', email: 'taken@example.com' }, { client_user_id: 'gone' }])) });
      const users = new UsersService({ repo: new PgUsersRepo(tdb.db.kysely) });
      await users.delete(team, (await users.resolve(team, 'gone')).user.id);
      const f = file('second.jsonl', jsonl([{ client_user_id: 'other', email: 'TAKEN@example.com' }, { client_user_id: 'gone' }, { client_user_id: 'holder' }]));
      const s = await run({ teamId: team, file: f });
      assert.deepEqual([s.imported, s.skipped_existing, s.rejected], [1, 1, 1]);
      assert.deepEqual(readJsonl(rejectedPath(f)).map((x) => [x.line, x.reasons[0].field, x.reasons[0].kind]), [[1, 'email', 'email_taken']]);
    });

    test('a sandbox team stops at the server\'s user cap; the rows over it are rejected with sandbox_user_cap', async () => {
      const team = await newTeam('sandbox');
      const f = file('cap.jsonl', jsonl(Array.from({ length: 8 }, (_, i) => ({ client_user_id: `cap-${i}` }))));
      const s = await run({ teamId: team, file: f, sandboxUserCap: 5, batchSize: 3 });
      assert.deepEqual([s.imported, s.rejected], [5, 3]);
      assert.deepEqual(readJsonl(rejectedPath(f)).map((x) => [x.line, x.reasons[0].kind, x.reasons[0].limit]), [[6, 'sandbox_user_cap', 5], [7, 'sandbox_user_cap', 5], [8, 'sandbox_user_cap', 5]]);
      const prod = await newTeam('production');
      assert.equal((await run({ teamId: prod, file: f, sandboxUserCap: 5 })).imported, 8, 'production teams have no cap');
    });

    test('an injected failure after 3 committed batches, then a resume: every row exactly once, counts and rejected file continue', async () => {
      const team = await newTeam();
      const rows = Array.from({ length: 100 }, (_, i) => (i % 10 === 9 ? { client_user_id: `r-${i}`, fallback_time_zone: 'Nowhere/Land' } : { client_user_id: `r-${i}` }));
      const f = file('resume.jsonl', jsonl(rows));
      await assert.rejects(run({ teamId: team, file: f, batchSize: 10, afterBatch: (b) => { if (b === 3) throw new Error('injected failure'); } }), /injected failure/);
      const cp = JSON.parse(fs.readFileSync(checkpointPath(f), 'utf8'));
      assert.equal(cp.line, 30);
      assert.equal(cp.offset, Buffer.byteLength(jsonl(rows.slice(0, 30))));
      assert.deepEqual(cp.counts, { read: 30, imported: 27, skipped_existing: 0, rejected: 3 });
      assert.equal((await live(team)).length, 27);
      // Rows of a batch that never committed may have reached the rejected file: the resume cuts them off.
      fs.appendFileSync(rejectedPath(f), '{"line":40,"row":"stale"}\n');

      const s = await run({ teamId: team, file: f, batchSize: 10 });
      assert.equal(s.resumed_after_line, 30);
      assert.deepEqual([s.read, s.imported, s.skipped_existing, s.rejected], [100, 90, 0, 10]);
      const ids = (await live(team)).map((u) => u.client_user_id);
      assert.equal(ids.length, 90);
      assert.equal(new Set(ids).size, 90);
      assert.deepEqual(readJsonl(rejectedPath(f)).map((x) => x.line), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
      assert.equal(fs.existsSync(checkpointPath(f)), false);
    });

    test('a checkpoint for a file that changed is refused; --restart starts over', async () => {
      const team = await newTeam();
      const f = file('changed.jsonl', jsonl(Array.from({ length: 20 }, (_, i) => ({ client_user_id: `ch-${i}` }))));
      await assert.rejects(run({ teamId: team, file: f, batchSize: 5, afterBatch: (b) => { if (b === 1) throw new Error('stop'); } }), /stop/);
      fs.appendFileSync(f, JSON.stringify({ client_user_id: 'ch-new' }) + '\n');
      await assert.rejects(run({ teamId: team, file: f, batchSize: 5 }), (e: Error) => e instanceof ImportError && /changed since the interrupted import.*--restart/.test(e.message));
      const other = await newTeam();
      await assert.rejects(run({ teamId: other, file: f, batchSize: 5 }), /belongs to an import into team/);
      const s = await run({ teamId: team, file: f, batchSize: 5, restart: true });
      assert.deepEqual([s.read, s.imported, s.skipped_existing, s.resumed_after_line], [21, 16, 5, null]);
    });

    test('killed mid-import (SIGKILL), then interrupted (SIGINT: commits its batch, exit 130), then run to the end: every row exactly once', async () => {
      const team = await newTeam();
      const total = 6000;
      const rows = Array.from({ length: total }, (_, i) => ({ client_user_id: `k-${i}`, fallback_time_zone: 'UTC', first_name: `N${i}` }));
      const f = file('kill.jsonl', jsonl(rows));
      const cp = checkpointPath(f);
      const args = ['import', '--team', team, f, '--batch-size', '100', '--progress-interval', '0'];
      const waitFor = async (p: { done: Promise<Run> }, ok: () => boolean) => {
        let exited = false;
        void p.done.then(() => { exited = true; });
        while (!ok()) {
          assert.equal(exited, false, 'the import finished before it could be interrupted');
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      const cpLine = () => { try { return JSON.parse(fs.readFileSync(cp, 'utf8')).line as number; } catch { return 0; } };

      const first = startCli(args, tdb.url);
      await waitFor(first, () => cpLine() > 0);
      first.child.kill('SIGKILL');
      const r1 = await first.done;
      assert.equal(r1.signal, 'SIGKILL');
      const after1 = cpLine();
      assert.ok(after1 > 0 && after1 < total);

      const second = startCli(args, tdb.url);
      await waitFor(second, () => cpLine() > after1);
      second.child.kill('SIGINT');
      const r2 = await second.done;
      assert.equal(r2.code, 130, r2.stderr);
      const s2 = lastJson(r2.stdout);
      assert.equal(s2.interrupted, true);
      assert.equal(s2.resumed_after_line, after1);
      assert.match(r2.stderr, /run the same command again to continue/);
      assert.ok(fs.existsSync(cp), 'the checkpoint is kept for the next run');

      const r3 = await runCli(args, tdb.url);
      assert.equal(r3.code, 0, r3.stderr);
      const s3 = lastJson(r3.stdout);
      assert.equal(s3.read, total);
      assert.equal(s3.rejected, 0);
      assert.equal(s3.imported + s3.skipped_existing, total, 'rows of a batch committed just before the kill are skipped, not doubled');
      const users = await live(team);
      assert.equal(users.length, total);
      assert.deepEqual(new Set(users.map((u) => u.client_user_id)), new Set(rows.map((r) => r.client_user_id)));
      assert.equal(new Set(users.map((u) => Number(u.basic_id))).size, total, 'basic numbers stay unique');
      assert.equal(fs.existsSync(cp), false);
    });

    test('progress on a terminal: one line redrawn with \\r, a bar, rate and ETA, then a final newline', async () => {
      const team = await newTeam();
      const f = file('tty.jsonl', jsonl(Array.from({ length: 50 }, (_, i) => ({ client_user_id: `t-${i}` }))));
      let out = '';
      const stream = new Writable({ write(c, _e, cb) { out += c; cb(); } });
      await run({ teamId: team, file: f, batchSize: 10, progress: { stream, tty: true } });
      assert.match(out, /^\r\x1b\[Ktty\.jsonl \[[█░]{24}\] +\d+%  \d+ rows  [\d,]+ rows\/s  ETA \S+/);
      assert.match(out, /\r\x1b\[Ktty\.jsonl \[█{24}\] 100%  50 rows  [\d,]+ rows\/s  done in \d+s\n$/);
      assert.equal(out.split('\n').length, 2, 'one line on the terminal');
    });

    test('an unknown team and a missing file are refused', async () => {
      const f = file('one.jsonl', jsonl([{ client_user_id: 'a' }]));
      await assert.rejects(run({ teamId: '01a20b67-bab4-7641-a757-e60b7bcbd06a', file: f }), /team .* not found/);
      await assert.rejects(run({ teamId: await newTeam(), file: path.join(dir, 'missing.jsonl') }), /cannot open/);
    });
  });
}
