// U13 — PATCH /v2/user/{user_id}
// Check order (contract U13): user lookup (404) → body is an object (422) → nothing to patch (400)
// → field validation (422) → client_user_id conflict (409) → apply. Validation is attached rather
// than thrown so the lookup can come first.
import { Type } from 'typebox';
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { PatchUserBody, UserIdParams } from '../schemas.ts';
import { MUTATE_TEXTS, sendDetail, send422, ajvToPydantic } from '../errors.ts';
import { parseUuid } from '../../../domain/ids.ts';
import type { PatchUserInput } from '../../../domain/users/model.ts';
import { withWireNames } from '../user-fields.ts';

const FIELDS = ['client_user_id', 'fallback_time_zone', 'fallback_birth_date', 'ingestion_start', 'ingestion_end'] as const;

export function patchUser(app: JunctionApp, { users }: Services) {
  app.patch('/v2/user/:user_id', {
    config: { texts: MUTATE_TEXTS },
    attachValidation: true,
    schema: { operationId: 'patchUser', summary: 'Patch a user', tags: ['user'], params: UserIdParams, body: PatchUserBody, response: { 204: Type.Unsafe<void>({ type: 'null', description: 'Patched (no body)' }) } },
  }, async (req, reply) => {
    const ve = req.validationError as (Error & { validation?: unknown[]; validationContext?: string }) | undefined;
    if (ve && ve.validationContext === 'params') throw ve;
    const teamId = req.principal.teamId;
    const id = parseUuid(req.params.user_id)!;

    // The lookup comes first only when the body is refused: a valid patch of a user that is not
    // live fails in users.patch with the same 404/410-style error, without a read of its own.
    const refuse = async (send: () => void) => { await users.requireLive(teamId, id); send(); };
    const body = req.body as unknown;
    if (body === null || body === undefined || typeof body !== 'object' || Array.isArray(body)) {
      return refuse(() => send422(reply, [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body ?? null }]));
    }
    const b = body as Record<string, unknown>;
    if (!FIELDS.some((f) => f in b)) return refuse(() => sendDetail(reply, 400, 'Nothing to patch'));
    if (b.client_user_id === null) {
      return refuse(() => send422(reply, [{ type: 'value_error', loc: ['body'], msg: 'Value error, client_user_id is not a field that can be reset to null.', input: b, ctx: { error: {} } }]));
    }
    if (ve) return refuse(() => send422(reply, ajvToPydantic(ve.validation as never, 'body', b)));

    const input: PatchUserInput = {};
    if ('client_user_id' in b) input.clientUserId = b.client_user_id as string;
    if ('fallback_time_zone' in b) input.fallbackTimeZone = b.fallback_time_zone as string | null;
    if ('fallback_birth_date' in b) input.fallbackBirthDate = b.fallback_birth_date as string | null;
    if ('ingestion_start' in b) input.ingestionStart = b.ingestion_start as string | null;
    if ('ingestion_end' in b) input.ingestionEnd = b.ingestion_end as string | null;
    await withWireNames(users.patch(teamId, id, input, b));
    return reply.code(204).send();
  });
}
