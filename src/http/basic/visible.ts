// Which users the basic face can see: its schema requires firstName, lastName and contactEmail, so
// it shows (gets, lists, patches, deletes) only users that have all three. The domain knows no
// faces: the face hands this query to the users service.
import type { UserQuery } from '../../domain/users/model.ts';

export const VISIBLE: UserQuery = Object.freeze({ require: ['firstName', 'lastName', 'email'] as const });
