// Helpers for the Onvy, basic, cross-face and face-errors suites: a server with the faces' options,
// teams and keys of either role, the usual suite set-up (facesSuite), and the basic API's public spec
// (spec/vendor/to-do-service-spec.yaml) compiled for response validation. Raw HTTP
// with each face's credentials: call() and rawHttp() in ../support/junction-http.ts.
import { readFileSync } from 'node:fs';
import { before, after } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { buildApp, type AppOptions, type BuiltApp } from '../../src/app.ts';
import { freshDatabase, type Backend, type TestDatabase } from '../support/backends.ts';

/** A team with a full and a read-only key. */
export interface Team { teamId: string; key: string; readOnlyKey: string }

export interface FacesServer {
  baseUrl: string;
  built: BuiltApp;
  newTeam(mode?: 'sandbox' | 'production'): Promise<Team>;
  close(): Promise<void>;
}

export async function startFaces(tdb: TestDatabase, opts: Partial<AppOptions> = {}): Promise<FacesServer> {
  const built = await buildApp({
    db: tdb.db,
    databaseUrl: tdb.url,
    logLevel: 'silent',
    basicRateLimit: { max: 100_000, windowMs: 60_000 },
    rateLimitPerMinute: 1_000_000,
    credentialThrottle: { maxFailures: 1_000_000 }, // tested in credential-throttle.test.ts
    ...opts,
  });
  const baseUrl = await built.app.listen({ port: 0, host: '127.0.0.1' });
  let n = 0;
  return {
    baseUrl,
    built,
    async newTeam(mode = 'sandbox') {
      const t = await built.services.teams.createTeam(`faces-${++n}-${Date.now()}`, mode);
      const ro = await built.services.teams.createKey(t.team.id, 'read_only');
      return { teamId: t.team.id, key: t.apiKey, readOnlyKey: ro.apiKey };
    },
    close: () => built.close(),
  };
}

export interface FacesSuite {
  tdb: TestDatabase;
  srv: FacesServer;
  /** Two sandbox teams. */
  A: Team;
  B: Team;
}

/**
 * The set-up of a suite, registered on the enclosing describe: before it, a fresh database on
 * `backend`, a server with the faces over it (`opts` over startFaces' defaults) and two teams,
 * handed to `ready` (which keeps what it needs in the suite's variables); after it, the server is
 * closed and the database dropped.
 */
export function facesSuite(backend: Backend, opts: Partial<AppOptions>, ready: (s: FacesSuite) => void): void {
  let tdb: TestDatabase | undefined;
  let srv: FacesServer | undefined;
  before(async () => {
    tdb = await freshDatabase(backend);
    srv = await startFaces(tdb, opts);
    ready({ tdb, srv, A: await srv.newTeam(), B: await srv.newTeam() });
  });
  after(async () => {
    await srv?.close();
    await tdb?.drop();
  });
}

// ---------- the basic API's public spec ----------

const SPEC_URL = new URL('../../spec/vendor/to-do-service-spec.yaml', import.meta.url);
const spec = parseYaml(readFileSync(SPEC_URL, 'utf8')) as Record<string, any>;

const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (a: Ajv) => Ajv;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
// Only the schemas (the document's examples are not JSON Schema).
ajv.addSchema({ $id: 'todo', components: { schemas: spec.components.schemas } });

const compiled = new Map<string, ValidateFunction>();
function validator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    const schema = name.startsWith('#') ? { $ref: `todo${name}` } : { $ref: `todo#/components/schemas/${name}` };
    v = ajv.compile(schema);
    compiled.set(name, v);
  }
  return v;
}

/** The spec's response schema for (method, path template, status), e.g. ('get', '/users', 200). */
export function specResponseSchema(method: string, path: '/users' | '/users/{userId}', status: number): Record<string, any> | null {
  let r = spec.paths[path]?.[method]?.responses?.[String(status)];
  if (!r) return null;
  if (r.$ref) r = spec.components.responses[String(r.$ref).split('/').pop()!];
  return r.content?.['application/json']?.schema ?? null;
}

/**
 * Throws unless `body` is what the public spec documents for this operation and status (the
 * status must be listed for the operation; 405 is ours, outside the spec, and checked as an Error).
 */
export function assertSpec(method: string, path: '/users' | '/users/{userId}', status: number, body: unknown): void {
  const op = spec.paths[path]?.[method];
  if (status === 405) {
    // Ours (the spec has no 405): still the spec's Error body.
    const v = validator('Error');
    if (!v(body)) throw new Error(`405 does not match the spec's Error: ${ajv.errorsText(v.errors)}`);
    return;
  }
  if (!op) throw new Error(`the spec has no ${method.toUpperCase()} ${path}`);
  if (status === 204) {
    if (!op.responses['204']) throw new Error(`${method.toUpperCase()} ${path}: 204 is not in the spec`);
    if (body !== undefined) throw new Error('204 must have no body');
    return;
  }
  const listed = op.responses[String(status)];
  if (!listed && status !== 405 && status !== 503) throw new Error(`${method.toUpperCase()} ${path}: status ${status} is not in the spec`);
  const schema = listed ? specResponseSchema(method, path, status) : { $ref: '#/components/schemas/Error' };
  if (!schema) throw new Error(`${method.toUpperCase()} ${path} ${status}: no JSON schema in the spec`);
  const v = schema.$ref ? validator(schema.$ref) : ajv.compile(rebase(schema) as object);
  if (!v(body)) throw new Error(`${method.toUpperCase()} ${path} ${status} does not match the spec: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body)}`);
}

/** Throws unless `body` is the spec's `Error` (for statuses the spec does not list, e.g. 414). */
export function assertSpecError(body: unknown): void {
  const v = validator('Error');
  if (!v(body)) throw new Error(`not the spec's Error: ${ajv.errorsText(v.errors)}\n${JSON.stringify(body)}`);
}

/** Inline response schemas (e.g. the list's `{users: [...]}`) point into the spec by local $ref. */
function rebase(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(rebase);
  if (s && typeof s === 'object') {
    return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `todo${v}` : rebase(v)]));
  }
  return s;
}

export const ONVY_TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
export const REQUEST_ID_RE = /^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
