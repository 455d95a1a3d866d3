// `roster keys rotate-signing` and `roster keys rotate-portal` (S2): a new RS256 signing key or a new
// portal secret; the old ones keep verifying through a grace period, then stop. Running servers
// pick the new one up within their key cache time (60 s); nothing needs a restart.
import { Command } from 'commander';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/open.ts';
import { AuthTokensService, DEFAULT_AUTH_TOKEN_SETTINGS } from '../domain/auth-tokens/index.ts';
import { PgAuthTokensRepo } from '../store/auth-tokens.ts';
import { PgPortalRepo } from '../store/portal.ts';
import { openSecretsAtRest } from '../store/secret-box.ts';

const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');

function graceArg(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new Error(`--grace must be a whole number of seconds (got "${v}")`);
  return n;
}

export function registerKeysCommands(program: Command, config: () => Config) {
  const keys = program.command('keys').description('rotate the secrets Roster signs with');
  keys.command('rotate-signing')
    .description('a new RS256 key for sign-in and access tokens; older keys keep verifying for --grace seconds (default: the longest token lifetime)')
    .option('--grace <seconds>', 'how long tokens signed with the old keys keep verifying (0 = stop at once)')
    .action(async (opts: { grace?: string }) => {
      const grace = graceArg(opts.grace);
      const cfg = config();
      const o = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, role: 'client' });
      try {
        const codec = await openSecretsAtRest(o.db.kysely, cfg.secretKey);
        const svc = new AuthTokensService({
          repo: new PgAuthTokensRepo(o.db.kysely, o.db.kysely, codec),
          settings: { ...DEFAULT_AUTH_TOKEN_SETTINGS, signInTokenTtlS: cfg.signInTokenTtlS, accessTokenTtlS: cfg.accessTokenTtlS },
          requireLiveUser: async () => undefined,
        });
        const r = await svc.rotateSigningKey(grace);
        out({ kid: r.kid, retiring: r.retiring, retire_at: r.retireAt.toISOString() });
      } finally {
        await o.close();
      }
    });
  keys.command('rotate-portal')
    .description('a new portal link secret; links signed with the old one keep opening for --grace seconds (default: the launch link lifetime)')
    .option('--grace <seconds>', 'how long links signed with the old secret keep opening (0 = stop at once)')
    .action(async (opts: { grace?: string }) => {
      const cfg = config();
      const grace = graceArg(opts.grace) ?? cfg.portalLaunchTtlS;
      const o = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, role: 'client' });
      try {
        const codec = await openSecretsAtRest(o.db.kysely, cfg.secretKey);
        const r = await new PgPortalRepo(o.db.kysely, o.db.kysely, codec).rotateSecret(grace, new Date());
        out({ rotated: true, retiring: r.retiring, retire_at: r.retireAt.toISOString() });
      } finally {
        await o.close();
      }
    });
}
