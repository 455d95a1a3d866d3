// `roster import --team ID FILE`: the commander wiring, signals, and the summary on stdout.
import fs from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import type { Config } from '../../config.ts';
import { connectionOptions, openDatabase } from '../../db/open.ts';
import { parseUuid } from '../../domain/ids.ts';
import { EXPORT_ONLY_FIELDS, FIELDS, ImportError, type Format } from './fields.ts';
import { checkpointPath } from './checkpoint.ts';
import { importUsers } from './run.ts';

export function registerImportCommand(program: Command, config: () => Config): void {
  program.command('import')
    .description('import users from JSON Lines or CSV (resumable; rejected rows go to FILE.rejected.jsonl; summary on stdout)')
    .argument('<file>', 'a .jsonl or .csv file: client_user_id plus any optional field of every face')
    .requiredOption('--team <team_id>', 'team id')
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['jsonl', 'csv']))
    .option('--restart', 'ignore FILE.roster-import.json left by an interrupted run and start from the beginning')
    .option('--batch-size <n>', 'rows per transaction (1-10000)', '1000')
    .option('--progress-interval <seconds>', 'seconds between progress lines when stderr is not a terminal', '5')
    .option('--no-progress', 'no progress output on stderr')
    .option('--emit-events', 'send user.created webhooks for imported users (off by default)') // webhooks (i12)
    .addHelpText('after', [
      '',
      'Fields (JSON Lines keys, CSV header names; only client_user_id is required):',
      ...FIELDS.map((f) => `  ${f.name.padEnd(20)} ${f.kind}`),
      `Accepted and ignored (written by roster export): ${EXPORT_ONLY_FIELDS.join(', ')}`,
      'Rows are checked with the API\'s rules; rows already present (same client_user_id) are skipped.',
      'FILE.roster-import.json records progress after each committed batch: run the same command again to continue.',
    ].join('\n'))
    .action(async (file: string, opts: { team: string; format?: Format; restart?: boolean; batchSize: string; progressInterval: string; progress: boolean; emitEvents?: boolean }) => {
      const teamId = parseUuid(opts.team);
      if (!teamId) throw new ImportError(`--team must be a UUID (got "${opts.team}")`);
      const batchSize = Number(opts.batchSize);
      const interval = Number(opts.progressInterval);
      if (!Number.isFinite(interval) || interval < 0) throw new ImportError('--progress-interval must be a number of seconds');
      if (!fs.existsSync(file)) throw new ImportError(`cannot open ${file}: no such file`);
      const cfg = config();
      const ac = new AbortController();
      const onSignal = () => {
        if (ac.signal.aborted) process.exit(130);
        process.stderr.write('\nroster: interrupted; committing the current batch (again to stop at once)\n');
        ac.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const o = await openDatabase({ ...connectionOptions(cfg), dataDir: cfg.dataDir, role: 'client' });
      try {
        const summary = await importUsers({
          db: o.db.kysely, teamId, file, batchSize, signal: ac.signal, sandboxUserCap: cfg.sandboxUserCap,
          ...(opts.format ? { format: opts.format } : {}),
          ...(opts.restart ? { restart: true } : {}),
          ...(opts.emitEvents ? { emitEvents: true } : {}), // webhooks (i12)
          progress: opts.progress ? { stream: process.stderr, tty: process.stderr.isTTY === true, intervalMs: interval * 1000 } : null,
        });
        process.stdout.write(JSON.stringify(summary) + '\n');
        if (summary.interrupted) {
          process.stderr.write(`roster: stopped after a committed batch (${summary.read} rows read so far); run the same command again to continue\n`);
          process.exitCode = 130;
        }
      } catch (e) {
        if (fs.existsSync(checkpointPath(path.resolve(file))) && !(e instanceof ImportError)) {
          throw new Error(`${(e as Error).message} (committed batches are recorded in ${checkpointPath(file)}: run the same command again to continue)`);
        }
        throw e;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await o.close();
      }
    });
}
