// The load process: drives one scenario with autocannon, in a process of its own so the server
// under test never shares an event loop with the load. Usage:
//   node --import tsx bench/load.ts SPEC.json
// Prints one JSON line per phase: {"type":"warmup-done"} and {"type":"run","i":N,"result":RunResult}.
//
// Paced mode (spec.rate): autocannon's own overallRate lets each connection send its per-second
// quota back to back at the start of every second, so half the peak rate is measured as bursts at
// full concurrency. Here each connection instead sends on its own evenly spaced schedule
// (connections staggered), through autocannon's setupClient hook, and a request sent late because
// its connection was still waiting counts its lateness (coordinated omission).
import autocannon from 'autocannon';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './lib/hist.ts';
import type { LoadSpec, RequestTemplate, RunResult } from './lib/types.ts';

const TZS = ['Europe/London', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney', 'Europe/Berlin'];
const PLACEHOLDER = /\{(id|cid|uniq|tz)\}/g;

type Vars = { id: string; cid: string; uniq: string; tz: string };
type Part = string | keyof Vars;

function compile(t: string): Part[] {
  const parts: Part[] = [];
  let last = 0;
  for (const m of t.matchAll(PLACEHOLDER)) {
    parts.push(t.slice(last, m.index));
    parts.push(m[1] as keyof Vars);
    last = m.index! + m[0].length;
  }
  parts.push(t.slice(last));
  return parts;
}

const KEYS = new Set<string>(['id', 'cid', 'uniq', 'tz']);
function fill(parts: Part[], v: Vars): string {
  let s = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    s += i % 2 === 1 && KEYS.has(p) ? v[p as keyof Vars] : p;
  }
  return s;
}

function buildRequests(spec: LoadSpec): autocannon.Request[] {
  const ids = spec.ids ?? [];
  const cids = spec.cids ?? [];
  const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  let seq = 0;
  const compiled = spec.requests.map((r: RequestTemplate) => ({
    method: r.method,
    path: compile(r.path),
    body: r.body === undefined ? undefined : compile(r.body),
    headers: { ...(r.headers ?? {}), ...(r.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    weight: r.weight ?? 1,
  }));
  const dynamic = compiled.length > 1 || compiled.some((c) => c.path.length > 1 || (c.body && c.body.length > 1));
  if (!dynamic) {
    const c = compiled[0]!;
    return [{ method: c.method, path: c.path[0] as string, headers: c.headers, ...(c.body ? { body: c.body[0] as string } : {}) }];
  }
  const totalWeight = compiled.reduce((a, c) => a + c.weight, 0);
  const pick = () => {
    if (compiled.length === 1) return compiled[0]!;
    let x = Math.random() * totalWeight;
    for (const c of compiled) if ((x -= c.weight) < 0) return c;
    return compiled[compiled.length - 1]!;
  };
  return [{
    setupRequest: () => {
      const c = pick();
      seq++;
      const v: Vars = {
        id: ids.length ? ids[Math.floor(Math.random() * ids.length)]! : '',
        cid: cids.length ? cids[Math.floor(Math.random() * cids.length)]! : '',
        uniq: `${tag}-${seq}`,
        tz: TZS[seq % TZS.length]!,
      };
      // A fresh headers object every time: autocannon writes Content-Length into it.
      const req: autocannon.Request = { method: c.method, path: fill(c.path, v), headers: { ...c.headers } };
      if (c.body) req.body = fill(c.body, v);
      return req;
    },
  }];
}

const late = new WeakMap<object, number>();

function pacer(spec: LoadSpec): ((client: autocannon.Client) => void) | undefined {
  if (!spec.rate || spec.pacer === 'autocannon') return undefined;
  const conns = Math.min(spec.connections, spec.rate);
  const interval = (conns * 1000) / spec.rate; // ms between two sends of one connection
  let index = 0;
  let t0 = 0;
  return (client) => {
    if (index === 0) t0 = performance.now() + 5;
    const start = t0 + (index++ * interval) / conns;
    let k = 0;
    const send = client._doRequest.bind(client);
    client._doRequest = () => {
      if (client.destroyed) return;
      const due = start + k++ * interval;
      const now = performance.now();
      if (due > now) {
        late.set(client, 0);
        setTimeout(() => { if (!client.destroyed) send(); }, due - now);
      } else {
        late.set(client, now - due);
        send();
      }
    };
  };
}

function runOnce(spec: LoadSpec, duration: number): Promise<RunResult> {
  const hist = new LatencyHistogram();
  const setupClient = pacer(spec);
  const connections = spec.rate ? Math.min(spec.connections, spec.rate) : spec.connections;
  return new Promise((resolve, reject) => {
    const inst = autocannon({
      url: spec.url,
      connections,
      duration,
      timeout: spec.timeout ?? 10,
      // autocannon stops at the first sample tick after `duration`: tick often so a run lasts
      // `duration`, not up to a second more.
      sampleInt: 100,
      requests: buildRequests(spec),
      ...(setupClient ? { setupClient } : {}),
      ...(spec.rate && spec.pacer === 'autocannon' ? { overallRate: spec.rate } : {}),
    }, (err, r) => {
      if (err) return reject(err);
      const statusCodes: Record<string, number> = {};
      for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = s.count;
      const total = Object.values(statusCodes).reduce((a, b) => a + b, 0);
      resolve({
        okRps: r['2xx'] / r.duration,
        rps: total / r.duration,
        total,
        ok: r['2xx'],
        non2xx: r.non2xx,
        socketErrors: r.errors,
        timeouts: r.timeouts,
        statusCodes,
        p50: hist.percentile(50),
        p90: hist.percentile(90),
        p99: hist.percentile(99),
        p999: hist.percentile(99.9),
        max: hist.max,
        // autocannon counts the response bytes it read (headers included).
        bytesPerResponse: total ? r.throughput.total / total : 0,
        acP50: r.latency.p50,
        acP99: r.latency.p99,
        duration: r.duration,
      });
    });
    inst.on('response', (client: object, status: number, _bytes: number, ms: number) => {
      if (status < 200 || status > 299) return;
      if (spec.rate) hist.record(ms + (late.get(client) ?? 0));
      else hist.record(ms);
    });
  });
}

async function drain(spec: LoadSpec): Promise<void> {
  if (!spec.drain) return;
  const r = await fetch(spec.url + spec.drain.path, { headers: spec.drain.headers ?? {}, signal: AbortSignal.timeout(180_000) });
  await r.arrayBuffer();
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const spec = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as LoadSpec;
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
if (spec.warmup > 0) {
  await runOnce(spec, spec.warmup);
  await drain(spec);
  out({ type: 'warmup-done' });
}
const cpu0 = cpuMs();
for (let i = 0; i < spec.runs; i++) {
  out({ type: 'run-start', i });
  const result = await runOnce(spec, spec.duration);
  await drain(spec);
  out({ type: 'run', i, result });
}
out({ type: 'done', cpuMs: cpuMs() - cpu0 });
