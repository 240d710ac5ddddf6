import type { PubSub } from './pubsub.ts';

/**
 * A GraphQL subscription's source: the messages of one channel, each let through only while
 * `stillAllowed` passes (permissions are checked again at delivery, not only at subscribe).
 * The channel subscription ends when the client unsubscribes or disconnects.
 */
export async function* streamChannel(
  pubsub: PubSub,
  channel: string,
  stillAllowed: () => Promise<void> = async () => {},
): AsyncGenerator<unknown, void, undefined> {
  const stop = new AbortController();
  try {
    const messages = await pubsub.subscribe(channel, stop.signal);
    for await (const message of messages) {
      await stillAllowed();
      yield message;
    }
  } finally {
    stop.abort();
  }
}
