// U1 — GET /v2/user?offset=&limit=
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { ListUsersQuery, PaginatedUsersResponse } from '../schemas.ts';
import { renderUser } from '../render.ts';

export function listUsers(app: JunctionApp, { users }: Services) {
  app.get('/v2/user', {
    schema: { operationId: 'listUsers', summary: 'List team users', tags: ['user'], querystring: ListUsersQuery, response: { 200: PaginatedUsersResponse } },
  }, async (req) => {
    const { offset, limit } = req.query;
    const page = await users.list(req.principal.teamId, offset, limit);
    return { users: page.users.map(renderUser), total: page.total, offset, limit };
  });
}
