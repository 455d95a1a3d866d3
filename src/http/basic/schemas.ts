// Wire schemas of the basic Users API (spec/contracts/basic-users.md; the public OpenAPI is
// spec/vendor/to-do-service-spec.yaml, User / UserInput / UserPatch). Bounds come
// from the domain (src/domain/users/profile-rules.ts).
import { Type } from 'typebox';
import { EMAIL_PATTERN, PROFILE_LIMITS as L } from '../../domain/users/profile-rules.ts';

const Name = Type.String({ minLength: L.name.minChars, maxLength: L.name.maxChars, format: 'safe-text' });
const Email = Type.String({ minLength: L.email.minChars, maxLength: L.email.maxChars, pattern: EMAIL_PATTERN, format: 'safe-text' });

export { BASIC_FIELDS } from './fields.ts';

// Unknown properties are ignored (additionalProperties allowed); userId is read-only (checked by the face).
export const UserInput = Type.Object({ firstName: Name, lastName: Name, contactEmail: Email });
export const UserPatch = Type.Object({ firstName: Type.Optional(Name), lastName: Type.Optional(Name), contactEmail: Type.Optional(Email) });

/** Positive decimal integer, no sign or leading zeros, at most 15 digits (contract §3.3). */
export const USER_ID_PATTERN = '^[1-9][0-9]{0,14}$';
export const UserIdParams = Type.Object({ userId: Type.String({ pattern: USER_ID_PATTERN, description: 'Integer userId' }) });

export const SORT_VALUES = ['userId', 'firstName', 'lastName', 'contactEmail'].flatMap((f) => [f, `-${f}`]);
/** Largest page: page × perPage stays an exact integer. */
export const MAX_PAGE = Math.floor(Number.MAX_SAFE_INTEGER / 100);
export const ListQuery = Type.Object({
  _page: Type.Integer({ minimum: 0, maximum: MAX_PAGE, default: 0, description: 'Zero-indexed page' }),
  _perPage: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  _sort: Type.Optional(Type.Unsafe<string>({ type: 'string', enum: SORT_VALUES, description: 'Field, optionally prefixed with - for descending' })),
});

export const User = Type.Object({
  userId: Type.Integer(),
  firstName: Type.String(),
  lastName: Type.String(),
  contactEmail: Type.String(),
});
export const UserList = Type.Object({ users: Type.Array(User) });

export const ErrorBody = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Array(Type.Object({ field: Type.String(), reason: Type.String(), location: Type.String() }))),
  requestId: Type.String(),
});
