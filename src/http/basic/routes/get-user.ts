// GET /users/{userId}
import type { TypeBoxApp as BasicApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { User, UserIdParams } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { VISIBLE } from '../visible.ts';

export function getUser(app: BasicApp, { users }: Services) {
  app.get('/users/:userId', {
    config: { rateLimit: false },
    schema: { operationId: 'getOneUser', summary: 'Get a user by ID', tags: ['users'], params: UserIdParams, response: { 200: User } },
  }, async (req) => renderUser(await users.find(req.principal.teamId, { number: Number(req.params.userId) }, VISIBLE)));
}
