// Reading a V8 .cpuprofile (node --cpu-prof): where the time went, by function and by package.
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface Entry {
  name: string;
  where: string;
  ms: number;
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  /** Non-idle time: what the percentages below are shares of. */
  busyMs: number;
  idleMs: number;
  gcMs: number;
  /** Top functions by self time. */
  self: Entry[];
  /** Self time summed per package (or Roster source file, node internals, …). */
  byPackage: Entry[];
  /** Share of busy time during which a package was anywhere on the stack. */
  onStack: Entry[];
  /** Roster's own functions by inclusive time. */
  rosterInclusive: Entry[];
}

function packageOf(url: string, root: string): string {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const p = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const i = p.lastIndexOf('/node_modules/');
  if (i >= 0) {
    const rest = p.slice(i + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const rel = path.relative(root, p);
  // dist/*.mjs is src/ bundled (npm start): its functions are Roster's, named by bundle line.
  if (!rel.startsWith('..')) return rel.startsWith('src/') || rel.startsWith('dist/') ? `roster ${rel}` : rel;
  return p;
}

function where(cf: CallFrame, root: string): string {
  if (!cf.url) return '';
  const p = cf.url.startsWith('file://') ? decodeURIComponent(new URL(cf.url).pathname) : cf.url;
  const i = p.lastIndexOf('/node_modules/');
  const short = i >= 0 ? p.slice(i + '/node_modules/'.length) : path.relative(root, p).startsWith('..') ? p : path.relative(root, p);
  return `${short}:${cf.lineNumber + 1}`;
}

export function analyzeProfile(prof: CpuProfile, root: string, o: { top?: number; windowUs?: [number, number] } = {}): ProfileSummary {
  const top = o.top ?? 25;
  // Keep only the samples taken inside the window (startup and idle tails left out).
  const inWindow: boolean[] = [];
  let t = prof.startTime;
  for (let i = 0; i < prof.samples.length; i++) {
    t += prof.timeDeltas[i] ?? 0;
    inWindow.push(!o.windowUs || (t >= o.windowUs[0] && t <= o.windowUs[1]));
  }
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of prof.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const selfByNode = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    if (!inWindow[i]) continue;
    const d = (prof.timeDeltas[i] ?? 0) / 1000;
    total += d;
    selfByNode.set(prof.samples[i]!, (selfByNode.get(prof.samples[i]!) ?? 0) + d);
  }
  let idle = 0;
  let gc = 0;
  const selfFn = new Map<string, { name: string; where: string; ms: number }>();
  const selfPkg = new Map<string, number>();
  for (const [id, ms] of selfByNode) {
    const cf = byId.get(id)!.callFrame;
    if (cf.functionName === '(idle)') { idle += ms; continue; }
    if (cf.functionName === '(garbage collector)') gc += ms;
    const w = where(cf, root);
    const key = `${cf.functionName}@${w}`;
    const e = selfFn.get(key) ?? { name: cf.functionName || '(anonymous)', where: w, ms: 0 };
    e.ms += ms;
    selfFn.set(key, e);
    const pkg = cf.url ? packageOf(cf.url, root) : cf.functionName.startsWith('(') ? cf.functionName : '(native / V8)';
    selfPkg.set(pkg, (selfPkg.get(pkg) ?? 0) + ms);
  }
  const busy = total - idle;
  // Inclusive: each sample counts once for every distinct package / Roster function on its stack.
  const onStack = new Map<string, number>();
  const rosterIncl = new Map<string, { name: string; where: string; ms: number }>();
  const stackCache = new Map<number, { pkgs: string[]; fns: [string, string, string][] }>();
  const stackOf = (leaf: number) => {
    let s = stackCache.get(leaf);
    if (s) return s;
    const pkgs = new Set<string>();
    const fns = new Map<string, [string, string, string]>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const cf = byId.get(id)!.callFrame;
      if (!cf.url) continue;
      const pkg = packageOf(cf.url, root);
      pkgs.add(pkg.startsWith('roster ') ? 'roster (all)' : pkg);
      if (pkg.startsWith('roster ')) {
        const w = where(cf, root);
        fns.set(`${cf.functionName}@${w}`, [`${cf.functionName}@${w}`, cf.functionName || '(anonymous)', w]);
      }
    }
    s = { pkgs: [...pkgs], fns: [...fns.values()] };
    stackCache.set(leaf, s);
    return s;
  };
  for (let i = 0; i < prof.samples.length; i++) {
    if (!inWindow[i]) continue;
    const leaf = prof.samples[i]!;
    if (byId.get(leaf)!.callFrame.functionName === '(idle)') continue;
    const d = (prof.timeDeltas[i] ?? 0) / 1000;
    const s = stackOf(leaf);
    for (const p of s.pkgs) onStack.set(p, (onStack.get(p) ?? 0) + d);
    for (const [key, name, w] of s.fns) {
      const e = rosterIncl.get(key) ?? { name, where: w, ms: 0 };
      e.ms += d;
      rosterIncl.set(key, e);
    }
  }
  const pct = (ms: number) => (busy > 0 ? (ms / busy) * 100 : 0);
  const entries = (xs: Iterable<{ name: string; where: string; ms: number }>) => [...xs].sort((a, b) => b.ms - a.ms).slice(0, top).map((e) => ({ ...e, ms: Math.round(e.ms), pct: Math.round(pct(e.ms) * 10) / 10 }));
  return {
    totalMs: Math.round(total),
    busyMs: Math.round(busy),
    idleMs: Math.round(idle),
    gcMs: Math.round(gc),
    self: entries(selfFn.values()),
    byPackage: entries([...selfPkg].map(([name, ms]) => ({ name, where: '', ms }))),
    onStack: entries([...onStack].map(([name, ms]) => ({ name, where: '', ms }))),
    rosterInclusive: entries(rosterIncl.values()),
  };
}

export function formatProfile(title: string, s: ProfileSummary, n = 15): string[] {
  const out: string[] = [];
  out.push(`${title}: ${(s.totalMs / 1000).toFixed(1)} s sampled, busy ${(s.busyMs / 1000).toFixed(1)} s (idle ${(s.idleMs / 1000).toFixed(1)} s), GC ${((s.gcMs / Math.max(1, s.busyMs)) * 100).toFixed(1)}% of busy`);
  const table = (head: string, es: Entry[], withWhere: boolean) => {
    out.push(`  ${head}`);
    for (const e of es.slice(0, n)) out.push(`    ${e.pct.toFixed(1).padStart(5)}%  ${String(e.ms).padStart(6)} ms  ${e.name}${withWhere && e.where ? `  (${e.where})` : ''}`);
  };
  table('top self time', s.self, true);
  table('self time by package', s.byPackage, false);
  table('on the stack (inclusive) by package', s.onStack, false);
  table('Roster functions, inclusive', s.rosterInclusive, true);
  return out;
}
