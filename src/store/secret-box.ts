// Secrets at rest (C15): the RS256 private keys in auth_signing_keys, the portal HMAC secrets in
// server_secrets and the webhook endpoints' signing secrets (webhook_endpoints) can be sealed with AES-256-GCM under a key derived from ROSTER_SECRET_KEY. Rows
// written before the key was set stay readable as plaintext and are sealed when rewritten (at
// start, by sealSecretsAtRest). A sealed row names the key it was sealed with, so a wrong or
// missing key is a clear error at start, never a garbled key.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

const TEXT_PREFIX = 'enc:v1:';
const BYTES_MAGIC = Buffer.from('RSE1', 'latin1');
const ID_BYTES = 4;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

export const MIN_SECRET_KEY_LENGTH = 32;

export class SecretBox {
  private readonly key: Buffer;
  /** 4 bytes naming the key (not secret: a hash of the derived key), stored with each sealed row. */
  readonly id: Buffer;

  constructor(secretKey: string) {
    if (secretKey.length < MIN_SECRET_KEY_LENGTH) {
      throw new SecretKeyError(`ROSTER_SECRET_KEY must be at least ${MIN_SECRET_KEY_LENGTH} characters (e.g. openssl rand -base64 32)`);
    }
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), 'roster', 'roster secrets at rest v1', 32));
    this.id = createHash('sha256').update('roster key id').update(this.key).digest().subarray(0, ID_BYTES);
  }

  private seal(plain: Buffer): Buffer {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(this.id);
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return Buffer.concat([this.id, iv, c.getAuthTag(), ct]);
  }

  private open(sealed: Buffer, what: string): Buffer {
    const id = sealed.subarray(0, ID_BYTES);
    if (sealed.length < ID_BYTES + IV_BYTES + TAG_BYTES || !id.equals(this.id)) {
      throw new SecretKeyError(`${what} is encrypted with another ROSTER_SECRET_KEY (key id ${id.toString('hex')}; this one is ${this.id.toString('hex')})`);
    }
    const iv = sealed.subarray(ID_BYTES, ID_BYTES + IV_BYTES);
    const tag = sealed.subarray(ID_BYTES + IV_BYTES, ID_BYTES + IV_BYTES + TAG_BYTES);
    const d = createDecipheriv('aes-256-gcm', this.key, iv);
    d.setAAD(this.id);
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(sealed.subarray(ID_BYTES + IV_BYTES + TAG_BYTES)), d.final()]);
    } catch {
      throw new SecretKeyError(`${what} cannot be decrypted with ROSTER_SECRET_KEY (the stored value is damaged)`);
    }
  }

  sealText(plain: string): string {
    return TEXT_PREFIX + this.seal(Buffer.from(plain, 'utf8')).toString('base64');
  }

  sealBytes(plain: Buffer): Buffer {
    return Buffer.concat([BYTES_MAGIC, this.seal(plain)]);
  }

  openText(stored: string, what: string): string {
    return isSealedText(stored) ? this.open(Buffer.from(stored.slice(TEXT_PREFIX.length), 'base64'), what).toString('utf8') : stored;
  }

  openBytes(stored: Buffer, what: string): Buffer {
    return isSealedBytes(stored) ? this.open(stored.subarray(BYTES_MAGIC.length), what) : stored;
  }
}

export const isSealedText = (v: string): boolean => v.startsWith(TEXT_PREFIX);
/** Portal secrets are 32 random bytes in plaintext; sealed ones are longer and start with the magic. */
export const isSealedBytes = (v: Buffer): boolean => v.length > 32 && v.subarray(0, BYTES_MAGIC.length).equals(BYTES_MAGIC);

/** How rows are written and read: sealed when a box is configured, plaintext otherwise. */
export interface SecretCodec {
  writeText(plain: string): string;
  readText(stored: string, what: string): string;
  writeBytes(plain: Buffer): Buffer;
  readBytes(stored: Buffer, what: string): Buffer;
}

export function secretCodec(box: SecretBox | null): SecretCodec {
  const missing = (what: string) => new SecretKeyError(`${what} is encrypted at rest but ROSTER_SECRET_KEY is not set`);
  return {
    writeText: (p) => (box ? box.sealText(p) : p),
    readText: (s, what) => {
      if (box) return box.openText(s, what);
      if (isSealedText(s)) throw missing(what);
      return s;
    },
    writeBytes: (p) => (box ? box.sealBytes(p) : p),
    readBytes: (s, what) => {
      if (box) return box.openBytes(s, what);
      if (isSealedBytes(s)) throw missing(what);
      return s;
    },
  };
}

export const PLAINTEXT: SecretCodec = secretCodec(null);

/**
 * At start: every stored secret must open with the configured key (or, without one, none may be
 * sealed), else a SecretKeyError naming the row. With a key, plaintext rows are sealed in place.
 * Returns how many rows were sealed now.
 */
export async function sealSecretsAtRest(db: Kysely<Database>, codec: SecretCodec, sealing: boolean): Promise<{ sealed: number }> {
  let sealed = 0;
  await db.transaction().execute(async (tx) => {
    const lock = <Q extends { forUpdate(): Q }>(q: Q): Q => (sealing ? q.forUpdate() : q);
    const keys = await lock(tx.selectFrom('auth_signing_keys').select(['kid', 'private_key'])).execute();
    for (const k of keys) {
      const plain = codec.readText(k.private_key, `signing key ${k.kid}`);
      if (sealing && !isSealedText(k.private_key)) {
        await tx.updateTable('auth_signing_keys').set({ private_key: codec.writeText(plain) }).where('kid', '=', k.kid).execute();
        sealed++;
      }
    }
    const secrets = await lock(tx.selectFrom('server_secrets').select(['name', 'value'])).execute();
    for (const s of secrets) {
      const plain = codec.readBytes(s.value, `server secret ${s.name}`);
      if (sealing && !isSealedBytes(s.value)) {
        await tx.updateTable('server_secrets').set({ value: codec.writeBytes(plain) }).where('name', '=', s.name).execute();
        sealed++;
      }
    }
    // Webhook endpoints' signing secrets, and those still in their rotation grace period.
    const eps = await sql<{ team_id: string; id: string; secret: string; old_secrets: { secret: string; expires_at: string }[] }>`
      select team_id, id, secret, old_secrets from webhook_endpoints${sealing ? sql` for update` : sql``}`.execute(tx);
    for (const e of eps.rows) {
      const what = `webhook endpoint ${e.id} secret`;
      const plain = codec.readText(e.secret, what);
      const old = e.old_secrets.map((o) => ({ secret: codec.readText(o.secret, `${what} (rotated)`), expires_at: o.expires_at }));
      if (sealing && (!isSealedText(e.secret) || e.old_secrets.some((o) => !isSealedText(o.secret)))) {
        const sealedOld = old.map((o) => ({ secret: codec.writeText(o.secret), expires_at: o.expires_at }));
        await sql`update webhook_endpoints set secret = ${codec.writeText(plain)}, old_secrets = ${JSON.stringify(sealedOld)}::jsonb
          where team_id = ${e.team_id} and id = ${e.id}`.execute(tx);
        sealed++;
      }
    }
  });
  return { sealed };
}

/** The codec for this process: checks (and seals) every stored secret first; throws SecretKeyError. */
export async function openSecretsAtRest(db: Kysely<Database>, secretKey: string | null): Promise<SecretCodec> {
  const box = secretKey ? new SecretBox(secretKey) : null;
  const codec = secretCodec(box);
  await sealSecretsAtRest(db, codec, box !== null);
  return codec;
}
