// Teams and their API keys. A key is 32 random bytes shown once; only its SHA-256 and a short
// display prefix are stored. SHA-256 (not a slow KDF) is right here: the secret is a full-entropy
// random value, not a password, and the hash is looked up on every request.
import { createHash, randomBytes } from 'node:crypto';
import { DomainError } from './errors.ts';
import { newId } from './ids.ts';
import type { TeamMode } from './users/model.ts';

export type { TeamMode };
export type KeyRole = 'full' | 'read_only';

export interface Team {
  id: string;
  name: string;
  mode: TeamMode;
  createdAt: Date;
}

export interface ApiKey {
  id: string;
  teamId: string;
  prefix: string;
  role: KeyRole;
  createdAt: Date;
  revokedAt: Date | null;
}

/** What a valid key resolves to on each request. */
export interface Principal {
  teamId: string;
  keyId: string;
  role: KeyRole;
  mode: TeamMode;
  /** Requests per minute per key for this team; null = the server default. */
  rateLimitPerMinute: number | null;
}

export interface TeamsRepo {
  insertTeam(team: Team): Promise<void>;
  insertKey(key: ApiKey, hash: Buffer): Promise<void>;
  listTeams(): Promise<(Team & { keys: number })[]>;
  findTeam(id: string): Promise<Team | null>;
  findTeamByName(name: string): Promise<Team | null>;
  listKeys(teamId: string): Promise<ApiKey[]>;
  /** Live (not revoked) key by hash, with its team. */
  principalByHash(hash: Buffer): Promise<Principal | null>;
  /** Sets revoked_at; returns the key's hash so caches can drop it, or null if unknown. */
  revokeKey(keyId: string, now: Date): Promise<{ hash: Buffer; teamId: string } | null>;
  setRateLimit(teamId: string, perMinute: number | null): Promise<boolean>;
  setMode(teamId: string, mode: TeamMode): Promise<boolean>;
  /** Live users of the team, counted up to `upTo` (a capped index range, cheap on a big team). */
  countLiveUsers(teamId: string, upTo: number): Promise<number>;
  /** Bootstrap: ensures the team exists and holds this key (idempotent, race-safe); a revoked key stays revoked. */
  ensureTeamWithKey(team: Team, key: ApiKey, hash: Buffer): Promise<BootstrapResult>;
}

export interface BootstrapResult { teamId: string; keyId: string; created: boolean; revoked: boolean }

const KEY_PREFIX: Record<TeamMode, string> = { sandbox: 'sk_rst_', production: 'pk_rst_' };
/** Characters of a key shown in listings and banners: the type prefix plus 6 of the secret. */
const DISPLAY_CHARS = 13;

export const hashKey = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();
/**
 * Shown in listings, logs and the boot banner. A generated key keeps 43 secret characters after its
 * 13 shown; any other key (a ROSTER_BOOTSTRAP_API_KEY may be as short as 16 characters) shows at
 * most a quarter of itself, so the banner never prints nearly all of a short secret.
 */
export const displayPrefix = (key: string): string =>
  key.slice(0, /^[sp]k_rst_/.test(key) ? DISPLAY_CHARS : Math.min(DISPLAY_CHARS, Math.floor(key.length / 4)));

export function generateKey(mode: TeamMode): string {
  return KEY_PREFIX[mode] + randomBytes(32).toString('base64url');
}

export function checkTeamName(name: unknown): string | null {
  if (typeof name !== 'string' || name.trim().length === 0) return 'name must be a non-empty string';
  if (name.length > 200) return 'name must be at most 200 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(name)) return 'name must not contain control characters';
  return null;
}

export const TEAM_MODES: readonly TeamMode[] = ['sandbox', 'production'];

export interface TeamsOptions {
  /** ROSTER_SANDBOX_USER_CAP (0 = none): a team with more live users cannot become sandbox. */
  sandboxUserCap?: number;
}

export class TeamsService {
  constructor(private readonly repo: TeamsRepo, private readonly now: () => Date = () => new Date(), private readonly o: TeamsOptions = {}) {}

  async createTeam(name: string, mode: TeamMode = 'sandbox', role: KeyRole = 'full'): Promise<{ team: Team; apiKey: string; key: ApiKey }> {
    const bad = checkTeamName(name);
    if (bad) throw new DomainError('validation_failed', bad, { issues: [{ path: ['name'], kind: 'invalid', input: name, reason: bad }] });
    const now = this.now();
    const team: Team = { id: newId(now.getTime()), name, mode, createdAt: now };
    await this.repo.insertTeam(team);
    const { apiKey, key } = await this.createKey(team.id, role, team);
    return { team, apiKey, key };
  }

  async createKey(teamId: string, role: KeyRole = 'full', knownTeam?: Team): Promise<{ apiKey: string; key: ApiKey }> {
    const team = knownTeam ?? (await this.repo.findTeam(teamId));
    if (!team) throw new DomainError('team_not_found', 'Team not found');
    const apiKey = generateKey(team.mode);
    const now = this.now();
    const key: ApiKey = { id: newId(now.getTime()), teamId, prefix: displayPrefix(apiKey), role, createdAt: now, revokedAt: null };
    await this.repo.insertKey(key, hashKey(apiKey));
    return { apiKey, key };
  }

  async revokeKey(keyId: string): Promise<{ hash: Buffer; teamId: string }> {
    const r = await this.repo.revokeKey(keyId, this.now());
    if (!r) throw new DomainError('key_not_found', 'Key not found');
    return r;
  }

  listTeams() {
    return this.repo.listTeams();
  }

  /** Requests per minute per key for the team's keys; null restores the server default. */
  async setRateLimit(teamId: string, perMinute: number | null): Promise<void> {
    if (perMinute !== null && (!Number.isInteger(perMinute) || perMinute < 1 || perMinute > 10_000_000)) {
      throw new DomainError('validation_failed', 'rate limit must be an integer from 1 to 10000000 requests per minute');
    }
    if (!(await this.repo.setRateLimit(teamId, perMinute))) throw new DomainError('team_not_found', 'Team not found');
  }

  /**
   * Moves a team between sandbox and production. Its keys keep working (their `sk_`/`pk_` prefix
   * stays what it was; new keys get the new mode's). Demo connections are allowed only while the
   * team is sandbox; connections made before stay. A team holding more live users than the sandbox
   * cap cannot become sandbox (it would be over the cap at once). Setting the mode it already has
   * changes nothing (`previous` equals the mode).
   */
  async setMode(teamId: string, mode: unknown): Promise<{ team: Team; previous: TeamMode }> {
    if (mode !== 'sandbox' && mode !== 'production') {
      throw new DomainError('validation_failed', 'mode must be sandbox or production', { issues: [{ path: ['mode'], kind: 'invalid_enum', input: mode, allowed: TEAM_MODES }] });
    }
    const team = await this.repo.findTeam(teamId);
    if (!team) throw new DomainError('team_not_found', 'Team not found');
    const previous = team.mode;
    if (previous === mode) return { team, previous };
    const cap = this.o.sandboxUserCap ?? 0;
    if (mode === 'sandbox' && cap > 0 && (await this.repo.countLiveUsers(teamId, cap + 1)) > cap) {
      throw new DomainError('sandbox_user_cap', `The team has more than ${cap} live users, the most a sandbox team may hold (ROSTER_SANDBOX_USER_CAP); it stays production`, { cap });
    }
    if (!(await this.repo.setMode(teamId, mode))) throw new DomainError('team_not_found', 'Team not found');
    return { team: { ...team, mode }, previous };
  }

  listKeys(teamId: string) {
    return this.repo.listKeys(teamId);
  }

  authenticate(apiKey: string): Promise<Principal | null> {
    return this.repo.principalByHash(hashKey(apiKey));
  }

  /** ROSTER_BOOTSTRAP_API_KEY: a team named `default` holding exactly this key. */
  async ensureBootstrap(apiKey: string, name = 'default'): Promise<BootstrapResult> {
    if (apiKey.length < 16) throw new DomainError('validation_failed', 'ROSTER_BOOTSTRAP_API_KEY must be at least 16 characters');
    const now = this.now();
    const team: Team = { id: newId(now.getTime()), name, mode: 'sandbox', createdAt: now };
    const key: ApiKey = { id: newId(now.getTime()), teamId: team.id, prefix: displayPrefix(apiKey), role: 'full', createdAt: now, revokedAt: null };
    return this.repo.ensureTeamWithKey(team, key, hashKey(apiKey));
  }
}
