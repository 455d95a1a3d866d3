// One key service for every face: a face reads its own header, this resolves the key to a
// principal. Lookups are cached per instance; revocations evict at once (see store/key-events.ts),
// and entries also expire so a missed event cannot keep a key alive for long.
import { createHash } from 'node:crypto';
import type { Principal, TeamsService } from '../domain/teams.ts';

const MAX_ENTRIES = 10_000;

const hashOf = (apiKey: string) => createHash('sha256').update(apiKey, 'utf8').digest('hex');

export class KeyResolver {
  private cache = new Map<string, { p: Principal; exp: number }>();

  constructor(private readonly teams: TeamsService, private readonly ttlMs = 60_000) {}

  /**
   * The principal when the key is cached and fresh, without a promise (the common case on a hot
   * path: one hash and one Map lookup); undefined when `resolve` has to ask the database.
   */
  cached(apiKey: string): Principal | null | undefined {
    if (apiKey.length === 0 || apiKey.length > 512) return null;
    const hit = this.cache.get(hashOf(apiKey));
    return hit && hit.exp > Date.now() ? hit.p : undefined;
  }

  async resolve(apiKey: string): Promise<Principal | null> {
    // Reject absurd inputs before hashing or querying.
    if (apiKey.length === 0 || apiKey.length > 512) return null;
    const h = hashOf(apiKey);
    const hit = this.cache.get(h);
    const now = Date.now();
    if (hit && hit.exp > now) return hit.p;
    const p = await this.teams.authenticate(apiKey);
    // Unknown keys are not cached: a key created a moment ago on another instance must work.
    if (p) {
      if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
      this.cache.set(h, { p, exp: now + this.ttlMs });
    } else {
      this.cache.delete(h);
    }
    return p;
  }

  evict(hashHex: string): void {
    this.cache.delete(hashHex);
  }

  clear(): void {
    this.cache.clear();
  }
}
