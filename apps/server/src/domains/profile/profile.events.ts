import { z } from 'zod';
import { defineEvent } from '../event_log/event-catalogue.ts';

export const onboardingCompleted = defineEvent({
  type: 'onboarding_completed',
  version: 1,
  description:
    'The account filled in every required profile field (display name, birth date, gender, country) ' +
    'for the first time. Emitted once per account.',
  payload: z.object({
    userId: z.uuid(),
    country: z.string().length(2),
  }),
});

/** Every event the profile domain emits. */
export const profileEvents = [onboardingCompleted];
