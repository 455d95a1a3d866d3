// Liveness and readiness; no key needed.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Db } from '../db/pool.ts';

/**
 * /readyz answers 503 from the moment `draining()` is true (SIGTERM arrived), while every other
 * route is still served: a proxy's health check takes the instance out before it stops accepting
 * (ROSTER_SHUTDOWN_DELAY_MS, docs/deploy.md).
 */
export async function healthRoutes(app: FastifyInstance, { db, draining = () => false }: { db: Db; draining?: () => boolean }) {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    if (draining()) return reply.code(503).type('application/json').header('connection', 'close').send({ status: 'draining', detail: 'shutting down' });
    try {
      await sql`select 1`.execute(db.kysely);
      return { status: 'ready' };
    } catch {
      return reply.code(503).type('application/json').send({ status: 'unavailable', detail: 'database not reachable' });
    }
  });
}
