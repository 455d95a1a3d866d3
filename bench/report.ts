// Turning measured scenarios into the printed table, the targets of issue 5, and the results JSON.
import type { RunResult } from './lib/types.ts';

export interface Stat {
  median: number;
  min: number;
  max: number;
}

export interface Row {
  system: string;
  db: string;
  op: string;
  label: string;
  duration: number;
  runs: number;
  /** Paced runs: requests/s asked for. */
  rate?: number;
  rps: Stat;
  p50: Stat;
  p99: Stat;
  non2xx: number;
  socketErrors: number;
  statusCodes: Record<string, number>;
  rssPeakMb: number;
  /** Bytes per response, headers included (median of the runs). */
  bytesPerResponse?: number;
  rssHwmMb: number;
  pgPeakMb: number;
  /** CPU time per request, microseconds: the server process, and PostgreSQL (all its processes). */
  cpuUsPerReq: number;
  pgCpuUsPerReq: number;
  /** CPU used meanwhile by other processes on the machine, % of all cores: noise. */
  otherCpuPct: number;
  /** Roster ÷ this row (requests/s), for the systems Roster is compared against. */
  ratio?: number;
  ratioOf?: string;
  note?: string;
  /** Mean number of the database's active sessions per wait event ('running' = on CPU). */
  pgWaits?: Record<string, number>;
  /** When the measured runs happened (CLOCK_MONOTONIC µs), to cut a CPU profile to them. */
  windowUs?: [number, number];
  /** Set when the scenario could not run; the numbers are then zeros. */
  skipped?: string;
}

export interface Target {
  name: string;
  value: number | null;
  bound: number;
  kind: 'min' | 'max';
  unit: string;
  met: boolean | null;
  gap: string;
  note?: string;
}

export function stat(xs: number[]): Stat {
  if (xs.length === 0) return { median: 0, min: 0, max: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  return { median: mid, min: s[0]!, max: s[s.length - 1]! };
}

export function summarize(runs: RunResult[]) {
  return {
    rps: stat(runs.map((r) => r.okRps)),
    allRps: stat(runs.map((r) => r.rps)),
    p50: stat(runs.map((r) => r.p50)),
    p99: stat(runs.map((r) => r.p99)),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    socketErrors: runs.reduce((a, r) => a + r.socketErrors, 0),
    statusCodes: runs.reduce<Record<string, number>>((acc, r) => {
      for (const [k, v] of Object.entries(r.statusCodes)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {}),
    total: runs.reduce((a, r) => a + r.total, 0),
    bytesPerResponse: stat(runs.map((r) => r.bytesPerResponse ?? 0)).median,
  };
}

export function target(name: string, value: number | null, bound: number, kind: 'min' | 'max', unit: string, note?: string): Target {
  if (value === null || !Number.isFinite(value) || (unit === 'ms' && value === 0)) return { name, value: null, bound, kind, unit, met: null, gap: 'not measured', ...(note ? { note } : {}) };
  const met = kind === 'min' ? value >= bound : value <= bound;
  const d = Math.abs(value - bound);
  const fmt = (x: number) => (unit === '×' ? x.toFixed(2) : unit === 'ms' ? x.toFixed(x < 10 ? 2 : 1) : unit === 's' ? x.toFixed(2) : x.toFixed(0));
  let gap: string;
  if (met) gap = `met (margin ${fmt(d)}${unit === '×' ? '' : ' ' + unit})`;
  else if (unit === '×') gap = `MISSED by ${fmt(d)} (Roster needs +${((bound / value - 1) * 100).toFixed(0)}% req/s)`;
  else gap = `MISSED by ${fmt(d)} ${unit} (${((value / bound - 1) * 100).toFixed(0)}% over)`;
  return { name, value, bound, kind, unit, met, gap, ...(note ? { note } : {}) };
}

// ---------------------------------------------------------------------------------------------
// plain-text table

const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => (x === 0 ? '—' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0));

function pad(cells: string[][], right: Set<number>): string[] {
  const w = cells[0]!.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (right.has(i) ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ').trimEnd());
}

export function formatRows(rows: Row[]): string[] {
  const head = ['system', 'db', 'scenario', 'req/s', '(min–max)', 'p50 ms', 'p99 ms', 'errors', 'RSS MB', 'PG MB', 'CPU µs/req', 'other', 'Roster ÷ this'];
  const cells: string[][] = [head];
  for (const r of rows) {
    if (r.skipped) {
      cells.push([r.system, r.db, r.label, '—', '', '', '', '', '', '', '', '', `skipped: ${r.skipped}`]);
      continue;
    }
    const range = r.runs > 1 ? `(${n0(r.rps.min)}–${n0(r.rps.max)})` : '';
    const errors = r.non2xx + r.socketErrors;
    const errText = errors === 0 ? '0' : `${n0(errors)}${r.socketErrors ? ` (${n0(r.socketErrors)} socket)` : ''}`;
    const label = r.rate ? `${r.label} (${n0(r.rate)}/s)` : r.label;
    const ratio = r.ratio !== undefined ? `${r.ratio.toFixed(2)}${r.ratioOf ? ` ${r.ratioOf}` : ''}` : '';
    cells.push([
      r.system, r.db, label, n0(r.rps.median), range, ms(r.p50.median), ms(r.p99.median), errText,
      r.rssPeakMb ? r.rssPeakMb.toFixed(0) : '—', r.pgPeakMb ? r.pgPeakMb.toFixed(0) : '—',
      r.cpuUsPerReq ? n0(r.cpuUsPerReq) + (r.pgCpuUsPerReq ? ` + ${n0(r.pgCpuUsPerReq)} pg` : '') : '—',
      `${r.otherCpuPct.toFixed(0)}%`,
      ratio + (r.note ? (ratio ? '  ' : '') + r.note : ''),
    ]);
  }
  const lines = pad(cells, new Set([3, 5, 6, 7, 8, 9, 11]));
  lines.splice(1, 0, '-'.repeat(Math.max(...lines.map((l) => l.length))));
  return lines;
}

export function formatTargets(ts: Target[]): string[] {
  const cells = ts.map((t) => [
    t.met === null ? '  ?  ' : t.met ? ' met ' : 'MISSED',
    t.name,
    t.value === null ? '—' : t.unit === '×' ? t.value.toFixed(2) : t.unit === 'ms' ? ms(t.value) + ' ms' : t.unit === 's' ? t.value.toFixed(2) + ' s' : `${t.value.toFixed(0)} ${t.unit}`,
    `${t.kind === 'min' ? '≥' : '≤'} ${t.unit === '×' ? t.bound.toFixed(2) : `${t.bound} ${t.unit}`}`,
    t.gap + (t.note ? `  (${t.note})` : ''),
  ]);
  return pad(cells, new Set([2]));
}
