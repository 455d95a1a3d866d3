// U14 — POST /v2/user/undo_delete?user_id=|client_user_id=
// Query parameters are the contract; a JSON body with the same keys is accepted as a fallback
// because Junction's own cURL example sends one.
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { SuccessResponse, UndoDeleteQuery } from '../schemas.ts';
import { send422, sendDetail, issueEntry } from '../errors.ts';
import { parseUuid } from '../../../domain/ids.ts';
import { isDomainError } from '../../../domain/errors.ts';

export function undoDelete(app: JunctionApp, { users }: Services) {
  app.post('/v2/user/undo_delete', {
    schema: { operationId: 'undoDelete', summary: 'Undo a user deletion', tags: ['user'], querystring: UndoDeleteQuery, response: { 200: SuccessResponse } },
  }, async (req, reply) => {
    let { user_id: userId, client_user_id: clientUserId } = req.query;
    const body = req.body;
    if (userId === undefined && clientUserId === undefined && body && typeof body === 'object' && !Array.isArray(body)) {
      const b = body as Record<string, unknown>;
      if (typeof b.user_id === 'string') userId = b.user_id;
      if (typeof b.client_user_id === 'string') clientUserId = b.client_user_id;
      if (userId !== undefined && parseUuid(userId) === null) return send422(reply, [issueEntry({ path: ['user_id'], kind: 'invalid_uuid', input: userId })]);
    }
    if ((userId === undefined) === (clientUserId === undefined)) {
      return sendDetail(reply, 400, 'Provide exactly one of user_id or client_user_id');
    }
    try {
      await users.undoDelete({ teamId: req.principal.teamId, mode: req.principal.mode }, userId !== undefined ? { userId: parseUuid(userId)! } : { clientUserId: clientUserId! });
    } catch (e) {
      // Contract U14: a live holder of the client_user_id blocks the undo with 400 (PATCH's 409 is not this).
      if (isDomainError(e) && e.code === 'client_user_id_taken') return sendDetail(reply, 400, 'Client user id already exists');
      throw e;
    }
    return { success: true };
  });
}
