// Hooks that send a key's GETs to the read replica unless that key wrote recently (the ReadRouting
// port, src/domain/request-scope.ts). Requests without a key (portal pages, admin) always use the primary.
import type { FastifyInstance } from 'fastify';
import type { ReadRouting } from '../domain/request-scope.ts';
import { WRITE_METHODS } from './shared/auth.ts';

const READS = new Set(['GET', 'HEAD']);

export function installReadRouting(app: FastifyInstance, router: ReadRouting) {
  app.addHook('preHandler', async (req) => {
    if (!READS.has(req.method) || !req.principal || !req.scope) return;
    await router.route(req.scope, req.principal.keyId);
  });
  // Marked before the response leaves, so the client's next read cannot overtake the mark.
  app.addHook('onSend', async (req, reply, payload) => {
    if (WRITE_METHODS.has(req.method) && req.principal && reply.statusCode < 500) await router.noteWrite(req.principal.keyId);
    return payload;
  });
}
