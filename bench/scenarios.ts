// What the benchmark sends to each system. A scenario is data (request templates; see
// lib/types.ts for the placeholders), so adding a face or a peer route is a few lines here.
import type { RequestTemplate } from './lib/types.ts';

/** The API key Roster is started with (ROSTER_BOOTSTRAP_API_KEY) and every face is sent. */
export const BENCH_KEY = 'rst_bench_0123456789abcdefghijklmnopqrstuv';

/** Operations compared across systems: a ratio is taken between rows of the same op. */
export type Op = 'create' | 'get' | 'resolve' | 'patch' | 'list' | 'mixed';

export interface Scenario {
  op: Op;
  /** What is sent, as shown in the table. */
  label: string;
  requests: RequestTemplate[];
  /** Carries a target (see report.ts): measured at full length on the primary database. */
  primary?: boolean;
}

const J = { 'x-vital-api-key': BENCH_KEY };

// ---- Roster, Junction face ----------------------------------------------------------------------
const jCreate: RequestTemplate = { method: 'POST', path: '/v2/user', headers: J, body: '{"client_user_id":"bench-{uniq}"}' };
const jGet: RequestTemplate = { method: 'GET', path: '/v2/user/{id}', headers: J };
const jResolve: RequestTemplate = { method: 'GET', path: '/v2/user/resolve/{cid}', headers: J };
const jPatch: RequestTemplate = { method: 'PATCH', path: '/v2/user/{id}', headers: J, body: '{"fallback_time_zone":"{tz}"}' };
const jList: RequestTemplate = { method: 'GET', path: '/v2/user?limit=100', headers: J };

/**
 * Roster's Junction scenarios in the order they run: reads first while the read team holds only
 * its seeded users, creates last.
 */
export const ROSTER: Scenario[] = [
  { op: 'get', label: 'GET /v2/user/{id}', requests: [jGet], primary: true },
  { op: 'resolve', label: 'GET /v2/user/resolve/{cuid}', requests: [jResolve], primary: true },
  { op: 'list', label: 'GET /v2/user?limit=100', requests: [jList] },
  { op: 'patch', label: 'PATCH /v2/user/{id}', requests: [jPatch] },
  {
    op: 'mixed',
    label: 'mixed 80% read / 20% write',
    // reads: 60% get by id + 20% resolve; writes: 10% patch + 10% create
    requests: [{ ...jGet, weight: 60 }, { ...jResolve, weight: 20 }, { ...jPatch, weight: 10 }, { ...jCreate, weight: 10 }],
  },
  { op: 'create', label: 'POST /v2/user', requests: [jCreate], primary: true },
];

/** Paced at half of Roster's own measured peak: p99 targets. */
export const HALF_RATE: { op: 'get' | 'create'; label: string; requests: RequestTemplate[]; boundMs: number }[] = [
  { op: 'get', label: 'GET /v2/user/{id} @ 50% peak', requests: [jGet], boundMs: 5 },
  { op: 'create', label: 'POST /v2/user @ 50% peak', requests: [jCreate], boundMs: 10 },
];

// ---- the ceiling -------------------------------------------------------------------------------
/** bench/servers/minimal.ts serves the same two routes; the same bytes are sent. */
export const MINIMAL: Scenario[] = [
  { op: 'get', label: 'GET /v2/user/{id}', requests: [jGet], primary: true },
  { op: 'create', label: 'POST /v2/user', requests: [jCreate], primary: true },
];
/** bench/servers/echo.ts answers anything. */
export const ECHO: Scenario[] = [{ op: 'get', label: 'GET /v2/user/{id}', requests: [jGet] }];

// ---- what users would pick instead ------------------------------------------------------------
export const JSON_SERVER: Scenario[] = [
  { op: 'get', label: 'GET /users/{id}', requests: [{ method: 'GET', path: '/users/{id}' }] },
  { op: 'resolve', label: 'GET /users?client_user_id={cuid}', requests: [{ method: 'GET', path: '/users?client_user_id={cid}' }] },
  { op: 'list', label: 'GET /users?_limit=100', requests: [{ method: 'GET', path: '/users?_limit=100' }] },
  { op: 'patch', label: 'PATCH /users/{id}', requests: [{ method: 'PATCH', path: '/users/{id}', body: '{"fallback_time_zone":{"id":"{tz}","source_slug":"manual"}}' }] },
  { op: 'create', label: 'POST /users', requests: [{ method: 'POST', path: '/users', body: '{"client_user_id":"bench-{uniq}"}' }] },
];
/** Prism mocks the vendor OpenAPI document: the Junction requests, unchanged. */
export const PRISM: Scenario[] = [
  { op: 'get', label: 'GET /v2/user/{id}', requests: [jGet] },
  { op: 'resolve', label: 'GET /v2/user/resolve/{cuid}', requests: [jResolve] },
  { op: 'list', label: 'GET /v2/user?limit=100', requests: [jList] },
  { op: 'patch', label: 'PATCH /v2/user/{id}', requests: [jPatch] },
  { op: 'create', label: 'POST /v2/user', requests: [jCreate] },
];

// ---- Roster's other faces (measured when their routes answer) -----------------------------------
export interface Face {
  name: string;
  /** Creates one user; {uniq} makes it unique. Also the probe. */
  create: RequestTemplate;
  createOk: number[];
  /** Reads one user created by `create`; {id} is what idOf returned. */
  read: RequestTemplate;
  /** The id to read back, from the create response body. */
  idOf: (body: Record<string, unknown>) => string | undefined;
}

export const FACES: Face[] = [
  {
    name: 'onvy',
    create: { method: 'POST', path: '/onvy/users', headers: { 'x-api-key': BENCH_KEY }, body: '{"id":"bench-{uniq}","firstname":"Avery","measurement_unit":"metric"}' },
    createOk: [201],
    read: { method: 'GET', path: '/onvy/users/{id}', headers: { 'x-api-key': BENCH_KEY } },
    idOf: (b) => (typeof b.id === 'string' ? encodeURIComponent(b.id) : undefined),
  },
  {
    name: 'basic',
    create: { method: 'POST', path: '/basic/users', headers: { authorization: `Bearer ${BENCH_KEY}` }, body: '{"firstName":"Ada","lastName":"Lovelace","contactEmail":"b{uniq}@example.com"}' },
    createOk: [201],
    read: { method: 'GET', path: '/basic/users/{id}', headers: { authorization: `Bearer ${BENCH_KEY}` } },
    idOf: (b) => (typeof b.userId === 'number' ? String(b.userId) : undefined),
  },
];

export function faceScenarios(f: Face): Scenario[] {
  return [
    { op: 'get', label: `${f.read.method} ${f.read.path.replace('{id}', '{id}')}`, requests: [f.read] },
    { op: 'create', label: `${f.create.method} ${f.create.path}`, requests: [f.create] },
  ];
}
