// PostgreSQL implementation of the domain's TeamsRepo.
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { ApiKey, Principal, Team, TeamsRepo } from '../domain/teams.ts';

const toTeam = (r: { id: string; name: string; mode: Team['mode']; created_at: Date }): Team => ({ id: r.id, name: r.name, mode: r.mode, createdAt: r.created_at });

export class PgTeamsRepo implements TeamsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  async insertTeam(team: Team) {
    await this.db.insertInto('teams').values({ id: team.id, name: team.name, mode: team.mode, created_at: team.createdAt }).execute();
  }

  async insertKey(key: ApiKey, hash: Buffer) {
    await this.db.insertInto('api_keys').values({ id: key.id, team_id: key.teamId, hash, prefix: key.prefix, role: key.role, created_at: key.createdAt, revoked_at: null }).execute();
  }

  async listTeams() {
    const rows = await this.db.selectFrom('teams')
      .select(['id', 'name', 'mode', 'created_at', sql<number>`(select count(*) from api_keys k where k.team_id = teams.id and k.revoked_at is null)`.as('keys')])
      .orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ ...toTeam(r), keys: Number(r.keys) }));
  }

  async findTeam(id: string) {
    const r = await this.db.selectFrom('teams').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toTeam(r) : null;
  }

  async findTeamByName(name: string) {
    const r = await this.db.selectFrom('teams').selectAll().where('name', '=', name).orderBy('created_at').limit(1).executeTakeFirst();
    return r ? toTeam(r) : null;
  }

  async listKeys(teamId: string) {
    const rows = await this.db.selectFrom('api_keys').select(['id', 'team_id', 'prefix', 'role', 'created_at', 'revoked_at'])
      .where('team_id', '=', teamId).orderBy('created_at').execute();
    return rows.map((r) => ({ id: r.id, teamId: r.team_id, prefix: r.prefix, role: r.role, createdAt: r.created_at, revokedAt: r.revoked_at }));
  }

  async principalByHash(hash: Buffer): Promise<Principal | null> {
    const r = await this.db.selectFrom('api_keys').innerJoin('teams', 'teams.id', 'api_keys.team_id')
      .select(['api_keys.id as key_id', 'api_keys.team_id', 'api_keys.role', 'teams.mode', 'teams.rate_limit_per_minute'])
      .where('api_keys.hash', '=', hash).where('api_keys.revoked_at', 'is', null).executeTakeFirst();
    return r ? { teamId: r.team_id, keyId: r.key_id, role: r.role, mode: r.mode, rateLimitPerMinute: r.rate_limit_per_minute } : null;
  }

  async setRateLimit(teamId: string, perMinute: number | null) {
    const r = await this.db.updateTable('teams').set({ rate_limit_per_minute: perMinute }).where('id', '=', teamId).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async setMode(teamId: string, mode: Team['mode']) {
    const r = await this.db.updateTable('teams').set({ mode }).where('id', '=', teamId).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async countLiveUsers(teamId: string, upTo: number) {
    // A range of users_live_created that stops after `upTo` rows.
    const r = await sql<{ n: string }>`select count(*) as n from (select 1 from users where team_id = ${teamId} and deleted_at is null limit ${upTo}) m`.execute(this.db);
    return Number(r.rows[0]!.n);
  }

  async revokeKey(keyId: string, now: Date) {
    const r = await this.db.updateTable('api_keys').set({ revoked_at: sql`coalesce(revoked_at, ${now})` })
      .where('id', '=', keyId).returning(['hash', 'team_id']).executeTakeFirst();
    return r ? { hash: r.hash, teamId: r.team_id } : null;
  }

  async ensureTeamWithKey(team: Team, key: ApiKey, hash: Buffer) {
    return this.db.transaction().execute(async (tx) => {
      // Several instances may boot at once with the same bootstrap key: serialise them.
      await sql`select pg_advisory_xact_lock(7301955002)`.execute(tx);
      const existing = await tx.selectFrom('api_keys').select(['id', 'team_id', 'revoked_at']).where('hash', '=', hash).executeTakeFirst();
      if (existing) {
        // A revoked bootstrap key stays revoked: a revocation (often an incident response) wins over
        // the environment; the start says so (server.ts).
        return { teamId: existing.team_id, keyId: existing.id, created: false, revoked: existing.revoked_at !== null };
      }
      let teamId = (await tx.selectFrom('teams').select('id').where('name', '=', team.name).orderBy('created_at').limit(1).executeTakeFirst())?.id;
      if (!teamId) {
        await tx.insertInto('teams').values({ id: team.id, name: team.name, mode: team.mode, created_at: team.createdAt }).execute();
        teamId = team.id;
      }
      await tx.insertInto('api_keys').values({ id: key.id, team_id: teamId, hash, prefix: key.prefix, role: key.role, created_at: key.createdAt, revoked_at: null }).execute();
      return { teamId, keyId: key.id, created: true, revoked: false };
    });
  }
}
