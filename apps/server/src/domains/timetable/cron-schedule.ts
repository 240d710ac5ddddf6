import { CronExpressionParser } from 'cron-parser';

/** A cron expression read in a time zone. `seed` fixes what `H` fields pick, so every process agrees. */
export type CronSpec = { cron: string; timeZone: string; seed: string };

// IANA names ("Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires"); Intl accepts more (offsets,
// any letter case), but a stored task should name a zone the way the tz database does.
const TIME_ZONE_FORMAT = /^[A-Z][A-Za-z_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/;

export function isValidTimeZone(timeZone: string): boolean {
  if (!TIME_ZONE_FORMAT.test(timeZone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Why `cron` is not a usable expression, or undefined when it is. */
export function cronExpressionProblem(cron: string): string | undefined {
  const trimmed = cron.trim();
  if (trimmed === '') return 'cron expression is empty';
  const fields = trimmed.split(/\s+/).length;
  if (!trimmed.startsWith('@') && fields !== 5 && fields !== 6) {
    return `cron expression must have 5 fields, or 6 with seconds first (got ${fields})`;
  }
  try {
    CronExpressionParser.parse(trimmed, { tz: 'UTC', currentDate: new Date(0) }).next();
    return undefined;
  } catch (error) {
    return `invalid cron expression: ${error instanceof Error ? error.message : String(error)}`;
  }
}

function parse(spec: CronSpec, currentDate: Date) {
  return CronExpressionParser.parse(spec.cron.trim(), {
    tz: spec.timeZone,
    currentDate,
    hashSeed: spec.seed,
  });
}

/** The first tick strictly after `after`, or null when the expression has none left. */
export function nextTickAfter(spec: CronSpec, after: Date): Date | null {
  const expression = parse(spec, after);
  return expression.hasNext() ? expression.next().toDate() : null;
}

/** The latest tick at or before `at`, or null when there is none. */
export function latestTickAtOrBefore(spec: CronSpec, at: Date): Date | null {
  // prev() is strictly before its current date; ticks fall on whole seconds, so 1 ms later includes `at`.
  const expression = parse(spec, new Date(at.getTime() + 1));
  return expression.hasPrev() ? expression.prev().toDate() : null;
}

export type DueTask = {
  cron: string;
  timeZone: string;
  name: string;
  nextRunAt: Date;
  catchUp: boolean;
};

export type TickAction = {
  scheduledFor: Date;
  action: 'run' | 'skip';
  trigger: 'schedule' | 'catch_up';
};

export type TickPlan = { actions: TickAction[]; nextRunAt: Date | null };

/**
 * What to do with a task whose tick is due at `now`. Ticks no older than `graceMs` run, each
 * once: a claim that came a little late (a busy process, a row locked for a moment) loses
 * nothing. Older ticks were missed (no process ran the scheduler then): together they count as
 * one, the latest of them, which runs if the task catches up and is skipped otherwise. At most
 * `maxRuns` on-time ticks are planned at once; the rest stay due for the next pass.
 */
export function planDueTask(task: DueTask, now: Date, graceMs: number, maxRuns = 100): TickPlan {
  const spec = { cron: task.cron, timeZone: task.timeZone, seed: task.name };
  const actions: TickAction[] = [];
  let cursor: Date | null = task.nextRunAt;
  const missedBefore = new Date(now.getTime() - graceMs);
  if (cursor < missedBefore) {
    const latestMissed = latestTickAtOrBefore(spec, missedBefore);
    const scheduledFor = latestMissed && latestMissed > cursor ? latestMissed : cursor;
    actions.push({ scheduledFor, action: task.catchUp ? 'run' : 'skip', trigger: 'catch_up' });
    cursor = nextTickAfter(spec, scheduledFor);
  }
  while (cursor && cursor <= now && actions.length < maxRuns) {
    actions.push({ scheduledFor: cursor, action: 'run', trigger: 'schedule' });
    cursor = nextTickAfter(spec, cursor);
  }
  return { actions, nextRunAt: cursor };
}
