import pg from 'pg';
import type { Logger } from '../observability/logger.ts';
import { LocalHub, type PubSub } from './pubsub.ts';

const NOTIFY_CHANNEL = 'olo_realtime';
// NOTIFY payloads are limited to 8000 bytes; bigger messages travel by reference.
const INLINE_LIMIT_BYTES = 7000;
const RECONNECT_DELAY_MS = 1000;

type Envelope = { c: string; m?: unknown; ref?: string };

/**
 * Several nodes, no extra server: messages go through PostgreSQL NOTIFY on one channel and every
 * node dispatches those its subscribers want. Large messages are stored in `realtime.messages`
 * and the notification carries their id. Messages published while a node is reconnecting are
 * lost for that node; subscribers treat realtime as a hint and resync through queries.
 */
export async function createPostgresPubSub(options: {
  pool: pg.Pool;
  url: string;
  logger: Logger;
}): Promise<PubSub> {
  const { pool, logger } = options;
  const hub = new LocalHub();
  let listener: pg.Client | undefined;
  let closed = false;

  const deliver = async (raw: string) => {
    const envelope = JSON.parse(raw) as Envelope;
    if (!hub.channelsInUse().includes(envelope.c)) return;
    if (envelope.ref === undefined) {
      hub.dispatch(envelope.c, envelope.m);
      return;
    }
    const stored = await pool.query<{ payload: unknown }>(
      'select payload from realtime.messages where id = $1',
      [envelope.ref],
    );
    if (stored.rows[0]) hub.dispatch(envelope.c, stored.rows[0].payload);
  };

  const connect = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: options.url, application_name: 'olo-realtime' });
    client.on('notification', (notification) => {
      if (notification.channel !== NOTIFY_CHANNEL || !notification.payload) return;
      deliver(notification.payload).catch((error: unknown) =>
        logger.error({ err: error }, 'realtime: could not deliver a notification'),
      );
    });
    client.on('error', (error) => {
      logger.warn({ err: error }, 'realtime: LISTEN connection lost; reconnecting');
      listener = undefined;
      client.end().catch(() => undefined);
      if (!closed) setTimeout(() => void connect().catch(() => undefined), RECONNECT_DELAY_MS).unref();
    });
    await client.connect();
    await client.query(`listen ${NOTIFY_CHANNEL}`);
    listener = client;
  };
  await connect();

  return {
    backend: 'postgres',
    publish: async (channel, message) => {
      const inline = JSON.stringify({ c: channel, m: message } satisfies Envelope);
      if (Buffer.byteLength(inline) <= INLINE_LIMIT_BYTES) {
        await pool.query('select pg_notify($1, $2)', [NOTIFY_CHANNEL, inline]);
        return;
      }
      const stored = await pool.query<{ id: string }>(
        `with pruned as (delete from realtime.messages where created_at < now() - interval '5 minutes')
         insert into realtime.messages (channel, payload) values ($1, $2) returning id::text`,
        [channel, JSON.stringify(message)],
      );
      const ref = JSON.stringify({ c: channel, ref: stored.rows[0]?.id } satisfies Envelope);
      await pool.query('select pg_notify($1, $2)', [NOTIFY_CHANNEL, ref]);
    },
    subscribe: (channel, signal) => hub.subscribe(channel, signal),
    close: async () => {
      closed = true;
      await listener?.end().catch(() => undefined);
    },
  };
}
