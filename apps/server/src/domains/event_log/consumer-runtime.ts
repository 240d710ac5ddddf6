import { sql } from 'kysely';
import type { Clock } from '../../platform/clock.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import { conflict, notFound } from '../../platform/errors/app-error.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { EventInput, LoggedEvent } from './event-catalogue.ts';
import { EVENTS_CHANNEL, type EventListener, listenForEvents } from './event-listener.ts';
import type { ConsumerRow, DeadLetterRow, EventLogRepository } from './event-log.repository.ts';

/** What a handler gets besides the event: the transaction its cursor advances in. */
export type ConsumerContext = {
  /** Do the handler's database work here: it commits together with the cursor, or not at all. */
  tx: Tx;
  log: Logger;
  /** Emits a follow-up event in the same transaction. */
  emit: (event: EventInput) => Promise<{ id: string }>;
};

export type ConsumerHandler = (event: LoggedEvent, context: ConsumerContext) => Promise<void>;

export type ConsumerDefinition = {
  /** Stable and unique: the stored cursor is keyed by it. */
  name: string;
  handler: ConsumerHandler;
  /** After `maxAttempts` failures the event is dead-lettered; then skip it, or stop the consumer. */
  onExhausted: 'skip' | 'stop';
  /** Only these event types reach the handler (all when omitted). */
  types?: readonly string[];
  maxAttempts?: number;
  retry?: { baseMs?: number; maxMs?: number };
  batchSize?: number;
  /** Where a consumer seen for the first time starts: every retained event (default), or new ones. */
  startFrom?: 'beginning' | 'now';
};

export type RetrySettings = { baseMs: number; maxMs: number; maxAttempts: number };

export type BatchOutcome =
  | { kind: 'more' }
  | { kind: 'idle' }
  | { kind: 'busy' }
  | { kind: 'stopped' }
  | { kind: 'waiting'; until: Date };

type Consumer = {
  definition: ConsumerDefinition;
  types: readonly string[] | undefined;
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
  batchSize: number;
  ensured: boolean;
  active: Promise<void> | undefined;
  again: boolean;
  timer: NodeJS.Timeout | undefined;
};

const NAME_PATTERN = /^[a-z][a-z0-9_.-]{0,99}$/;
const DEFAULT_BATCH_SIZE = 100;
const MAX_ERROR_CHARS = 2_000;

/** Exponential back-off: base, 2×base, 4×base, … capped at max. `attempts` counts failures so far (≥ 1). */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
}

const errorText = (error: unknown) =>
  (error instanceof Error ? error.message || error.name : String(error)).slice(0, MAX_ERROR_CHARS);

/**
 * Runs the registered consumers: wakes them on NOTIFY and on a slow poll, hands each its events in
 * position order in batches, and records retries and dead letters. A batch runs in one transaction
 * that holds the consumer's row lock, so across every process only one handles a consumer at a time.
 */
export class ConsumerRuntime {
  private readonly repo: EventLogRepository;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly databaseUrl: string;
  private readonly pollIntervalMs: number;
  private readonly retry: RetrySettings;
  private readonly emit: (tx: Tx, event: EventInput) => Promise<{ id: string }>;
  private readonly isKnownType: (type: string) => boolean;
  private readonly consumers = new Map<string, Consumer>();
  private listener: EventListener | undefined;
  private poll: NodeJS.Timeout | undefined;
  private started = false;
  private stopping = false;

  constructor(deps: {
    repo: EventLogRepository;
    clock: Clock;
    logger: Logger;
    databaseUrl: string;
    pollIntervalMs: number;
    retry: RetrySettings;
    emit: (tx: Tx, event: EventInput) => Promise<{ id: string }>;
    isKnownType: (type: string) => boolean;
  }) {
    this.repo = deps.repo;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.databaseUrl = deps.databaseUrl;
    this.pollIntervalMs = deps.pollIntervalMs;
    this.retry = deps.retry;
    this.emit = deps.emit;
    this.isKnownType = deps.isKnownType;
  }

  register(definition: ConsumerDefinition): void {
    if (!NAME_PATTERN.test(definition.name)) {
      throw new Error(`consumer name ${JSON.stringify(definition.name)} must match ${NAME_PATTERN}`);
    }
    if (this.consumers.has(definition.name))
      throw new Error(`consumer ${definition.name} is registered twice`);
    for (const type of definition.types ?? []) {
      if (!this.isKnownType(type)) throw new Error(`consumer ${definition.name}: unknown event type ${type}`);
    }
    const maxAttempts = definition.maxAttempts ?? this.retry.maxAttempts;
    const batchSize = definition.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new Error('maxAttempts must be ≥ 1');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error('batchSize must be ≥ 1');
    const consumer: Consumer = {
      definition,
      types: definition.types ? [...definition.types] : undefined,
      maxAttempts,
      baseMs: definition.retry?.baseMs ?? this.retry.baseMs,
      maxMs: definition.retry?.maxMs ?? this.retry.maxMs,
      batchSize,
      ensured: false,
      active: undefined,
      again: false,
      timer: undefined,
    };
    this.consumers.set(definition.name, consumer);
    this.kick(consumer);
  }

  names(): string[] {
    return [...this.consumers.keys()];
  }

  async start(): Promise<void> {
    if (this.started) return;
    for (const consumer of this.consumers.values()) await this.ensure(consumer);
    this.listener = await listenForEvents({
      url: this.databaseUrl,
      logger: this.logger,
      wake: () => this.wake(),
    });
    this.started = true;
    this.stopping = false;
    // The safety net for lost notifications and for batches a crashed process left behind.
    this.poll = setInterval(() => this.wake(), this.pollIntervalMs);
    this.poll.unref();
    this.wake();
  }

  /** Stops waking consumers and waits for the batches in flight to commit or roll back. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    for (const consumer of this.consumers.values()) {
      if (consumer.timer) clearTimeout(consumer.timer);
      consumer.timer = undefined;
    }
    await this.listener?.close();
    this.listener = undefined;
    await Promise.all([...this.consumers.values()].map((c) => c.active));
    this.started = false;
  }

  /** Lets every consumer (or one) look for new events now. */
  wake(name?: string): void {
    for (const consumer of this.consumers.values()) {
      if (name === undefined || consumer.definition.name === name) this.kick(consumer);
    }
  }

  /** Handles what the consumer has available now, in this process, until it is idle or blocked. */
  async drain(name: string): Promise<BatchOutcome> {
    return this.settle(this.get(name), () => false);
  }

  private async settle(consumer: Consumer, interrupted: () => boolean): Promise<BatchOutcome> {
    await this.ensure(consumer);
    for (;;) {
      const outcome = await this.processBatch(consumer);
      if (outcome.kind !== 'more' || interrupted()) return outcome;
    }
  }

  private get(name: string): Consumer {
    const consumer = this.consumers.get(name);
    if (!consumer) throw conflict(`Consumer ${name} does not run in this process`);
    return consumer;
  }

  private async ensure(consumer: Consumer): Promise<void> {
    if (consumer.ensured) return;
    await this.repo.ensureConsumer(
      consumer.definition.name,
      consumer.definition.startFrom === 'now',
      this.clock.now(),
    );
    consumer.ensured = true;
  }

  private kick(consumer: Consumer): void {
    if (!this.started || this.stopping) return;
    if (consumer.active) {
      consumer.again = true;
      return;
    }
    consumer.active = (async () => {
      try {
        do {
          consumer.again = false;
          try {
            const outcome = await this.settle(consumer, () => this.stopping);
            if (outcome.kind === 'waiting') this.wakeAt(consumer, outcome.until);
          } catch (error) {
            // The database is unreachable or a commit failed: nothing was lost; the poll tries again.
            this.logger.error({ err: error, consumer: consumer.definition.name }, 'event log: batch failed');
          }
        } while (consumer.again && !this.stopping);
      } finally {
        consumer.active = undefined;
      }
    })();
  }

  private wakeAt(consumer: Consumer, until: Date): void {
    if (consumer.timer) clearTimeout(consumer.timer);
    const delay = Math.max(10, until.getTime() - this.clock.now().getTime());
    consumer.timer = setTimeout(() => {
      consumer.timer = undefined;
      this.kick(consumer);
    }, delay);
    consumer.timer.unref();
  }

  /** Runs the handler for one event inside a savepoint; returns the error text when it failed. */
  private async handleOne(tx: Tx, consumer: Consumer, event: LoggedEvent): Promise<string | undefined> {
    const log = this.logger.child({
      consumer: consumer.definition.name,
      eventId: event.id,
      position: event.position.toString(),
      type: event.type,
    });
    await sql`savepoint event_handler`.execute(tx);
    try {
      await consumer.definition.handler(event, { tx, log, emit: (next) => this.emit(tx, next) });
      await sql`release savepoint event_handler`.execute(tx);
      return undefined;
    } catch (error) {
      // Undo only this event's work; the batch's earlier events still commit with the cursor.
      await sql`rollback to savepoint event_handler`.execute(tx);
      log.warn({ err: error }, 'event log: handler failed');
      return errorText(error);
    }
  }

  private processBatch(consumer: Consumer): Promise<BatchOutcome> {
    const { name } = consumer.definition;
    return withTransaction(this.repo.db, async (tx) => {
      const row = await this.repo.lockConsumer(tx, name, { skipLocked: true });
      if (!row) return { kind: 'busy' };
      if (row.status === 'stopped') return { kind: 'stopped' };
      const now = this.clock.now();
      if (row.retryAt && row.retryAt > now) return { kind: 'waiting', until: row.retryAt };
      // Every position up to the head is committed and visible (positions follow commit order).
      const head = await this.repo.headPosition(tx);
      const events = await this.repo.readEvents(tx, {
        after: row.cursor,
        upTo: head,
        types: consumer.types,
        limit: consumer.batchSize,
      });
      let cursor = row.cursor;
      let attempts = row.attempts;
      let lastError = row.lastError;
      for (const event of events) {
        const error = await this.handleOne(tx, consumer, event);
        if (error === undefined) {
          cursor = event.position;
          attempts = 0;
          lastError = null;
          continue;
        }
        attempts++;
        lastError = error;
        if (attempts < consumer.maxAttempts) {
          const retryAt = new Date(now.getTime() + retryDelayMs(attempts, consumer.baseMs, consumer.maxMs));
          await this.repo.updateConsumer(tx, name, { cursor, attempts, retryAt, lastError, now });
          return { kind: 'waiting', until: retryAt };
        }
        await this.repo.insertDeadLetter(tx, { consumer: name, event, error, attempts, now });
        // Either way the consumer passes the event: from now on only the dead letter can handle it.
        cursor = event.position;
        attempts = 0;
        if (consumer.definition.onExhausted === 'stop') {
          await this.repo.updateConsumer(tx, name, {
            cursor,
            status: 'stopped',
            attempts,
            retryAt: null,
            lastError,
            now,
          });
          this.logger.error(
            { consumer: name, eventId: event.id },
            'event log: consumer stopped at a dead letter',
          );
          return { kind: 'stopped' };
        }
      }
      const caughtUp = events.length < consumer.batchSize;
      // A filtered consumer also passes the events it does not want, up to the head it read.
      if (caughtUp && head > cursor) cursor = head;
      if (cursor !== row.cursor || attempts !== row.attempts || row.retryAt !== null) {
        await this.repo.updateConsumer(tx, name, { cursor, attempts, retryAt: null, lastError, now });
      }
      return caughtUp ? { kind: 'idle' } : { kind: 'more' };
    });
  }

  /**
   * Runs the dead letter's consumer on its event now, under the consumer's lock; marks it resolved
   * when the handler succeeds (in the same transaction as the handler's work).
   */
  async retryDeadLetter(id: bigint): Promise<DeadLetterRow> {
    const letter = await this.repo.findDeadLetter(id);
    if (!letter) throw notFound('Dead letter');
    if (letter.resolvedAt) return letter;
    const consumer = this.get(letter.consumer);
    return withTransaction(this.repo.db, async (tx) => {
      await this.repo.lockConsumer(tx, consumer.definition.name, { skipLocked: false });
      const locked = await this.repo.findDeadLetter(id, tx, { lock: true });
      if (!locked) throw notFound('Dead letter');
      if (locked.resolvedAt) return locked;
      const error = await this.handleOne(tx, consumer, locked.event);
      const now = this.clock.now();
      return this.repo.recordDeadLetterRetry(
        tx,
        id,
        error === undefined ? { resolved: true, now } : { resolved: false, error, now },
      );
    });
  }

  /** Sets a stopped (or backing-off) consumer running again and wakes it in every process. */
  async resume(name: string): Promise<ConsumerRow> {
    const row = await this.repo.updateConsumer(this.repo.db, name, {
      status: 'running',
      attempts: 0,
      retryAt: null,
      now: this.clock.now(),
    });
    if (!row) throw notFound('Event consumer');
    await sql`select pg_notify(${EVENTS_CHANNEL}, 'resume')`.execute(this.repo.db);
    this.wake(name);
    return row;
  }
}
