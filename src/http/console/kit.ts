// The console's shared types: what a page module is handed (ConsoleKit), what the console is built
// from (ConsoleDeps) and what another feature adds (ConsoleSection). Kept apart from index.ts, which
// imports every page module, so the pages do not import it back (no cycle).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.ts';
import type { ConsoleAccess, ConsoleReads, ConsoleSession, ConsoleTeam } from '../../domain/console.ts';
import type { ConsoleAssets } from './assets.ts';
import type { NavItem, PageInput } from './layout.ts';

/**
 * A team-scoped section another feature adds to the console (the webhook pages, issue 12): a nav
 * entry under /admin/console/t/{team}/{path} and the routes behind it, registered with the kit so
 * they get the same session, CSRF, origin checks, layout and audit.
 */
export interface ConsoleSection {
  nav: NavItem;
  register(app: FastifyInstance, kit: ConsoleKit): void;
}

export interface ConsoleDeps {
  services: Services;
  access: ConsoleAccess;
  reads: ConsoleReads;
  /** The pinned htmx.min.js (bytes), from the build. */
  htmx: Buffer;
  /** ROSTER_PUBLIC_URL: the expected Origin, https → `__Host-` cookie with Secure. */
  publicUrl: string | null;
  sections?: ConsoleSection[];
  now?: () => Date;
}

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession: ConsoleSession | null;
  }
}

/** What page handlers use. */
export interface ConsoleKit {
  deps: ConsoleDeps;
  assets: ConsoleAssets;
  nav: NavItem[];
  now: () => Date;
  /** Renders a full page (status 200 unless given) for the signed-in operator. */
  page(req: FastifyRequest, reply: FastifyReply, p: PageInput, status?: number): Promise<FastifyReply>;
  /** The team named by `:team` in the path, or a 404 page has been sent (then null). */
  team(req: FastifyRequest, reply: FastifyReply): Promise<ConsoleTeam | null>;
  /**
   * The team and the UUID in path parameter `param`, or a 404 page has been sent (then null):
   * "This is not a {what} id", with a link back to `back` (its href and text) in the team.
   */
  teamAndId(req: FastifyRequest, reply: FastifyReply, o: { param: string; what: string; current: PageInput['current']; back: (teamId: string) => [string, string] }): Promise<{ team: ConsoleTeam; id: string } | null>;
  /** Records a console mutation in the audit trail (key id null: the operator, not an API key). */
  audit(req: FastifyRequest, teamId: string, operation: string, userId: string | null, status?: number): Promise<void>;
  /** 303 to a console path, with an optional status message code. */
  redirect(reply: FastifyReply, path: string, done?: string): FastifyReply;
  /** The message for a domain error (DomainError, WebhookError), or rethrows anything else. */
  problem(e: unknown): string;
  form(req: FastifyRequest): Record<string, string>;
  /** Base URL for links Roster hands out (portal links). */
  baseUrl(req: FastifyRequest): string;
}

