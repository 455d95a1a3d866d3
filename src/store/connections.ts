// PostgreSQL implementation of the domain's ConnectionsRepo.
import type { Kysely, Selectable } from 'kysely';
import type { Database, DevicesTable } from '../db/schema.ts';
import type { ConnectionsRepo, Device, NewConnection } from '../domain/connections.ts';
import { withRetry } from './errors.ts';

const toDevice = (r: Selectable<DevicesTable>): Device => ({
  id: r.id, userId: r.user_id, provider: r.provider, sourceType: r.source_type, appId: r.app_id,
  manufacturer: r.manufacturer, model: r.model, version: r.version, deviceId: r.device_id, createdAt: r.created_at,
});

const resourcesJson = (c: NewConnection) => JSON.stringify(Object.fromEntries(Object.entries(c.resources).map(([k, v]) => [k, {
  status: v.status,
  scope_requirements: v.scopeRequirements && { user_granted: v.scopeRequirements.userGranted, user_denied: v.scopeRequirements.userDenied },
}])));

/** Locks the user row (live or not) for the rest of the transaction. */
export const lockUser = (tx: Kysely<Database>, teamId: string, userId: string) =>
  tx.selectFrom('users').select('id').where('team_id', '=', teamId).where('id', '=', userId).forUpdate().executeTakeFirst();

export class PgConnectionsRepo implements ConnectionsRepo {
  constructor(private readonly db: Kysely<Database>) {}

  connect(teamId: string, userId: string, c: NewConnection, device: Device | null) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      // Lock the live user so a concurrent delete cannot leave a connection behind.
      const u = await tx.selectFrom('users').select('id').where('team_id', '=', teamId).where('id', '=', userId).where('deleted_at', 'is', null).forUpdate().executeTakeFirst();
      if (!u) return false;
      const conn = await tx.insertInto('connections').values({
        team_id: teamId, user_id: userId, provider: c.provider, id: c.id, status: c.status,
        external_user_id: c.externalUserId, resources: resourcesJson(c), demo: c.demo, created_at: c.createdAt,
      }).onConflict((oc) => oc.columns(['team_id', 'user_id', 'provider']).doNothing()).returning('id').executeTakeFirst();
      let dev: { id: string } | undefined;
      if (device) {
        dev = await tx.insertInto('devices').values({
          team_id: teamId, user_id: userId, id: device.id, provider: device.provider, source_type: device.sourceType, app_id: device.appId,
          manufacturer: device.manufacturer, model: device.model, version: device.version, device_id: device.deviceId, created_at: device.createdAt,
        }).onConflict((oc) => oc.columns(['team_id', 'user_id', 'provider', 'device_id']).doNothing()).returning('id').executeTakeFirst();
      }
      return { connected: conn !== undefined, deviceAdded: dev !== undefined };
    }));
  }

  disconnect(teamId: string, userId: string, provider: string) {
    return withRetry(() => this.db.transaction().execute(async (tx) => {
      // The user row first, as connect does: the delete's trigger updates the user's connection
      // count (0017), and taking the two locks in the other order than connect could deadlock.
      await lockUser(tx, teamId, userId);
      const r = await tx.deleteFrom('connections').where('team_id', '=', teamId).where('user_id', '=', userId).where('provider', '=', provider).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    }));
  }

  async listDevices(teamId: string, userId: string) {
    const rows = await this.db.selectFrom('devices').selectAll().where('team_id', '=', teamId).where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute();
    return rows.map(toDevice);
  }

  async getDevice(teamId: string, userId: string, deviceId: string) {
    const r = await this.db.selectFrom('devices').selectAll().where('team_id', '=', teamId).where('user_id', '=', userId).where('id', '=', deviceId).executeTakeFirst();
    return r ? toDevice(r) : null;
  }
}
