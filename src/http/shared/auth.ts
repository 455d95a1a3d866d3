// What every face's authentication shares: how a Bearer credential is read, which methods write,
// and how several credentials of one request become one principal. Each face reads its own
// headers and renders its own 401/403 (its contract's shape).
import type { Principal } from '../../domain/teams.ts';
import type { KeyResolver } from '../auth.ts';

export const WRITE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Read-only keys (api_keys.role) may read on every face, never write. */
export const mayUse = (p: Principal, method: string): boolean => p.role !== 'read_only' || !WRITE_METHODS.has(method);

/** The token of an `Authorization: Bearer <token>` header: undefined without the header, null when it is not of that form. */
export function bearerOf(h: string | undefined): string | null | undefined {
  if (h === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(h);
  return m ? m[1]! : null;
}

/** The value of a header a face reads its key from (the first, when sent more than once). */
export const headerValue = (h: string | string[] | undefined): string | undefined => (Array.isArray(h) ? h[0] : h);

export type Authentication = { principal: Principal } | { failure: 'missing' | 'invalid' | 'mixed' };

/**
 * Every credential sent must be a valid key, and all of one team; of two, the narrower role
 * decides. `missing`: none sent; `invalid`: one is not a key; `mixed`: keys of different teams.
 */
export async function authenticate(keys: KeyResolver, credentials: readonly string[]): Promise<Authentication> {
  if (credentials.length === 0) return { failure: 'missing' };
  const ps = await Promise.all(credentials.map((c) => keys.resolve(c)));
  if (ps.some((p) => p === null)) return { failure: 'invalid' };
  const principals = ps as Principal[];
  if (principals.some((p) => p.teamId !== principals[0]!.teamId)) return { failure: 'mixed' };
  return { principal: principals.find((x) => x.role === 'read_only') ?? principals[0]! };
}
