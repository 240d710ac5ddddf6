import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/database.ts';
import { createLogger } from '../observability/logger.ts';
import { createPubSub } from './create-pubsub.ts';
import { channels, createMemoryPubSub, type PubSub, type PubSubBackend } from './pubsub.ts';

const logger = createLogger({ logLevel: 'silent', env: 'test' });
const redisUrl = process.env.TEST_REDIS_URL;

async function next(iterator: AsyncIterableIterator<unknown>): Promise<unknown> {
  const result = await iterator.next();
  if (result.done) throw new Error('subscription ended');
  return result.value;
}

describe('memory pubsub', () => {
  it('delivers to subscribers of the channel only, and ends when aborted', async () => {
    const pubsub = createMemoryPubSub();
    const stop = new AbortController();
    const mine = await pubsub.subscribe(channels.user('a'), stop.signal);
    const theirs = await pubsub.subscribe(channels.user('b'), new AbortController().signal);
    await pubsub.publish(channels.user('a'), { n: 1 });
    await pubsub.publish(channels.user('b'), { n: 2 });
    expect(await next(mine)).toEqual({ n: 1 });
    expect(await next(theirs)).toEqual({ n: 2 });
    stop.abort();
    expect((await mine.next()).done).toBe(true);
  });
});

describe.each<[PubSubBackend, boolean]>([
  ['postgres', true],
  // Redis runs only where one is reachable: CI sets TEST_REDIS_URL when the machine has one.
  ['redis', redisUrl !== undefined],
])('%s pubsub across two nodes', (backend, available) => {
  let database: TestDatabase;
  let nodeA: PubSub;
  let nodeB: PubSub;

  beforeAll(async () => {
    if (!available) return;
    database = await createTestDatabase();
    const make = () =>
      createPubSub({ backend, redisUrl, pool: database.handle.pool, databaseUrl: database.url, logger });
    [nodeA, nodeB] = await Promise.all([make(), make()]);
  });
  afterAll(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await database?.drop();
  });

  it.skipIf(!available)('a message published on one node reaches subscribers on the other', async () => {
    const stop = new AbortController();
    const onB = await nodeB.subscribe(channels.topic(`t-${backend}`), stop.signal);
    const otherOnB = await nodeB.subscribe(channels.topic(`other-${backend}`), stop.signal);
    await nodeA.publish(channels.topic(`t-${backend}`), { hello: 'world' });
    await nodeA.publish(channels.topic(`other-${backend}`), { second: true });
    expect(await next(onB)).toEqual({ hello: 'world' });
    expect(await next(otherOnB)).toEqual({ second: true });
    stop.abort();
  });

  it.skipIf(!available)('carries messages larger than a NOTIFY payload', async () => {
    const stop = new AbortController();
    const onB = await nodeB.subscribe(channels.user(`big-${backend}`), stop.signal);
    const big = { text: 'x'.repeat(20_000) };
    await nodeA.publish(channels.user(`big-${backend}`), big);
    expect(await next(onB)).toEqual(big);
    stop.abort();
  });

  it.skipIf(!available)('keeps per-publisher order', async () => {
    const stop = new AbortController();
    const onB = await nodeB.subscribe(channels.topic(`order-${backend}`), stop.signal);
    for (let i = 0; i < 20; i++) await nodeA.publish(channels.topic(`order-${backend}`), i);
    const received: unknown[] = [];
    for (let i = 0; i < 20; i++) received.push(await next(onB));
    expect(received).toEqual(Array.from({ length: 20 }, (_, i) => i));
    stop.abort();
  });
});
