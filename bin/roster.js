#!/usr/bin/env node
// Entry point of the `roster` command: dist/cli.mjs, (re)built first if a source is newer.
import { ensureBuilt } from '../scripts/build.mjs';

await ensureBuilt();
const { runCli } = await import('../dist/cli.mjs');
await runCli(process.argv);
