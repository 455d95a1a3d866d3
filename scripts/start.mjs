#!/usr/bin/env node
// `npm start`: the server from dist/main.mjs, (re)built first if a source is newer (scripts/build.mjs).
import { ensureBuilt } from './build.mjs';

await ensureBuilt();
await import('../dist/main.mjs');
