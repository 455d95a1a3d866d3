// U18 — POST /v2/user/{user_id}/sign_in_token: a single-use token the user's mobile SDK exchanges
// at /auth/v1/token (docs/sign-in-tokens.md). No body, no content type required.
import { Type } from 'typebox';
import type { TypeBoxApp as JunctionApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { UserIdParams, UuidString } from '../schemas.ts';
import { parseUuid } from '../../../domain/ids.ts';

export const UserSignInTokenResponse = Type.Object({
  user_id: UuidString,
  sign_in_token: Type.String({ description: 'Standard base64 of {"public_key", "user_token"}; user_token is an RS256 JWT. Single use; expires after ROSTER_SIGN_IN_TOKEN_TTL_S.' }),
});

export function signInToken(app: JunctionApp, { authTokens, linkBase }: Services) {
  app.post('/v2/user/:user_id/sign_in_token', {
    schema: { operationId: 'getUserSignInToken', summary: 'Get a sign-in token for the mobile SDK', tags: ['user'], params: UserIdParams, response: { 200: UserSignInTokenResponse } },
  }, async (req, reply) => {
    const userId = parseUuid(req.params.user_id)!;
    const base = linkBase(req);
    const t = await authTokens.issueSignInToken({ teamId: req.principal.teamId, mode: req.principal.mode }, userId, base);
    reply.header('cache-control', 'no-store');
    return { user_id: t.userId, sign_in_token: t.signInToken };
  });
}
