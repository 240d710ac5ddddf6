import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

const owner = z.object({ kind: z.enum(['user', 'agency']), id: z.uuid() });
// Coins as JSON numbers: payouts are capped at Number.MAX_SAFE_INTEGER when requested.
const coins = z.number().int().positive();

export const payoutRequested = defineEvent({
  type: 'payout_requested',
  version: 1,
  description:
    'A streamer (owner.kind user) or an agency manager (owner.kind agency) asked for a payout; the amount ' +
    'is held until staff decide. The requester receives it on their accountEvents subscription.',
  payload: z.object({ payoutId: z.uuid(), owner, requestedBy: z.uuid(), amount: coins }),
});

export const payoutStatusChanged = defineEvent({
  type: 'payout_status_changed',
  version: 1,
  description:
    'Staff approved, rejected (the amount returns to available earnings) or paid (with a reference) a ' +
    'payout. The requester receives it on their accountEvents subscription.',
  payload: z.object({
    payoutId: z.uuid(),
    owner,
    requestedBy: z.uuid(),
    amount: coins,
    from: z.enum(['requested', 'approved']),
    status: z.enum(['approved', 'rejected', 'paid']),
    reason: z.string().nullable(),
    reference: z.string().nullable(),
  }),
});

export const payoutEvents = [payoutRequested, payoutStatusChanged];

/** Events the requester may see on their accountEvents subscription. */
export const payoutAccountVisibleEvents = [payoutRequested, payoutStatusChanged];
