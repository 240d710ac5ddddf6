import { balanceRunningLow, billingCallCutOff } from '../billing/billing.events.ts';
import type { LoggedEvent } from '../event_log/event-catalogue.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import { giftSent } from '../gift/gift.events.ts';
import { kycReviewed } from '../kyc/kyc.events.ts';
import { photoModerated, videoModerated } from '../media/media.events.ts';
import { payoutRequested, payoutStatusChanged } from '../mission_control/payout.events.ts';
import { purchaseCompleted, purchaseRefunded } from '../payment/payment.events.ts';
import { callEnded, callRequested } from '../video/call.events.ts';
import type { NotificationService, NotifyInput } from './notification.service.ts';

export const NOTIFICATION_EVENTS_CONSUMER = 'notification_from_events';

const words: Record<string, string> = {
  approved: 'approved',
  rejected: 'rejected',
  resubmission_requested: 'needs a new submission',
  paid: 'paid',
};

/** What notification an event makes, or none. Pure, so each mapping is testable on its own. */
export function notificationFor(event: LoggedEvent): Omit<NotifyInput, 'dedupeKey'> | null {
  if (giftSent.matches(event)) {
    const p = event.payload;
    return {
      userId: p.streamerId,
      kind: 'gift_received',
      variables: { coins: String(p.coins) },
      data: { giftId: p.giftId, sentId: p.sentId, senderId: p.senderId },
    };
  }
  if (kycReviewed.matches(event)) {
    const p = event.payload;
    return {
      userId: p.userId,
      kind: 'kyc_reviewed',
      variables: { decision: words[p.decision] ?? p.decision, reason: p.reason ?? '' },
      data: { submissionId: p.submissionId, decision: p.decision },
    };
  }
  if (photoModerated.matches(event) || videoModerated.matches(event)) {
    const p = event.payload;
    return {
      userId: p.ownerId,
      kind: event.type === photoModerated.type ? 'photo_moderated' : 'video_moderated',
      variables: { decision: words[p.decision] ?? p.decision, reason: p.reason ?? '' },
      data: { mediaId: p.mediaId, decision: p.decision },
    };
  }
  if (payoutStatusChanged.matches(event)) {
    const p = event.payload;
    return {
      userId: p.requestedBy,
      kind: 'payout_status_changed',
      variables: { status: words[p.status] ?? p.status, amount: String(p.amount) },
      data: { payoutId: p.payoutId, status: p.status },
    };
  }
  if (payoutRequested.matches(event)) {
    const p = event.payload;
    return {
      userId: p.requestedBy,
      kind: 'payout_requested',
      variables: { amount: String(p.amount) },
      data: { payoutId: p.payoutId },
    };
  }
  if (billingCallCutOff.matches(event)) {
    const p = event.payload;
    return { userId: p.payerId, kind: 'call_cut_off', variables: {}, data: { callId: p.callId } };
  }
  if (purchaseCompleted.matches(event) || purchaseRefunded.matches(event)) {
    const p = event.payload;
    return {
      userId: p.userId,
      kind: purchaseCompleted.matches(event) ? 'purchase_completed' : 'purchase_refunded',
      // What the account sees move: the pack and its bonus together.
      variables: { coins: (BigInt(p.coins) + BigInt(p.bonusCoins)).toString() },
      data: { purchaseId: p.purchaseId },
    };
  }
  if (callRequested.matches(event)) {
    const p = event.payload;
    return {
      userId: p.calleeId,
      kind: 'incoming_call',
      variables: { callerName: p.callerName, callId: p.callId },
      data: { callId: p.callId, callerId: p.callerId, kind: p.kind, ringsUntil: p.ringsUntil },
    };
  }
  // The callee's ringing screen must stop: a normal push or in-app, never VoIP (call_cancelled).
  if (
    callEnded.matches(event) &&
    (event.payload.reason === 'missed' || event.payload.reason === 'cancelled')
  ) {
    const p = event.payload;
    return {
      userId: p.calleeId,
      kind: p.reason === 'missed' ? 'missed_call' : 'call_cancelled',
      variables: { callerName: p.callerName, callId: p.callId },
      data: { callId: p.callId, callerId: p.callerId },
    };
  }
  if (balanceRunningLow.matches(event) && event.userId) {
    const p = event.payload;
    return {
      userId: event.userId,
      kind: 'balance_running_low',
      variables: { secondsLeft: String(p.secondsLeft) },
      data: { callId: p.callId },
    };
  }
  return null;
}

/**
 * The other domains' events become notifications, in the consumer's transaction (the notification
 * and its delivery job commit with the cursor). `event:<id>` as dedupe key: a redelivered event
 * makes no second one. New deployments start from new events: old news is not worth a push.
 */
export function registerNotificationConsumers(eventLog: EventLog, notifications: NotificationService): void {
  eventLog.registerConsumer({
    name: NOTIFICATION_EVENTS_CONSUMER,
    types: [
      giftSent,
      kycReviewed,
      photoModerated,
      videoModerated,
      payoutRequested,
      payoutStatusChanged,
      balanceRunningLow,
      billingCallCutOff,
      purchaseCompleted,
      purchaseRefunded,
      callRequested,
      callEnded,
    ].map((d) => d.type),
    startFrom: 'now',
    onExhausted: 'skip',
    handler: async (event, { tx }) => {
      const input = notificationFor(event);
      if (input) await notifications.notify(tx, { ...input, dedupeKey: `event:${event.id}` });
    },
  });
}
