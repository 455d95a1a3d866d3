// U10 — DELETE /v2/user/{user_id}/{provider}
import { Type } from 'typebox';
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { PROVIDER_SLUG_SCHEMA, SuccessResponse, UuidString } from '../schemas.ts';
import { PROVIDER_SLUGS } from '../../../domain/providers.ts';
import { parseUuid } from '../../../domain/ids.ts';

const Params = Type.Object({ user_id: UuidString, provider: PROVIDER_SLUG_SCHEMA(PROVIDER_SLUGS) });

export function deregisterProvider(app: JunctionApp, { connections }: Services) {
  app.delete('/v2/user/:user_id/:provider', {
    schema: { operationId: 'deregisterProvider', summary: 'Remove a connection', tags: ['user'], params: Params, response: { 200: SuccessResponse } },
  }, async (req) => {
    await connections.disconnect(req.principal.teamId, parseUuid(req.params.user_id)!, req.params.provider);
    return { success: true };
  });
}
