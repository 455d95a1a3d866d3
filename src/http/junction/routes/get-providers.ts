// U4 — GET /v2/user/providers/{user_id}
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { ProvidersResponse, UserIdParams } from '../schemas.ts';
import { renderProviderWithStatus } from '../render.ts';
import { parseUuid } from '../../../domain/ids.ts';

export function getProviders(app: JunctionApp, { connections }: Services) {
  app.get('/v2/user/providers/:user_id', {
    schema: { operationId: 'getConnectedProviders', summary: 'A user\'s connections', tags: ['user'], params: UserIdParams, response: { 200: ProvidersResponse } },
  }, async (req) => ({ providers: (await connections.connections(req.principal.teamId, parseUuid(req.params.user_id)!)).map(renderProviderWithStatus) }));
}
