// U15 — POST /v2/user/refresh/{user_id}?timeout=
// Limited to 8 calls per user per hour (Junction's published limit), counted by @fastify/rate-limit.
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { RefreshError, RefreshQuery, RefreshSuccess, UserIdParams } from '../schemas.ts';
import { isDomainError } from '../../../domain/errors.ts';
import { parseUuid } from '../../../domain/ids.ts';

export const REFRESH_LIMIT = { max: 8, timeWindow: 60 * 60 * 1000 };

export function refreshUser(app: JunctionApp, { connections }: Services) {
  app.post('/v2/user/refresh/:user_id', {
    config: {
      rateLimit: {
        ...REFRESH_LIMIT,
        // One user, one bucket, whatever the id's spelling (security review C6).
        keyGenerator: (req) => { const raw = String((req.params as { user_id?: string }).user_id ?? ''); return `refresh:${req.principal?.teamId}:${parseUuid(raw) ?? raw.toLowerCase()}`; },
      },
    },
    schema: { operationId: 'refreshUser', summary: 'Refresh a user\'s data', tags: ['user'], params: UserIdParams, querystring: RefreshQuery, response: { 200: RefreshSuccess, 400: RefreshError } },
  }, async (req, reply) => {
    const userId = parseUuid(req.params.user_id)!;
    try {
      const r = await connections.refresh(req.principal.teamId, userId);
      return { success: true, user_id: userId, refreshed_sources: r.refreshed, in_progress_sources: r.inProgress, failed_sources: r.failed };
    } catch (e) {
      // The 400 body sits at the top level, not under `detail` (contract U15).
      if (isDomainError(e) && e.code === 'no_connections') {
        return reply.code(400).type('application/json').send({ success: false, user_id: userId, error: 'user has no connected sources', failed_sources: [] });
      }
      throw e;
    }
  });
}
