// Admin API: teams and keys over HTTP. Off unless ROSTER_ADMIN_TOKEN is set; then
// `Authorization: Bearer <token>`, compared in constant time.
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { createHash, timingSafeEqual } from 'node:crypto';
import { validatorCompiler } from '../validation.ts';
import { createErrorHandler } from '../shared/error-pipeline.ts';
import type { Services } from '../services.ts';
import { throttleFailures, tooManyMessage } from '../credential-throttle.ts';
import { parseUuid } from '../../domain/ids.ts';
import { auditJson as renderAudit } from '../../domain/audit.ts';
import { webhookAdmin } from './webhooks.ts'; // webhooks (i12)
import { adminSessions } from './sessions.ts';
import { operatorEntry } from '../../domain/operator-audit.ts';
import { clientRequestId } from '../request-id.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** What an admin mutation acted on, for its audit entry (C11). */
    adminAudit?: { teamId: string; keyId: string | null; actions?: string[] };
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function sendError(reply: { code(n: number): { type(t: string): { send(b: unknown): unknown } } }, status: number, code: string, message: string) {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

const TeamBody = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 200, format: 'safe-text' }),
  mode: Type.Optional(Type.Union([Type.Literal('sandbox'), Type.Literal('production')])),
});
const KeyBody = Type.Object({ role: Type.Optional(Type.Union([Type.Literal('full'), Type.Literal('read_only')])) });
const TeamParams = Type.Object({ team_id: Type.String({ format: 'uuid' }) });
const KeyParams = Type.Object({ key_id: Type.String({ format: 'uuid' }) });

// Response schemas: they serialize the answers and document them (/openapi/admin.json).
const Uuid = Type.String({ format: 'uuid' });
const Time = Type.String({ format: 'date-time' });
const NullableOf = (type: 'string' | 'integer', extra: Record<string, unknown> = {}) => Type.Unsafe<string | number | null>({ type: [type, 'null'], ...extra });
const TeamCreated = Type.Object({ team_id: Uuid, name: Type.String(), mode: Type.String(), key_id: Uuid, api_key: Type.String({ description: 'Shown once' }) });
const TeamList = Type.Object({ teams: Type.Array(Type.Object({ team_id: Uuid, name: Type.String(), mode: Type.String(), created_at: Time, active_keys: Type.Integer() })) });
const TeamPatched = Type.Object({
  team_id: Uuid,
  mode: Type.Optional(Type.String({ description: 'The mode now (when the PATCH named it)' })),
  rate_limit_per_minute: Type.Optional(NullableOf('integer')),
});
const KeyList = Type.Object({ keys: Type.Array(Type.Object({ key_id: Uuid, prefix: Type.String(), role: Type.String(), created_at: Time, revoked_at: NullableOf('string', { format: 'date-time' }) })) });
const KeyCreated = Type.Object({ key_id: Uuid, team_id: Uuid, role: Type.String(), prefix: Type.String(), api_key: Type.String({ description: 'Shown once' }) });
const AuditEvents = Type.Object({ events: Type.Array(Type.Object({
  id: Type.String(), team_id: Uuid, key_id: NullableOf('string'), action: Type.String(), user_id: NullableOf('string'),
  request_id: Type.String({ description: "The server's own id of the request" }), client_request_id: NullableOf('string', { description: 'The x-request-id the client sent, when usable (1-128 of [A-Za-z0-9_.:-])' }), status: Type.Integer(), at: Time,
})) });
const NoBody = Type.Unsafe<void>({ type: 'null', description: 'Done (no body)' });
const tags = ['admin'];

export async function adminApi(app: FastifyInstance, services: Services, token: string) {
  const a = app.withTypeProvider<TypeBoxTypeProvider>();
  a.setValidatorCompiler(validatorCompiler);
  const want = digest(token);
  throttleFailures(a, services.throttle, (_req, reply, s) => sendError(reply, 429, 'TOO_MANY_REQUESTS', tooManyMessage(s)));
  a.addHook('onRequest', async (req, reply) => {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer (.+)$/i.exec(h);
    if (!m || !timingSafeEqual(digest(m[1]!), want)) return sendError(reply, 401, 'UNAUTHORIZED', 'Missing or invalid admin token (Authorization: Bearer <ROSTER_ADMIN_TOKEN>)');
  });
  a.setErrorHandler(createErrorHandler({
    validation: (err, _req, reply) => sendError(reply, 400, 'VALIDATION_FAILED', `${err.validationContext ?? 'request'}${err.message.replace(/^(body|params|querystring)/, '')}`),
    domain(err, _req, reply) {
      const status = err.code === 'team_not_found' || err.code === 'key_not_found' || err.code === 'user_not_found' ? 404 : 400;
      return sendError(reply, status, err.code.toUpperCase(), err.message);
    },
    unavailable: (_req, reply) => sendError(reply, 503, 'UNAVAILABLE', 'database not reachable'),
    retryAfter: false,
    status: (err, _req, reply) => sendError(reply, err.statusCode!, 'BAD_REQUEST', err.message),
    internal: (_req, reply) => sendError(reply, 500, 'INTERNAL', 'Internal Server Error'),
  }));
  a.setNotFoundHandler((_req, reply) => sendError(reply, 404, 'NOT_FOUND', 'Not Found'));
  // Every mutation, done or refused, whose team is known goes to the audit trail (who: the admin token).
  a.addHook('onResponse', (req, reply, done) => {
    if (req.method === 'GET' || req.method === 'HEAD' || reply.statusCode === 401 || reply.statusCode === 429) return done();
    const p = req.params as { team_id?: string } | undefined;
    const teamId = req.adminAudit?.teamId ?? (p?.team_id ? parseUuid(p.team_id) : null);
    const op = (req.routeOptions.schema as { operationId?: string } | undefined)?.operationId;
    // A PATCH that changed several things names each (setTeamMode, setTeamRateLimit), as the CLI and console do.
    const ops = req.adminAudit?.actions ?? (op ? [op] : []);
    if (teamId) for (const o of ops) void services.audit.record(operatorEntry('admin', o, teamId, req.adminAudit?.keyId ?? null, req.id, reply.statusCode, new Date(), clientRequestId(req.headers))).catch((e) => req.log.warn({ err: (e as Error).message }, 'audit failed'));
    done();
  });

  a.post('/teams', { schema: { operationId: 'createTeam', summary: 'Create a team and its first API key', tags, body: TeamBody, response: { 201: TeamCreated } } }, async (req, reply) => {
    const { team, apiKey, key } = await services.teams.createTeam(req.body.name, req.body.mode ?? 'sandbox');
    req.adminAudit = { teamId: team.id, keyId: key.id };
    return reply.code(201).send({ team_id: team.id, name: team.name, mode: team.mode, key_id: key.id, api_key: apiKey });
  });
  a.get('/teams', { schema: { operationId: 'listTeams', summary: 'List teams', tags, response: { 200: TeamList } } }, async () => {
    const teams = await services.teams.listTeams();
    return { teams: teams.map((t) => ({ team_id: t.id, name: t.name, mode: t.mode, created_at: t.createdAt.toISOString(), active_keys: t.keys })) };
  });
  const TeamPatch = Type.Object({
    mode: Type.Optional(Type.Union([Type.Literal('sandbox'), Type.Literal('production')])),
    rate_limit_per_minute: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 10_000_000 }), Type.Null()])),
  }, { additionalProperties: false, minProperties: 1 });
  a.patch('/teams/:team_id', { schema: { operationId: 'updateTeam', summary: 'Change a team: its mode (sandbox or production) and/or its own per-key rate limit (null = the server default)', tags, params: TeamParams, body: TeamPatch, response: { 200: TeamPatched } } }, async (req) => {
    const teamId = parseUuid(req.params.team_id)!;
    const b = req.body;
    const out: { team_id: string; mode?: string; rate_limit_per_minute?: number | null } = { team_id: teamId };
    const actions: string[] = [];
    // The mode first: it is the one with rules that may refuse (the sandbox cap), so a refused
    // PATCH changes nothing.
    if (b.mode !== undefined) {
      out.mode = (await services.teams.setMode(teamId, b.mode)).team.mode;
      actions.push('setTeamMode');
    }
    if (b.rate_limit_per_minute !== undefined) {
      await services.teams.setRateLimit(teamId, b.rate_limit_per_minute);
      out.rate_limit_per_minute = b.rate_limit_per_minute;
      actions.push('setTeamRateLimit');
    }
    req.adminAudit = { teamId, keyId: null, actions };
    // Cached principals carry the old mode and limit: drop them so the new ones apply at once here
    // (other instances pick them up within the key cache's lifetime).
    services.keys.clear();
    return out;
  });
  a.get('/teams/:team_id/keys', { schema: { operationId: 'listKeys', summary: 'List a team\'s API keys', tags, params: TeamParams, response: { 200: KeyList } } }, async (req) => {
    const keys = await services.teams.listKeys(parseUuid(req.params.team_id)!);
    return { keys: keys.map((k) => ({ key_id: k.id, prefix: k.prefix, role: k.role, created_at: k.createdAt.toISOString(), revoked_at: k.revokedAt?.toISOString() ?? null })) };
  });
  a.post('/teams/:team_id/keys', {
    schema: { operationId: 'createKey', summary: 'Add an API key to a team', tags, params: TeamParams, body: Type.Optional(KeyBody), response: { 201: KeyCreated } },
    // The body is optional (role defaults to full), but a schema alone would refuse a bodiless POST.
    preValidation: async (req) => { req.body ??= {}; },
  }, async (req, reply) => {
    const { apiKey, key } = await services.teams.createKey(parseUuid(req.params.team_id)!, req.body?.role ?? 'full');
    req.adminAudit = { teamId: key.teamId, keyId: key.id };
    return reply.code(201).send({ key_id: key.id, team_id: key.teamId, role: key.role, prefix: key.prefix, api_key: apiKey });
  });
  const AuditQuery = Type.Object({
    team_id: Type.Optional(Type.String({ format: 'uuid' })),
    user_id: Type.Optional(Type.String({ maxLength: 1024, format: 'safe-text' })),
    action: Type.Optional(Type.String({ maxLength: 200, format: 'safe-text' })),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  });
  a.get('/audit', { schema: { operationId: 'listAuditEvents', summary: 'Query the audit trail', tags, querystring: AuditQuery, response: { 200: AuditEvents } } }, async (req) => {
    const q = req.query;
    const since = q.since ? new Date(q.since) : undefined;
    if (since && Number.isNaN(since.getTime())) throw Object.assign(new Error('since must be an ISO 8601 date-time'), { statusCode: 400 });
    const events = await services.audit.list({
      limit: q.limit,
      ...(q.team_id ? { teamId: parseUuid(q.team_id)! } : {}),
      ...(q.user_id ? { userId: q.user_id } : {}),
      ...(q.action ? { action: q.action } : {}),
      ...(since ? { since } : {}),
    });
    return { events: events.map(renderAudit) };
  });

  await app.register(async (scope) => webhookAdmin(scope, services)); // webhooks (i12)
  adminSessions(a, services);
  a.delete('/keys/:key_id', { schema: { operationId: 'revokeKey', summary: 'Revoke an API key (every instance)', tags, params: KeyParams, response: { 204: NoBody } } }, async (req, reply) => {
    const keyId = parseUuid(req.params.key_id)!;
    req.adminAudit = { teamId: (await services.revokeKey(keyId)).teamId, keyId };
    return reply.code(204).send();
  });
}
