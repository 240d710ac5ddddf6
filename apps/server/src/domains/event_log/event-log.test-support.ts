import { sql } from 'kysely';
import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import { createDatabase, type DatabaseHandle, type Db } from '../../platform/db/database.ts';
import { createLogger } from '../../platform/observability/logger.ts';
import { domainEvents } from '../registry.ts';
import { defineEvent, EventCatalogue, type LoggedEvent } from './event-catalogue.ts';
import { EventLog, type EventLogSettings } from './event-log.service.ts';

/** Event types that exist only in tests. */
export const testPing = defineEvent({
  type: 'test_ping',
  version: 1,
  description: 'A numbered test event',
  payload: z.object({ n: z.number().int() }),
});
export const testOther = defineEvent({
  type: 'test_other',
  version: 1,
  description: 'A second test event type, for filters',
  payload: z.object({ note: z.string() }),
});

export const testSettings: EventLogSettings = {
  pollIntervalMs: 200,
  retentionDays: 90,
  retry: { baseMs: 1_000, maxMs: 60_000, maxAttempts: 5 },
};

/** An EventLog on its own pool (as another process would have), with the test event types known. */
export function createTestEventLog(options: {
  url: string;
  clock: Clock;
  settings?: Partial<EventLogSettings>;
  applicationName?: string;
  poolMax?: number;
}): { log: EventLog; database: DatabaseHandle; close: () => Promise<void> } {
  const database = createDatabase({
    url: options.url,
    poolMax: options.poolMax ?? 5,
    applicationName: options.applicationName ?? 'olo-event-log-test',
  });
  // A test may cut this pool's connections mid-transaction (a simulated crash); pg reports that as an
  // 'error' event on the checked-out client, which must not become an uncaught exception here.
  database.pool.on('connect', (client) => client.on('error', () => {}));
  const log = new EventLog({
    db: database.db,
    databaseUrl: options.url,
    catalogue: new EventCatalogue([...domainEvents, testPing, testOther]),
    clock: options.clock,
    logger: createLogger({ logLevel: 'silent', env: 'test' }),
    settings: { ...testSettings, ...options.settings },
  });
  return {
    log,
    database,
    close: async () => {
      await log.stop();
      await database.close();
    },
  };
}

/** What handlers write in tests: one row per handled event, in the handler's transaction. */
export async function createHandledTable(db: Db): Promise<void> {
  await sql`create table if not exists public.handled (
    seq         bigint generated always as identity,
    consumer    text   not null,
    event_id    uuid   not null,
    position    bigint not null,
    handled_by  text   not null default ''
  )`.execute(db);
}

export async function handledRows(db: Db, consumer: string) {
  const result = await sql<{ event_id: string; position: bigint; handled_by: string }>`
    select event_id, position, handled_by from public.handled where consumer = ${consumer} order by seq`.execute(
    db,
  );
  return result.rows;
}

export async function recordHandled(
  db: Db,
  consumer: string,
  event: LoggedEvent,
  handledBy = '',
): Promise<void> {
  await sql`insert into public.handled (consumer, event_id, position, handled_by)
            values (${consumer}, ${event.id}, ${event.position}, ${handledBy})`.execute(db);
}

/** Polls `check` until it returns true (the condition, not a duration, is what tests wait for). */
export async function waitFor(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
