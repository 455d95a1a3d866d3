// Errors that arise outside a face's own handlers, which each face renders in its own shape
// (src/http/faces.ts dispatches them by prefix). A leaf: imports nothing.

export const OUTSIDE_STATUS = { bad_url: 400, bad_request: 400, not_found: 404, uri_too_long: 414, headers_too_large: 431, commit_failed: 503 } as const;
export type OutsideError = keyof typeof OUTSIDE_STATUS;

/** A rendered answer: status, content type, body text. */
export interface Answer { status: number; type: string; body: string }

/** An error of the shared write path the faces render in their own shape (they map 4xx statusCode + message). */
export class WritePathError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
    this.name = 'WritePathError';
  }
}
