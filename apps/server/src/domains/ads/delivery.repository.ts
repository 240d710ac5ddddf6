import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { AnalyticsEvent } from '../../providers/analytics/analytics.destination.ts';
import type { AttemptOutcome, DeliveryStatus } from './ads.tables.ts';

export type Delivery = {
  id: bigint;
  destination: string;
  eventId: string;
  eventType: string;
  userId: string | null;
  event: AnalyticsEvent;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
};

export type DeliveryAttempt = {
  id: bigint;
  deliveryId: bigint;
  attempt: number;
  outcome: AttemptOutcome;
  httpStatus: number | null;
  request: string | null;
  response: string | null;
  at: Date;
};

export type DestinationStats = {
  destination: string;
  pending: number;
  waiting: number;
  sent: number;
  failed: number;
  skipped: number;
  failedAttempts: number;
};

type Row = {
  id: bigint;
  destination: string;
  event_id: string;
  event_type: string;
  user_id: string | null;
  event: unknown;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  sent_at: Date | null;
};

const toDelivery = (r: Row): Delivery => ({
  id: r.id,
  destination: r.destination,
  eventId: r.event_id,
  eventType: r.event_type,
  userId: r.user_id,
  event: r.event as AnalyticsEvent,
  status: r.status,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  sentAt: r.sent_at,
});

const COLUMNS = [
  'id',
  'destination',
  'event_id',
  'event_type',
  'user_id',
  'event',
  'status',
  'attempts',
  'next_attempt_at',
  'last_error',
  'created_at',
  'updated_at',
  'sent_at',
] as const;

/** The delivery state machine (ads.deliveries), its attempts, and the local event sink. */
export class DeliveryRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** One delivery per (destination, event): a replayed event inserts nothing. */
  async insert(
    tx: Tx,
    input: {
      destination: string;
      event: AnalyticsEvent;
      eventType: string;
      status: 'pending' | 'skipped';
      lastError: string | null;
      at: Date;
    },
  ): Promise<boolean> {
    const row = await tx
      .insertInto('ads.deliveries')
      .values({
        destination: input.destination,
        event_id: input.event.eventId,
        event_type: input.eventType,
        user_id: input.event.userId,
        event: JSON.stringify(input.event),
        status: input.status,
        next_attempt_at: input.at,
        last_error: input.lastError,
        created_at: input.at,
        updated_at: input.at,
      })
      .onConflict((oc) => oc.columns(['destination', 'event_id']).doNothing())
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * Takes up to `limit` due deliveries of a destination under a lease, in one committed statement:
   * the lease is visible to every process before anything is sent, and runs out if this one dies.
   */
  async claimDue(destination: string, limit: number, now: Date, leaseUntil: Date): Promise<Delivery[]> {
    const rows = await sql<Row>`
      update ads.deliveries d
         set lease_until = ${leaseUntil}, attempts = d.attempts + 1, updated_at = ${now}
       where d.id in (
         select id from ads.deliveries
          where destination = ${destination} and status = 'pending' and next_attempt_at <= ${now}
            and (lease_until is null or lease_until < ${now})
          order by next_attempt_at, id
          limit ${limit}
          for update skip locked)
      returning d.id, d.destination, d.event_id, d.event_type, d.user_id, d.event, d.status, d.attempts,
                d.next_attempt_at, d.last_error, d.created_at, d.updated_at, d.sent_at`.execute(this.db);
    return rows.rows.map(toDelivery).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  async recordAttempt(
    tx: Tx,
    delivery: Delivery,
    answer: { outcome: AttemptOutcome; httpStatus: number | null; request: string | null; response: string },
    at: Date,
  ): Promise<void> {
    await tx
      .insertInto('ads.delivery_attempts')
      .values({
        delivery_id: delivery.id,
        attempt: delivery.attempts,
        outcome: answer.outcome,
        http_status: answer.httpStatus,
        request: answer.request,
        response: answer.response,
        at,
      })
      .execute();
  }

  /**
   * Moves a delivery on after an attempt: done (sent/failed/skipped), pending again at `retryAt`, or
   * waiting. `attempts` corrects the count taken at claim time when nothing was attempted.
   */
  async settle(
    tx: Tx,
    id: bigint,
    next: {
      status: DeliveryStatus;
      retryAt: Date | null;
      lastError: string | null;
      at: Date;
      attempts?: number;
    },
  ): Promise<void> {
    await tx
      .updateTable('ads.deliveries')
      .set({
        status: next.status,
        lease_until: null,
        last_error: next.lastError,
        updated_at: next.at,
        ...(next.attempts !== undefined ? { attempts: next.attempts } : {}),
        ...(next.retryAt ? { next_attempt_at: next.retryAt } : {}),
        ...(next.status === 'sent' ? { sent_at: next.at } : {}),
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .execute();
  }

  /** Makes the user's waiting deliveries due now; returns their destinations. */
  async resumeWaiting(tx: Tx, userId: string, at: Date): Promise<string[]> {
    const rows = await tx
      .updateTable('ads.deliveries')
      .set({ status: 'pending', next_attempt_at: at, last_error: null, updated_at: at })
      .where('user_id', '=', userId)
      .where('status', '=', 'waiting')
      .returning('destination')
      .execute();
    return [...new Set(rows.map((r) => r.destination))];
  }

  /** Gives up on deliveries that have waited since before `createdBefore`: skipped, with why. */
  async expireWaiting(createdBefore: Date, at: Date, note: string): Promise<number> {
    const result = await this.db
      .updateTable('ads.deliveries')
      .set({
        status: 'skipped',
        last_error: sql<string>`coalesce(last_error, 'waiting') || ${note}`,
        updated_at: at,
      })
      .where('status', '=', 'waiting')
      .where('created_at', '<', createdBefore)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Destinations with deliveries due now (including ones whose sender's lease ran out). */
  async dueDestinations(now: Date): Promise<string[]> {
    const rows = await this.db
      .selectFrom('ads.deliveries')
      .select('destination')
      .distinct()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .execute();
    return rows.map((r) => r.destination);
  }

  /**
   * When the next pending delivery of a destination can be claimed: its retry time, or the end of the
   * lease of a sender still working on it — so a wake-up is never due while another process holds it.
   */
  async nextDueAt(destination: string): Promise<Date | undefined> {
    const row = await sql<{ at: Date | null }>`
      select min(greatest(next_attempt_at, coalesce(lease_until, next_attempt_at))) as at
        from ads.deliveries
       where destination = ${destination} and status = 'pending'`.execute(this.db);
    const at = row.rows[0]?.at;
    return at ? new Date(at) : undefined;
  }

  async list(
    filter: {
      destination?: string | undefined;
      status?: DeliveryStatus | undefined;
      userId?: string | undefined;
    },
    limit: number,
    after: bigint | undefined,
  ): Promise<Delivery[]> {
    let query = this.db.selectFrom('ads.deliveries').select(COLUMNS);
    if (filter.destination) query = query.where('destination', '=', filter.destination);
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    if (after !== undefined) query = query.where('id', '<', after);
    const rows = await query.orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toDelivery);
  }

  async attemptsOf(deliveryIds: readonly bigint[]): Promise<DeliveryAttempt[]> {
    if (deliveryIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('ads.delivery_attempts')
      .selectAll()
      .where('delivery_id', 'in', deliveryIds)
      .orderBy('id', 'asc')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      deliveryId: r.delivery_id,
      attempt: r.attempt,
      outcome: r.outcome,
      httpStatus: r.http_status,
      request: r.request,
      response: r.response,
      at: r.at,
    }));
  }

  async stats(): Promise<DestinationStats[]> {
    const rows = await sql<{ destination: string; status: DeliveryStatus; n: string }>`
      select destination, status, count(*)::text as n from ads.deliveries group by 1, 2`.execute(this.db);
    const failures = await sql<{ destination: string; n: string }>`
      select d.destination, count(*)::text as n
        from ads.delivery_attempts a join ads.deliveries d on d.id = a.delivery_id
       where a.outcome in ('transient', 'permanent')
       group by 1`.execute(this.db);
    const byDestination = new Map<string, DestinationStats>();
    const get = (destination: string) => {
      let stats = byDestination.get(destination);
      if (!stats) {
        stats = { destination, pending: 0, waiting: 0, sent: 0, failed: 0, skipped: 0, failedAttempts: 0 };
        byDestination.set(destination, stats);
      }
      return stats;
    };
    for (const r of rows.rows) get(r.destination)[r.status] = Number(r.n);
    for (const r of failures.rows) get(r.destination).failedAttempts = Number(r.n);
    return [...byDestination.values()].sort((a, b) => a.destination.localeCompare(b.destination));
  }

  /** The local sink: each event once. Returns how many were new. */
  async recordSinkEvents(events: AnalyticsEvent[], at: Date): Promise<number> {
    if (events.length === 0) return 0;
    const rows = await this.db
      .insertInto('ads.sink_events')
      .values(
        events.map((e) => ({
          event_id: e.eventId,
          name: e.name,
          user_id: e.userId,
          payload: JSON.stringify(e),
          received_at: at,
        })),
      )
      .onConflict((oc) => oc.column('event_id').doNothing())
      .returning('id')
      .execute();
    return rows.length;
  }

  async listSinkEvents(
    filter: { name?: string | undefined; userId?: string | undefined },
    limit: number,
    after: bigint | undefined,
  ) {
    let query = this.db.selectFrom('ads.sink_events').selectAll();
    if (filter.name) query = query.where('name', '=', filter.name);
    if (filter.userId) query = query.where('user_id', '=', filter.userId);
    if (after !== undefined) query = query.where('id', '<', after);
    const rows = await query.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: r.id,
      eventId: r.event_id,
      name: r.name,
      userId: r.user_id,
      payload: r.payload,
      receivedAt: r.received_at,
    }));
  }
}
