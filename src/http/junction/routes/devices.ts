// U16 — GET /v2/user/{user_id}/device · U17 — GET /v2/user/{user_id}/device/{device_id}
import { Type } from 'typebox';
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { ClientFacingDevice, DeviceParams, UserIdParams } from '../schemas.ts';
import { renderDevice } from '../render.ts';
import { parseUuid } from '../../../domain/ids.ts';

export function devices(app: JunctionApp, { connections }: Services) {
  app.get('/v2/user/:user_id/device', {
    schema: { operationId: 'getDevices', summary: 'A user\'s devices', tags: ['user'], params: UserIdParams, response: { 200: Type.Array(ClientFacingDevice) } },
  }, async (req) => (await connections.devices(req.principal.teamId, parseUuid(req.params.user_id)!)).map(renderDevice));

  app.get('/v2/user/:user_id/device/:device_id', {
    schema: { operationId: 'getDevice', summary: 'One device', tags: ['user'], params: DeviceParams, response: { 200: ClientFacingDevice } },
  }, async (req) => renderDevice(await connections.device(req.principal.teamId, parseUuid(req.params.user_id)!, parseUuid(req.params.device_id)!)));
}
