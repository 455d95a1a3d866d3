// `npm run demo`: walks a fresh Roster through all 19 user operations of Junction's v2 API plus the
// sandbox demo connection, with the official SDK (@tryvital/vital-node), and prints each result.
//
//   npm run demo                                   # in-process Roster on a temporary embedded PostgreSQL
//   DATABASE_URL=postgres://… npm run demo         # in-process Roster on that database (a new team)
//   ROSTER_URL=http://127.0.0.1:8000 ROSTER_API_KEY=sk_… npm run demo   # a running Roster (sandbox team key)
//
// Exit status 0 when every operation answered as expected.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { VitalClient, VitalError } from '@tryvital/vital-node';

interface Target { baseUrl: string; apiKey: string; where: string; stop(): Promise<void> }

async function inProcess(): Promise<Target> {
  const { openDatabase } = await import('../src/db/open.ts');
  const { buildApp } = await import('../src/app.ts');
  let tmp: string | null = null;
  const databaseUrl = process.env.DATABASE_URL || null;
  if (!databaseUrl) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'roster-demo-'));
    fs.chmodSync(tmp, 0o755); // the embedded server may run as the 'postgres' user
  }
  const opened = await openDatabase({ databaseUrl, dataDir: path.join(tmp ?? os.tmpdir(), 'data'), role: 'serve' });
  const built = await buildApp({ db: opened.db, databaseUrl: opened.url, logLevel: 'silent' });
  // A bootstrap key for a new sandbox team, as ROSTER_BOOTSTRAP_API_KEY does for `npm start`.
  const apiKey = `sk_us_demo_${randomBytes(16).toString('hex')}`;
  await built.services.teams.ensureBootstrap(apiKey, `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const baseUrl = await built.app.listen({ port: 0, host: '127.0.0.1' });
  return {
    baseUrl,
    apiKey,
    where: databaseUrl ? `in-process Roster at ${baseUrl} on DATABASE_URL (new team)` : `in-process Roster at ${baseUrl} on a temporary embedded PostgreSQL`,
    async stop() {
      await built.close();
      await opened.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

async function target(): Promise<Target> {
  const url = process.env.ROSTER_URL;
  if (url) {
    const apiKey = process.env.ROSTER_API_KEY;
    if (!apiKey) throw new Error('ROSTER_URL is set: set ROSTER_API_KEY to a key of a sandbox team too');
    return { baseUrl: url.replace(/\/+$/, ''), apiKey, where: `Roster at ${url}`, stop: async () => {} };
  }
  return inProcess();
}

// ---------- printing ----------

let failures = 0;
const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const short = (v: unknown, max = 100) => {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

function line(op: string, method: string, status: string, summary: string) {
  process.stdout.write(`  ${pad(op, 4)} ${pad(method, 30)} ${pad(status, 16)} ${summary}\n`);
}

/** Runs one SDK call, prints it, returns its data (undefined on failure). */
async function step<T>(op: string, method: string, call: () => { withRawResponse(): Promise<{ data: T; rawResponse: { status: number } }> }, summary: (d: T) => string, opts: { optional?: boolean } = {}): Promise<T | undefined> {
  try {
    const { data, rawResponse } = await call().withRawResponse();
    line(op, method, String(rawResponse.status), summary(data));
    return data;
  } catch (e) {
    if (e instanceof VitalError && opts.optional && e.statusCode === 404) {
      line(op, method, 'not available', `this Roster has no such route (404 ${short(e.body, 60)})`);
      return undefined;
    }
    failures++;
    if (e instanceof VitalError) line(op, method, `FAILED ${e.statusCode ?? ''}`, short(e.body ?? e.message, 120));
    else line(op, method, 'FAILED', short((e as Error).message, 120));
    return undefined;
  }
}

async function main() {
  const t = await target();
  process.stdout.write(`Junction v2 Users API demo with @tryvital/vital-node against ${t.where}\n\n`);
  const client = new VitalClient({ apiKey: t.apiKey, baseUrl: t.baseUrl, maxRetries: 0 });
  const clientUserId = `demo-user-${randomBytes(4).toString('hex')}`;
  try {
    const created = await step('U2', 'user.create', () => client.user.create({ clientUserId, fallbackTimeZone: 'Europe/London', fallbackBirthDate: '1990-12-10' }),
      (d) => `user_id=${d.userId} client_user_id=${d.clientUserId}`);
    if (!created) throw new Error('cannot go on without a user');
    const id = created.userId;

    await step('U1', 'user.getAll', () => client.user.getAll({ limit: 10 }), (d) => `total=${d.total} offset=${d.offset} limit=${d.limit} users=${d.users.length}`);
    await step('U9', 'user.getByClientUserId', () => client.user.getByClientUserId(clientUserId), (d) => `user_id=${d.userId}`);
    await step('U13', 'user.patch', () => client.user.patch(id, { ingestionStart: '2024-01-01', fallbackTimeZone: 'America/New_York' }), () => 'ingestion_start=2024-01-01 fallback_time_zone=America/New_York');
    await step('U11', 'user.get', () => client.user.get(id), (d) => `tz=${d.fallbackTimeZone?.id} birth=${d.fallbackBirthDate?.value} ingestion_start=${d.ingestionStart} sources=${d.connectedSources.length}`);

    for (const provider of ['fitbit', 'oura'] as const) {
      await step('L1', 'link.connectDemoProvider', () => client.link.connectDemoProvider({ userId: id, provider }), (d) => `success=${d.success} "${d.detail}"`);
    }
    await step('U4', 'user.getConnectedProviders', () => client.user.getConnectedProviders(id),
      (d) => (d.providers ?? []).map((p) => `${p.slug}:${p.status}(${Object.keys(p.resourceAvailability).length} resources)`).join(' '));
    const devices = await step('U16', 'user.getDevices', () => client.user.getDevices(id), (d) => d.map((x) => `${x.provider}:${x.deviceModel}`).join(' '));
    if (devices?.[0]) {
      const dev = devices[0];
      await step('U17', 'user.getDevice', () => client.user.getDevice(id, dev.id), (d) => `id=${d.id} ${d.deviceManufacturer} ${d.deviceModel} (${d.sourceType})`);
    } else {
      failures++;
      line('U17', 'user.getDevice', 'FAILED', 'no device to read');
    }
    await step('U15', 'user.refresh', () => client.user.refresh(id, { timeout: 10 }),
      (d) => `refreshed=${d.refreshedSources.length} [${short(d.refreshedSources.join(','), 60)}] in_progress=${d.inProgressSources.length} failed=${d.failedSources.length}`);
    await step('U3', 'user.getTeamMetrics', () => client.user.getTeamMetrics(),
      (d) => `users=${d.numberOfUsers} connected_sources=${d.numberOfConnectedSources} weeks=${d.numberOfConnectedSourcesByWeek?.length ?? 0}`);

    const address = { firstLine: '221B Baker Street', country: 'US', zip: '10001', city: 'New York', state: 'NY' };
    await step('U8', 'user.upsertUserInfo', () => client.user.upsertUserInfo(id, {
      firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com', phoneNumber: '+1 (555) 123-4567', gender: 'female', dob: '1990-12-10', address, race: 'white_caucasian',
    }), (d) => `${d.firstName} ${d.lastName} <${d.email}> dob=${d.dob} race=${d.race}`);
    await step('U5', 'user.getLatestUserInfo', () => client.user.getLatestUserInfo(id), (d) => `${d.firstName} ${d.lastName}, ${d.address.city}`);
    await step('U6', 'user.createInsurance', () => client.user.createInsurance(id, {
      payorCode: 'AETNA', memberId: 'M-1001', groupId: 'G-7', relationship: 'Self', isPrimary: true,
      insured: { firstName: 'Ada', lastName: 'Lovelace', gender: 'female', address, dob: '1990-12-10', email: 'ada@example.com', phoneNumber: '+1 (555) 123-4567' },
    }), (d) => `payor=${d.payorCode} company="${d.company.name}" member=${d.memberId} primary=${d.isPrimary}`);
    await step('U7', 'user.getLatestInsurance', () => client.user.getLatestInsurance(id, { isPrimary: true }), (d) => `payor=${d.payorCode} company="${d.company.name}"`);
    await step('U18', 'user.getUserSignInToken', () => client.user.getUserSignInToken(id), (d) => `user_id=${d.userId} sign_in_token=${short(d.signInToken, 40)}`, { optional: true });
    await step('U19', 'user.createPortalUrl (launch)', () => client.user.createPortalUrl(id, { context: 'launch' }), (d) => `expires_in=${d.expiresIn} url=${short(d.url, 70)}`);
    await step('U19', 'user.createPortalUrl (comms)', () => client.user.createPortalUrl(id, { context: 'communications' }), (d) => `expires_in=${d.expiresIn} url=${d.url}`);

    await step('U10', 'user.deregisterProvider', () => client.user.deregisterProvider(id, 'oura'), (d) => `success=${d.success} (oura removed)`);
    await step('U12', 'user.delete', () => client.user.delete(id), (d) => `success=${d.success} (connections dropped, 7-day undo window)`);
    await step('U14', 'user.undoDelete', () => client.user.undoDelete({ userId: id }), (d) => `success=${d.success}`);
    await step('U11', 'user.get (after undo)', () => client.user.get(id), (d) => `connected_sources=${d.connectedSources.length} (not restored), client_user_id=${d.clientUserId}`);
  } finally {
    await t.stop();
  }
  process.stdout.write(failures ? `\n${failures} operation(s) failed\n` : '\nAll 19 user operations and the demo connection answered as expected.\n');
  process.exitCode = failures ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  process.exitCode = 1;
});
