// Shapes shared by the orchestrator (bench/run.ts) and the load process (bench/load.ts).

/**
 * One kind of request. `path` and `body` are templates; placeholders are filled per request:
 *   {id}   a random id from LoadSpec.ids          {cid}  a random client id from LoadSpec.cids
 *   {uniq} a value unique in this load process    {tz}   one of a few IANA zones, rotating
 */
export interface RequestTemplate {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Share of the mix (defaults to 1). */
  weight?: number;
}

export interface LoadSpec {
  url: string;
  connections: number;
  /** Seconds of unrecorded load before the measured runs. */
  warmup: number;
  /** Seconds per measured run. */
  duration: number;
  runs: number;
  /** Paced mode: total requests per second, spread evenly over connections and time. */
  rate?: number;
  /**
   * 'even' (default): each connection on its own evenly spaced, staggered schedule.
   * 'autocannon': autocannon's overallRate (per-second quotas sent back to back), for comparison.
   */
  pacer?: 'even' | 'autocannon';
  /** Socket timeout, seconds. */
  timeout?: number;
  requests: RequestTemplate[];
  /**
   * A cheap GET answered only after the server has worked off what it had queued: sent after the
   * warm-up and after every run, so a slow server's backlog (json-server writes its whole file on
   * every write) does not spill into the next run.
   */
  drain?: { path: string; headers?: Record<string, string> };
  ids?: string[];
  cids?: string[];
}

/** One measured run, as the load process reports it (latencies in ms). */
export interface RunResult {
  /** 2xx responses per second: what the table calls req/s. */
  okRps: number;
  /** Bytes read per response, headers included (what an answer weighs: peers' answers differ). */
  bytesPerResponse?: number;
  /** All responses per second, errors included. */
  rps: number;
  total: number;
  ok: number;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  /** autocannon's own whole-millisecond percentiles, for cross-checking. */
  acP50: number;
  acP99: number;
  duration: number;
}
