// Liveness and readiness; no key needed.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../db/pool.ts';
import type { StorageState } from './storage-state.ts';

export async function healthRoutes(app: FastifyInstance, { db, storage }: { db: Db; storage?: StorageState }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    // The database answers but cannot write (a full disk): not ready (src/http/storage-state.ts).
    if (storage?.exhausted()) return reply.code(503).header('retry-after', '5').type('application/json').send({ status: 'unavailable', detail: 'database cannot write (storage exhausted)' });
    try {
      await sql`select 1`.execute(db.kysely);
      return { status: 'ready' };
    } catch {
      return reply.code(503).type('application/json').send({ status: 'unavailable', detail: 'database not reachable' });
    }
  });
}
