// Domain values → the Onvy wire format (contract §2): snake_case keys, `Z` timestamps in whole
// seconds, unset optional fields omitted (never null), measurement_unit and data_syncs always present.
import { DEFAULT_MEASUREMENT_UNIT, type ProfileView } from '../../domain/users/model.ts';
import type { DataSync } from '../../domain/users/data-syncs.ts';
import type { Static } from 'typebox';
import type { User } from './schemas.ts';

export const onvyTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Only the members that are set; the object itself only when one is. */
function members<T extends object>(o: T): Partial<Record<keyof T, unknown>> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== null) out[k] = v;
  return Object.keys(out).length ? (out as Partial<Record<keyof T, unknown>>) : undefined;
}

export function renderDataSync(s: DataSync) {
  return { data_type: s.dataType, sync_type: s.syncType, provider: s.provider, status: s.status, updated_at: onvyTime(s.updatedAt) };
}

export function renderUser(v: ProfileView): Static<typeof User> {
  const u = v.user;
  const p = v.profile;
  const out: Record<string, unknown> = { id: u.clientUserId, created_at: onvyTime(u.createdAt), updated_at: onvyTime(u.updatedAt) };
  if (p.language !== null) out.language = p.language;
  if (p.tzOffsetSeconds !== null) out.tz_offset = p.tzOffsetSeconds;
  if (p.firstName !== null) out.firstname = p.firstName;
  if (p.lastName !== null) out.lastname = p.lastName;
  out.measurement_unit = p.measurementUnit ?? DEFAULT_MEASUREMENT_UNIT;
  if (p.gender !== null) out.gender = p.gender;
  if (u.fallbackBirthDate) out.birthday = u.fallbackBirthDate.value;
  if (p.heightCm !== null) out.height = p.heightCm;
  if (p.weightKg !== null) out.weight = p.weightKg;
  const thresholds = members(p.thresholds);
  if (thresholds) out.thresholds = thresholds;
  const location = members(p.location);
  if (location) out.location = location;
  if (p.coachEnabled !== null) out.coach_config = { enabled: p.coachEnabled };
  out.data_syncs = v.dataSyncs.map(renderDataSync);
  return out as Static<typeof User>;
}
