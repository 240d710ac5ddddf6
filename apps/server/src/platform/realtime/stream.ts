import { AppError } from '../errors/app-error.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import type { PubSub } from './pubsub.ts';

/**
 * The delivery-time check every signed-in subscription uses: the session it authenticated with
 * must still be open (a sign-out also closes the socket; this catches a revocation nobody announced).
 */
export function sessionStillActive(ctx: GraphQLContext): () => Promise<void> {
  return async () => {
    const sessionId = ctx.principal?.sessionId;
    if (sessionId && !(await ctx.services.accounts.isSessionActive(sessionId))) {
      throw new AppError('UNAUTHENTICATED', 'Session was signed out', { reason: 'revoked' });
    }
  };
}

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
