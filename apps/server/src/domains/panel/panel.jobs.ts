import type { CronService } from '../timetable/cron.service.ts';
import type { CohortService } from './cohort.service.ts';

export const COHORT_RECOMPUTE_TASK = 'panel.recompute_cohorts';

/**
 * Every 10 minutes, every rule cohort is recomputed as a whole: this is what catches changes no
 * event reports (a profile's country edited, time passing for "active within N days").
 */
export function registerPanelJobs(cron: CronService, cohorts: CohortService): void {
  cron.registerTask(
    COHORT_RECOMPUTE_TASK,
    async ({ log }) => {
      const result = await cohorts.recomputeAll();
      if (result.added + result.removed > 0) log.info(result, 'panel: cohort memberships recomputed');
    },
    { defaultTask: { name: 'recompute-cohorts', cron: '0 */10 * * * *' } },
  );
}
