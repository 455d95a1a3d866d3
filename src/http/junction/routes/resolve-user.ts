// U9 — GET /v2/user/resolve/{client_user_id}
// A wildcard, so an id holding '/' resolves whether the client sent it as %2F or raw; the raw path
// is percent-decoded exactly once here.
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { ClientFacingUser } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { sendDetail } from '../errors.ts';

const PREFIX = '/v2/user/resolve/';

export function resolveUser(app: JunctionApp, { users }: Services) {
  app.get('/v2/user/resolve/*', {
    schema: { operationId: 'resolveUser', summary: 'Get a user by client_user_id', tags: ['user'], response: { 200: ClientFacingUser } },
  }, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const at = path.indexOf(PREFIX);
    const rawId = at >= 0 ? path.slice(at + PREFIX.length) : '';
    let cid: string;
    try {
      cid = decodeURIComponent(rawId);
    } catch {
      return sendDetail(reply, 404, 'User not found');
    }
    return renderUser(await users.resolve(req.principal.teamId, cid));
  });
}
