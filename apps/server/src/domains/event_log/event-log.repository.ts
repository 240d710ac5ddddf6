import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { LoggedEvent } from './event-catalogue.ts';
import type { ConsumerStatus } from './event-log.tables.ts';

type Executor = Db | Tx;

export type ConsumerRow = {
  name: string;
  cursor: bigint;
  status: ConsumerStatus;
  attempts: number;
  retryAt: Date | null;
  lastError: string | null;
  updatedAt: Date;
};

export type DeadLetterRow = {
  id: bigint;
  consumer: string;
  event: LoggedEvent;
  error: string;
  attempts: number;
  createdAt: Date;
  retriedAt: Date | null;
  retries: number;
  resolvedAt: Date | null;
};

export type EventFilter = { type?: string; userId?: string; from?: Date; to?: Date };

const EVENT_COLUMNS = ['id', 'position', 'type', 'version', 'payload', 'user_id', 'occurred_at'] as const;

type EventRecord = {
  id: string;
  position: bigint | null;
  type: string;
  version: number;
  payload: unknown;
  user_id: string | null;
  occurred_at: Date;
};

const toEvent = (row: EventRecord): LoggedEvent => ({
  id: row.id,
  // Only committed rows are ever read, and commit assigns the position.
  position: row.position ?? 0n,
  type: row.type,
  version: row.version,
  payload: row.payload,
  userId: row.user_id,
  occurredAt: row.occurred_at,
});

const CONSUMER_COLUMNS = [
  'name',
  'cursor',
  'status',
  'attempts',
  'retry_at as retryAt',
  'last_error as lastError',
  'updated_at as updatedAt',
] as const;

/** The only code that reads or writes the `event_log` schema. */
export class EventLogRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async insertEvent(
    tx: Tx,
    event: { type: string; version: number; payload: unknown; userId: string | null; occurredAt: Date },
  ): Promise<string> {
    const row = await tx
      .insertInto('event_log.events')
      .values({
        type: event.type,
        version: event.version,
        payload: JSON.stringify(event.payload),
        user_id: event.userId,
        occurred_at: event.occurredAt,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** The highest committed position; every position up to it is visible to whoever reads it. */
  async headPosition(ex: Executor = this.db): Promise<bigint> {
    const row = await ex
      .selectFrom('event_log.events')
      .select((eb) => eb.fn.max('position').as('head'))
      .executeTakeFirst();
    return row?.head ?? 0n;
  }

  /** Committed events in (after, upTo], in position order. */
  async readEvents(
    ex: Executor,
    range: { after: bigint; upTo: bigint; types: readonly string[] | undefined; limit: number },
  ): Promise<LoggedEvent[]> {
    let query = ex
      .selectFrom('event_log.events')
      .select(EVENT_COLUMNS)
      .where('position', '>', range.after)
      .where('position', '<=', range.upTo);
    if (range.types) query = query.where('type', 'in', [...range.types]);
    const rows = await query.orderBy('position').limit(range.limit).execute();
    return rows.map(toEvent);
  }

  async findEvent(id: string, ex: Executor = this.db): Promise<LoggedEvent | undefined> {
    const row = await ex
      .selectFrom('event_log.events')
      .select(EVENT_COLUMNS)
      .where('id', '=', id)
      .where('position', 'is not', null)
      .executeTakeFirst();
    return row && toEvent(row);
  }

  /** Newest first; `before` is the position to continue below. */
  async listEvents(filter: EventFilter, limit: number, before: bigint | undefined): Promise<LoggedEvent[]> {
    let query = this.db
      .selectFrom('event_log.events')
      .select(EVENT_COLUMNS)
      .where('position', 'is not', null);
    if (before !== undefined) query = query.where('position', '<', before);
    if (filter.type) query = query.where('type', '=', filter.type);
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    if (filter.from) query = query.where('occurred_at', '>=', filter.from);
    if (filter.to) query = query.where('occurred_at', '<', filter.to);
    const rows = await query.orderBy('position', 'desc').limit(limit).execute();
    return rows.map(toEvent);
  }

  /** Creates the consumer's row the first time it is seen; `fromNow` starts it at the head. */
  async ensureConsumer(name: string, fromNow: boolean, now: Date): Promise<void> {
    await this.db
      .insertInto('event_log.consumers')
      .values({
        name,
        cursor: fromNow
          ? sql<bigint>`(select coalesce(max(position), 0) from event_log.events)`
          : (0n as bigint),
        updated_at: now,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  /**
   * Locks the consumer's row for this transaction. With `skipLocked`, returns undefined when another
   * transaction (another process) holds it instead of waiting.
   */
  async lockConsumer(
    tx: Tx,
    name: string,
    options: { skipLocked: boolean },
  ): Promise<ConsumerRow | undefined> {
    const query = tx
      .selectFrom('event_log.consumers')
      .select(CONSUMER_COLUMNS)
      .where('name', '=', name)
      .forUpdate();
    return (options.skipLocked ? query.skipLocked() : query).executeTakeFirst();
  }

  async findConsumer(name: string, ex: Executor = this.db): Promise<ConsumerRow | undefined> {
    return ex
      .selectFrom('event_log.consumers')
      .select(CONSUMER_COLUMNS)
      .where('name', '=', name)
      .executeTakeFirst();
  }

  async listConsumers(): Promise<ConsumerRow[]> {
    return this.db.selectFrom('event_log.consumers').select(CONSUMER_COLUMNS).orderBy('name').execute();
  }

  async updateConsumer(
    ex: Executor,
    name: string,
    set: {
      cursor?: bigint;
      status?: ConsumerStatus;
      attempts: number;
      retryAt: Date | null;
      lastError?: string | null;
      now: Date;
    },
  ): Promise<ConsumerRow | undefined> {
    return ex
      .updateTable('event_log.consumers')
      .set({
        ...(set.cursor === undefined ? {} : { cursor: set.cursor }),
        ...(set.status === undefined ? {} : { status: set.status }),
        ...(set.lastError === undefined ? {} : { last_error: set.lastError }),
        attempts: set.attempts,
        retry_at: set.retryAt,
        updated_at: set.now,
      })
      .where('name', '=', name)
      .returning(CONSUMER_COLUMNS)
      .executeTakeFirst();
  }

  async insertDeadLetter(
    tx: Tx,
    input: { consumer: string; event: LoggedEvent; error: string; attempts: number; now: Date },
  ): Promise<void> {
    const { event } = input;
    await tx
      .insertInto('event_log.dead_letters')
      .values({
        consumer: input.consumer,
        event_id: event.id,
        position: event.position,
        type: event.type,
        version: event.version,
        payload: JSON.stringify(event.payload),
        user_id: event.userId,
        occurred_at: event.occurredAt,
        error: input.error,
        attempts: input.attempts,
        created_at: input.now,
      })
      // Handled again after a dead-letter retry and failed again: the first letter stands.
      .onConflict((oc) => oc.columns(['consumer', 'event_id']).doNothing())
      .execute();
  }

  async findDeadLetter(
    id: bigint,
    ex: Executor = this.db,
    options: { lock?: boolean } = {},
  ): Promise<DeadLetterRow | undefined> {
    const query = ex.selectFrom('event_log.dead_letters').selectAll().where('id', '=', id);
    const row = await (options.lock ? query.forUpdate() : query).executeTakeFirst();
    return row && toDeadLetter(row);
  }

  /** Newest first; `before` is the id to continue below. */
  async listDeadLetters(
    filter: { consumer?: string; resolved?: boolean },
    limit: number,
    before: bigint | undefined,
  ): Promise<DeadLetterRow[]> {
    let query = this.db.selectFrom('event_log.dead_letters').selectAll();
    if (filter.consumer) query = query.where('consumer', '=', filter.consumer);
    if (filter.resolved === true) query = query.where('resolved_at', 'is not', null);
    if (filter.resolved === false) query = query.where('resolved_at', 'is', null);
    if (before !== undefined) query = query.where('id', '<', before);
    const rows = await query.orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toDeadLetter);
  }

  async recordDeadLetterRetry(
    tx: Tx,
    id: bigint,
    outcome: { resolved: true; now: Date } | { resolved: false; error: string; now: Date },
  ): Promise<DeadLetterRow> {
    const row = await tx
      .updateTable('event_log.dead_letters')
      .set((eb) => ({
        retried_at: outcome.now,
        retries: eb('retries', '+', 1),
        ...(outcome.resolved ? { resolved_at: outcome.now } : { error: outcome.error }),
      }))
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toDeadLetter(row);
  }

  /**
   * Deletes, in chunks, committed events older than `cutoff` whose position every consumer has
   * passed. Consumers without a row yet do not hold anything back.
   */
  async pruneEvents(cutoff: Date, chunk: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const result = await sql<{ n: bigint }>`
        with doomed as (
          select id from event_log.events
           where occurred_at < ${cutoff}
             and position is not null
             and position <= coalesce((select min(cursor) from event_log.consumers), 9223372036854775807)
           limit ${chunk}
        ), gone as (
          delete from event_log.events where id in (select id from doomed) returning 1
        )
        select count(*) as n from gone`.execute(this.db);
      const n = Number(result.rows[0]?.n ?? 0n);
      deleted += n;
      if (n < chunk) return deleted;
    }
  }
}

type DeadLetterRecord = {
  id: bigint;
  consumer: string;
  event_id: string;
  position: bigint;
  type: string;
  version: number;
  payload: unknown;
  user_id: string | null;
  occurred_at: Date;
  error: string;
  attempts: number;
  created_at: Date;
  retried_at: Date | null;
  retries: number;
  resolved_at: Date | null;
};

function toDeadLetter(row: DeadLetterRecord): DeadLetterRow {
  return {
    id: row.id,
    consumer: row.consumer,
    event: toEvent({ ...row, id: row.event_id }),
    error: row.error,
    attempts: row.attempts,
    createdAt: row.created_at,
    retriedAt: row.retried_at,
    retries: row.retries,
    resolvedAt: row.resolved_at,
  };
}
