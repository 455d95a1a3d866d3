// The dispatcher (contract §5): one per instance. Fans committed events out to deliveries, claims
// due deliveries (FOR UPDATE SKIP LOCKED in the store, so two instances never hold the same one),
// posts outside any transaction and records each attempt. A crash between a POST and its record
// leaves the delivery claimed until its lease ends; it is then claimed again: one more delivery,
// never none.
import { newId } from '../ids.ts';
import { renderOnvyBatch, renderPayload, signedHeaders } from './render.ts';
import { disablesAtOnce, isRetriable, isSuccess, nextDelayMs, DISABLE_AFTER_MS, type AttemptOutcome } from './retry.ts';
import type { Attempt, Delivery, Endpoint, WebhookSender } from './ports.ts';
import type { DomainEvent } from './events.ts';
import type { AuditEntry } from '../audit.ts';
import { attemptMessage, endpointDisabledMessage, FAILING_AFTER_ATTEMPTS, type LastAttempt, type OperationalMessage } from './operational.ts';

export interface ClaimedGroup {
  endpoint: Endpoint | null;
  /** One delivery, or the members of one Onvy batch. */
  deliveries: Delivery[];
  batchId: string | null;
}

export interface DeliveryUpdate {
  teamId: string;
  id: string;
  status: 'pending' | 'success' | 'failed' | 'cancelled';
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  /** Set when an operational message about it was (or no longer needs to be) sent. */
  alerted?: boolean;
}

export interface EndpointUpdate {
  teamId: string;
  id: string;
  firstFailureAt: Date | null;
  disabled?: { reason: string };
}

export interface AttemptRecord {
  attempts: Attempt[];
  deliveries: DeliveryUpdate[];
  endpoint: EndpointUpdate | null;
  /** Operational webhooks this attempt causes, written in the same transaction (operational.ts). */
  operational?: OperationalMessage[];
  /** Audit entries (§4): a delivery failed for good, an endpoint disabled automatically. */
  audit?: AuditEntry[];
}

export interface FanOut {
  /** Events fanned out. */
  events: number;
  /** Deliveries this dispatcher took at once (claimed as `claim` would): send them now. */
  claimed: ClaimedGroup[];
  /** Deliveries created pending (for `claim`). */
  pending: number;
}

export interface DispatchStore {
  /**
   * Turns un-fanned events into one delivery per matching live endpoint. Up to `claim.limit` of
   * them are created already claimed by this dispatcher (leased for `claim.leaseMs`, their first
   * attempt counted) when nothing else decides their order (no rate limit, not an Onvy batch): the
   * claim that would follow is then not needed. The others are pending, for `claim`.
   */
  fanOut(now: Date, render: (e: DomainEvent, ep: Endpoint) => string | null, limit: number, claim?: { leaseMs: number; limit: number }): Promise<FanOut>;
  claim(now: Date, leaseMs: number, limit: number): Promise<ClaimedGroup[]>;
  finish(r: AttemptRecord): Promise<void>;
}

export interface DispatcherOptions {
  store: DispatchStore;
  sender: WebhookSender;
  schedule: readonly number[];
  now?: () => Date;
  leaseMs?: number;
  pollMs?: number;
  /**
   * Attempts sent at once, at most (64). Each round takes up to this many: with fewer, a busy
   * instance's rounds (each a few round trips to the database) could not keep up with its creates.
   * Per receiver address the sender opens 32 connections at most; the rest wait for one.
   */
  concurrency?: number;
  version?: string;
  onError?: (e: unknown) => void;
  /** Called after every attempt (metrics). */
  onAttempt?: (format: string, outcome: 'success' | 'failure' | 'exhausted', seconds: number, deliveries: number) => void;
  onDisabled?: (ep: Endpoint, reason: string) => void;
  /** True when no endpoint is live anywhere: rounds are skipped (no SQL while idle). */
  idle?: () => boolean;
  /** ROSTER_OPERATIONAL_WEBHOOK_URL is set: attempts record operational messages (operational.ts). */
  operational?: boolean;
}

const MIN_ROUND_MS = 20;
/**
 * Attempts whose POST is done but whose record is not written yet, at most. An attempt gives its
 * sending slot back as soon as its POST is answered: its record waits to be written with others
 * (PgDispatchStore.finish groups them), so the slots turn over at the speed of the receivers, not
 * of the database's commits.
 */
const MAX_UNRECORDED = 256;

export class Dispatcher {
  private readonly o: Required<Omit<DispatcherOptions, 'onError' | 'onAttempt' | 'onDisabled' | 'version' | 'idle' | 'operational'>> & DispatcherOptions;
  private running = false;
  private wake: (() => void) | null = null;
  private woken = false;
  private loop: Promise<void> | null = null;
  /** Every attempt not yet recorded (sending, or waiting for its record). */
  private inFlight = new Set<Promise<void>>();
  /** Attempts whose POST has not been answered yet: at most `concurrency`. */
  private sending = 0;
  /**
   * Pending deliveries may be due: the next round claims. Set at start, by poke() (a NOTIFY: a
   * manual retry, a recover, another instance), by a poll that timed out, by a fan-out that left
   * deliveries pending and by a claim that was full. A round woken only by this instance's own
   * commits or by a free sending slot just fans out (its deliveries are taken at once), and claims
   * at most once per poll interval: the claim's transaction is not paid on every round.
   */
  private claimDue = true;
  private lastClaim = 0;

  constructor(o: DispatcherOptions) {
    this.o = { now: () => new Date(), leaseMs: 30_000, pollMs: 1000, concurrency: 64, ...o };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Anything may be due (a NOTIFY): run a round now, and claim in it. */
  poke(): void {
    this.claimDue = true;
    this.nudge();
  }

  /** This instance's own events committed (or a sending slot came free): run a round now. */
  nudge(): void {
    this.woken = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(): Promise<void> {
    let last = 0;
    while (this.running) {
      let busy = false;
      // Rounds are at least MIN_ROUND_MS apart: a burst of NOTIFYs and finished attempts is one round.
      const since = Date.now() - last;
      if (since < MIN_ROUND_MS) await new Promise((r) => setTimeout(r, MIN_ROUND_MS - since));
      last = Date.now();
      try {
        busy = await this.round();
      } catch (e) {
        this.claimDue = true;
        this.o.onError?.(e);
      }
      if (!this.running) break;
      if (busy && !this.full()) continue;
      if (this.woken && !this.full()) { this.woken = false; continue; }
      await new Promise<void>((res) => {
        const t = setTimeout(() => { this.claimDue = true; res(); }, this.o.pollMs);
        t.unref?.();
        this.wake = () => { clearTimeout(t); res(); };
      });
      this.wake = null;
      this.woken = false;
    }
  }

  private room(): number { return Math.min(this.o.concurrency - this.sending, MAX_UNRECORDED - this.inFlight.size); }
  private full(): boolean { return this.room() <= 0; }

  /** One round: fan out, claim what fits, send in the background. True when there was work. */
  async round(): Promise<boolean> {
    if (this.o.idle?.()) return false;
    const now = this.o.now();
    const fanned = await this.o.store.fanOut(now, (e, ep) => renderPayload(ep.format, e), 500, { leaseMs: this.o.leaseMs, limit: Math.max(0, this.room()) });
    this.send(fanned.claimed);
    if (fanned.pending > 0) this.claimDue = true;
    const room = this.room();
    if (room <= 0) return fanned.events > 0;
    if (!this.claimDue && Date.now() - this.lastClaim < this.o.pollMs) return fanned.events > 0;
    this.claimDue = false;
    this.lastClaim = Date.now();
    const limit = Math.min(50, room * 2);
    const groups = await this.o.store.claim(now, this.o.leaseMs, limit);
    // A full claim may have left more behind.
    if (groups.reduce((n, g) => n + g.deliveries.length, 0) >= limit) this.claimDue = true;
    this.send(groups);
    return fanned.events > 0 || groups.length > 0;
  }

  /** Sends claimed groups in the background, each holding a sending slot until its POST is answered. */
  private send(groups: ClaimedGroup[]): void {
    for (const g of groups) {
      this.sending++;
      let sent = false;
      const slot = () => { if (!sent) { sent = true; this.sending--; this.nudge(); } };
      const p = this.deliver(g, slot).catch((e) => this.o.onError?.(e)).finally(() => { slot(); this.inFlight.delete(p); this.nudge(); });
      this.inFlight.add(p);
    }
  }

  /**
   * Sends one group and records the outcome; `sent` is called once the POST is answered (or not
   * made). Exposed for tests; the loop calls it.
   */
  async deliver(g: ClaimedGroup, sent: () => void = () => {}): Promise<void> {
    const ep = g.endpoint;
    const first = g.deliveries[0]!;
    if (!ep || ep.disabled) {
      sent();
      await this.o.store.finish({ attempts: [], endpoint: null, deliveries: g.deliveries.map((d) => ({ teamId: d.teamId, id: d.id, status: 'cancelled', nextAttemptAt: null, lastStatusCode: d.lastStatusCode })) });
      return;
    }
    const body = g.batchId ? renderOnvyBatch(g.batchId, ep.teamId, g.deliveries.map((d) => d.payload)) : first.payload;
    const msgId = g.batchId ?? first.eventId;
    const started = this.o.now();
    const res = await sendSigned(this.o.sender, ep, msgId, body, started, this.o.version);
    sent();
    const manual = g.deliveries.every((d) => d.manual);
    const attemptNo = first.attempts;
    const ok = isSuccess(res);
    const attempts: Attempt[] = g.deliveries.map((d) => ({
      teamId: d.teamId, id: newId(), deliveryId: d.id, endpointId: ep.id, attempt: d.attempts, trigger: d.manual ? 'manual' : 'scheduled',
      startedAt: started, durationMs: res.durationMs, statusCode: res.statusCode, error: res.error, responseExcerpt: res.excerpt,
    }));
    let status: DeliveryUpdate['status'] = 'success';
    let next: Date | null = null;
    let endpointUpdate: EndpointUpdate | null = null;
    const now = this.o.now();
    if (!ok) {
      const delay = !manual && isRetriable(ep.format, res) && !disablesAtOnce(ep.format, res) ? nextDelayMs(this.o.schedule, attemptNo, res) : null;
      if (delay === null) status = 'failed';
      else { status = 'pending'; next = new Date(now.getTime() + delay); }
      const firstFailure = ep.firstFailureAt ?? now;
      endpointUpdate = { teamId: ep.teamId, id: ep.id, firstFailureAt: firstFailure };
      if (disablesAtOnce(ep.format, res)) endpointUpdate.disabled = { reason: 'gone' };
      else if (now.getTime() - firstFailure.getTime() >= DISABLE_AFTER_MS) endpointUpdate.disabled = { reason: 'failing' };
      if (endpointUpdate.disabled) { status = 'failed'; next = null; this.o.onDisabled?.(ep, endpointUpdate.disabled.reason); }
    } else if (ep.firstFailureAt) {
      endpointUpdate = { teamId: ep.teamId, id: ep.id, firstFailureAt: null };
    }
    // The audit trail names what failed for good and what was disabled (request id: the message id).
    const entry = (action: string, userId: string | null): AuditEntry => ({ teamId: ep.teamId, id: newId(now.getTime()), keyId: null, action, userId, requestId: msgId, status: res.statusCode, at: now });
    const audit: AuditEntry[] = [];
    if (!ok && !manual && status === 'failed') for (const d of g.deliveries) audit.push(entry('webhook.deliveryExhausted', d.userId));
    if (endpointUpdate?.disabled) audit.push(entry('webhook.endpointDisabled', null));
    const ops = this.o.operational ? operationalMessages(ep, g, msgId, { ok, manual, attemptNo, status, endpointUpdate }, { id: attempts[0]!.id, statusCode: res.statusCode, at: started }, now) : null;
    await this.o.store.finish({
      attempts,
      deliveries: g.deliveries.map((d) => ({ teamId: d.teamId, id: d.id, status, nextAttemptAt: next, lastStatusCode: res.statusCode, ...(ops ? { alerted: ops.alerted } : {}) })),
      endpoint: endpointUpdate,
      ...(ops ? { operational: ops.messages } : {}),
      audit,
    });
    this.o.onAttempt?.(ep.format, ok ? 'success' : status === 'failed' ? 'exhausted' : 'failure', res.durationMs / 1000, g.deliveries.length);
  }
}

/**
 * What the operator's endpoint hears about one attempt (operational.ts): failing after the 4th
 * scheduled failure, exhausted when a scheduled attempt leaves the delivery failed, recovered when
 * a delivery that caused either succeeds, endpoint.disabled when the endpoint was disabled.
 */
function operationalMessages(ep: Endpoint, g: ClaimedGroup, msgId: string, r: { ok: boolean; manual: boolean; attemptNo: number; status: DeliveryUpdate['status']; endpointUpdate: EndpointUpdate | null }, last: LastAttempt, now: Date): { messages: OperationalMessage[]; alerted: boolean } {
  const wasAlerted = g.deliveries.some((d) => d.alerted);
  const messages: OperationalMessage[] = [];
  let alerted = wasAlerted;
  if (r.ok) {
    if (wasAlerted) messages.push(attemptMessage('message.attempt.recovered', ep, msgId, last, now));
    alerted = false;
  } else if (!r.manual && r.status === 'failed') {
    messages.push(attemptMessage('message.attempt.exhausted', ep, msgId, last, now));
    alerted = true;
  } else if (!r.manual && r.status === 'pending' && r.attemptNo === FAILING_AFTER_ATTEMPTS) {
    messages.push(attemptMessage('message.attempt.failing', ep, msgId, last, now));
    alerted = true;
  }
  if (r.endpointUpdate?.disabled) messages.push(endpointDisabledMessage(ep, r.endpointUpdate.firstFailureAt ?? now, now));
  return { messages, alerted };
}

export type SendResult = AttemptOutcome & { durationMs: number; excerpt: string | null };

/** Signs with every live secret, checks the address again and POSTs. */
export async function sendSigned(sender: WebhookSender, ep: Endpoint, msgId: string, body: string, at: Date, version = '0'): Promise<SendResult> {
  const ts = Math.floor(at.getTime() / 1000);
  const secrets = [ep.secret, ...ep.oldSecrets.filter((s) => Date.parse(s.expires_at) > at.getTime()).map((s) => s.secret)];
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(ep.headers)) headers[k.toLowerCase()] = v;
  Object.assign(headers, signedHeaders(ep.format, msgId, ts, body, secrets), { 'content-type': 'application/json', 'user-agent': `Roster-Webhooks/${version}` });
  // The sender resolves, checks every address and connects to the one it checked (§6).
  return sender.post(ep.url, headers, body);
}
