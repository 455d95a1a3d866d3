// Domain events of the registry and their names in each webhook format (contract
// webhooks-and-console.md §1). One event is produced by the domain whichever face made the change,
// and rendered into each endpoint's vocabulary by render.ts.
import { randomUUID } from 'node:crypto';

export const FORMATS = ['junction', 'onvy', 'standard'] as const;
export type WebhookFormat = (typeof FORMATS)[number];

export const DOMAIN_EVENT_TYPES = [
  'user.created', 'user.updated', 'user.deleted', 'user.restored',
  'connection.created', 'connection.error', 'connection.deleted', 'device.created',
] as const;
export type DomainEventType = (typeof DOMAIN_EVENT_TYPES)[number];

/** What an event says, as stored in the outbox (snake_case JSON; no health values, no PII). */
export interface EventFacts {
  user_id?: string;
  client_user_id?: string;
  /** The basic face's integer id (filled from the user row when it still exists). */
  basic_id?: number;
  provider?: string;
  external_user_id?: string | null;
  resources?: Record<string, { status: string; scope_requirements: unknown }>;
  device?: {
    id: string; provider: string; source_type: string; app_id: string | null;
    device_manufacturer: string | null; device_model: string | null; device_version: string | null; device_id: string | null;
  };
  error?: { type: string; message: string; details: string };
  at?: string;
}

export interface DomainEvent {
  /** `msg_` + ULID: the id receivers dedupe on (svix-id / webhook-id). */
  id: string;
  teamId: string;
  type: DomainEventType;
  userId: string | null;
  facts: EventFacts;
  occurredAt: Date;
}

// ---------- ids ----------

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (26 characters, Crockford base32, 48-bit millisecond time + 80 random bits). */
export function ulid(now = Date.now()): string {
  let t = now;
  let time = '';
  for (let i = 0; i < 10; i++) { time = CROCKFORD[t % 32]! + time; t = Math.floor(t / 32); }
  // 80 random bits: 20 hex digits of a v4 UUID that are all random (not its version or variant),
  // as ids.ts's newId does: randomUUID draws from a pooled CSPRNG buffer, randomBytes(16) per id
  // was 1.4% of the CPU of creates that record an event.
  const u = randomUUID();
  const hex = u.slice(0, 8) + u.slice(9, 13) + u.slice(24, 32);
  let rand = '';
  for (let g = 0; g < 20; g += 5) {
    const n = parseInt(hex.slice(g, g + 5), 16);
    rand += CROCKFORD[(n >> 15) & 31]! + CROCKFORD[(n >> 10) & 31]! + CROCKFORD[(n >> 5) & 31]! + CROCKFORD[n & 31]!;
  }
  return time + rand;
}

/** The time a ULID was made (ms), or null for text that is not one. */
export function ulidTime(id: string): number | null {
  const m = /([0-9A-HJKMNP-TV-Z]{26})$/.exec(id);
  if (!m) return null;
  let t = 0;
  for (const ch of m[1]!.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(ch);
  return t;
}

export const newEventId = (now = Date.now()): string => `msg_${ulid(now)}`;
export const newBatchId = (now = Date.now()): string => `wh_${ulid(now)}`;

export function domainEvent(teamId: string, type: DomainEventType, userId: string | null, facts: EventFacts, at: Date): DomainEvent {
  return { id: newEventId(at.getTime()), teamId, type, userId, facts: { ...(userId ? { user_id: userId } : {}), ...facts }, occurredAt: at };
}

// ---------- the catalogue ----------

export interface CatalogueEntry {
  /** The name on the wire for this format. */
  name: string;
  domain: DomainEventType | null;
  description: string;
  /** junction: sent by Junction itself (received with filter_types null); extensions are opt-in. */
  documented: boolean;
}

const J: CatalogueEntry[] = [
  { name: 'provider.connection.created', domain: 'connection.created', documented: true, description: 'A provider was connected (a demo connection, or an Onvy data_syncs `auth` entry).' },
  { name: 'provider.connection.error', domain: 'connection.error', documented: true, description: 'A connection entered the error state.' },
  { name: 'provider.device.created', domain: 'device.created', documented: true, description: 'A connection recorded a new device.' },
  { name: 'provider.device.updated', domain: null, documented: true, description: 'A device changed (Junction sends it; Roster never changes a device, so it is never sent).' },
  { name: 'user.created', domain: 'user.created', documented: false, description: 'Roster extension (opt-in): a user was created on any face.' },
  { name: 'user.updated', domain: 'user.updated', documented: false, description: 'Roster extension (opt-in): a user, its demographics or insurance changed.' },
  { name: 'user.deleted', domain: 'user.deleted', documented: false, description: 'Roster extension (opt-in): a user was deleted (soft or for good).' },
  { name: 'user.undeleted', domain: 'user.restored', documented: false, description: 'Roster extension (opt-in): a soft-deleted user was restored (undo_delete).' },
  { name: 'provider.connection.deleted', domain: 'connection.deleted', documented: false, description: 'Roster extension (opt-in): a connection was removed (deregistration, or one for each connection of a deleted user).' },
];
const O: CatalogueEntry[] = [
  { name: 'users:created', domain: 'user.created', documented: true, description: 'A user was created (or restored by undo_delete) on any face.' },
  { name: 'users:updated', domain: 'user.updated', documented: true, description: 'A user, its demographics or insurance changed.' },
  { name: 'users:deleted', domain: 'user.deleted', documented: true, description: 'A user was deleted.' },
  { name: 'users.data_syncs:updated', domain: 'connection.created', documented: true, description: 'A provider connection was created, errored or removed (also one for each connection of a deleted user).' },
];
const S: CatalogueEntry[] = DOMAIN_EVENT_TYPES.map((t) => ({ name: t, domain: t, documented: true, description: STANDARD_DESCRIPTIONS()[t] }));

function STANDARD_DESCRIPTIONS(): Record<DomainEventType, string> {
  return {
    'user.created': 'A user was created on any face.',
    'user.updated': 'A user, its demographics or insurance changed.',
    'user.deleted': 'A user was deleted (soft or for good).',
    'user.restored': 'A soft-deleted user was restored.',
    'connection.created': 'A provider was connected.',
    'connection.error': 'A connection entered the error state.',
    'connection.deleted': 'A connection was removed (deregistration, or one for each connection of a deleted user).',
    'device.created': 'A connection recorded a new device.',
  };
}

export const CATALOGUE: Record<WebhookFormat, readonly CatalogueEntry[]> = { junction: J, onvy: O, standard: S };

/** The wire name of a domain event in a format, or null when that format has no such event. */
export function wireName(format: WebhookFormat, type: DomainEventType): string | null {
  switch (format) {
    case 'junction': return J.find((e) => e.domain === type)?.name ?? null;
    case 'standard': return type;
    case 'onvy':
      if (type === 'user.created' || type === 'user.restored') return 'users:created';
      if (type === 'user.updated') return 'users:updated';
      if (type === 'user.deleted') return 'users:deleted';
      if (type.startsWith('connection.')) return 'users.data_syncs:updated';
      return null;
  }
}

export const isCatalogued = (format: WebhookFormat, name: string): boolean => CATALOGUE[format].some((e) => e.name === name);

/**
 * Whether an endpoint with this filter receives the event (§1): junction null = Junction's
 * documented types only; onvy must list; standard null = all.
 */
export function endpointWants(format: WebhookFormat, filter: readonly string[] | null, type: DomainEventType): boolean {
  const name = wireName(format, type);
  if (name === null) return false;
  if (filter === null) {
    if (format === 'junction') return J.find((e) => e.name === name)!.documented;
    return format === 'standard';
  }
  return filter.includes(name);
}

/** A user-scoped event (user.*, or a record of the user) with whatever ids the caller knows. */
export function userEvent(type: DomainEventType, teamId: string, userId: string | null, at: Date, facts: EventFacts = {}): DomainEvent {
  return domainEvent(teamId, type, userId, facts, at);
}
