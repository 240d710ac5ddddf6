import { type Selectable, sql } from 'kysely';
import type { Db } from '../../platform/db/database.ts';
import type { JsonObject } from '../../platform/db/database.types.ts';
import type { Tx } from '../../platform/db/transaction.ts';
import type { CronRunStatus, CronRunTrigger, TimetableTables } from './timetable.tables.ts';

type Executor = Db | Tx;

export type CronTask = {
  name: string;
  task: string;
  cron: string;
  timeZone: string;
  enabled: boolean;
  payload: JsonObject;
  catchUp: boolean;
  maxAttempts: number;
  lastRunAt: Date | null;
  nextRunAt: Date | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
};

export type CronRun = {
  id: string;
  taskName: string;
  scheduledFor: Date;
  trigger: CronRunTrigger;
  status: CronRunStatus;
  attempts: number;
  startedAt: Date | null;
  finishedAt: Date | null;
  error: string | null;
};

export type CronTaskWrite = Omit<CronTask, 'lastRunAt' | 'lastError' | 'createdAt' | 'updatedAt'>;

const toTask = (row: Selectable<TimetableTables['timetable.cron_tasks']>): CronTask => ({
  name: row.name,
  task: row.task,
  cron: row.cron,
  timeZone: row.time_zone,
  enabled: row.enabled,
  payload: row.payload,
  catchUp: row.catch_up,
  maxAttempts: row.max_attempts,
  lastRunAt: row.last_run_at,
  nextRunAt: row.next_run_at,
  lastError: row.last_error,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toRun = (row: Selectable<TimetableTables['timetable.cron_runs']>): CronRun => ({
  id: String(row.id),
  taskName: row.task_name,
  scheduledFor: row.scheduled_for,
  trigger: row.trigger,
  status: row.status,
  attempts: row.attempts,
  startedAt: row.started_at,
  finishedAt: row.finished_at,
  error: row.error,
});

// Statuses in which a run may still be (re)started by its job.
const OPEN_STATUSES: CronRunStatus[] = ['scheduled', 'running', 'retrying'];

/** The only code that reads or writes the `timetable` schema. */
/** The stored columns of a task definition, as written on insert and on update. */
function taskRow(task: CronTaskWrite, now: Date) {
  return {
    name: task.name,
    task: task.task,
    cron: task.cron,
    time_zone: task.timeZone,
    enabled: task.enabled,
    payload: JSON.stringify(task.payload),
    catch_up: task.catchUp,
    max_attempts: task.maxAttempts,
    next_run_at: task.nextRunAt,
    created_at: now,
    updated_at: now,
  };
}

export class TimetableRepository {
  readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  async listTasks(ex: Executor = this.db): Promise<CronTask[]> {
    const rows = await ex.selectFrom('timetable.cron_tasks').selectAll().orderBy('name').execute();
    return rows.map(toTask);
  }

  async findTask(name: string, ex: Executor = this.db, lock = false): Promise<CronTask | undefined> {
    let query = ex.selectFrom('timetable.cron_tasks').selectAll().where('name', '=', name);
    if (lock) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row && toTask(row);
  }

  /** Inserts or replaces a task's definition; its run history and last outcome stay. */
  async upsertTask(ex: Executor, task: CronTaskWrite, now: Date): Promise<CronTask> {
    const values = taskRow(task, now);
    const { created_at: _created, name: _name, ...changes } = values;
    const row = await ex
      .insertInto('timetable.cron_tasks')
      .values(values)
      .onConflict((oc) => oc.column('name').doUpdateSet(changes))
      .returningAll()
      .executeTakeFirstOrThrow();
    return toTask(row);
  }

  async insertTaskIfMissing(task: CronTaskWrite, now: Date): Promise<void> {
    await this.db
      .insertInto('timetable.cron_tasks')
      .values(taskRow(task, now))
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  async setEnabled(
    ex: Executor,
    name: string,
    enabled: boolean,
    nextRunAt: Date | null,
    now: Date,
  ): Promise<CronTask | undefined> {
    const row = await ex
      .updateTable('timetable.cron_tasks')
      .set({ enabled, next_run_at: nextRunAt, updated_at: now })
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    return row && toTask(row);
  }

  /** Deletes the task and its history; returns the runs that were still waiting for their job. */
  async deleteTask(ex: Executor, name: string): Promise<{ deleted: boolean; openRuns: CronRun[] }> {
    const open = await ex
      .selectFrom('timetable.cron_runs')
      .selectAll()
      .where('task_name', '=', name)
      .where('status', 'in', ['scheduled', 'retrying'])
      .execute();
    const result = await ex.deleteFrom('timetable.cron_tasks').where('name', '=', name).executeTakeFirst();
    return { deleted: result.numDeletedRows > 0n, openRuns: open.map(toRun) };
  }

  /**
   * Locks the enabled tasks whose tick is due. SKIP LOCKED: a task another process is handling
   * right now is left to it; by the time this process looks again its next_run_at has moved on.
   */
  async claimDue(tx: Tx, now: Date, limit: number): Promise<CronTask[]> {
    const rows = await tx
      .selectFrom('timetable.cron_tasks')
      .selectAll()
      .where('enabled', '=', true)
      .where('next_run_at', '<=', now)
      .orderBy('next_run_at')
      .limit(limit)
      .forUpdate()
      .skipLocked()
      .execute();
    return rows.map(toTask);
  }

  /** The run of one tick, unless that tick already has one (then undefined). */
  async insertRun(
    ex: Executor,
    run: {
      taskName: string;
      scheduledFor: Date;
      trigger: CronRunTrigger;
      status?: CronRunStatus;
      error?: string;
    },
  ): Promise<CronRun | undefined> {
    const row = await ex
      .insertInto('timetable.cron_runs')
      .values({
        task_name: run.taskName,
        scheduled_for: run.scheduledFor,
        trigger: run.trigger,
        status: run.status ?? 'scheduled',
        error: run.error ?? null,
        finished_at: run.status === 'skipped' ? run.scheduledFor : null,
      })
      .onConflict((oc) => oc.columns(['task_name', 'scheduled_for']).doNothing())
      .returningAll()
      .executeTakeFirst();
    return row && toRun(row);
  }

  /** Moves a claimed task on; `lastRunAt` is the latest tick handed out (its scheduled time). */
  async advance(
    ex: Executor,
    name: string,
    changes: { nextRunAt?: Date | null; lastRunAt?: Date; lastError?: string },
  ): Promise<void> {
    await ex
      .updateTable('timetable.cron_tasks')
      .set({
        ...(changes.nextRunAt === undefined ? {} : { next_run_at: changes.nextRunAt }),
        ...(changes.lastRunAt === undefined ? {} : { last_run_at: changes.lastRunAt }),
        ...(changes.lastError === undefined ? {} : { last_error: changes.lastError }),
      })
      .where('name', '=', name)
      .execute();
  }

  /** Marks an attempt as started; undefined when the run is gone or already finished. */
  async startRun(runId: string, now: Date): Promise<CronRun | undefined> {
    const row = await this.db
      .updateTable('timetable.cron_runs')
      .set((eb) => ({
        status: 'running',
        attempts: eb('attempts', '+', 1),
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
      }))
      .where('id', '=', BigInt(runId))
      .where('status', 'in', OPEN_STATUSES)
      .returningAll()
      .executeTakeFirst();
    return row && toRun(row);
  }

  /** Records an attempt's outcome on the run and, as last_error, on its task. */
  async finishRun(
    run: { id: string; taskName: string },
    outcome: { status: 'succeeded' | 'retrying' | 'failed'; error: string | null },
    now: Date,
  ): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx
        .updateTable('timetable.cron_runs')
        .set({
          status: outcome.status,
          finished_at: outcome.status === 'retrying' ? null : now,
          // A retry that succeeds keeps the error of the attempt before it, for the record.
          ...(outcome.error === null ? {} : { error: outcome.error }),
        })
        .where('id', '=', BigInt(run.id))
        .execute();
      // Only when it changes: an update that matches no row takes no lock, so the steady state of a
      // task that keeps succeeding never makes the scheduler's SKIP LOCKED pass over its row.
      await tx
        .updateTable('timetable.cron_tasks')
        .set({ last_error: outcome.error })
        .where('name', '=', run.taskName)
        .where(sql<boolean>`last_error is distinct from ${outcome.error}`)
        .execute();
    });
  }

  /** Newest first, `first` at most, after the run scheduled for `before` (keyset pagination). */
  async listRuns(name: string, first: number, before?: Date): Promise<CronRun[]> {
    let query = this.db
      .selectFrom('timetable.cron_runs')
      .selectAll()
      .where('task_name', '=', name)
      .orderBy('scheduled_for', 'desc')
      .limit(first);
    if (before) query = query.where('scheduled_for', '<', before);
    return (await query.execute()).map(toRun);
  }

  async findRun(id: string): Promise<CronRun | undefined> {
    const row = await this.db
      .selectFrom('timetable.cron_runs')
      .selectAll()
      .where('id', '=', BigInt(id))
      .executeTakeFirst();
    return row && toRun(row);
  }

  /** Deletes finished runs scheduled before `before`, in batches so no statement holds locks long. */
  async pruneRuns(before: Date, batchSize = 5_000): Promise<number> {
    let total = 0;
    for (;;) {
      const batch = this.db
        .selectFrom('timetable.cron_runs')
        .select('id')
        .where('scheduled_for', '<', before)
        .where('status', 'not in', OPEN_STATUSES)
        .limit(batchSize);
      const result = await this.db
        .deleteFrom('timetable.cron_runs')
        .where('id', 'in', batch)
        .executeTakeFirst();
      const deleted = Number(result.numDeletedRows);
      total += deleted;
      if (deleted < batchSize) return total;
    }
  }
}
