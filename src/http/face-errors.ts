// Errors that arise outside a face's own handlers, answered in the error shape of the face whose
// prefix the request's URL is under (each face renders them: src/http/{onvy,basic}/errors.ts):
//   - the router refusing a URL (malformed: 400; a segment over maxParamLength: 414);
//   - Node's HTTP parser refusing a request (request line too long: 414; headers: 431; else 400);
//   - a route no face has (404), and errors of the app-level scope (e.g. the body of such a request);
//   - an idempotent write whose transaction cannot commit (503, src/http/write-path.ts).
// Under any other prefix (Junction's /v2, admin, portal, the root) the answer is what it always
// was: Junction's `{"detail": ...}` with the caller's text, or the framework's own.
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { outsideError as onvyOutside, onvyErrorHandler } from './onvy/errors.ts';
import { outsideError as basicOutside, basicErrorHandler, requestIdOf } from './basic/errors.ts';
import { junctionErrorHandler } from './junction/index.ts';

import { OUTSIDE_STATUS, type Answer, type OutsideError } from './outside-errors.ts';
export { OUTSIDE_STATUS, type Answer, type OutsideError };

export type Face = 'junction' | 'onvy' | 'basic' | null;


export interface FacePrefixes { onvy: string; basic: string }

type Handler = (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => unknown;

export function faceErrors(prefixes: FacePrefixes) {
  const trim = (p: string) => p.replace(/\/+$/, '');
  const onvy = trim(prefixes.onvy);
  const basic = trim(prefixes.basic);
  const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

  /** The face a request target belongs to, as the router sees it (absolute-form and %-encoding included). */
  function faceOf(url: string): Face {
    let path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').replace(/[?#].*$/s, '') || '/';
    try { path = decodeURI(path); } catch { /* as sent */ }
    if (under(path, onvy)) return 'onvy';
    if (under(path, basic)) return 'basic';
    if (under(path, '/v2')) return 'junction';
    return null;
  }

  /** `kind` as the face under `url` answers it; elsewhere `{"detail": detail}`. */
  function answer(url: string, requestId: string, kind: OutsideError, detail: string): Answer {
    const status = OUTSIDE_STATUS[kind];
    const face = faceOf(url);
    const a = face === 'onvy' ? onvyOutside(kind, status)
      : face === 'basic' ? basicOutside(kind, requestId)
        : { type: 'application/json', body: { detail } };
    return { status, type: a.type, body: JSON.stringify(a.body) };
  }

  return {
    faceOf,
    answer,
    /** The request id a face shows for `req` (basic: `req-<id>`). */
    requestId: (req: FastifyRequest) => (faceOf(req.url) === 'basic' ? requestIdOf(req) : req.id),
    send(req: FastifyRequest, reply: FastifyReply, kind: OutsideError, detail: string) {
      const a = answer(req.url, requestIdOf(req), kind, detail);
      return reply.code(a.status).type(a.type).send(a.body);
    },
    /** App-level error handler: each face's own; elsewhere the framework's (as before). */
    handler(): Handler {
      return (err, req, reply) => {
        switch (faceOf(req.url)) {
          case 'onvy': return onvyErrorHandler(err, req, reply);
          case 'basic': return basicErrorHandler(err, req, reply);
          case 'junction': return junctionErrorHandler(err, req, reply);
          default: return reply.send(err); // the parent: Fastify's default handler
        }
      };
    },
  };
}

export type FaceErrors = ReturnType<typeof faceErrors>;
