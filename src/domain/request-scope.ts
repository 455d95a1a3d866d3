// The unit of work of one HTTP request, as the floors above the store see it: an opaque handle.
// While a request runs inside its scope, the store's queries follow the scope's transaction (an
// idempotent write, src/domain/idempotency.ts) or its read replica (read routing). What a scope holds
// is the store's business (src/store/request-scope.ts).

declare const scopeBrand: unique symbol;
export interface RequestScope { readonly [scopeBrand]: true }

export interface RequestScopes {
  /** A fresh scope, holding nothing yet. */
  open(): RequestScope;
  /** Runs `next` (the rest of the request) inside `scope`. */
  run(scope: RequestScope, next: () => void): void;
}

/** Where a key's reads go: the replica unless that key wrote recently (docs/scaling.md). */
export interface ReadRouting {
  /** Lets `scope` read from the replica when `keyId` may. */
  route(scope: RequestScope, keyId: string): Promise<void>;
  /** Call once a write by `keyId` has committed, before its response is sent. */
  noteWrite(keyId: string): Promise<void>;
}
