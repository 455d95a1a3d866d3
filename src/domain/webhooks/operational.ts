// Operational webhooks (contract §4 "Exhaustion"): the operator's own endpoint
// (ROSTER_OPERATIONAL_WEBHOOK_URL, Standard Webhooks format, signed with
// ROSTER_OPERATIONAL_WEBHOOK_SECRET) hears about deliveries in trouble, under Svix's names and in
// the shapes of svix-server's core/operational_webhooks.rs (camelCase; `appId` = the team):
//   message.attempt.failing   a scheduled attempt failed for the 4th time and will be retried
//   message.attempt.exhausted a delivery failed for good (schedule done, Onvy non-retriable, disabled)
//   message.attempt.recovered a delivery that caused one of those two later succeeded
//   endpoint.disabled         an endpoint was disabled automatically (5 days failing, or 410 Gone)
// The messages are written in the same transaction as the attempt that caused them and sent by their
// own loop in any instance (claimed with SKIP LOCKED, leased, retried on the webhook schedule): at
// least once, and never in the dispatcher's way.
import { newEventId } from './events.ts';
import { signedHeaders } from './render.ts';
import { isSuccess, nextDelayMs } from './retry.ts';
import type { Endpoint, WebhookSender } from './ports.ts';

/** Svix: OP_WEBHOOKS_SEND_FAILING_EVENT_AFTER. */
export const FAILING_AFTER_ATTEMPTS = 4;

export type OperationalType = 'message.attempt.failing' | 'message.attempt.exhausted' | 'message.attempt.recovered' | 'endpoint.disabled';

export interface OperationalSettings {
  url: string;
  /** whsec_… (Standard Webhooks). */
  secret: string;
}

/** One message to the operational endpoint; `payload` is the exact body. */
export interface OperationalMessage { id: string; type: OperationalType; payload: string }

export interface LastAttempt { id: string; statusCode: number; at: Date }

const envelope = (type: OperationalType, now: Date, data: Record<string, unknown>): OperationalMessage =>
  ({ id: newEventId(now.getTime()), type, payload: JSON.stringify({ type, timestamp: now.toISOString(), data }) });

/** message.attempt.failing | exhausted | recovered (Svix MessageAttemptEvent). `msgId`: the svix-id / webhook-id, or an Onvy batch's wh_ id. */
export function attemptMessage(type: Exclude<OperationalType, 'endpoint.disabled'>, ep: Endpoint, msgId: string, last: LastAttempt, now: Date): OperationalMessage {
  return envelope(type, now, {
    appId: ep.teamId, appUid: null, msgId, msgEventId: null, endpointId: ep.id,
    lastAttempt: { id: last.id, responseStatusCode: last.statusCode, timestamp: last.at.toISOString() },
  });
}

/** endpoint.disabled (Svix EndpointDisabledEvent; `trigger` as Svix's cloud adds it). */
export function endpointDisabledMessage(ep: Endpoint, failSince: Date, now: Date): OperationalMessage {
  return envelope('endpoint.disabled', now, { appId: ep.teamId, appUid: null, endpointId: ep.id, endpointUid: null, failSince: failSince.toISOString(), trigger: 'automatic' });
}

export interface StoredOperational extends OperationalMessage { attempts: number }

export interface OperationalStore {
  /** Claims due messages (pending and due, or sending past their lease), counting the attempt. */
  claimOperational(now: Date, leaseMs: number, limit: number): Promise<StoredOperational[]>;
  finishOperational(id: string, status: 'pending' | 'success' | 'failed', nextAttemptAt: Date | null, statusCode: number): Promise<void>;
}

export interface OperationalSenderOptions {
  settings: OperationalSettings;
  store: OperationalStore;
  sender: WebhookSender;
  schedule: readonly number[];
  leaseMs: number;
  pollMs: number;
  version: string;
  now?: () => Date;
  onError?: (e: unknown) => void;
}

const MAX_IN_FLIGHT = 4;

/** The loop that posts operational messages; its own timer and in-flight set, apart from the dispatcher's. */
export class OperationalSender {
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private inFlight = new Set<Promise<void>>();
  private readonly now: () => Date;

  constructor(private readonly o: OperationalSenderOptions) { this.now = o.now ?? (() => new Date()); }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** New messages may be there (NOTIFY). */
  poke(): void { if (this.running) this.schedule(0); }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.round(), ms);
    this.timer.unref?.();
  }

  private async round(): Promise<void> {
    if (!this.running || this.busy) return;
    this.busy = true;
    try {
      const room = MAX_IN_FLIGHT - this.inFlight.size;
      if (room > 0) {
        const due = await this.o.store.claimOperational(this.now(), this.o.leaseMs, room);
        for (const m of due) {
          const p = this.send(m).catch((e) => this.o.onError?.(e)).finally(() => { this.inFlight.delete(p); this.poke(); });
          this.inFlight.add(p);
        }
      }
    } catch (e) {
      this.o.onError?.(e);
    } finally {
      this.busy = false;
      if (this.running) this.schedule(this.o.pollMs);
    }
  }

  private async send(m: StoredOperational): Promise<void> {
    const at = this.now();
    const headers = {
      ...signedHeaders('standard', m.id, Math.floor(at.getTime() / 1000), m.payload, [this.o.settings.secret]),
      'content-type': 'application/json', 'user-agent': `Roster-Webhooks/${this.o.version}`,
    };
    const res = await this.o.sender.post(this.o.settings.url, headers, m.payload);
    if (isSuccess(res)) return this.o.store.finishOperational(m.id, 'success', null, res.statusCode);
    const delay = nextDelayMs(this.o.schedule, m.attempts, res);
    const next = delay === null ? null : new Date(this.now().getTime() + delay);
    await this.o.store.finishOperational(m.id, next ? 'pending' : 'failed', next, res.statusCode);
  }
}
