// L1 — POST /v2/link/connect/demo (sandbox teams only)
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { DemoBody, DemoResponse } from '../schemas.ts';
import { DEMO_PROVIDERS, type DemoProvider } from '../../../domain/providers.ts';
import { parseUuid } from '../../../domain/ids.ts';

export function demoConnect(app: JunctionApp, { connections }: Services) {
  app.post('/v2/link/connect/demo', {
    schema: { operationId: 'connectDemoProvider', summary: 'Connect a demo provider (sandbox)', tags: ['link'], body: DemoBody(DEMO_PROVIDERS), response: { 200: DemoResponse } },
  }, async (req) => {
    const userId = parseUuid(req.body.user_id)!;
    await connections.connectDemo({ teamId: req.principal.teamId, mode: req.principal.mode }, userId, req.body.provider as DemoProvider);
    return { success: true, detail: `Connected user ${userId} to provider ${req.body.provider}` };
  });
}
