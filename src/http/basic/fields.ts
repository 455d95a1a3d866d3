// The basic face's fields (contract: basic-users.md; public spec: User / UserInput / UserPatch): the
// one place a wire name meets its domain field and its bounds. The schemas (schemas.ts), the error
// texts and the wire → domain patch (errors.ts) are derived from it.
import { PROFILE_LIMITS as L } from '../../domain/users/profile-rules.ts';
import type { ProfilePatch } from '../../domain/users/model.ts';

export const FIELDS = [
  { wire: 'firstName', domain: 'firstName', limits: L.name },
  { wire: 'lastName', domain: 'lastName', limits: L.name },
  { wire: 'contactEmail', domain: 'email', limits: L.email },
] as const;

export type BasicField = (typeof FIELDS)[number]['wire'];

/** The fields a client may send, in the order the face reports problems when a field is missing. */
export const BASIC_FIELDS: readonly BasicField[] = FIELDS.map((f) => f.wire);

/** The wire name of a domain field (e.g. `email` → `contactEmail`). */
export const wireName = (domainField: string): string | undefined => FIELDS.find((f) => f.domain === domainField)?.wire;

/** A wire field's length bounds [min, max] in characters. */
export function lengthsOf(wire: string): [number, number] | undefined {
  const f = FIELDS.find((x) => x.wire === wire);
  return f ? [f.limits.minChars, f.limits.maxChars] : undefined;
}

/** A wire body (already known to be an object) as a domain patch of the fields it carries, in body order. */
export function toPatch(b: Record<string, unknown>): ProfilePatch {
  const p: Record<string, unknown> = {};
  for (const k of Object.keys(b)) {
    const f = FIELDS.find((x) => x.wire === k);
    if (f) p[f.domain] = b[k] as string;
  }
  return p as ProfilePatch;
}
