// Errors are values: a code from one registry plus the data a face needs to render it in its own
// contract's shape. Nothing here knows about HTTP status codes or wire formats.

/** One failed field. `path` is relative to the input object (e.g. ['fallback_time_zone']). */
export interface FieldIssue {
  path: (string | number)[];
  kind:
    | 'missing'
    | 'type'            // wrong JSON type; `expected` says which
    | 'too_short'
    | 'too_long'        // `limit` holds the cap (bytes for text ids)
    | 'invalid_chars'   // NUL or an unpaired surrogate
    | 'invalid_date'    // `reason` says why
    | 'invalid_time_zone'
    | 'invalid_enum'
    | 'invalid_uuid'
    | 'not_nullable'
    | 'order'           // a cross-field rule, e.g. ingestion_end before ingestion_start
    | 'invalid';        // anything else; `reason` says why
  input: unknown;
  expected?: string;
  limit?: number;
  reason?: string;
  allowed?: readonly string[];
}

export type DomainErrorCode =
  | 'validation_failed'
  | 'user_not_found'
  | 'user_pending_deletion'
  | 'client_user_id_taken'
  | 'nothing_to_patch'
  | 'sandbox_user_cap'
  | 'undo_target_ambiguous'
  | 'team_not_found'
  | 'key_not_found'
  | 'connection_not_found'
  | 'device_not_found'
  | 'demographics_not_found'
  | 'insurance_not_found'
  | 'demo_not_in_sandbox'
  | 'no_connections'
  | 'email_taken';     // profiles: another live user of the team has this e-mail (any case)

export class DomainError extends Error {
  readonly code: DomainErrorCode;
  readonly issues: FieldIssue[];
  /** For client_user_id_taken: the live user that holds the id. */
  readonly existing?: { userId: string; createdAt: Date };
  readonly cap?: number;

  constructor(code: DomainErrorCode, message: string, extra: { issues?: FieldIssue[]; existing?: { userId: string; createdAt: Date }; cap?: number } = {}) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.issues = extra.issues ?? [];
    if (extra.existing) this.existing = extra.existing;
    if (extra.cap !== undefined) this.cap = extra.cap;
  }
}

export function validationFailed(issues: FieldIssue[]): DomainError {
  return new DomainError('validation_failed', 'validation failed', { issues });
}

export const isDomainError = (e: unknown): e is DomainError => e instanceof DomainError;
