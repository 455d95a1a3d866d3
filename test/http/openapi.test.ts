// The served OpenAPI documents (issue 7 item 1): one per face, generated from the route schemas,
// each with its face's security scheme and server; compared with the vendors' own specs:
//   - Junction: every /v2/user* operation and /v2/link/connect/demo of the vendor JSON exists in
//     ours (method + path, parameter names normalised), and every field the vendor marks required
//     in a 200 response is in our 200 schema with the same JSON type (null aside, followed through
//     $refs, nested objects and arrays). A missing route fails; it is never skipped.
//   - basic: the same for the user operations of the To-Do service spec (success responses).
// The documents do not depend on the database, so this file runs on the first backend only.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { backends, freshDatabase, type TestDatabase } from '../support/backends.ts';
import { startServer, type TestServer } from '../support/server.ts';
import { ClientFacingUser } from '../../src/http/junction/schemas.ts';
import { buildApp } from '../../src/app.ts';

const VENDOR = new URL('../../spec/vendor/', import.meta.url);
const junctionVendor = JSON.parse(readFileSync(new URL('junction-openapi-users.json', VENDOR), 'utf8'));
const basicVendor = parseYaml(readFileSync(new URL('to-do-service-spec.yaml', VENDOR), 'utf8'));

type S = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];
const ADMIN_TOKEN = 'admin-token-openapi-0123456789';

/** `/v2/user/{user_id}/device/{device_id}` → `/v2/user/{}/device/{}`. */
const norm = (p: string) => p.replace(/\{[^}]+\}/g, '{}');

function operations(doc: S, keep: (path: string) => boolean = () => true): Map<string, { path: string; method: string; op: S }> {
  const out = new Map<string, { path: string; method: string; op: S }>();
  for (const [path, item] of Object.entries<S>(doc.paths ?? {})) {
    if (!keep(path)) continue;
    for (const m of METHODS) if (item[m]) out.set(`${m.toUpperCase()} ${norm(path)}`, { path, method: m, op: item[m] });
  }
  return out;
}

/** Follows `$ref`s (local ones) and single-branch allOf, keeping sibling keywords. */
function deref(root: S, s: S | undefined, depth = 0): S | undefined {
  if (!s || depth > 50) return s;
  if (typeof s.$ref === 'string') {
    const target = s.$ref.replace(/^#\//, '').split('/').reduce((a: S | undefined, k: string) => a?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], root);
    if (!target) throw new Error(`unresolvable $ref ${s.$ref}`);
    const { $ref: _r, ...rest } = s;
    return deref(root, { ...target, ...rest, ...(target.required || rest.required ? { required: rest.required ?? target.required } : {}) }, depth + 1);
  }
  if (Array.isArray(s.allOf) && s.allOf.length === 1 && !s.type && !s.properties) {
    const { allOf, ...rest } = s;
    return deref(root, { ...deref(root, allOf[0], depth + 1), ...rest }, depth + 1);
  }
  return s;
}

/** The non-null branch of `anyOf: [X, null]` (or X itself). */
function nonNullBranch(root: S, s: S): S {
  const d = deref(root, s)!;
  for (const k of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(d[k])) {
      const branches = d[k].map((b: S) => deref(root, b)!).filter((b: S) => !(b.type === 'null' || (Array.isArray(b.type) && b.type.length === 1 && b.type[0] === 'null')));
      if (branches.length === 1) return nonNullBranch(root, branches[0]!);
    }
  }
  return d;
}

/** JSON types a schema allows, without 'null'; integer counts as number (one JSON type). null = any. */
function jsonTypes(root: S, s: S): Set<string> | null {
  const d = deref(root, s)!;
  let types: Set<string> | null = null;
  if (d.type !== undefined) types = new Set(Array.isArray(d.type) ? d.type : [d.type]);
  else if (d.const !== undefined) types = new Set([d.const === null ? 'null' : typeof d.const]);
  else if (Array.isArray(d.enum)) types = new Set(d.enum.map((v: unknown) => (v === null ? 'null' : typeof v)));
  else if (Array.isArray(d.anyOf) || Array.isArray(d.oneOf)) {
    types = new Set();
    for (const b of d.anyOf ?? d.oneOf) {
      const t = jsonTypes(root, b);
      if (t === null) return null;
      t.forEach((x) => types!.add(x));
    }
  } else if (d.properties || d.additionalProperties || d.patternProperties) types = new Set(['object']);
  else if (d.items) types = new Set(['array']);
  if (types === null) return null;
  const out = new Set<string>();
  for (const t of types) if (t !== 'null') out.add(t === 'integer' ? 'number' : t);
  return out;
}

const fmt = (t: Set<string> | null) => (t === null ? 'any' : [...t].sort().join('|') || 'null');

/**
 * Problems where `ours` lacks a field `vendor` requires, or types a shared field differently.
 * Recurses through objects (properties, maps) and arrays.
 */
function compareSchemas(vRoot: S, vendor: S, oRoot: S, ours: S, at: string, out: string[], depth = 0) {
  if (depth > 20) return;
  const v = nonNullBranch(vRoot, vendor);
  const o = nonNullBranch(oRoot, ours);
  const vt = jsonTypes(vRoot, v);
  const ot = jsonTypes(oRoot, o);
  if (vt !== null) {
    if (ot === null) { out.push(`${at}: vendor ${fmt(vt)}, ours untyped`); return; }
    if (fmt(vt) !== fmt(ot)) { out.push(`${at}: vendor ${fmt(vt)}, ours ${fmt(ot)}`); return; }
  }
  if (vt?.has('object')) {
    const vProps: S = v.properties ?? {};
    const oProps: S = o.properties ?? {};
    for (const name of v.required ?? []) {
      if (!(name in oProps)) out.push(`${at}.${name}: required by the vendor, missing in ours`);
    }
    for (const [name, vs] of Object.entries<S>(vProps)) {
      if (name in oProps) compareSchemas(vRoot, vs, oRoot, oProps[name], `${at}.${name}`, out, depth + 1);
    }
    // `{propertyNames: {const: K}, additionalProperties: X}` is an object whose only key is K.
    const only = deref(vRoot, v.propertyNames)?.const;
    if (typeof only === 'string' && v.additionalProperties && typeof v.additionalProperties === 'object') {
      if (!(only in oProps)) out.push(`${at}.${only}: the vendor's only key, missing in ours`);
      else compareSchemas(vRoot, v.additionalProperties, oRoot, oProps[only], `${at}.${only}`, out, depth + 1);
    } else if (v.additionalProperties && typeof v.additionalProperties === 'object') {
      const ov = o.additionalProperties && typeof o.additionalProperties === 'object'
        ? o.additionalProperties
        : o.patternProperties ? Object.values<S>(o.patternProperties)[0] : undefined;
      if (!ov) out.push(`${at}{*}: vendor is a map, ours is not`);
      else compareSchemas(vRoot, v.additionalProperties, oRoot, ov, `${at}{*}`, out, depth + 1);
    }
  }
  if (vt?.has('array') && v.items) {
    if (!o.items) out.push(`${at}[]: vendor items typed, ours not`);
    else compareSchemas(vRoot, v.items, oRoot, o.items, `${at}[]`, out, depth + 1);
  }
}

function responseSchema(root: S, op: S, code: string): S | undefined {
  const r = deref(root, op.responses?.[code]);
  return r?.content?.['application/json']?.schema;
}

/** Every `{param}` of the path template is declared `in: path`, and nothing else is. */
function pathParamProblems(doc: S): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries<S>(doc.paths)) {
    const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!).sort();
    for (const m of METHODS) {
      if (!item[m]) continue;
      const declared = (item[m].parameters ?? []).filter((p: S) => p.in === 'path').map((p: S) => p.name).sort();
      if (JSON.stringify(declared) !== JSON.stringify(inTemplate)) out.push(`${m.toUpperCase()} ${path}: template ${inTemplate.join(',')} vs declared ${declared.join(',')}`);
    }
  }
  return out;
}

const backend = backends()[0]!;

describe(`OpenAPI documents (${backend.name})`, () => {
  let tdb: TestDatabase;
  let srv: TestServer;
  const docs: Record<string, S> = {};
  before(async () => {
    tdb = await freshDatabase(backend);
    srv = await startServer(tdb, { adminToken: ADMIN_TOKEN, logLevel: 'silent' });
    for (const face of ['junction', 'onvy', 'basic', 'admin']) {
      const r = await fetch(`${srv.baseUrl}/openapi/${face}.json`);
      assert.equal(r.status, 200, `/openapi/${face}.json`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      docs[face] = await r.json() as S;
    }
  });
  after(async () => {
    await srv?.close();
    await tdb?.drop();
  });

  test('each face: OpenAPI 3.1, its own server and security scheme, only its own paths', () => {
    const j = docs.junction!;
    assert.equal(j.openapi, '3.1.0');
    assert.deepEqual(j.servers.map((s: S) => s.url), ['/']);
    assert.deepEqual(j.components.securitySchemes, { apiKeyAuth: { type: 'apiKey', in: 'header', name: 'x-vital-api-key', description: 'Team API key (roster team create)' } });
    assert.deepEqual(j.security, [{ apiKeyAuth: [] }]);
    assert.ok(Object.keys(j.paths).every((p) => p.startsWith('/v2/')), Object.keys(j.paths).join(' '));

    const onvy = docs.onvy!;
    assert.deepEqual(onvy.servers.map((s: S) => s.url), ['/onvy']);
    assert.deepEqual(Object.values<S>(onvy.components.securitySchemes).map((s) => [s.type, s.in ?? s.scheme, s.name ?? null]).sort(), [['apiKey', 'header', 'X-API-Key'], ['http', 'bearer', null]]);
    assert.deepEqual(onvy.security, [{ apiKeyAuth: [] }, { bearerAuth: [] }]);

    const basic = docs.basic!;
    assert.deepEqual(basic.servers.map((s: S) => s.url), ['/basic']);
    assert.deepEqual(Object.values<S>(basic.components.securitySchemes).map((s) => [s.type, s.scheme]), [['http', 'bearer']]);
    assert.deepEqual(basic.security, [{ bearerAuth: [] }]);

    const admin = docs.admin!;
    assert.deepEqual(admin.servers.map((s: S) => s.url), ['/admin']);
    assert.deepEqual(Object.values<S>(admin.components.securitySchemes).map((s) => [s.type, s.scheme]), [['http', 'bearer']]);
    assert.ok(Object.keys(admin.paths).includes('/teams'), Object.keys(admin.paths).join(' '));

    for (const [face, doc] of Object.entries(docs)) {
      // Nothing outside the faces leaks in (health, metrics, docs, portal pages, mobile auth).
      for (const p of Object.keys(doc.paths)) assert.doesNotMatch(p, /^\/(healthz|readyz|metrics|docs|openapi|portal|auth|onvy|basic|admin)(\/|$)/, `${face}: ${p}`);
    }
  });

  test('every operation has an operationId (unique), a summary and tags', () => {
    for (const [face, doc] of Object.entries(docs)) {
      const seen = new Set<string>();
      for (const [key, { op }] of operations(doc)) {
        assert.ok(op.operationId, `${face} ${key}: operationId`);
        assert.ok(!seen.has(op.operationId), `${face} ${key}: duplicate operationId ${op.operationId}`);
        seen.add(op.operationId);
        assert.ok(op.summary, `${face} ${key}: summary`);
        assert.ok(Array.isArray(op.tags) && op.tags.length > 0, `${face} ${key}: tags`);
      }
    }
  });

  test('path templates and declared path parameters agree', () => {
    for (const [face, doc] of Object.entries(docs)) assert.deepEqual(pathParamProblems(doc), [], face);
  });

  test('generated from the route schemas, not a copy: GET /v2/user/{user_id} 200 is ClientFacingUser', () => {
    const schema = responseSchema(docs.junction!, docs.junction!.paths['/v2/user/{user_id}'].get, '200');
    assert.deepEqual(schema, JSON.parse(JSON.stringify(ClientFacingUser)));
  });

  test('Junction: every vendor user route exists in ours', () => {
    const wanted = operations(junctionVendor, (p) => p.startsWith('/v2/user') || p === '/v2/link/connect/demo');
    assert.equal(wanted.size, 20, 'the vendor spec has 19 /v2/user* operations and the demo connect');
    const ours = operations(docs.junction!);
    const missing = [...wanted.keys()].filter((k) => !ours.has(k));
    assert.deepEqual(missing, [], `Junction routes in the vendor spec but not in ours: ${missing.join(', ')}`);
  });

  test('Junction: every field the vendor requires in a 200 response is in ours, same JSON type', () => {
    const wanted = operations(junctionVendor, (p) => p.startsWith('/v2/user') || p === '/v2/link/connect/demo');
    const ours = operations(docs.junction!);
    const problems: string[] = [];
    let compared = 0;
    for (const [key, { op }] of wanted) {
      const vs = responseSchema(junctionVendor, op, '200');
      if (!vs) continue;
      const mine = ours.get(key);
      if (!mine) { problems.push(`${key}: route missing`); continue; }
      const os = responseSchema(docs.junction!, mine.op, '200');
      if (!os) { problems.push(`${key}: no 200 response schema in ours`); continue; }
      compareSchemas(junctionVendor, vs, docs.junction!, os, key, problems);
      compared++;
    }
    assert.deepEqual(problems, []);
    assert.equal(compared, 19, 'operations with a 200 JSON body compared (all but PATCH /v2/user/{id}, a 204)');
  });

  test('query parameters with a default are optional in the document', () => {
    const params = docs.junction!.paths['/v2/user'].get.parameters as S[];
    assert.deepEqual(params.map((p) => [p.name, p.in, p.required ?? false, p.schema.default]), [['offset', 'query', false, 0], ['limit', 'query', false, 100]]);
  });

  test('Junction: PATCH /v2/user/{user_id} documents its 204', () => {
    const op = docs.junction!.paths['/v2/user/{user_id}'].patch;
    assert.ok(op.responses['204'], JSON.stringify(op.responses));
  });

  test('basic: every user operation of the To-Do spec exists in ours, success bodies match', () => {
    const wanted = operations(basicVendor, (p) => p === '/users' || p.startsWith('/users/'));
    assert.equal(wanted.size, 5);
    const ours = operations(docs.basic!);
    const missing = [...wanted.keys()].filter((k) => !ours.has(k));
    assert.deepEqual(missing, [], `basic routes in the vendor spec but not in ours: ${missing.join(', ')}`);
    const problems: string[] = [];
    let compared = 0;
    for (const [key, { op }] of wanted) {
      for (const code of Object.keys(op.responses).filter((c) => /^2\d\d$/.test(c))) {
        const vs = responseSchema(basicVendor, op, code);
        const mine = ours.get(key)!;
        if (!vs) {
          if (!mine.op.responses?.[code]) problems.push(`${key}: no ${code} response in ours`);
          continue;
        }
        const os = responseSchema(docs.basic!, mine.op, code);
        if (!os) { problems.push(`${key}: no ${code} response schema in ours`); continue; }
        compareSchemas(basicVendor, vs, docs.basic!, os, `${key} ${code}`, problems);
        compared++;
      }
    }
    assert.deepEqual(problems, []);
    assert.equal(compared, 4, 'GET /users, POST /users, GET and PATCH /users/{userId}');
  });

  test('onvy: the users routes of the contract are documented', () => {
    const ours = operations(docs.onvy!);
    for (const k of ['GET /users', 'POST /users', 'GET /users/{}', 'PUT /users/{}', 'PATCH /users/{}', 'DELETE /users/{}']) {
      assert.ok(ours.has(k), `${k} in ${[...ours.keys()].join(', ')}`);
    }
  });

  test('the comparison catches a missing field and a wrong type', () => {
    const vendor = { type: 'object', required: ['a', 'b', 'c'], properties: { a: { type: 'string' }, b: { anyOf: [{ type: 'integer' }, { type: 'null' }] }, c: { type: 'array', items: { type: 'object', required: ['d'], properties: { d: { type: 'boolean' } } } } } };
    const ours = { type: 'object', properties: { a: { type: ['string', 'null'] }, b: { type: 'string' }, c: { type: 'array', items: { type: 'object', properties: {} } } } };
    const out: string[] = [];
    compareSchemas(vendor, vendor, ours, ours, 'x', out);
    assert.deepEqual(out, ['x.b: vendor number, ours string', 'x.c[].d: required by the vendor, missing in ours']);
  });

  test('the admin document is served only when the admin API is on', async () => {
    const t2 = await freshDatabase(backend);
    const s2 = await startServer(t2, { logLevel: 'silent' });
    try {
      assert.equal((await fetch(`${s2.baseUrl}/openapi/admin.json`)).status, 404);
      assert.equal((await fetch(`${s2.baseUrl}/openapi/junction.json`)).status, 200);
    } finally {
      await s2.close();
      await t2.drop();
    }
  });

  test('with ROSTER_PUBLIC_URL, servers are absolute and the docs page may call there', async () => {
    const t2 = await freshDatabase(backend);
    const built = await buildApp({ db: t2.db, databaseUrl: t2.url, logLevel: 'silent', publicUrl: 'https://roster.example.org/base' });
    try {
      const j = (await built.app.inject({ url: '/openapi/junction.json' })).json() as S;
      assert.deepEqual(j.servers.map((x: S) => x.url), ['https://roster.example.org/base']);
      const o = (await built.app.inject({ url: '/openapi/onvy.json' })).json() as S;
      assert.deepEqual(o.servers.map((x: S) => x.url), ['https://roster.example.org/base/onvy']);
      const page = await built.app.inject({ url: '/docs/onvy' });
      assert.match(String(page.headers['content-security-policy']), /connect-src 'self' https:\/\/roster\.example\.org;/);
    } finally {
      await built.close();
      await t2.drop();
    }
  });

  test('the docs page serves the same document', async () => {
    const r = await fetch(`${srv.baseUrl}/docs/junction/json`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), docs.junction);
  });
});
