// U11 — GET /v2/user/{user_id}
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { ClientFacingUser, UserIdParams } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { GET_TEXTS } from '../errors.ts';
import { parseUuid } from '../../../domain/ids.ts';

export function getUser(app: JunctionApp, { users }: Services) {
  app.get('/v2/user/:user_id', {
    config: { texts: GET_TEXTS, goUuid: true },
    schema: { operationId: 'getUser', summary: 'Get a user', tags: ['user'], params: UserIdParams, response: { 200: ClientFacingUser } },
  }, async (req) => renderUser(await users.get(req.principal.teamId, parseUuid(req.params.user_id)!)));
}
