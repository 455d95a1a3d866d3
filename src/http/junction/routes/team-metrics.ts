// U3 — GET /v2/user/metrics
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { MetricsResult } from '../schemas.ts';
import { renderMetrics } from '../render.ts';

export function teamMetrics(app: JunctionApp, { users }: Services) {
  app.get('/v2/user/metrics', {
    schema: { operationId: 'getTeamMetrics', summary: 'Team metrics', tags: ['user'], response: { 200: MetricsResult } },
  }, async (req) => renderMetrics(req.principal.teamId, await users.metrics(req.principal.teamId)));
}
