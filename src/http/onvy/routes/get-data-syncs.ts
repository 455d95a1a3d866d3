// 7 — GET /users/{user_id}/data_syncs (extension): the sync state only.
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { DataSyncList, UserIdParams } from '../schemas.ts';
import { renderDataSync } from '../render.ts';

export function getDataSyncs(app: OnvyApp, { users }: Services) {
  app.get('/users/:user_id/data_syncs', {
    config: { onvyScope: 'users:read' },
    schema: { operationId: 'getDataSyncs', summary: 'Get data syncs', tags: ['data_syncs'], params: UserIdParams, response: { 200: DataSyncList } },
  }, async (req) => ({ data_syncs: (await users.dataSyncs(req.principal.teamId, req.params.user_id)).map(renderDataSync) }));
}
