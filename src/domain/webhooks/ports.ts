// What the webhook subsystem needs from storage and the network; src/store/webhooks implements it.
import type { DomainEvent, WebhookFormat } from './events.ts';
import type { AttemptOutcome } from './retry.ts';

/**
 * The transactional outbox. Events are written in the change's own transaction, so they exist
 * exactly when the change committed. A team with no live endpoint pays nothing (no SQL).
 */
export interface EventOutbox {
  /** Whether the team has a live endpoint (an in-memory answer, kept fresh across instances). */
  wants(teamId: string): boolean;
  /** Writes the events into the current (ambient) transaction; no-op for teams that want none. */
  record(events: DomainEvent[]): Promise<void>;
  /**
   * Runs `change` and records the events it yields in the same transaction: joins the ambient
   * transaction or opens one. When the team has no live endpoint, just runs `change`.
   */
  emit<T>(teamId: string, change: () => Promise<T>, events: (result: T) => DomainEvent[] | Promise<DomainEvent[]>): Promise<T>;
  /**
   * Events written outside record() and emit() (a repository that writes them in its own
   * statement) have committed: wake the dispatchers. record() and emit() do this themselves.
   */
  committed(): void;
}

/** An outbox that records nothing (CLI imports without --emit-events, unit tests). */
export const NO_OUTBOX: EventOutbox = {
  wants: () => false,
  record: async () => {},
  emit: (_t, change) => change(),
  committed: () => {},
};

export interface OldSecret { secret: string; expires_at: string }

export interface Endpoint {
  teamId: string;
  id: string;
  format: WebhookFormat;
  url: string;
  description: string;
  filterTypes: string[] | null;
  headers: Record<string, string>;
  secret: string;
  oldSecrets: OldSecret[];
  rateLimit: number | null;
  disabled: boolean;
  disabledReason: string | null;
  firstFailureAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export type EndpointPatch = Partial<Pick<Endpoint, 'url' | 'description' | 'filterTypes' | 'headers' | 'rateLimit' | 'disabled' | 'disabledReason' | 'firstFailureAt' | 'secret' | 'oldSecrets'>>;

export type DeliveryStatus = 'pending' | 'sending' | 'success' | 'failed' | 'cancelled';

export interface Delivery {
  teamId: string;
  id: string;
  eventId: string;
  eventType: string;
  userId: string | null;
  endpointId: string;
  format: WebhookFormat;
  batchId: string | null;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  manual: boolean;
  /** An operational message.attempt.failing or .exhausted was sent for it (so a success sends .recovered). */
  alerted: boolean;
  nextAttemptAt: Date | null;
  lastStatusCode: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface Attempt {
  teamId: string;
  id: string;
  deliveryId: string;
  endpointId: string;
  attempt: number;
  trigger: 'scheduled' | 'manual';
  startedAt: Date;
  durationMs: number;
  statusCode: number;
  error: string | null;
  responseExcerpt: string | null;
}

export interface StoredEvent { teamId: string; id: string; type: string; userId: string | null; facts: unknown; occurredAt: Date; fannedOutAt: Date | null }

export interface EndpointsRepo {
  insert(e: Endpoint): Promise<void>;
  get(teamId: string, id: string): Promise<Endpoint | null>;
  list(teamId: string): Promise<Endpoint[]>;
  update(teamId: string, id: string, patch: EndpointPatch, now: Date): Promise<Endpoint | null>;
  /** Deletes the endpoint and cancels its pending deliveries. */
  remove(teamId: string, id: string): Promise<boolean>;
  stats24h(teamId: string, id: string, now: Date): Promise<{ attempts: number; successes: number; failures: number }>;
  /** Tells every instance that the set of teams with live endpoints may have changed. */
  changed(): Promise<void>;
}

export interface DeliveryQuery { status?: string; eventType?: string; userId?: string; cursor?: string; limit: number }

export interface DeliveriesRepo {
  list(teamId: string, endpointId: string, q: DeliveryQuery): Promise<{ deliveries: Delivery[]; nextCursor: string | null }>;
  get(teamId: string, id: string): Promise<{ delivery: Delivery; attempts: Attempt[] } | null>;
  /** Queues a manual attempt now (not rescheduled when it fails); false when unknown or in flight. */
  retry(teamId: string, id: string, now: Date): Promise<'ok' | 'not_found' | 'in_flight'>;
  /** Re-queues the endpoint's failed deliveries created since `since` with a fresh schedule. */
  recover(teamId: string, endpointId: string, since: Date, now: Date): Promise<number>;
  events(teamId: string, q: { type?: string; userId?: string; after?: Date; limit: number }): Promise<StoredEvent[]>;
}

/** One HTTP POST made to a checked, pinned address (§6). */
export interface WebhookSender {
  /** Resolves the URL and checks every address; null when allowed, else the reason. */
  check(url: string): Promise<string | null>;
  post(url: string, headers: Record<string, string>, body: string): Promise<AttemptOutcome & { durationMs: number; excerpt: string | null }>;
}
