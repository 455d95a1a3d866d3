// Hooks that send a key's GETs to the read replica unless that key wrote recently (see
// src/db/read-routing.ts). Requests without a key (portal pages, admin) always use the primary.
import type { FastifyInstance } from 'fastify';
import type { ReadRouter } from '../db/read-routing.ts';

const READS = new Set(['GET', 'HEAD']);
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function installReadRouting(app: FastifyInstance, router: ReadRouter) {
  app.addHook('preHandler', async (req) => {
    if (!READS.has(req.method) || !req.principal || !req.scope) return;
    req.scope.read = await router.replicaFor(req.principal.keyId);
  });
  // Marked before the response leaves, so the client's next read cannot overtake the mark.
  app.addHook('onSend', async (req, reply, payload) => {
    if (WRITES.has(req.method) && req.principal && reply.statusCode < 500) await router.noteWrite(req.principal.keyId);
    return payload;
  });
}
