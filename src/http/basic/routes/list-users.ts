// GET /users?_page=&_perPage=&_sort=: users the basic face can see, zero-indexed pages, no totals.
import type { TypeBoxApp as BasicApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import type { BasicOrder } from '../../../domain/profiles.ts';
import { ListQuery, UserList } from '../schemas.ts';
import { renderUser } from '../render.ts';

const FIELD: Record<string, BasicOrder['field']> = { userId: 'basicId', firstName: 'firstName', lastName: 'lastName', contactEmail: 'email' };

export function listUsers(app: BasicApp, { profiles }: Services) {
  app.get('/users', {
    config: { rateLimit: false },
    schema: { operationId: 'getAllUsers', summary: 'Get all users', tags: ['users'], querystring: ListQuery, response: { 200: UserList } },
  }, async (req) => {
    const { _page, _perPage, _sort } = req.query;
    const descending = _sort?.startsWith('-') ?? false;
    const order: BasicOrder = { field: FIELD[(_sort ?? 'userId').replace(/^-/, '')] ?? 'basicId', descending };
    const users = await profiles.listBasic(req.principal.teamId, order, _page, _perPage);
    return { users: users.map(renderUser) };
  });
}
