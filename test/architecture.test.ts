// The floors of src/ (docs/architecture.md), enforced on the import graph. Built with the TypeScript
// compiler API from the installed `typescript` package: every `import`, `import type`, `export … from`,
// `import x = require()`, dynamic `import()` and `typeof import()` type under src/ is an edge (type-only
// edges included: a type import is a dependency a reader must follow all the same).
//
//   entry   main.ts, server.ts, cli/, config.ts        may import anything below
//   app     app.ts, compose.ts                         the one composition root
//   http    http/ (faces, admin, portal, console)      domain + kernel only; NEVER store or db
//   store   store/                                     domain, db, kernel
//   db      db/, redis.ts                              kernel only
//   domain  domain/                                    domain + kernel only
//   kernel  kernel/, paths.ts                          nothing from src/
//
// Also: no import cycle (type-only edges included), and a face never imports another face.
// Fails with every offending edge printed, one per line.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dirname, '..');
const SRC = path.join(ROOT, 'src');

export type Floor = 'kernel' | 'domain' | 'db' | 'store' | 'http' | 'app' | 'entry';

/** What each floor may import (besides node: and npm packages). */
const MAY_IMPORT: Record<Floor, readonly Floor[]> = {
  kernel: ['kernel'],
  domain: ['domain', 'kernel'],
  db: ['db', 'kernel'],
  store: ['store', 'domain', 'db', 'kernel'],
  http: ['http', 'domain', 'kernel'],
  app: ['app', 'http', 'store', 'db', 'domain', 'kernel'],
  entry: ['entry', 'app', 'http', 'store', 'db', 'domain', 'kernel'],
};

/** Folders of src/http that are faces (or face-like surfaces): none imports another. */
const FACES = ['junction', 'onvy', 'basic', 'admin', 'portal', 'console', 'mobile-auth'];

/** Files at the top of src/ and where they sit. A new top-level file must be placed here. */
const TOP_LEVEL: Record<string, Floor> = {
  'app.ts': 'app',
  'compose.ts': 'app',
  'main.ts': 'entry',
  'server.ts': 'entry',
  'config.ts': 'app', // parses the environment once (the entry points call it); app.ts takes its settings type
  'redis.ts': 'db', // infrastructure client, like the pool
  'paths.ts': 'kernel', // where the package lives, its version: imports nothing from src/
  'config-security.ts': 'app', // part of config.ts's parsing (ROSTER_TRUST_PROXY, ROSTER_ALLOWED_HOSTS)
  'bootstrap-banner.ts': 'entry', // the start banner's bootstrap line (server.ts)
  'log-sink.ts': 'entry', // the process's log destination (server.ts); /metrics gets its counts as values
  'console-assets.ts': 'app', // the console's static assets, loaded by app.ts
};

/**
 * Edges against the floors tolerated while they are being removed (empty since the write path and
 * the faces' plumbing moved off the store and db floors). This list may only shrink: an edge listed
 * here that no longer exists also fails the test. Never add to it.
 */
const KNOWN_VIOLATIONS: readonly string[] = [];

/**
 * Import cycles (type-only edges included) tolerated while being removed, each as its sorted files
 * (empty). Same rule: a listed cycle that no longer exists exactly as listed fails the test.
 */
const KNOWN_CYCLES: readonly string[][] = [];

export interface Edge { from: string; to: string; typeOnly: boolean; line: number }

export function floorOf(rel: string): Floor | null {
  const [top, second] = rel.split('/');
  if (second === undefined) return TOP_LEVEL[top!] ?? null;
  switch (top) {
    case 'kernel': return 'kernel';
    case 'domain': return 'domain';
    case 'db': return 'db';
    case 'store': return 'store';
    case 'http': return 'http';
    case 'cli': return 'entry';
    default: return null;
  }
}

function faceOf(rel: string): string | null {
  const [top, face, rest] = rel.split('/');
  return top === 'http' && rest !== undefined && FACES.includes(face!) ? face! : null;
}

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The src/ file a relative specifier names, or null (a package, node:, or outside src/). */
function resolve(fromFile: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = path.resolve(path.dirname(fromFile), spec);
  const candidates = [base, base.replace(/\.(m?js)$/, '.ts'), `${base}.ts`, path.join(base, 'index.ts')];
  const hit = candidates.find((c) => c.endsWith('.ts') && fs.existsSync(c) && fs.statSync(c).isFile());
  if (!hit) throw new Error(`${path.relative(ROOT, fromFile)}: cannot resolve import '${spec}'`);
  return hit.startsWith(SRC + path.sep) ? hit : null;
}

/** Every import edge of src/ (paths relative to src/). */
export function importGraph(): { files: string[]; edges: Edge[] } {
  const files = listTs(SRC);
  const edges: Edge[] = [];
  for (const file of files) {
    const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const add = (spec: ts.Expression | undefined, typeOnly: boolean, node: ts.Node) => {
      if (!spec || !ts.isStringLiteralLike(spec)) return;
      const to = resolve(file, spec.text);
      if (to) edges.push({ from: path.relative(SRC, file), to: path.relative(SRC, to), typeOnly, line: sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1 });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node)) {
        const c = node.importClause;
        const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
        add(node.moduleSpecifier, typeOnly, node);
      } else if (ts.isExportDeclaration(node)) {
        const typeOnly = node.isTypeOnly || (!!node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly));
        add(node.moduleSpecifier, typeOnly, node);
      } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
        add(node.moduleReference.expression, node.isTypeOnly, node);
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        add(node.arguments[0], false, node); // dynamic import()
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
        add(node.argument.literal as ts.Expression, true, node); // typeof import('…')
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return { files: files.map((f) => path.relative(SRC, f)).sort(), edges };
}

const edgeKey = (e: Pick<Edge, 'from' | 'to'>) => `${e.from} -> ${e.to}`;

/** Edges against the floors, or between two faces; deduplicated by from -> to. */
export function floorViolations(edges: Edge[]): { key: string; why: string; edge: Edge }[] {
  const seen = new Map<string, { key: string; why: string; edge: Edge }>();
  for (const e of edges) {
    const a = floorOf(e.from);
    const b = floorOf(e.to);
    let why: string | null = null;
    if (a === null) why = `src/${e.from} is in no floor (place it in TOP_LEVEL or a floor's folder)`;
    else if (b === null) why = `src/${e.to} is in no floor`;
    else if (!MAY_IMPORT[a].includes(b)) why = `${a} imports ${b}`;
    else {
      const fa = faceOf(e.from);
      const fb = faceOf(e.to);
      if (fa && fb && fa !== fb) why = `face ${fa} imports face ${fb}`;
    }
    if (why && !seen.has(edgeKey(e))) seen.set(edgeKey(e), { key: edgeKey(e), why, edge: e });
  }
  return [...seen.values()].sort((x, y) => x.key.localeCompare(y.key));
}

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
export function cycles(files: string[], edges: Edge[]): string[][] {
  const next = new Map<string, Set<string>>(files.map((f) => [f, new Set()]));
  for (const e of edges) next.get(e.from)!.add(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  const strong = (v: string) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || next.get(v)!.has(v)) out.push(comp.sort());
    }
  };
  for (const f of files) if (!index.has(f)) strong(f);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

describe('architecture: the floors of src/', () => {
  const { files, edges } = importGraph();

  test('the graph is what it should be: every file parsed, imports found', () => {
    assert.ok(files.length > 50, `found ${files.length} source files`);
    assert.ok(edges.length > files.length, `found ${edges.length} import edges`);
    // The parser sees type-only imports and dynamic imports (a test that cannot fail is a defect).
    assert.ok(edges.some((e) => e.typeOnly), 'type-only imports are seen');
    const probe = ts.createSourceFile('probe.ts', `import type { A } from './a.ts';\nconst m = await import('./b.ts');\ntype C = typeof import('./c.ts');\nexport { type D } from './d.ts';`, ts.ScriptTarget.Latest, true);
    const kinds: string[] = [];
    const visit = (n: ts.Node): void => {
      if (ts.isImportDeclaration(n)) kinds.push('import');
      if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword) kinds.push('dynamic');
      if (ts.isImportTypeNode(n)) kinds.push('import-type');
      if (ts.isExportDeclaration(n)) kinds.push('export');
      ts.forEachChild(n, visit);
    };
    visit(probe);
    assert.deepEqual(kinds.sort(), ['dynamic', 'export', 'import', 'import-type']);
  });

  test('every file sits on a floor', () => {
    const lost = files.filter((f) => floorOf(f) === null);
    assert.deepEqual(lost, [], `files in no floor (add them to TOP_LEVEL or move them):\n  ${lost.join('\n  ')}`);
  });

  test('no import runs against the floors, and no face imports another (KNOWN_VIOLATIONS may only shrink)', () => {
    const found = floorViolations(edges);
    const known = new Set(KNOWN_VIOLATIONS);
    const fresh = found.filter((v) => !known.has(v.key));
    const gone = KNOWN_VIOLATIONS.filter((k) => !found.some((v) => v.key === k));
    const lines = [
      ...fresh.map((v) => `  NEW   src/${v.edge.from}:${v.edge.line} imports src/${v.edge.to}${v.edge.typeOnly ? ' (type only)' : ''}: ${v.why}`),
      ...gone.map((k) => `  GONE  ${k}: no longer imported; delete it from KNOWN_VIOLATIONS`),
    ];
    assert.equal(lines.length, 0, `imports against the floors (docs/architecture.md):\n${lines.join('\n')}`);
  });

  test('no import cycle, type-only imports included (KNOWN_CYCLES may only shrink)', () => {
    const found = cycles(files, edges);
    const key = (c: string[]) => c.join(' | ');
    const known = new Set(KNOWN_CYCLES.map((c) => key([...c].sort())));
    const fresh = found.filter((c) => !known.has(key(c)));
    const gone = KNOWN_CYCLES.filter((c) => !found.some((f) => key(f) === key([...c].sort())));
    const show = (c: string[]) => {
      const inside = edges.filter((e) => c.includes(e.from) && c.includes(e.to));
      return inside.map((e) => `      src/${e.from}:${e.line} -> src/${e.to}${e.typeOnly ? ' (type only)' : ''}`).join('\n');
    };
    const lines = [
      ...fresh.map((c) => `  NEW cycle of ${c.length} files:\n${show(c)}`),
      ...gone.map((c) => `  GONE  [${c.join(', ')}]: no longer a cycle as listed; update KNOWN_CYCLES`),
    ];
    assert.equal(lines.length, 0, `import cycles:\n${lines.join('\n')}`);
  });

  test('the rules catch what they should (on a made-up graph)', () => {
    const e = (from: string, to: string): Edge => ({ from, to, typeOnly: false, line: 1 });
    const bad = floorViolations([
      e('domain/a.ts', 'store/b.ts'), e('db/a.ts', 'store/b.ts'), e('http/a.ts', 'db/b.ts'), e('kernel/a.ts', 'domain/b.ts'),
      e('http/onvy/a.ts', 'http/basic/b.ts'), e('store/a.ts', 'http/b.ts'),
    ]).map((v) => v.why);
    assert.deepEqual(bad, ['db imports store', 'domain imports store', 'http imports db', 'face onvy imports face basic', 'kernel imports domain', 'store imports http']);
    const ok = floorViolations([
      e('store/a.ts', 'domain/b.ts'), e('store/a.ts', 'db/b.ts'), e('http/onvy/a.ts', 'http/shared.ts'), e('app.ts', 'store/a.ts'),
      e('cli/x.ts', 'app.ts'), e('db/a.ts', 'paths.ts'), e('http/a.ts', 'kernel/x.ts'),
    ]);
    assert.deepEqual(ok, []);
    assert.deepEqual(cycles(['a.ts', 'b.ts', 'c.ts', 'd.ts'], [e('a.ts', 'b.ts'), e('b.ts', 'c.ts'), e('c.ts', 'a.ts'), e('c.ts', 'd.ts'), e('d.ts', 'd.ts')]),
      [['a.ts', 'b.ts', 'c.ts'], ['d.ts']]);
  });
});
