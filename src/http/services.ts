// What the faces are handed by app.ts: domain services and shared HTTP helpers. Faces never build
// these themselves and never import each other.
import type { UsersService } from '../domain/users/service.ts';
import type { TeamsService, Principal } from '../domain/teams.ts';
import type { KeyResolver } from './auth.ts';
import type { ConnectionsService } from '../domain/connections-service.ts';
import type { DemographicsService } from '../domain/demographics.ts';
import type { InsuranceService } from '../domain/insurance.ts';
import type { PortalService } from '../domain/portal.ts';
import type { AuditLog } from '../domain/audit.ts';
import type { AuthTokensService } from '../domain/auth-tokens/index.ts';
import type { Redis } from 'ioredis';
import type { WebhooksService } from '../domain/webhooks/service.ts';
import type { CredentialThrottle } from './credential-throttle.ts';

export interface Services {
  /** The users aggregate, for every face (docs/faces.md). */
  users: UsersService;
  teams: TeamsService;
  keys: KeyResolver;
  connections: ConnectionsService;
  demographics: DemographicsService;
  insurance: InsuranceService;
  portal: PortalService;
  audit: AuditLog;
  /** Mobile SDK sign-in tokens, sessions and refresh (docs/sign-in-tokens.md). */
  authTokens: AuthTokensService;
  /** Base URL for links Roster hands out (portal pages); null = the request's own host. */
  publicUrl: string | null;
  /** The base of links and token audiences for a request (src/http/link-base.ts, C10). */
  linkBase: (req: import('fastify').FastifyRequest) => string;
  /** Shared state for rate limits across instances, when REDIS_URL is set. */
  redis: Redis | null;
  /** Outgoing webhooks: endpoints, deliveries (docs/webhooks.md). */
  webhooks: WebhooksService;
  /** Failed credential attempts: per-address 429 and a negative cache (security review C4). */
  throttle: CredentialThrottle;
  /** Tells every instance a key was revoked (and evicts it here). */
  revokeKey(keyId: string): Promise<{ teamId: string }>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}
