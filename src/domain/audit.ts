// The audit trail: every mutation on every face, as who/what/which user/which request/when.
// Entries never hold health values, names, e-mails or keys.

export interface AuditEntry {
  teamId: string;
  id: string;
  keyId: string | null;
  /** `<face>.<operation>`, e.g. `junction.createUser`. */
  action: string;
  /** The user the mutation touched, when there is one (a Roster user id or a face's id for it). */
  userId: string | null;
  /** The server's own id of the request (never chosen by the client: security review S5). */
  requestId: string;
  /** The client's own `x-request-id`, when it sent a usable one (bounded, sanitised); null otherwise. */
  clientRequestId?: string | null;
  status: number;
  at: Date;
}

export interface AuditQuery {
  teamId?: string;
  userId?: string;
  action?: string;
  since?: Date;
  limit: number;
}

export interface AuditLog {
  record(e: AuditEntry): Promise<void>;
  list(q: AuditQuery): Promise<AuditEntry[]>;
  /** Writes anything buffered. */
  flush(): Promise<void>;
}

/** The one JSON form of an entry, shared by the admin API and `roster audit`. */
export function auditJson(e: AuditEntry) {
  return { id: e.id, team_id: e.teamId, key_id: e.keyId, action: e.action, user_id: e.userId, request_id: e.requestId, client_request_id: e.clientRequestId ?? null, status: e.status, at: e.at.toISOString() };
}
