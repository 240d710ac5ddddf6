import { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.ts';
import { LocalHub, type PubSub } from './pubsub.ts';

const PREFIX = 'olo:rt:';

/**
 * Several nodes through Redis pub/sub (`REDIS_URL`). A node subscribes to a channel while at least
 * one of its clients listens on it, so a node only receives what its own clients want.
 */
export async function createRedisPubSub(options: { url: string; logger: Logger }): Promise<PubSub> {
  const publisher = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  const subscriber = new Redis(options.url, { lazyConnect: true });
  for (const connection of [publisher, subscriber]) {
    connection.on('error', (error) =>
      options.logger.warn({ err: error }, 'realtime: Redis connection error'),
    );
  }
  await Promise.all([publisher.connect(), subscriber.connect()]);
  const hub = new LocalHub({
    onFirst: async (channel) => {
      await subscriber.subscribe(PREFIX + channel);
    },
    onLast: (channel) => void subscriber.unsubscribe(PREFIX + channel).catch(() => undefined),
  });
  subscriber.on('message', (redisChannel: string, raw: string) => {
    if (!redisChannel.startsWith(PREFIX)) return;
    hub.dispatch(redisChannel.slice(PREFIX.length), JSON.parse(raw));
  });
  return {
    backend: 'redis',
    publish: async (channel, message) => {
      await publisher.publish(PREFIX + channel, JSON.stringify(message));
    },
    subscribe: (channel, signal) => hub.subscribe(channel, signal),
    close: async () => {
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}
