// The one error pipeline of every face: the order in which an error is looked at, the logging and
// Retry-After are here; what the answer looks like is the face's renderer (its contract's shape).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { isDomainError, type DomainError } from '../../domain/errors.ts';
import { isUnavailable } from '../../kernel/sqlstate.ts';

export type FaceError = FastifyError & { validationContext?: string };
export type ErrorHandler = (err: FaceError, req: FastifyRequest, reply: FastifyReply) => unknown;

/** Not this renderer's error: the pipeline goes on. */
export const PASS = Symbol('pass');

export interface ErrorRenderer {
  /** A request that failed its route's schema (`err.validation`). Absent: treated as a 4xx status. */
  validation?(err: FaceError, req: FastifyRequest, reply: FastifyReply): unknown;
  /** The face's own errors (its body parsers, its path checks), before the domain's; PASS when not one. */
  own?(err: FaceError, req: FastifyRequest, reply: FastifyReply): unknown;
  /** A rule of the domain refused the request. Absent: such an error is an internal one. */
  domain?(err: DomainError, req: FastifyRequest, reply: FastifyReply): unknown;
  /** The database is away or too busy: a 503 (the pipeline logs it and, unless `retryAfter` is false, sends Retry-After: 1). */
  unavailable(req: FastifyRequest, reply: FastifyReply): unknown;
  retryAfter?: boolean;
  /** Any other 4xx (`err.statusCode`) raised by the framework or the shared write path. */
  status(err: FaceError, req: FastifyRequest, reply: FastifyReply): unknown;
  /** Anything else: a 500 (the pipeline logs the error). */
  internal(req: FastifyRequest, reply: FastifyReply): unknown;
}

export function createErrorHandler(r: ErrorRenderer): ErrorHandler {
  return (err, req, reply) => {
    if (err.validation && r.validation) return r.validation(err, req, reply);
    if (r.own) {
      const done = r.own(err, req, reply);
      if (done !== PASS) return done;
    }
    if (r.domain && isDomainError(err)) return r.domain(err, req, reply);
    if (isUnavailable(err)) {
      req.log.warn({ err: { message: err.message, code: err.code } }, 'database unavailable');
      if (r.retryAfter !== false) reply.header('retry-after', '1');
      return r.unavailable(req, reply);
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return r.status(err, req, reply);
    req.log.error({ err }, 'unhandled error');
    return r.internal(req, reply);
  };
}
