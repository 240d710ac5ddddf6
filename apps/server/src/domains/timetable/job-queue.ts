import { EventEmitter } from 'node:events';
import {
  type JobHelpers,
  type Runner,
  run,
  runMigrations,
  type TaskList,
  type WorkerEvents,
  type WorkerPool,
} from 'graphile-worker';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { Database, JsonObject } from '../../platform/db/database.types.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import { graphileLogger } from './graphile-logger.ts';

/** How `jobKey` treats an existing job with the same key (graphile-worker's job_key_mode). */
export type JobKeyMode = 'replace' | 'preserve_run_at' | 'unsafe_dedupe';

export type ScheduleOptions = {
  /** When the job becomes due (default: now, in the database's clock). */
  runAt?: Date;
  /** At most one pending job per key: scheduling again updates it, `cancel` removes it. */
  jobKey?: string;
  /** Default 'replace': the new payload and runAt win. */
  jobKeyMode?: JobKeyMode;
  /** Attempts before the job is given up (default 25, with exponential back-off between them). */
  maxAttempts?: number;
  /** Lower runs first (default 0). */
  priority?: number;
  /** Jobs in the same named queue run one at a time, in order. Keep the number of names small. */
  queueName?: string;
};

export type JobContext = {
  id: string;
  task: string;
  key: string | null;
  /** 1 on the first run; equals maxAttempts on the last. */
  attempt: number;
  maxAttempts: number;
  /** Aborted when the process is shutting down: a long job should stop and throw (it is retried). */
  signal: AbortSignal;
  log: Logger;
};

/** Runs a job. Throwing fails this attempt; it is retried with back-off until maxAttempts. */
export type JobHandler = (payload: unknown, job: JobContext) => Promise<void>;

/** Anything Kysely executes on: the caller's transaction, so the job commits or rolls back with it. */
export type JobExecutor = Kysely<Database>;

const TASK_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
// One connection listens for new jobs; the others fetch and complete them between handler runs.
const EXTRA_CONNECTIONS = 2;
// graphile-worker's own migrations, once at a time across processes.
const MIGRATION_LOCK_KEY = 7_410_101;
// After the stop budget, failing the running jobs gets this long before the queue lets go anyway.
const FORCED_STOP_MS = 2_000;

// The server reads int8 as bigint process-wide (database.ts); graphile-worker's own code expects
// job ids as strings (it JSON-encodes them), so its pool parses int8 the default way.
const INT8_OID = 20;
const graphileTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => value
      : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export type JobQueueOptions = {
  databaseUrl: string;
  logger: Logger;
  concurrency: number;
  /** How often due jobs that were scheduled for later are looked for (new jobs arrive by NOTIFY). */
  pollIntervalMs: number;
  /** How long `stop()` waits for running jobs before failing them (they are retried). */
  stopTimeoutMs: number;
};

/**
 * One-off, durable jobs on graphile-worker, run inside this process. Handlers are registered
 * before `start()`; jobs are scheduled in the caller's transaction with `schedule(tx, …)`.
 */
export class JobQueue {
  private readonly options: JobQueueOptions;
  private readonly log: Logger;
  private readonly handlers = new Map<string, JobHandler>();
  private runner: Runner | undefined;
  private workerPool: WorkerPool | undefined;
  private pool: pg.Pool | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(options: JobQueueOptions) {
    this.options = options;
    this.log = options.logger.child({ component: 'jobs' });
  }

  /** Registers the handler of task `name` (e.g. `video.ring_timeout`). Only before `start()`. */
  registerTask(name: string, handler: JobHandler): void {
    if (!TASK_NAME.test(name)) throw new Error(`job task name "${name}" must look like "domain.task_name"`);
    if (this.handlers.has(name)) throw new Error(`job task "${name}" is already registered`);
    if (this.starting) throw new Error(`job task "${name}" registered after the job queue started`);
    this.handlers.set(name, handler);
  }

  get taskNames(): string[] {
    return [...this.handlers.keys()].sort();
  }

  get started(): boolean {
    return this.runner !== undefined;
  }

  /** Creates or updates the `graphile_worker` schema (under a lock), then starts taking jobs. */
  start(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.starting ??= this.startRunner();
    return this.starting;
  }

  private async startRunner(): Promise<void> {
    const pool = new pg.Pool({
      connectionString: this.options.databaseUrl,
      max: this.options.concurrency + EXTRA_CONNECTIONS,
      application_name: 'olo-jobs',
      types: graphileTypes,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 10_000,
    });
    // A dropped idle connection must not crash the process; graphile-worker reconnects its listener.
    pool.on('error', (error) => this.log.warn({ err: error }, 'job queue connection error'));
    // A checked-out connection that drops fails its pending query; the client itself must not throw.
    pool.on('connect', (client) => client.on('error', () => {}));
    try {
      await this.migrate(pool);
      const taskList: TaskList = {};
      for (const [name, handler] of this.handlers) {
        taskList[name] = (payload: unknown, helpers: JobHelpers) => handler(payload, this.context(helpers));
      }
      // The worker pool is only reachable through this event; stop() needs it to fail stuck jobs.
      const events: WorkerEvents = new EventEmitter();
      events.on('pool:create', ({ workerPool }) => {
        this.workerPool = workerPool;
      });
      this.runner = await run({
        pgPool: pool,
        events,
        taskList,
        concurrency: this.options.concurrency,
        pollInterval: this.options.pollIntervalMs,
        noHandleSignals: true,
        // Recurring tasks are ours (timetable.cron_tasks), not graphile-worker's crontab file.
        parsedCronItems: [],
        logger: graphileLogger(this.options.logger),
        // Handlers get the abort signal halfway through the stop budget, so they can wrap up in time.
        gracefulShutdownAbortTimeout: Math.floor(this.options.stopTimeoutMs / 2),
        // Unbatched, graphile-worker marks a finished job done without awaiting it, so a stop could
        // close the pool first and leave the job locked (and run again hours later). Its batcher, even
        // with no delay, is flushed before the stop completes.
        preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      });
      this.runner.promise.catch((error: unknown) =>
        this.log.error({ err: error }, 'job queue stopped on error'),
      );
      this.pool = pool;
    } catch (error) {
      await pool.end();
      throw error;
    }
    this.log.info({ concurrency: this.options.concurrency, tasks: this.taskNames }, 'job queue started');
  }

  /**
   * Stops taking jobs and waits for the running ones, at most `stopTimeoutMs`; jobs still running
   * then are failed, so that any process retries them after the usual back-off instead of after
   * their lock expires (4 hours).
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /**
   * Adds a job in the caller's transaction: if it rolls back, nothing was scheduled. With a
   * `jobKey`, an existing pending job with that key is updated instead (see `jobKeyMode`).
   */
  async schedule(
    tx: JobExecutor,
    name: string,
    payload: JsonObject,
    options: ScheduleOptions = {},
  ): Promise<{ id: string }> {
    if (!this.handlers.has(name)) throw new Error(`job task "${name}" is not registered`);
    const result = await sql<{ id: string }>`
      select (graphile_worker.add_job(
        ${name},
        payload => ${JSON.stringify(payload)}::json,
        queue_name => ${options.queueName ?? null}::text,
        run_at => ${options.runAt ?? null}::timestamptz,
        max_attempts => ${options.maxAttempts ?? null}::int,
        job_key => ${options.jobKey ?? null}::text,
        priority => ${options.priority ?? null}::int,
        job_key_mode => ${options.jobKeyMode ?? 'replace'}::text
      )).id::text as id
    `.execute(tx);
    const id = result.rows[0]?.id;
    if (!id) throw new Error(`job task "${name}" was not scheduled`);
    return { id };
  }

  /**
   * Removes the pending job with this key, in the caller's transaction. A job already running is
   * not interrupted, but it will not be retried. Returns whether a job had the key.
   */
  async cancel(tx: JobExecutor, jobKey: string): Promise<boolean> {
    const result = await sql<{ id: string | null }>`
      select (graphile_worker.remove_job(${jobKey}::text)).id::text as id
    `.execute(tx);
    return result.rows[0]?.id != null;
  }

  /**
   * Deletes, in the caller's transaction, the jobs of `name` that will never run again: every
   * attempt used, and either failed for good or still locked by a worker silent for `staleLockMs`
   * (a process killed during the last run; graphile-worker never retries such a job). Returns their
   * payloads so the owner can finish what they were doing. Graphile's own completion deletes the
   * same way.
   */
  async reapDeadJobs(
    tx: JobExecutor,
    name: string,
    staleLockMs: number,
  ): Promise<Array<{ id: string; payload: unknown }>> {
    const result = await sql<{ id: string; payload: unknown }>`
      delete from graphile_worker._private_jobs j
       using graphile_worker._private_tasks t
       where t.id = j.task_id and t.identifier = ${name}
         and j.attempts >= j.max_attempts
         and (j.locked_at is null or j.locked_at < now() - make_interval(secs => ${staleLockMs / 1000}))
      returning j.id::text as id, j.payload`.execute(tx);
    return result.rows;
  }

  private context(helpers: JobHelpers): JobContext {
    const { job } = helpers;
    return {
      id: job.id,
      task: job.task_identifier,
      key: job.key,
      attempt: job.attempts,
      maxAttempts: job.max_attempts,
      signal: helpers.abortSignal,
      log: this.log.child({ jobId: job.id, task: job.task_identifier, attempt: job.attempts }),
    };
  }

  private async migrate(pool: pg.Pool): Promise<void> {
    const lock = await pool.connect();
    try {
      await lock.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      await runMigrations({ pgPool: pool, logger: graphileLogger(this.options.logger) });
    } finally {
      await lock.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
      lock.release();
    }
  }

  private async shutdown(): Promise<void> {
    // A start in progress finishes first, so that what it starts is stopped too.
    await this.starting?.catch(() => {});
    const { runner, pool } = this;
    if (!runner || !pool) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.stopTimeoutMs);
    });
    try {
      const outcome = await Promise.race([runner.stop().then(() => 'stopped' as const), timedOut]);
      if (outcome === 'timeout') {
        this.log.warn({ timeoutMs: this.options.stopTimeoutMs }, 'jobs still running at stop; failing them');
        const failing = this.workerPool?.forcefulShutdown('stopped before the job finished');
        await Promise.race([Promise.resolve(failing).catch(() => {}), delay(FORCED_STOP_MS)]);
      }
    } catch (error) {
      this.log.error({ err: error }, 'job queue did not stop cleanly');
    } finally {
      clearTimeout(timer);
      this.runner = undefined;
      this.workerPool = undefined;
      this.pool = undefined;
      await pool.end();
    }
    this.log.info('job queue stopped');
  }
}
