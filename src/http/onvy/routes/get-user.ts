// 3 — GET /users/{user_id}
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { User, UserIdParams } from '../schemas.ts';
import { renderUser } from '../render.ts';

export function getUser(app: OnvyApp, { users }: Services) {
  app.get('/users/:user_id', {
    config: { onvyScope: 'users:read' },
    schema: { operationId: 'getUser', summary: 'Get a user', tags: ['users'], params: UserIdParams, response: { 200: User } },
  }, async (req) => renderUser(await users.getByClientId(req.principal.teamId, req.params.user_id)));
}
