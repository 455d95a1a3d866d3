// DELETE /users/{userId}: irreversible (docs/faces.md: a hard delete of the shared user); 204.
import { Type } from 'typebox';
import type { TypeBoxApp as BasicApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { UserIdParams } from '../schemas.ts';
import { VISIBLE } from '../visible.ts';

export function deleteUser(app: BasicApp, { users }: Services) {
  app.delete('/users/:userId', {
    config: { rateLimit: false },
    schema: { operationId: 'deleteOneUser', summary: 'Delete a user by ID', tags: ['users'], params: UserIdParams, response: { 204: Type.Unsafe<void>({ type: 'null', description: 'Deleted (no body)' }) } },
  }, async (req, reply) => {
    req.auditUserId = await users.remove(req.principal.teamId, { number: Number(req.params.userId) }, VISIBLE);
    return reply.code(204).send();
  });
}
