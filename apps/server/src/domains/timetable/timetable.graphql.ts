import { builder } from '../../platform/graphql/builder.ts';
import type { CronRunPage } from './cron.service.ts';
import type { CronRun, CronTask } from './timetable.repository.ts';

const ADMIN = { role: ['admin' as const] };

const CronRunStatusEnum = builder.enumType('CronRunStatus', {
  values: {
    SCHEDULED: { value: 'scheduled', description: 'Handed to the job queue, not started yet' },
    RUNNING: { value: 'running' },
    RETRYING: { value: 'retrying', description: 'An attempt failed; the next one waits for its back-off' },
    SUCCEEDED: { value: 'succeeded' },
    FAILED: { value: 'failed', description: 'Every attempt failed' },
    SKIPPED: { value: 'skipped', description: 'Missed while no process was running, and catchUp is off' },
  } as const,
});

const CronRunTriggerEnum = builder.enumType('CronRunTrigger', {
  values: {
    SCHEDULE: { value: 'schedule', description: 'A tick of the schedule, on time' },
    CATCH_UP: { value: 'catch_up', description: 'A tick missed while no process was running' },
    MANUAL: { value: 'manual', description: 'runCronTaskNow' },
  } as const,
});

const CronTaskType = builder.objectRef<CronTask>('CronTask').implement({
  description: 'A recurring task: a handler registered in code, run on a cron schedule',
  authScopes: ADMIN,
  fields: (t) => ({
    name: t.exposeString('name'),
    task: t.exposeString('task', { description: 'Identifier of the handler it runs' }),
    cron: t.exposeString('cron', {
      description: '5 fields, or 6 with seconds first ("*/10 * * * * *": every 10 seconds)',
    }),
    timeZone: t.exposeString('timeZone', { description: 'IANA time zone the expression is read in' }),
    enabled: t.exposeBoolean('enabled'),
    payload: t.field({
      type: 'JSON',
      description: 'JSON object handed to the handler',
      resolve: (task) => task.payload,
    }),
    catchUp: t.exposeBoolean('catchUp', {
      description: 'Run a tick missed while no process was running once at start, instead of skipping it',
    }),
    maxAttempts: t.exposeInt('maxAttempts'),
    lastRunAt: t.field({ type: 'DateTime', nullable: true, resolve: (task) => task.lastRunAt }),
    nextRunAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Null while disabled',
      resolve: (task) => task.nextRunAt,
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'Error of the latest failed attempt; cleared when a run succeeds',
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (task) => task.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (task) => task.updatedAt }),
  }),
});

const CronRunType = builder.objectRef<CronRun>('CronRun').implement({
  description: 'One run of a cron task',
  authScopes: ADMIN,
  fields: (t) => ({
    id: t.exposeID('id'),
    taskName: t.exposeString('taskName'),
    scheduledFor: t.field({ type: 'DateTime', resolve: (run) => run.scheduledFor }),
    trigger: t.field({ type: CronRunTriggerEnum, resolve: (run) => run.trigger }),
    status: t.field({ type: CronRunStatusEnum, resolve: (run) => run.status }),
    attempts: t.exposeInt('attempts'),
    startedAt: t.field({ type: 'DateTime', nullable: true, resolve: (run) => run.startedAt }),
    finishedAt: t.field({ type: 'DateTime', nullable: true, resolve: (run) => run.finishedAt }),
    error: t.exposeString('error', { nullable: true, description: 'Error of the latest failed attempt' }),
  }),
});

const CronRunPageType = builder.objectRef<CronRunPage>('CronRunPage').implement({
  description: 'Runs of a task, newest first',
  authScopes: ADMIN,
  fields: (t) => ({
    runs: t.field({ type: [CronRunType], resolve: (page) => page.runs }),
    endCursor: t.exposeString('endCursor', {
      nullable: true,
      description: 'Pass as `after` for the next page',
    }),
    hasNextPage: t.exposeBoolean('hasNextPage'),
  }),
});

const CronTaskInput = builder.inputType('CronTaskInput', {
  description: 'A cron task to create, or the new definition of an existing one (by name)',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Lower-case letters, digits and _ . : -; at most 100' }),
    task: t.string({ required: true, description: 'A handler identifier from cronTaskHandlers' }),
    cron: t.string({ required: true, description: '5 fields, or 6 with seconds first' }),
    timeZone: t.string({ required: false, description: 'IANA time zone; default UTC' }),
    enabled: t.boolean({ required: false, description: 'Default true' }),
    payload: t.field({ type: 'JSON', required: false, description: 'A JSON object; default {}' }),
    catchUp: t.boolean({ required: false, description: 'Default false' }),
    maxAttempts: t.int({ required: false, description: '1 to 25; default 3' }),
  }),
});

builder.queryFields((t) => ({
  cronTasks: t.field({
    type: [CronTaskType],
    description: 'Every cron task, by name',
    authScopes: ADMIN,
    resolve: (_root, _args, ctx) => ctx.services.cron.listTasks(),
  }),
  cronTaskHandlers: t.stringList({
    description: 'Identifiers of the handlers a cron task may run',
    authScopes: ADMIN,
    resolve: (_root, _args, ctx) => ctx.services.cron.taskIdentifiers,
  }),
  cronTaskRuns: t.field({
    type: CronRunPageType,
    description: 'Runs of one task, newest first',
    authScopes: ADMIN,
    args: {
      name: t.arg.string({ required: true }),
      first: t.arg.int({ required: false, defaultValue: 20, description: '1 to 100' }),
      after: t.arg.string({ required: false, description: 'endCursor of the previous page' }),
    },
    resolve: (_root, args, ctx) => ctx.services.cron.listRuns(args.name, args.first ?? 20, args.after),
  }),
}));

builder.mutationFields((t) => ({
  upsertCronTask: t.field({
    type: CronTaskType,
    description: 'Creates a cron task or replaces its definition; an invalid input changes nothing',
    authScopes: ADMIN,
    args: { input: t.arg({ type: CronTaskInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.cron.upsertTask(input),
  }),
  setCronTaskEnabled: t.field({
    type: CronTaskType,
    description: 'Enabling schedules the first tick after now; ticks missed while disabled do not run',
    authScopes: ADMIN,
    args: { name: t.arg.string({ required: true }), enabled: t.arg.boolean({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.cron.setEnabled(args.name, args.enabled),
  }),
  deleteCronTask: t.boolean({
    description: 'Deletes the task and its run history; false when there was no such task',
    authScopes: ADMIN,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.cron.deleteTask(args.name),
  }),
  runCronTaskNow: t.field({
    type: CronRunType,
    description: 'Runs the task once now, outside its schedule (also when disabled)',
    authScopes: ADMIN,
    args: { name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.cron.runNow(args.name),
  }),
}));
