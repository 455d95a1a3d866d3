// DATABASE_POOLER, DATABASE_DIRECT_URL and ROSTER_SHUTDOWN_DELAY_MS as loadConfig reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, ConfigError } from '../../src/config.ts';

const base = { DATABASE_URL: 'postgres://roster@127.0.0.1:6432/roster' };

test('unset: a direct connection, as before', () => {
  const c = loadConfig({ ...base });
  assert.equal(c.databasePooler, null);
  assert.equal(c.databaseDirectUrl, null);
  assert.equal(c.shutdownDelayMs, 0);
});

test('DATABASE_POOLER=transaction with DATABASE_DIRECT_URL', () => {
  const c = loadConfig({ ...base, DATABASE_POOLER: 'transaction', DATABASE_DIRECT_URL: 'postgres://roster@db:5432/roster', ROSTER_SHUTDOWN_DELAY_MS: '3000' });
  assert.equal(c.databasePooler, 'transaction');
  assert.equal(c.databaseDirectUrl, 'postgres://roster@db:5432/roster');
  assert.equal(c.shutdownDelayMs, 3000);
});

test('refusals name the setting', () => {
  assert.throws(() => loadConfig({ ...base, DATABASE_POOLER: 'transaction' }), (e: Error) => e instanceof ConfigError && /needs DATABASE_DIRECT_URL/.test(e.message));
  assert.throws(() => loadConfig({ DATABASE_POOLER: 'transaction', DATABASE_DIRECT_URL: 'postgres://x@db/r' }), (e: Error) => e instanceof ConfigError && /needs DATABASE_URL/.test(e.message));
  for (const v of ['statement', 'session', 'pgbouncer', 'TRANSACTION']) {
    assert.throws(() => loadConfig({ ...base, DATABASE_POOLER: v, DATABASE_DIRECT_URL: 'postgres://x@db/r' }), (e: Error) => e instanceof ConfigError && /DATABASE_POOLER must be "transaction"/.test(e.message), v);
  }
  assert.throws(() => loadConfig({ ...base, ROSTER_SHUTDOWN_DELAY_MS: '-1' }), /ROSTER_SHUTDOWN_DELAY_MS must be an integer/);
});
