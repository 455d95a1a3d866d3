// 2 — GET /users?page=&limit=: the project's users, oldest first, with opaque keyset tokens.
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import type { ListCursor } from '../../../domain/users/model.ts';
import { checkClientUserId } from '../../../domain/users/rules.ts';
import { checkDate } from '../../../domain/dates.ts';
import { ListUsersQuery, UserList } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { sendError } from '../errors.ts';

const TS_RE = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$/;

/** The token is base64url JSON of the last row's position; clients must treat it as opaque. */
export const encodePageToken = (c: ListCursor): string => Buffer.from(JSON.stringify({ t: c.createdAt, i: c.clientUserId }), 'utf8').toString('base64url');

export function decodePageToken(token: string): ListCursor | null {
  if (!/^[A-Za-z0-9_-]{1,4096}$/.test(token)) return null;
  try {
    const o = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    if (typeof o !== 'object' || o === null) return null;
    const { t, i } = o as { t?: unknown; i?: unknown };
    if (typeof t !== 'string' || typeof i !== 'string') return null;
    const m = TS_RE.exec(t);
    if (!m || !checkDate(m[1]!).ok || checkClientUserId(i) !== null) return null;
    return { createdAt: t, clientUserId: i };
  } catch {
    return null;
  }
}

export function listUsers(app: OnvyApp, { users }: Services) {
  app.get('/users', {
    config: { onvyScope: 'users:read' },
    schema: { operationId: 'listUsers', summary: 'List users', tags: ['users'], querystring: ListUsersQuery, response: { 200: UserList } },
  }, async (req, reply) => {
    const { page, limit } = req.query;
    let after: ListCursor | null = null;
    if (page !== undefined) {
      after = decodePageToken(page);
      if (!after) return sendError(reply, 400, 'BadRequest', 'Invalid query parameters.', [{ field: 'page', message: 'is not a page token this API issued' }]);
    }
    const r = await users.listByCreated(req.principal.teamId, after, limit);
    return {
      users: r.users.map(renderUser),
      pagination: { limit, total: r.total, page: page ?? null, next_page: r.next ? encodePageToken(r.next) : null },
    };
  });
}
