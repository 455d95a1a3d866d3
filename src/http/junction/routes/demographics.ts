// U8 — PATCH /v2/user/{user_id}/info · U5 — GET /v2/user/{user_id}/info/latest
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { AnyUserParams, UserInfo, UserInfoBody } from '../schemas.ts';
import { sendDetail } from '../errors.ts';
import { ETHNICITIES, GENDER_IDENTITIES, RACES, SEXUAL_ORIENTATIONS, type DemographicsInput } from '../../../domain/demographics.ts';
import { parseUuid } from '../../../domain/ids.ts';
import { send422, goUuidDetail } from '../errors.ts';

const Body = UserInfoBody({ races: RACES, ethnicities: ETHNICITIES, orientations: SEXUAL_ORIENTATIONS, identities: GENDER_IDENTITIES });

export function demographics(app: JunctionApp, { demographics: svc }: Services) {
  // The spec types user_id as a plain string here: a non-UUID is an unknown user (404), after
  // body validation (contract U8 check order).
  app.patch('/v2/user/:user_id/info', {
    schema: { operationId: 'upsertUserInfo', summary: 'Write demographics (a new version)', tags: ['user'], params: AnyUserParams, body: Body, response: { 200: UserInfo } },
  }, async (req, reply) => {
    const id = parseUuid(req.params.user_id);
    if (!id) return sendDetail(reply, 404, 'User not found');
    return svc.upsert(req.principal.teamId, id, req.body as DemographicsInput, req.principal.keyId);
  });

  app.get('/v2/user/:user_id/info/latest', {
    config: { auditRead: true },
    schema: { operationId: 'getLatestUserInfo', summary: 'Latest demographics', tags: ['user'], params: AnyUserParams, response: { 200: UserInfo } },
  }, async (req, reply) => {
    const id = parseUuid(req.params.user_id);
    if (!id) return send422(reply, goUuidDetail(req.params.user_id));
    return svc.latest(req.principal.teamId, id);
  });
}
