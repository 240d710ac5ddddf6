import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import { badInput } from '../../platform/errors/app-error.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import {
  type BatchOutcome,
  type ConsumerDefinition,
  ConsumerRuntime,
  type RetrySettings,
} from './consumer-runtime.ts';
import type { EventCatalogue, EventInput, LoggedEvent } from './event-catalogue.ts';
import {
  type ConsumerRow,
  type DeadLetterRow,
  type EventFilter,
  EventLogRepository,
} from './event-log.repository.ts';

export type EventLogSettings = {
  pollIntervalMs: number;
  retentionDays: number;
  retry: RetrySettings;
};

/** What a domain needs to emit: typed as this so services can be tested with the real log or a fake. */
export type EventSink = { emit: (tx: Tx, event: EventInput) => Promise<{ id: string }> };

export type Page<T> = { items: T[]; nextCursor: string | null };

export type ConsumerView = ConsumerRow & { lag: bigint; registeredHere: boolean };

const MAX_PAGE = 100;
const PRUNE_CHUNK = 5_000;
const DAY_MS = 86_400_000;

function pageSize(first: number | null | undefined): number {
  const size = first ?? 50;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) {
    throw badInput(`first must be between 1 and ${MAX_PAGE}`, { field: 'first' });
  }
  return size;
}

function parseCursor(after: string | null | undefined): bigint | undefined {
  if (after === null || after === undefined) return undefined;
  if (!/^\d{1,19}$/.test(after))
    throw badInput('after is not a cursor this list returned', { field: 'after' });
  return BigInt(after);
}

function page<T>(rows: T[], size: number, key: (row: T) => bigint): Page<T> {
  const items = rows.slice(0, size);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > size && last ? key(last).toString() : null };
}

/**
 * The application's event bus: a transactional outbox (`emit`) read by durable named consumers in
 * commit order. See docs/event-log.md.
 */
export class EventLog implements EventSink {
  readonly catalogue: EventCatalogue;
  private readonly repo: EventLogRepository;
  private readonly clock: Clock;
  private readonly settings: EventLogSettings;
  private readonly runtime: ConsumerRuntime;

  constructor(deps: {
    db: Db;
    databaseUrl: string;
    catalogue: EventCatalogue;
    clock: Clock;
    logger: Logger;
    settings: EventLogSettings;
  }) {
    this.catalogue = deps.catalogue;
    this.repo = new EventLogRepository(deps.db);
    this.clock = deps.clock;
    this.settings = deps.settings;
    this.runtime = new ConsumerRuntime({
      repo: this.repo,
      clock: deps.clock,
      logger: deps.logger,
      databaseUrl: deps.databaseUrl,
      pollIntervalMs: deps.settings.pollIntervalMs,
      retry: deps.settings.retry,
      emit: (tx, event) => this.emit(tx, event),
      isKnownType: (type) => deps.catalogue.has(type),
    });
  }

  /**
   * Writes the event in the caller's transaction: it is delivered if and only if that transaction
   * commits. Refuses (EventLogError, nothing written) an unknown type or a payload its schema rejects.
   */
  async emit(tx: Tx, event: EventInput): Promise<{ id: string }> {
    const { definition, payload } = this.catalogue.validate(event);
    const id = await this.repo.insertEvent(tx, {
      type: definition.type,
      version: definition.version,
      payload,
      userId: event.userId ?? null,
      occurredAt: this.clock.now(),
    });
    return { id };
  }

  /**
   * Adds a durable consumer (see docs/event-log.md). Register it in every process when the services
   * are wired; the processes share its work. One registered after `start()` starts at once.
   */
  registerConsumer(definition: ConsumerDefinition): void {
    this.runtime.register(definition);
  }

  /** Starts listening for commits and the safety poll; consumers run until `stop()`. */
  start(): Promise<void> {
    return this.runtime.start();
  }

  /** Stops waking consumers and waits for batches in flight. Call before the pool closes. */
  stop(): Promise<void> {
    return this.runtime.stop();
  }

  /** Handles the consumer's available events now, in this process (tests, tools). */
  drain(consumer: string): Promise<BatchOutcome> {
    return this.runtime.drain(consumer);
  }

  /**
   * Deletes events older than `olderThan` that every consumer has passed. An event some consumer
   * has not reached yet is kept, however old.
   */
  async pruneEvents(olderThan: Date): Promise<{ deleted: number }> {
    return { deleted: await this.repo.pruneEvents(olderThan, PRUNE_CHUNK) };
  }

  /** `pruneEvents` with the configured retention (EVENT_LOG_RETENTION_DAYS) before now. */
  async pruneExpiredEvents(): Promise<{ deleted: number; cutoff: Date }> {
    const cutoff = new Date(this.clock.now().getTime() - this.settings.retentionDays * DAY_MS);
    return { ...(await this.pruneEvents(cutoff)), cutoff };
  }

  async listEvents(
    filter: EventFilter,
    first?: number | null,
    after?: string | null,
  ): Promise<Page<LoggedEvent>> {
    const size = pageSize(first);
    const rows = await this.repo.listEvents(filter, size + 1, parseCursor(after));
    return page(rows, size, (event) => event.position);
  }

  async findEvent(id: string): Promise<LoggedEvent | undefined> {
    return this.repo.findEvent(id);
  }

  async headPosition(): Promise<bigint> {
    return this.repo.headPosition();
  }

  async listConsumers(): Promise<ConsumerView[]> {
    const [rows, head] = await Promise.all([this.repo.listConsumers(), this.repo.headPosition()]);
    const here = new Set(this.runtime.names());
    return rows.map((row) => ({
      ...row,
      lag: head > row.cursor ? head - row.cursor : 0n,
      registeredHere: here.has(row.name),
    }));
  }

  async listDeadLetters(
    filter: { consumer?: string; resolved?: boolean },
    first?: number | null,
    after?: string | null,
  ): Promise<Page<DeadLetterRow>> {
    const size = pageSize(first);
    const rows = await this.repo.listDeadLetters(filter, size + 1, parseCursor(after));
    return page(rows, size, (letter) => letter.id);
  }

  /** Runs the handler on the dead letter's event now; resolved when it succeeds. */
  async retryDeadLetter(id: string): Promise<DeadLetterRow> {
    return this.runtime.retryDeadLetter(parseId(id));
  }

  /** Sets a stopped consumer running again (from the event after the one it stopped at). */
  async resumeConsumer(name: string): Promise<ConsumerView> {
    await this.runtime.resume(name);
    const view = (await this.listConsumers()).find((c) => c.name === name);
    if (!view) throw new Error(`consumer ${name} vanished while resuming`);
    return view;
  }
}

function parseId(id: string): bigint {
  if (!/^\d{1,19}$/.test(id)) throw badInput('id is not a dead letter id', { field: 'id' });
  return BigInt(id);
}
