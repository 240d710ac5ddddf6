import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

export const billingCallCutOff = defineEvent({
  type: 'billing_call_cut_off',
  version: 1,
  description:
    "The payer's wallet could not cover checkpoint `checkpoint` (at `second` of connected time): billing " +
    'of the call ended there and nothing was charged for it. The video domain ends the call.',
  payload: z.object({
    callId: z.uuid(),
    payerId: z.uuid(),
    earnerId: z.uuid(),
    checkpoint: z.number().int().min(0),
    second: z.number().int().min(0),
  }),
});

export const balanceRunningLow = defineEvent({
  type: 'balance_running_low',
  version: 1,
  description:
    "The payer's wallet will not cover the call's checkpoint at `second` (about `secondsLeft` seconds " +
    "from now): top up or the call is cut off there. Once per call; sent on the payer's accountEvents.",
  payload: z.object({
    callId: z.uuid(),
    checkpoint: z.number().int().min(0),
    second: z.number().int().min(0),
    secondsLeft: z.number().int().min(0),
    balance: z.string().regex(/^-?\d+$/),
    needed: z.string().regex(/^\d+$/),
  }),
});

export const billingSessionEnded = defineEvent({
  type: 'billing_session_ended',
  version: 1,
  description:
    "A call's billing ended (the call stopped or the payer was cut off), with its totals in coins.",
  payload: z.object({
    callId: z.uuid(),
    payerId: z.uuid(),
    earnerId: z.uuid(),
    status: z.enum(['ended', 'cut_off']),
    reason: z.string(),
    charged: z.string().regex(/^\d+$/),
    earned: z.string().regex(/^\d+$/),
    checkpoints: z.number().int().min(0),
  }),
});

export const tariffChanged = defineEvent({
  type: 'billing_tariff_changed',
  version: 1,
  description:
    'An admin set a new version of a tariff; calls already running keep the version they started with.',
  payload: z.object({
    kind: z.string(),
    cohort: z.string().nullable(),
    version: z.number().int().min(1),
    tariffVersionId: z.string().regex(/^\d+$/),
  }),
});

/** Every event the billing domain emits. */
export const billingEvents = [billingCallCutOff, balanceRunningLow, billingSessionEnded, tariffChanged];

/** Events the account may see on its accountEvents subscription. */
export const billingAccountVisibleEvents = [balanceRunningLow];
