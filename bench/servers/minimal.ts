// The ceiling for this stack: Fastify 5 + pg on the same users table, nothing else. No auth, no
// validation, no logging, no Kysely; one named (prepared) statement per request. Serves the same
// create and read routes as Roster so the same load spec drives both.
//   PORT, DATABASE_URL, TEAM_ID (the team whose users it reads and creates), POOL_MAX (20)
import Fastify from 'fastify';
import pg from 'pg';
import { randomUUID } from 'node:crypto';

const port = Number(process.env.PORT ?? 8090);
const teamId = process.env.TEAM_ID!;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: Number(process.env.POOL_MAX ?? 20) });
pool.on('error', () => {});

const INSERT = {
  name: 'bench_insert_user',
  // The same row and the same conflict rule as Roster's create.
  text: `insert into users (team_id, id, client_user_id, created_at, updated_at, deleted_at,
           fallback_time_zone, fallback_time_zone_source, fallback_time_zone_updated_at,
           fallback_birth_date, fallback_birth_date_source, fallback_birth_date_updated_at, ingestion_start, ingestion_end)
         values ($1, $2, $3, $4, $4, null, $5, $6, $7, null, null, null, null, null)
         on conflict (team_id, client_user_id) where deleted_at is null do nothing
         returning id, client_user_id, created_at`,
};
const SELECT = { name: 'bench_select_user', text: 'select * from users where team_id = $1 and id = $2' };

const app = Fastify({ logger: false });

app.post('/v2/user', async (req, reply) => {
  const b = req.body as { client_user_id: string; fallback_time_zone?: string | null };
  const now = new Date();
  const tz = b.fallback_time_zone ?? null;
  const r = await pool.query({ ...INSERT, values: [teamId, randomUUID(), b.client_user_id, now, tz, tz ? 'manual' : null, tz ? now : null] });
  if (r.rowCount === 0) return reply.code(409).send({ detail: 'taken' });
  return r.rows[0];
});

app.get('/v2/user/:id', async (req, reply) => {
  const r = await pool.query({ ...SELECT, values: [teamId, (req.params as { id: string }).id] });
  if (r.rowCount === 0) return reply.code(404).send({ detail: 'not found' });
  return r.rows[0];
});

app.get('/readyz', async () => {
  await pool.query('select 1');
  return { status: 'ready' };
});

await app.listen({ port, host: '127.0.0.1' });
const stop = () => { void app.close().then(() => pool.end()).then(() => process.exit(0)); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
