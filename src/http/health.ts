// Liveness and readiness; no key needed.
import type { FastifyInstance } from 'fastify';
import type { StorageState } from './storage-state.ts';

/** The database, as readiness sees it: a round trip that fails when it is not reachable. */
export interface DbProbe { ping(): Promise<void> }

export async function healthRoutes(app: FastifyInstance, { db, storage }: { db: DbProbe; storage?: StorageState }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
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
