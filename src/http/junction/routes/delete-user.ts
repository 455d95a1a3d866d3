// U12 — DELETE /v2/user/{user_id}: soft delete with a 7-day undo window.
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { SuccessResponse, UserIdParams } from '../schemas.ts';
import { MUTATE_TEXTS } from '../errors.ts';
import { parseUuid } from '../../../domain/ids.ts';

export function deleteUser(app: JunctionApp, { users }: Services) {
  app.delete('/v2/user/:user_id', {
    config: { texts: MUTATE_TEXTS },
    schema: { operationId: 'deleteUser', summary: 'Delete a user (undo possible for 7 days)', tags: ['user'], params: UserIdParams, response: { 200: SuccessResponse } },
  }, async (req) => {
    await users.delete(req.principal.teamId, parseUuid(req.params.user_id)!);
    return { success: true };
  });
}
