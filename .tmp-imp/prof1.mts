import { checkRow } from '/work/main/src/cli/import.ts';
import { benchRow } from '/work/main/scripts/import-bench.ts';
import { importRow } from '/work/main/src/store/bulk.ts';
const rows = Array.from({ length: 100000 }, (_, i) => JSON.stringify(benchRow(i)));
let t = performance.now();
let ok = 0;
const out = [];
for (const l of rows) { const c = await checkRow(JSON.parse(l), '01a20b5d-93b8-7e5d-806f-d7bf2b4db58d', new Date(), false); if (c.ok) { ok++; out.push(importRow(c.user)); } }
console.log('checkRow 100k', Math.round(performance.now() - t), 'ms', ok);
