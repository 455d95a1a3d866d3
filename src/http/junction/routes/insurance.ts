// U6 — POST /v2/user/{user_id}/insurance · U7 — GET /v2/user/{user_id}/insurance/latest?is_primary=
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { AnyUserParams, InsuranceBody, InsuranceLatestQuery, InsuranceOut } from '../schemas.ts';
import { sendDetail } from '../errors.ts';
import { INSURED_GENDERS, RELATIONSHIPS, type InsuranceInput } from '../../../domain/insurance.ts';
import { parseUuid } from '../../../domain/ids.ts';

const TRUE_TEXT = ['true', '1', 'yes', 'on', 't', 'y'];
const FALSE_TEXT = ['false', '0', 'no', 'off', 'f', 'n'];

const Body = InsuranceBody({ relationships: RELATIONSHIPS, genders: INSURED_GENDERS });

export function insurance(app: JunctionApp, { insurance: svc }: Services) {
  app.post('/v2/user/:user_id/insurance', {
    schema: { operationId: 'createInsurance', summary: 'Add an insurance record', tags: ['user'], params: AnyUserParams, body: Body, response: { 200: InsuranceOut } },
  }, async (req, reply) => {
    const id = parseUuid(req.params.user_id);
    if (!id) return sendDetail(reply, 404, 'User not found');
    return svc.create(req.principal.teamId, id, req.body as InsuranceInput, req.principal.keyId);
  });

  app.get('/v2/user/:user_id/insurance/latest', {
    config: { auditRead: true },
    // FastAPI (Pydantic) booleans: 1/0, yes/no, on/off, t/f, y/n as well as true/false, any case.
    preValidation: async (req) => {
      const q = req.query as Record<string, unknown>;
      if (typeof q.is_primary === 'string') {
        const v = q.is_primary.toLowerCase();
        if (TRUE_TEXT.includes(v)) q.is_primary = 'true';
        else if (FALSE_TEXT.includes(v)) q.is_primary = 'false';
      }
    },
    schema: { operationId: 'getLatestInsurance', summary: 'Latest insurance', tags: ['user'], params: AnyUserParams, querystring: InsuranceLatestQuery, response: { 200: InsuranceOut } },
  }, async (req, reply) => {
    const id = parseUuid(req.params.user_id);
    if (!id) return sendDetail(reply, 404, 'User not found');
    return svc.latest(req.principal.teamId, id, req.query.is_primary);
  });
}
