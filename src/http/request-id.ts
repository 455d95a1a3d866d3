// Request ids (security review S5). Every request has the server's own id (`req.id`, a fresh UUID
// from genReqId): it is what the request's log lines and its audit entry carry, so no client can
// make two requests look like one in the trail. A client may send its own `x-request-id` for its
// tracing; it is kept only when it is 1–128 characters of [A-Za-z0-9_.:-] (anything else is
// dropped, never stored), echoed on the response, logged as `clientReqId` and stored in the audit
// entry's own `client_request_id`, never as the request id.
import type { FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';

const CLIENT_REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The client's `x-request-id` when it is usable, else null (bounded and sanitised by refusal). */
export function clientRequestId(headers: IncomingHttpHeaders): string | null {
  const given = headers['x-request-id'];
  return typeof given === 'string' && CLIENT_REQUEST_ID.test(given) ? given : null;
}

/** The id the response shows: the client's own when it sent a usable one, else the server's. */
export const wireRequestId = (req: FastifyRequest): string => clientRequestId(req.headers) ?? req.id;
