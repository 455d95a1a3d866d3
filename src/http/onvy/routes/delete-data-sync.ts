// 9 — DELETE /users/{user_id}/data_syncs/{provider} (extension): disconnect the provider.
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { ProviderParams } from '../schemas.ts';

export function deleteDataSync(app: OnvyApp, { users }: Services) {
  app.delete('/users/:user_id/data_syncs/:provider', {
    config: { onvyScope: 'users:update' },
    schema: { operationId: 'deleteDataSync', summary: 'Disconnect a provider', tags: ['data_syncs'], params: ProviderParams },
  }, async (req, reply) => {
    req.auditUserId = await users.disconnectProvider(req.principal.teamId, req.params.user_id, req.params.provider);
    return reply.code(204).send();
  });
}
