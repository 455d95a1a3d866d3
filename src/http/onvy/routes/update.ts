// PUT and PATCH /users/{user_id} share one handler: only the merge mode differs (contract §4.4–4.5).
// Order (§5.3): 400 (JSON, not an object: the parser) → 404 (user) → 422 (fields, id mismatch).
// Validation is attached rather than thrown so the lookup can come first.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.ts';
import type { PatchMode } from '../../../domain/users/model.ts';
import type { OnvyProfileBody } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { ONVY_FIELDS, toPatch } from '../mapping.ts';
import { ajvDetails, sendError, validationError, type Detail } from '../errors.ts';
import type { AjvError } from '../../validation.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Req = FastifyRequest<any, any, any, any, any> & { params: { user_id: string }; body: OnvyProfileBody | undefined };

/** Problems found before the domain is asked: schema errors and an `id` other than the path's. */
export function earlyDetails(req: FastifyRequest, userId: string): Detail[] | null {
  const ve = req.validationError as (Error & { validation?: AjvError[] }) | undefined;
  const details = ve?.validation ? ajvDetails(ve.validation) : [];
  const b = req.body as Record<string, unknown> | undefined;
  if (b && 'id' in b && b.id !== userId && !details.some((d) => d.field === 'id')) {
    details.push({ field: 'id', message: 'must equal the user_id in the path (a user\'s id cannot be changed)' });
  }
  return details.length || ve ? details : null;
}

export async function updateUser(services: Services, req: Req, reply: FastifyReply, mode: PatchMode) {
  const teamId = req.principal.teamId;
  const userId = req.params.user_id;
  if (req.body === undefined) return sendError(reply, 400, 'BadRequest', 'Request body must be a JSON object.');
  const early = earlyDetails(req, userId);
  if (early) {
    await services.users.getByClientId(teamId, userId); // 404 wins over 422
    return validationError(reply, early);
  }
  const u = await services.users.update(teamId, { clientUserId: userId }, toPatch(req.body), mode, { replaces: ONVY_FIELDS });
  req.auditUserId = u.user.id;
  const [view] = await services.users.withSyncs([u]);
  return renderUser(view!);
}
