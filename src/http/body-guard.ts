// Checks on every parsed JSON body (security review C7, C13), iterative so no input can exhaust the
// stack:
//   - nesting deeper than MAX_BODY_DEPTH is refused at parse time as 413 (the recursive idempotency
//     fingerprint and the 422 echo gave a 500 at ~10,000 levels);
//   - a NUL (U+0000) anywhere, in a key or a string the schema does not check (Junction ignores
//     unknown keys), is refused with the face's validation error (422; the basic face's 400) before
//     any handler runs, so it never reaches PostgreSQL (which refuses it in jsonb: a 500 that logged
//     the text around it).
import type { FastifyInstance } from 'fastify';

export const MAX_BODY_DEPTH = 64;

/** True when `v` nests objects/arrays deeper than `max`. */
export function tooDeep(v: unknown, max = MAX_BODY_DEPTH): boolean {
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d > max) return true;
    for (const c of Array.isArray(x) ? x : Object.values(x)) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
  }
  return false;
}

/** The path of the first key or string holding U+0000, or null. */
export function nulPath(v: unknown): (string | number)[] | null {
  const stack: [unknown, (string | number)[]][] = [[v, []]];
  while (stack.length) {
    const [x, p] = stack.pop()!;
    if (typeof x === 'string') { if (x.includes('\u0000')) return p; continue; }
    if (x === null || typeof x !== 'object') continue;
    if (Array.isArray(x)) { x.forEach((c, i) => stack.push([c, [...p, i]])); continue; }
    for (const [k, c] of Object.entries(x)) {
      if (k.includes('\u0000')) return [...p, k];
      stack.push([c, [...p, k]]);
    }
  }
  return null;
}

/** A body nested past MAX_BODY_DEPTH: every face answers it as its 413. */
export class BodyTooDeepError extends Error {
  readonly statusCode = 413;
  constructor() {
    super(`Request body nests deeper than ${MAX_BODY_DEPTH} levels`);
    this.name = 'BodyTooDeepError';
  }
}

/** Refuses a body with a NUL anywhere, as the route's face renders a body validation error. */
export function refuseNulBodies(app: FastifyInstance): void {
  app.addHook('preHandler', (req, _reply, done) => {
    if (req.body === undefined || req.body === null || typeof req.body !== 'object') return done();
    const p = nulPath(req.body);
    if (!p) return done();
    const instancePath = p.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
    const err = Object.assign(new Error('body must not contain NUL characters'), {
      statusCode: 422,
      validationContext: 'body',
      validation: [{ keyword: 'format', instancePath, schemaPath: '#', params: { format: 'safe-text' }, message: 'must not contain NUL characters' }],
    });
    done(err);
  });
}
