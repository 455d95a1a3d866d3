// Files the CLI writes that hold PHI or secrets (security review C1, C3): `roster backup --out`,
// `roster export --out`, and `roster import`'s checkpoint and rejected-rows files. Someone who can
// write into the output folder pre-creates the predictable names (`<out>.partial`,
// `<checkpoint>.tmp`) as symlinks to a file of ours, or as files of theirs: nothing is followed or
// reused, the victim file is untouched, and every file comes out mode 0600 even under umask 000.
// On each PostgreSQL backend (the commands run with DATABASE_URL).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { TeamsService } from '../../src/domain/teams.ts';
import { PgTeamsRepo } from '../../src/store/teams.ts';
import { createPrivateFile, writePrivateFile } from '../../src/cli/private-file.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const VICTIM_TEXT = 'root-owned important content\n';

/** Runs `roster ARGS` under umask 000, so only the code's own modes protect what it writes. */
function cli(args: string[], url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const quoted = [process.execPath, path.join(ROOT, 'bin/roster.js'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('/bin/sh', ['-c', `umask 000; exec ${quoted}`], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const mode = (p: string) => fs.lstatSync(p).mode & 0o777;

/** A file of ours that a planted symlink points at; it must come out unchanged. */
function victim(dir: string): string {
  const v = path.join(dir, 'victim.conf');
  fs.writeFileSync(v, VICTIM_TEXT, { mode: 0o600 });
  return v;
}

function assertPrivateRegular(p: string): void {
  const st = fs.lstatSync(p);
  assert.ok(st.isFile(), `${p} is a regular file, not a symlink`);
  assert.equal(mode(p), 0o600, `${p} is mode 0600`);
  assert.equal(st.uid, process.getuid!(), `${p} is owned by the user who ran the command`);
}

/** Nothing but the expected names is left in `dir` (no temporary file). */
function assertOnly(dir: string, names: string[]): void {
  assert.deepEqual(fs.readdirSync(dir).sort(), [...names].sort());
}

for (const backend of backends()) {
  describe(`private output files (${backend.name})`, () => {
    let tdb: TestDatabase;
    const dirs: string[] = [];
    let teamId: string;

    before(async () => {
      tdb = await freshDatabase(backend);
      const teams = new TeamsService(new PgTeamsRepo(tdb.db.kysely));
      teamId = (await teams.createTeam('private-files', 'production')).team.id;
    });
    after(async () => {
      await tdb.drop();
    });
    const freshDir = () => {
      dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'roster-private-')));
      return dirs[dirs.length - 1]!;
    };
    after(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

    test('roster backup --out: a planted <out>.partial symlink is not followed; the backup is 0600', async () => {
      const d = freshDir();
      const v = victim(d);
      fs.symlinkSync(v, path.join(d, 'nightly.gz.partial'));
      // A second run with <out>.partial planted as someone's own world-writable file.
      fs.writeFileSync(path.join(d, 'other.gz.partial'), '', { mode: 0o666 });
      fs.chmodSync(path.join(d, 'other.gz.partial'), 0o666);
      for (const out of ['nightly.gz', 'other.gz']) {
        const r = await cli(['backup', '--out', path.join(d, out), '--no-progress'], tdb.url);
        assert.equal(r.code, 0, r.stderr);
        assertPrivateRegular(path.join(d, out));
        assert.equal(JSON.parse(r.stdout).file, path.join(d, out));
      }
      assert.equal(fs.readFileSync(v, 'utf8'), VICTIM_TEXT, 'the symlink target was not overwritten');
      assert.equal(mode(v), 0o600);
      assert.equal(fs.statSync(path.join(d, 'other.gz.partial')).size, 0, 'the planted file got no data');
      assertOnly(d, ['victim.conf', 'nightly.gz.partial', 'nightly.gz', 'other.gz.partial', 'other.gz']);
    });

    test('roster export --out: a planted <out>.partial symlink is not followed; the export is 0600', async () => {
      const d = freshDir();
      const v = victim(d);
      fs.symlinkSync(v, path.join(d, 'team.jsonl.partial'));
      const r = await cli(['export', '--team', teamId, '--out', path.join(d, 'team.jsonl')], tdb.url);
      assert.equal(r.code, 0, r.stderr);
      assertPrivateRegular(path.join(d, 'team.jsonl'));
      assert.equal(fs.readFileSync(v, 'utf8'), VICTIM_TEXT);
      assertOnly(d, ['victim.conf', 'team.jsonl.partial', 'team.jsonl']);
    });

    test('roster import: the checkpoint\'s old temporary name planted as a symlink is not followed; rejected rows are 0600', async () => {
      const d = freshDir();
      const v = victim(d);
      const file = path.join(d, 'users.jsonl');
      fs.writeFileSync(file, [
        JSON.stringify({ client_user_id: 'pf-1', first_name: 'Dana' }),
        JSON.stringify({ client_user_id: 'pf-2', email: 'bad-email' }),
        JSON.stringify({ client_user_id: 'pf-3' }),
      ].join('\n') + '\n');
      fs.symlinkSync(v, `${file}.roster-import.json.tmp`);
      const r = await cli(['import', '--team', teamId, file, '--batch-size', '1', '--no-progress'], tdb.url);
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout) as { imported: number; rejected: number; rejected_file: string };
      assert.equal(summary.imported, 2);
      assert.equal(summary.rejected, 1);
      assert.equal(summary.rejected_file, `${file}.rejected.jsonl`);
      assertPrivateRegular(summary.rejected_file);
      assert.equal(JSON.parse(fs.readFileSync(summary.rejected_file, 'utf8')).row.client_user_id, 'pf-2');
      assert.equal(fs.readFileSync(v, 'utf8'), VICTIM_TEXT, 'the checkpoint was not written through the symlink');
      assertOnly(d, ['victim.conf', 'users.jsonl', 'users.jsonl.rejected.jsonl', 'users.jsonl.roster-import.json.tmp']);
    });
  });
}

describe('createPrivateFile', () => {
  let d: string;
  before(() => { d = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-private-unit-')); });
  after(() => fs.rmSync(d, { recursive: true, force: true }));

  test('a random name beside the target, 0600 under umask 000; commit renames, discard removes', async () => {
    const old = process.umask(0);
    try {
      const f = await createPrivateFile(path.join(d, 'a.out'));
      assert.equal(path.dirname(f.path), d);
      assert.notEqual(f.path, path.join(d, 'a.out'));
      assert.equal(mode(f.path), 0o600);
      await f.handle.write('hello');
      await f.close();
      await f.commit();
      assert.equal(fs.readFileSync(path.join(d, 'a.out'), 'utf8'), 'hello');
      assertPrivateRegular(path.join(d, 'a.out'));

      const g = await createPrivateFile(path.join(d, 'b.out'));
      await g.discard();
      assertOnly(d, ['a.out']);

      // Replacing a target that is a symlink replaces the link, not what it points at.
      const v = victim(d);
      fs.symlinkSync(v, path.join(d, 'c.out'));
      await writePrivateFile(path.join(d, 'c.out'), 'new');
      assertPrivateRegular(path.join(d, 'c.out'));
      assert.equal(fs.readFileSync(v, 'utf8'), VICTIM_TEXT);
    } finally {
      process.umask(old);
    }
  });
});
