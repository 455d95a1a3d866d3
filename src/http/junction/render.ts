// Domain values → Junction's wire format (contract §3). Field names, `+00:00` timestamps, and
// explicit nulls for unset optional fields all live here.
import type { UserView } from '../../domain/users/model.ts';
import type { Connection, Device } from '../../domain/connections.ts';
import type { TeamMetrics } from '../../domain/users/model.ts';
import { providerInfo } from '../../domain/providers.ts';
import { isoUtc } from '../../kernel/iso-time.ts';

/** Junction style: ISO 8601 with an explicit `+00:00` offset. */
export const isoTime = (d: Date): string => isoUtc(d, '+00:00');

function providerObject(slug: string) {
  const p = providerInfo(slug);
  return { name: p.name, slug: p.slug, logo: p.logo };
}

export function connectedSource(c: Connection) {
  const p = providerObject(c.provider);
  // `source` is deprecated in the spec but required by the SDK's parser: send both.
  return { provider: p, source: p, created_on: isoTime(c.createdAt) };
}

export function renderUser(v: UserView) {
  const u = v.user;
  return {
    user_id: u.id,
    team_id: u.teamId,
    client_user_id: u.clientUserId,
    created_on: isoTime(u.createdAt),
    connected_sources: v.connections.map(connectedSource),
    fallback_time_zone: u.fallbackTimeZone ? { id: u.fallbackTimeZone.value, source_slug: u.fallbackTimeZone.source, updated_at: isoTime(u.fallbackTimeZone.updatedAt) } : null,
    fallback_birth_date: u.fallbackBirthDate ? { value: u.fallbackBirthDate.value, source_slug: u.fallbackBirthDate.source, updated_at: isoTime(u.fallbackBirthDate.updatedAt) } : null,
    ingestion_start: u.ingestionStart,
    ingestion_end: u.ingestionEnd,
  };
}

export function renderMetrics(teamId: string, m: TeamMetrics) {
  return {
    team_id: teamId,
    number_of_connected_sources: m.connectedSources,
    number_of_users: m.users,
    number_of_errored_connected_sources: m.erroredConnectedSources,
    number_of_ordered_tests: 0,
    number_of_connected_sources_by_week: m.weekly.map((w) => ({ date: isoTime(w.week), value: w.value, all: w.all })),
  };
}

export function renderProviderWithStatus(c: Connection) {
  const p = providerObject(c.provider);
  return {
    ...p,
    created_on: isoTime(c.createdAt),
    status: c.status,
    external_user_id: c.externalUserId,
    error_details: c.error ? { error_type: c.error.type, error_message: c.error.message, errored_at: isoTime(c.error.at) } : null,
    resource_availability: Object.fromEntries(Object.entries(c.resources).map(([k, v]) => [k, {
      status: v.status,
      scope_requirements: v.scopeRequirements ? { user_granted: v.scopeRequirements.userGranted, user_denied: v.scopeRequirements.userDenied } : null,
    }])),
  };
}

export function renderDevice(d: Device) {
  return {
    id: d.id,
    user_id: d.userId,
    provider: d.provider,
    source_type: d.sourceType,
    app_id: d.appId,
    device_manufacturer: d.manufacturer,
    device_model: d.model,
    device_version: d.version,
    device_id: d.deviceId,
  };
}
