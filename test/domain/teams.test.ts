// Teams and API keys (src/domain/teams.ts): key format and entropy, hashing, display prefixes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TeamsService, checkTeamName, displayPrefix, generateKey, hashKey, type ApiKey, type Team, type TeamsRepo } from '../../src/domain/teams.ts';
import { DomainError } from '../../src/domain/errors.ts';

describe('generateKey', () => {
  test('sandbox and production keys carry their type prefix and 32 random bytes (base64url)', () => {
    const s = generateKey('sandbox');
    const p = generateKey('production');
    assert.match(s, /^sk_rst_[A-Za-z0-9_-]{43}$/);
    assert.match(p, /^pk_rst_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(s.slice(7), 'base64url').length, 32);
  });

  test('keys do not repeat and their secret part looks random', () => {
    const keys = Array.from({ length: 2000 }, () => generateKey('sandbox'));
    assert.equal(new Set(keys).size, keys.length);
    // Every base64url character position should vary across keys (a constant or counter would not).
    for (let i = 7; i < 7 + 42; i++) {
      const chars = new Set(keys.map((k) => k[i]));
      assert.ok(chars.size > 40, `position ${i} takes only ${chars.size} values`);
    }
    // Roughly uniform bits: the share of 1 bits over all keys stays near one half.
    let ones = 0;
    let bits = 0;
    for (const k of keys) {
      for (const byte of Buffer.from(k.slice(7), 'base64url')) {
        for (let b = 0; b < 8; b++) ones += (byte >> b) & 1;
        bits += 8;
      }
    }
    assert.ok(Math.abs(ones / bits - 0.5) < 0.01, `bit balance ${ones / bits}`);
  });
});

describe('hashKey', () => {
  test('is SHA-256 of the UTF-8 key, 32 bytes, deterministic', () => {
    const k = generateKey('sandbox');
    assert.equal(hashKey(k).length, 32);
    assert.deepEqual(hashKey(k), hashKey(k));
    assert.deepEqual(hashKey(k), createHash('sha256').update(k).digest());
    assert.notDeepEqual(hashKey(k), hashKey(k + 'x'));
    assert.deepEqual(hashKey('€'), createHash('sha256').update(Buffer.from([0xe2, 0x82, 0xac])).digest());
  });
});

describe('displayPrefix', () => {
  test('shows the type prefix and a few characters, never the whole secret', () => {
    for (const mode of ['sandbox', 'production'] as const) {
      const k = generateKey(mode);
      const p = displayPrefix(k);
      assert.ok(k.startsWith(p));
      assert.ok(p.startsWith(mode === 'sandbox' ? 'sk_rst_' : 'pk_rst_'));
      assert.ok(p.length > 7, 'some secret characters help tell keys apart');
      assert.ok(k.length - p.length >= 32, `at least 32 secret characters stay hidden (hidden: ${k.length - p.length})`);
    }
  });

  test('a custom (bootstrap) key shows at most a quarter of itself', () => {
    for (const k of ['0123456789abcdef', 'bootstrap-key-0123', 'sk_us_0123456789abcdef', 'x'.repeat(16), 'y'.repeat(200)]) {
      const p = displayPrefix(k);
      assert.ok(k.startsWith(p));
      assert.ok(p.length <= k.length / 4, `${k} → ${p}`);
    }
    assert.equal(displayPrefix('0123456789abcdef'), '0123');
  });
});

describe('checkTeamName', () => {
  test('accepts ordinary names and refuses empty, overlong, control characters and non-strings', () => {
    assert.equal(checkTeamName('Acme Health'), null);
    assert.equal(checkTeamName('é'.repeat(200)), null);
    for (const bad of ['', '   ', 'x'.repeat(201), 'a\u0000b', 'a\nb', 42, null, undefined]) {
      assert.equal(typeof checkTeamName(bad), 'string', JSON.stringify(bad));
    }
  });
});

class MemTeams implements TeamsRepo {
  teams: (Team & { limit?: number | null })[] = [];
  keys: { key: ApiKey; hash: Buffer }[] = [];
  async insertTeam(t: Team) { this.teams.push(t); }
  async insertKey(key: ApiKey, hash: Buffer) { this.keys.push({ key, hash }); }
  async listTeams() { return this.teams.map((t) => ({ ...t, keys: this.keys.filter((k) => k.key.teamId === t.id && !k.key.revokedAt).length })); }
  async findTeam(id: string) { return this.teams.find((t) => t.id === id) ?? null; }
  async findTeamByName(name: string) { return this.teams.find((t) => t.name === name) ?? null; }
  async listKeys(teamId: string) { return this.keys.filter((k) => k.key.teamId === teamId).map((k) => k.key); }
  async principalByHash(hash: Buffer) {
    const k = this.keys.find((x) => x.hash.equals(hash) && !x.key.revokedAt);
    if (!k) return null;
    const t = this.teams.find((x) => x.id === k.key.teamId)!;
    return { teamId: t.id, keyId: k.key.id, role: k.key.role, mode: t.mode, rateLimitPerMinute: t.limit ?? null };
  }
  async setRateLimit(teamId: string, perMinute: number | null) {
    const t = this.teams.find((x) => x.id === teamId);
    if (!t) return false;
    t.limit = perMinute;
    return true;
  }
  live = new Map<string, number>();
  async setMode(teamId: string, mode: Team['mode']) {
    const t = this.teams.find((x) => x.id === teamId);
    if (!t) return false;
    t.mode = mode;
    return true;
  }
  async countLiveUsers(teamId: string, upTo: number) { return Math.min(upTo, this.live.get(teamId) ?? 0); }
  async revokeKey(keyId: string, now: Date) {
    const k = this.keys.find((x) => x.key.id === keyId);
    if (!k) return null;
    k.key.revokedAt ??= now;
    return { hash: k.hash, teamId: k.key.teamId };
  }
  async ensureTeamWithKey(): Promise<never> { throw new Error('not used'); }
}

describe('TeamsService', () => {
  test('createTeam stores only the hash and a display prefix; the key authenticates', async () => {
    const repo = new MemTeams();
    const svc = new TeamsService(repo);
    const { team, apiKey, key } = await svc.createTeam('acme', 'production');
    assert.equal(team.mode, 'production');
    assert.ok(apiKey.startsWith('pk_rst_'));
    assert.equal(repo.keys.length, 1);
    assert.deepEqual(repo.keys[0]!.hash, hashKey(apiKey));
    assert.equal(key.prefix, displayPrefix(apiKey));
    assert.ok(!JSON.stringify(repo.keys[0]!.key).includes(apiKey));
    assert.deepEqual(await svc.authenticate(apiKey), { teamId: team.id, keyId: key.id, role: 'full', mode: 'production', rateLimitPerMinute: null });
    assert.equal(await svc.authenticate(apiKey + 'x'), null);
  });

  test('revoked keys stop authenticating; unknown keys and teams are errors', async () => {
    const svc = new TeamsService(new MemTeams());
    const { team, apiKey, key } = await svc.createTeam('acme');
    const second = await svc.createKey(team.id, 'read_only');
    assert.equal(second.key.role, 'read_only');
    await svc.revokeKey(key.id);
    assert.equal(await svc.authenticate(apiKey), null);
    assert.equal((await svc.authenticate(second.apiKey))?.role, 'read_only');
    await assert.rejects(svc.revokeKey('00000000-0000-4000-8000-000000000000'), (e: unknown) => e instanceof DomainError && e.code === 'key_not_found');
    await assert.rejects(svc.createKey('00000000-0000-4000-8000-000000000000'), (e: unknown) => e instanceof DomainError && e.code === 'team_not_found');
  });

  test('bad team names are refused before anything is stored', async () => {
    const repo = new MemTeams();
    const svc = new TeamsService(repo);
    await assert.rejects(svc.createTeam(''), (e: unknown) => e instanceof DomainError && e.code === 'validation_failed');
    assert.equal(repo.teams.length, 0);
  });

  test('setMode: moves a team between modes; keys keep working and show the new mode; new keys get its prefix', async () => {
    const repo = new MemTeams();
    const svc = new TeamsService(repo);
    const { team, apiKey } = await svc.createTeam('acme');
    const r = await svc.setMode(team.id, 'production');
    assert.equal(r.previous, 'sandbox');
    assert.equal(r.team.mode, 'production');
    assert.equal((await svc.authenticate(apiKey))?.mode, 'production');
    assert.match((await svc.createKey(team.id)).apiKey, /^pk_rst_/);
    // The mode it already has: nothing changes, `previous` says so.
    assert.equal((await svc.setMode(team.id, 'production')).previous, 'production');
  });

  test('setMode: bad modes and unknown teams are errors; a team over the sandbox cap stays production', async () => {
    const repo = new MemTeams();
    const svc = new TeamsService(repo, () => new Date(), { sandboxUserCap: 50 });
    const { team } = await svc.createTeam('big', 'production');
    for (const bad of ['live', '', null, 1, 'Sandbox']) {
      await assert.rejects(svc.setMode(team.id, bad), (e: unknown) => e instanceof DomainError && e.code === 'validation_failed' && e.issues[0]?.kind === 'invalid_enum', String(bad));
    }
    await assert.rejects(svc.setMode('00000000-0000-4000-8000-000000000000', 'sandbox'), (e: unknown) => e instanceof DomainError && e.code === 'team_not_found');
    repo.live.set(team.id, 51);
    await assert.rejects(svc.setMode(team.id, 'sandbox'), (e: unknown) => e instanceof DomainError && e.code === 'sandbox_user_cap' && e.cap === 50);
    assert.equal((await repo.findTeam(team.id))?.mode, 'production');
    repo.live.set(team.id, 50);
    assert.equal((await svc.setMode(team.id, 'sandbox')).team.mode, 'sandbox');
  });

  test('a bootstrap key shorter than 16 characters is refused', async () => {
    const svc = new TeamsService(new MemTeams());
    await assert.rejects(svc.ensureBootstrap('short'), (e: unknown) => e instanceof DomainError && e.code === 'validation_failed');
  });
});
