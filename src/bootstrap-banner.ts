// The start's line about ROSTER_BOOTSTRAP_API_KEY (security review C2, S5). A revoked bootstrap key
// stays revoked, and the banner says so instead of "already in". Only the key's type prefix (or, for
// an operator-chosen key, at most 4 characters of it) is shown: a short secret is not printed in part.
import type { BootstrapResult } from './domain/teams.ts';

export const bootstrapHint = (key: string): string => (/^[sp]k_rst_/.test(key) ? key.slice(0, 7) : key.slice(0, Math.min(4, Math.floor(key.length / 8))));

export function bootstrapBanner(key: string, r: BootstrapResult): string {
  const k = `bootstrap key ${bootstrapHint(key)}…`;
  if (r.revoked) return `${k} is REVOKED (key ${r.keyId}): it stays revoked; remove ROSTER_BOOTSTRAP_API_KEY from the environment, or set a new key`;
  return `${k} ${r.created ? 'added to' : 'already in'} team "default" (${r.teamId})`;
}
