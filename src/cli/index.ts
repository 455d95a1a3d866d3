// The `roster` command. Works whether or not a server runs on the same DATA_DIR / DATABASE_URL:
// with embedded storage it reuses a running server's database, else starts one for the command.
import { Command, Option } from 'commander';
import { loadConfig, ConfigError, type Config } from '../config.ts';
import { connectionOptions, openDatabase, type OpenedDb } from '../db/open.ts';
import type { KeyRole, TeamMode } from '../domain/teams.ts';
import { buildServices, revokeKey, runMaintenance, type CoreServices } from '../compose.ts';
import { isDomainError } from '../domain/errors.ts';
import { parseUuid } from '../domain/ids.ts';
import { auditJson as renderAudit } from '../domain/audit.ts';
import { operatorEntry } from '../domain/operator-audit.ts';
import { randomUUID } from 'node:crypto';
import { registerImportCommand } from './import/index.ts';
import { registerExportCommand } from './export.ts';
import { registerBackupCommands } from './backup.ts';
import { registerWebhookCommands } from './webhook.ts'; // webhooks (i12)
import { registerKeysCommands } from './keys.ts';

const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');

async function withDb<T>(config: Config, fn: (o: OpenedDb) => Promise<T>): Promise<T> {
  const o = await openDatabase({ ...connectionOptions(config), dataDir: config.dataDir, role: 'client' });
  try {
    return await fn(o);
  } finally {
    await o.close();
  }
}

/** The services over the command's database, built as the server builds them (src/compose.ts). */
const coreOf = (o: OpenedDb, config: Config): CoreServices => buildServices(o.db, {
  sandboxUserCap: config.sandboxUserCap,
  portalTtl: { launch: config.portalLaunchTtlS, communications: config.portalCommunicationsTtlS },
});
async function withCore<T>(config: Config, fn: (core: CoreServices, o: OpenedDb) => Promise<T>): Promise<T> {
  return withDb(config, (o) => fn(coreOf(o, config), o));
}
/** An operator action in the audit trail (who: the CLI; security review C11). */
async function cliAudit(core: CoreServices, action: string, teamId: string, keyId: string | null): Promise<void> {
  await core.audit.record(operatorEntry('cli', action, teamId, keyId, `cli-${randomUUID()}`, 200, new Date()));
  await core.audit.flush();
}

function uuidArg(v: string, what: string): string {
  const u = parseUuid(v);
  if (!u) throw new CliError(`${what} must be a UUID (got "${v}")`);
  return u;
}

class CliError extends Error {}

export function buildCli(config: () => Config): Command {
  const program = new Command('roster').description('Roster: a self-hostable user registry that speaks Junction\'s v2 Users API').showHelpAfterError();

  program.command('serve').description('start the HTTP server (same as npm start)').action(async () => {
    // Loaded on demand: the HTTP app is most of the module graph, and no other command needs it.
    const { serve } = await import('../server.ts');
    await serve(config());
  });

  program.command('migrate').description('apply pending database migrations').action(async () => {
    await withDb(config(), async (o) => out({ applied: o.applied }));
  });

  const team = program.command('team').description('manage teams');
  team.command('create').description('create a team and print its first API key (shown once)')
    .requiredOption('--name <name>', 'team name')
    .addOption(new Option('--mode <mode>', 'sandbox or production').choices(['sandbox', 'production']).default('sandbox'))
    .action(async (opts: { name: string; mode: TeamMode }) => {
      await withCore(config(), async (core) => {
        const r = await core.teams.createTeam(opts.name, opts.mode);
        await cliAudit(core, 'createTeam', r.team.id, r.key.id);
        out({ team_id: r.team.id, name: r.team.name, mode: r.team.mode, key_id: r.key.id, api_key: r.apiKey });
      });
    });
  team.command('list').description('list teams (one JSON object per line)').action(async () => {
    await withCore(config(), async (core) => {
      for (const t of await core.teams.listTeams()) out({ team_id: t.id, name: t.name, mode: t.mode, created_at: t.createdAt.toISOString(), active_keys: t.keys });
    });
  });

  team.command('set-limit').description('requests per minute per API key for a team ("default" = the server default)')
    .requiredOption('--team <team_id>', 'team id')
    .requiredOption('--per-minute <n>', 'a positive integer, or "default"')
    .action(async (opts: { team: string; perMinute: string }) => {
      const teamId = uuidArg(opts.team, '--team');
      const n = opts.perMinute === 'default' ? null : Number(opts.perMinute);
      if (n !== null && !Number.isInteger(n)) throw new CliError('--per-minute must be a positive integer or "default"');
      await withCore(config(), async (core) => {
        await core.teams.setRateLimit(teamId, n);
        await cliAudit(core, 'setTeamRateLimit', teamId, null);
        out({ team_id: teamId, rate_limit_per_minute: n });
      });
    });

  team.command('set-mode').description('move a team between sandbox and production (its keys keep working; docs/console.md)')
    .requiredOption('--team <team_id>', 'team id')
    .addOption(new Option('--mode <mode>', 'sandbox or production').choices(['sandbox', 'production']).makeOptionMandatory())
    .action(async (opts: { team: string; mode: string }) => {
      const teamId = uuidArg(opts.team, '--team');
      await withCore(config(), async (core) => {
        const r = await core.teams.setMode(teamId, opts.mode);
        await cliAudit(core, 'setTeamMode', teamId, null);
        out({ team_id: teamId, mode: r.team.mode, previous_mode: r.previous });
      });
    });

  const key = program.command('key').description('manage API keys');
  key.command('create').description('create an API key for a team (shown once)')
    .requiredOption('--team <team_id>', 'team id')
    .addOption(new Option('--role <role>', 'full or read_only').choices(['full', 'read_only']).default('full'))
    .action(async (opts: { team: string; role: KeyRole }) => {
      const teamId = uuidArg(opts.team, '--team');
      await withCore(config(), async (core) => {
        const r = await core.teams.createKey(teamId, opts.role);
        await cliAudit(core, 'createKey', teamId, r.key.id);
        out({ key_id: r.key.id, team_id: r.key.teamId, role: r.key.role, prefix: r.key.prefix, api_key: r.apiKey });
      });
    });
  key.command('list').description('list a team\'s keys (prefixes only)').requiredOption('--team <team_id>', 'team id').action(async (opts: { team: string }) => {
    const teamId = uuidArg(opts.team, '--team');
    await withCore(config(), async (core) => {
      for (const k of await core.teams.listKeys(teamId)) out({ key_id: k.id, prefix: k.prefix, role: k.role, created_at: k.createdAt.toISOString(), revoked_at: k.revokedAt?.toISOString() ?? null });
    });
  });
  key.command('revoke').description('revoke an API key; it stops working at once on every instance').argument('<key_id>').action(async (keyId: string) => {
    const id = uuidArg(keyId, 'key_id');
    await withCore(config(), async (core, o) => {
      const { teamId } = await revokeKey(core, o.db, id);
      await cliAudit(core, 'revokeKey', teamId, id);
      out({ key_id: id, revoked: true });
    });
  });

  program.command('audit').description('print audit entries, newest first (one JSON line each)')
    .option('--team <team_id>', 'only this team')
    .option('--user <user_id>', 'only entries about this user')
    .option('--action <action>', 'only this action, e.g. junction.createUser')
    .option('--since <iso>', 'only entries at or after this time')
    .option('--limit <n>', 'at most this many (1-100000)', '100')
    .action(async (opts: { team?: string; user?: string; action?: string; since?: string; limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new CliError('--limit must be an integer from 1 to 100000');
      const since = opts.since ? new Date(opts.since) : undefined;
      if (since && Number.isNaN(since.getTime())) throw new CliError('--since must be an ISO 8601 date-time');
      const teamId = opts.team ? uuidArg(opts.team, '--team') : undefined;
      await withCore(config(), async (core) => {
        const rows = await core.audit.list({ limit, ...(teamId ? { teamId } : {}), ...(opts.user ? { userId: opts.user } : {}), ...(opts.action ? { action: opts.action } : {}), ...(since ? { since } : {}) });
        for (const e of rows) out(renderAudit(e));
      });
    });

  program.command('purge').description('the server\'s hourly sweep, once: hard-delete users whose 7-day undo window has passed, expired sign-in and refresh tokens, expired idempotency keys, and audit entries past ROSTER_AUDIT_RETENTION_DAYS (when set)').action(async () => {
    const cfg = config();
    await withCore(cfg, async (core, o) => {
      const r = await runMaintenance(core, o.db, { auditRetentionDays: cfg.auditRetentionDays, webhookRetentionDays: cfg.webhooks.retentionDays });
      out({ purged: r.users, auth_tokens_purged: r.authTokens, idempotency_keys_purged: r.idempotencyKeys, audit_events_purged: r.auditEvents, webhook_rows_purged: r.webhookRows, console_sessions_purged: r.consoleSessions });
    });
  });

  registerImportCommand(program, config);
  registerExportCommand(program, config);
  registerBackupCommands(program, config);
  registerWebhookCommands(program, config); // webhooks (i12)
  registerKeysCommands(program, config);

  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli(() => loadConfig()).parseAsync(argv);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof CliError) process.stderr.write(`roster: ${e.message}\n`);
    else if (isDomainError(e)) process.stderr.write(`roster: ${e.message}\n`);
    else process.stderr.write(`roster: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}
