import pg from 'pg';
import type { Logger } from '../../platform/observability/logger.ts';

/** The channel the commit trigger notifies (payload: the new position). */
export const EVENTS_CHANNEL = 'olo_events';
const RECONNECT_DELAY_MS = 1_000;

export type EventListener = { close: () => Promise<void> };

/**
 * One dedicated connection (outside the pool: LISTEN needs a session of its own) that calls `wake`
 * on every notification. After a lost connection it reconnects and calls `wake` once, because
 * notifications sent meanwhile are gone.
 */
export async function listenForEvents(options: {
  url: string;
  logger: Logger;
  wake: () => void;
}): Promise<EventListener> {
  const { logger, wake } = options;
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: options.url, application_name: 'olo-event-log' });
    next.on('notification', (message) => {
      if (message.channel === EVENTS_CHANNEL) wake();
    });
    next.on('error', (error) => {
      if (closed) return;
      logger.warn({ err: error }, 'event log: LISTEN connection lost; reconnecting');
      if (client === next) client = undefined;
      next.end().catch(() => undefined);
      scheduleReconnect();
    });
    await next.connect();
    try {
      await next.query(`listen ${EVENTS_CHANNEL}`);
    } catch (error) {
      await next.end().catch(() => undefined);
      throw error;
    }
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
  };

  const scheduleReconnect = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect()
        .then(() => wake())
        .catch((error: unknown) => {
          logger.warn({ err: error }, 'event log: LISTEN reconnect failed; trying again');
          scheduleReconnect();
        });
    }, RECONNECT_DELAY_MS);
    retry.unref();
  };

  await connect();
  return {
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}
