import type { Clock } from '../../platform/clock.ts';
import type { CronService } from './cron.service.ts';
import type { TimetableRepository } from './timetable.repository.ts';

export const PRUNE_RUNS_TASK = 'timetable.prune_runs';
const DAY_MS = 86_400_000;
const DEFAULT_KEEP_DAYS = 30;

/** The timetable's own recurring work: keeping the run history bounded. */
export function registerTimetableJobs(cron: CronService, repo: TimetableRepository, clock: Clock): void {
  cron.registerTask(
    PRUNE_RUNS_TASK,
    async ({ payload, log }) => {
      const keepDays =
        typeof payload.keepDays === 'number' && payload.keepDays > 0 ? payload.keepDays : DEFAULT_KEEP_DAYS;
      const deleted = await repo.pruneRuns(new Date(clock.now().getTime() - keepDays * DAY_MS));
      if (deleted > 0) log.info({ deleted, keepDays }, 'old cron runs deleted');
    },
    {
      defaultTask: {
        name: 'timetable-prune-runs',
        cron: '0 20 3 * * *',
        payload: { keepDays: DEFAULT_KEEP_DAYS },
        catchUp: true,
      },
    },
  );
}
