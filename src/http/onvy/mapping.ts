// Onvy field names ↔ the domain's profile fields (docs/faces.md has the whole table).
import { PROFILE_FIELDS, type ProfileField, type ProfilePatch } from '../../domain/users/model.ts';
import type { OnvyProfileBody } from './schemas.ts';

/** The profile fields Onvy carries: everything but the e-mail (a PUT replaces exactly these). */
export const ONVY_FIELDS: readonly ProfileField[] = PROFILE_FIELDS.filter((f) => f !== 'email');

/** Domain path head → Onvy field (paths not listed keep their name). */
const WIRE: Record<string, string> = {
  clientUserId: 'id',
  firstName: 'firstname',
  lastName: 'lastname',
  measurementUnit: 'measurement_unit',
  heightCm: 'height',
  weightKg: 'weight',
  coachEnabled: 'coach_config.enabled',
  tzOffsetSeconds: 'tz_offset',
  dataType: 'data_type',
  syncType: 'sync_type',
};

export function wireField(path: (string | number)[]): string {
  const [head, ...rest] = path.map(String);
  // Own keys only: a client's `constructor` or `__proto__` is not a field name (security review C14).
  return [(head !== undefined && Object.hasOwn(WIRE, head) ? WIRE[head] : head), ...rest].filter((s) => s !== undefined && s !== '').join('.');
}

const nested = <T extends Record<string, unknown>>(v: T | null | undefined, keys: (keyof T)[]) => {
  if (v === null || v === undefined) return v;
  const out: Partial<T> = {};
  for (const k of keys) if (k in v) out[k] = v[k];
  return out;
};

/** A validated Onvy body as a domain patch, in the body's key order; read-only keys are dropped. */
export function toPatch(b: OnvyProfileBody): ProfilePatch {
  const p: ProfilePatch = {};
  for (const key of Object.keys(b)) {
    switch (key) {
      case 'firstname': p.firstName = b.firstname; break;
      case 'lastname': p.lastName = b.lastname; break;
      case 'language': p.language = b.language; break;
      case 'measurement_unit': p.measurementUnit = b.measurement_unit; break;
      case 'gender': p.gender = b.gender; break;
      case 'birthday': p.birthday = b.birthday; break;
      case 'height': p.heightCm = b.height; break;
      case 'weight': p.weightKg = b.weight; break;
      case 'tz_offset': p.tzOffsetSeconds = b.tz_offset; break;
      case 'thresholds': p.thresholds = nested(b.thresholds, ['ftp', 'lthr', 'mhr']); break;
      case 'location': p.location = nested(b.location, ['lat', 'lon']); break;
      case 'coach_config': p.coachEnabled = b.coach_config === null ? null : b.coach_config?.enabled; break;
      default: break; // id, created_at, updated_at, data_syncs
    }
  }
  return p;
}
