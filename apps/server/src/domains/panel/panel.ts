import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditLog } from '../mission_control/audit-log.ts';
import type { CronService } from '../timetable/cron.service.ts';
import { CohortRepository } from './cohort.repository.ts';
import { CohortService } from './cohort.service.ts';
import { registerPanelConsumers } from './panel.consumers.ts';
import { registerPanelJobs } from './panel.jobs.ts';
import { UserFactsRepository } from './user-facts.repository.ts';

/** Wires the panel domain: cohorts, their event-fed facts and the recompute timetable task. */
export function createPanel(deps: {
  db: Db;
  eventLog: EventLog;
  cron: CronService;
  audit: AuditLog;
  clock: Clock;
}): { cohorts: CohortService; cohortRepo: CohortRepository } {
  const cohortRepo = new CohortRepository(deps.db);
  const cohorts = new CohortService({ db: deps.db, repo: cohortRepo, audit: deps.audit, clock: deps.clock });
  registerPanelConsumers(deps.eventLog, new UserFactsRepository(), cohorts, deps.clock);
  registerPanelJobs(deps.cron, cohorts);
  return { cohorts, cohortRepo };
}
