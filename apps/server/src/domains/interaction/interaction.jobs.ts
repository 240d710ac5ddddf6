import type { CronService } from '../timetable/cron.service.ts';
import type { InteractionService } from './interaction.service.ts';

export const APPLIED_EVENTS_RETENTION_TASK = 'interaction.applied_events_retention';

/**
 * Nightly, after the event log's own retention run (03:15): forgets the ids of counted events that
 * the log no longer holds, so `interaction.applied_events` stays the size of the retained log
 * instead of growing by one row per event for ever.
 */
export function registerInteractionJobs(cron: CronService, interactions: InteractionService): void {
  cron.registerTask(
    APPLIED_EVENTS_RETENTION_TASK,
    async ({ log }) => {
      const { deleted, cutoff } = await interactions.pruneAppliedEvents();
      if (deleted > 0) log.info({ deleted, cutoff }, 'interaction: old applied-event ids deleted');
    },
    { defaultTask: { name: 'interaction-applied-events-retention', cron: '0 45 3 * * *', catchUp: true } },
  );
}
