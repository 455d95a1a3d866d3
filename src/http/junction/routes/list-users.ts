// U1 — GET /v2/user?offset=&limit=
import type { Static } from 'typebox';
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { ListUsersQuery, PaginatedUsersResponse } from '../schemas.ts';
import { renderUser } from '../render.ts';

export function listUsers(app: JunctionApp, { users }: Services) {
  app.get('/v2/user', {
    schema: { operationId: 'listUsers', summary: 'List team users', tags: ['user'], querystring: ListUsersQuery, response: { 200: PaginatedUsersResponse } },
  }, async (req, reply) => {
    const { offset, limit } = req.query;
    const page = await users.list(req.principal.teamId, offset, limit);
    // Serialized here with JSON.stringify rather than by the schema's serializer: the rendered
    // page has exactly the schema's fields in its order, so the bytes are the same
    // (test/http/list-users.test.ts), and JSON.stringify writes one flat string where the
    // generated serializer built a rope of a few thousand pieces: ~130 kB of garbage per page of
    // 100, the largest single allocation of a list (docs/benchmark.md, 2026-12-08 session 2).
    const body: Static<typeof PaginatedUsersResponse> = { users: page.users.map(renderUser), total: page.total, offset, limit };
    return reply.type('application/json; charset=utf-8').send(JSON.stringify(body) as never);
  });
}
