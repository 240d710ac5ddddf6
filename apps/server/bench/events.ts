import { z } from 'zod';
import { defineEvent, EventCatalogue } from '../src/domains/event_log/event-catalogue.ts';
import { EventLog } from '../src/domains/event_log/event-log.service.ts';
import { systemClock } from '../src/platform/clock.ts';
import { loadConfig } from '../src/platform/config/config.ts';
import { createDatabase } from '../src/platform/db/database.ts';
import { withTransaction } from '../src/platform/db/transaction.ts';
import { createLogger } from '../src/platform/observability/logger.ts';

export type EventThroughputResult = {
  name: string;
  consumers: number;
  events: number;
  emitSeconds: number;
  emittedPerSecond: number;
  /** From the first emit until every consumer has handled every event. */
  totalSeconds: number;
  handledPerSecond: number;
  duplicates: number;
};

const benchPing = defineEvent({
  type: 'bench_ping',
  version: 1,
  description: 'Benchmark traffic',
  payload: z.object({ n: z.number().int() }),
});

/**
 * Events through the real event log: `writers` concurrent transactions emit `events` events in
 * transactions of `perTransaction`, while `consumers` durable consumers (each sees every event) run
 * in the same process on their own pool, woken by LISTEN/NOTIFY as in the server.
 */
export async function measureEventThroughput(options: {
  databaseUrl: string;
  consumers: number;
  events: number;
  perTransaction: number;
  writers: number;
}): Promise<EventThroughputResult> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
  const logger = createLogger({ logLevel: 'silent', env: 'test' });
  const database = createDatabase({
    url: options.databaseUrl,
    poolMax: options.writers + options.consumers + 2,
  });
  const eventLog = new EventLog({
    db: database.db,
    databaseUrl: options.databaseUrl,
    catalogue: new EventCatalogue([benchPing]),
    clock: systemClock,
    logger,
    settings: config.eventLog,
  });
  const suffix = Date.now().toString(36);
  const handled = new Map<string, Set<number>>();
  let duplicates = 0;
  let remaining = options.events * options.consumers;
  let allHandled: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    allHandled = resolve;
  });
  for (let c = 0; c < options.consumers; c++) {
    const name = `bench_${suffix}_${c}`;
    const seen = new Set<number>();
    handled.set(name, seen);
    eventLog.registerConsumer({
      name,
      onExhausted: 'stop',
      startFrom: 'now',
      types: [benchPing.type],
      batchSize: 500,
      handler: async (event) => {
        if (!benchPing.matches(event)) return;
        if (seen.has(event.payload.n)) duplicates++;
        else {
          seen.add(event.payload.n);
          remaining--;
          if (remaining === 0) allHandled();
        }
      },
    });
  }
  await eventLog.start();
  try {
    const started = performance.now();
    let next = 0;
    const writer = async () => {
      while (next < options.events) {
        const first = next;
        next += options.perTransaction;
        const last = Math.min(next, options.events);
        await withTransaction(database.db, async (tx) => {
          for (let n = first; n < last; n++) await eventLog.emit(tx, benchPing.event({ n }));
        });
      }
    };
    await Promise.all(Array.from({ length: options.writers }, writer));
    const emitSeconds = (performance.now() - started) / 1000;
    await Promise.race([
      done,
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('consumers did not finish in 5 minutes')), 300_000),
      ),
    ]);
    const totalSeconds = (performance.now() - started) / 1000;
    return {
      name: `${options.consumers} consumer${options.consumers === 1 ? '' : 's'}`,
      consumers: options.consumers,
      events: options.events,
      emitSeconds,
      emittedPerSecond: options.events / emitSeconds,
      totalSeconds,
      handledPerSecond: (options.events * options.consumers) / totalSeconds,
      duplicates,
    };
  } finally {
    await eventLog.stop();
    await database.close();
  }
}
