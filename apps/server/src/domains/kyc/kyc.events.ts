import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

export const kycReviewed = defineEvent({
  type: 'kyc_reviewed',
  version: 1,
  description:
    "A moderator decided on the account's identity check: approved, resubmission_requested (submit " +
    'again, see reason) or rejected. The streamer receives it on their accountEvents subscription.',
  payload: z.object({
    submissionId: z.uuid(),
    userId: z.uuid(),
    decision: z.enum(['approved', 'resubmission_requested', 'rejected']),
    reason: z.string().nullable(),
  }),
});

/** Every event the kyc domain emits. */
export const kycEvents = [kycReviewed];

/** Events the account may see on its accountEvents subscription. */
export const kycAccountVisibleEvents = [kycReviewed];
