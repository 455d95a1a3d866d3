// Files the CLI writes that hold PHI or secrets (backups, exports, the import's checkpoint and
// rejected rows) are created the one safe way (security review C1, C3):
//   - under a random name in the target's own folder, with O_CREAT|O_EXCL|O_NOFOLLOW, so a file or
//     symlink someone else planted (a predictable `<out>.partial`) is never opened, truncated or
//     followed;
//   - mode 0600 from the first byte (and fchmod'ed to exactly 0600, whatever the umask);
//   - then renamed onto the target, which replaces whatever name was there without following it.
// The open handle stays valid across the rename, so a writer may keep appending after commit().
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export const PRIVATE_MODE = 0o600;

export interface PrivateFile {
  /** The temporary name (in the target's folder) until commit(), the target after. */
  readonly path: string;
  readonly target: string;
  readonly handle: fsp.FileHandle;
  /** A write stream over the handle; it closes the handle when it ends or is destroyed. */
  stream(): fs.WriteStream;
  /** Renames the file onto the target (the handle stays open). */
  commit(): Promise<void>;
  /** Removes the file (if still under its temporary name) and closes the handle. */
  discard(): Promise<void>;
  close(): Promise<void>;
}

const FLAGS = fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW;

/** Creates an empty private file beside `target` (see the header); nothing is at `target` yet. */
export async function createPrivateFile(target: string): Promise<PrivateFile> {
  const abs = path.resolve(target);
  const dir = path.dirname(abs);
  let tmp = '';
  let handle: fsp.FileHandle | undefined;
  for (let attempt = 0; !handle; attempt++) {
    tmp = path.join(dir, `.${path.basename(abs)}.${randomBytes(9).toString('base64url')}.tmp`);
    try {
      handle = await fsp.open(tmp, FLAGS, PRIVATE_MODE);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw e;
    }
  }
  const h = handle;
  try {
    await h.chmod(PRIVATE_MODE); // the umask may have taken bits away; never added any
  } catch (e) {
    await h.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  let current = tmp;
  let committed = false;
  let closed = false;
  let streamClosed: Promise<void> | null = null;
  const close = async () => {
    if (streamClosed) { await streamClosed; return; } // the stream owns (and closes) the handle
    if (closed) return;
    closed = true;
    await h.close();
  };
  return {
    get path() { return current; },
    target: abs,
    handle: h,
    stream() {
      const st = h.createWriteStream();
      streamClosed = new Promise((resolve) => st.once('close', () => resolve()));
      return st;
    },
    async commit() {
      await fsp.rename(tmp, abs);
      current = abs;
      committed = true;
    },
    async discard() {
      await close().catch(() => {});
      if (!committed) await fsp.rm(tmp, { force: true });
    },
    close,
  };
}

/** Writes `text` to `target` as a private file, all or nothing. */
export async function writePrivateFile(target: string, text: string): Promise<void> {
  const f = await createPrivateFile(target);
  try {
    await f.handle.writeFile(text);
    await f.close();
    await f.commit();
  } catch (e) {
    await f.discard();
    throw e;
  }
}
