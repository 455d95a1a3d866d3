// Sync state of a user's provider connections, as Onvy's `data_syncs` shows it. Derived from the
// user's connections (the one source of truth for "is this provider connected"), plus the progress
// entries recorded per (provider, data type, sync type). Provider names are Onvy's CAPITALCASE:
// the Junction slug upper-cased, except Apple HealthKit, which Onvy calls APPLE.
import type { Connection } from '../connections.ts';

export const SYNC_PROVIDERS = ['GARMIN', 'OURA', 'FITBIT', 'WITHINGS', 'STRAVA', 'POLAR', 'APPLE', 'HEALTH_CONNECT', 'SAMSUNG_HEALTH'] as const;
export const SYNC_DATA_TYPES = ['auth', 'daily', 'activity', 'sleep'] as const;
export const SYNC_TYPES = ['historical', 'live'] as const;
export const SYNC_STATUSES = ['pending', 'in_progress', 'completed', 'failed'] as const;

export type SyncDataType = (typeof SYNC_DATA_TYPES)[number];
export type SyncType = (typeof SYNC_TYPES)[number];
export type SyncStatus = (typeof SYNC_STATUSES)[number];

/** One entry as the faces show it: `provider` is the CAPITALCASE name. */
export interface DataSync {
  provider: string;
  dataType: string;
  syncType: string;
  status: string;
  updatedAt: Date;
}

/** One recorded entry as stored: `provider` is the Junction slug. */
export interface StoredSync {
  provider: string;
  dataType: string;
  syncType: string;
  status: string;
  updatedAt: Date;
}

const SPECIAL: Record<string, string> = { apple_health_kit: 'APPLE' };
const SPECIAL_BACK: Record<string, string> = Object.fromEntries(Object.entries(SPECIAL).map(([k, v]) => [v, k]));

/** Junction slug → CAPITALCASE provider name (garmin → GARMIN, apple_health_kit → APPLE). */
export const syncProviderName = (slug: string): string => SPECIAL[slug] ?? slug.toUpperCase();

/** CAPITALCASE provider name → Junction slug; null when the name is not CAPITALCASE. */
export function providerSlugOf(name: string): string | null {
  if (!/^[A-Z0-9_]{1,64}$/.test(name)) return null;
  return SPECIAL_BACK[name] ?? name.toLowerCase();
}

/**
 * The entries of one user. A connection without a recorded `auth` entry shows one derived from its
 * state (connected → completed, error → failed, as a historical auth entry dated by the
 * connection). Recorded entries show only while their provider is connected and only if written
 * since that connection was made, so a provider disconnected elsewhere and connected again does
 * not bring back stale progress. Sorted by provider, data type, sync type.
 */
export function deriveDataSyncs(connections: Connection[], stored: StoredSync[]): DataSync[] {
  const out: DataSync[] = [];
  for (const c of connections) {
    const mine = stored.filter((s) => s.provider === c.provider && s.updatedAt.getTime() >= c.createdAt.getTime());
    const name = syncProviderName(c.provider);
    for (const s of mine) out.push({ provider: name, dataType: s.dataType, syncType: s.syncType, status: s.status, updatedAt: s.updatedAt });
    if (!mine.some((s) => s.dataType === 'auth')) {
      out.push({
        provider: name,
        dataType: 'auth',
        syncType: 'historical',
        status: c.status === 'error' ? 'failed' : 'completed',
        updatedAt: c.error?.at ?? c.createdAt,
      });
    }
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return out.sort((a, b) => cmp(a.provider, b.provider) || cmp(a.dataType, b.dataType) || cmp(a.syncType, b.syncType));
}
