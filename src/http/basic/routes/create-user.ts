// POST /users: the server assigns userId; 201 with the user and its Location.
import type { TypeBoxApp as BasicApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { User, UserInput } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { bodyIssues, sendIssues, toPatch } from '../errors.ts';

export function createUser(app: BasicApp, { users }: Services) {
  app.post('/users', {
    config: { rateLimit: false },
    attachValidation: true,
    schema: { operationId: 'postNewUser', summary: 'Create a new user', tags: ['users'], body: UserInput, response: { 201: User } },
  }, async (req, reply) => {
    const issues = bodyIssues(req.body, req.validationError as never, 'create', new Date());
    if (issues) return sendIssues(req, reply, issues);
    // No client id: Roster names the user basic:<userId> (docs/faces.md).
    const view = await users.create({ teamId: req.principal.teamId, mode: req.principal.mode }, { clientUserId: null, profile: toPatch(req.body) });
    req.auditUserId = view.user.id;
    return reply.code(201).header('location', `${app.prefix}/users/${view.number}`).send(renderUser(view));
  });
}
