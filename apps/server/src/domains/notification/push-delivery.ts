import type { Clock } from '../../platform/clock.ts';
import { type Tx, withTransaction } from '../../platform/db/transaction.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { PushProviders } from '../../providers/push/create-push-providers.ts';
import {
  errorReason,
  type PushMessage,
  type PushProvider,
  type PushTarget,
} from '../../providers/push/push.provider.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { JobContext, JobQueue } from '../timetable/job-queue.ts';
import type { PushTokenService } from '../user/push-tokens.service.ts';
import type { DeliveryLogRepository } from './delivery-log.repository.ts';
import type { NotificationRepository, NotificationRow } from './notification.repository.ts';
import { PUSH_JOB } from './notification.service.ts';
import type { AttemptOutcome, PushSendState } from './notification.tables.ts';
import { definitionOf, jobPayloadSchema } from './notification-delivery.ts';
import type { PushSendRepository, PushSendRow } from './push-send.repository.ts';
import { selectTargets } from './push-targets.ts';

// Devices pushed to at once within one job.
const PUSH_CONCURRENCY = 32;

export type PushDeliveryDeps = {
  repo: NotificationRepository;
  log: DeliveryLogRepository;
  sends: PushSendRepository;
  pushTokens: Pick<PushTokenService, 'list' | 'removeInvalid'>;
  settings: Pick<SettingsService, 'get'>;
  providers: PushProviders;
  clock: Clock;
  logger: Logger;
};

/** Which run of the job this is; a run called outside the job queue is never the last. */
export type PushRun = Pick<JobContext, 'attempt' | 'maxAttempts'>;

export class RetryLater extends Error {
  override name = 'RetryLater';
}

async function mapLimit<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(runners);
}

const OUTCOME_OF: Record<'sent' | 'invalid_token' | 'retry' | 'failed', AttemptOutcome> = {
  sent: 'push_sent',
  invalid_token: 'invalid_token',
  retry: 'push_retry',
  failed: 'push_failed',
};

/**
 * The push step (`notification.push`): each device at most once per (notification, device),
 * recorded in notification.push_sends around each provider call, so a run after a crash or a retry
 * skips what is done. A transient answer makes the job throw (graphile-worker retries it with
 * back-off); on the job's last run a transient answer is final instead, so that no notification is
 * left `pushing` once nothing will run it again.
 */
export class PushDelivery {
  private readonly deps: PushDeliveryDeps;

  constructor(deps: PushDeliveryDeps) {
    this.deps = deps;
  }

  /** Effective expiry: a call never outlives its ring time-out. */
  private async expiresAt(row: NotificationRow): Promise<Date> {
    if (!definitionOf(row.kind)?.call) return row.expiresAt;
    const ring = await this.deps.settings.get('call.ring_timeout_seconds');
    return new Date(Math.min(row.expiresAt.getTime(), row.createdAt.getTime() + ring * 1000));
  }

  async push(payload: unknown, run?: PushRun): Promise<void> {
    const { ids } = jobPayloadSchema.parse(payload);
    const lastRun = run !== undefined && run.attempt >= run.maxAttempts;
    try {
      await this.pushAll(ids, lastRun ? run : undefined);
    } catch (error) {
      // Anything else that fails the last run (the database, a token lookup) still ends the
      // notifications, with the reason in their log; the job then fails for good with it.
      if (lastRun) await this.giveUp(ids, `gave up after ${run.maxAttempts} attempts: ${errorReason(error)}`);
      throw error;
    }
  }

  private async pushAll(ids: readonly string[], lastRun: PushRun | undefined): Promise<void> {
    const { repo, log, sends, clock } = this.deps;
    const now = clock.now();
    const rows = await repo.getMany(repo.db, ids);
    // Claimed against a concurrent acknowledgement: the one that commits first wins.
    const claimed = await withTransaction(repo.db, async (tx) => {
      const locked = await Promise.all(rows.map((r) => repo.get(tx, r.id, { forUpdate: true })));
      const due = locked.filter(
        (r): r is NotificationRow =>
          r !== undefined &&
          r.acknowledgedAt === null &&
          (r.status === 'pending' || r.status === 'in_app_sent' || r.status === 'pushing'),
      );
      const expired: NotificationRow[] = [];
      const pushing: NotificationRow[] = [];
      for (const r of due) ((await this.expiresAt(r)).getTime() <= now.getTime() ? expired : pushing).push(r);
      await repo.setStatus(
        tx,
        expired.map((r) => r.id),
        'expired',
      );
      await log.addAttempts(
        tx,
        expired.map((r) => ({ notificationId: r.id, channel: 'push' as const, outcome: 'expired', at: now })),
      );
      await repo.setStatus(
        tx,
        pushing.filter((r) => r.status !== 'pushing').map((r) => r.id),
        'pushing',
      );
      return pushing;
    });
    // One read of the device records for the whole batch; each device is then one write before and
    // one after its provider call, and the notifications' final statuses are two updates.
    const records = new Map(
      (
        await sends.pushSends(
          repo.db,
          claimed.map((r) => r.id),
        )
      ).map((p) => [`${p.notificationId}:${p.tokenId}`, p]),
    );
    const finished = { pushed: [] as string[], push_failed: [] as string[], noDevices: [] as string[] };
    let retry = false;
    await mapLimit(claimed, PUSH_CONCURRENCY, async (row) => {
      const outcome = await this.pushOne(row, records, lastRun);
      if (outcome === 'retry') retry = true;
      else if (outcome === 'no_devices') finished.noDevices.push(row.id);
      else finished[outcome].push(row.id);
    });
    const done = clock.now();
    await withTransaction(repo.db, async (tx) => {
      await repo.setStatus(tx, finished.pushed, 'pushed');
      await repo.setStatus(tx, [...finished.push_failed, ...finished.noDevices], 'push_failed');
      await log.addAttempts(
        tx,
        finished.noDevices.map((id) => ({
          notificationId: id,
          channel: 'push' as const,
          outcome: 'push_failed',
          detail: 'no push devices',
          at: done,
        })),
      );
    });
    if (retry) throw new RetryLater('some devices answered with a transient failure; retried with back-off');
  }

  /**
   * The last run failed outside a provider's answer: the notifications still `pushing` end `pushed`
   * when some device took them, `push_failed` otherwise, each with one log entry saying why.
   */
  private async giveUp(ids: readonly string[], reason: string): Promise<void> {
    try {
      await withTransaction(this.deps.repo.db, (tx) => this.finishStuck(tx, ids, reason));
    } catch (error) {
      this.deps.logger.error({ err: error, ids }, 'could not record the end of a push job that gave up');
    }
  }

  /**
   * The sweep's work (`notification.sweep_dead_pushes`): push jobs that will never run again — their
   * last run was killed with the process, or failed so early that it could not give up — are
   * removed, and their notifications still `pushing` are ended as `giveUp` ends them. One
   * transaction: a job is removed only with its notifications ended. Returns how many ended.
   */
  async sweepDeadJobs(jobs: Pick<JobQueue, 'reapDeadJobs'>, staleLockMs: number): Promise<number> {
    return withTransaction(this.deps.repo.db, async (tx) => {
      const dead = await jobs.reapDeadJobs(tx, PUSH_JOB, staleLockMs);
      const ids = dead.flatMap((job) => {
        const parsed = jobPayloadSchema.safeParse(job.payload);
        return parsed.success ? parsed.data.ids : [];
      });
      return this.finishStuck(tx, ids, 'the push job stopped during its last attempt (its process ended)');
    });
  }

  private async finishStuck(tx: Tx, ids: readonly string[], reason: string): Promise<number> {
    const { repo, log, sends, clock } = this.deps;
    const locked = await Promise.all(ids.map((id) => repo.get(tx, id, { forUpdate: true })));
    const stuck = locked.filter((r): r is NotificationRow => r?.status === 'pushing');
    const sent = new Set(
      (
        await sends.pushSends(
          tx,
          stuck.map((r) => r.id),
        )
      )
        .filter((p) => p.state === 'sent')
        .map((p) => p.notificationId),
    );
    await repo.setStatus(
      tx,
      stuck.filter((r) => sent.has(r.id)).map((r) => r.id),
      'pushed',
    );
    await repo.setStatus(
      tx,
      stuck.filter((r) => !sent.has(r.id)).map((r) => r.id),
      'push_failed',
    );
    const now = clock.now();
    await log.addAttempts(
      tx,
      stuck.map((r) => ({
        notificationId: r.id,
        channel: 'push' as const,
        outcome: 'push_failed',
        detail: reason,
        at: now,
      })),
    );
    return stuck.length;
  }

  /** Pushes one notification to the account's devices. */
  private async pushOne(
    row: NotificationRow,
    records: Map<string, PushSendRow>,
    lastRun: PushRun | undefined,
  ): Promise<'pushed' | 'push_failed' | 'no_devices' | 'retry'> {
    const definition = definitionOf(row.kind);
    const tokens = (await this.deps.pushTokens.list(row.userId)).map(
      (t): PushTarget => ({
        tokenId: t.id,
        userId: row.userId,
        kind: t.kind,
        platform: t.platform,
        token: t.token,
      }),
    );
    const targets = selectTargets(definition ?? {}, tokens);
    if (targets.length === 0) return 'no_devices';
    const message: PushMessage = {
      notificationId: row.id,
      kind: row.kind,
      title: row.title,
      body: row.body,
      data: Object.fromEntries(
        Object.entries(row.data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]),
      ),
      priority: row.priority,
      expiresAt: await this.expiresAt(row),
      call: definition?.call === true,
    };
    const states = await Promise.all(
      targets.map((target) =>
        this.sendToDevice(row, target, message, records.get(`${row.id}:${target.tokenId}`), lastRun),
      ),
    );
    if (states.includes('retry')) return 'retry';
    return states.includes('sent') ? 'pushed' : 'push_failed';
  }

  private async sendToDevice(
    row: NotificationRow,
    target: PushTarget,
    message: PushMessage,
    existing: PushSendRow | undefined,
    lastRun: PushRun | undefined,
  ): Promise<PushSendState> {
    const { sends, clock } = this.deps;
    const provider: PushProvider = this.deps.providers.forKind(target.kind);
    if (existing && existing.state !== 'sending' && existing.state !== 'retry') return existing.state;
    if (existing?.state === 'sending' && provider.redelivery(target, message) === 'at_most_once') {
      // A previous run died between "sending" and the answer: it may have gone out. Not resent.
      await sends.finishPushSend(sends.db, {
        notificationId: row.id,
        tokenId: target.tokenId,
        state: 'unknown',
        detail: 'interrupted during send; not resent (at-most-once)',
        outcome: 'push_unknown',
        provider: provider.name,
        now: clock.now(),
      });
      return 'unknown';
    }
    await sends.startPushSend(sends.db, {
      notificationId: row.id,
      tokenId: target.tokenId,
      provider: provider.name,
      now: clock.now(),
    });
    const result = await provider.send(target, message);
    // Nothing runs after the last run: a transient answer then is as final as a permanent one.
    const givingUp = result.outcome === 'retry' && lastRun !== undefined;
    const state: PushSendState = givingUp ? 'failed' : result.outcome;
    await sends.finishPushSend(sends.db, {
      notificationId: row.id,
      tokenId: target.tokenId,
      state,
      providerId: result.outcome === 'sent' ? (result.providerId ?? null) : null,
      detail:
        result.outcome === 'sent'
          ? null
          : givingUp
            ? `gave up after ${lastRun.maxAttempts} attempts: ${result.reason}`
            : result.reason,
      outcome: givingUp ? 'push_failed' : OUTCOME_OF[result.outcome],
      provider: provider.name,
      now: clock.now(),
    });
    if (result.outcome === 'invalid_token') {
      const removed = await this.deps.pushTokens.removeInvalid(target.kind, [target.token]);
      this.deps.logger.info(
        { notificationId: row.id, kind: target.kind, removed },
        'push token rejected by provider; removed',
      );
    }
    return state;
  }
}
