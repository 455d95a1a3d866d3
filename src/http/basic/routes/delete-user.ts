// DELETE /users/{userId}: irreversible (docs/faces.md: a hard delete of the shared user); 204.
import { Type } from 'typebox';
import type { TypeBoxApp as BasicApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { UserIdParams } from '../schemas.ts';

export function deleteUser(app: BasicApp, { profiles }: Services) {
  app.delete('/users/:userId', {
    config: { rateLimit: false },
    schema: { operationId: 'deleteOneUser', summary: 'Delete a user by ID', tags: ['users'], params: UserIdParams, response: { 204: Type.Unsafe<void>({ type: 'null', description: 'Deleted (no body)' }) } },
  }, async (req, reply) => {
    req.auditUserId = await profiles.delete(req.principal.teamId, { basicId: Number(req.params.userId) });
    return reply.code(204).send();
  });
}
