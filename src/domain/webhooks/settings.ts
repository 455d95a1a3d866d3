// The webhook settings (README "Settings"), read once in src/config.ts.
import { DEFAULT_RETRY_SCHEDULE } from './retry.ts';
import type { OperationalSettings } from './operational.ts';

export interface WebhookSettings {
  /** ROSTER_WEBHOOK_WORKER: run the dispatcher in this instance (default on). */
  worker: boolean;
  /** ROSTER_WEBHOOK_RETRY_SCHEDULE: seconds between consecutive attempts after the first. */
  retrySchedule: readonly number[];
  /** ROSTER_WEBHOOK_ALLOW_HTTP=1: http:// URLs are accepted. */
  allowHttp: boolean;
  /** ROSTER_WEBHOOK_ALLOW_CIDRS: address ranges exempt from the private/loopback/metadata rule. */
  allowCidrs: string[];
  /** ROSTER_WEBHOOK_RETENTION_DAYS: events, deliveries, attempts kept this long (0 = forever). */
  retentionDays: number;
  /** How long a claimed delivery is held before another instance may take it (after a crash). */
  leaseS: number;
  /** The fallback poll when no NOTIFY arrives. */
  pollMs: number;
  /** ROSTER_OPERATIONAL_WEBHOOK_URL and _SECRET: the operator's endpoint for delivery trouble (operational.ts); null = none. */
  operational: OperationalSettings | null;
}

export const DEFAULT_WEBHOOK_SETTINGS: WebhookSettings = {
  worker: true, retrySchedule: DEFAULT_RETRY_SCHEDULE, allowHttp: false, allowCidrs: [], retentionDays: 30, leaseS: 30, pollMs: 1000, operational: null,
};
