// 4 — PUT /users/{user_id}: full replacement of the profile; absent fields become unset.
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { UpdateUserBody, User, UserIdParams } from '../schemas.ts';
import { updateUser } from './update.ts';

export function putUser(app: OnvyApp, services: Services) {
  app.put('/users/:user_id', {
    config: { onvyScope: 'users:update' },
    attachValidation: true,
    schema: { operationId: 'updateUserPut', summary: 'Update user (PUT)', tags: ['users'], params: UserIdParams, body: UpdateUserBody, response: { 200: User } },
  }, (req, reply) => updateUser(services, req, reply, 'replace'));
}
