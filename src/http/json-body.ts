// One JSON body parser for every face, so each renders parse failures in its own error shape.
import type { FastifyRequest } from 'fastify';
import { BodyTooDeepError, tooDeep } from './body-guard.ts';

export class JsonBodyError extends Error {
  constructor(readonly reason: string, readonly position: number) {
    super(`Invalid JSON body: ${reason}`);
    this.name = 'JsonBodyError';
  }
}

/**
 * Parses any body as JSON whatever its Content-Type (Junction's SDKs always send JSON; a missing or
 * odd content type must not turn into a 415). An empty body is "no body".
 */
export function parseJsonBody(_req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  if (text.trim() === '') return done(null, undefined);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const pos = m ? Number(m[1]) : text.length;
    return done(new JsonBodyError(msg, pos));
  }
  // A body nested absurdly deep is refused before anything recursive sees it (C13).
  done(tooDeep(value) ? new BodyTooDeepError() : null, value);
}
