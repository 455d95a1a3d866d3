// The face registry, used only by app.ts: which faces there are, where each is mounted, and which
// face a request target belongs to (`faceOf`, here only). Errors that arise outside a face's own
// handlers are answered in the error shape of the face whose URL space the request is under:
//   - the router refusing a URL (malformed: 400; a segment over maxParamLength: 414);
//   - Node's HTTP parser refusing a request (request line too long: 414; headers: 431; else 400);
//   - a route no face has (404), and errors of the app-level scope (e.g. the body of such a request);
//   - an idempotent write whose transaction cannot commit (503, src/http/write-path.ts).
// Under any other prefix (admin, portal, the root) the answer is what it always was: Junction's
// `{"detail": ...}` with the caller's text, or the framework's own.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { OUTSIDE_STATUS, type Answer, type OutsideError } from './outside-errors.ts';
import { wireRequestId } from './request-id.ts';
import type { ErrorHandler } from './shared/error-pipeline.ts';
import type { Face } from './shared/face.ts';
import { junctionFace } from './junction/index.ts';
import { onvyFace } from './onvy/index.ts';
import { basicFace, type BasicRateLimit } from './basic/index.ts';

export type { Face, FaceName } from './shared/face.ts';
export type { BasicRateLimit } from './basic/index.ts';

export interface MountedFace {
  face: Face;
  /** Where the face's plugin is registered ('' for Junction, whose routes carry /v2 themselves). */
  mount: string;
  /** The URL space the face answers under (errors outside its handlers included). */
  urlSpace: string;
}

export interface FaceSettings { onvyPrefix: string; basicPrefix: string; basicRateLimit: BasicRateLimit }

/** Every face, where the settings put it. */
export function mountFaces(s: FaceSettings): MountedFace[] {
  return [
    { face: junctionFace, mount: '', urlSpace: '/v2' },
    { face: onvyFace, mount: s.onvyPrefix, urlSpace: s.onvyPrefix },
    { face: basicFace({ rateLimit: s.basicRateLimit }), mount: s.basicPrefix, urlSpace: s.basicPrefix },
  ];
}

export function faceRegistry(mounted: readonly MountedFace[]) {
  const trim = (p: string) => p.replace(/\/+$/, '');
  const spaces = mounted.map((m) => ({ face: m.face, prefix: trim(m.urlSpace) }));
  const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

  /** The face a request target belongs to, as the router sees it (absolute-form and %-encoding included). */
  function faceOf(url: string): Face | null {
    let path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').replace(/[?#].*$/s, '') || '/';
    try { path = decodeURI(path); } catch { /* as sent */ }
    return spaces.find((s) => under(path, s.prefix))?.face ?? null;
  }

  /** `kind` as the face under `url` answers it; elsewhere `{"detail": detail}`. */
  function answer(url: string, requestId: string, kind: OutsideError, detail: string): Answer {
    const status = OUTSIDE_STATUS[kind];
    const face = faceOf(url);
    const a = face ? face.errors.outside(kind, status, requestId, detail) : { type: 'application/json', body: { detail } };
    return { status, type: a.type, body: JSON.stringify(a.body) };
  }

  /** The request id the face under `req.url` shows for it (basic: `req-<id>`). */
  const requestId = (req: FastifyRequest) => faceOf(req.url)?.errors.requestId?.(req) ?? wireRequestId(req);

  return {
    faces: mounted,
    faceOf,
    answer,
    requestId,
    /** The request id a face shows for a request refused before Fastify saw it (`id` fresh). */
    newRequestId: (face: Face, id: string) => face.errors.newRequestId?.(id) ?? id,
    send(req: FastifyRequest, reply: FastifyReply, kind: OutsideError, detail: string) {
      const a = answer(req.url, requestId(req), kind, detail);
      return reply.code(a.status).type(a.type).send(a.body);
    },
    /** App-level error handler: each face's own; elsewhere the framework's (as before). */
    handler(): ErrorHandler {
      return (err, req, reply) => {
        const face = faceOf(req.url);
        return face ? face.errors.handler(err, req, reply) : reply.send(err); // the parent: Fastify's default handler
      };
    },
  };
}

export type FaceRegistry = ReturnType<typeof faceRegistry>;
