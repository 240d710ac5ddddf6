import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type {
  AnalyticsDestination,
  DeliveryAnswer,
  DeliveryItem,
  UserContext,
} from '../../providers/analytics/analytics.destination.ts';
import type { CronService } from '../timetable/cron.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import type { Attribution, AttributionRepository, Consent } from './attribution.repository.ts';
import type { Delivery, DeliveryRepository } from './delivery.repository.ts';
import { ADS_FLUSH_JOB, flushJobKey, isOptedOut } from './postback.consumer.ts';

export const ADS_SWEEP_TASK = 'ads.sweep_deliveries';
const MAX_RETRY_MS = 6 * 3600_000;
const LEASE_MARGIN_MS = 5_000;

export type DeliverySettings = {
  httpTimeoutMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  /** How long a delivery may wait for the user's attribution before it is skipped. */
  attributionWaitMs: number;
};

/** Back-off before attempt n+1 after n failed attempts: base, 2×base, 4×base, … capped at 6 hours. */
export function retryDelay(attempts: number, baseMs: number): number {
  return Math.min(MAX_RETRY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
}

/**
 * Sends pending deliveries: claims a batch under a lease, sends it, records the attempt with the
 * answer and moves each delivery on (sent; failed on a permanent error; pending again with back-off
 * on a transient one, until ADS_MAX_ATTEMPTS). A sender that dies mid-send leaves its lease to run
 * out; the sweep then sends again with the same event id, which the vendor dedups.
 */
export class DeliveryService {
  private readonly deps: {
    db: Db;
    repo: DeliveryRepository;
    attributions: AttributionRepository;
    destinations: readonly AnalyticsDestination[];
    contacts: (userId: string) => Promise<{ email: string | null; phone: string | null }>;
    jobs: JobQueue;
    clock: Clock;
    logger: Logger;
    settings: DeliverySettings;
  };

  constructor(deps: DeliveryService['deps']) {
    this.deps = deps;
  }

  get destinationNames(): string[] {
    return this.deps.destinations.map((d) => d.name);
  }

  /** Job and cron handlers: a flush per destination on demand, a sweep every 5 seconds as the safety net. */
  register(cron: CronService): void {
    this.deps.jobs.registerTask(ADS_FLUSH_JOB, async (payload) => {
      const destination = (payload as { destination?: unknown }).destination;
      if (typeof destination === 'string') await this.flush(destination);
    });
    cron.registerTask(ADS_SWEEP_TASK, async () => this.sweep(), {
      defaultTask: { name: 'ads-sweep-deliveries', cron: '*/5 * * * * *' },
    });
  }

  /**
   * Wakes a flush for every destination with due deliveries (retries, and leases of dead senders), and
   * gives up on deliveries that waited too long for the user's attribution.
   */
  async sweep(): Promise<void> {
    const now = this.deps.clock.now();
    const waitMs = this.deps.settings.attributionWaitMs;
    await this.deps.repo.expireWaiting(
      new Date(now.getTime() - waitMs),
      now,
      `, none after ${Math.round(waitMs / 3600_000)} h`,
    );
    // Deliveries of a destination no longer configured wait (pending) until it is configured again.
    const configured = new Set(this.destinationNames);
    const due = await this.deps.repo.dueDestinations(now);
    for (const destination of due.filter((name) => configured.has(name))) {
      await this.deps.jobs.schedule(
        this.deps.db,
        ADS_FLUSH_JOB,
        { destination },
        {
          jobKey: flushJobKey(destination),
        },
      );
    }
  }

  /**
   * Called in the transaction that records the user's attribution (which holds the user's lock): the
   * deliveries that waited for it are due now, and their senders are woken.
   */
  async resumeWaiting(tx: Tx, userId: string): Promise<void> {
    const destinations = await this.deps.repo.resumeWaiting(tx, userId, this.deps.clock.now());
    // Only where this process runs the job queue; otherwise the sweep finds them within seconds.
    if (!this.deps.jobs.started) return;
    for (const destination of destinations) {
      await this.deps.jobs.schedule(tx, ADS_FLUSH_JOB, { destination }, { jobKey: flushJobKey(destination) });
    }
  }

  /** Sends every due delivery of every destination now (tests, tools). */
  async flushAll(): Promise<void> {
    for (const destination of this.deps.destinations) await this.flush(destination.name);
  }

  async flush(name: string): Promise<void> {
    const destination = this.deps.destinations.find((d) => d.name === name);
    if (!destination) return;
    const leaseMs = this.deps.settings.httpTimeoutMs + LEASE_MARGIN_MS;
    for (;;) {
      const now = this.deps.clock.now();
      const batch = await this.deps.repo.claimDue(
        name,
        destination.maxBatch,
        now,
        new Date(now.getTime() + leaseMs),
      );
      if (batch.length === 0) break;
      await this.sendBatch(destination, batch);
    }
    // A retry may fall due between the last claim and this read (the back-off can be a millisecond):
    // a wake-up in the past runs at once, where skipping it would leave the retry to the sweep.
    const next = await this.deps.repo.nextDueAt(name);
    if (next && this.deps.jobs.started) {
      await this.deps.jobs.schedule(
        this.deps.db,
        ADS_FLUSH_JOB,
        { destination: name },
        {
          jobKey: flushJobKey(name),
          runAt: next,
        },
      );
    }
  }

  private async sendBatch(destination: AnalyticsDestination, batch: Delivery[]): Promise<void> {
    const sendable: Array<{ delivery: Delivery; item: DeliveryItem }> = [];
    const skipped: Array<{ delivery: Delivery; reason: string }> = [];
    const waiting: Delivery[] = [];
    for (const delivery of batch) {
      const userId = delivery.event.userId;
      // Checked again at send time: the user may have opted out since the event.
      const consent = await this.deps.attributions.consent(userId);
      if (isOptedOut(consent)) {
        skipped.push({ delivery, reason: 'opted_out' });
        continue;
      }
      const refusal = destination.refuses?.(delivery.event) ?? null;
      if (refusal) {
        skipped.push({ delivery, reason: refusal });
        continue;
      }
      const [contacts, attribution] = await Promise.all([
        this.deps.contacts(userId),
        this.deps.attributions.current(userId),
      ]);
      const user = { ...contacts, ...attributionContext(attribution, consent) };
      if (destination.waitsFor?.(user)) waiting.push(delivery);
      else sendable.push({ delivery, item: { event: delivery.event, user } });
    }
    let answer: DeliveryAnswer | undefined;
    if (sendable.length > 0) {
      try {
        answer = await destination.send(
          sendable.map((s) => s.item),
          AbortSignal.timeout(this.deps.settings.httpTimeoutMs),
        );
      } catch (error) {
        answer = {
          outcome: 'transient',
          httpStatus: null,
          request: null,
          response: error instanceof Error ? error.message : String(error),
        };
      }
    }
    const at = this.deps.clock.now();
    await withTransaction(this.deps.db, async (tx) => {
      for (const { delivery, reason } of skipped) {
        await this.deps.repo.recordAttempt(
          tx,
          delivery,
          { outcome: 'skipped', httpStatus: null, request: null, response: reason },
          at,
        );
        await this.deps.repo.settle(tx, delivery.id, {
          status: 'skipped',
          retryAt: null,
          lastError: reason,
          at,
        });
      }
      if (!answer) return;
      for (const { delivery } of sendable) {
        await this.deps.repo.recordAttempt(tx, delivery, answer, at);
        await this.deps.repo.settle(tx, delivery.id, this.nextState(delivery, answer, at));
      }
    });
    for (const delivery of waiting) await this.park(destination, delivery, at);
    if (answer && answer.outcome !== 'sent') {
      this.deps.logger.warn(
        {
          destination: destination.name,
          outcome: answer.outcome,
          status: answer.httpStatus,
          count: sendable.length,
        },
        'ads: delivery attempt did not succeed',
      );
    }
  }

  /**
   * Nothing was attempted: the delivery waits for the user's attribution (its claim's attempt is given
   * back). Decided under the user's lock with the attribution read again, so an attribution recorded
   * meanwhile either is seen here (due again at once) or finds the delivery waiting and resumes it.
   */
  private async park(destination: AnalyticsDestination, delivery: Delivery, at: Date): Promise<void> {
    const userId = delivery.event.userId;
    await withTransaction(this.deps.db, async (tx) => {
      await this.deps.attributions.lockUser(tx, userId);
      const [attribution, consent] = await Promise.all([
        this.deps.attributions.current(userId, tx),
        this.deps.attributions.consent(userId, tx),
      ]);
      const missing = destination.waitsFor?.({
        email: null,
        phone: null,
        ...attributionContext(attribution, consent),
      });
      await this.deps.repo.settle(tx, delivery.id, {
        status: missing ? 'waiting' : 'pending',
        retryAt: missing ? null : at,
        lastError: missing ? `waiting for ${missing}` : null,
        attempts: delivery.attempts - 1,
        at,
      });
    });
  }

  private nextState(delivery: Delivery, answer: DeliveryAnswer, at: Date) {
    const error =
      answer.outcome === 'sent'
        ? null
        : `${answer.httpStatus ?? 'network'}: ${answer.response}`.slice(0, 500);
    switch (answer.outcome) {
      case 'sent':
        return { status: 'sent' as const, retryAt: null, lastError: null, at };
      case 'skipped':
        return { status: 'skipped' as const, retryAt: null, lastError: answer.response, at };
      case 'permanent':
        return { status: 'failed' as const, retryAt: null, lastError: error, at };
      case 'transient':
        if (delivery.attempts >= this.deps.settings.maxAttempts) {
          return { status: 'failed' as const, retryAt: null, lastError: error, at };
        }
        return {
          status: 'pending' as const,
          retryAt: new Date(at.getTime() + retryDelay(delivery.attempts, this.deps.settings.retryBaseMs)),
          lastError: error,
          at,
        };
    }
  }
}

/** What the user's attribution and consent tell a destination (contact details come separately). */
function attributionContext(
  attribution: Attribution | undefined,
  consent: Consent,
): Omit<UserContext, 'email' | 'phone'> {
  return {
    appsflyerId: attribution?.appsflyerId ?? null,
    platform: attribution?.platform ?? null,
    attStatus: consent.attStatus,
    appInstanceId: attribution?.appInstanceId ?? null,
  };
}
