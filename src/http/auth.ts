// One key service for every face: a face reads its own header, this resolves the key to a
// principal. Lookups are cached per instance; revocations evict at once (see store/key-events.ts),
// and entries also expire so a missed event cannot keep a key alive for long.
import { createHash } from 'node:crypto';
import type { Principal, TeamsService } from '../domain/teams.ts';
import type { CredentialThrottle } from './credential-throttle.ts';

const MAX_ENTRIES = 10_000;

const hashOf = (apiKey: string) => createHash('sha256').update(apiKey, 'utf8').digest('hex');

export class KeyResolver {
  private cache = new Map<string, { p: Principal; exp: number }>();
  /** Bumped by every evict/clear: a lookup that started before one does not fill the cache (S1). */
  private generation = 0;

  /** `throttle`: refused keys are refused from memory for a while (no query per repeated guess). */
  constructor(private readonly teams: TeamsService, private readonly ttlMs = 60_000, private readonly throttle?: CredentialThrottle) {}

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
    if (this.throttle?.bad(apiKey)) return null;
    const gen = this.generation;
    const p = await this.teams.authenticate(apiKey);
    // A revocation (evict/clear) arrived while this lookup was in flight: answer with what the
    // lookup saw, but do not cache it, so the next request asks again (the revocation wins).
    if (gen !== this.generation) return p;
    // Unknown keys are not cached as principals (a key created on another instance must work); a
    // refused key is remembered by the throttle for a short while only (keys are random: a guess
    // never becomes a valid key).
    if (!p) this.throttle?.remember(apiKey);
    if (p) {
      if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
      this.cache.set(h, { p, exp: now + this.ttlMs });
    } else {
      this.cache.delete(h);
    }
    return p;
  }

  evict(hashHex: string): void {
    this.generation++;
    this.cache.delete(hashHex);
  }

  clear(): void {
    this.generation++;
    this.cache.clear();
  }
}
