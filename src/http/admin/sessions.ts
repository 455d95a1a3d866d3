// Admin routes for mobile sessions and portal links (issue 15: S4, C9), registered by admin/index.ts
// under its token check.
//   POST   /admin/teams/{team_id}/users/{user_id}/end-sessions        ends every mobile session of the user
//   POST   /admin/teams/{team_id}/users/{user_id}/revoke-portal-links every portal link issued to the user so far
//   DELETE /admin/teams/{team_id}/portal-links/{code}                 one short (communications) link
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Services } from '../services.ts';
import { parseUuid } from '../../domain/ids.ts';

const UserParams = Type.Object({ team_id: Type.String({ format: 'uuid' }), user_id: Type.String({ format: 'uuid' }) });
const LinkParams = Type.Object({ team_id: Type.String({ format: 'uuid' }), code: Type.String({ minLength: 1, maxLength: 64 }) });
const Ended = Type.Object({ team_id: Type.String(), user_id: Type.String(), sessions_ended: Type.Integer(), sign_in_tokens_revoked: Type.Integer() });
const Revoked = Type.Object({ team_id: Type.String(), user_id: Type.String(), stored_links_revoked: Type.Integer() });
const NoBody = Type.Unsafe<void>({ type: 'null', description: 'Revoked (no body)' });
const tags = ['admin'];

const notFound = (reply: FastifyReply, what: string) =>
  reply.code(404).type('application/json').send({ error: { code: `${what.toUpperCase()}_NOT_FOUND`, message: `${what} not found` } });

// A user that is not the team's (user_not_found) is the admin error handler's 404 (admin/index.ts).
export function adminSessions(a: FastifyInstance<any, any, any, any, TypeBoxTypeProvider>, services: Services) {
  a.post('/teams/:team_id/users/:user_id/end-sessions', {
    schema: { operationId: 'endUserSessions', summary: 'End every mobile session of a user (refresh and access tokens stop working; unused sign-in tokens too)', tags, params: UserParams, response: { 200: Ended } },
  }, async (req) => {
    const teamId = parseUuid(req.params.team_id)!;
    const userId = parseUuid(req.params.user_id)!;
    const r = await services.authTokens.endSessions(teamId, userId);
    return { team_id: teamId, user_id: userId, sessions_ended: r.sessions, sign_in_tokens_revoked: r.signInTokens };
  });
  a.post('/teams/:team_id/users/:user_id/revoke-portal-links', {
    schema: { operationId: 'revokeUserPortalLinks', summary: 'Revoke every portal link issued to a user so far', tags, params: UserParams, response: { 200: Revoked } },
  }, async (req) => {
    const teamId = parseUuid(req.params.team_id)!;
    const userId = parseUuid(req.params.user_id)!;
    const r = await services.portal.revokeUserLinks(teamId, userId);
    return { team_id: teamId, user_id: userId, stored_links_revoked: r.storedLinksRevoked };
  });
  a.delete('/teams/:team_id/portal-links/:code', {
    schema: { operationId: 'revokePortalLink', summary: 'Revoke one short portal link (the code after /p/)', tags, params: LinkParams, response: { 204: NoBody } },
  }, async (req, reply) => {
    if (!(await services.portal.revokeLink(parseUuid(req.params.team_id)!, req.params.code))) return notFound(reply as FastifyReply, 'link');
    return reply.code(204).send();
  });
}
