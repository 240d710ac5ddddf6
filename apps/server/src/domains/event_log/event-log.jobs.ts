import type { CronService } from '../timetable/cron.service.ts';
import type { EventLog } from './event-log.service.ts';

export const EVENT_RETENTION_TASK = 'event_log.retention';

/** Deletes events past EVENT_LOG_RETENTION_DAYS that every consumer has handled, nightly. */
export function registerEventLogJobs(cron: CronService, eventLog: EventLog): void {
  cron.registerTask(
    EVENT_RETENTION_TASK,
    async ({ log }) => {
      const { deleted, cutoff } = await eventLog.pruneExpiredEvents();
      if (deleted > 0) log.info({ deleted, cutoff }, 'old events deleted');
    },
    { defaultTask: { name: 'event-log-retention', cron: '0 15 3 * * *', catchUp: true } },
  );
}
