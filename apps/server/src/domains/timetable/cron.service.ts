import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import { withTransaction } from '../../platform/db/transaction.ts';
import { badInput, conflict, notFound } from '../../platform/errors/app-error.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import { cronExpressionProblem, isValidTimeZone, nextTickAfter } from './cron-schedule.ts';
import { CRON_RUN_JOB, CronScheduler, cronJobKey, enqueueRun } from './cron-scheduler.ts';
import type { JobContext, JobQueue } from './job-queue.ts';
import type { CronRun, CronTask, TimetableRepository } from './timetable.repository.ts';
import type { CronRunTrigger } from './timetable.tables.ts';

/** What a cron handler is told about the run it performs. */
export type CronRunContext = {
  /** The task's name in timetable.cron_tasks (several tasks may share one handler). */
  name: string;
  /** The handler identifier the task names. */
  task: string;
  /** The tick this run stands for (for a manual run: when it was asked for). */
  scheduledFor: Date;
  trigger: CronRunTrigger;
  /** The task's payload when the run was scheduled. */
  payload: JsonObject;
  attempt: number;
  maxAttempts: number;
  /** Aborted when the process shuts down: stop and throw, the run is retried. */
  signal: AbortSignal;
  log: Logger;
};

/** Performs one run. Throwing fails the attempt: it is retried with back-off up to the task's maxAttempts. */
export type CronHandler = (run: CronRunContext) => Promise<void>;

export type CronTaskInput = {
  name: string;
  task: string;
  cron: string;
  timeZone?: string | null;
  enabled?: boolean | null;
  payload?: unknown;
  catchUp?: boolean | null;
  maxAttempts?: number | null;
};

export type CronRunPage = { runs: CronRun[]; endCursor: string | null; hasNextPage: boolean };

const IDENTIFIER = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const NAME = /^[a-z0-9][a-z0-9_.:-]{0,99}$/;
const MAX_PAYLOAD_BYTES = 16 * 1024;
const MAX_ERROR_CHARS = 2_000;

const jobPayloadSchema = z.object({
  runId: z.string().regex(/^\d+$/),
  name: z.string(),
  task: z.string(),
  scheduledFor: z.iso.datetime(),
  trigger: z.enum(['schedule', 'catch_up', 'manual']),
  payload: z.record(z.string(), z.unknown()),
});

const isPlainObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const errorText = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).slice(0, MAX_ERROR_CHARS) || 'failed';

const encodeCursor = (scheduledFor: Date) => Buffer.from(scheduledFor.toISOString()).toString('base64url');

function decodeCursor(cursor: string): Date {
  const date = new Date(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (Number.isNaN(date.getTime()))
    throw badInput('after is not a cursor from this list', { field: 'after' });
  return date;
}

/**
 * Recurring tasks: handlers registered in code by identifier, schedules stored in
 * timetable.cron_tasks and edited by admins at runtime, runs executed as graphile-worker jobs.
 */
export class CronService {
  private readonly repo: TimetableRepository;
  private readonly jobs: JobQueue;
  private readonly clock: Clock;
  private readonly handlers = new Map<string, CronHandler>();
  private readonly defaults: CronTaskInput[] = [];
  readonly scheduler: CronScheduler;

  constructor(deps: {
    repo: TimetableRepository;
    jobs: JobQueue;
    clock: Clock;
    logger: Logger;
    misfireGraceMs: number;
  }) {
    this.repo = deps.repo;
    this.jobs = deps.jobs;
    this.clock = deps.clock;
    this.scheduler = new CronScheduler(deps);
    this.jobs.registerTask(CRON_RUN_JOB, (payload, job) => this.execute(payload, job));
  }

  /**
   * Makes `identifier` (e.g. `event_log.retention`) available to cron tasks; once per identifier.
   * `defaultTask` is created by `start()` when no task of that name exists: admins may then edit or
   * disable it (a deleted one comes back at the next start).
   */
  registerTask(
    identifier: string,
    handler: CronHandler,
    options: { defaultTask?: Omit<CronTaskInput, 'task'> } = {},
  ): void {
    if (!IDENTIFIER.test(identifier)) {
      throw new Error(`cron task identifier "${identifier}" must look like "domain.task_name"`);
    }
    if (this.handlers.has(identifier)) throw new Error(`cron task "${identifier}" is already registered`);
    this.handlers.set(identifier, handler);
    if (options.defaultTask) this.defaults.push({ ...options.defaultTask, task: identifier });
  }

  get taskIdentifiers(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /**
   * Creates the missing default tasks, then starts this process's scheduler loop. The job queue
   * must run too (in some process) for the scheduled runs to execute.
   */
  async start(): Promise<void> {
    const now = this.clock.now();
    for (const input of this.defaults) {
      const task = this.validate(input);
      const nextRunAt = task.enabled
        ? nextTickAfter({ cron: task.cron, timeZone: task.timeZone, seed: task.name }, now)
        : null;
      await this.repo.insertTaskIfMissing({ ...task, nextRunAt }, now);
    }
    this.scheduler.start();
  }

  stop(): Promise<void> {
    return this.scheduler.stop();
  }

  listTasks(): Promise<CronTask[]> {
    return this.repo.listTasks();
  }

  async listRuns(name: string, first = 20, after?: string | null): Promise<CronRunPage> {
    if (!Number.isInteger(first) || first < 1 || first > 100) {
      throw badInput('first must be between 1 and 100', { field: 'first' });
    }
    const before = after ? decodeCursor(after) : undefined;
    const rows = await this.repo.listRuns(name, first + 1, before);
    const runs = rows.slice(0, first);
    const last = runs.at(-1);
    return {
      runs,
      endCursor: last ? encodeCursor(last.scheduledFor) : null,
      hasNextPage: rows.length > first,
    };
  }

  /** Creates the task or replaces its definition. Validates everything before writing anything. */
  async upsertTask(input: CronTaskInput): Promise<CronTask> {
    const task = this.validate(input);
    const now = this.clock.now();
    return withTransaction(this.repo.db, async (tx) => {
      const existing = await this.repo.findTask(task.name, tx, true);
      // An unchanged schedule keeps its pending tick, so an edit cannot swallow a tick that is due.
      const keep =
        existing?.enabled &&
        task.enabled &&
        existing.nextRunAt &&
        existing.cron === task.cron &&
        existing.timeZone === task.timeZone;
      const nextRunAt = !task.enabled
        ? null
        : keep
          ? existing.nextRunAt
          : nextTickAfter({ cron: task.cron, timeZone: task.timeZone, seed: task.name }, now);
      return this.repo.upsertTask(tx, { ...task, nextRunAt }, now);
    });
  }

  /** Disabling clears the next tick; enabling schedules the first tick after now (nothing is caught up). */
  async setEnabled(name: string, enabled: boolean): Promise<CronTask> {
    const now = this.clock.now();
    return withTransaction(this.repo.db, async (tx) => {
      const task = await this.repo.findTask(name, tx, true);
      if (!task) throw notFound('Cron task');
      if (task.enabled === enabled) return task;
      const nextRunAt = enabled
        ? nextTickAfter({ cron: task.cron, timeZone: task.timeZone, seed: task.name }, now)
        : null;
      const updated = await this.repo.setEnabled(tx, name, enabled, nextRunAt, now);
      if (!updated) throw notFound('Cron task');
      return updated;
    });
  }

  /** Deletes the task, its history and the jobs of runs that have not started. */
  async deleteTask(name: string): Promise<boolean> {
    return withTransaction(this.repo.db, async (tx) => {
      const { deleted, openRuns } = await this.repo.deleteTask(tx, name);
      for (const run of openRuns) await this.jobs.cancel(tx, cronJobKey(name, run.scheduledFor));
      return deleted;
    });
  }

  /** Runs the task once now, outside its schedule (also when it is disabled). */
  async runNow(name: string): Promise<CronRun> {
    const now = this.clock.now();
    return withTransaction(this.repo.db, async (tx) => {
      const task = await this.repo.findTask(name, tx);
      if (!task) throw notFound('Cron task');
      const run = await this.repo.insertRun(tx, { taskName: name, scheduledFor: now, trigger: 'manual' });
      if (!run) throw conflict('A run of this task was started at this very moment');
      await enqueueRun(tx, this.jobs, task, run);
      await this.repo.advance(tx, name, { lastRunAt: now });
      return run;
    });
  }

  private validate(input: CronTaskInput) {
    if (!NAME.test(input.name)) {
      throw badInput('name must be 1-100 characters: lower-case letters, digits and _ . : -', {
        field: 'name',
      });
    }
    if (!this.handlers.has(input.task)) {
      throw badInput(
        `unknown task "${input.task.slice(0, 128)}"; registered: ${this.taskIdentifiers.join(', ')}`,
        {
          field: 'task',
        },
      );
    }
    const cron = input.cron.trim().split(/\s+/).join(' ');
    const problem = cronExpressionProblem(cron);
    if (problem) throw badInput(problem, { field: 'cron' });
    const timeZone = input.timeZone ?? 'UTC';
    if (!isValidTimeZone(timeZone)) {
      throw badInput('timeZone must be an IANA time zone such as Europe/Berlin or UTC', {
        field: 'timeZone',
      });
    }
    const payload = input.payload ?? {};
    if (!isPlainObject(payload)) throw badInput('payload must be a JSON object', { field: 'payload' });
    if (Buffer.byteLength(JSON.stringify(payload)) > MAX_PAYLOAD_BYTES) {
      throw badInput(`payload must be at most ${MAX_PAYLOAD_BYTES} bytes of JSON`, { field: 'payload' });
    }
    const maxAttempts = input.maxAttempts ?? 3;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 25) {
      throw badInput('maxAttempts must be between 1 and 25', { field: 'maxAttempts' });
    }
    return {
      name: input.name,
      task: input.task,
      cron,
      timeZone,
      enabled: input.enabled ?? true,
      payload,
      catchUp: input.catchUp ?? false,
      maxAttempts,
    };
  }

  /** The cron-run job: records the attempt on the run, calls the handler, records the outcome. */
  private async execute(raw: unknown, job: JobContext): Promise<void> {
    const input = jobPayloadSchema.parse(raw);
    const run = await this.repo.startRun(input.runId, this.clock.now());
    // Deleted with its task, or already finished (a duplicate delivery): nothing left to do.
    if (!run) return;
    const log = job.log.child({ cronTask: input.name, scheduledFor: input.scheduledFor });
    const handler = this.handlers.get(input.task);
    try {
      if (!handler) throw new Error(`no handler is registered for cron task "${input.task}" in this process`);
      await handler({
        name: input.name,
        task: input.task,
        scheduledFor: new Date(input.scheduledFor),
        trigger: input.trigger,
        payload: input.payload,
        attempt: job.attempt,
        maxAttempts: job.maxAttempts,
        signal: job.signal,
        log,
      });
    } catch (error) {
      const final = job.attempt >= job.maxAttempts;
      await this.repo.finishRun(
        { id: run.id, taskName: input.name },
        { status: final ? 'failed' : 'retrying', error: errorText(error) },
        this.clock.now(),
      );
      if (final) log.error({ err: error, attempt: job.attempt }, 'cron run failed; no attempts left');
      else log.warn({ err: error, attempt: job.attempt }, 'cron run failed; it will be retried');
      throw error;
    }
    await this.repo.finishRun(
      { id: run.id, taskName: input.name },
      { status: 'succeeded', error: null },
      this.clock.now(),
    );
  }
}
