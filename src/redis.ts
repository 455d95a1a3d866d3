// Redis holds state shared by instances (rate-limit counters). Optional: REDIS_URL.
import { Redis } from 'ioredis';

/** Connects and pings; an unreachable REDIS_URL is a start-up error, said clearly. */
export async function connectRedis(url: string): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    // Fail fast while Redis is away: the rate limiter then lets requests through (fail open)
    // instead of queueing them behind a dead connection.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    redis.disconnect();
    throw new Error(`REDIS_URL is set but Redis cannot be reached (${(e as Error).message})`);
  }
  return redis;
}
