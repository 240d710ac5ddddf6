import type { Clock } from '../../platform/clock.ts';
import type { Config } from '../../platform/config/config.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import { CronService } from './cron.service.ts';
import { JobQueue } from './job-queue.ts';
import { registerTimetableJobs } from './timetable.jobs.ts';
import { TimetableRepository } from './timetable.repository.ts';

/**
 * The job queue and the cron service of one process. Other domains register their job and cron
 * handlers on them while services are wired; `main.ts` starts both once everything is registered.
 */
export function createTimetable(deps: {
  db: Db;
  databaseUrl: string;
  config: Pick<Config, 'jobs' | 'cron'>;
  clock: Clock;
  logger: Logger;
}): { jobs: JobQueue; cron: CronService } {
  const jobs = new JobQueue({
    databaseUrl: deps.databaseUrl,
    logger: deps.logger,
    concurrency: deps.config.jobs.concurrency,
    pollIntervalMs: deps.config.jobs.pollIntervalMs,
    stopTimeoutMs: deps.config.jobs.stopTimeoutMs,
  });
  const repo = new TimetableRepository(deps.db);
  const cron = new CronService({
    repo,
    jobs,
    clock: deps.clock,
    logger: deps.logger,
    misfireGraceMs: deps.config.cron.misfireGraceSeconds * 1000,
  });
  registerTimetableJobs(cron, repo, deps.clock);
  return { jobs, cron };
}
