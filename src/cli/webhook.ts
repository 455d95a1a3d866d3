// `roster webhook create|list|rotate|test|recover`: the admin API's webhook operations from the
// command line (docs/webhooks.md). One JSON object per line on stdout, like the other commands.
import { Option, type Command } from 'commander';
import type { Config } from '../config.ts';
import { openDatabase } from '../db/open.ts';
import { parseUuid } from '../domain/ids.ts';
import { FORMATS, type WebhookFormat } from '../domain/webhooks/events.ts';
import { WebhookError, type WebhooksService } from '../domain/webhooks/service.ts';
import type { Endpoint } from '../domain/webhooks/ports.ts';
import { webhooksAdminService } from '../compose.ts';
import { openSecretsAtRest } from '../store/secret-box.ts';

const out = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n');

const uuid = (v: string, what: string): string => {
  const u = parseUuid(v);
  if (!u) throw new Error(`${what} must be a UUID (got "${v}")`);
  return u;
};

const endpointLine = (e: Endpoint) => ({
  id: e.id, team_id: e.teamId, format: e.format, url: e.url, description: e.description, filter_types: e.filterTypes,
  disabled: e.disabled, disabled_reason: e.disabledReason, created_at: e.createdAt.toISOString(),
});

async function withService<T>(config: () => Config, fn: (w: WebhooksService) => Promise<T>): Promise<T> {
  const cfg = config();
  const o = await openDatabase({ databaseUrl: cfg.databaseUrl, dataDir: cfg.dataDir, role: 'client' });
  try {
    // Endpoint secrets are sealed at rest when ROSTER_SECRET_KEY is set (as the server does).
    return await fn(webhooksAdminService(o.db.kysely, cfg.webhooks, await openSecretsAtRest(o.db.kysely, cfg.secretKey)));
  } catch (e) {
    if (e instanceof WebhookError) throw new Error(`${e.code}: ${e.message}`);
    throw e;
  } finally {
    await o.close();
  }
}

export function registerWebhookCommands(program: Command, config: () => Config): void {
  const wh = program.command('webhook').description('manage outgoing webhook endpoints (docs/webhooks.md)');
  wh.command('create').description('register an endpoint; prints it with its signing secret')
    .requiredOption('--team <team_id>', 'team id')
    .requiredOption('--url <url>', 'https URL the events are POSTed to')
    .addOption(new Option('--format <format>', 'junction (Svix), onvy or standard').choices([...FORMATS]).makeOptionMandatory())
    .option('--filter <types>', 'comma-separated event types (required for onvy; see GET /admin/webhook-event-types)')
    .option('--secret <secret>', 'a signing secret of your own (default: generated)')
    .option('--description <text>', 'a note for people')
    .action(async (o: { team: string; url: string; format: WebhookFormat; filter?: string; secret?: string; description?: string }) => {
      const teamId = uuid(o.team, '--team');
      await withService(config, async (w) => {
        const ep = await w.create(teamId, {
          url: o.url, format: o.format, ...(o.filter !== undefined ? { filterTypes: o.filter.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
          ...(o.secret !== undefined ? { secret: o.secret } : {}), ...(o.description !== undefined ? { description: o.description } : {}),
        });
        out({ ...endpointLine(ep), secret: ep.secret });
      });
    });
  wh.command('list').description("list a team's endpoints (no secrets)").requiredOption('--team <team_id>', 'team id').action(async (o: { team: string }) => {
    const teamId = uuid(o.team, '--team');
    await withService(config, async (w) => { for (const e of await w.list(teamId)) out(endpointLine(e)); });
  });
  wh.command('rotate').description('rotate the signing secret; the old one keeps signing for the grace period')
    .requiredOption('--team <team_id>', 'team id').requiredOption('--id <endpoint_id>', 'endpoint id')
    .option('--grace <seconds>', 'grace period of the old secret (0-604800)', '86400')
    .action(async (o: { team: string; id: string; grace: string }) => {
      const grace = Number(o.grace);
      if (!Number.isInteger(grace) || grace < 0 || grace > 604_800) throw new Error('--grace must be an integer from 0 to 604800');
      await withService(config, async (w) => out({ id: uuid(o.id, '--id'), key: await w.rotate(uuid(o.team, '--team'), uuid(o.id, '--id'), undefined, grace) }));
    });
  wh.command('test').description('POST an example event now and print the answer')
    .requiredOption('--team <team_id>', 'team id').requiredOption('--id <endpoint_id>', 'endpoint id')
    .option('--event-type <type>', 'an event type of the endpoint\'s format')
    .action(async (o: { team: string; id: string; eventType?: string }) => {
      await withService(config, async (w) => {
        const r = await w.test(uuid(o.team, '--team'), uuid(o.id, '--id'), o.eventType);
        out({ delivered: r.delivered, status_code: r.statusCode, duration_ms: r.durationMs, error: r.error });
        if (!r.delivered) process.exitCode = 1;
      });
    });
  wh.command('recover').description('queue again every failed delivery of an endpoint since a time')
    .requiredOption('--team <team_id>', 'team id').requiredOption('--id <endpoint_id>', 'endpoint id')
    .requiredOption('--since <iso>', 'ISO 8601 date-time')
    .action(async (o: { team: string; id: string; since: string }) => {
      const since = new Date(o.since);
      if (Number.isNaN(since.getTime())) throw new Error('--since must be an ISO 8601 date-time');
      await withService(config, async (w) => out({ requeued: await w.recover(uuid(o.team, '--team'), uuid(o.id, '--id'), since) }));
    });
}
