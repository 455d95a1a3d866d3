// Fixtures and assertions for the tests of Junction's per-user records (connections, devices,
// demographics, insurance, refresh, portal): wire bodies as a raw client sends them, and checks of
// the SDK's error classes and of raw error responses.
import assert from 'node:assert/strict';
import { Vital, VitalError } from '@tryvital/vital-node';
import type { RawResponse } from './junction-http.ts';

/** Errors must show at once: no SDK retries with backoff. */
export const NO_RETRY = { maxRetries: 0 } as const;

/** A well-formed v7 UUID that no test ever creates. */
export const UNKNOWN_ID = '0190a0a0-0000-7000-8000-000000000000';

export const DEMO_PROVIDERS = ['apple_health_kit', 'fitbit', 'freestyle_libre', 'oura'] as const;
export type DemoSlug = (typeof DEMO_PROVIDERS)[number];

/** Contract §4.2: what a demo connection of each provider looks like. */
export const DEMO_EXPECT: Record<DemoSlug, { name: string; logo: string; sourceType: string; manufacturer: string; model: string; resources: string[] }> = {
  apple_health_kit: { name: 'Apple HealthKit', logo: 'https://storage.googleapis.com/vital-assets/apple_health.png', sourceType: 'watch', manufacturer: 'Apple', model: 'Apple Watch', resources: ['activity', 'sleep', 'body', 'workouts', 'heartrate', 'steps'] },
  fitbit: { name: 'Fitbit', logo: 'https://storage.googleapis.com/vital-assets/fitbit.png', sourceType: 'watch', manufacturer: 'Fitbit', model: 'Charge 6', resources: ['activity', 'sleep', 'body', 'workouts', 'heartrate', 'steps'] },
  freestyle_libre: { name: 'Freestyle Libre', logo: 'https://storage.googleapis.com/vital-assets/freestyle.png', sourceType: 'automatic', manufacturer: 'Abbott', model: 'FreeStyle Libre 3', resources: ['glucose'] },
  oura: { name: 'Oura', logo: 'https://storage.googleapis.com/vital-assets/oura.png', sourceType: 'ring', manufacturer: 'Oura', model: 'Oura Ring Gen3', resources: ['activity', 'sleep', 'heartrate', 'workouts'] },
};

export const ADDRESS = { first_line: '221B Baker Street', second_line: 'Flat 2', country: 'US', zip: '10001', city: 'New York', state: 'NY' };

/** A valid `PATCH /v2/user/{id}/info` body (wire names). */
export function demographicsBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    first_name: 'Ada',
    last_name: 'Lovelace',
    email: 'ada@example.com',
    phone_number: '+1 (555) 123-4567',
    gender: 'female',
    dob: '1990-12-10',
    address: { ...ADDRESS },
    ...over,
  };
}

export const PERSON = {
  first_name: 'Grace',
  last_name: 'Hopper',
  gender: 'female',
  address: { ...ADDRESS },
  dob: '1985-03-04',
  email: 'grace@example.com',
  phone_number: '+1 555 987 6543',
};

/** A valid `POST /v2/user/{id}/insurance` body (wire names). */
export function insuranceBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { payor_code: 'AETNA', member_id: 'M-1001', group_id: 'G-7', relationship: 'Self', insured: { ...PERSON, address: { ...ADDRESS } }, is_primary: true, ...over };
}

type ErrorClass = typeof VitalError | typeof Vital.BadRequestError | typeof Vital.UnprocessableEntityError;

/** Awaits a call that must fail with exactly this SDK error class and status; returns the error. */
export async function sdkError(p: Promise<unknown>, cls: ErrorClass, status: number): Promise<VitalError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err !== undefined, `expected ${cls.name} ${status}, but the call succeeded`);
  assert.ok(err instanceof VitalError, `expected a VitalError, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
  assert.equal(err.constructor, cls, `expected ${cls.name}, got ${err.constructor.name} (${err.statusCode} ${JSON.stringify(err.body)})`);
  assert.equal(err.statusCode, status, JSON.stringify(err.body));
  return err;
}

export interface Entry { type: string; loc: (string | number)[]; msg: string; input: unknown; ctx?: Record<string, unknown> }

/** A raw error response: the status, a JSON content type, a JSON object body with `detail`. */
export function rawError(r: RawResponse, status: number): unknown {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text.slice(0, 600)}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/, `content-type of a ${status}`);
  assert.ok(r.body && typeof r.body === 'object' && !Array.isArray(r.body), `body is a JSON object: ${r.text.slice(0, 200)}`);
  assert.ok('detail' in r.body, `body has detail: ${r.text.slice(0, 200)}`);
  return r.body.detail;
}

/** A raw 422 with a Pydantic list; returns its entries after checking their shape. */
export function entries422(r: RawResponse): Entry[] {
  return pydanticEntries(rawError(r, 422), r.text.slice(0, 300));
}

/** A 422 `detail` (raw or as the SDK surfaced it): a list of Pydantic entries, each of the right shape. */
export function pydanticEntries(detail: unknown, shown: string): Entry[] {
  assert.ok(Array.isArray(detail), `detail should be a list: ${shown}`);
  for (const x of detail as Entry[]) {
    assert.equal(typeof x.type, 'string');
    assert.ok(Array.isArray(x.loc));
    assert.equal(typeof x.msg, 'string');
    assert.ok('input' in x, 'every entry carries input');
    assert.ok(!('url' in x), 'no url key');
  }
  return detail as Entry[];
}

/** Monday 00:00 UTC of the ISO week holding `d`. */
export function weekStart(d: Date): number {
  const day = (d.getUTCDay() + 6) % 7;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day);
}
