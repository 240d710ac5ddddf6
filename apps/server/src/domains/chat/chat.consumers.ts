import type { EventLog } from '../event_log/event-log.service.ts';
import { giftSent } from '../gift/gift.events.ts';
import { onboardingCompleted } from '../profile/profile.events.ts';
import { userDeleted } from '../user/user.events.ts';
import { callEnded } from '../video/call.events.ts';
import type { EndReason } from '../video/call-state.ts';
import { messageSent } from './chat.events.ts';
import type { ChatService } from './chat.service.ts';

export const CHAT_CONSUMERS = {
  records: 'chat_system_records',
  autoAdd: 'chat_onboarding_auto_add',
  fanout: 'chat_system_fanout',
  erasure: 'chat_erase_deleted_accounts',
} as const;

type CallOutcome = {
  kind: 'direct' | 'roulette';
  reason: EndReason;
  connected: boolean;
  durationSeconds: number;
};

/** A short text for clients that do not render call records from `data` (which holds the details). */
export function callSummary(call: CallOutcome): string {
  const label = call.kind === 'roulette' ? 'Roulette call' : 'Video call';
  if (call.connected) {
    const minutes = Math.floor(call.durationSeconds / 60);
    const seconds = String(call.durationSeconds % 60).padStart(2, '0');
    return `${label} · ${minutes}:${seconds}`;
  }
  switch (call.reason) {
    case 'declined':
      return `${label} declined`;
    case 'cancelled':
      return `${label} cancelled`;
    case 'missed':
    case 'busy':
      return `Missed ${label.toLowerCase()}`;
    default:
      return `${label} did not connect`;
  }
}

/**
 * System records come from other domains' events, each keyed by its source (`gift_sent:{sentId}`,
 * `call_ended:{callId}`) so a redelivered event adds nothing. Prerecorded "calls" are a video
 * playing, not a conversation with the streamer: they leave no record. Starts from the beginning: a
 * new deployment back-fills the records of the gifts and calls still in the event log. A record that
 * keeps failing is dead-lettered and skipped: one missing record must not hold back every later one
 * (the dead letter can be replayed from the admin API).
 */
export function registerChatConsumers(eventLog: EventLog, chat: ChatService): void {
  eventLog.registerConsumer({
    name: CHAT_CONSUMERS.records,
    onExhausted: 'skip',
    types: [giftSent.type, callEnded.type],
    startFrom: 'beginning',
    handler: async (event, { tx }) => {
      if (giftSent.matches(event)) {
        const p = event.payload;
        await chat.record(tx, {
          senderId: p.senderId,
          recipientId: p.streamerId,
          systemType: 'gift',
          body: 'Sent a gift',
          data: { sentId: p.sentId, giftId: p.giftId, coins: p.coins, context: p.context, callId: p.callId },
          sourceKey: `gift_sent:${p.sentId}`,
        });
      } else if (callEnded.matches(event)) {
        const p = event.payload;
        if (p.kind === 'prerecorded') return;
        await chat.record(tx, {
          senderId: p.callerId,
          recipientId: p.calleeId,
          systemType: 'call',
          body: callSummary({
            kind: p.kind,
            reason: p.reason,
            connected: p.connected,
            durationSeconds: p.durationSeconds,
          }),
          data: {
            callId: p.callId,
            callKind: p.kind,
            durationSeconds: p.durationSeconds,
            reason: p.reason,
            endedBy: p.endedBy,
            answered: p.answered,
            connected: p.connected,
          },
          sourceKey: `call_ended:${p.callId}`,
        });
      }
    },
  });

  // 'now': accounts onboarded before chat existed are not greeted on its first deploy. Skipped when
  // exhausted: a greeting that cannot be made must not stop the greetings of later sign-ups.
  eventLog.registerConsumer({
    name: CHAT_CONSUMERS.autoAdd,
    onExhausted: 'skip',
    types: [onboardingCompleted.type],
    startFrom: 'now',
    handler: async (event, { tx }) => {
      if (!onboardingCompleted.matches(event)) return;
      await chat.autoAdd(tx, event.payload.userId);
    },
  });

  // System records are written inside a consumer's transaction: they are published once committed,
  // which is when their message_sent event reaches this consumer. Text messages publish directly.
  // Live delivery only ('now', skipped when exhausted): clients reload the lists after reconnecting.
  eventLog.registerConsumer({
    name: CHAT_CONSUMERS.fanout,
    onExhausted: 'skip',
    types: [messageSent.type],
    startFrom: 'now',
    handler: async (event) => {
      if (!messageSent.matches(event) || event.payload.kind !== 'system') return;
      await chat.publishStored(event.payload.messageId);
    },
  });

  // Erasure must not be skipped: after its retries it stops and shows in the admin API.
  eventLog.registerConsumer({
    name: CHAT_CONSUMERS.erasure,
    types: [userDeleted.type],
    startFrom: 'beginning',
    onExhausted: 'stop',
    handler: async (event, { tx }) => {
      if (!userDeleted.matches(event)) return;
      await chat.eraseAccount(tx, event.payload.userId);
    },
  });
}
