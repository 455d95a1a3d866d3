// U19 — POST /v2/user/{user_id}/create_portal_url
// The URL points at Roster's own portal page; its host is ROSTER_PUBLIC_URL when set, else the host
// the request came to (so a link made through a proxy or port-forward still opens).
import { Type } from 'typebox';
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { UserIdParams, UuidString, Nullable } from '../schemas.ts';
import { PORTAL_CONTEXTS, type PortalContext } from '../../../domain/portal.ts';
import { parseUuid } from '../../../domain/ids.ts';
import { send422 } from '../errors.ts';
import { isDomainError } from '../../../domain/errors.ts';

const Body = Type.Object({
  context: Type.Unsafe<PortalContext>({ type: 'string', enum: [...PORTAL_CONTEXTS] }),
  order_id: Type.Optional(Nullable(UuidString)),
});
const Response = Type.Object({ url: Type.String(), expires_in: Type.Integer() });

export function portalUrl(app: JunctionApp, { portal, linkBase }: Services) {
  app.post('/v2/user/:user_id/create_portal_url', {
    schema: { operationId: 'createPortalUrl', summary: 'A signed link to the user\'s portal page', tags: ['user'], params: UserIdParams, body: Body, response: { 200: Response } },
  }, async (req, reply) => {
    const orderId = req.body.order_id ? parseUuid(req.body.order_id) : null;
    try {
      const r = await portal.create(req.principal.teamId, parseUuid(req.params.user_id)!, req.body.context, orderId);
      const base = linkBase(req);
      return { url: base.replace(/\/$/, '') + r.path, expires_in: r.expiresIn };
    } catch (e) {
      if (isDomainError(e) && e.code === 'demographics_not_found') return send422(reply, e.message);
      throw e;
    }
  });
}
