// Liveness and readiness; no key needed.
import type { FastifyInstance } from 'fastify';
import type { StorageState } from './storage-state.ts';

/** The database, as readiness sees it: a round trip that fails when it is not reachable. */
export interface DbProbe { ping(): Promise<void> }

/**
 * /readyz answers 503 from the moment `draining()` is true (SIGTERM arrived), while every other
 * route is still served: a proxy's health check takes the instance out before it stops accepting
 * (ROSTER_SHUTDOWN_DELAY_MS, docs/deploy.md).
 */
export async function healthRoutes(app: FastifyInstance, { db, storage, draining = () => false }: { db: DbProbe; storage?: StorageState; draining?: () => boolean }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (draining()) return reply.code(503).type('application/json').header('connection', 'close').send({ status: 'draining', detail: 'shutting down' });
    // The database answers but cannot write (a full disk): not ready (src/http/storage-state.ts).
    if (storage?.exhausted()) return reply.code(503).header('retry-after', '5').type('application/json').send({ status: 'unavailable', detail: 'database cannot write (storage exhausted)' });
    try {
      await db.ping();
      return { status: 'ready' };
    } catch {
      return reply.code(503).type('application/json').send({ status: 'unavailable', detail: 'database not reachable' });
    }
  });
}
