// 8 — PUT /users/{user_id}/data_syncs (extension): upsert one entry keyed by (provider, data_type,
// sync_type); connects the provider if needed. Order: 400 → 404 → 422.
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import type { AjvError } from '../../validation.ts';
import { DataSync, DataSyncBody, UserIdParams } from '../schemas.ts';
import { renderDataSync } from '../render.ts';
import { ajvDetails, sendError, validationError } from '../errors.ts';

export function putDataSync(app: OnvyApp, { users }: Services) {
  app.put('/users/:user_id/data_syncs', {
    config: { onvyScope: 'users:update' },
    attachValidation: true,
    schema: { operationId: 'putDataSync', summary: 'Record a data sync entry', tags: ['data_syncs'], params: UserIdParams, body: DataSyncBody, response: { 200: DataSync } },
  }, async (req, reply) => {
    const teamId = req.principal.teamId;
    if (req.body === undefined) return sendError(reply, 400, 'BadRequest', 'Request body must be a JSON object.');
    const ve = req.validationError as (Error & { validation?: AjvError[] }) | undefined;
    if (ve) {
      await users.getByClientId(teamId, req.params.user_id); // 404 wins over 422
      return validationError(reply, ajvDetails(ve.validation ?? []));
    }
    const b = req.body;
    const s = await users.recordSync(teamId, req.params.user_id, { provider: b.provider, dataType: b.data_type, syncType: b.sync_type, status: b.status });
    req.auditUserId = s.userId;
    return renderDataSync(s);
  });
}
