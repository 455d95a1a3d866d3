// Liveness and readiness; no key needed.
import type { FastifyInstance } from 'fastify';

/** The database, as readiness sees it: a round trip that fails when it is not reachable. */
export interface DbProbe { ping(): Promise<void> }

/**
 * /readyz answers 503 from the moment `draining()` is true (SIGTERM arrived), while every other
 * route is still served: a proxy's health check takes the instance out before it stops accepting
 * (ROSTER_SHUTDOWN_DELAY_MS, docs/deploy.md).
 */
export async function healthRoutes(app: FastifyInstance, { db, draining = () => false }: { db: DbProbe; draining?: () => boolean }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (draining()) return reply.code(503).type('application/json').header('connection', 'close').send({ status: 'draining', detail: 'shutting down' });
    try {
      await db.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).type('application/json').send({ status: 'unavailable', detail: 'database not reachable' });
    }
  });
}
