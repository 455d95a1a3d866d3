// U2 — POST /v2/user
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { ClientFacingUser, CreateUserBody } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { withWireNames } from '../user-fields.ts';

export function createUser(app: JunctionApp, { users }: Services) {
  app.post('/v2/user', {
    schema: { operationId: 'createUser', summary: 'Create a user', tags: ['user'], body: CreateUserBody, response: { 200: ClientFacingUser } },
  }, async (req) => {
    const b = req.body;
    const { user } = await withWireNames(users.create({ teamId: req.principal.teamId, mode: req.principal.mode }, {
      clientUserId: b.client_user_id,
      fields: {
        fallbackTimeZone: b.fallback_time_zone,
        fallbackBirthDate: b.fallback_birth_date,
        ingestionStart: b.ingestion_start,
        ingestionEnd: b.ingestion_end,
      },
      rawInput: b,
    }));
    req.auditUserId = user.id; // saves the audit entry parsing the response back
    return renderUser({ user, connections: [] });
  });
}
