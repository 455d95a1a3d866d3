// The store's side of src/domain/request-scope.ts: a domain RequestScope is a db/request-tx.ts scope
// (the transaction and replica the store's queries follow while the request runs).
import { runInRequestScope, type RequestScope as DbScope } from '../db/request-tx.ts';
import type { ReadRouter } from '../db/read-routing.ts';
import type { ReadRouting, RequestScope, RequestScopes } from '../domain/request-scope.ts';

export const dbScope = (s: RequestScope): DbScope => s as unknown as DbScope;

export const pgRequestScopes: RequestScopes = {
  open: () => ({ trx: null } satisfies DbScope) as unknown as RequestScope,
  run: (scope, next) => runInRequestScope(dbScope(scope), next),
};

/** Read routing over a ReadRouter (src/db/read-routing.ts). */
export const readRouting = (router: ReadRouter): ReadRouting => ({
  async route(scope, keyId) { dbScope(scope).read = await router.replicaFor(keyId); },
  noteWrite: (keyId) => router.noteWrite(keyId),
});
