// rate_limit (contract §5, §7): at most `rate_limit` requests per second to an endpoint, across every
// instance. A fixed one-second window per endpoint, counted in the database under the endpoint's row
// lock; a due delivery beyond the window's allowance is deferred to the next window (not attempted,
// not failed). An Onvy batch is one request.

export interface RateWindow { window: number | null; used: number }

/**
 * How many of `want` requests the window at `nowMs` still allows, and the window as it becomes.
 * A clock behind the stored window counts against the stored one (instances' clocks differ a
 * little; never let that grant more).
 */
export function grantRequests(limit: number, stored: RateWindow, want: number, nowMs: number): { granted: number; next: RateWindow; deferUntilMs: number } {
  const current = Math.floor(nowMs / 1000);
  const window = stored.window !== null && stored.window >= current ? stored.window : current;
  const used = window === stored.window ? stored.used : 0;
  const granted = Math.max(0, Math.min(want, limit - used));
  return { granted, next: { window, used: used + granted }, deferUntilMs: (window + 1) * 1000 };
}
