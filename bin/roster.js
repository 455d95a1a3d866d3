#!/usr/bin/env node
// Entry point of the `roster` command: TypeScript runs through tsx's loader, no build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/index.ts');
await runCli(process.argv);
