// What a face gives the app (src/http/faces.ts): its name, its routes and how it renders errors,
// those of its own handlers and those raised outside them (src/http/outside-errors.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Services } from '../services.ts';
import type { OutsideError } from '../outside-errors.ts';
import type { ErrorHandler } from './error-pipeline.ts';

export type FaceName = 'junction' | 'onvy' | 'basic';

export interface Face {
  name: FaceName;
  /** Registers the face's hooks and routes on `app` (already under the face's prefix). */
  register(app: FastifyInstance, services: Services): Promise<void>;
  errors: {
    /** The error handler of the face's own routes (also used for errors of the app scope under its URLs). */
    handler: ErrorHandler;
    /** `kind`, raised outside the face's handlers, as content type and body; `detail` is Junction's text. */
    outside(kind: OutsideError, status: number, requestId: string, detail: string): { type: string; body: unknown };
    /** The request id the face shows for `req` (default: req.id). */
    requestId?(req: FastifyRequest): string;
    /** The same for a request Node's parser refused (no FastifyRequest yet). */
    newRequestId?(id: string): string;
    /** The face answers requests Node's HTTP parser refuses (else Fastify's own answer stands). */
    parserErrors?: boolean;
  };
}
