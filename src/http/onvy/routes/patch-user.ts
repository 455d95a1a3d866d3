// 5 — PATCH /users/{user_id}: JSON Merge Patch over the profile (nested objects merge per member).
import type { TypeBoxApp as OnvyApp } from '../../shared/typebox.ts';
import type { Services } from '../../services.ts';
import { UpdateUserBody, User, UserIdParams } from '../schemas.ts';
import { updateUser } from './update.ts';

export function patchUser(app: OnvyApp, services: Services) {
  app.patch('/users/:user_id', {
    config: { onvyScope: 'users:update' },
    attachValidation: true,
    schema: { operationId: 'updateUserPatch', summary: 'Update user (PATCH)', tags: ['users'], params: UserIdParams, body: UpdateUserBody, response: { 200: User } },
  }, (req, reply) => updateUser(services, req, reply, 'merge'));
}
