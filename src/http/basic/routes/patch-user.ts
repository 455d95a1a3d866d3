// PATCH /users/{userId}: partial update, at least one property, the full user back.
// Order (contract §4.3): path (400) → user (404) → body (400) → duplicate e-mail (400). The path
// and the lookup run before the body is parsed, so an unknown user with a broken body is a 404.
import type { TypeBoxApp as BasicApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { USER_ID_PATTERN, User, UserIdParams, UserPatch } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { VISIBLE } from '../visible.ts';
import { BasicPathError, bodyIssues, sendIssues, toPatch } from '../errors.ts';

const ID_RE = new RegExp(USER_ID_PATTERN);

export function patchUser(app: BasicApp, { users }: Services) {
  app.patch('/users/:userId', {
    config: { rateLimit: false },
    attachValidation: true,
    // Errors are thrown, not sent, here: the error handler renders them.
    preParsing: async (req, _reply, payload) => {
      const raw = (req.params as { userId?: string }).userId ?? '';
      if (!ID_RE.test(raw)) throw new BasicPathError();
      await users.find(req.principal.teamId, { number: Number(raw) }, VISIBLE);
      return payload;
    },
    schema: { operationId: 'patchOneUser', summary: 'Update a user', tags: ['users'], params: UserIdParams, body: UserPatch, response: { 200: User } },
  }, async (req, reply) => {
    const issues = bodyIssues(req.body, req.validationError as never, 'patch', new Date());
    if (issues) return sendIssues(req, reply, issues);
    const u = await users.update(req.principal.teamId, { number: Number(req.params.userId) }, toPatch(req.body as Record<string, unknown>), 'merge', { query: VISIBLE });
    req.auditUserId = u.user.id;
    return renderUser(u);
  });
}
