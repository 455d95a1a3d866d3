// RS256 signing keys: made on first need, cached per instance, rotated with a grace period.
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { b64url, rsaThumbprint } from '../jwt.ts';
import type { SigningKeyRecord } from './model.ts';
import type { AuthTokensRepo } from './repo.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface LoadedKey {
  record: SigningKeyRecord;
  publicKey: KeyObject;
  privateKey: KeyObject;
  /** base64url of the DER SubjectPublicKeyInfo: the sign-in token's `public_key`. */
  spki: string;
}

function loadKey(record: SigningKeyRecord): LoadedKey {
  const publicKey = createPublicKey(record.publicKeyPem);
  return {
    record,
    publicKey,
    privateKey: createPrivateKey(record.privateKeyPem),
    spki: b64url(publicKey.export({ format: 'der', type: 'spki' })),
  };
}

/** A new RS256 key (RSA 2048); its kid is the RFC 7638 thumbprint. */
export async function generateSigningKey(now: Date): Promise<SigningKeyRecord> {
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return {
    kid: rsaThumbprint(publicKey),
    algorithm: 'RS256',
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    createdAt: now,
    retiredAt: null,
  };
}

/**
 * Keys cached per instance, reloaded after `ttlMs` so rotation and retirement reach every instance.
 *
 * Rotation is two-phase so no instance ever meets a token signed with a key it has not loaded: a
 * new key verifies at once but only starts signing once it is `ttlMs` old (every instance's cache
 * has picked it up by then). The first key ever, or the only key left after a retirement, signs at
 * once; while no key is that old, the oldest signs. A key whose retirement is pending (a rotation's
 * grace period) still verifies but signs only when no other key can.
 */
export class KeyRing {
  private keys = new Map<string, LoadedKey>();
  /** Verifying now, newest first. */
  private ordered: LoadedKey[] = [];
  private loadedAt = -Infinity;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly repo: AuthTokensRepo,
    private readonly now: () => Date,
    private readonly ttlMs = 60_000,
    private readonly missReloadMs = 1_000,
  ) {}

  private async reload(): Promise<void> {
    if (!this.loading) {
      this.loading = (async () => {
        try {
          const active = await this.repo.activeSigningKeys(this.now());
          const next = new Map<string, LoadedKey>();
          for (const r of active) {
            const had = this.keys.get(r.kid);
            next.set(r.kid, had ? { ...had, record: r } : loadKey(r));
          }
          this.keys = next;
          this.ordered = active.map((r) => next.get(r.kid)!);
          this.loadedAt = Date.now();
        } finally {
          this.loading = null;
        }
      })();
    }
    return this.loading;
  }

  private stale(): boolean {
    return Date.now() - this.loadedAt > this.ttlMs;
  }

  /** Drops keys whose retirement time has passed since the last load. */
  private live(): LoadedKey[] {
    const t = this.now().getTime();
    return this.ordered.filter((k) => !k.record.retiredAt || k.record.retiredAt.getTime() > t);
  }

  private pickSigner(): LoadedKey | null {
    const live = this.live();
    const activeFrom = this.now().getTime() - this.ttlMs;
    const loadedEverywhere = live.filter((k) => k.record.createdAt.getTime() <= activeFrom);
    // The newest key every instance has had time to load, preferring one not being retired; failing
    // that, the longest known one.
    return loadedEverywhere.find((k) => !k.record.retiredAt) ?? loadedEverywhere[0] ?? live[live.length - 1] ?? null;
  }

  async signingKey(): Promise<LoadedKey> {
    if (this.live().length === 0 || this.stale()) await this.reload();
    if (this.live().length === 0) {
      await this.repo.ensureSigningKey(() => generateSigningKey(this.now()));
      await this.reload();
    }
    const k = this.pickSigner();
    if (!k) throw new Error('no signing key after ensureSigningKey');
    return k;
  }

  /** The key for `kid` if it exists and still verifies. */
  async verificationKey(kid: string): Promise<LoadedKey | null> {
    if (this.stale()) await this.reload();
    const find = () => this.live().find((k) => k.record.kid === kid);
    let k = find();
    // Unknown kid: look again (the first key may have just been made on another instance), but
    // not more than once a second once keys are known, so made-up kids cannot each cost a query.
    if (!k && (this.ordered.length === 0 || Date.now() - this.loadedAt > this.missReloadMs)) {
      await this.reload();
      k = find();
    }
    return k ?? null;
  }

  async all(): Promise<LoadedKey[]> {
    if (this.stale()) await this.reload();
    return this.live();
  }

  invalidate(): void {
    this.loadedAt = -Infinity;
  }
}
