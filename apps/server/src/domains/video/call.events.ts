import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';
import { END_REASONS } from './call-state.ts';

const parties = {
  callId: z.uuid(),
  kind: z.enum(['direct', 'roulette', 'prerecorded']),
  callerId: z.uuid(),
  calleeId: z.uuid(),
};

export const callRequested = defineEvent({
  type: 'call_requested',
  version: 1,
  description:
    'A call rings the callee until `ringsUntil` (the ring time-out). Notifications turn it into the ' +
    'incoming-call push; the callee also hears of it on myCallUpdates.',
  payload: z.object({ ...parties, callerName: z.string(), ringsUntil: z.iso.datetime() }),
});

export const callConnected = defineEvent({
  type: 'call_connected',
  version: 1,
  description:
    'Both sides joined the call’s room: billing started. `firstCall`: the payer’s first connected call.',
  payload: z.object({
    ...parties,
    payerId: z.uuid(),
    earnerId: z.uuid(),
    provider: z.string(),
    firstCall: z.boolean(),
  }),
});

export const callEnded = defineEvent({
  type: 'call_ended',
  version: 1,
  description:
    'A call ended, with why, who ended it, how long it was connected and what it cost. `answered`: ' +
    'whether the callee had accepted before it ended.',
  payload: z.object({
    ...parties,
    payerId: z.uuid(),
    earnerId: z.uuid(),
    provider: z.string().nullable(),
    callerName: z.string(),
    reason: z.enum(END_REASONS),
    endedBy: z.enum(['caller', 'callee', 'system', 'staff']),
    answered: z.boolean(),
    connected: z.boolean(),
    durationSeconds: z.number().int().min(0),
    charged: z.string().regex(/^\d+$/),
    earned: z.string().regex(/^\d+$/),
  }),
});

/** Every event the video domain emits. */
export const callEvents = [callRequested, callConnected, callEnded];
