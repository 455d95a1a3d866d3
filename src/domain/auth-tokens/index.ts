// Mobile SDK sign-in (docs/sign-in-tokens.md): one entry point for the files of this folder.
//   model.ts        settings, records, results, refusals
//   repo.ts         the storage port and the decisions taken under its locks
//   key-ring.ts     RS256 keys: generation, per-instance cache, rotation with a grace period
//   token-format.ts refresh tokens, the sign-in token envelope, audiences and issuers
//   service.ts      the rules: issue, exchange, refresh, verify, end sessions, rotate
export * from './model.ts';
export * from './repo.ts';
export { generateSigningKey } from './key-ring.ts';
export { ACCESS_TOKEN_AUDIENCE, accessIssuer, tokenEndpoint, userTokenOf } from './token-format.ts';
export { AuthTokensService, type AuthTokensDeps } from './service.ts';
