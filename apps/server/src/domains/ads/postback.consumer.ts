import type {
  AnalyticsDestination,
  AnalyticsEvent,
} from '../../providers/analytics/analytics.destination.ts';
import { toMajorUnits } from '../../providers/analytics/analytics.destination.ts';
import type { LoggedEvent } from '../event_log/event-catalogue.ts';
import type { EventLog } from '../event_log/event-log.service.ts';
import { giftSent } from '../gift/gift.events.ts';
import { purchaseCompleted } from '../payment/payment.events.ts';
import { onboardingCompleted } from '../profile/profile.events.ts';
import type { JobQueue } from '../timetable/job-queue.ts';
import { userDeleted, userSignUp } from '../user/user.events.ts';
import { callConnected, callEnded } from '../video/call.events.ts';
import type { AttributionRepository, Consent } from './attribution.repository.ts';
import type { DeliveryRepository } from './delivery.repository.ts';

export const ADS_POSTBACK_CONSUMER = 'ads_postbacks';
export const ADS_ERASURE_CONSUMER = 'ads_erase_deleted_accounts';
export const ADS_FLUSH_JOB = 'ads.flush';
export const flushJobKey = (destination: string) => `ads.flush:${destination}`;

/** Explicit opt-out, or an iOS device whose ATT answer forbids tracking. */
export function isOptedOut(consent: Consent): boolean {
  return consent.optedOut || consent.attStatus === 'denied' || consent.attStatus === 'restricted';
}

/**
 * The product events we report, from the events other domains emit. Calls are reported from the
 * payer's side (the user whose acquisition the ads paid for): `call_started` when a call connects
 * (`firstCall` for AppsFlyer's first call) and `call_ended` for a call that had connected.
 */
export function toAnalyticsEvent(event: LoggedEvent): AnalyticsEvent | undefined {
  const base = { eventId: event.id, occurredAt: event.occurredAt.toISOString(), revenue: null };
  if (userSignUp.matches(event)) {
    return {
      ...base,
      name: 'sign_up',
      userId: event.payload.userId,
      properties: { method: event.payload.method },
    };
  }
  if (onboardingCompleted.matches(event)) {
    return {
      ...base,
      name: 'onboarding_completed',
      userId: event.payload.userId,
      properties: { country: event.payload.country },
    };
  }
  if (purchaseCompleted.matches(event)) {
    const p = event.payload;
    return {
      ...base,
      name: 'purchase',
      userId: p.userId,
      revenue:
        p.priceAmountMinor !== null && p.currency
          ? { amount: toMajorUnits(BigInt(p.priceAmountMinor), p.currency), currency: p.currency }
          : null,
      properties: { purchaseId: p.purchaseId, sku: p.sku, store: p.store, coins: p.coins },
    };
  }
  if (giftSent.matches(event)) {
    const p = event.payload;
    return {
      ...base,
      name: 'gift_sent',
      userId: p.senderId,
      properties: { giftId: p.giftId, streamerId: p.streamerId, coins: p.coins, context: p.context },
    };
  }
  if (callConnected.matches(event)) {
    const p = event.payload;
    return {
      ...base,
      name: 'call_started',
      userId: p.payerId,
      properties: { callId: p.callId, kind: p.kind, streamerId: p.earnerId, firstCall: p.firstCall },
    };
  }
  if (callEnded.matches(event) && event.payload.connected) {
    const p = event.payload;
    return {
      ...base,
      name: 'call_ended',
      userId: p.payerId,
      properties: {
        callId: p.callId,
        kind: p.kind,
        streamerId: p.earnerId,
        durationSeconds: p.durationSeconds,
        reason: p.reason,
        coins: p.charged,
      },
    };
  }
  return undefined;
}

/**
 * Turns each reported event into one delivery per destination that wants it, in the consumer's
 * transaction (so a replayed event adds nothing), and wakes the senders with a job in the same
 * transaction. Nothing is sent from here: a consumer restarted mid-batch cannot send twice.
 */
export function registerPostbackConsumer(deps: {
  eventLog: EventLog;
  attributions: AttributionRepository;
  deliveries: DeliveryRepository;
  destinations: readonly AnalyticsDestination[];
  jobs: JobQueue;
}): void {
  deps.eventLog.registerConsumer({
    name: ADS_POSTBACK_CONSUMER,
    types: [
      userSignUp.type,
      purchaseCompleted.type,
      onboardingCompleted.type,
      giftSent.type,
      callConnected.type,
      callEnded.type,
    ],
    // Vendors refuse stale conversions: a new deployment reports from now on.
    startFrom: 'now',
    onExhausted: 'skip',
    handler: async (event, { tx }) => {
      const analytics = toAnalyticsEvent(event);
      if (!analytics) return;
      if (analytics.name === 'sign_up' || analytics.name === 'purchase') {
        const p = purchaseCompleted.matches(event) ? event.payload : undefined;
        await deps.attributions.recordConversion(tx, {
          eventId: event.id,
          kind: analytics.name,
          userId: analytics.userId,
          amountMinor: p?.priceAmountMinor ? BigInt(p.priceAmountMinor) : null,
          currency: p?.currency ?? null,
          occurredAt: event.occurredAt,
        });
      }
      const optedOut = isOptedOut(await deps.attributions.consent(analytics.userId, tx));
      for (const destination of deps.destinations) {
        if (!destination.accepts(analytics)) continue;
        // Recorded, not sent: a request the vendor is bound to refuse would only fail permanently.
        const skip = optedOut ? 'opted_out' : (destination.refuses?.(analytics) ?? null);
        const inserted = await deps.deliveries.insert(tx, {
          destination: destination.name,
          event: analytics,
          eventType: event.type,
          status: skip ? 'skipped' : 'pending',
          lastError: skip,
          at: event.occurredAt,
        });
        // Only where this process runs the job queue (its schema exists); otherwise the sweep finds it.
        if (inserted && !skip && deps.jobs.started) {
          await deps.jobs.schedule(
            tx,
            ADS_FLUSH_JOB,
            { destination: destination.name },
            {
              jobKey: flushJobKey(destination.name),
            },
          );
        }
      }
    },
  });
}

/** A deleted account's attribution and consent are erased (must not be skipped: stops on exhaustion). */
export function registerAdsErasureConsumer(eventLog: EventLog, attributions: AttributionRepository): void {
  eventLog.registerConsumer({
    name: ADS_ERASURE_CONSUMER,
    types: [userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (!userDeleted.matches(event)) return;
      await attributions.eraseUser(tx, event.payload.userId);
    },
  });
}
