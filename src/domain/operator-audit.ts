// Operator actions on teams, keys and limits in the audit trail (security review C11). Who acted is
// the action's prefix: `admin.*` = the admin API (ROSTER_ADMIN_TOKEN), `cli.*` = the roster CLI on the
// host. `key_id` names the key acted on (created, revoked; a team's first key), or null; `user_id` is
// null; `request_id` is the admin request's id, or `cli-<uuid>` for a CLI run.
import type { AuditEntry } from './audit.ts';
import { newId } from './ids.ts';

export type Operator = 'admin' | 'cli';

export function operatorEntry(who: Operator, action: string, teamId: string, keyId: string | null, requestId: string, status: number, at: Date, clientRequestId: string | null = null): AuditEntry {
  return { teamId, id: newId(at.getTime()), keyId, action: `${who}.${action}`, userId: null, requestId, clientRequestId, status, at };
}
