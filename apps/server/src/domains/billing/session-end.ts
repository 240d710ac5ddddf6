import type { Tx } from '../../platform/db/transaction.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import { billingCallCutOff, billingSessionEnded } from './billing.events.ts';
import type { BillingRepository, BillingSession } from './billing.repository.ts';
import type { TariffCheckpoint } from './tariff.ts';

export const billingJobKey = (callId: string) => `billing:${callId}`;

/** Announces a session's end with its totals (`billing_session_ended`). */
export async function emitSessionEnded(eventLog: EventLog, tx: Tx, session: BillingSession): Promise<void> {
  await eventLog.emit(
    tx,
    billingSessionEnded.event(
      {
        callId: session.callId,
        payerId: session.payerId,
        earnerId: session.earnerId,
        status: session.status === 'cut_off' ? 'cut_off' : 'ended',
        reason: session.endReason ?? '',
        charged: session.charged.toString(),
        earned: session.earned.toString(),
        checkpoints: session.checkpointsCharged,
      },
      { userId: session.payerId },
    ),
  );
}

/**
 * The payer cannot pay `checkpoint`: billing ends there, nothing is charged for it, the job is
 * cancelled, and the video domain is told (`billing_call_cut_off`), in the caller's transaction.
 */
export async function cutOff(
  deps: { repo: BillingRepository; jobs: Pick<JobQueue, 'cancel'>; eventLog: EventLog },
  tx: Tx,
  session: BillingSession,
  checkpoint: TariffCheckpoint,
  due: Date,
): Promise<BillingSession> {
  const ended: BillingSession = {
    ...session,
    status: 'cut_off',
    cutOffN: checkpoint.n,
    endedAt: due,
    endReason: 'insufficient_funds',
    nextRunAt: null,
  };
  await deps.repo.updateSession(tx, session.callId, {
    status: 'cut_off',
    nextN: session.nextN,
    charged: session.charged,
    earned: session.earned,
    checkpointsCharged: session.checkpointsCharged,
    cutOffN: checkpoint.n,
    endedAt: due,
    endReason: 'insufficient_funds',
    nextRunAt: null,
  });
  await deps.jobs.cancel(tx, billingJobKey(session.callId));
  await deps.eventLog.emit(
    tx,
    billingCallCutOff.event(
      {
        callId: session.callId,
        payerId: session.payerId,
        earnerId: session.earnerId,
        checkpoint: checkpoint.n,
        second: checkpoint.second,
      },
      { userId: session.payerId },
    ),
  );
  await emitSessionEnded(deps.eventLog, tx, ended);
  return ended;
}
