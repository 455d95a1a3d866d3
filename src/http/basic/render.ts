// Domain values → the basic wire format: exactly four keys, always present, no timestamps.
import type { ProfiledUser } from '../../domain/users/model.ts';

/** Only for users the basic face can see (visible.ts): the three fields are set. */
export function renderUser(u: ProfiledUser) {
  return { userId: u.number, firstName: u.profile.firstName!, lastName: u.profile.lastName!, contactEmail: u.profile.email! };
}
