// One domain event rendered into each format's envelope (contract §2), and the signatures (§3).
// Payload bytes are rendered once per (event, endpoint) and stored: every retry sends the same bytes.
import { createHmac, randomBytes } from 'node:crypto';
import { providerInfo } from '../providers.ts';
import { syncProviderName } from '../users/data-syncs.ts';
import { ulidTime, wireName, type DomainEvent, type EventFacts, type WebhookFormat } from './events.ts';

/** The per-endpoint payload: a whole body (junction, standard) or one element of an Onvy batch. */
export function renderPayload(format: WebhookFormat, e: DomainEvent): string | null {
  const name = wireName(format, e.type);
  if (name === null) return null;
  const f = e.facts;
  switch (format) {
    case 'junction': return JSON.stringify({
      event_type: name, user_id: e.userId, client_user_id: f.client_user_id ?? null, team_id: e.teamId, data: junctionData(e, f),
    });
    case 'standard': return JSON.stringify({ type: name, timestamp: e.occurredAt.toISOString(), data: standardData(e, f) });
    case 'onvy': {
      const onvyId = f.client_user_id ?? e.userId;
      const data: Record<string, unknown> = { id: onvyId };
      if (f.provider) data.provider = syncProviderName(f.provider);
      return JSON.stringify({ name, user_id: onvyId, data });
    }
  }
}

function junctionData(e: DomainEvent, f: EventFacts): Record<string, unknown> {
  switch (e.type) {
    case 'connection.created': {
      const p = providerInfo(f.provider ?? 'unknown');
      return {
        user_id: e.userId, provider: p, source: p, external_user_id: f.external_user_id ?? null,
        resource_availability: f.resources ?? {},
      };
    }
    case 'connection.error':
      return {
        provider: f.provider ?? null, user_id: e.userId, error_type: f.error?.type ?? 'unknown',
        message: f.error?.message ?? 'We are having issues fetching information for user. Please reconnect device.',
        error_details: f.error?.details ?? '',
      };
    case 'device.created': {
      const d = f.device!;
      return { ...d, user_id: e.userId };
    }
    case 'connection.deleted':
      return { user_id: e.userId, provider: f.provider ?? null };
    default: {
      const out: Record<string, unknown> = { user_id: e.userId, client_user_id: f.client_user_id ?? null };
      if (e.type === 'user.created') out.created_on = e.occurredAt.toISOString().replace('Z', '+00:00');
      return out;
    }
  }
}

function standardData(e: DomainEvent, f: EventFacts): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (f.basic_id !== undefined) out.userId = f.basic_id;
  out.teamId = e.teamId;
  if (e.userId) out.user_id = e.userId;
  if (f.client_user_id !== undefined) out.client_user_id = f.client_user_id;
  if (f.provider) out.provider = f.provider;
  if (e.type === 'connection.error' && f.error) out.error_type = f.error.type;
  if (e.type === 'device.created' && f.device) out.device_id = f.device.id;
  return out;
}

/** The body of an Onvy batch: deterministic from its id and members, so a retry sends the same bytes. */
export function renderOnvyBatch(batchId: string, teamId: string, elements: string[]): string {
  const created = new Date(ulidTime(batchId) ?? 0).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `{"id":${JSON.stringify(batchId)},"created_at":"${created}","project_id":${JSON.stringify(teamId)},"org_id":${JSON.stringify(teamId)},"api_version":1,"events":[${elements.join(',')}]}`;
}

// ---------- secrets and signatures ----------

export const SVIX_SECRET_RE = /^(whsec_)?[A-Za-z0-9+/=]{32,100}$/;
export const ONVY_SECRET_RE = /^[\x21-\x7e]{16,200}$/;

export function generateSecret(format: WebhookFormat): string {
  return format === 'onvy' ? `onvy_${randomBytes(24).toString('hex')}` : `whsec_${randomBytes(24).toString('base64')}`;
}

/** Null when `secret` is acceptable for the format, else why not. */
export function secretProblem(format: WebhookFormat, secret: string): string | null {
  if (format === 'onvy') {
    // The prefix of a secret sealed at rest (src/store/secret-box.ts): a plaintext one may not look sealed.
    if (secret.startsWith('enc:')) return 'an onvy secret may not start with "enc:"';
    return ONVY_SECRET_RE.test(secret) ? null : 'an onvy secret is 16 to 200 printable ASCII characters';
  }
  if (!SVIX_SECRET_RE.test(secret)) return 'a secret must match ^(whsec_)?[A-Za-z0-9+/=]{32,100}$';
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return key.length >= 24 && key.length <= 64 ? null : 'a secret must decode to 24 to 64 bytes';
}

const keyOf = (format: WebhookFormat, secret: string): Buffer =>
  format === 'onvy' ? Buffer.from(secret, 'utf8') : Buffer.from(secret.replace(/^whsec_/, ''), 'base64');

/** `v1,<base64>` of HMAC-SHA256 over `${id}.${timestamp}.${body}` (Svix / Standard Webhooks). */
export function signV1(key: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * Every header of one attempt. `secrets`: the current secret first, then those still in their
 * rotation grace period (each signs too, space-separated).
 */
export function signedHeaders(format: WebhookFormat, msgId: string, timestamp: number, body: string, secrets: string[]): Record<string, string> {
  const sigs = secrets.map((s) => signV1(keyOf(format, s), msgId, timestamp, body)).join(' ');
  if (format === 'junction') return { 'svix-id': msgId, 'svix-timestamp': String(timestamp), 'svix-signature': sigs };
  const std = { 'webhook-id': msgId, 'webhook-timestamp': String(timestamp), 'webhook-signature': sigs };
  if (format === 'standard') return std;
  const onvySig = `sha256=${createHmac('sha256', keyOf('onvy', secrets[0]!)).update(body).digest('hex')}`;
  return { 'x-webhook-id': msgId, 'x-webhook-timestamp': String(timestamp), 'x-webhook-signature': onvySig, ...std };
}

/** Example facts for the catalogue and "send test". */
export function exampleEvent(teamId: string, type: DomainEvent['type'], at: Date): DomainEvent {
  const userId = '1449752e-0d8a-40e0-9206-91ab099b2537';
  const facts: EventFacts = { user_id: userId, client_user_id: 'patient-42', basic_id: 17 };
  if (type.startsWith('connection.') || type === 'device.created') facts.provider = 'oura';
  if (type === 'connection.created') facts.resources = { sleep: { status: 'available', scope_requirements: null } };
  if (type === 'connection.created') facts.external_user_id = null;
  if (type === 'connection.error') facts.error = { type: 'token_refresh_failed', message: 'We are having issues fetching information for user. Please reconnect device.', details: 'Failed to pull provider data' };
  if (type === 'device.created') facts.device = { id: '0198f0a8-0000-7000-8000-000000000001', provider: 'oura', source_type: 'ring', app_id: null, device_manufacturer: 'Oura', device_model: 'Oura Ring Gen3', device_version: null, device_id: 'demo-oura' };
  return { id: `msg_${'0'.repeat(26)}`, teamId, type, userId, facts, occurredAt: at };
}
