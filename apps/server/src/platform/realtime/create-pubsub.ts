import type pg from 'pg';
import type { Logger } from '../observability/logger.ts';
import { createPostgresPubSub } from './postgres-pubsub.ts';
import { createMemoryPubSub, type PubSub, type PubSubBackend } from './pubsub.ts';
import { createRedisPubSub } from './redis-pubsub.ts';

/**
 * Redis when `REDIS_URL` is set, else PostgreSQL LISTEN/NOTIFY (works across nodes with nothing
 * else to run); `memory` only for a single process that must not touch the database (tests).
 */
export async function createPubSub(options: {
  backend?: PubSubBackend;
  redisUrl: string | undefined;
  pool: pg.Pool;
  databaseUrl: string;
  logger: Logger;
}): Promise<PubSub> {
  const backend = options.backend ?? (options.redisUrl ? 'redis' : 'postgres');
  if (backend === 'memory') return createMemoryPubSub();
  if (backend === 'redis') {
    if (!options.redisUrl) throw new Error('the redis pubsub backend needs REDIS_URL');
    return createRedisPubSub({ url: options.redisUrl, logger: options.logger });
  }
  return createPostgresPubSub({ pool: options.pool, url: options.databaseUrl, logger: options.logger });
}
