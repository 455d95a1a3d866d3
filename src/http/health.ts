// Liveness and readiness; no key needed.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../db/pool.ts';

export async function healthRoutes(app: FastifyInstance, { db }: { db: Db }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    try {
      await sql`select 1`.execute(db.kysely);
      return { status: 'ready' };
    } catch {
      return reply.code(503).type('application/json').send({ status: 'unavailable', detail: 'database not reachable' });
    }
  });
}
