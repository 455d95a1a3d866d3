// GET /users?_page=&_perPage=&_sort=: users the basic face can see, zero-indexed pages, no totals.
import type { TypeBoxApp as BasicApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import type { UserOrder } from '../../../domain/users/model.ts';
import { ListQuery, UserList } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { VISIBLE } from '../visible.ts';

const FIELD: Record<string, UserOrder['field']> = { userId: 'number', firstName: 'firstName', lastName: 'lastName', contactEmail: 'email' };

export function listUsers(app: BasicApp, { users }: Services) {
  app.get('/users', {
    config: { rateLimit: false },
    schema: { operationId: 'getAllUsers', summary: 'Get all users', tags: ['users'], querystring: ListQuery, response: { 200: UserList } },
  }, async (req) => {
    const { _page, _perPage, _sort } = req.query;
    const descending = _sort?.startsWith('-') ?? false;
    const order: UserOrder = { field: FIELD[(_sort ?? 'userId').replace(/^-/, '')] ?? 'number', descending };
    const page = await users.listMatching(req.principal.teamId, { ...VISIBLE, order }, _page, _perPage);
    return { users: page.map(renderUser) };
  });
}
