// Admin API for outgoing webhooks (contract §7, docs/webhooks.md): endpoints per team, secrets and
// rotation, a synchronous test, deliveries with their attempts, manual retry and recovery, the
// event log and the event-type catalogue. Every change to an endpoint goes to the audit trail.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { validatorCompiler } from '../validation.ts';
import { isDomainError } from '../../domain/errors.ts';
import { newId, parseUuid } from '../../domain/ids.ts';
import { WebhookError } from '../../domain/webhooks/service.ts';
import { maskedHeaders } from '../../domain/webhooks/headers.ts';
import type { Attempt, Delivery, Endpoint } from '../../domain/webhooks/ports.ts';
import type { WebhookFormat } from '../../domain/webhooks/events.ts';
import type { Services } from '../services.ts';
import { clientRequestId } from '../request-id.ts';

const tags = ['admin'];

function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).type('application/json').send({ error: { code, message } });
}

export function endpointJson(e: Endpoint) {
  return {
    id: e.id, team_id: e.teamId, format: e.format, url: e.url, description: e.description, filter_types: e.filterTypes,
    headers: maskedHeaders(e.headers),
    rate_limit: e.rateLimit, disabled: e.disabled, disabled_reason: e.disabledReason,
    created_at: e.createdAt.toISOString(), updated_at: e.updatedAt.toISOString(),
  };
}

const deliveryJson = (d: Delivery) => ({
  id: d.id, team_id: d.teamId, endpoint_id: d.endpointId, event_id: d.eventId, event_type: d.eventType, user_id: d.userId, format: d.format,
  batch_id: d.batchId, status: d.status, attempts: d.attempts, next_attempt_at: d.nextAttemptAt?.toISOString() ?? null,
  last_status_code: d.lastStatusCode, created_at: d.createdAt.toISOString(), updated_at: d.updatedAt.toISOString(),
});
const attemptJson = (a: Attempt) => ({
  id: a.id, attempt: a.attempt, trigger: a.trigger, started_at: a.startedAt.toISOString(), duration_ms: a.durationMs,
  status_code: a.statusCode, error: a.error, response_excerpt: a.responseExcerpt,
});

const TeamParams = Type.Object({ team_id: Type.String({ format: 'uuid' }) });
const EpParams = Type.Object({ team_id: Type.String({ format: 'uuid' }), id: Type.String({ format: 'uuid' }) });
const DeliveryParams = Type.Object({ team_id: Type.String({ format: 'uuid' }), delivery_id: Type.String({ format: 'uuid' }) });
const Format = Type.Union([Type.Literal('junction'), Type.Literal('onvy'), Type.Literal('standard')]);
const Url = Type.String({ minLength: 1, maxLength: 2048, format: 'safe-text' });
const Filter = Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 200, format: 'safe-text' }), { maxItems: 100 }), Type.Null()]);
const Headers = Type.Record(Type.String({ maxLength: 100 }), Type.String({ maxLength: 1000 }), { maxProperties: 50 });
const RateLimit = Type.Union([Type.Integer({ minimum: 1, maximum: 100_000 }), Type.Null()]);
const CreateBody = Type.Object({
  url: Url, format: Format, description: Type.Optional(Type.String({ maxLength: 1000, format: 'safe-text' })),
  filter_types: Type.Optional(Filter), disabled: Type.Optional(Type.Boolean()), secret: Type.Optional(Type.String({ maxLength: 200 })),
  headers: Type.Optional(Headers), rate_limit: Type.Optional(RateLimit),
}, { additionalProperties: false });
const PatchBody = Type.Object({
  url: Type.Optional(Url), description: Type.Optional(Type.String({ maxLength: 1000, format: 'safe-text' })), filter_types: Type.Optional(Filter),
  disabled: Type.Optional(Type.Boolean()), headers: Type.Optional(Headers), rate_limit: Type.Optional(RateLimit),
}, { additionalProperties: false, minProperties: 1 });
const RotateBody = Type.Object({ key: Type.Optional(Type.String({ maxLength: 200 })), grace_period_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 604_800 })) }, { additionalProperties: false });
const TestBody = Type.Object({ event_type: Type.Optional(Type.String({ maxLength: 200, format: 'safe-text' })) }, { additionalProperties: false });
const RecoverBody = Type.Object({ since: Type.String({ format: 'date-time' }) }, { additionalProperties: false });
const DeliveriesQuery = Type.Object({
  status: Type.Optional(Type.Union(['pending', 'sending', 'success', 'failed', 'cancelled'].map((s) => Type.Literal(s)))),
  event_type: Type.Optional(Type.String({ maxLength: 200, format: 'safe-text' })),
  user_id: Type.Optional(Type.String({ format: 'uuid' })),
  cursor: Type.Optional(Type.String({ format: 'uuid' })),
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
});
const EventsQuery = Type.Object({
  type: Type.Optional(Type.String({ maxLength: 200, format: 'safe-text' })),
  user_id: Type.Optional(Type.String({ format: 'uuid' })),
  after: Type.Optional(Type.String({ format: 'date-time' })),
  limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
});
const bodyOptional = { preValidation: async (req: FastifyRequest) => { req.body ??= {}; } };

export async function webhookAdmin(app: FastifyInstance, services: Services) {
  const a = app.withTypeProvider<TypeBoxTypeProvider>();
  a.setValidatorCompiler(validatorCompiler);
  a.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof WebhookError) return sendError(reply, err.status, err.code, err.message);
    if (err.validation) return sendError(reply, 400, 'VALIDATION_FAILED', `${err.validationContext ?? 'request'}${err.message.replace(/^(body|params|querystring)/, '')}`);
    if (isDomainError(err)) return sendError(reply, 400, err.code.toUpperCase(), err.message);
    if (err.statusCode && err.statusCode < 500) return sendError(reply, err.statusCode, 'BAD_REQUEST', err.message);
    req.log.error({ err: err.message }, 'admin webhooks error');
    return sendError(reply, 500, 'INTERNAL', 'Internal Server Error');
  });
  const w = services.webhooks;
  const team = (p: { team_id: string }) => parseUuid(p.team_id)!;
  // Changes (POST, PATCH, DELETE) are audited by the admin scope's onResponse hook (admin/index.ts),
  // refusals included; only the secret's reveal, a GET that hook skips, is recorded here.
  const audit = (req: FastifyRequest, teamId: string, action: string, status: number) =>
    services.audit.record({ teamId, id: newId(), keyId: null, action: `admin.${action}`, userId: null, requestId: req.id, clientRequestId: clientRequestId(req.headers), status, at: new Date() });

  a.get('/webhook-event-types', { schema: { operationId: 'listWebhookEventTypes', summary: 'The webhook event catalogue per format, with examples', tags } }, async () => ({ formats: w.catalogue() }));

  a.get('/teams/:team_id/webhooks', { schema: { operationId: 'listWebhooks', summary: "List a team's webhook endpoints", tags, params: TeamParams } }, async (req) =>
    ({ webhooks: (await w.list(team(req.params))).map(endpointJson) }));

  a.post('/teams/:team_id/webhooks', { schema: { operationId: 'createWebhook', summary: 'Register a webhook endpoint (its secret is in the answer)', tags, params: TeamParams, body: CreateBody } }, async (req, reply) => {
    const b = req.body;
    const ep = await w.create(team(req.params), {
      url: b.url, format: b.format as WebhookFormat,
      ...(b.description !== undefined ? { description: b.description } : {}), ...(b.filter_types !== undefined ? { filterTypes: b.filter_types } : {}),
      ...(b.disabled !== undefined ? { disabled: b.disabled } : {}), ...(b.secret !== undefined ? { secret: b.secret } : {}),
      ...(b.headers !== undefined ? { headers: b.headers } : {}), ...(b.rate_limit !== undefined ? { rateLimit: b.rate_limit } : {}),
    });
    return reply.code(201).send({ ...endpointJson(ep), secret: ep.secret });
  });

  a.get('/teams/:team_id/webhooks/:id', { schema: { operationId: 'getWebhook', summary: 'A webhook endpoint with its last 24 h of attempts', tags, params: EpParams } }, async (req) => {
    const ep = await w.get(team(req.params), req.params.id.toLowerCase());
    return { ...endpointJson(ep), stats_24h: await w.stats(ep.teamId, ep.id) };
  });

  a.patch('/teams/:team_id/webhooks/:id', { schema: { operationId: 'updateWebhook', summary: 'Change a webhook endpoint (re-enabling clears its failure state)', tags, params: EpParams, body: PatchBody } }, async (req) => {
    const b = req.body;
    const ep = await w.update(team(req.params), req.params.id.toLowerCase(), {
      ...(b.url !== undefined ? { url: b.url } : {}), ...(b.description !== undefined ? { description: b.description } : {}),
      ...(b.filter_types !== undefined ? { filterTypes: b.filter_types } : {}), ...(b.disabled !== undefined ? { disabled: b.disabled } : {}),
      ...(b.headers !== undefined ? { headers: b.headers } : {}), ...(b.rate_limit !== undefined ? { rateLimit: b.rate_limit } : {}),
    });
    return endpointJson(ep);
  });

  a.delete('/teams/:team_id/webhooks/:id', { schema: { operationId: 'deleteWebhook', summary: 'Delete a webhook endpoint (its pending deliveries are cancelled)', tags, params: EpParams } }, async (req, reply) => {
    await w.remove(team(req.params), req.params.id.toLowerCase());
    return reply.code(204).send();
  });

  a.get('/teams/:team_id/webhooks/:id/secret', { schema: { operationId: 'getWebhookSecret', summary: "Reveal an endpoint's signing secret", tags, params: EpParams } }, async (req) => {
    const ep = await w.get(team(req.params), req.params.id.toLowerCase());
    await audit(req, ep.teamId, 'revealWebhookSecret', 200);
    return { key: ep.secret };
  });

  a.post('/teams/:team_id/webhooks/:id/secret/rotate', { schema: { operationId: 'rotateWebhookSecret', summary: 'Rotate the signing secret; the old one keeps signing for the grace period', tags, params: EpParams, body: Type.Optional(RotateBody) }, ...bodyOptional }, async (req) => {
    const key = await w.rotate(team(req.params), req.params.id.toLowerCase(), req.body?.key, req.body?.grace_period_seconds);
    return { key };
  });

  a.post('/teams/:team_id/webhooks/:id/test', { schema: { operationId: 'testWebhook', summary: 'Send an example event now and report the answer (not stored as a delivery)', tags, params: EpParams, body: Type.Optional(TestBody) }, ...bodyOptional }, async (req) => {
    const r = await w.test(team(req.params), req.params.id.toLowerCase(), req.body?.event_type);
    return { delivered: r.delivered, status_code: r.statusCode, duration_ms: r.durationMs, error: r.error, response_excerpt: r.excerpt };
  });

  a.post('/teams/:team_id/webhooks/:id/recover', { schema: { operationId: 'recoverWebhook', summary: 'Queue again every failed delivery since a time', tags, params: EpParams, body: RecoverBody } }, async (req, reply) => {
    const since = new Date(req.body.since);
    if (Number.isNaN(since.getTime())) return sendError(reply, 400, 'VALIDATION_FAILED', 'since must be an ISO 8601 date-time');
    const n = await w.recover(team(req.params), req.params.id.toLowerCase(), since);
    return reply.code(202).send({ requeued: n });
  });

  a.get('/teams/:team_id/webhooks/:id/deliveries', { schema: { operationId: 'listWebhookDeliveries', summary: "An endpoint's deliveries, newest first", tags, params: EpParams, querystring: DeliveriesQuery } }, async (req) => {
    const ep = await w.get(team(req.params), req.params.id.toLowerCase());
    const q = req.query;
    const r = await w.deliveries(ep.teamId, ep.id, {
      limit: q.limit, ...(q.status ? { status: q.status } : {}), ...(q.event_type ? { eventType: q.event_type } : {}),
      ...(q.user_id ? { userId: q.user_id.toLowerCase() } : {}), ...(q.cursor ? { cursor: q.cursor.toLowerCase() } : {}),
    });
    return { deliveries: r.deliveries.map(deliveryJson), next_cursor: r.nextCursor };
  });

  a.get('/teams/:team_id/webhook-deliveries/:delivery_id', { schema: { operationId: 'getWebhookDelivery', summary: 'A delivery with its payload and attempts', tags, params: DeliveryParams } }, async (req) => {
    const r = await w.delivery(team(req.params), req.params.delivery_id.toLowerCase());
    return { ...deliveryJson(r.delivery), payload: r.delivery.payload, attempts: r.attempts.map(attemptJson) };
  });

  a.post('/teams/:team_id/webhook-deliveries/:delivery_id/retry', { schema: { operationId: 'retryWebhookDelivery', summary: 'Attempt a delivery again now (a manual attempt, not rescheduled if it fails)', tags, params: DeliveryParams } }, async (req, reply) => {
    await w.retry(team(req.params), req.params.delivery_id.toLowerCase());
    return reply.code(202).send({ queued: true });
  });

  a.get('/teams/:team_id/webhook-events', { schema: { operationId: 'listWebhookEvents', summary: "The team's event log (the outbox), newest first", tags, params: TeamParams, querystring: EventsQuery } }, async (req, reply) => {
    const q = req.query;
    const after = q.after ? new Date(q.after) : undefined;
    if (after && Number.isNaN(after.getTime())) return sendError(reply, 400, 'VALIDATION_FAILED', 'after must be an ISO 8601 date-time');
    const ev = await w.events(team(req.params), { limit: q.limit, ...(q.type ? { type: q.type } : {}), ...(q.user_id ? { userId: q.user_id.toLowerCase() } : {}), ...(after ? { after } : {}) });
    return { events: ev.map((e) => ({ id: e.id, team_id: e.teamId, type: e.type, user_id: e.userId, facts: e.facts, occurred_at: e.occurredAt.toISOString(), fanned_out_at: e.fannedOutAt?.toISOString() ?? null })) };
  });
}
