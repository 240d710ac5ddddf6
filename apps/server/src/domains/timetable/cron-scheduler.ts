import type { Clock } from '../../platform/clock.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import { planDueTask } from './cron-schedule.ts';
import type { JobQueue } from './job-queue.ts';
import type { CronRun, CronTask, TimetableRepository } from './timetable.repository.ts';

/** The graphile-worker task that executes every cron run (see CronService). */
export const CRON_RUN_JOB = 'timetable.cron_run';

/** What the cron-run job carries: the run to record and a snapshot of the task as it was scheduled. */
export type CronRunJobPayload = {
  runId: string;
  name: string;
  task: string;
  scheduledFor: string;
  trigger: CronRun['trigger'];
  payload: CronTask['payload'];
};

export const cronJobKey = (name: string, scheduledFor: Date) => `cron:${name}:${scheduledFor.toISOString()}`;

/** Hands a run to graphile-worker in the same transaction that created it. */
export async function enqueueRun(tx: Tx, jobs: JobQueue, task: CronTask, run: CronRun): Promise<void> {
  const payload: CronRunJobPayload = {
    runId: run.id,
    name: task.name,
    task: task.task,
    scheduledFor: run.scheduledFor.toISOString(),
    trigger: run.trigger,
    payload: task.payload,
  };
  await jobs.schedule(tx, CRON_RUN_JOB, payload, {
    jobKey: cronJobKey(task.name, run.scheduledFor),
    maxAttempts: task.maxAttempts,
  });
}

export type CronSchedulerOptions = {
  repo: TimetableRepository;
  jobs: JobQueue;
  clock: Clock;
  logger: Logger;
  /** A tick later than this when claimed was missed while no process ran (see planDueTask). */
  misfireGraceMs: number;
  /** Tasks claimed per transaction; a fuller backlog is worked off in further ticks at once. */
  batchSize?: number;
};

const TICK_MS = 1_000;
// Wake just after the second turns, so a tick due on the second is seen in the same second.
const TICK_OFFSET_MS = 5;

/**
 * The loop every process runs: about once a second it claims the due tasks, records one run per
 * tick and hands it to graphile-worker, and moves each task's next_run_at on, all in one
 * transaction. Which process claims a tick does not matter; that only one does is the database's
 * job (row locks with SKIP LOCKED, and the unique (task_name, scheduled_for) of the runs).
 */
export class CronScheduler {
  private readonly options: CronSchedulerOptions;
  private readonly log: Logger;
  private readonly batchSize: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(options: CronSchedulerOptions) {
    this.options = options;
    this.batchSize = options.batchSize ?? 100;
    this.log = options.logger.child({ component: 'cron' });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.runLoop();
  }

  /** Stops the loop after the tick in progress, if any, has committed. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  /** One pass: claims and schedules every due task (up to batchSize). Returns how many it claimed. */
  async tick(): Promise<number> {
    const { repo, clock } = this.options;
    const now = clock.now();
    return withTransaction(repo.db, async (tx) => {
      const due = await repo.claimDue(tx, now, this.batchSize);
      for (const task of due) await this.handOut(tx, task, now);
      return due.length;
    });
  }

  private async handOut(tx: Tx, task: CronTask, now: Date): Promise<void> {
    const { repo, jobs, misfireGraceMs } = this.options;
    let plan: ReturnType<typeof planDueTask>;
    try {
      plan = planDueTask({ ...task, nextRunAt: task.nextRunAt ?? now }, now, misfireGraceMs);
    } catch (error) {
      // A stored expression this version cannot read must not stop every other task's ticks.
      const message = `cannot compute the next tick: ${error instanceof Error ? error.message : String(error)}`;
      this.log.error({ task: task.name, err: error }, 'cron task parked');
      await repo.advance(tx, task.name, { nextRunAt: null, lastError: message });
      return;
    }
    let lastRunAt: Date | undefined;
    for (const { scheduledFor, trigger, action } of plan.actions) {
      if (action === 'skip') {
        await repo.insertRun(tx, {
          taskName: task.name,
          scheduledFor,
          trigger,
          status: 'skipped',
          error: 'missed while no process was running; catch_up is off',
        });
        this.log.info({ task: task.name, scheduledFor }, 'missed cron tick skipped');
        continue;
      }
      const run = await repo.insertRun(tx, { taskName: task.name, scheduledFor, trigger });
      if (run) await enqueueRun(tx, jobs, task, run);
      lastRunAt = scheduledFor;
    }
    await repo.advance(tx, task.name, { nextRunAt: plan.nextRunAt, ...(lastRunAt ? { lastRunAt } : {}) });
  }

  private async runLoop(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        claimed = await this.tick();
      } catch (error) {
        this.log.error({ err: error }, 'cron tick failed');
      }
      if (!this.running) break;
      if (claimed >= this.batchSize) continue;
      const now = this.options.clock.now().getTime();
      await this.sleep(TICK_MS - (now % TICK_MS) + TICK_OFFSET_MS);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }
}
