// Managing endpoints (contract §7): registration with the SSRF rules, secrets and rotation, the
// synchronous test, retry and recover. Errors are WebhookError values the admin API renders.
import { newId } from '../ids.ts';
import { CATALOGUE, DOMAIN_EVENT_TYPES, FORMATS, isCatalogued, newEventId, type DomainEventType, type WebhookFormat } from './events.ts';
import { exampleEvent, generateSecret, renderOnvyBatch, renderPayload, secretProblem } from './render.ts';
import { sendSigned, type SendResult } from './dispatcher.ts';
import type { AddressPolicy } from './ssrf.ts';
import type { DeliveriesRepo, Endpoint, EndpointPatch, EndpointsRepo, WebhookSender } from './ports.ts';
import { newBatchId } from './events.ts';

export type WebhookErrorCode = 'WEBHOOK_URL_NOT_ALLOWED' | 'UNKNOWN_EVENT_TYPE' | 'SECRET_INVALID' | 'VALIDATION_FAILED' | 'WEBHOOK_NOT_FOUND' | 'DELIVERY_NOT_FOUND' | 'DELIVERY_IN_FLIGHT' | 'TEAM_NOT_FOUND';

export class WebhookError extends Error {
  constructor(readonly code: WebhookErrorCode, message: string) {
    super(message);
    this.name = 'WebhookError';
  }
  get status(): number { return this.code.endsWith('NOT_FOUND') ? 404 : this.code === 'DELIVERY_IN_FLIGHT' ? 409 : 400; }
}

export interface NewEndpointInput {
  url: string;
  format: WebhookFormat;
  description?: string;
  filterTypes?: string[] | null;
  disabled?: boolean;
  secret?: string;
  headers?: Record<string, string>;
  rateLimit?: number | null;
}

export const MAX_OLD_SECRETS = 10;
export const DEFAULT_GRACE_S = 86_400;
const RESERVED_HEADERS = /^(svix-|webhook-|x-webhook-|content-type$|content-length$|user-agent$|host$|connection$|transfer-encoding$)/i;

export interface WebhooksDeps {
  endpoints: EndpointsRepo;
  deliveries: DeliveriesRepo;
  sender: WebhookSender;
  policy: AddressPolicy;
  teamExists: (teamId: string) => Promise<boolean>;
  now?: () => Date;
  version?: string;
}

export class WebhooksService {
  private readonly now: () => Date;
  constructor(private readonly d: WebhooksDeps) { this.now = d.now ?? (() => new Date()); }

  async checkUrl(url: string): Promise<void> {
    const shape = this.d.policy.urlProblem(url);
    if (shape) throw new WebhookError('WEBHOOK_URL_NOT_ALLOWED', shape);
    const addr = await this.d.sender.check(url);
    if (addr) throw new WebhookError('WEBHOOK_URL_NOT_ALLOWED', addr);
  }

  private checkFilter(format: WebhookFormat, filter: string[] | null | undefined): void {
    if (filter === undefined) return;
    if (filter === null) {
      if (format === 'onvy') throw new WebhookError('VALIDATION_FAILED', 'an onvy endpoint must list its events in filter_types');
      return;
    }
    if (format === 'onvy' && filter.length === 0) throw new WebhookError('VALIDATION_FAILED', 'an onvy endpoint must list its events in filter_types');
    for (const t of filter) if (!isCatalogued(format, t)) throw new WebhookError('UNKNOWN_EVENT_TYPE', `"${t}" is not a ${format} event type (GET /admin/webhook-event-types)`);
  }

  private checkHeaders(h: Record<string, string> | undefined): void {
    if (!h) return;
    for (const [k, v] of Object.entries(h)) {
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/.test(k) || RESERVED_HEADERS.test(k)) throw new WebhookError('VALIDATION_FAILED', `header "${k}" cannot be set`);
      if (typeof v !== 'string' || !/^[\t\x20-\x7e]{0,1000}$/.test(v)) throw new WebhookError('VALIDATION_FAILED', `header "${k}" has a value that cannot be sent`);
    }
  }

  async create(teamId: string, input: NewEndpointInput): Promise<Endpoint> {
    if (!(await this.d.teamExists(teamId))) throw new WebhookError('TEAM_NOT_FOUND', 'Team not found');
    if (!FORMATS.includes(input.format)) throw new WebhookError('VALIDATION_FAILED', 'format must be junction, onvy or standard');
    this.checkFilter(input.format, input.filterTypes ?? null);
    this.checkHeaders(input.headers);
    if (input.secret !== undefined) {
      const p = secretProblem(input.format, input.secret);
      if (p) throw new WebhookError('SECRET_INVALID', p);
    }
    await this.checkUrl(input.url);
    const now = this.now();
    const ep: Endpoint = {
      teamId, id: newId(now.getTime()), format: input.format, url: input.url, description: input.description ?? '',
      filterTypes: input.filterTypes ?? null, headers: input.headers ?? {}, secret: input.secret ?? generateSecret(input.format),
      oldSecrets: [], rateLimit: input.rateLimit ?? null, disabled: input.disabled ?? false, disabledReason: input.disabled ? 'manual' : null,
      firstFailureAt: null, createdAt: now, updatedAt: now,
    };
    await this.d.endpoints.insert(ep);
    await this.d.endpoints.changed();
    return ep;
  }

  list(teamId: string): Promise<Endpoint[]> { return this.d.endpoints.list(teamId); }

  async get(teamId: string, id: string): Promise<Endpoint> {
    const ep = await this.d.endpoints.get(teamId, id);
    if (!ep) throw new WebhookError('WEBHOOK_NOT_FOUND', 'Webhook endpoint not found');
    return ep;
  }

  stats(teamId: string, id: string) { return this.d.endpoints.stats24h(teamId, id, this.now()); }

  async update(teamId: string, id: string, p: { url?: string; description?: string; filterTypes?: string[] | null; disabled?: boolean; headers?: Record<string, string>; rateLimit?: number | null }): Promise<Endpoint> {
    const cur = await this.get(teamId, id);
    this.checkFilter(cur.format, p.filterTypes);
    this.checkHeaders(p.headers);
    if (p.url !== undefined) await this.checkUrl(p.url);
    const patch: EndpointPatch = {};
    if (p.url !== undefined) patch.url = p.url;
    if (p.description !== undefined) patch.description = p.description;
    if (p.filterTypes !== undefined) patch.filterTypes = p.filterTypes;
    if (p.headers !== undefined) patch.headers = p.headers;
    if (p.rateLimit !== undefined) patch.rateLimit = p.rateLimit;
    if (p.disabled !== undefined) {
      patch.disabled = p.disabled;
      patch.disabledReason = p.disabled ? 'manual' : null;
      if (!p.disabled) patch.firstFailureAt = null;
    }
    const r = await this.d.endpoints.update(teamId, id, patch, this.now());
    if (!r) throw new WebhookError('WEBHOOK_NOT_FOUND', 'Webhook endpoint not found');
    if (p.disabled !== undefined) await this.d.endpoints.changed();
    return r;
  }

  async remove(teamId: string, id: string): Promise<void> {
    if (!(await this.d.endpoints.remove(teamId, id))) throw new WebhookError('WEBHOOK_NOT_FOUND', 'Webhook endpoint not found');
    await this.d.endpoints.changed();
  }

  async rotate(teamId: string, id: string, key: string | undefined, graceS: number = DEFAULT_GRACE_S): Promise<string> {
    const cur = await this.get(teamId, id);
    if (key !== undefined) {
      const p = secretProblem(cur.format, key);
      if (p) throw new WebhookError('SECRET_INVALID', p);
    }
    const now = this.now();
    const next = key ?? generateSecret(cur.format);
    const old = [{ secret: cur.secret, expires_at: new Date(now.getTime() + graceS * 1000).toISOString() }, ...cur.oldSecrets]
      .filter((s) => Date.parse(s.expires_at) > now.getTime()).slice(0, MAX_OLD_SECRETS);
    await this.d.endpoints.update(teamId, id, { secret: next, oldSecrets: old }, now);
    return next;
  }

  /** A synchronous POST of an example event (not stored as a delivery). */
  async test(teamId: string, id: string, eventType?: string): Promise<SendResult & { delivered: boolean }> {
    const ep = await this.get(teamId, id);
    const entry = eventType === undefined
      ? CATALOGUE[ep.format].find((e) => e.domain !== null)!
      : CATALOGUE[ep.format].find((e) => e.name === eventType);
    if (!entry || entry.domain === null) throw new WebhookError('UNKNOWN_EVENT_TYPE', `"${eventType}" is not a ${ep.format} event type that Roster sends`);
    const now = this.now();
    const ev = { ...exampleEvent(teamId, entry.domain, now), id: newEventId(now.getTime()) };
    const payload = renderPayload(ep.format, ev)!;
    const batch = ep.format === 'onvy' ? newBatchId(now.getTime()) : null;
    const body = batch ? renderOnvyBatch(batch, teamId, [payload]) : payload;
    const r = await sendSigned(this.d.sender, ep, batch ?? ev.id, body, now, this.d.version);
    return { ...r, delivered: r.error === null && r.statusCode >= 200 && r.statusCode < 300 };
  }

  async recover(teamId: string, id: string, since: Date): Promise<number> {
    await this.get(teamId, id);
    return this.d.deliveries.recover(teamId, id, since, this.now());
  }

  deliveries(teamId: string, id: string, q: Parameters<DeliveriesRepo['list']>[2]) { return this.d.deliveries.list(teamId, id, q); }

  async delivery(teamId: string, deliveryId: string) {
    const r = await this.d.deliveries.get(teamId, deliveryId);
    if (!r) throw new WebhookError('DELIVERY_NOT_FOUND', 'Delivery not found');
    return r;
  }

  async retry(teamId: string, deliveryId: string): Promise<void> {
    const r = await this.d.deliveries.retry(teamId, deliveryId, this.now());
    if (r === 'not_found') throw new WebhookError('DELIVERY_NOT_FOUND', 'Delivery not found');
    if (r === 'in_flight') throw new WebhookError('DELIVERY_IN_FLIGHT', 'The delivery is being attempted right now');
  }

  events(teamId: string, q: Parameters<DeliveriesRepo['events']>[1]) { return this.d.deliveries.events(teamId, q); }

  /** The catalogue per format with an example payload of each event Roster sends. */
  catalogue(): Record<WebhookFormat, { name: string; description: string; documented: boolean; sent: boolean; example: unknown }[]> {
    const at = new Date('2026-11-24T10:00:00.000Z');
    const out = {} as ReturnType<WebhooksService['catalogue']>;
    for (const f of FORMATS) {
      out[f] = CATALOGUE[f].map((e) => {
        const example = e.domain ? JSON.parse(renderPayload(f, exampleEvent('6b74423d-0504-4470-9afb-477252ccf67a', e.domain, at))!) : null;
        return { name: e.name, description: e.description, documented: e.documented, sent: e.domain !== null, example };
      });
    }
    return out;
  }
}

export const DOMAIN_TYPES: readonly DomainEventType[] = DOMAIN_EVENT_TYPES;
