// When a delivery is tried again, and what an answer means (contract §4).
import type { WebhookFormat } from './events.ts';

/** Seconds between consecutive attempts after the immediate first one (Svix's default = Junction's). */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [5, 300, 1800, 7200, 18000, 36000, 36000];
export const JITTER = 0.2;
export const OVERLOAD_PENALTY_S = 60;
/** An endpoint failing with no success for this long is disabled. */
export const DISABLE_AFTER_MS = 5 * 24 * 3600 * 1000;
export const ATTEMPT_TIMEOUT_MS = 15_000;
export const RESPONSE_READ_CAP = 64 * 1024;
export const RESPONSE_EXCERPT_CAP = 2048;
export const ONVY_BATCH_MAX = 10;

/** Parses ROSTER_WEBHOOK_RETRY_SCHEDULE ("5,300,1800"); throws on anything else. */
export function parseRetrySchedule(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  const out = parts.map((p) => Number(p));
  if (parts.length === 0 || parts.length > 50 || out.some((n, i) => parts[i] === '' || !Number.isFinite(n) || n < 0 || n > 7 * 86400)) {
    throw new Error(`ROSTER_WEBHOOK_RETRY_SCHEDULE must be comma-separated seconds (0 to 604800), at most 50 (got "${raw}")`);
  }
  return out;
}

export interface AttemptOutcome {
  /** HTTP status, 0 when there was no answer. */
  statusCode: number;
  /** 'timeout', 'blocked_address', 'connection_error: …', 'redirect' … or null on an answer. */
  error: string | null;
  /** Retry-After in seconds, when the answer had one. */
  retryAfterS: number | null;
}

export const isSuccess = (o: AttemptOutcome): boolean => o.error === null && o.statusCode >= 200 && o.statusCode < 300;

/** Whether a failed attempt may be tried again (Onvy retries only its documented list). */
export function isRetriable(format: WebhookFormat, o: AttemptOutcome): boolean {
  if (format !== 'onvy') return true;
  if (o.statusCode === 0) return o.error !== 'blocked_address';
  return [429, 500, 502, 503, 504].includes(o.statusCode);
}

/** A 410 Gone disables a standard endpoint at once (Standard Webhooks). */
export const disablesAtOnce = (format: WebhookFormat, o: AttemptOutcome): boolean => format === 'standard' && o.statusCode === 410;

/**
 * Delay (ms) before the next attempt after `attemptsMade` attempts, or null when the schedule is
 * exhausted. ±20 % jitter; ≥ 60 s after a timeout or 429; Retry-After within [delay, 2×delay].
 */
export function nextDelayMs(schedule: readonly number[], attemptsMade: number, o: AttemptOutcome, random: () => number = Math.random): number | null {
  const base = schedule[attemptsMade - 1];
  if (base === undefined) return null;
  let d = base * (1 + (random() * 2 - 1) * JITTER);
  if (o.error === 'timeout' || o.statusCode === 429) d = Math.max(d, OVERLOAD_PENALTY_S);
  if (o.retryAfterS !== null && o.retryAfterS >= 0) d = Math.min(Math.max(d, o.retryAfterS), 2 * d);
  return Math.round(d * 1000);
}

/** Retry-After as seconds (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(v: string | undefined, now: Date): number | null {
  if (!v) return null;
  if (/^\d{1,9}$/.test(v.trim())) return Number(v.trim());
  const t = Date.parse(v);
  return Number.isNaN(t) ? null : Math.max(0, (t - now.getTime()) / 1000);
}
