import { z } from 'zod';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db/database.ts';
import type { Logger } from '../../platform/observability/logger.ts';
import type { EarningsSplit } from '../balance/earnings-split.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { AuditLog } from '../mission_control/audit-log.ts';
import type { SettingsService } from '../settings/settings.service.ts';
import type { CronService } from '../timetable/cron.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import { BillingRepository } from './billing.repository.ts';
import { BILLING_CHECKPOINT_JOB, BillingService } from './billing.service.ts';
import type { BillingLedger } from './checkpoint-charge.ts';
import { type CohortTags, noCohorts, TariffService } from './tariff.service.ts';

export const BILLING_RECONCILE_TASK = 'billing.reconcile';

const checkpointJobPayload = z.object({ callId: z.uuid(), n: z.number().int().min(0) });

/**
 * Wires the billing domain: tariffs, the billing service, the checkpoint job and the reconciler cron
 * task (every 10 s) that catches up sessions whose job is stuck behind a dead worker's lock.
 */
export function createBilling(deps: {
  db: Db;
  ledger: BillingLedger;
  earningsSplit: EarningsSplit;
  eventLog: EventLog;
  audit: AuditLog;
  jobs: JobQueue;
  cron: CronService;
  settings: Pick<SettingsService, 'get'>;
  clock: Clock;
  logger: Logger;
  cohortTags?: CohortTags;
}): { billing: BillingService; tariffs: TariffService } {
  const repo = new BillingRepository(deps.db);
  const tariffs = new TariffService({
    db: deps.db,
    repo,
    audit: deps.audit,
    eventLog: deps.eventLog,
    clock: deps.clock,
    cohortTags: deps.cohortTags ?? noCohorts,
  });
  const billing = new BillingService({
    db: deps.db,
    repo,
    tariffs,
    ledger: deps.ledger,
    earningsSplit: deps.earningsSplit,
    eventLog: deps.eventLog,
    jobs: deps.jobs,
    settings: deps.settings,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'billing' }),
  });
  deps.jobs.registerTask(BILLING_CHECKPOINT_JOB, async (payload) => {
    const { callId } = checkpointJobPayload.parse(payload);
    await billing.runDue(callId);
  });
  deps.cron.registerTask(
    BILLING_RECONCILE_TASK,
    async ({ log }) => {
      const { sessions, failed } = await billing.reconcile();
      if (sessions > 0) log.warn({ sessions, failed }, 'billing: caught up overdue call sessions');
    },
    { defaultTask: { name: 'billing-reconcile', cron: '*/10 * * * * *', catchUp: false } },
  );
  return { billing, tariffs };
}
