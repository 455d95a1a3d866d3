// The user portal pages. No API key: the signed link (or short code) is the credential, so every
// failure answers with a page that shows no user data.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.ts';
import type { PortalLookup } from '../../domain/portal.ts';
import { isDomainError } from '../../domain/errors.ts';
import { newId } from '../../domain/ids.ts';
import { clientRequestId } from '../request-id.ts';
import { errorPage, portalPage } from './page.ts';

function html(reply: FastifyReply, status: number, body: string) {
  return reply.code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .header('x-robots-tag', 'noindex')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    .send(body);
}

export async function portalPages(app: FastifyInstance, services: Services) {
  const show = async (lookup: PortalLookup, req: FastifyRequest, reply: FastifyReply) => {
    if (!lookup.ok) {
      if (lookup.reason === 'revoked') return html(reply, 404, errorPage('This link is no longer valid', 'The account it belongs to is not available.'));
      return lookup.reason === 'expired'
        ? html(reply, 410, errorPage('This link has expired', 'For your privacy, portal links only work for a limited time.'))
        : html(reply, 403, errorPage('This link is not valid', 'The link is incomplete or has been changed.'));
    }
    const { teamId, userId } = lookup.grant;
    try {
      const view = await services.users.get(teamId, userId);
      const [demographics, devices] = await Promise.all([
        services.demographics.latestOrNull(teamId, userId),
        services.connections.devices(teamId, userId),
      ]);
      // A view of the user's demographics: in the audit trail like the API's reads of them (S5).
      void services.audit.record({ teamId, id: newId(), keyId: null, action: 'portal.view', userId, requestId: req.id, clientRequestId: clientRequestId(req.headers), status: 200, at: new Date() }).catch(() => {});
      return html(reply, 200, portalPage({ user: view.user, connections: view.connections, demographics, devices, expiresAt: lookup.grant.expiresAt }));
    } catch (e) {
      if (isDomainError(e)) return html(reply, 404, errorPage('This link is no longer valid', 'The account it belongs to is not available.'));
      throw e;
    }
  };

  app.get<{ Params: { token: string } }>('/portal/:token', async (req, reply) => show(await services.portal.openToken(req.params.token), req, reply));
  app.get<{ Params: { code: string } }>('/p/:code', async (req, reply) => show(await services.portal.openCode(req.params.code), req, reply));
}
