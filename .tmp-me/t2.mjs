import { register } from 'tsx/esm/api';
register();
const { openDatabase } = await import('../src/db/open.ts');
const o = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: '/tmp/none', role: 'client' });
await o.close();
console.log('closed', o.db.pool.totalCount, o.db.pool.idleCount, o.db.pool.ended);
setTimeout(() => { console.log(process._getActiveHandles().map((h) => h.constructor.name)); }, 1000).unref();
