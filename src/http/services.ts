// What the faces are handed by app.ts: domain services and shared HTTP helpers. Faces never build
// these themselves and never import each other.
import type { UsersService } from '../domain/users.ts';
import type { TeamsService, Principal } from '../domain/teams.ts';
import type { KeyResolver } from './auth.ts';

export interface Services {
  users: UsersService;
  teams: TeamsService;
  keys: KeyResolver;
  /** Tells every instance a key was revoked (and evicts it here). */
  revokeKey(keyId: string): Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}
