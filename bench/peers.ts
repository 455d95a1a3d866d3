// The tools users would pick instead of Roster, installed on first use into bench/.peers (never into
// the project's dependencies: they are heavy and CI does not need them).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const PEERS = {
  'json-server': { pkg: 'json-server', version: '0.17.4', bin: 'lib/cli/bin.js' },
  prism: { pkg: '@stoplight/prism-cli', version: '5.16.0', bin: 'dist/index.js' },
} as const;
export type PeerName = keyof typeof PEERS;

export interface PeerInstall {
  /** Absolute path of each peer's CLI script, or why it is unavailable. */
  bins: Partial<Record<PeerName, string>>;
  problems: Partial<Record<PeerName, string>>;
  installMs: number;
  installed: boolean;
}

function installedVersion(dir: string, pkg: string): string | null {
  try {
    return (JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

function npmInstall(dir: string, specs: string[], log: (s: string) => void): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    fs.mkdirSync(dir, { recursive: true });
    // The prefix is a project of its own (its own package.json and lock), so npm never walks up to
    // Roster's package.json, and installing one peer never prunes the other.
    const pj = path.join(dir, 'package.json');
    if (!fs.existsSync(pj)) fs.writeFileSync(pj, JSON.stringify({ name: 'roster-bench-peers', private: true }, null, 2) + '\n');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const args = ['install', '--prefix', dir, '--save-exact', '--no-audit', '--no-fund', '--loglevel=error', ...specs];
    log(`installing ${specs.join(' ')} into ${path.relative(process.cwd(), dir) || dir} (first run only)`);
    const child = spawn(npm, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => { output += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { output += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('error', (e) => { clearTimeout(timer); resolve({ ok: false, output: e.message }); });
    child.on('exit', (code) => { clearTimeout(timer); resolve({ ok: code === 0, output }); });
  });
}

/** Makes sure both peers are in `dir`; a peer that cannot be installed is reported, not fatal. */
export async function ensurePeers(dir: string, want: PeerName[], log: (s: string) => void): Promise<PeerInstall> {
  const t0 = performance.now();
  const missing = want.filter((p) => installedVersion(dir, PEERS[p].pkg) !== PEERS[p].version);
  const problems: PeerInstall['problems'] = {};
  if (missing.length) {
    let r = await npmInstall(dir, missing.map((p) => `${PEERS[p].pkg}@${PEERS[p].version}`), log);
    if (!r.ok && missing.length > 1) {
      // One bad package must not cost the other: try them one by one.
      for (const p of missing) {
        r = await npmInstall(dir, [`${PEERS[p].pkg}@${PEERS[p].version}`], log);
        if (!r.ok) problems[p] = `npm install failed: ${r.output.trim().split('\n').slice(-3).join(' ') || 'no output'}`;
      }
    } else if (!r.ok) {
      problems[missing[0]!] = `npm install failed: ${r.output.trim().split('\n').slice(-3).join(' ') || 'no output'}`;
    }
  }
  const bins: PeerInstall['bins'] = {};
  for (const p of want) {
    if (problems[p]) continue;
    const bin = path.join(dir, 'node_modules', PEERS[p].pkg, PEERS[p].bin);
    if (fs.existsSync(bin) && installedVersion(dir, PEERS[p].pkg) === PEERS[p].version) bins[p] = bin;
    else problems[p] = `not installed (${bin} missing)`;
  }
  return { bins, problems, installMs: performance.now() - t0, installed: missing.length > 0 };
}
