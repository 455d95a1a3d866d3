// Liveness and readiness; no key needed.
import type { FastifyInstance } from 'fastify';

/** The database, as readiness sees it: a round trip that fails when it is not reachable. */
export interface DbProbe { ping(): Promise<void> }

export async function healthRoutes(app: FastifyInstance, { db }: { db: DbProbe }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await db.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).type('application/json').send({ status: 'unavailable', detail: 'database not reachable' });
    }
  });
}
