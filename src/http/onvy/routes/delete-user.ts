// 6 — DELETE /users/{user_id}: hard delete (contract §4.6); the id may be created again at once.
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { UserIdParams } from '../schemas.ts';

export function deleteUser(app: OnvyApp, { users }: Services) {
  app.delete('/users/:user_id', {
    config: { onvyScope: 'users:delete' },
    schema: { operationId: 'deleteUser', summary: 'Delete a user', tags: ['users'], params: UserIdParams },
  }, async (req, reply) => {
    req.auditUserId = await users.remove(req.principal.teamId, { clientUserId: req.params.user_id });
    return reply.code(204).send();
  });
}
