// 1 — POST /users: create a user with a customer-supplied id (201). 400 → 422 → 409.
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { CreateUserBody, User } from '../schemas.ts';
import { renderUser } from '../render.ts';
import { toPatch } from '../mapping.ts';

export function createUser(app: OnvyApp, { users }: Services) {
  app.post('/users', {
    config: { onvyScope: 'users:create' },
    schema: { operationId: 'createUser', summary: 'Create a new user', tags: ['users'], body: CreateUserBody, response: { 201: User } },
  }, async (req, reply) => {
    const view = await users.create({ teamId: req.principal.teamId, mode: req.principal.mode }, { clientUserId: req.body.id, profile: toPatch(req.body) });
    req.auditUserId = view.user.id;
    return reply.code(201).send(renderUser(view));
  });
}
